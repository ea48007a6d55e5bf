package router

import (
	"fmt"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// redirMarker starts the word of a redirection to a file on a target, as the
// open handler receives it: "\x1f@docker:web\x1f/tmp/x" (a redirection that
// writes also carries the ID of its store: see storeMark). The control
// character keeps it apart from any path a user would write.
const redirMarker = "\x1f@"

// span is a half-open range of byte offsets into the source.
type span struct{ from, to uint }

// segmentText returns the exact source text of a remote segment, without
// its @target word and without its redirections to targets, which it
// returns rewritten for the host to carry out.
func (p *planner) segmentText(seg []*syntax.Stmt, head *syntax.CallExpr) (string, []*syntax.Redirect, error) {
	var b strings.Builder
	var redirs []*syntax.Redirect
	var hdocs []string
	for i, st := range seg {
		if err := p.noNestedTargets(st); err != nil {
			return "", nil, err
		}
		from := st.Pos().Offset()
		if st.Negated {
			from++ // the ! stays with the host statement
		}
		if i == 0 && head != nil {
			from = head.Args[0].End().Offset()
		}
		skip, rs, err := p.targetRedirects(st)
		if err != nil {
			return "", nil, err
		}
		redirs = append(redirs, rs...)
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(strings.TrimSpace(cut(p.src, span{from, stmtEnd(st)}, skip)))
		if i < len(seg)-1 && p.pipeAllAfter(st) {
			b.WriteString(" 2>&1")
		}
		hdocs = append(hdocs, p.heredocs(st)...)
	}
	for _, h := range hdocs {
		b.WriteString("\n")
		b.WriteString(h)
	}
	return b.String(), redirs, nil
}

// pipeAllAfter is set by the planner for statements followed by |&.
func (p *planner) pipeAllAfter(st *syntax.Stmt) bool {
	return p.pipeAll != nil && p.pipeAll[st]
}

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

// heredocs returns the bodies of a statement's here-documents with their
// closing lines: they stand after the statement's line in the source, so
// they must follow the segment's text.
func (p *planner) heredocs(st *syntax.Stmt) []string {
	var out []string
	for _, rd := range st.Redirs {
		if rd.Op != syntax.Hdoc && rd.Op != syntax.DashHdoc {
			continue
		}
		delim := unquote(p.src[rd.Word.Pos().Offset():rd.Word.End().Offset()])
		body := ""
		if rd.Hdoc != nil {
			body = p.src[rd.Hdoc.Pos().Offset():rd.Hdoc.End().Offset()]
		}
		if !strings.HasSuffix(strings.TrimRight(body, "\n"), delim) {
			body += delim
		}
		out = append(out, strings.TrimRight(body, "\n"))
	}
	return out
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

// targetRedirects finds a statement's redirections to targets: the spans
// of source they take (operator, @word and PATH), and the redirections
// rewritten for the host.
func (p *planner) targetRedirects(st *syntax.Stmt) ([]span, []*syntax.Redirect, error) {
	var skip []span
	var out []*syntax.Redirect
	for _, rd := range st.Redirs {
		target, ok := isTargetedRedirect(rd)
		if !ok {
			continue
		}
		path, err := p.redirectPath(st, rd, target)
		if err != nil {
			return nil, nil, err
		}
		skip = append(skip, span{rd.Pos().Offset(), rd.Word.End().Offset()},
			span{path.Pos().Offset(), path.End().Offset()})
		nrd := *rd
		nrd.Word, err = p.markedWord(target, path, rd.Word.Pos())
		if err != nil {
			return nil, nil, err
		}
		out = append(out, &nrd)
	}
	return skip, out, nil
}

// redirectPath finds the PATH of `> @T PATH`: the parser takes it for the
// command's next argument.
func (p *planner) redirectPath(st *syntax.Stmt, rd *syntax.Redirect, target string) (*syntax.Word, error) {
	if call, ok := st.Cmd.(*syntax.CallExpr); ok {
		for _, w := range call.Args {
			if w.Pos().After(rd.Word.End()) {
				return w, nil
			}
		}
	}
	return nil, &planError{pos: rd.Pos(), status: 2,
		msg: fmt.Sprintf("redirection to @%s needs a path: %s @%s PATH", target, rd.Op, target)}
}

// markedWord is the word the open handler receives for a file on target.
func (p *planner) markedWord(target string, path *syntax.Word, pos syntax.Pos) (*syntax.Word, error) {
	if p.local(target) {
		return path, nil
	}
	if err := p.check(target); err != nil {
		return nil, p.errAt(pos, err)
	}
	parts := append([]syntax.WordPart{&syntax.Lit{Value: redirMarker + target + "\x1f"}}, path.Parts...)
	return &syntax.Word{Parts: parts}, nil
}

// redirects rewrites a host statement's redirections to targets and drops
// their PATH words from its arguments.
func (p *planner) redirects(st *syntax.Stmt) error {
	for _, rd := range st.Redirs {
		target, ok := isTargetedRedirect(rd)
		if !ok {
			continue
		}
		path, err := p.redirectPath(st, rd, target)
		if err != nil {
			return err
		}
		call := st.Cmd.(*syntax.CallExpr)
		for i, w := range call.Args {
			if w == path {
				call.Args = append(call.Args[:i:i], call.Args[i+1:]...)
				break
			}
		}
		if rd.Word, err = p.markedWord(target, path, rd.Word.Pos()); err != nil {
			return err
		}
		if len(call.Args) == 0 && len(call.Assigns) == 0 {
			st.Cmd = nil // only redirections, as in `> @T PATH` alone
		}
	}
	return nil
}

// noNestedTargets refuses an @word inside a command sent as text to a
// target: the target's shell would not know it.
func (p *planner) noNestedTargets(st *syntax.Stmt) error {
	var err error
	syntax.Walk(st, func(n syntax.Node) bool {
		inner, ok := n.(*syntax.Stmt)
		if err != nil || !ok || inner == st {
			return err == nil
		}
		if t, call, ok := headTarget(inner); ok {
			err = nestedError(call.Args[0].Pos(), t)
		}
		for _, rd := range inner.Redirs {
			if t, ok := isTargetedRedirect(rd); ok && err == nil {
				err = nestedError(rd.Pos(), t)
			}
		}
		return err == nil
	})
	return err
}

func nestedError(pos syntax.Pos, target string) error {
	return &planError{pos: pos, status: 2,
		msg: fmt.Sprintf("@%s cannot stand inside a command that is sent to another target as text", target)}
}
