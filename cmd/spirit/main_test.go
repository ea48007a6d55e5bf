package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"spirit/internal/dockertest"
	"spirit/internal/spiritbin"
)

// spiritBin and agentBin are the real binaries, built once without the
// race detector so that their memory is measured as users run them. They
// are in the same directory.
var spiritBin, agentBin string

func TestMain(m *testing.M) {
	if root := os.Getenv(simEnv); root != "" {
		os.Exit(simSpirit(root))
	}
	spiritbin.MainBins(m, spiritbin.Bins{Spirit: &spiritBin, Agent: &agentBin})
}

type result struct {
	stdout, stderr string
	status         int
}

// runIn runs argv in dir with a fixed environment and a deadline.
func runIn(t *testing.T, dir string, env []string, stdin string, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &er
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: er.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return r
}

func baseEnv(t *testing.T) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + t.TempDir(),
		"LC_ALL=C",
		"XDG_CONFIG_HOME=" + t.TempDir(),
		"XDG_STATE_HOME=" + t.TempDir(),
		"DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
		// VMs live in the test's own directories, never in the host's
		// /run/spirit; the built-in definitions' relative paths are the
		// repository's.
		"SPIRIT_RUNTIME_DIR=" + shortDir(t),
		"SPIRIT_STATE_DIR=" + t.TempDir(),
		"SPIRIT_BASE=" + repoRoot(t),
	}
}

// shortDir is a new directory with a short path, for unix sockets (under
// 108 bytes), removed when the test ends.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "sr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// repoRoot is the root of the repository (the tests run in cmd/spirit).
func repoRoot(t *testing.T) string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCorpus runs each host line of testdata/corpus/*.sh through
// `bash -c LINE spirit` and `spirit -c LINE` and compares stdout, stderr and
// status. Both run in the same directory, holding a, b.txt and c.txt.
func TestCorpus(t *testing.T) {
	entries := corpusEntries(t)
	if len(entries) < 1000 {
		t.Fatalf("corpus has %d entries, want at least 1000", len(entries))
	}
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			env := baseEnv(t)
			dir := t.TempDir()
			run := func(argv ...string) result {
				fresh(t, dir)
				return runIn(t, dir, env, "", argv...)
			}
			want := run("bash", "-c", e.src, "spirit")
			got := run(spiritBin, "-c", e.src)
			if got.stdout != want.stdout || got.stderr != want.stderr || got.status != want.status {
				t.Errorf("%s\n spirit: status %d stdout %q stderr %q\n   bash: status %d stdout %q stderr %q",
					e.src, got.status, got.stdout, got.stderr, want.status, want.stdout, want.stderr)
			}
		})
	}
}

type corpusEntry struct{ name, src string }

// corpusEntries reads the entries of every file of testdata/corpus: they
// are separated by lines that are only "#---"; the comment lines that
// open a file are not an entry's.
func corpusEntries(t *testing.T) []corpusEntry {
	files, err := filepath.Glob("testdata/corpus/*.sh")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var out []corpusEntry
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(f), ".sh")
		for i, src := range strings.Split(string(data), "\n#---\n") {
			if i == 0 {
				src = stripComments(src)
			}
			out = append(out, corpusEntry{name: fmt.Sprintf("%s/%d", base, i), src: strings.TrimSuffix(src, "\n")})
		}
	}
	return out
}

// fresh empties dir and puts a, b.txt and c.txt in it, a year apart in
// that order: made anew for each shell, they would otherwise get times
// that differ from run to run (test a -ot b.txt).
func fresh(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
	for i, f := range []string{"a", "b.txt", "c.txt"} {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2020+i, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func stripComments(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestScripts runs the end-to-end scripts under testdata/script against the
// real binaries (spirit and spirit-agent are on PATH), a real container named
// c1, and $SOCKDIR, a short directory for an agent's socket (agent.txtar).
func TestScripts(t *testing.T) {
	root := repoRoot(t)
	dockertest.Container(t, "c1")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(spiritBin)+":"+os.Getenv("PATH"))
			e.Setenv("DOCKER_HOST", os.Getenv("DOCKER_HOST"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, ".state"))
			if err := sockDir(e); err != nil {
				return err
			}
			// VMs live in the test's own directories, never in the
			// host's /run/spirit; relative paths of the built-in
			// definitions are the repository's.
			e.Setenv("SPIRIT_RUNTIME_DIR", filepath.Join(e.Getenv("SOCKDIR"), "run"))
			e.Setenv("SPIRIT_STATE_DIR", filepath.Join(e.WorkDir, ".state", "spirit"))
			e.Setenv("SPIRIT_BASE", root)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitsock": cmdWaitSock,
		},
	})
}

// TestStreamMemory streams 100 MB out of a container through spirit and
// reports spirit's peak RSS.
func TestStreamMemory(t *testing.T) {
	dockertest.Container(t, "c1-mem")
	r, peak := runPeak(t, baseEnv(t), "@docker:c1-mem head -c 100000000 /dev/zero | @spirit wc -c")
	if strings.TrimSpace(r.stdout) != "100000000" || r.status != 0 {
		t.Fatalf("status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
	t.Logf("peak RSS of spirit streaming 100 MB from a container: %.1f MiB", float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak RSS %d bytes, want under 64 MiB", peak)
	}
}
