//go:build linux

// Package winetest runs spirit's Windows code under Wine for tests: the
// real spirit-agent.exe, cross-built, serving the host's real client over
// its stdin and stdout (--stdio), and Windows test programs. It is the
// Wine lane of `make test`; it is not a Windows emulation of its own, and
// what Wine does not do (ConPTY, WTS sessions, vioserial, cmd.exe's exact
// parsing) it cannot show.
//
// Debian's Wine 8.0 lacks ProcessPrng, which Go 1.24 and later call at
// start, so the lane builds a bcryptprimitives.dll that has it (dll/prng.c,
// with mingw-w64) into the Wine prefix it uses.
package winetest

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"spirit/internal/spiritbin"
)

const (
	// RequireEnv set to "1" makes a missing Wine a failure instead of a
	// skip: make test sets it, so the lane cannot vanish in silence.
	RequireEnv = "SPIRIT_WINE_REQUIRED"
	// PrefixEnv names the Wine prefix to use (made there when missing):
	// make test keeps one for its run and stops its wineserver at the end.
	PrefixEnv = "SPIRIT_WINEPREFIX"
	// installHint is what a machine without the lane's tools needs.
	installHint = "apt-get install wine wine64 gcc-mingw-w64-x86-64"
)

//go:embed dll/prng.c
var prngSource []byte

// Wine is a Wine prefix ready to run Go programs built for Windows, and
// the spirit-agent.exe built for it.
type Wine struct {
	Prefix string // WINEPREFIX
	Agent  string // spirit-agent.exe, cross-built from this tree
	Spirit string // spirit for this host, to run lines with a Wine target
	dir    string // built files, removed at the end
	own    bool   // Prefix is dir's, not make test's
	// missing says why Wine cannot be used here; empty when it can.
	missing string
}

// Main sets w up (a prefix, the agent built), runs the tests, stops the
// prefix's wineserver and exits with the tests' status. Without Wine the
// tests still run: Need skips or fails them.
func Main(m *testing.M, w *Wine) {
	code := 1
	if err := w.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "winetest:", err)
	} else {
		code = m.Run()
	}
	w.teardown()
	os.Exit(code)
}

// Need skips the test when Wine is missing, or fails it when the lane is
// required (RequireEnv).
func (w *Wine) Need(t testing.TB) {
	t.Helper()
	if w.missing == "" {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("the Wine lane is required (%s=1): %s", RequireEnv, w.missing)
	}
	t.Skipf("no Wine lane: %s", w.missing)
}

func (w *Wine) setup() error {
	for _, tool := range []string{"wine", "wineboot", "wineserver", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			w.missing = fmt.Sprintf("%s is not installed (%s)", tool, installHint)
			return nil
		}
	}
	dir, err := os.MkdirTemp("", "spirit-wine")
	if err != nil {
		return err
	}
	w.dir = dir
	w.Prefix = os.Getenv(PrefixEnv)
	if w.Prefix == "" {
		w.Prefix, w.own = filepath.Join(dir, "prefix"), true
	}
	if err := w.prepare(); err != nil {
		return err
	}
	w.Agent = filepath.Join(dir, "spirit-agent.exe")
	if err := Build("spirit/cmd/spirit-agent", w.Agent); err != nil {
		return err
	}
	return spiritbin.Build(dir, spiritbin.Bins{Spirit: &w.Spirit})
}

// prepare makes the prefix if it is not there yet, with the DLL that
// gives Go programs ProcessPrng.
func (w *Wine) prepare() error {
	dll := filepath.Join(w.Prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(dll); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boot := w.command(ctx, "wineboot", "-i")
	// No Mono or Gecko: nothing here needs them, and asking for them
	// would wait for a dialog nobody sees.
	boot.Env = append(boot.Env, "WINEDLLOVERRIDES=mscoree,mshtml=")
	// Into a file, not a pipe: the wineserver it starts keeps its
	// output open, and a pipe would be waited for until it exits.
	logPath := filepath.Join(w.dir, "wineboot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	boot.Stdout, boot.Stderr = logFile, logFile
	err = boot.Run()
	logFile.Close()
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("wineboot -i (prefix %s): %w\n%s", w.Prefix, err, out)
	}
	src := filepath.Join(w.dir, "prng.c")
	if err := os.WriteFile(src, prngSource, 0o644); err != nil {
		return err
	}
	built := filepath.Join(w.dir, "bcryptprimitives.dll")
	cc := exec.CommandContext(ctx, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", built, src, "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		return fmt.Errorf("build bcryptprimitives.dll: %w\n%s", err, out)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		return err
	}
	return os.WriteFile(dll, b, 0o644)
}

// teardown stops the prefix's wineserver, so that no Wine process
// outlives the tests, and removes what was built.
func (w *Wine) teardown() {
	if w.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.command(ctx, "wineserver", "-k").Run()
	os.RemoveAll(w.dir)
}

// Env is the environment Wine runs with here: the prefix, and no debug
// channels (Wine's fixme lines would mix with the programs' stderr).
func (w *Wine) Env() []string {
	return append(os.Environ(), "WINEPREFIX="+w.Prefix, "WINEDEBUG=-all")
}

func (w *Wine) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = w.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Command runs a Windows program under Wine. Wine's loader becomes the
// Windows process, so killing the command kills the program.
func (w *Wine) Command(ctx context.Context, exe string, args ...string) *exec.Cmd {
	return w.command(ctx, "wine", append([]string{exe}, args...)...)
}

// Build cross-builds the Go package pkg for windows/amd64 into out.
func Build(pkg, out string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for Windows: %w\n%s", pkg, err, b)
	}
	return nil
}

// BuildTest cross-builds the tests of package pkg for windows/amd64
// into out (go test -c).
func BuildTest(pkg, out string) error {
	cmd := exec.Command("go", "test", "-c", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the tests of %s for Windows: %w\n%s", pkg, err, b)
	}
	return nil
}

// Dir is a directory for a test's built files, removed with the rest.
func (w *Wine) Dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(w.dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
