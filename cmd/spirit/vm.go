package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"spirit/internal/tables"
	"spirit/shell"
	"spirit/vmctl"
)

// vmCmd is `spirit vm ...`: each subcommand loads the VMs' definitions
// and talks to the VM's supervisor; those that are operations on one VM
// are made from vmctl.Ops, as the control words are. Errors are reported
// here with status 1; mistakes in the command line (a wrong number of
// arguments, a bad option) give 2.
func vmCmd(ctx context.Context, opts *shell.Options, status *int) *cobra.Command {
	vm := &cobra.Command{
		Use:   "vm",
		Short: "Manage the virtual machines: list, start, stop, pause, snapshots, ...",
	}
	// run wraps a subcommand's work with the manager and the reporting.
	run := func(f func(cmd *cobra.Command, m *vmctl.Manager, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			m, err := loadVMs(opts)
			if err == nil {
				err = f(cmd, m, args)
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "spirit: %v\n", err)
				*status = 1
			}
			return nil
		}
	}
	defer completeNames(vm, *opts)
	vm.AddCommand(vmListCmd(ctx, run))
	for _, op := range vmctl.Ops() {
		vm.AddCommand(vmOpCmd(ctx, op, run))
	}
	vm.AddCommand(
		&cobra.Command{
			Use: "console NAME", Short: "Attach to the guest's serial console (Ctrl-] leaves)", Args: cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
				return m.Console(ctx, args[0], opts.Stdin, opts.Stdout)
			}),
		},
		superviseCmd(opts, status),
	)
	return vm
}

// vmOpCmd is `spirit vm VERB` made from the table's entry op: its usage,
// help, options and their errors are those of the control word
// `@NAME --VERB`.
func vmOpCmd(ctx context.Context, op *vmctl.Op, run runFunc) *cobra.Command {
	c := &cobra.Command{
		Use: op.CLIUse(), Short: op.Short,
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
			name, rest, _ := op.CLIArgs(args, nil)
			return op.Run(ctx, &vmctl.Call{M: m, Name: name, Args: rest, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
		}),
	}
	if op.Options != nil {
		op.Options(c.Flags(), true)
	}
	usage := func() error { return op.CLIUsage(c.LocalNonPersistentFlags()) }
	c.Args = func(_ *cobra.Command, args []string) error {
		_, _, err := op.CLIArgs(args, usage())
		return err
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return op.FlagError(err, usage()) })
	return c
}

type runFunc = func(f func(cmd *cobra.Command, m *vmctl.Manager, args []string) error) func(*cobra.Command, []string) error

func vmListCmd(ctx context.Context, run runFunc) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "list", Short: "List the VMs defined and their state", Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, _ []string) error {
			list, err := m.List(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return tables.JSON(cmd.OutOrStdout(), list)
			}
			defs := map[string]vmctl.Definition{}
			for _, n := range m.Names() {
				defs[n], _ = m.Definition(n)
			}
			return vmctl.WriteList(cmd.OutOrStdout(), defs, list)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// superviseCmd is the supervisor itself, which Manager.Start runs with
// the VM's runtime directory (where its bootstrap file is). With --detach
// it starts the real one in a session of its own and returns at once, so
// that the starter can wait for it and leave no zombie.
func superviseCmd(opts *shell.Options, status *int) *cobra.Command {
	var detach bool
	c := &cobra.Command{
		Use: "supervise DIR", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if detach {
				err = detachSupervisor(args[0])
			} else {
				err = runSupervisor(args[0], opts.Version)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "spirit: supervise %s: %v\n", args[0], err)
				*status = 1
			}
			return nil
		},
	}
	c.Flags().BoolVar(&detach, "detach", false, "start the supervisor detached and return")
	return c
}

// completeNames completes the NAME of each vm subcommand with the VMs
// defined (cobra's completion of spirit's own command line).
func completeNames(vm *cobra.Command, opts shell.Options) {
	names := func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		first := 0
		if cmd.Name() == "snapshot" {
			if len(args) == 0 {
				return []string{"save", "load", "list", "delete"}, cobra.ShellCompDirectiveNoFileComp
			}
			first = 1
		}
		if len(args) != first {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		m, err := loadVMs(&opts)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return m.Names(), cobra.ShellCompDirectiveNoFileComp
	}
	for _, c := range vm.Commands() {
		if strings.Contains(c.Use, "NAME") {
			c.ValidArgsFunction = names
		}
	}
}
