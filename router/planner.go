package router

import (
	"errors"
	"fmt"
	"spirit/target"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// PlannerOptions configure a Planner.
type PlannerOptions struct {
	// Targets says which @words exist; only names are looked up, nothing
	// is dialled.
	Targets Targets
	// Default is the default target's name without @ (target.Host when
	// empty).
	Default string
	// Self is the absolute path of the spirit binary whose `segment`
	// subcommand stands in for a remote segment in bash's jobs.
	Self string
}

// Planner turns lines of the line language into bash text: the line's own
// text with only its @target segments and redirections to targets
// replaced (see README, "How a line runs"). It keeps the default target
// from one Plan to the next; it runs nothing.
type Planner struct {
	opts PlannerOptions

	mu     sync.Mutex // a prompt may read dflt while a line runs
	dflt   string     // guarded by mu
	stores int        // guarded by mu: the last store's number
}

// nextStore numbers a redirection to a target file: its shell variables
// must not be another's, in this line or in a function of an earlier one.
func (p *Planner) nextStore() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stores++
	return p.stores
}

// NewPlanner makes a planner.
func NewPlanner(o PlannerOptions) *Planner {
	d := o.Default
	if d == "" {
		d = target.Host
	}
	return &Planner{opts: o, dflt: d}
}

// PlanError is a line that cannot be planned: an unknown target (Status
// 127) or a syntax error (Status 2). Its message is in spirit's words,
// without the "spirit: " prefix.
type PlanError struct {
	Status int
	Msg    string
}

func (e *PlanError) Error() string { return e.Msg }

// Default is the default target's word: "@spirit" or e.g. "@docker:c1".
func (p *Planner) Default() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "@" + p.dflt
}

// SetDefault makes the @word name (without @) the default target.
func (p *Planner) SetDefault(name string) {
	p.mu.Lock()
	p.dflt = name
	p.mu.Unlock()
}

// Plan returns the bash text for src, a complete line or a whole script.
// A line without any @word is returned unchanged, even one that
// mvdan.cc/sh cannot parse: bash will say what is wrong with it. A line
// that is only @T (at the top level) makes T the default for the
// statements after it and for later calls.
func (p *Planner) Plan(src string) (string, error) {
	if !strings.Contains(src, "@") && p.defaultName() == target.Host {
		return src, nil // nothing to plan, and nothing to parse
	}
	if i := strings.IndexByte(src, 0); i >= 0 && mayHaveTargets(src) {
		line := strings.Count(src[:i], "\n") + 1
		return "", &PlanError{Status: 2, Msg: fmt.Sprintf("line %d: a NUL byte cannot stand in a command", line)}
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(joinTargetPaths(src)), "")
	if err != nil {
		if !mayHaveTargets(src) {
			return src, nil
		}
		return "", &PlanError{Status: 2, Msg: err.Error()}
	}
	dflt := p.defaultName()
	r := &planRun{src: src, p: p, dflt: dflt}
	if !r.local(dflt) && len(f.Stmts) > 0 && !hasTargets(f) {
		// The whole line goes to the default target, as if typed in its
		// own shell: `cd /tmp; ls` and loops behave there as there.
		return r.wholeLine(f)
	}
	for _, st := range f.Stmts {
		if name, ok := loneTarget(st); ok {
			if err := r.check(name, st.Pos()); err != nil {
				return "", planPositioned(err, src)
			}
			r.dflt = name
			r.replace(st.Pos().Offset(), stmtEnd(st), ":")
			continue
		}
		if err := r.stmt(st); err != nil {
			return "", planPositioned(err, src)
		}
	}
	if r.dflt != dflt {
		p.SetDefault(r.dflt)
	}
	return r.apply()
}

func (p *Planner) defaultName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dflt
}

// mayHaveTargets reports whether src has an @ that could start a target
// word: one at the start of a word.
func mayHaveTargets(src string) bool {
	for i := strings.IndexByte(src, '@'); i >= 0; {
		if i == 0 || strings.IndexByte(" \t\n;|&(<>`{", src[i-1]) >= 0 {
			return true
		}
		j := strings.IndexByte(src[i+1:], '@')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// planPositioned puts the line and column before a planning error in a
// source of several lines; a one-line command needs none.
func planPositioned(err error, src string) error {
	var pe *planError
	if !errors.As(err, &pe) {
		return &PlanError{Status: 2, Msg: err.Error()}
	}
	if !strings.Contains(strings.TrimRight(src, "\n"), "\n") || !pe.pos.IsValid() {
		return &PlanError{Status: pe.status, Msg: pe.msg}
	}
	return &PlanError{Status: pe.status, Msg: fmt.Sprintf("line %d:%d: %s", pe.pos.Line(), pe.pos.Col(), pe.msg)}
}

// check reports whether a target word names a target.
func (r *planRun) check(name string, pos syntax.Pos) error {
	if r.local(name) {
		return nil
	}
	if err := lookupError(r.p.opts.Targets, name); err != nil {
		return &planError{pos: pos, status: 127, msg: err.Error()}
	}
	return nil
}

// lookupError says why name is no target, in spirit's words; nil when it
// is one.
func lookupError(ts Targets, name string) error {
	if name == "" {
		return fmt.Errorf("@ must be followed by a target name (targets: %s)", strings.Join(ts.Names(), " "))
	}
	_, err := ts.Lookup(name)
	if errors.Is(err, target.ErrUnknownTarget) {
		return fmt.Errorf("unknown target @%s (targets: %s)", name, strings.Join(ts.Names(), " "))
	}
	return err
}
