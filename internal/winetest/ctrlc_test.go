//go:build linux

package winetest

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"spirit/target"
)

// winPath is a host path as Wine's programs see it: on drive Z:.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// TestCtrlCUnderWine: a cancelled command gets a console's Ctrl-C: a
// program that handles it prints what it prints on one, and the
// command ends with 130; one that ignores it is killed after the grace.
// Not Wine's ping: it buffers its output in a pipe until it exits, and
// prints no statistics on Ctrl-C.
func TestCtrlCUnderWine(t *testing.T) {
	c, _ := newClient(t)
	exe := filepath.Join(wine.Dir(t), "ctrlc.exe")
	if err := Build("./testdata/ctrlc", exe); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		ready      string // a line with this shows the command runs
		want       string // what it says after a Ctrl-C
	}{
		{"handled", winPath(exe), "started", "got Ctrl-C: saved my work"},
		{"ignored", winPath(exe) + " -ignore", "started", "ignored a Ctrl-C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(runCtx(t), 30*time.Second)
			defer cancel()
			r, w := io.Pipe()
			done := make(chan error, 1)
			var status int
			go func() {
				var err error
				status, err = c.Exec(ctx, &target.Command{Text: tt.text, Stdout: w})
				w.CloseWithError(err)
				done <- err
			}()
			lines := bufio.NewScanner(r)
			ready := false
			for !ready && lines.Scan() {
				ready = strings.Contains(lines.Text(), tt.ready)
			}
			if !ready {
				t.Fatalf("no line with %q (%v)", tt.ready, lines.Err())
			}
			start := time.Now()
			cancel()
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			if err := <-done; err != nil || status != 130 {
				t.Fatalf("status %d, err %v; want 130", status, err)
			}
			if !strings.Contains(strings.Join(rest, "\n"), tt.want) {
				t.Errorf("output after the Ctrl-C %q, want %q in it", rest, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the cancel took %v", d)
			}
		})
	}
}

// TestSpiritCtrlCUnderWine: Ctrl-C at a spirit line (SIGINT to its
// process group, as the terminal sends it) reaches the Windows program as
// a console's Ctrl-C: it prints what it prints on one, and the line's
// status is 130.
func TestSpiritCtrlCUnderWine(t *testing.T) {
	wine.Need(t)
	exe := filepath.Join(wine.Dir(t), "ctrlc.exe")
	if err := Build("./testdata/ctrlc", exe); err != nil {
		t.Fatal(err)
	}
	cmd, out := spiritCommand(t, "@w "+winPath(exe))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "started") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	cmd.Wait()
	if !strings.Contains(out.String(), "got Ctrl-C: saved my work") {
		t.Errorf("output %q, want the program's answer to Ctrl-C in it", out.String())
	}
	// 130, or spirit died of SIGINT itself, which a shell reads as 130.
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.ExitStatus() != 130 && !(ws.Signaled() && ws.Signal() == syscall.SIGINT) {
		t.Errorf("spirit ended with %v, want status 130", cmd.ProcessState)
	}
}
