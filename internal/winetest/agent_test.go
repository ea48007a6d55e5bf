//go:build linux

package winetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/agents/client"
	"spirit/internal/agenttest"
)

// wine is set up once for the package's tests by TestMain.
var wine Wine

func TestMain(m *testing.M) { Main(m, &wine) }

// newClient is the host's client of an agent under Wine.
func newClient(t *testing.T) (*client.Client, *Agents) {
	t.Helper()
	a := wine.Agents(t)
	c := client.New(client.Options{Name: "w", Dial: a.Dial, HandshakeTimeout: 30 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c, a
}

func runCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestAgentUnderWine: the real agent for Windows runs a command through
// cmd.exe for the real client, with stdin and its EOF, and an exit status.
func TestAgentUnderWine(t *testing.T) {
	c, _ := newClient(t)
	ctx := runCtx(t)
	tests := []struct {
		name, text, stdin string
		want              string
		status            int
	}{
		{"ver", "ver", "", "Windows", 0},
		{"stdin to its EOF", "more", "one\r\ntwo\r\n", "one\r\ntwo\r\n", 0},
		{"exit status", "exit /b 3", "", "", 3},
		{"an exit status of 32 bits, whole", "exit /b 256", "", "", 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := agenttest.Run(ctx, c, tt.text, strings.NewReader(tt.stdin))
			if r.Err != nil || r.Status != tt.status || !strings.Contains(r.Stdout, tt.want) {
				t.Fatalf("%s: status %d err %v stdout %q stderr %q; want status %d, stdout with %q",
					tt.text, r.Status, r.Err, r.Stdout, r.Stderr, tt.status, tt.want)
			}
		})
	}
}

// spiritLine runs one line with spirit, with @w the agent under Wine
// (through a bridge from a unix socket), and returns its output.
func spiritLine(t *testing.T, line string) (string, error) {
	t.Helper()
	cmd, out := spiritCommand(t, line)
	err := cmd.Run()
	return out.String(), err
}

// spiritCommand is spirit -c line, with @w the agent under Wine, its
// stdout and stderr in out.
func spiritCommand(t *testing.T, line string) (*exec.Cmd, *agenttest.LockedBuffer) {
	t.Helper()
	a := wine.Agents(t)
	sock := a.Bridge(t)
	home := t.TempDir()
	env := agenttest.Config(t, filepath.Join(home, ".config"), "w", sock)
	cmd := exec.CommandContext(runCtx(t), wine.Spirit, "-c", line)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, env)
	var out agenttest.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// TestSpiritLinesUnderWine: a Windows target's output redirected to a
// host file, and a host file as a Windows command's input (Wine's cmd
// has more, but a findstr that prints nothing).
func TestSpiritLinesUnderWine(t *testing.T) {
	wine.Need(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "F")
	if err := os.WriteFile(in, []byte("x marks\r\nthe spot\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	tests := []struct {
		line, want string
	}{
		{"@w ver > @spirit " + out + " && cat " + out, "Windows"},
		{"@w more < @spirit " + in, "x marks\r\nthe spot"},
		// Exit codes have 32 bits on Windows: 256 must not read as 0.
		{"@w exit /b 256; echo status=$?", "status=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := spiritLine(t, tt.line)
			if err != nil || !strings.Contains(got, tt.want) {
				t.Fatalf("spirit -c %q: %v\n%s\nwant %q in it", tt.line, err, got, tt.want)
			}
		})
	}
}
