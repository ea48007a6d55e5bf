package docker

import (
	"spirit/target"
	"testing"
)

// TestKillScript runs the kill script on tagged processes, with a grep that
// has -z and with one that has not.
func TestKillScript(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)
	// A grep without -z, for the fallback.
	mustRun(t, tgt, `mkdir -p /tmp/nogrepz && printf '%s\n' '#!/bin/sh' \
		'for a; do case $a in -*z*) echo "grep: no -z" >&2; exit 2;; esac; done' \
		'exec /bin/grep "$@"' >/tmp/nogrepz/grep && chmod +x /tmp/nogrepz/grep`)
	tests := []struct {
		name, path, sleep string
	}{
		{name: "grep -z", path: "/bin", sleep: "sleep 201"},
		{name: "tr and grep", path: "/tmp/nogrepz:/bin", sleep: "sleep 202"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const tag = "SPIRIT_EXEC=killscripttest"
			// Two tagged processes that ignore SIGINT, and one untagged.
			mustRun(t, tgt, "trap '' INT; "+tag+" "+tt.sleep+" >/dev/null 2>&1 & "+
				tag+" "+tt.sleep+" >/dev/null 2>&1 & "+tt.sleep+"0 >/dev/null 2>&1 &")
			res := run(testContext(t), tgt, `PATH=$P sh -c "$KS" spirit-kill INT "$T" 3`, &target.Command{
				Env: []string{"P=" + tt.path, "KS=" + killScript, "T=" + tag},
			})
			if res.err != nil || res.status != 0 {
				t.Fatalf("kill script: status %d, err %v, output %q %q", res.status, res.err, res.stdout, res.stderr)
			}
			if left := leftovers(t, tgt, tt.sleep); len(left) > 0 {
				t.Errorf("left running: %q", left)
			}
			if left := leftovers(t, tgt, tt.sleep+"0"); len(left) != 1 {
				t.Errorf("the untagged process was killed too: %q", left)
			}
		})
	}
}
