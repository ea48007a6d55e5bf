// Package standin is `spirit segment`: the process that stands in, in
// bash's pipeline and job table, for one remote segment (or one file on a
// target). bash wires its stdin, stdout and stderr, and reads its exit
// status; it runs the segment through a target.Target and relays signals
// to it. It knows no kind of target and does not plan lines (package
// router does).
package standin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"spirit/target"
)

// Targets is the registry of target kinds, as the stand-in uses it.
type Targets interface {
	Lookup(name string) (target.Target, error)
	IsLocal(name string) bool
	Names() []string
}

// Options are what a stand-in runs with.
type Options struct {
	Targets               Targets
	Stdin, Stdout, Stderr *os.File
	// Messages takes what the stand-in prints to stderr itself; the
	// targets' progress lines (a VM's autostart) should go to it too, so
	// that they come out whole while the terminal is raw.
	Messages *LineWriter
	Log      *slog.Logger
}

// call is one parsed stand-in command line.
type call struct {
	target  string   // without @
	file    string   // "read", "write", "append": a file on the target
	path    string   // the file's path
	typed   string   // the path as typed, for a Windows target; "" when plain
	desktop bool     // --desktop: as the user logged on to the target's desktop
	env     []string // names of assignment prefixes
	text    string   // the remote shell's text ("" for a control word)
	words   []string // or words bash expanded, quoted for the target's shell
	ctl     string   // a control word, e.g. "--pause"
	args    []string // its arguments
}

// Usage is the stand-in's command line, for messages.
const Usage = "segment -- @TARGET [--desktop] [-e NAME]... -c TEXT | @TARGET [--desktop] WORD... | @TARGET --CONTROL ARGS... | --read|--write|--append [--typed TEXT] @TARGET PATH"

// DesktopOption, after the @word, runs the segment as the user logged on
// to the target's desktop (target.Command.Desktop). It is an option of
// the segment, not a control word: the text after it is the command's.
const DesktopOption = "--desktop"

// parse reads the stand-in's arguments (what follows `spirit segment`):
//
//	-- @T [--desktop] -e NAME ... -c TEXT  the exact text for the target's shell
//	-- @T --WORD ARGS...                   a control word, its arguments expanded
//	-- @T [--desktop] WORD...              words, quoted for the target's shell
//	--write|--append|--read [--typed TEXT] @T PATH
//
// PATH is the path as bash expanded it; TEXT, the path as typed, is
// what a Windows target gets (see windowsPath).
func parse(args []string) (*call, error) {
	if len(args) == 0 {
		return nil, errors.New("no arguments")
	}
	switch args[0] {
	case "--read", "--write", "--append":
		c := &call{file: args[0][2:]}
		rest := args[1:]
		if len(rest) >= 2 && rest[0] == "--typed" {
			c.typed, rest = rest[1], rest[2:]
		}
		if len(rest) != 2 || !strings.HasPrefix(rest[0], "@") {
			return nil, fmt.Errorf("%s needs @TARGET PATH", args[0])
		}
		c.target, c.path = rest[0][1:], rest[1]
		return c, nil
	case "--":
		args = args[1:]
	}
	if len(args) == 0 || !strings.HasPrefix(args[0], "@") {
		return nil, errors.New("no @TARGET")
	}
	c := &call{target: args[0][1:]}
	rest := args[1:]
	if len(rest) > 0 && rest[0] == DesktopOption {
		c.desktop, rest = true, rest[1:]
	}
	for len(rest) >= 2 && rest[0] == "-e" {
		c.env = append(c.env, rest[1])
		rest = rest[2:]
	}
	switch {
	case len(rest) == 2 && rest[0] == "-c":
		c.text = rest[1]
	case len(rest) > 0 && len(rest[0]) > 2 && strings.HasPrefix(rest[0], "--"):
		if c.desktop {
			return nil, fmt.Errorf("%s goes before a command, not a control word (%s)", DesktopOption, rest[0])
		}
		c.ctl, c.args = rest[0], rest[1:]
	case len(rest) > 0:
		c.words = rest
	}
	return c, nil
}

// quoteWords joins words that bash has expanded into text for a POSIX
// shell that gives back the same words.
func quoteWords(words []string) (string, error) {
	out := make([]string, len(words))
	for i, w := range words {
		q, err := syntax.Quote(w, syntax.LangPOSIX)
		if err != nil {
			return "", fmt.Errorf("word %q: %w", w, err)
		}
		out[i] = q
	}
	return strings.Join(out, " "), nil
}

// Run runs the stand-in with args and returns its exit status.
func Run(ctx context.Context, o Options, args []string) int {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Messages == nil {
		o.Messages = NewLineWriter(o.Stderr)
	}
	c, err := parse(args)
	if err != nil {
		fmt.Fprintf(o.Messages, "spirit segment: %v (usage: spirit %s)\n", err, Usage)
		return 2
	}
	s := &standin{o: o, c: c}
	return s.run(ctx)
}

type standin struct {
	o Options
	c *call
}

func (s *standin) errorf(format string, args ...any) {
	fmt.Fprintf(s.o.Messages, "spirit: "+format+"\n", args...)
}

func (s *standin) run(ctx context.Context) int {
	c := s.c
	tg, status := s.lookup()
	if tg == nil {
		return status
	}
	switch {
	case c.file != "":
		return s.runFile(ctx, tg)
	case c.ctl != "":
		return s.control(ctx, tg)
	case len(c.words) > 0:
		if err := s.quote(ctx, tg); err != nil {
			s.errorf("@%s: %v", c.target, err)
			return 2
		}
	case strings.TrimSpace(c.text) == "":
		s.errorf("@%s: a lone @%s makes it the default target only as a line of its own; give it a command", c.target, c.target)
		return 2
	}
	return s.exec(ctx, tg)
}

// lookup resolves the target; a nil target comes with the status to
// exit with. A local word (@spirit) in a file redirection is a host file.
func (s *standin) lookup() (target.Target, int) {
	name := s.c.target
	if s.o.Targets.IsLocal(name) {
		return hostFiles{}, 0
	}
	names := strings.Join(s.o.Targets.Names(), " ")
	if name == "" {
		s.errorf("@ must be followed by a target name (targets: %s)", names)
		return nil, 127
	}
	tg, err := s.o.Targets.Lookup(name)
	if errors.Is(err, target.ErrUnknownTarget) {
		s.errorf("unknown target @%s (targets: %s)", name, names)
		return nil, 127
	}
	if err != nil {
		s.errorf("%v", err)
		return nil, 127
	}
	return tg, 0
}

// control carries out a control word.
func (s *standin) control(ctx context.Context, tg target.Target) int {
	name, word := s.c.target, s.c.ctl
	ctl, ok := tg.(target.Controller)
	if !ok {
		s.errorf("@%s takes no control words", name)
		return 2
	}
	words := ctl.ControlWords()
	if !slices.Contains(words, word) {
		s.errorf("@%s: unknown control word %s (control words: %s)", name, word, strings.Join(words, " "))
		return 2
	}
	if err := ctl.Control(ctx, word, s.c.args, s.o.Stdout); err != nil {
		if ctx.Err() != nil {
			return 130
		}
		s.errorf("@%s %s: %v", name, word, err)
		if errors.Is(err, target.ErrNotFound) {
			return 127
		}
		return 1
	}
	return 0
}

// quote turns the words bash expanded into the text of the command: for
// cmd.exe on a Windows target, for a POSIX shell on any other (the host's
// bash too, when the word was @spirit).
func (s *standin) quote(ctx context.Context, tg target.Target) error {
	var err error
	if !s.o.Targets.IsLocal(s.c.target) && target.IsWindows(ctx, tg) {
		s.c.text, err = cmdQuoteWords(s.c.words)
	} else {
		s.c.text, err = quoteWords(s.c.words)
	}
	return err
}

// runFile copies a file on the target to stdout (read), or stdin to it.
// A Windows target gets the path as typed, as it gets a command's text.
func (s *standin) runFile(ctx context.Context, tg target.Target) int {
	mode := map[string]target.OpenMode{"read": target.Read, "write": target.Write, "append": target.Append}[s.c.file]
	path := s.c.path
	if s.c.typed != "" && target.IsWindows(ctx, tg) {
		path = windowsPath(s.c.typed)
	}
	what := fmt.Sprintf("%s @%s %s", mode, s.c.target, path)
	f, err := tg.Open(ctx, path, mode)
	if err != nil {
		s.errorf("%s: %v", what, err)
		return 1
	}
	if mode == target.Read {
		_, err = io.Copy(s.o.Stdout, f)
		f.Close()
	} else {
		_, err = io.Copy(f, s.o.Stdin)
		// A file on a target is complete only once Close has returned.
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.errorf("%s: %v", what, err)
		return 1
	}
	return 0
}

// hostFiles opens host files, for `< @spirit PATH` reached through an
// expansion.
type hostFiles struct{}

func (hostFiles) Exec(context.Context, *target.Command) (int, error) {
	return 0, errors.New("the host's commands are bash's, not the stand-in's")
}

func (hostFiles) Open(_ context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	switch mode {
	case target.Write:
		return os.Create(path)
	case target.Append:
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	}
	return os.Open(path)
}
