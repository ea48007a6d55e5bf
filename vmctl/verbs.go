package vmctl

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"spirit/internal/tables"
	"spirit/vmctl/control"
)

// Op is one operation on a VM: the one entry that both `spirit vm VERB
// NAME ARGS` (cmd/spirit) and the control word `@NAME --VERB ARGS`
// (Manager.Control) are made from, with the same help, options, parsing
// and errors. A new operation is a new entry of Ops (and, for a new
// request, the supervisor's handler).
type Op struct {
	// Verb is the subcommand; "--"+Verb the control word.
	Verb string
	// Args are the arguments after the VM's name, for the usage; Hint
	// follows them in a usage error. Use, when set, is the command
	// line's usage after the verb, where its words differ.
	Args, Hint, Use string
	// NameAt is where the command line has the VM's name among the
	// arguments: first, but after a snapshot's action.
	NameAt int
	// Short is the help text.
	Short string
	// Min and Max bound the number of Args.
	Min, Max int
	// Options defines the options on fs; with cli, those of the command
	// line alone too (--json, --dry-run, --wait: a control word prints
	// for a reader, and its shell waits for the agent on first use).
	Options func(fs *pflag.FlagSet, cli bool)
	// Run carries the operation out, once Options are parsed and Args
	// counted.
	Run func(ctx context.Context, c *Call) error
}

// Call is one use of an Op on a VM.
type Call struct {
	M    *Manager
	Name string
	Args []string
	// Stdout gets the operation's report; Stderr its notes (a control
	// word has none: io.Discard).
	Stdout, Stderr io.Writer
	// ResetAgent drops a shell's connection to the guest's agent, for an
	// operation after which the agent is not as it was (a stop, a
	// snapshot load); nil on the command line.
	ResetAgent func()
}

// say prints an operation's message, even with its error.
func (c *Call) say(msg string, err error) error {
	if msg != "" {
		fmt.Fprintln(c.Stdout, msg)
	}
	return err
}

func (c *Call) resetAgent() {
	if c.ResetAgent != nil {
		c.ResetAgent()
	}
}

// Ops are the operations on a VM, in the order of the control words.
// Each call makes them anew: their options are bound to variables of
// that call.
func Ops() []*Op {
	return []*Op{startOp(), stopOp(),
		messageOp("kill", "End QEMU at once, as pulling the plug", true, (*Manager).Kill),
		messageOp("pause", "Stop the guest's vCPUs (QMP stop)", false, (*Manager).Pause),
		messageOp("resume", "Run a paused guest again (QMP cont)", false, (*Manager).Resume),
		statusOp(), snapshotOp(),
		messageOp("suspend", "Save the guest's RAM to a file and end QEMU; the next start resumes it", true, (*Manager).Suspend),
		balloonOp(),
	}
}

// messageOp is an operation with no arguments that a supervisor answers
// with a message; resets says it leaves the guest's agent gone.
func messageOp(verb, short string, resets bool, f func(*Manager, context.Context, string) (string, error)) *Op {
	return &Op{Verb: verb, Short: short, Run: func(ctx context.Context, c *Call) error {
		if resets {
			c.resetAgent()
		}
		return c.say(f(c.M, ctx, c.Name))
	}}
}

func startOp() *Op {
	var dryRun, fresh, wait bool
	return &Op{
		Verb: "start", Short: "Start a VM under a supervisor of its own (it outlives this shell)",
		Options: func(fs *pflag.FlagSet, cli bool) {
			if cli {
				boolOption(fs, &dryRun, "dry-run", "check the definition and print the QEMU command line; start nothing")
			}
			boolOption(fs, &fresh, "fresh", "boot anew, dropping a suspended state")
			if cli {
				boolOption(fs, &wait, "wait", "wait until the guest's agent answers")
			}
		},
		Run: func(ctx context.Context, c *Call) error {
			so := StartOptions{Fresh: fresh}
			if dryRun {
				b, err := c.M.Plan(ctx, c.Name, so)
				if err != nil {
					return err
				}
				return WritePlan(c.Stdout, c.Stderr, b)
			}
			start := time.Now()
			st, err := c.M.Start(ctx, c.Name, so)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, StartMessage(st))
			for _, n := range st.Notes {
				fmt.Fprintf(c.Stderr, "spirit: note: %s\n", n)
			}
			if !wait {
				return nil
			}
			if _, err := c.M.WaitAgent(ctx, c.Name); err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "vm %s: its agent answered after %.1f s\n", c.Name, time.Since(start).Seconds())
			return nil
		},
	}
}

func stopOp() *Op {
	timeout := control.DefaultStopTimeout
	return &Op{
		Verb: "stop", Short: "Power the guest off (ACPI), then make QEMU quit after --timeout",
		Options: func(fs *pflag.FlagSet, _ bool) {
			durationOption(fs, &timeout, "timeout", "how long the guest has to power off")
		},
		Run: func(ctx context.Context, c *Call) error {
			c.resetAgent()
			return c.say(c.M.Stop(ctx, c.Name, timeout))
		},
	}
}

func statusOp() *Op {
	var asJSON bool
	return &Op{
		Verb: "status", Short: "Show a VM's state, agent, balloon and pinning",
		Options: func(fs *pflag.FlagSet, cli bool) {
			if cli {
				boolOption(fs, &asJSON, "json", "print JSON")
			}
		},
		Run: func(ctx context.Context, c *Call) error {
			d, err := c.M.Definition(c.Name)
			if err != nil {
				return err
			}
			st, err := c.M.Status(ctx, c.Name)
			if err != nil {
				return err
			}
			if asJSON {
				return tables.JSON(c.Stdout, st)
			}
			return WriteStatus(c.Stdout, d, st)
		},
	}
}

func snapshotOp() *Op {
	return &Op{
		Verb: "snapshot", Args: "save|load|list|delete [NAME]", Use: "save|load|list|delete NAME [SNAPSHOT]", NameAt: 1,
		Short: "Internal snapshots of a VM's disks and RAM", Min: 1, Max: 2,
		Run: func(ctx context.Context, c *Call) error {
			action := c.Args[0]
			tag := ""
			if len(c.Args) == 2 {
				tag = c.Args[1]
			}
			rep, err := c.M.Snapshot(ctx, c.Name, action, tag)
			if err != nil {
				return err
			}
			if action == "load" {
				c.resetAgent() // the guest's agent is as it was at the save
			}
			if action == "list" {
				return WriteSnapshots(c.Stdout, rep.Snapshots)
			}
			return c.say(rep.Message, nil)
		},
	}
}

func balloonOp() *Op {
	return &Op{
		Verb: "balloon", Args: "SIZE", Hint: "(e.g. 2G, 512M)",
		Short: "Set the guest's memory through its balloon (e.g. 2G, 512M)", Min: 1, Max: 1,
		Run: func(ctx context.Context, c *Call) error {
			return c.say(c.M.Balloon(ctx, c.Name, c.Args[0]))
		},
	}
}
