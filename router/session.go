// Package router parses spirit's line language, plans each pipeline into
// segments by target, and runs them: host parts with the mvdan.cc/sh
// interpreter in process, the others through a target.Target. It knows no
// kind of target: the registry of kinds (Targets) says which @word is the
// host and supplies the others.
package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"spirit/target"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Targets is the registry of target kinds (a *target.Registry), as the
// router uses it.
type Targets interface {
	// Lookup turns the @word name of a target other than the host into
	// that target.
	Lookup(name string) (target.Target, error)
	// IsLocal reports whether the name is the host's.
	IsLocal(name string) bool
	// Names lists every target word, the host's among them.
	Names() []string
}

// Options configure a Session.
type Options struct {
	Targets        Targets
	Stdin          *os.File // nil: commands read nothing
	Stdout, Stderr *os.File
	Env            []string // NAME=value, e.g. os.Environ()
	Dir            string   // "" = the process's
	Name           string   // $0
	Params         []string // $1...
	Log            *slog.Logger
}

// Session is one shell: its variables, functions, directory and default
// target last from one Run to the next.
type Session struct {
	opts   Options
	log    *slog.Logger
	runner *interp.Runner
	segs   segTable
	stores storeTable
	exited bool
	last   int // the status of the last Run, for $?

	mu   sync.Mutex // guards dflt: exec handlers run in pipeline goroutines
	dflt string     // default target without @
}

// killTimeout is how long a host command has after SIGINT before SIGKILL.
const killTimeout = 2 * time.Second

// New makes a session.
func New(o Options) (*Session, error) {
	if o.Targets == nil {
		return nil, errors.New("router: no targets")
	}
	s := &Session{opts: o, log: o.Log, dflt: target.Host}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var stdin io.Reader
	if o.Stdin != nil {
		stdin = o.Stdin
	}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if o.Stdout != nil {
		stdout = o.Stdout
	}
	if o.Stderr != nil {
		stderr = o.Stderr
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	params := append([]string{"--"}, o.Params...)
	r, err := interp.New(
		interp.StdIO(stdin, stdout, stderr),
		interp.Env(expand.ListEnviron(env...)),
		interp.Dir(o.Dir),
		interp.Params(params...),
		interp.ExecHandlers(s.middleware),
		interp.OpenHandler(s.open),
	)
	if err != nil {
		return nil, fmt.Errorf("router: new interpreter: %w", err)
	}
	s.runner = r
	return s, nil
}

// Run parses src (one line, several, or a whole script), checks every
// @target in it before anything runs, and runs it. It prints every error
// to Stderr itself and returns the status ($?): 2 for a syntax error, 127
// for an unknown target, 130 when ctx was cancelled.
func (s *Session) Run(ctx context.Context, src, name string) int {
	s.last = s.run(ctx, src, name)
	return s.last
}

func (s *Session) run(ctx context.Context, src, name string) int {
	if name == "" {
		name = s.opts.Name
	}
	f, err := s.plan(src, name)
	if err != nil {
		s.errorf("%v", err)
		var pe *planError
		if errors.As(err, &pe) {
			return pe.status
		}
		return 2
	}
	arg0(f)
	s.checkStores(f)
	if err := s.setArg0(ctx, name); err != nil {
		s.errorf("%v", err)
		return 2
	}
	// Statement by statement: running a whole File would fire the EXIT
	// trap at the end of every line; Finish fires it once.
	for _, st := range f.Stmts {
		err = s.runner.Run(ctx, st)
		if ctx.Err() != nil {
			// The interpreter takes a cancel for an exit; the shell goes on.
			s.exited = false
			return 130
		}
		if s.exited = s.runner.Exited(); s.exited {
			break
		}
	}
	return s.status(err)
}

// Finish ends the shell as bash does at exit: it runs the EXIT trap.
func (s *Session) Finish(ctx context.Context) {
	_ = s.runner.Run(ctx, &syntax.File{Name: s.opts.Name})
}

// arg0Var holds $0: the interpreter knows $0 only while it runs a whole
// File, so the planner points every $0 at this variable instead.
const arg0Var = "__spirit_arg0"

// setArg0 assigns $0 for the statements of one Run.
func (s *Session) setArg0(ctx context.Context, name string) error {
	q, err := syntax.Quote(name, syntax.LangBash)
	if err != nil {
		return fmt.Errorf("name %q: %w", name, err)
	}
	// The subshell's exit puts $? back to the last line's status, which a
	// cancel (130) sets although the interpreter never saw it.
	src := fmt.Sprintf("%s=%s; (exit %d)", arg0Var, q, s.last)
	f, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	if err != nil {
		return err
	}
	for _, st := range f.Stmts {
		s.runner.Run(ctx, st)
	}
	return nil
}

func arg0(f *syntax.File) {
	syntax.Walk(f, func(n syntax.Node) bool {
		if pe, ok := n.(*syntax.ParamExp); ok && pe.Param != nil && pe.Param.Value == "0" {
			pe.Param = &syntax.Lit{ValuePos: pe.Param.ValuePos, ValueEnd: pe.Param.ValueEnd, Value: arg0Var}
		}
		return true
	})
}

func (s *Session) status(err error) int {
	var es interp.ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &es):
		return int(es)
	default:
		s.errorf("%v", err)
		return 1
	}
}

// plan parses src and rewrites it for the interpreter. A top-level line
// that is only @T makes T the default for the lines after it.
func (s *Session) plan(src, name string) (*syntax.File, error) {
	if i := strings.IndexByte(src, 0); i >= 0 {
		line := strings.Count(src[:i], "\n") + 1
		return nil, &planError{status: 2, msg: fmt.Sprintf("%s: line %d: a NUL byte cannot stand in a command", name, line)}
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	p := &planner{src: src, dflt: s.Default()[1:], segs: &s.segs, check: s.check, local: s.opts.Targets.IsLocal}
	if !p.local(p.dflt) && len(f.Stmts) > 0 && !hasTargets(f) {
		// The whole line goes to the default target, as if typed in its
		// own shell: `cd /tmp; ls` and loops behave there as there.
		return p.wholeFile(f)
	}
	for _, st := range f.Stmts {
		if err := p.stmt(st); err != nil {
			return nil, positioned(err, name, src)
		}
		if t, ok := loneTarget(st); ok {
			p.dflt = t
		}
	}
	return f, nil
}

// positioned puts the file name and line before a planning error in a
// script of several lines; a one-line command needs none.
func positioned(err error, name, src string) error {
	pe, ok := err.(*planError)
	if !ok || !strings.Contains(strings.TrimRight(src, "\n"), "\n") || !pe.pos.IsValid() {
		if ok {
			pe.pos = syntax.Pos{}
		}
		return err
	}
	return &planError{status: pe.status, msg: fmt.Sprintf("%s:%d:%d: %s", name, pe.pos.Line(), pe.pos.Col(), pe.msg)}
}

// loneTarget reports the target of a statement that is only an @word.
func loneTarget(st *syntax.Stmt) (string, bool) {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) != 1 || len(call.Assigns) > 0 || len(st.Redirs) > 0 {
		return "", false
	}
	return targetWord(call.Args[0])
}

// check reports whether a target word names a target.
func (s *Session) check(name string) error {
	if s.opts.Targets.IsLocal(name) {
		return nil
	}
	_, err := s.lookup(name)
	return err
}

// lookup resolves the @word name of a target that is not the host.
func (s *Session) lookup(name string) (target.Target, error) {
	if name == "" {
		return nil, &planError{status: 127, msg: fmt.Sprintf("@ must be followed by a target name (targets: %s)", strings.Join(s.Targets(), " "))}
	}
	t, err := s.opts.Targets.Lookup(name)
	if errors.Is(err, target.ErrUnknownTarget) {
		return nil, &planError{status: 127, msg: fmt.Sprintf("unknown target @%s (targets: %s)", name, strings.Join(s.Targets(), " "))}
	}
	if err != nil {
		return nil, &planError{status: 127, msg: err.Error()}
	}
	return t, nil
}

// Exited reports whether the exit builtin (or set -e) ended the shell.
func (s *Session) Exited() bool { return s.exited }

// Default is the default target word: "@spirit" or e.g. "@docker:c1".
func (s *Session) Default() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "@" + s.dflt
}

func (s *Session) setDefault(target string) {
	s.mu.Lock()
	s.dflt = target
	s.mu.Unlock()
}

// Targets lists the target words, the host's first.
func (s *Session) Targets() []string {
	return s.opts.Targets.Names()
}

// Dir is the interpreter's current directory.
func (s *Session) Dir() string { return s.runner.Dir }

func (s *Session) errorf(format string, args ...any) {
	w := io.Writer(io.Discard)
	if s.opts.Stderr != nil {
		w = s.opts.Stderr
	}
	fmt.Fprintf(w, "spirit: "+format+"\n", args...)
}

// IsIncomplete reports whether src needs more lines: an open quote, a
// trailing | or &&, an open if, for or $(, an open here-document, or a
// trailing backslash.
func IsIncomplete(src string) bool {
	trimmed := strings.TrimRight(src, "\n")
	if n := len(trimmed) - len(strings.TrimRight(trimmed, "\\")); n%2 == 1 {
		return true
	}
	_, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	return syntax.IsIncomplete(err)
}
