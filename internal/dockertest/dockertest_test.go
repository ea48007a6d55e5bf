package dockertest

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestContainer(t *testing.T) {
	tests := []struct {
		name  string
		given string
	}{
		{name: "generated name"},
		{name: "given name", given: "spirit-dockertest-given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id string
			cli := Client(t)
			// A subtest of its own, so that its cleanup has run when it
			// returns.
			t.Run("use", func(t *testing.T) {
				name := Container(t, tt.given)
				if tt.given != "" && name != tt.given {
					t.Errorf("name %q, want %q", name, tt.given)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Container.State.Running {
					t.Errorf("container %s is %s, not running", name, res.Container.State.Status)
				}
				id = res.Container.ID
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
				t.Errorf("container %s is still there after the test", id)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	a, b := uniqueName("TestX/sub test#1"), uniqueName("TestX/sub test#1")
	if a == b {
		t.Errorf("two names alike: %s", a)
	}
	for _, n := range []string{a, b, uniqueName(string(make([]byte, 200)))} {
		if !valid.MatchString(n) || len(n) > 80 {
			t.Errorf("bad container name %q", n)
		}
	}
}

// fatalTB records the failure of a call that must fail.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestNoEngine: without a reachable engine, a test fails with what to run.
func TestNoEngine(t *testing.T) {
	tests := []struct {
		name, host, want string
	}{
		{name: "unset", host: "", want: "DOCKER_HOST is not set"},
		{name: "unreachable", host: "unix://" + t.TempDir() + "/none.sock", want: "cannot reach the Docker Engine at unix://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tt.host)
			f := &fatalTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Container(f, "")
			}()
			<-done
			for _, part := range []string{tt.want, "make test", "scripts/dockerd.sh start DIR"} {
				if !strings.Contains(f.msg, part) {
					t.Errorf("message %q does not say %q", f.msg, part)
				}
			}
		})
	}
}
