// Package router is spirit's line language: it parses each line with
// mvdan.cc/sh's syntax package, finds its @target segments, and plans the
// line into bash text (Planner), whose host part is the line's own text;
// it also says what stands at the end of a line being typed (At). It runs
// nothing: bash runs the planned text, and the stand-in (router/standin)
// runs each remote segment. It knows no kind of target: the registry of
// kinds (Targets) says which @word is the host and supplies the others.
package router

import (
	"fmt"
	"sort"
	"spirit/target"
	"strings"

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

// loneTarget reports the target of a statement that is only an @word.
func loneTarget(st *syntax.Stmt) (string, bool) {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) != 1 || len(call.Assigns) > 0 || len(st.Redirs) > 0 {
		return "", false
	}
	return targetWord(call.Args[0])
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

func hasTargetedRedirect(st *syntax.Stmt) bool {
	for _, rd := range st.Redirs {
		if _, ok := isTargetedRedirect(rd); ok {
			return true
		}
	}
	return false
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

// span is a half-open range of byte offsets into the source.
type span struct{ from, to uint }

// stmtEnd is where a statement's own text ends: after its command and
// redirections, before any ; or & (which stay with the host statement).
func stmtEnd(st *syntax.Stmt) uint {
	end := st.Pos()
	if st.Cmd != nil {
		end = st.Cmd.End()
	}
	for _, rd := range st.Redirs {
		// A here-document's body stands on the lines after: not here.
		if e := rd.Word.End(); e.After(end) {
			end = e
		}
	}
	return end.Offset()
}

// cut returns src[whole] without the spans in skip.
func cut(src string, whole span, skip []span) string {
	sort.Slice(skip, func(i, j int) bool { return skip[i].from < skip[j].from })
	var b strings.Builder
	at := whole.from
	for _, s := range skip {
		if s.from > at {
			b.WriteString(src[at:min(s.from, whole.to)])
		}
		at = max(at, s.to)
	}
	if at < whole.to {
		b.WriteString(src[at:whole.to])
	}
	return b.String()
}

// unquote turns a here-document's delimiter word into the text of its
// closing line.
func unquote(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '\'' || r == '"':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func nestedError(pos syntax.Pos, target string) error {
	return &planError{pos: pos, status: 2,
		msg: fmt.Sprintf("@%s cannot stand inside a command that is sent to another target as text", target)}
}
