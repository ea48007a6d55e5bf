package docker

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"spirit/internal/dockertest"
	"spirit/target"
)

// testTimeout bounds every call a test makes.
const testTimeout = 60 * time.Second

// newTarget starts a container of its own for the test and returns a
// backend and the container's target.
func newTarget(t *testing.T) (*Backend, *Target, string) {
	t.Helper()
	name := dockertest.Container(t, "")
	b := New(Options{})
	t.Cleanup(func() { _ = b.Close() })
	return b, b.Target(name), name
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// result is what a run printed and returned.
type result struct {
	status         int
	stdout, stderr string
	err            error
}

// run runs text in tgt, with c's other fields when c is not nil.
func run(ctx context.Context, tgt target.Target, text string, c *target.Command) result {
	var stdout, stderr bytes.Buffer
	if c == nil {
		c = &target.Command{}
	}
	c.Text = text
	c.Stdout, c.Stderr = &stdout, &stderr
	status, err := tgt.Exec(ctx, c)
	return result{status: status, stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun runs text and fails the test unless it exits 0.
func mustRun(t *testing.T, tgt target.Target, text string) string {
	t.Helper()
	res := run(testContext(t), tgt, text, nil)
	if res.err != nil || res.status != 0 {
		t.Fatalf("%s: status %d, err %v, stderr %q", text, res.status, res.err, res.stderr)
	}
	return res.stdout
}

// leftovers lists the processes in the container whose command line is
// one of cmds.
func leftovers(t *testing.T, tgt target.Target, cmds ...string) []string {
	t.Helper()
	var found []string
	for line := range strings.Lines(mustRun(t, tgt, "ps -o pid,args")) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		args := strings.Join(fields[1:], " ")
		for _, c := range cmds {
			if args == c {
				found = append(found, strings.TrimSpace(line))
			}
		}
	}
	return found
}
