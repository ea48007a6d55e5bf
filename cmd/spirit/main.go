// Command spirit is the shell of a virtualization host: one prompt for the
// host, its virtual machines and its containers. This file only wires the
// command line to package shell.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"spirit/shell"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() { os.Exit(run()) }

// run is the whole program; it returns the exit status, so that tests can
// register it (testscript.RunMain wants a func() int).
func run() int {
	return runArgs(context.Background(), os.Args)
}

func runArgs(ctx context.Context, argv []string) int {
	return runWith(ctx, argv, realHost)
}

// runWith is runArgs on the host parts given: tests give a simulator's.
// They are made only for a command that uses them.
func runWith(ctx context.Context, argv []string, parts func() hostParts) int {
	opts := shell.Options{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Env:    os.Environ(),
		Log:    logger(os.Stderr),
		// A login shell is started with argv[0] "-spirit".
		Login:   strings.HasPrefix(argv[0], "-"),
		Version: spiritVersion(),
		// The supervisor of a VM is this program again, detached.
		Supervise: []string{"/proc/self/exe", argv[0], "vm", "supervise", "--detach"},
	}
	if inv, ok, err := parseInvocation(argv[1:]); ok {
		if err != nil {
			fmt.Fprintf(os.Stderr, "spirit: %v\n", err)
			return 2
		}
		return runBash(opts, inv)
	}
	status := 0
	root := rootCmd(ctx, &opts, &status, parts)
	root.SetArgs(argv[1:])
	if err := root.Execute(); err != nil {
		// Only the command line itself fails here: status 2, as bash.
		fmt.Fprintf(os.Stderr, "spirit: %v\n", err)
		return 2
	}
	return status
}

func rootCmd(ctx context.Context, opts *shell.Options, status *int, parts func() hostParts) *cobra.Command {
	var command string
	var login bool
	root := &cobra.Command{
		Use:   "spirit [-l] [-c LINE [NAME [ARGS...]] | FILE [ARGS...]]",
		Short: "A login shell for a virtualization host: @target sends a command to a VM or container",
		Long: "spirit runs commands on the host, in virtual machines (@NAME) and in Docker\n" +
			"containers (@docker, @docker:NAME). With no argument it prompts when its\n" +
			"input is a terminal and reads commands from stdin otherwise.",
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Login = opts.Login || login
			switch {
			case cmd.Flags().Changed("command"):
				*status = shell.RunCommand(ctx, *opts, command, args)
			case len(args) > 0:
				*status = shell.RunScript(ctx, *opts, args[0], args[1:])
			default:
				*status = shell.RunInteractive(ctx, *opts)
			}
			return nil
		},
	}
	root.Flags().StringVarP(&command, "command", "c", "", "run LINE, as bash -c; NAME is $0, ARGS are $1...")
	root.Flags().BoolVarP(&login, "login", "l", false, "act as a login shell: read ~/.spiritrc first")
	// Everything after FILE (or after -c LINE) belongs to the script.
	root.Flags().SetInterspersed(false)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(versionCmd(), completionCmd(root), vmCmd(ctx, opts, status), gpuCmd(ctx, opts, status, parts))
	root.AddCommand(doctorCmd(ctx, opts, status), segmentCmd(ctx, opts, status))
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print spirit's version and the Go version it was built with",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "spirit %s (%s %s/%s)\n", spiritVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

func spiritVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

func completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a completion script for spirit's own command line",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
}

// logger is quiet unless SPIRIT_LOG names a level (debug, info, warn).
func logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("SPIRIT_LOG"))); err != nil || os.Getenv("SPIRIT_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
