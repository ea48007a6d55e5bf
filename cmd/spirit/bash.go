package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"spirit/router/standin"
	"spirit/shell"
)

// runBash plans the command or script of inv and becomes bash.
func runBash(opts shell.Options, inv invocation) int {
	opts.BashFlags = inv.flags
	opts.Login = opts.Login || inv.login
	var b *shell.Bash
	var status int
	if inv.command {
		b, status = shell.PrepareCommand(opts, inv.line, inv.rest)
	} else {
		b, status = shell.PrepareScript(opts, inv.file, inv.rest)
	}
	if b == nil {
		return status
	}
	err := b.Exec()
	fmt.Fprintf(os.Stderr, "spirit: start bash: %v\n", err)
	return 126
}

// segmentCmd is the stand-in for a remote segment in bash's jobs (see
// package standin). bash's planned text calls it; users do not.
func segmentCmd(ctx context.Context, opts *shell.Options, status *int) *cobra.Command {
	return &cobra.Command{
		Use:                "segment " + standin.Usage,
		Short:              "Run one remote segment of a planned line (called by bash, not by users)",
		Hidden:             true,
		DisableFlagParsing: true,
		Run: func(cmd *cobra.Command, args []string) {
			msgs := standin.NewLineWriter(os.Stderr)
			targets := shell.NewTargets(*opts, msgs, msgs)
			defer targets.Close()
			*status = standin.Run(ctx, standin.Options{
				Targets:  targets,
				Stdin:    os.Stdin,
				Stdout:   os.Stdout,
				Stderr:   os.Stderr,
				Messages: msgs,
				Log:      opts.Log,
			}, args)
		},
	}
}
