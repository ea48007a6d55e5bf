package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"spirit/doctor"
	"spirit/gpu"
	"spirit/vmctl"
)

// TestDoctor runs the real `spirit doctor` and `spirit doctor --json` on
// this machine's /sys, /proc and /dev/kvm. What they must say is what
// the packages they call find here, asked in this test: on this machine
// /dev/kvm is there but runs a guest hundreds of times too slowly, and
// there is no GPU.
func TestDoctor(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	env := baseEnv(t)

	js := runIn(t, t.TempDir(), env, "", spiritBin, "doctor", "--json")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatalf("spirit doctor --json: %v\nstdout %s\nstderr %s", err, js.stdout, js.stderr)
	}
	checks := map[string]doctor.Result{}
	var ids []string
	for _, r := range rep.Checks {
		checks[r.ID] = r
		ids = append(ids, r.ID)
	}
	wantIDs := []string{"cpu", "kvm", "qemu", "sandbox", "ovmf", "hugepages", "iommu", "vfio", "gpu", "docker", "guest", "config", "places"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("checks %v, want %v", ids, wantIDs)
	}
	failed := slices.ContainsFunc(rep.Checks, func(r doctor.Result) bool { return r.Status == doctor.Fail })
	if wantStatus := map[bool]int{false: 0, true: 1}[failed]; js.status != wantStatus || rep.Failed != failed {
		t.Errorf("status %d, failed %v, with a failing check: %v", js.status, rep.Failed, failed)
	}

	// KVM: the verdict of the same probe, run here.
	kvm := checks["kvm"]
	_, statErr := os.Stat("/dev/kvm")
	usable, why := vmctl.KVMUsable(ctx)
	t.Logf("here: /dev/kvm %v; KVMUsable %v, %s; doctor: %s, %s", statErr, usable, why, kvm.Status, kvm.Found)
	switch {
	case statErr != nil:
		wantCheck(t, kvm, doctor.Fail, "no /dev/kvm")
	case usable:
		wantCheck(t, kvm, doctor.OK, "/dev/kvm ran a test guest")
	case os.Getuid() == 0:
		// This machine: present, but unusable.
		wantCheck(t, kvm, doctor.Fail, "/dev/kvm is there, but it cannot run a guest")
	}

	// QEMU's sandbox and user: Debian's QEMU has seccomp, and make test
	// made the user (scripts/deps.sh).
	if os.Getuid() == 0 {
		wantCheck(t, checks["sandbox"], doctor.OK, "QEMU runs in its seccomp sandbox (-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny), as spirit-qemu (uid ")
	}

	// GPUs: what the gpu package finds here.
	gpus, err := gpu.Host{Sys: gpu.Sys{Root: "/sys"}, Modules: gpu.KernelModules(), PCIIDs: gpu.PCIIDs}.GPUs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("here: %d GPUs; doctor: %s, %s", len(gpus), checks["gpu"].Status, checks["gpu"].Found)
	if len(gpus) == 0 {
		wantCheck(t, checks["gpu"], doctor.Skip, "no GPU (no PCI display controller)")
	} else if checks["gpu"].Status == doctor.Skip {
		t.Errorf("%d GPUs here, yet the doctor skips them", len(gpus))
	}

	// The demo guest is the repository's (SPIRIT_BASE), built when
	// build/guest is.
	if _, err := os.Stat(repoRoot(t) + "/build/guest/vmlinuz"); err == nil {
		wantCheck(t, checks["guest"], doctor.OK, repoRoot(t))
	}

	// The text says the same, with a fix for each failure.
	text := runIn(t, t.TempDir(), env, "", spiritBin, "doctor")
	if text.status != js.status {
		t.Errorf("spirit doctor: status %d, --json %d", text.status, js.status)
	}
	for _, r := range rep.Checks {
		if !strings.Contains(text.stdout, r.Name) {
			t.Errorf("spirit doctor does not show %q:\n%s", r.Name, text.stdout)
		}
	}
	for _, s := range []string{"STATUS", "fix: "} {
		if failed && !strings.Contains(text.stdout, s) {
			t.Errorf("spirit doctor lacks %q:\n%s", s, text.stdout)
		}
	}
	if len(gpus) == 0 && !strings.Contains(text.stdout, "no GPU (no PCI display controller)") {
		t.Errorf("spirit doctor does not say there is no GPU:\n%s", text.stdout)
	}
	if text.stderr != "" || js.stderr != "" {
		t.Errorf("stderr: %q, --json: %q", text.stderr, js.stderr)
	}
	t.Logf("spirit doctor:\n%s", text.stdout)
}

func wantCheck(t *testing.T, r doctor.Result, status doctor.Status, found string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Found, found) {
		t.Errorf("%s: %s %q, want %s and %q", r.ID, r.Status, r.Found, status, found)
	}
	if status == doctor.Fail && r.Fix == "" {
		t.Errorf("%s fails without a fix", r.ID)
	}
}
