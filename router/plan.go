package router

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// segKeyPrefix starts the argument that names a planned segment in the side
// table. The control character keeps it from meaning anything a user would
// type.
const segKeyPrefix = "\x1fseg"

// segment is one run of pipeline commands that goes to a target as text.
type segment struct {
	target   string   // target word without the @
	text     string   // the exact source text sent to the target's shell
	envNames []string // assignment prefixes, evaluated on the host
}

// planner rewrites a parsed statement so that the interpreter can run it:
// each remote segment of a pipeline becomes one call `@target KEY`, whose
// source text waits in the side table under KEY; @spirit words vanish; and a
// redirection to `@T PATH` becomes a redirection to a word the open handler
// recognises. The interpreter then does the pipes, control flow and $?.
type planner struct {
	src   string
	dflt  string // default target without @
	segs  *segTable
	check func(target string) error
	local func(target string) bool // the host's name
	// pipeAll holds the pipeline elements followed by |&.
	pipeAll map[*syntax.Stmt]bool
}

// segTable is the side table shared by every line of a session: a function
// defined on one line may run its segments on a later one.
type segTable struct {
	mu   sync.Mutex // background jobs read while a later line is planned
	next int
	segs map[string]*segment
}

func (t *segTable) get(key string) (*segment, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.segs[key]
	return s, ok
}

func (t *segTable) add(s *segment) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.segs == nil {
		t.segs = make(map[string]*segment)
	}
	key := segKeyPrefix + strconv.Itoa(t.next)
	t.next++
	t.segs[key] = s
	return key
}

// planError is an error found while planning, with its status.
type planError struct {
	pos    syntax.Pos
	status int
	msg    string
}

func (e *planError) Error() string {
	if e.pos.IsValid() {
		return fmt.Sprintf("%d:%d: %s", e.pos.Line(), e.pos.Col(), e.msg)
	}
	return e.msg
}

// targetWord reports the target named by a word that is exactly a literal
// @word, without the @.
func targetWord(w *syntax.Word) (string, bool) {
	if w == nil || len(w.Parts) != 1 {
		return "", false
	}
	lit, ok := w.Parts[0].(*syntax.Lit)
	if !ok || !strings.HasPrefix(lit.Value, "@") {
		return "", false
	}
	return lit.Value[1:], true
}

// headTarget reports the target of a statement that starts with an @word.
func headTarget(st *syntax.Stmt) (string, *syntax.CallExpr, bool) {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", nil, false
	}
	name, ok := targetWord(call.Args[0])
	return name, call, ok
}

// wholeFile sends a whole parsed line to the default target as one
// segment.
func (p *planner) wholeFile(f *syntax.File) (*syntax.File, error) {
	first := f.Stmts[0]
	// The whole source, here-documents and all, exactly as typed.
	text := strings.TrimSpace(p.src)
	key := p.segs.add(&segment{target: p.dflt, text: text})
	st := &syntax.Stmt{Position: first.Position, Cmd: &syntax.CallExpr{
		Args: []*syntax.Word{litWord("@" + p.dflt), litWord(key)}}}
	f.Stmts = []*syntax.Stmt{st}
	return f, nil
}

// isTargetedRedirect reports whether rd writes, appends or reads a file on
// a named target: `> @T PATH`.
func isTargetedRedirect(rd *syntax.Redirect) (string, bool) {
	switch rd.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrIn, syntax.RdrAll, syntax.AppAll, syntax.RdrClob:
	default:
		return "", false
	}
	if rd.Word == nil || len(rd.Word.Parts) == 0 {
		return "", false
	}
	// The Planner joins PATH to the word (joinTargetPaths).
	if lit, ok := rd.Word.Parts[0].(*syntax.Lit); ok && strings.HasPrefix(lit.Value, "@") {
		if name, _, joined := strings.Cut(lit.Value[1:], string(pathSep)); joined {
			return name, true
		}
	}
	return targetWord(rd.Word)
}

// hasTargets reports whether any @word stands at the head of a command or
// as a redirection target anywhere in node.
func hasTargets(node syntax.Node) bool {
	found := false
	syntax.Walk(node, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			if _, _, ok := headTarget(n); ok {
				found = true
			}
			for _, rd := range n.Redirs {
				if _, ok := isTargetedRedirect(rd); ok {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// stmt plans one statement in place.
func (p *planner) stmt(st *syntax.Stmt) error {
	list, ops := flattenPipe(st)
	if len(list) == 1 && list[0] == st {
		return p.single(st)
	}
	for i, op := range ops {
		if op == syntax.PipeAll {
			if p.pipeAll == nil {
				p.pipeAll = make(map[*syntax.Stmt]bool)
			}
			p.pipeAll[list[i]] = true
		}
	}
	segs, err := p.pipeline(list, ops)
	if err != nil {
		return err
	}
	if len(segs) == 1 {
		st.Cmd = &syntax.Block{Stmts: segs}
		return nil
	}
	st.Cmd = joinPipe(segs, ops, list)
	return nil
}

// single plans a statement that is not a pipeline.
func (p *planner) single(st *syntax.Stmt) error {
	target, call, ok := headTarget(st)
	if !ok {
		if !p.local(p.dflt) && toDefault(st) {
			return p.remote(st, []*syntax.Stmt{st}, p.dflt, nil)
		}
		return p.host(st, false)
	}
	if p.local(target) {
		return p.host(st, true)
	}
	if err := p.check(target); err != nil {
		return p.errAt(call.Args[0].Pos(), err)
	}
	return p.remote(st, []*syntax.Stmt{st}, target, call)
}

// toDefault reports whether a statement without an @word goes whole to the
// default target. A simple command does; a compound one does when nothing in
// it names a target, so that `for`, `cd` and variables behave as in the
// target's own shell. A bare assignment and a function declaration stay on
// the host.
func toDefault(st *syntax.Stmt) bool {
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		return len(c.Args) > 0
	case *syntax.FuncDecl, nil:
		return false
	}
	return !hasTargets(st)
}

// pipeline groups a flattened pipeline into segments. A command starting
// with @T starts a segment on T, and the commands after it stay there until
// the next @word (the target is sticky). A command with a redirection to a
// target is a segment of its own, so that the host can route that stream.
func (p *planner) pipeline(list []*syntax.Stmt, ops []syntax.BinCmdOperator) ([]*syntax.Stmt, error) {
	var out []*syntax.Stmt
	current := p.dflt
	var run []*syntax.Stmt
	var head *syntax.CallExpr
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		seg := run
		run = nil
		if p.local(current) {
			for _, st := range seg {
				if err := p.host(st, head != nil && st == seg[0]); err != nil {
					return err
				}
			}
			out = append(out, seg...)
			return nil
		}
		synth := &syntax.Stmt{Position: seg[0].Position}
		if err := p.remoteInto(synth, seg, current, head); err != nil {
			return err
		}
		out = append(out, synth)
		return nil
	}
	for _, st := range list {
		target, call, isHead := headTarget(st)
		targeted := hasTargetedRedirect(st)
		if isHead || targeted || (len(run) > 0 && hasTargetedRedirect(run[len(run)-1])) {
			if err := flush(); err != nil {
				return nil, err
			}
			head = nil
		}
		if isHead {
			if err := p.check(target); err != nil {
				return nil, p.errAt(call.Args[0].Pos(), err)
			}
			current, head = target, call
		}
		if p.local(current) {
			// Host commands are not merged: each stays a pipeline element.
			run = append(run, st)
			if err := flush(); err != nil {
				return nil, err
			}
			head = nil
			continue
		}
		run = append(run, st)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func hasTargetedRedirect(st *syntax.Stmt) bool {
	for _, rd := range st.Redirs {
		if _, ok := isTargetedRedirect(rd); ok {
			return true
		}
	}
	return false
}

// host plans a statement that runs on the host: it drops a leading @spirit
// word, turns its target redirections into words the open handler knows,
// and plans the statements nested in it.
func (p *planner) host(st *syntax.Stmt, dropHead bool) error {
	if call, ok := st.Cmd.(*syntax.CallExpr); ok && dropHead {
		head := call.Args[0]
		call.Args = call.Args[1:]
		switch {
		case len(call.Args) > 0:
		case len(call.Assigns) > 0:
			return &planError{pos: st.Pos(), status: 2, msg: "@spirit needs a command after its assignments"}
		case len(st.Redirs) == 0:
			// A lone @spirit: the exec handler makes the host the default.
			call.Args = []*syntax.Word{head}
		default:
			st.Cmd = nil // only redirections: `@spirit > f` truncates f
		}
	}
	if err := p.redirects(st); err != nil {
		return err
	}
	return p.nested(st)
}

// nested plans the statements inside a host statement: command
// substitutions, bodies of loops and functions, and so on.
func (p *planner) nested(node syntax.Node) error {
	var err error
	syntax.Walk(node, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		inner, ok := n.(*syntax.Stmt)
		if !ok || inner == node {
			return true
		}
		err = p.stmt(inner)
		return false
	})
	return err
}

// remote plans a statement that is a whole remote segment on its own.
func (p *planner) remote(st *syntax.Stmt, seg []*syntax.Stmt, target string, head *syntax.CallExpr) error {
	if head != nil && len(head.Args) == 1 && len(head.Assigns) == 0 && len(st.Redirs) == 0 {
		// A line that is only @T makes T the default: left to the exec handler.
		return nil
	}
	return p.remoteInto(st, seg, target, head)
}

// remoteInto makes dst the call `@target KEY` for the segment seg, keeping
// dst's own flags. The segment's host-side parts (assignment values and
// target redirections) are planned as host code.
func (p *planner) remoteInto(dst *syntax.Stmt, seg []*syntax.Stmt, target string, head *syntax.CallExpr) error {
	text, redirs, err := p.segmentText(seg, head)
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return &planError{pos: seg[0].Pos(), status: 2, msg: fmt.Sprintf("@%s needs a command", target)}
	}
	s := &segment{target: target, text: text}
	call := &syntax.CallExpr{}
	if head != nil {
		call.Assigns = head.Assigns
		for _, as := range head.Assigns {
			s.envNames = append(s.envNames, as.Name.Value)
		}
	}
	call.Args = []*syntax.Word{litWord("@" + target), litWord(p.segs.add(s))}
	dst.Cmd = call
	dst.Redirs = redirs
	for _, as := range call.Assigns {
		if err := p.nested(as); err != nil {
			return err
		}
	}
	for _, rd := range redirs {
		if err := p.nested(rd); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) errAt(pos syntax.Pos, err error) error {
	if pe, ok := err.(*planError); ok {
		if !pe.pos.IsValid() {
			pe.pos = pos
		}
		return pe
	}
	return &planError{pos: pos, status: 127, msg: err.Error()}
}

func litWord(s string) *syntax.Word {
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}}
}

// flattenPipe lists the elements of a pipeline, which the parser nests to
// the left, and the operators between them (| or |&).
func flattenPipe(st *syntax.Stmt) ([]*syntax.Stmt, []syntax.BinCmdOperator) {
	bc, ok := st.Cmd.(*syntax.BinaryCmd)
	if !ok || (bc.Op != syntax.Pipe && bc.Op != syntax.PipeAll) {
		return []*syntax.Stmt{st}, nil
	}
	left, ops := flattenPipe(bc.X)
	right, rops := flattenPipe(bc.Y)
	ops = append(ops, bc.Op)
	return append(left, right...), append(ops, rops...)
}

// joinPipe nests planned segments back into a pipeline. Between two
// segments stands the operator that stood before the second one's first
// element in the original.
func joinPipe(segs []*syntax.Stmt, ops []syntax.BinCmdOperator, orig []*syntax.Stmt) syntax.Command {
	opBefore := func(st *syntax.Stmt) syntax.BinCmdOperator {
		for i, o := range orig {
			if o.Position == st.Position && i > 0 {
				return ops[i-1]
			}
		}
		return syntax.Pipe
	}
	x := segs[0]
	for _, y := range segs[1:] {
		x = &syntax.Stmt{Position: x.Position, Cmd: &syntax.BinaryCmd{Op: opBefore(y), X: x, Y: y}}
	}
	return x.Cmd
}
