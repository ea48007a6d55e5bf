package docker

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"spirit/internal/dockertest"
	"spirit/target"
)

func control(ctx context.Context, tgt *Target, word string, args ...string) (string, error) {
	var out bytes.Buffer
	err := tgt.Control(ctx, word, args, &out)
	return out.String(), err
}

func TestControl(t *testing.T) {
	t.Parallel()
	_, tgt, name := newTarget(t)
	ctx := testContext(t)
	image := `spirit-test/busybox(:latest)?`
	paused := "container " + name + " is paused (resume it with @docker:" + name + " --resume)"

	// Each step runs after the one before it.
	steps := []struct {
		name   string
		word   string
		args   []string
		out    string // a regexp of the whole output
		errHas string // part of the error, if one is wanted
		exec   string // part of the error of an exec after the step; "" = it works
	}{
		{name: "status running", word: "--status", out: name + `: running \(image ` + image + `, up \d+s\)\n`},
		{name: "resume running", word: "--resume", errHas: "container " + name + " is already running"},
		{name: "pause", word: "--pause", out: name + ": paused\n", exec: paused},
		{name: "pause paused", word: "--pause", errHas: "container " + name + " is already paused", exec: paused},
		{name: "status paused", word: "--status", out: name + `: paused \(image ` + image + `, up \d+s\)\n`, exec: paused},
		{name: "resume", word: "--resume", out: name + ": running\n"},
		{name: "arguments refused", word: "--status", args: []string{"x"}, errHas: "docker --status: takes no arguments"},
		{name: "unknown word", word: "--start", errHas: "unknown control word --start (words: --pause --resume --status)"},
	}
	for _, s := range steps {
		out, err := control(ctx, tgt, s.word, s.args...)
		switch {
		case s.errHas != "":
			if err == nil || !strings.Contains(err.Error(), s.errHas) {
				t.Errorf("%s: error %v, want one with %q", s.name, err, s.errHas)
			}
		case err != nil:
			t.Errorf("%s: %v", s.name, err)
		case !regexp.MustCompile(`^` + s.out + `$`).MatchString(out):
			t.Errorf("%s: output %q, want %q", s.name, out, s.out)
		}
		if s.exec == paused {
			// Files go through the engine, not the paused processes.
			f, err := tgt.Open(ctx, "/etc/passwd", target.Read)
			if err != nil {
				t.Errorf("%s: read a file: %v", s.name, err)
			} else {
				f.Close()
			}
		}
		res := run(ctx, tgt, "echo ok", nil)
		switch {
		case s.exec == "" && (res.err != nil || res.stdout != "ok\n"):
			t.Errorf("%s: exec after: %+v", s.name, res)
		case s.exec != "" && (res.err == nil || !strings.Contains(res.err.Error(), s.exec)):
			t.Errorf("%s: exec after: error %v, want one with %q", s.name, res.err, s.exec)
		}
	}

	// Stopped: commands are refused, files still work.
	cli := dockertest.Client(t)
	if _, err := cli.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cli, name, container.StateExited)
	if out, err := control(ctx, tgt, "--status"); err != nil || out != name+": exited (137)\n" {
		t.Errorf("status exited: %q, %v", out, err)
	}
	if _, err := control(ctx, tgt, "--pause"); err == nil || !strings.Contains(err.Error(), "is not running (exited (137))") {
		t.Errorf("pause exited: %v", err)
	}
	res := run(ctx, tgt, "echo ok", nil)
	if res.err == nil || !strings.Contains(res.err.Error(), "container "+name+" is not running (exited (137))") {
		t.Errorf("exec in exited: %v", res.err)
	}
	f, err := tgt.Open(ctx, "/etc/passwd", target.Read)
	if err != nil {
		t.Fatalf("read a file of a stopped container: %v", err)
	}
	f.Close()
}

func waitState(t *testing.T, cli *client.Client, name string, want container.ContainerState) {
	t.Helper()
	for range 100 {
		res, err := cli.ContainerInspect(testContext(t), name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Container.State.Status == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("container %s never got %s", name, want)
}

func TestStatusLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	started := now.Add(-5*time.Minute - 3*time.Second).Format(time.RFC3339Nano)
	cfg := &container.Config{Image: "web:1"}
	tests := []struct {
		name  string
		state container.State
		want  string
	}{
		{name: "running", state: container.State{Status: "running", Running: true, StartedAt: started}, want: "c1: running (image web:1, up 5m)"},
		{name: "paused", state: container.State{Status: "paused", Running: true, Paused: true, StartedAt: started}, want: "c1: paused (image web:1, up 5m)"},
		{name: "exited", state: container.State{Status: "exited", ExitCode: 3}, want: "c1: exited (3)"},
		{name: "created", state: container.State{Status: "created"}, want: "c1: created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := statusLine("c1", container.InspectResponse{State: &tt.state, Config: cfg}, now)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{59 * time.Second, "59s"},
		{5*time.Minute + 59*time.Second, "5m"},
		{2 * time.Hour, "2h"},
		{2*time.Hour + 5*time.Minute, "2h5m"},
		{3 * 24 * time.Hour, "3d"},
		{3*24*time.Hour + 4*time.Hour + 10*time.Minute, "3d4h"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
