//go:build windows

package guest

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"spirit/agents/wire"
)

// startTest starts a request's command and returns it with a reader of
// its stdout lines; the command is released when the test ends.
func startTest(t *testing.T, req *wire.Request) (process, *bufio.Reader) {
	t.Helper()
	p, err := startProcess(req)
	if err != nil {
		t.Fatalf("start %+v: %v", req, err)
	}
	t.Cleanup(p.Release)
	return p, bufio.NewReader(p.Stdout())
}

func expectLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimRight(line, "\r\n") != want {
		t.Fatalf("stdout: %q, %v; want the line %q", line, err, want)
	}
}

// waitFor waits for the command's end, at most d.
func waitFor(t *testing.T, p process, d time.Duration) wire.ExitMsg {
	t.Helper()
	type res struct {
		m   wire.ExitMsg
		err error
	}
	ch := make(chan res, 1)
	go func() { m, err := p.Wait(); ch <- res{m, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.m
	case <-time.After(d):
		p.Kill()
		t.Fatalf("the command did not end within %v", d)
	}
	return wire.ExitMsg{}
}

// TestCtrlC: INT reaches the command as a console's Ctrl-C, which it
// handles (it prints, then exits as Ctrl-C's default handler does, which
// reads as 130); a command that ignores it is still killed.
func TestCtrlC(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  wire.Request
		mode string
		// cmd.exe /c exits with its command's code; Wine's cmd
		// exits 0 after a Ctrl-C, so only the output is checked.
		anyStatus bool
		desktop   bool // started as startDesktop starts it
	}{
		{"program", wire.Request{Argv: []string{exe}}, "save", false, false},
		{"program under cmd.exe", wire.Request{Shell: `"` + exe + `"`}, "save", true, false},
		{"program that ignores it", wire.Request{Argv: []string{exe}}, "ignore", false, false},
	}
	// A desktop command on pipes is started apart (launch), and gets
	// the same Ctrl-C; startPlain starts it as the agent's user. Not
	// under cmd.exe: its output ends with cmd.exe, which Wine's ends at
	// once on Ctrl-C, before the program has said what it did.
	for _, tt := range tests[:] {
		if tt.req.Shell == "" {
			tt.name, tt.desktop = "desktop "+tt.name, true
			tests = append(tests, tt)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Env = []string{ctrlCEnv + "=" + tt.mode}
			var p process
			var out *bufio.Reader
			if tt.desktop {
				p = startPlain(t, &req)
				out = bufio.NewReader(p.Stdout())
				go io.Copy(io.Discard, p.Stderr())
			} else {
				p, out = startTest(t, &req)
			}
			expectLine(t, out, "started")
			if err := p.Signal("INT"); err != nil {
				t.Fatalf("signal INT: %v", err)
			}
			if tt.mode == "ignore" {
				expectLine(t, out, "ignored a Ctrl-C")
				p.Kill() // what the cancel's grace does
				if m := waitFor(t, p, 10*time.Second); m.Status != 128+9 || m.Signal != "KILL" {
					t.Fatalf("exit %+v, want 137 KILL", m)
				}
				return
			}
			expectLine(t, out, "got Ctrl-C: saved")
			if m := waitFor(t, p, 10*time.Second); !tt.anyStatus && (m.Status != 130 || m.Signal != "INT") {
				t.Fatalf("exit %+v, want 130 INT", m)
			}
			io.Copy(io.Discard, out)
		})
	}
}

func TestExitMsg(t *testing.T) {
	tests := []struct {
		code   int
		signal string
		want   wire.ExitMsg
	}{
		{0, "", wire.ExitMsg{}},
		{256, "", wire.ExitMsg{Status: 256}},
		{0xC000013A, "", wire.ExitMsg{Status: 130, Signal: "INT"}},
		{137, "KILL", wire.ExitMsg{Status: 137, Signal: "KILL"}},
		{0xC0000005, "", wire.ExitMsg{Status: 0xC0000005}},
	}
	for _, tt := range tests {
		if got := exitMsg(tt.code, tt.signal); got != tt.want {
			t.Errorf("exitMsg(%#x, %q) = %+v, want %+v", tt.code, tt.signal, got, tt.want)
		}
	}
}
