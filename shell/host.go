package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"spirit/internal/rootfile"
	"spirit/router"
	"spirit/shell/hostbash"
)

// planner turns a complete line into the bash text that runs it: the
// line itself when it names no target, and a call of a target's function
// (see Prelude) for each remote segment. It keeps the default target from
// line to line.
type planner interface {
	// Prelude is bash text sourced once in the bash that runs the lines.
	Prelude() string
	// Plan returns the bash text for src, or an error that says what is
	// wrong with it (see planStatus).
	Plan(src string) (string, error)
	// Default is the default target's word, e.g. "@spirit".
	Default() string
}

// planStatus is the status a planning error gives: 127 for an unknown
// target, 2 for a syntax error.
func planStatus(err error) int {
	var pe *router.PlanError
	if errors.As(err, &pe) {
		return pe.Status
	}
	return 2
}

// planLine plans src. A line with no target comes back as typed even
// when it does not parse; it is checked here, as bash reading commands
// from a pipe could not be trusted to recover from a syntax error (a
// non-interactive one ends, an interactive one reads on in the middle of
// the line spirit sent).
func planLine(p planner, src string) (string, error) {
	text, err := p.Plan(src)
	if err != nil {
		return "", err
	}
	if text == src {
		if _, err := syntax.NewParser().Parse(strings.NewReader(src), ""); err != nil {
			return "", &router.PlanError{Status: 2, Msg: err.Error()}
		}
	}
	return text, nil
}

// host is the persistent bash that runs the host's part of each line,
// and the planner that feeds it.
type host struct {
	bash *hostbash.Bash
	plan planner
	last hostbash.Report // the last line's
	errs *os.File        // for spirit's own messages
}

// startHost starts bash, sources the startup files (as bash would:
// a login shell's profile, an interactive shell's bashrc), the planner's
// prelude and, for an interactive or login shell, ~/.spiritrc. A status
// is returned (and h is nil) when that ended bash.
func (s *shell) startHost(ctx context.Context, interactive bool) (h *host, status int, err error) {
	b, err := hostbash.Start(ctx, hostbash.Options{
		Interactive: interactive,
		Login:       s.opts.Login,
		Stdin:       s.opts.Stdin,
		Stdout:      s.opts.Stdout,
		Stderr:      s.opts.Stderr,
		Env:         s.opts.Env,
		Arg0:        "spirit",
		Log:         s.log,
	})
	if err != nil {
		return nil, 1, err
	}
	h = &host{bash: b, plan: s.plan, errs: s.opts.Stderr}
	var text strings.Builder
	text.WriteString(startupFiles(interactive, s.opts.Login))
	text.WriteString(s.plan.Prelude())
	text.WriteString("\n__spirit_status() { return \"$1\"; }\n")
	if interactive || s.opts.Login {
		text.WriteString(s.rcSource())
	}
	h.last, err = b.Run(ctx, text.String())
	if errors.Is(err, hostbash.ErrExited) {
		return nil, b.ExitStatus(), nil
	}
	if err != nil {
		b.Close()
		return nil, 1, err
	}
	h.last.Status = 0 // the startup's status is not the first prompt's
	return h, 0, nil
}

// startupFiles is what bash reads at start, in its order; spirit's bash
// is started with --norc --noprofile so that they are read with the
// commands' stdin (bash's own is spirit's pipe).
func startupFiles(interactive, login bool) string {
	switch {
	case login:
		return "if [ -r /etc/profile ]; then . /etc/profile; fi\n" +
			"if [ -r ~/.bash_profile ]; then . ~/.bash_profile; elif [ -r ~/.bash_login ]; then . ~/.bash_login; " +
			"elif [ -r ~/.profile ]; then . ~/.profile; fi\n"
	case interactive:
		return "if [ -r /etc/bash.bashrc ]; then . /etc/bash.bashrc; fi\n" +
			"if [ -r ~/.bashrc ]; then . ~/.bashrc; fi\n"
	}
	return ""
}

// rcSource is the text that runs ~/.spiritrc when there is one. As
// root, one that another user could change is refused with a message:
// $HOME may be a user's (sudo -E), and their commands must not run as
// root.
func (s *shell) rcSource() string {
	home := getenv(s.opts.Env, "HOME")
	if home == "" {
		return ""
	}
	path := filepath.Join(home, ".spiritrc")
	src, err := rootfile.ReadFile(path, os.Geteuid() == 0)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(errOut(s.opts), "spirit: %v\n", err)
		}
		return ""
	}
	text, err := s.plan.Plan(string(src))
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: %s: %v\n", path, err)
		return ""
	}
	if text != string(src) {
		return text + "\n" // with targets: planned, run as one text
	}
	// Sourced, so that each of its lines is read as bash reads a file
	// (an alias it defines works on its later lines).
	return ". " + hostbash.Quote(path) + "\n"
}

// run plans src and has bash run it. A line that cannot be planned is
// reported and sets $? in bash to its status. errExited says bash has
// exited, with status.
func (h *host) run(ctx context.Context, src string) (status int, err error) {
	text, perr := planLine(h.plan, src)
	if perr != nil {
		fmt.Fprintf(h.errs, "spirit: %v\n", perr)
		text = fmt.Sprintf("__spirit_status %d \"$_\"", planStatus(perr))
	}
	rep, err := h.bash.Run(ctx, text)
	if errors.Is(err, hostbash.ErrExited) {
		return h.bash.ExitStatus(), err
	}
	if err != nil {
		return h.last.Status, err
	}
	h.last = rep
	return rep.Status, nil
}

// close ends bash: a hang-up when the shell ends on a signal (bash passes
// it on to its jobs), the end of its input otherwise.
func (h *host) close(hangup bool) {
	if hangup {
		h.bash.Hangup()
	}
	h.bash.Close()
}

// onlyComments reports whether src has no command (blank or comments),
// which leaves $? as it was.
func onlyComments(src string) bool {
	f, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	return err == nil && len(f.Stmts) == 0
}
