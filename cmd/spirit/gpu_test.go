package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"spirit/gpu"
	"spirit/gpu/gpusim"
)

// The test binary is spirit on a simulated host when $SPIRIT_TEST_GPUSIM
// names a simulator's tree; with $SPIRIT_TEST_GPUSIM_CRASH=N it dies
// before the simulator's change N, as a crash would.
const (
	simEnv      = "SPIRIT_TEST_GPUSIM"
	simCrashEnv = "SPIRIT_TEST_GPUSIM_CRASH"
	simIDsEnv   = "SPIRIT_TEST_PCIIDS"
)

func simSpirit(root string) int {
	sim, err := gpusim.Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if n, err := strconv.Atoi(os.Getenv(simCrashEnv)); err == nil {
		sim.Before = func(i int, _ string) {
			if i == n {
				os.Exit(137)
			}
		}
	}
	parts := hostParts{
		Host: gpu.Host{Sys: gpu.Sys{Root: root}, Modules: gpu.Modules{Dir: sim.ModulesDir(), Conf: []string{}},
			PCIIDs: []string{os.Getenv(simIDsEnv)}, Proc: gpu.ProcFS{Root: sim.ProcDir()}},
		Kernel: sim, Units: sim, Sessions: gpusim.Sessions{Sim: sim}, Root: true,
	}
	return runWith(context.Background(), append([]string{"spirit"}, os.Args[1:]...), func() hostParts { return parts })
}

// simHost builds a fixture and returns the environment that makes the
// test binary spirit on it.
func simHost(t *testing.T, fixture string) (*gpusim.Sim, []string) {
	sim, err := gpusim.Build(t.TempDir(), filepath.Join("../../gpu/testdata/hosts", fixture+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := filepath.Abs("../../gpu/testdata/pci.ids")
	if err != nil {
		t.Fatal(err)
	}
	return sim, append(baseEnv(t), simEnv+"="+sim.Root, simIDsEnv+"="+ids)
}

// TestGPUCommandsOnASimulatedHost drives spirit gpu status, passthrough
// and reclaim on the NVIDIA fixture. The VM is real: vmctl refuses to
// start it (the fixture's GPU is not in this machine's /sys), which is a
// failure at the last step, so the whole passthrough rolls back.
func TestGPUCommandsOnASimulatedHost(t *testing.T) {
	sim, env := simHost(t, "nvidia")
	before := sim.State()
	self := os.Args[0]
	r := runIn(t, t.TempDir(), env, "", self, "gpu", "status")
	for _, want := range []string{"0000:01:00.0", "GA104 [GeForce RTX 3070] [10de:2484]", "nvidia", "snd_hda_intel", "the host", "0000:01:00.0 can be passed through",
		"reset method: bus", "framebuffers: nvidia_drmdrmfb", "vfio-pci evicts the firmware framebuffer", "pid 2050 (/usr/bin/gnome-shell) holds /dev/dri/card0",
		"pid 2101 (/usr/bin/pipewire) holds /dev/snd/controlC1"} {
		if !strings.Contains(r.stdout, want) || r.status != 0 {
			t.Errorf("gpu status: status %d, no %q in:\n%s%s", r.status, want, r.stdout, r.stderr)
		}
	}
	r = runIn(t, t.TempDir(), env, "", self, "gpu", "passthrough", "--vm", "linux")
	if r.status != 1 || !strings.Contains(r.stderr, "start vm linux") || !strings.Contains(r.stderr, "the host has its GPU and display back") {
		t.Errorf("gpu passthrough: status %d\n%s%s", r.status, r.stdout, r.stderr)
	}
	if after := sim.State(); after != before {
		t.Errorf("after a failed passthrough:\n%s\nwant:\n%s", after, before)
	}
	t.Logf("a passthrough whose VM does not start:\n%s", r.stderr)
}

// TestGPUDisplayUnitsSetting: [gpu] display_units in spirit.toml reaches
// the hand-over: on the nexus-hud host, the passthrough stops that unit
// (and the VM's refused start rolls it all back, the unit started again).
func TestGPUDisplayUnitsSetting(t *testing.T) {
	sim, env := simHost(t, "nexus-hud")
	before := sim.State()
	home := t.TempDir()
	conf := filepath.Join(home, "spirit", "spirit.toml")
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[gpu]\ndisplay_units = [\"nexus-hud.service\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runIn(t, t.TempDir(), append(env, "XDG_CONFIG_HOME="+home), "", os.Args[0], "gpu", "passthrough", "--vm", "linux")
	if r.status != 1 || !strings.Contains(r.stderr, "stop nexus-hud.service") || !strings.Contains(r.stderr, "the host has its GPU and display back") {
		t.Errorf("gpu passthrough: status %d\n%s%s", r.status, r.stdout, r.stderr)
	}
	if after := sim.State(); after != before {
		t.Errorf("after a failed passthrough:\n%s\nwant:\n%s", after, before)
	}
}

// TestGPUReclaimAfterACrash: spirit dies between two steps of a
// passthrough; `spirit gpu reclaim` puts the host back from the journal.
func TestGPUReclaimAfterACrash(t *testing.T) {
	sim, env := simHost(t, "amd-usbc")
	before := sim.State()
	self := os.Args[0]
	// Change 7 is after the display manager stopped, the session ended,
	// the console unbound, amdgpu unloaded and the GPU bound to vfio-pci
	// (which left no framebuffer, and so no fbcon console).
	r := runIn(t, t.TempDir(), append(env, simCrashEnv+"=7"), "", self, "gpu", "passthrough", "--vm", "linux")
	if r.status != 137 {
		t.Fatalf("the crashing passthrough: status %d\n%s", r.status, r.stderr)
	}
	if sim.State() == before {
		t.Fatal("the crash changed nothing")
	}
	r = runIn(t, t.TempDir(), env, "", self, "gpu", "status")
	if !strings.Contains(r.stdout, "a passthrough did not finish: spirit gpu reclaim") {
		t.Errorf("gpu status after the crash:\n%s%s", r.stdout, r.stderr)
	}
	r = runIn(t, t.TempDir(), env, "", self, "gpu", "passthrough", "--vm", "linux")
	if r.status != 1 || !strings.Contains(r.stderr, "did not finish") {
		t.Errorf("a passthrough after the crash: status %d %s", r.status, r.stderr)
	}
	r = runIn(t, t.TempDir(), env, "", self, "gpu", "reclaim")
	if r.status != 0 || !strings.Contains(r.stdout, "the host has its GPU and display back") {
		t.Errorf("gpu reclaim: status %d\n%s%s", r.status, r.stdout, r.stderr)
	}
	if after := sim.State(); after != before {
		t.Errorf("after reclaim:\n%s\nwant:\n%s", after, before)
	}
	t.Logf("reclaim after a crash:\n%s", r.stderr)
}

// TestGPUOnThisMachine runs the real spirit gpu against this machine's
// /sys, read-only: status says what is there, a passthrough with a bad
// address is refused before any file is read.
func TestGPUOnThisMachine(t *testing.T) {
	env := baseEnv(t)
	gpus, err := gpu.Host{Sys: gpu.Sys{Root: "/sys"}}.GPUs()
	if err != nil {
		t.Fatal(err)
	}
	r := runIn(t, t.TempDir(), env, "", spiritBin, "gpu", "status")
	if r.status != 0 || len(gpus) == 0 && !strings.Contains(r.stdout, "no GPU: this host has no PCI display controller") {
		t.Errorf("gpu status: status %d\n%s%s", r.status, r.stdout, r.stderr)
	}
	t.Logf("spirit gpu status here:\n%s", r.stdout)
	r = runIn(t, t.TempDir(), env, "", spiritBin, "gpu", "status", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != len(gpus) {
		t.Errorf("gpu status --json: %v, %d GPUs, want %d:\n%s", err, len(list), len(gpus), r.stdout)
	}
	for _, tc := range []struct{ addr, err string }{
		{"0000:01:00.0/../../x", `"0000:01:00.0/../../x" is not a PCI address`},
		{"01:00.0", `PCI address "01:00.0" has no domain: write 0000:01:00.0`},
		{"", "an empty PCI address"},
	} {
		r := runIn(t, t.TempDir(), env, "", spiritBin, "gpu", "passthrough", "--vm", "linux", "--gpu", tc.addr)
		if r.status != 1 || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("gpu passthrough --gpu %q: status %d %s, want %q", tc.addr, r.status, r.stderr, tc.err)
		}
	}
	r = runIn(t, t.TempDir(), env, "", spiritBin, "gpu", "reclaim")
	if r.status != 0 || !strings.Contains(r.stdout, "nothing to reclaim") {
		t.Errorf("gpu reclaim with nothing passed through: status %d %s%s", r.status, r.stdout, r.stderr)
	}
}
