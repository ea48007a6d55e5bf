package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"spirit/target"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// middleware routes calls whose first word is an @word to their target and
// leaves the rest to the interpreter's own handler.
func (s *Session) middleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		if args[0] == storedCmd {
			return s.stored(args)
		}
		if !strings.HasPrefix(args[0], "@") {
			return next(ctx, args)
		}
		return s.runTarget(ctx, args, next)
	}
}

func (s *Session) runTarget(ctx context.Context, args []string, next interp.ExecHandlerFunc) error {
	hc := interp.HandlerCtx(ctx)
	name := args[0][1:]
	if s.opts.Targets.IsLocal(name) && len(args) > 1 {
		return next(ctx, args[1:]) // an @spirit that came from an expansion
	}
	tg, err := s.lookupOrReport(hc, name)
	if err != nil {
		return err
	}
	if len(args) == 1 {
		s.setDefault(name)
		return nil
	}
	seg, ok := s.segs.get(args[1])
	if !ok {
		// The @word came from an expansion ($t ls): send the words quoted.
		text, err := quoteArgs(args[1:])
		if err != nil {
			fmt.Fprintf(hc.Stderr, "spirit: @%s: %v\n", name, err)
			return interp.ExitStatus(2)
		}
		seg = &segment{target: name, text: text}
	}
	if word, rest, ok := controlWord(seg.text); ok {
		return s.control(ctx, hc, seg.target, tg, word, rest)
	}
	cmd := &target.Command{
		Text:   seg.text,
		Env:    envOf(hc, seg.envNames),
		Stdin:  stdinOf(hc),
		Stdout: hc.Stdout,
		Stderr: hc.Stderr,
	}
	status, err := s.exec(ctx, tg, cmd)
	if ctx.Err() != nil {
		return interp.ExitStatus(130)
	}
	if err != nil {
		fmt.Fprintf(hc.Stderr, "spirit: @%s: %v\n", seg.target, err)
		if errors.Is(err, target.ErrNotFound) {
			return interp.ExitStatus(127)
		}
		return interp.ExitStatus(125)
	}
	if status != 0 {
		return interp.ExitStatus(uint8(status))
	}
	return nil
}

// lookupOrReport resolves a target at run time; the planner has checked it,
// but a dynamic @word ($t) was not seen then.
func (s *Session) lookupOrReport(hc interp.HandlerContext, name string) (target.Target, error) {
	if s.opts.Targets.IsLocal(name) {
		return nil, nil
	}
	t, err := s.lookup(name)
	if err != nil {
		fmt.Fprintf(hc.Stderr, "spirit: %v\n", err)
		return nil, interp.ExitStatus(127)
	}
	return t, nil
}

// exec runs a command on a target, under a pseudo-terminal when the
// segment is alone on the session's terminal.
func (s *Session) exec(ctx context.Context, tg target.Target, cmd *target.Command) (int, error) {
	if !s.onTerminal(cmd.Stdin, cmd.Stdout) {
		return tg.Exec(ctx, cmd)
	}
	tty, stop, err := rawTerminal(s.opts.Stdin, s.opts.Stdout)
	if err != nil {
		s.log.Debug("no pseudo-terminal for the command", "err", err)
		return tg.Exec(ctx, cmd)
	}
	defer stop()
	cmd.TTY = tty
	return tg.Exec(ctx, cmd)
}

// onTerminal reports whether a segment's stdin and stdout are the session's
// own terminal.
func (s *Session) onTerminal(stdin io.Reader, stdout io.Writer) bool {
	in, ok := stdin.(*os.File)
	if !ok || s.opts.Stdin == nil || in != s.opts.Stdin {
		return false
	}
	out, ok := stdout.(*os.File)
	if !ok || s.opts.Stdout == nil || out != s.opts.Stdout {
		return false
	}
	return isTerminal(in) && isTerminal(out)
}

// controlWord reports a segment that is a control word: "--pause",
// "--snapshot save s1".
func controlWord(text string) (string, []string, bool) {
	fields := strings.Fields(text)
	if len(fields) == 0 || !strings.HasPrefix(fields[0], "--") {
		return "", nil, false
	}
	return fields[0], fields[1:], true
}

func (s *Session) control(ctx context.Context, hc interp.HandlerContext, name string, tg target.Target, word string, raw []string) error {
	args, err := expandArgs(hc, raw)
	if err != nil {
		fmt.Fprintf(hc.Stderr, "spirit: @%s %s: %v\n", name, word, err)
		return interp.ExitStatus(2)
	}
	c, ok := tg.(target.Controller)
	if !ok {
		fmt.Fprintf(hc.Stderr, "spirit: @%s takes no control words\n", name)
		return interp.ExitStatus(2)
	}
	words := c.ControlWords()
	if !slices.Contains(words, word) {
		fmt.Fprintf(hc.Stderr, "spirit: @%s: unknown control word %s (control words: %s)\n", name, word, strings.Join(words, " "))
		return interp.ExitStatus(2)
	}
	if err := c.Control(ctx, word, args, hc.Stdout); err != nil {
		if ctx.Err() != nil {
			return interp.ExitStatus(130)
		}
		fmt.Fprintf(hc.Stderr, "spirit: @%s %s: %v\n", name, word, err)
		if errors.Is(err, target.ErrNotFound) {
			return interp.ExitStatus(127)
		}
		return interp.ExitStatus(1)
	}
	return nil
}

// expandArgs expands a control word's arguments on the host, as bash
// would expand a command's: spirit, not the target, carries them out, so
// "@linux --cd "$dir"" means the host's $dir.
func expandArgs(hc interp.HandlerContext, raw []string) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(strings.Join(raw, " ")), "")
	if err != nil {
		return nil, err
	}
	if len(f.Stmts) != 1 {
		return nil, fmt.Errorf("arguments must be plain words")
	}
	call, ok := f.Stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(call.Assigns) > 0 || len(f.Stmts[0].Redirs) > 0 {
		return nil, fmt.Errorf("arguments must be plain words")
	}
	return expand.Fields(&expand.Config{Env: hc.Env}, call.Args...)
}

// envOf returns the assignment prefixes of a segment as NAME=value.
func envOf(hc interp.HandlerContext, names []string) []string {
	var env []string
	for _, n := range names {
		if v := hc.Env.Get(n); v.IsSet() {
			env = append(env, n+"="+v.String())
		}
	}
	return env
}

// stdinOf returns the command's stdin, or nil when it has none.
func stdinOf(hc interp.HandlerContext) io.Reader {
	switch in := hc.Stdin.(type) {
	case nil:
		return nil
	case *os.File:
		if in == nil {
			return nil
		}
	}
	return hc.Stdin
}

func quoteArgs(args []string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		q, err := syntax.Quote(a, syntax.LangPOSIX)
		if err != nil {
			return "", err
		}
		out[i] = q
	}
	return strings.Join(out, " "), nil
}
