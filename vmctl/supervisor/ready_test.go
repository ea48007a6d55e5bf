package supervisor_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"spirit/vmctl"
	"spirit/vmctl/supervisor"
)

// TestFailedStartReportsBeforeExitHooks: a start that fails is told to
// the starter before the exit hooks run. A GPU passthrough waits for the
// start while holding the lock that its exit hook takes: the other order
// deadlocks.
func TestFailedStartReportsBeforeExitHooks(t *testing.T) {
	env := newEnv(t)
	b := newBootstrap(t, bareDef(t), env)
	b.Args = append(b.Args, "-no-such-option")
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.Path(vmctl.BootstrapFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seen string
	hook := func(context.Context) error {
		r.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(r)
		seen = string(got)
		return nil
	}
	err = supervisor.Run(t.Context(), supervisor.Options{Dir: env.Dir, Ready: w, OnExit: []func(context.Context) error{hook}})
	if err == nil || !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("Run: %v, want QEMU's complaint", err)
	}
	if !strings.Contains(seen, "no-such-option") {
		t.Errorf("the exit hook found %q on the readiness pipe, want the failure", seen)
	}
}
