package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"spirit/config"
	"spirit/gpu"
	"spirit/internal/tables"
	"spirit/shell"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// hostParts are the parts of the host that the GPU commands change: the
// real ones, or a simulator's in tests.
type hostParts struct {
	Host     gpu.Host
	Kernel   gpu.Kernel
	Units    gpu.Units
	Sessions gpu.Sessions
	Root     bool
	// DisplayUnits are [gpu] display_units (nil: the default).
	DisplayUnits []string
}

// realHost is this machine: /sys, /proc, its kernel, systemd, logind.
func realHost() hostParts {
	h := gpu.Host{Sys: gpu.Sys{Root: "/sys"}, Modules: gpu.KernelModules(), PCIIDs: gpu.PCIIDs, Proc: gpu.ProcFS{Root: "/proc"}}
	return hostParts{Host: h, Kernel: gpu.SysKernel{Sys: h.Sys, Modules: h.Modules}, Units: &gpu.Systemd{},
		Sessions: &gpu.Logind{}, Root: os.Geteuid() == 0}
}

// handover is the GPU handover of this user's VMs.
func (p hostParts) handover(m *vmctl.Manager, progress io.Writer, stopTimeout time.Duration) *gpu.Handover {
	return gpu.New(gpu.Options{Host: p.Host, Kernel: p.Kernel, Units: p.Units, Sessions: p.Sessions,
		VMs: managerVMs{m, p.DisplayUnits}, DisplayUnits: p.DisplayUnits,
		Dir: m.Places().GPUDir(), Progress: progress, StopTimeout: stopTimeout, Root: p.Root})
}

// exitHandover is the handover as a VM's exit hook uses it: the VM has
// ended, so it starts and stops no VM (VMExited stops none) and needs no
// manager, nor the configuration one is made from: the display units
// come from the VM's bootstrap.
func (p hostParts) exitHandover(dir string, units []string, progress io.Writer) *gpu.Handover {
	return gpu.New(gpu.Options{Host: p.Host, Kernel: p.Kernel, Units: p.Units, Dir: dir, Progress: progress,
		Root: p.Root, DisplayUnits: units})
}

// managerVMs start and stop VMs for the GPU handover.
type managerVMs struct {
	m     *vmctl.Manager
	units []string
}

func (v managerVMs) Start(ctx context.Context, vm string, functions []string) error {
	_, err := v.m.Start(ctx, vm, vmctl.StartOptions{GPU: functions, Fresh: true, GPUDisplayUnits: v.units})
	return err
}

func (v managerVMs) Check(_ context.Context, vm string) error { return v.m.CheckGPUROMs(vm) }

func (v managerVMs) Stop(ctx context.Context, vm string, timeout time.Duration) error {
	_, err := v.m.Stop(ctx, vm, timeout)
	return err
}

func (v managerVMs) Running(ctx context.Context, vm string) (bool, error) {
	st, err := v.m.Status(ctx, vm)
	if err != nil {
		return false, err
	}
	return st.State != control.StateStopped && st.State != control.StateSuspended, nil
}

// gpuCmd is `spirit gpu status|passthrough|reclaim`.
func gpuCmd(ctx context.Context, opts *shell.Options, status *int, parts func() hostParts) *cobra.Command {
	g := &cobra.Command{
		Use:   "gpu",
		Short: "Hand the host's GPU to a VM and back: status, passthrough, reclaim",
	}
	run := func(f func(cmd *cobra.Command, m *vmctl.Manager, parts hostParts) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := config.Load(config.Paths(opts.Env))
			if err == nil {
				p := parts()
				if len(cfg.GPU.DisplayUnits) > 0 {
					p.DisplayUnits = cfg.GPU.DisplayUnits
				}
				err = f(cmd, config.VMs(vmOptions(opts), cfg, nil), p)
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "spirit: %v\n", err)
				*status = 1
			}
			return nil
		}
	}
	g.AddCommand(gpuStatusCmd(run), gpuPassthroughCmd(ctx, run), gpuReclaimCmd(ctx, run))
	return g
}

type gpuRunFunc = func(f func(cmd *cobra.Command, m *vmctl.Manager, parts hostParts) error) func(*cobra.Command, []string) error

func gpuStatusCmd(run gpuRunFunc) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "status", Short: "Each GPU, its functions, drivers, IOMMU group, who holds it, and whether it can be passed through", Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, parts hostParts) error {
			gpus, err := parts.handover(m, nil, 0).Status()
			if err != nil {
				return err
			}
			if asJSON {
				return tables.JSON(cmd.OutOrStdout(), gpuJSON(gpus))
			}
			return gpu.WriteStatus(cmd.OutOrStdout(), gpus, parts.Host.Sys.IOMMUGroups())
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// gpuJSON adds what a reader of the JSON would otherwise compute.
func gpuJSON(gpus []gpu.GPU) any {
	type out struct {
		gpu.GPU
		Passable bool `json:"passable"`
	}
	list := make([]out, len(gpus))
	for i, g := range gpus {
		list[i] = out{g, g.Passable()}
	}
	return list
}

func gpuPassthroughCmd(ctx context.Context, run gpuRunFunc) *cobra.Command {
	var vm, addr string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "passthrough [--vm NAME] [--gpu DDDD:BB:DD.F]",
		Short: "Give the GPU to a VM: stop the display, bind vfio-pci, start the VM; any failure gives it all back",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, parts hostParts) error {
			if cmd.Flags().Changed("gpu") {
				if err := gpu.CheckAddr(addr); err != nil {
					return fmt.Errorf("gpu passthrough: %w", err)
				}
			}
			name, err := gpuVM(m, vm)
			if err != nil {
				return err
			}
			if st, err := m.Status(ctx, name); err != nil || st.State != control.StateStopped {
				return fmt.Errorf("gpu passthrough: %w", cmp.Or(err, notStopped(name, st.State)))
			}
			h := parts.handover(m, cmd.ErrOrStderr(), timeout)
			if err := h.Passthrough(ctx, name, addr); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "the GPU is passed through to vm %s; spirit gpu reclaim (or the VM's end) gives it back\n", name)
			return nil
		}),
	}
	c.Flags().StringVar(&vm, "vm", "", "the VM to start with the GPU (default: the one whose definition has gpu = [...])")
	c.Flags().StringVar(&addr, "gpu", "", "the GPU, when the host has several")
	c.Flags().DurationVar(&timeout, "timeout", control.DefaultStopTimeout, "how long the VM may take to power off when a failure stops it")
	return c
}

// gpuVM is the VM named, or the one whose definition passes a GPU
// through.
func gpuVM(m *vmctl.Manager, vm string) (string, error) {
	if vm != "" {
		_, err := m.Definition(vm)
		return vm, err
	}
	var with []string
	for _, n := range m.Names() {
		if d, err := m.Definition(n); err == nil && len(d.GPU) > 0 {
			with = append(with, n)
		}
	}
	switch len(with) {
	case 1:
		return with[0], nil
	case 0:
		return "", fmt.Errorf("gpu passthrough: no VM's definition has gpu = [...]: say which VM with --vm NAME (VMs: %s)", strings.Join(m.Names(), ", "))
	}
	slices.Sort(with)
	return "", fmt.Errorf("gpu passthrough: several VMs pass a GPU through (%s): say which with --vm NAME", strings.Join(with, ", "))
}

func gpuReclaimCmd(ctx context.Context, run gpuRunFunc) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "reclaim",
		Short: "Give the GPU back to the host: stop the VM, rebind the host's drivers, start the display manager",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, parts hostParts) error {
			did, err := parts.handover(m, cmd.ErrOrStderr(), timeout).Reclaim(ctx)
			if err != nil {
				return err
			}
			if !did {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to reclaim: no passthrough is recorded, the host has its GPU")
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "the host has its GPU and display back")
			return nil
		}),
	}
	c.Flags().DurationVar(&timeout, "timeout", control.DefaultStopTimeout, "how long the VM may take to power off before it is quit")
	return c
}

// notStopped says why a VM in state cannot take the GPU now: QEMU gets
// its vfio-pci devices when it starts, and a suspended VM's saved state
// has none.
func notStopped(vm, state string) error {
	if state == control.StateSuspended {
		return fmt.Errorf("vm %s is suspended, and its saved state has no GPU: spirit vm start %s, then spirit vm stop %s, or spirit vm start --fresh %s drops it", vm, vm, vm, vm)
	}
	return fmt.Errorf("vm %s is %s: the GPU is given to it as it starts (spirit vm stop %s first)", vm, state, vm)
}
