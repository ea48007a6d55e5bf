package gpu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"spirit/gpu"
	"spirit/gpu/gpusim"
)

// passable are the fixtures whose GPU can be passed through.
var passable = []string{"nvidia", "nvidia-efifb", "amd-usbc", "bridge", "nexus-hud"}

// displayUnits are the [gpu] display_units of the fixtures that set them.
var displayUnits = map[string][]string{"nexus-hud": {"nexus-hud.service"}}

// testTimeouts keep a wait that cannot end short.
var testTimeouts = gpu.Timeouts{Write: 300 * time.Millisecond, Users: 300 * time.Millisecond,
	Settle: 300 * time.Millisecond, Poll: 5 * time.Millisecond}

type host struct {
	sim *gpusim.Sim
	h   *gpu.Handover
	dir string
	log *bytes.Buffer
}

// newHost builds fixture name in a new tree, with a Handover on it.
func newHost(t *testing.T, name string) host {
	t.Helper()
	return buildHost(t, filepath.Join("testdata/hosts", name+".toml"), displayUnits[name])
}

func buildHost(t *testing.T, fixture string, units []string) host {
	t.Helper()
	root := t.TempDir()
	sim, err := gpusim.Build(root, fixture)
	if err != nil {
		t.Fatal(err)
	}
	return openHost(t, sim, filepath.Join(root, ".run"), units)
}

func openHost(t *testing.T, sim *gpusim.Sim, dir string, units []string) host {
	var log bytes.Buffer
	h := gpu.New(simOptions(sim, dir, units, &log))
	return host{sim: sim, h: h, dir: dir, log: &log}
}

func simOptions(sim *gpusim.Sim, dir string, units []string, progress io.Writer) gpu.Options {
	return gpu.Options{
		Host:   simHost(sim),
		Kernel: sim, Units: sim, Sessions: gpusim.Sessions{Sim: sim}, VMs: gpusim.VMs{Sim: sim},
		Dir: dir, Progress: progress, Root: true, DisplayUnits: units, Timeouts: testTimeouts,
	}
}

func simHost(sim *gpusim.Sim) gpu.Host {
	return gpu.Host{Sys: gpu.Sys{Root: sim.Root}, Modules: gpu.Modules{Dir: sim.ModulesDir(), Conf: []string{}},
		PCIIDs: []string{"testdata/pci.ids"}, Proc: gpu.ProcFS{Root: sim.ProcDir()}}
}

func (h host) journal() bool {
	_, err := os.Stat(filepath.Join(h.dir, "journal"))
	return err == nil
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		fixture, gpu, functions, problem, name string
		others                                 int
	}{
		{"nvidia", "0000:01:00.0", "0000:01:00.0 0000:01:00.1", "", "GA104 [GeForce RTX 3070]", 0},
		{"amd-usbc", "0000:0c:00.0", "0000:0c:00.0 0000:0c:00.1 0000:0c:00.2 0000:0c:00.3", "", "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", 0},
		{"bridge", "0000:02:00.0", "0000:02:00.0 0000:02:00.1", "", "", 1},
		{"no-iommu", "0000:01:00.0", "0000:01:00.0 0000:01:00.1", "the IOMMU is off", "GA104 [GeForce RTX 3070]", 0},
		{"amd-noreset", "0000:0c:00.0", "0000:0c:00.0 0000:0c:00.1 0000:0c:00.2 0000:0c:00.3", "an AMD 731f is one of the cards whose bus reset leaves it unusable", "Navi 10 [Radeon RX 5600 OEM/5600 XT / 5700/5700 XT]", 0},
		{"shared-group", "0000:03:00.0", "0000:03:00.0", "also holds 0000:00:17.0 (class 010601, on ahci)", "", 1},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			h := newHost(t, tc.fixture)
			gpus, err := h.h.Status()
			if err != nil {
				t.Fatal(err)
			}
			if len(gpus) != 1 {
				t.Fatalf("%d GPUs, want 1: %+v", len(gpus), gpus)
			}
			g := gpus[0]
			if g.Addr != tc.gpu || strings.Join(g.Addrs(), " ") != tc.functions || g.Name != tc.name || len(g.Others) != tc.others {
				t.Errorf("got %s %q functions %v others %v", g.Addr, g.Name, g.Addrs(), g.Others)
			}
			if got := strings.Join(g.Problems, "; "); (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q, want %q", got, tc.problem)
			}
		})
	}
}

func TestPassthroughThenReclaim(t *testing.T) {
	for _, fx := range passable {
		t.Run(fx, func(t *testing.T) {
			h := newHost(t, fx)
			before := h.sim.State()
			vfioBefore := h.sim.ModuleLoaded("vfio_pci")
			if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
				t.Fatalf("%v\n%s", err, h.log)
			}
			gpus, _ := h.h.Status()
			for _, f := range gpus[0].Addrs() {
				if d := h.sim.Driver(f); d != "vfio-pci" {
					t.Errorf("%s on %s after passthrough", f, d)
				}
			}
			if gpus[0].HeldBy != "win" || h.sim.UnitActive("display-manager.service") || h.sim.UnitActive("nexus-hud.service") {
				t.Errorf("held by %q, display units active %v %v", gpus[0].HeldBy, h.sim.UnitActive("display-manager.service"), h.sim.UnitActive("nexus-hud.service"))
			}
			if p := h.sim.Param("vfio_pci", "disable_idle_d3"); !vfioBefore && p != "Y" {
				t.Errorf("vfio-pci loaded with disable_idle_d3=%s, want Y", p)
			}
			if on, _ := (gpusim.VMs{Sim: h.sim}).Running(t.Context(), "win"); !on {
				t.Error("the VM does not run")
			}
			if err := h.h.Passthrough(t.Context(), "win", ""); !heldBy(err, "win") {
				t.Errorf("a second passthrough: %v, want a *gpu.HeldError naming vm win", err)
			}
			did, err := h.h.Reclaim(t.Context())
			if err != nil || !did {
				t.Fatalf("reclaim: %v %v\n%s", did, err, h.log)
			}
			if after := h.sim.State(); after != before {
				t.Errorf("after reclaim:\n%s\nwant:\n%s", after, before)
			}
			if h.journal() {
				t.Error("the journal is left")
			}
			if did, err := h.h.Reclaim(t.Context()); did || err != nil {
				t.Errorf("a second reclaim: %v %v", did, err)
			}
		})
	}
}

func TestPassthroughRefused(t *testing.T) {
	for _, tc := range []struct {
		fixture, addr string
		err           any    // an error for errors.Is, or a pointer for errors.As
		problem       string // a problem of the GPU that the refusal lists
	}{
		{"no-iommu", "", gpu.ErrIOMMUOff, ""},
		{"shared-group", "", gpu.ErrNotPassable, "also holds 0000:00:17.0"},
		{"nvidia", "0000:01:00.0/../../x", new(*gpu.AddressError), ""},
		{"nvidia", "01:00.0", new(*gpu.AddressError), ""},
		{"nvidia", "0000:00:1f.3", gpu.ErrNotGPU, ""},
		{"amd-noreset", "", gpu.ErrNoReset, "install vendor-reset (github.com/gnif/vendor-reset), load it (modprobe vendor-reset), and make it the card's reset: echo device_specific > /sys/bus/pci/devices/0000:0c:00.0/reset_method"},
		{"nvidia", "0000:09:00.0", gpu.ErrNotGPU, ""},
	} {
		t.Run(tc.fixture+tc.addr, func(t *testing.T) {
			h := newHost(t, tc.fixture)
			before := h.sim.State()
			err := h.h.Passthrough(t.Context(), "win", tc.addr)
			if !matches(err, tc.err) {
				t.Fatalf("passthrough %q: %v, not the refusal wanted", tc.addr, err)
			}
			// The user reads in it what to fix.
			if !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("passthrough %q: %v, want it to say %q", tc.addr, err, tc.problem)
			}
			if h.sim.Ops() != 0 || h.sim.State() != before || h.journal() {
				t.Errorf("%d changes made, journal %v", h.sim.Ops(), h.journal())
			}
		})
	}
	t.Run("the VM's ROM file", func(t *testing.T) {
		h := newHost(t, "nvidia")
		h.sim.VMCheck = errors.New("vm win: the ROM of 0000:01:00.0: open /x.rom: no such file or directory")
		if err := h.h.Passthrough(t.Context(), "win", ""); err == nil || !strings.Contains(err.Error(), "/x.rom") || h.sim.Ops() != 0 {
			t.Errorf("passthrough with a bad ROM: %v, %d changes", err, h.sim.Ops())
		}
	})
	t.Run("not root", func(t *testing.T) {
		h := newHost(t, "nvidia")
		o := simOptions(h.sim, h.dir, nil, nil)
		o.Root = false
		h.h = gpu.New(o)
		if err := h.h.Passthrough(t.Context(), "win", ""); !errors.Is(err, gpu.ErrNeedsRoot) || h.sim.Ops() != 0 {
			t.Errorf("passthrough as a user: %v, %d changes", err, h.sim.Ops())
		}
	})
}

// changes counts the steps and the simulator's changes of a passthrough
// that works.
func changes(t *testing.T, fx string) (steps, ops int) {
	h := newHost(t, fx)
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatal(err)
	}
	return strings.Count(h.log.String(), "\n"), h.sim.Ops()
}

func TestFailureAtEveryStep(t *testing.T) {
	for _, fx := range passable {
		t.Run(fx, func(t *testing.T) {
			k, ops := changes(t, fx)
			for i := 1; i <= ops; i++ {
				h := newHost(t, fx)
				before := h.sim.State()
				h.sim.FailAt = i
				err := h.h.Passthrough(t.Context(), "win", "")
				if !errors.Is(err, gpusim.ErrInjected) || !strings.Contains(err.Error(), "the host has its GPU and display back") {
					t.Fatalf("failure at change %d: %v\n%s", i, err, h.log)
				}
				if after := h.sim.State(); after != before || h.journal() {
					t.Fatalf("failure at change %d: journal left %v; state:\n%s\nwant:\n%s\n%s", i, h.journal(), after, before, h.log)
				}
			}
			t.Logf("%s: a failure injected at each of the %d changes (%d of %d steps): %d of %d rolled back to the drivers, parameters and display units found, with a display", fx, ops, k, k, ops, ops)
		})
	}
}

// crashEnv makes the test binary a passthrough that dies before the
// simulator's change number N: TestMain runs it.
const crashEnv = "GPUSIM_CRASH"

func TestMain(m *testing.M) {
	if v := os.Getenv(crashEnv); v != "" {
		os.Exit(crashChild(v))
	}
	os.Exit(m.Run())
}

// crashChild runs a passthrough on the tree in $GPUSIM_ROOT and exits
// with 3 before change n, as a crash of spirit would.
func crashChild(v string) int {
	n, _ := strconv.Atoi(v)
	sim, err := gpusim.Open(os.Getenv("GPUSIM_ROOT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sim.Before = func(i int, what string) {
		if i == n {
			os.Exit(3)
		}
	}
	var units []string // nil: the default
	if u := os.Getenv("GPUSIM_UNITS"); u != "" {
		units = strings.Fields(u)
	}
	h := gpu.New(simOptions(sim, filepath.Join(sim.Root, ".run"), units, nil))
	if err := h.Passthrough(context.Background(), "win", ""); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestCrashThenReclaim(t *testing.T) {
	for _, fx := range passable {
		t.Run(fx, func(t *testing.T) {
			_, ops := changes(t, fx)
			for i := 2; i <= ops; i++ {
				h := newHost(t, fx)
				before := h.sim.State()
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), crashEnv+"="+strconv.Itoa(i), "GPUSIM_ROOT="+h.sim.Root,
					"GPUSIM_UNITS="+strings.Join(displayUnits[fx], " "))
				out, err := cmd.CombinedOutput()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
					t.Fatalf("crash before change %d: %v %s", i, err, out)
				}
				if !h.journal() {
					t.Fatalf("crash before change %d left no journal", i)
				}
				if err := h.h.Passthrough(t.Context(), "win", ""); !errors.Is(err, gpu.ErrUnfinished) {
					t.Fatalf("a passthrough after a crash: %v", err)
				}
				did, err := h.h.Reclaim(t.Context())
				if err != nil || !did {
					t.Fatalf("reclaim after a crash before change %d: %v %v\n%s", i, did, err, h.log)
				}
				if after := h.sim.State(); after != before || h.journal() {
					t.Fatalf("reclaim after a crash before change %d: journal %v; state:\n%s\nwant:\n%s", i, h.journal(), after, before)
				}
			}
		})
	}
}

func TestVMExitGivesTheGPUBack(t *testing.T) {
	h := newHost(t, "nvidia")
	before := h.sim.State()
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.h.VMExited(t.Context(), "other"); err != nil || !h.journal() {
		t.Fatalf("another VM's exit: %v, journal %v", err, h.journal())
	}
	// The VM crashed: QEMU is gone, its supervisor runs the hook.
	if err := (gpusim.VMs{Sim: h.sim}).Stop(t.Context(), "win", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.h.VMExited(t.Context(), "win"); err != nil {
		t.Fatal(err)
	}
	if after := h.sim.State(); after != before || h.journal() {
		t.Errorf("after the VM's exit: journal %v\n%s\nwant:\n%s", h.journal(), after, before)
	}
}

// TestOneOperationAtATime: two passthroughs at once, as from two
// shells: the lock lets one through; the other then finds the GPU taken.
func TestOneOperationAtATime(t *testing.T) {
	a := newHost(t, "nvidia")
	sim2, err := gpusim.Open(a.sim.Root)
	if err != nil {
		t.Fatal(err)
	}
	b := openHost(t, sim2, a.dir, nil)
	errs := make(chan error, 2)
	for _, h := range []host{a, b} {
		go func() { errs <- h.h.Passthrough(context.Background(), "win", "") }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("two passthroughs at once: %v and %v, want one to work", e1, e2)
	}
	if err := cmpNil(e1, e2); !heldBy(err, "win") {
		t.Errorf("the second passthrough: %v, want a *gpu.HeldError naming vm win", err)
	}
}

// matches is errors.Is when want is an error, errors.As when it is a
// pointer to an error type.
func matches(err error, want any) bool {
	if target, ok := want.(error); ok {
		return errors.Is(err, target)
	}
	return errors.As(err, want)
}

// heldBy says whether err refuses a passthrough because vm holds the GPU.
func heldBy(err error, vm string) bool {
	var held *gpu.HeldError
	return errors.As(err, &held) && held.VM == vm
}

func cmpNil(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
