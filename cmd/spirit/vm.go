package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"spirit/shell"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// vmCmd is `spirit vm ...`: each subcommand loads the VMs' definitions
// and talks to the VM's supervisor. Errors are reported here with status
// 1; cobra's own (a wrong number of arguments) give 2.
func vmCmd(ctx context.Context, opts *shell.Options, status *int) *cobra.Command {
	vm := &cobra.Command{
		Use:   "vm",
		Short: "Manage the virtual machines: list, start, stop, pause, snapshots, ...",
	}
	// run wraps a subcommand's work with the manager and the reporting.
	run := func(f func(cmd *cobra.Command, m *vmctl.Manager, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			m, err := shell.LoadVMs(*opts)
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
	say := func(cmd *cobra.Command, msg string, err error) error {
		if msg != "" {
			fmt.Fprintln(cmd.OutOrStdout(), msg)
		}
		return err
	}
	one := func(use, short string, f func(m *vmctl.Manager, ctx context.Context, name string) (string, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
				msg, err := f(m, ctx, args[0])
				return say(cmd, msg, err)
			}),
		}
	}
	defer completeNames(vm, *opts)
	vm.AddCommand(
		vmListCmd(ctx, run),
		vmStartCmd(ctx, run),
		vmStopCmd(ctx, run, say),
		one("kill", "End QEMU at once, as pulling the plug", (*vmctl.Manager).Kill),
		one("pause", "Stop the guest's vCPUs (QMP stop)", (*vmctl.Manager).Pause),
		one("resume", "Run a paused guest again (QMP cont)", (*vmctl.Manager).Resume),
		one("suspend", "Save the guest's RAM to a file and end QEMU; the next start resumes it", (*vmctl.Manager).Suspend),
		vmStatusCmd(ctx, run),
		vmSnapshotCmd(ctx, run, say),
		&cobra.Command{
			Use: "balloon NAME SIZE", Short: "Set the guest's memory through its balloon (e.g. 2G, 512M)", Args: cobra.ExactArgs(2),
			RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
				msg, err := m.Balloon(ctx, args[0], args[1])
				return say(cmd, msg, err)
			}),
		},
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
				return writeJSON(cmd.OutOrStdout(), list)
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

func vmStatusCmd(ctx context.Context, run runFunc) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: "status NAME", Short: "Show a VM's state, agent, balloon and pinning", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
			d, err := m.Definition(args[0])
			if err != nil {
				return err
			}
			st, err := m.Status(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			return vmctl.WriteStatus(cmd.OutOrStdout(), d, st)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func vmStartCmd(ctx context.Context, run runFunc) *cobra.Command {
	var dryRun, fresh, wait bool
	c := &cobra.Command{
		Use: "start NAME", Short: "Start a VM under a supervisor of its own (it outlives this shell)", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
			so := vmctl.StartOptions{Fresh: fresh}
			if dryRun {
				b, err := m.Plan(ctx, args[0], so)
				if err != nil {
					return err
				}
				return writePlan(cmd.OutOrStdout(), cmd.ErrOrStderr(), b)
			}
			start := time.Now()
			st, err := m.Start(ctx, args[0], so)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), vmctl.StartMessage(st))
			for _, n := range st.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "spirit: note: %s\n", n)
			}
			if !wait {
				return nil
			}
			if _, err := m.WaitAgent(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vm %s: its agent answered after %.1f s\n", args[0], time.Since(start).Seconds())
			return nil
		}),
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "check the definition and print the QEMU command line; start nothing")
	c.Flags().BoolVar(&fresh, "fresh", false, "boot anew, dropping a suspended state")
	c.Flags().BoolVar(&wait, "wait", false, "wait until the guest's agent answers")
	return c
}

// writePlan prints the command line, one option a line as a shell
// would take it, and the notes on stderr.
func writePlan(out, errw io.Writer, b vmctl.Bootstrap) error {
	for _, n := range b.Notes {
		fmt.Fprintf(errw, "spirit: note: %s\n", n)
	}
	if b.Incoming != "" {
		fmt.Fprintf(errw, "spirit: note: resumes from %s (--fresh boots anew)\n", b.Incoming)
	}
	var lines []string
	line := shellQuote(b.QEMU)
	for _, a := range b.Args {
		if strings.HasPrefix(a, "-") {
			lines = append(lines, line)
			line = "  " + a
			continue
		}
		line += " " + shellQuote(a)
	}
	lines = append(lines, line)
	_, err := fmt.Fprintln(out, strings.Join(lines, " \\\n"))
	return err
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,.:/+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func vmStopCmd(ctx context.Context, run runFunc, say func(*cobra.Command, string, error) error) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use: "stop NAME", Short: "Power the guest off (ACPI), then make QEMU quit after --timeout", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
			msg, err := m.Stop(ctx, args[0], timeout)
			return say(cmd, msg, err)
		}),
	}
	c.Flags().DurationVar(&timeout, "timeout", control.DefaultStopTimeout, "how long the guest has to power off")
	return c
}

func vmSnapshotCmd(ctx context.Context, run runFunc, say func(*cobra.Command, string, error) error) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot save|load|list|delete NAME [SNAPSHOT]",
		Short: "Internal snapshots of a VM's disks and RAM",
		Args:  cobra.RangeArgs(2, 3),
		RunE: run(func(cmd *cobra.Command, m *vmctl.Manager, args []string) error {
			tag := ""
			if len(args) == 3 {
				tag = args[2]
			}
			rep, err := m.Snapshot(ctx, args[1], args[0], tag)
			if err != nil {
				return err
			}
			if args[0] == "list" {
				return vmctl.WriteSnapshots(cmd.OutOrStdout(), rep.Snapshots)
			}
			return say(cmd, rep.Message, nil)
		}),
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// superviseCmd is the supervisor itself, which Manager.Start runs. With
// --detach it starts the real one in a session of its own and returns
// at once, so that the starter can wait for it and leave no zombie.
func superviseCmd(opts *shell.Options, status *int) *cobra.Command {
	var detach bool
	c := &cobra.Command{
		Use: "supervise NAME", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if detach {
				err = detachSupervisor(args[0])
			} else {
				err = runSupervisor(*opts, args[0])
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
		m, err := shell.LoadVMs(opts)
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
