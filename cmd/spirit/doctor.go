package main

import (
	"context"
	"fmt"
	"os"
	"spirit/config"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"spirit/doctor"
	"spirit/gpu"
	"spirit/internal/envlist"
	"spirit/internal/tables"
	"spirit/shell"
	"spirit/vmctl"
)

// doctorCmd is `spirit doctor [--json]`: it checks this host and exits 1
// when a check fails (a warning does not).
func doctorCmd(ctx context.Context, opts *shell.Options, status *int) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the host as virt-host-validate does (KVM, IOMMU, vfio-pci, huge pages, OVMF, QEMU, dockerd) and say how to fix each",
		Long: "spirit doctor checks what spirit needs on this host and says how to fix what\n" +
			"is missing. It only looks: it writes nothing, loads no module, and starts\n" +
			"nothing but a tiny KVM test guest and qemu-system-x86_64 --version.\n" +
			"It exits 1 when a check fails; warnings (optional features) do not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := doctor.Run(ctx, doctorOptions(*opts))
			var err error
			if asJSON {
				err = tables.JSON(cmd.OutOrStdout(), rep)
			} else {
				err = doctor.Write(cmd.OutOrStdout(), rep, termWidth(cmd.OutOrStdout()))
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "spirit: doctor: %v\n", err)
				*status = 1
			}
			if rep.Failed {
				*status = 1
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// doctorOptions are this host's real files, and the VMs, QEMU and base
// directory that the vm commands use.
func doctorOptions(opts shell.Options) doctor.Options {
	o := doctor.Options{
		SysRoot:    "/sys",
		ProcRoot:   "/proc",
		KVM:        "/dev/kvm",
		DockerHost: envlist.Get(opts.Env, "DOCKER_HOST"),
		Modules:    gpu.KernelModules(),
		PCIIDs:     gpu.PCIIDs,
		UID:        os.Getuid(),
	}
	m, err := loadVMs(&opts)
	if err != nil {
		// The built-in VMs stand in, to check the rest with.
		o.VMsErr = err
		m = config.VMs(vmOptions(&opts), &config.Config{}, err)
	}
	o.QEMU, o.QEMUUser = m.QEMU(), m.QEMUUser()
	// As config.VMs finds them, for the error the manager keeps to itself.
	exe, _ := os.Executable()
	o.Places, o.PlacesErr = vmctl.PlacesFor(opts.Env, os.Getuid(), exe)
	o.Base = m.Env(doctor.DemoGuest).Base
	o.VMs = map[string]vmctl.Definition{}
	for _, name := range m.Names() {
		o.VMs[name], _ = m.Definition(name)
	}
	return o
}

// termWidth is the width of the terminal w is, or the doctor's default.
func termWidth(w any) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 40 {
			return width
		}
	}
	return doctor.DefaultWidth
}
