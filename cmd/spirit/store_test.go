package main

import (
	"strings"
	"testing"

	"spirit/internal/dockertest"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// TestFailedStoreFails writes to a container whose /tmp is a full tmpfs
// volume (a volume, since the Engine stores files under a tmpfs mount
// into the layer beneath it):
// the store fails when the file is closed, and the command must fail
// with it (status 1, the error printed), as a failed write does in bash,
// so that a script stops rather than lose the data in silence.
func TestFailedStoreFails(t *testing.T) {
	name := dockertest.ContainerWith(t, "", func(hc *container.HostConfig) {
		hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Target: "/tmp", VolumeOptions: &mount.VolumeOptions{
			DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=64k"}},
		}}}
	})
	env, dir := baseEnv(t), t.TempDir()
	c := "@docker:" + name
	// Fill /tmp; dd's own failure at the end is expected.
	runIn(t, dir, env, "", spiritBin, "-c", c+" dd if=/dev/zero of=/tmp/big bs=1k count=100")

	tests := []struct{ src, stdout string }{
		{"cat >> " + c + " /tmp/big", ""},
		{"cat > " + c + " /tmp/other; echo status $?", "status 1\n"},
		{"set -e; cat > " + c + " /tmp/other; echo not reached", ""},
	}
	for _, tc := range tests {
		r := runIn(t, dir, env, strings.Repeat("x", 200<<10), spiritBin, "-c", tc.src)
		wantStatus := 1
		if tc.stdout != "" {
			wantStatus = 0
		}
		if r.status != wantStatus || r.stdout != tc.stdout || !strings.Contains(strings.ToLower(r.stderr), "no space left on device") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want status %d, stdout %q and no space left on device",
				tc.src, r.status, r.stdout, r.stderr, wantStatus, tc.stdout)
		}
	}
}
