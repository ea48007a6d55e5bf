package vmctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKVMUsable runs the real probe. Whether KVM works depends on the
// machine, so it checks only that the answer comes in time with a reason,
// and logs it.
func TestKVMUsable(t *testing.T) {
	start := time.Now()
	ok, why := KVMUsable(t.Context())
	took := time.Since(start)
	t.Logf("KVMUsable: %v, %s (%v)", ok, why, took.Round(time.Millisecond))
	if why == "" {
		t.Error("no reason given")
	}
	if took > ProbeTimeout+time.Second {
		t.Errorf("the probe took %v, over its bound of %v", took, ProbeTimeout)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil && (ok || !strings.Contains(why, "open /dev/kvm")) {
		t.Errorf("no /dev/kvm, yet: %v, %s", ok, why)
	}
}

// TestKVMProbeTimeout stops a probe mid-run: the answer must be "not
// usable" and the vCPU must let go of its thread.
func TestKVMProbeTimeout(t *testing.T) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("the probe's timeout needs a /dev/kvm to run: %v", err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, why := KVMUsable(ctx)
	if ok {
		t.Skip("the test guest halted within 1ms: nothing left to time out")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a probe told to stop after 1ms took %v", took)
	}
	if !strings.Contains(why, "did not halt in time") || strings.Contains(why, "did not stop") {
		t.Errorf("reason %q, want a timeout after which the vCPU stopped", why)
	}
}

func TestKVMProbeNotKVM(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(t.TempDir(), "kvm"), "open "},
		{"/dev/null", "/dev/null: KVM_GET_API_VERSION: inappropriate ioctl for device"},
	}
	for _, tt := range tests {
		err := probeKVM(t.Context(), tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("probeKVM(%s) = %v, want an error with %q", tt.path, err, tt.want)
		}
	}
}

func TestKVMProbeVerdict(t *testing.T) {
	ran := make([]byte, probeMemSize)
	ran[probeMark] = probeValue
	tests := []struct {
		name   string
		mem    []byte
		reason uint32
		took   time.Duration
		want   string // "" means usable
	}{
		{"halted fast", ran, kvmExitHLT, time.Millisecond, ""},
		{"halted slowly", ran, kvmExitHLT, 300 * time.Millisecond, "the test guest ran 500000 instructions in 300ms (hardware takes under 1ms, TCG a few ms)"},
		{"other exit", ran, 8, time.Millisecond, "exited with reason 8, want 5 (KVM_EXIT_HLT)"},
		{"halted without running", make([]byte, probeMemSize), kvmExitHLT, time.Millisecond, "halted without running its program"},
	}
	for _, tt := range tests {
		err := (&probeRun{mem: tt.mem}).check(tt.reason, tt.took)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
