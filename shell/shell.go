// Package shell is spirit's front end: the interactive prompt (go-prompt,
// with completion, history, continuation lines and a lipgloss prompt) and
// the other ways of feeding it commands (-c LINE, a script file, commands
// on stdin). It reads the configuration (config), builds the registry of
// target kinds (kinds), and hands each line, planned by the router, to a
// persistent real bash (hostbash) that runs the host's part. It does not
// parse the line language (that is the router) and knows no target's
// protocol (those are agents and vmctl).
package shell

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"spirit/config"
	"spirit/internal/envlist"

	"golang.org/x/term"

	"spirit/kinds"
	"spirit/router"
	"spirit/target"
	"spirit/vmctl"
)

// Options are what a shell runs with; cmd/spirit passes the process's own.
type Options struct {
	Stdin, Stdout, Stderr *os.File
	Env                   []string // NAME=value, e.g. os.Environ()
	Log                   *slog.Logger
	// Login makes the shell a login shell (spirit -l, or argv[0] starting
	// with '-'): it reads ~/.spiritrc even when it does not prompt.
	Login bool
	// Version is spirit's, told to the agents at the handshake.
	Version string
	// Supervise is the command that starts a VM's supervisor (see
	// vmctl.ManagerOptions).
	Supervise []string
	// BashFlags are the options given before -c or FILE that bash takes
	// (-e, -x, -o pipefail, +o braceexpand, -O extglob).
	BashFlags []string
}

// shell is one session with its targets.
type shell struct {
	opts    Options
	log     *slog.Logger
	plan    planner
	targets *target.Registry
	vms     *vmctl.Manager // for the prompt's VM states
}

// newShell reads the configuration and makes the session. A bad
// configuration is reported and left out: a login shell that refused to
// start over a typo would lock its user out.
func newShell(o Options) (*shell, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, path, err := config.Load(config.Paths(o.Env))
	if err != nil {
		fmt.Fprintf(errOut(o), "spirit: %v\nspirit: going on without this configuration file\n", err)
	} else if path != "" {
		log.Debug("configuration", "path", path)
	}
	vms := config.VMs(config.VMOptions{
		Env:       o.Env,
		Supervise: o.Supervise,
		Version:   o.Version,
		Progress:  errOut(o),
		Log:       o.Log,
	}, cfg, err)
	targets := kinds.New(kinds.Deps{
		Config:      cfg,
		AgentBinary: agentBinary(),
		VMs:         vms,
		Version:     o.Version,
		Log:         log,
	})
	self, err := os.Executable()
	if err != nil {
		_ = targets.Close()
		return nil, fmt.Errorf("find spirit's own binary: %w", err)
	}
	plan := router.NewPlanner(router.PlannerOptions{Targets: targets, Default: target.Host, Self: self})
	return &shell{opts: o, log: log, plan: plan, targets: targets, vms: vms}, nil
}

func (s *shell) close() {
	if err := s.targets.Close(); err != nil {
		s.log.Debug("close the targets' connections", "err", err)
	}
}

func errOut(o Options) io.Writer {
	if o.Stderr == nil {
		return io.Discard
	}
	return o.Stderr
}

// RunCommand runs LINE as bash -c does: args[0], when given, is $0 and the
// rest are $1.... It returns the exit status. bash runs as a child;
// cmd/spirit execs it instead (PrepareCommand, Bash.Exec).
func RunCommand(ctx context.Context, o Options, line string, args []string) int {
	b, status := PrepareCommand(o, line, args)
	if b == nil {
		return status
	}
	return b.Run(ctx, o)
}

// RunScript runs the file at path with args as $1...; a "#!" first line is
// a comment like any other. The whole file is checked (syntax and every
// @target) before any of it runs.
func RunScript(ctx context.Context, o Options, path string, args []string) int {
	b, status := PrepareScript(o, path, args)
	if b == nil {
		return status
	}
	return b.Run(ctx, o)
}

// RunInteractive is spirit with no command: a prompt when stdin is a
// terminal (and stdout or stderr is one to draw it on), otherwise commands
// read from stdin, line by line, with no prompt.
//
// Which files are read first, as bash does with its own: an interactive
// shell reads ~/.spiritrc (as bash reads ~/.bashrc); a login shell reads
// it too, whether or not it prompts (as bash reads ~/.profile), so a
// remote command given to a login shell sees the same setup. A shell that
// only reads commands from stdin reads none.
func RunInteractive(ctx context.Context, o Options) int {
	ctx, sig, stop := catchSignals(ctx, termSignals()...)
	defer stop()
	defer neverStopped()()
	s, err := newShell(o)
	if err != nil {
		fmt.Fprintf(errOut(o), "spirit: %v\n", err)
		return 1
	}
	defer s.close()
	var status int
	if isInteractive(o) {
		status = s.interactive(ctx, sig)
	} else {
		status = s.fromStdin(ctx, sig)
	}
	if n := sig.status(); n != 0 {
		return n
	}
	return status
}

// isInteractive is bash's rule: stdin is a terminal, and so is stderr (or
// here stdout, where go-prompt draws by default).
func isInteractive(o Options) bool {
	if o.Stdin == nil || !term.IsTerminal(int(o.Stdin.Fd())) {
		return false
	}
	return isTerminal(o.Stdout) || isTerminal(o.Stderr)
}

func isTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// getenv looks a variable up in a NAME=value list.
func getenv(env []string, name string) string { return envlist.Get(env, name) }

// agentBinary is the spirit-agent that containers named in docker.agent
// get: the one installed beside this spirit (bin/spirit-agent beside
// bin/spirit). It is not checked here: a missing one only means the
// Engine's exec is used.
func agentBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(exe), "spirit-agent")
}
