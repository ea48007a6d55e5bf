package router

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"spirit/router/standin"
)

// remote plans the statements seg as one segment on target: their bytes,
// from the @word to the end of the last one, become one call of the
// target's word, in one of the forms of README's "How a line runs":
//
//	@linux sleep 100                  plain words, as typed
//	@linux --snapshot save "$n"       a control word: bash expands it
//	@linux -e F -c 'wc -l "$F" | x'   anything else: the exact text
//
// Assignment prefixes and redirections to targets stay with the host.
func (r *planRun) remote(seg []*syntax.Stmt, target string, head *syntax.CallExpr, pipeAll map[*syntax.Stmt]bool) error {
	text, err := r.segmentText(seg, head, pipeAll)
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return &planError{pos: seg[0].Pos(), status: 2, msg: fmt.Sprintf("@%s needs a command", target)}
	}
	last := seg[len(seg)-1]
	from := stmtStart(seg[0])
	if head != nil {
		from = head.Args[0].Pos().Offset()
	}
	redirs, opens, err := r.targetRedirects(last, true)
	if err != nil {
		return err
	}
	call := "@" + target + " " + r.form(seg, head, text) + redirs
	r.replace(from, stmtEnd(last), call)
	if len(opens) > 0 {
		r.waitStore(last, opens)
	}
	for _, st := range seg {
		r.dropHeredocs(st)
	}
	if head != nil {
		for _, as := range head.Assigns {
			if err := r.nested(as); err != nil {
				return err
			}
		}
	}
	return nil
}

// form is how a segment's words reach the stand-in.
func (r *planRun) form(seg []*syntax.Stmt, head *syntax.CallExpr, text string) string {
	opts := ""
	if _, n := segmentOptions(seg[0], head); n > 0 {
		opts = standin.DesktopOption + " "
	}
	return opts + r.words(seg, head, text)
}

// segmentOptions finds the stand-in's options (--desktop) at the start of
// a segment, after its @word if it has one (a line sent to the default
// target has none): they are not the command's text. It returns the
// index of the command's first word in the statement's call, and how
// many options stand before it.
func segmentOptions(st *syntax.Stmt, head *syntax.CallExpr) (first, n int) {
	call := head
	if call == nil {
		c, ok := st.Cmd.(*syntax.CallExpr)
		if !ok {
			return 0, 0
		}
		call = c
	} else {
		first = 1
	}
	if len(call.Args) > first && call.Args[first].Lit() == standin.DesktopOption {
		return first + 1, 1
	}
	return first, 0
}

// words is the segment's command in the form of README's "How a line
// runs".
func (r *planRun) words(seg []*syntax.Stmt, head *syntax.CallExpr, text string) string {
	st := seg[0]
	call, ok := st.Cmd.(*syntax.CallExpr)
	first, opts := segmentOptions(st, head)
	if len(seg) == 1 && ok && len(call.Args) > first {
		word := call.Args[first]
		lit := word.Lit()
		plain := !hasPlainRedirect(st)
		if strings.HasPrefix(lit, "--") && len(lit) > 2 && plain && len(call.Assigns) == 0 && opts == 0 {
			// A control word: spirit carries it out, with its
			// arguments expanded on the host.
			return r.src[word.Pos().Offset():call.End().Offset()]
		}
		if plainWords(call.Args[first:]) && !strings.HasPrefix(lit, "-") && plain && len(call.Assigns) == 0 {
			words := make([]string, 0, len(call.Args)-first)
			for _, w := range call.Args[first:] {
				words = append(words, w.Lit())
			}
			return strings.Join(words, " ")
		}
	}
	var b strings.Builder
	if head != nil {
		for _, as := range head.Assigns {
			b.WriteString("-e " + as.Name.Value + " ")
		}
	}
	b.WriteString("-c " + bashQuote(text))
	return b.String()
}

// hasPlainRedirect reports whether st has a redirection that goes to the
// target with its text (one that names no target).
func hasPlainRedirect(st *syntax.Stmt) bool {
	for _, rd := range st.Redirs {
		if _, ok := isTargetedRedirect(rd); !ok {
			return true
		}
	}
	return false
}

// plainWords reports whether every word is a literal that quoting for a
// POSIX shell leaves as it is: bash hands it over unchanged, and the
// stand-in's quoting gives back the same text.
func plainWords(ws []*syntax.Word) bool {
	for _, w := range ws {
		lit := w.Lit()
		if lit == "" || len(w.Parts) != 1 {
			return false
		}
		q, err := syntax.Quote(lit, syntax.LangPOSIX)
		if err != nil || q != lit {
			return false
		}
	}
	return true
}

// bashQuote single-quotes s for bash.
func bashQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stmtStart is where a statement's own text starts: after a !, which
// stays with the host.
func stmtStart(st *syntax.Stmt) uint {
	if st.Cmd != nil && st.Negated {
		return st.Cmd.Pos().Offset()
	}
	return st.Pos().Offset()
}

// segmentText returns the exact source text of a remote segment, without
// its @target word and without its redirections to targets.
func (r *planRun) segmentText(seg []*syntax.Stmt, head *syntax.CallExpr, pipeAll map[*syntax.Stmt]bool) (string, error) {
	var b strings.Builder
	var hdocs []string
	for i, st := range seg {
		if err := noNestedTargets(st); err != nil {
			return "", err
		}
		from := stmtStart(st)
		if first, _ := segmentOptions(st, head); i == 0 && first > 0 {
			from = st.Cmd.(*syntax.CallExpr).Args[first-1].End().Offset()
		}
		var skip []span
		for _, rd := range st.Redirs {
			if _, ok := isTargetedRedirect(rd); ok {
				skip = append(skip, span{rd.Pos().Offset(), rd.Word.End().Offset()})
			}
		}
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(strings.TrimSpace(cut(r.src, span{from, stmtEnd(st)}, skip)))
		if i < len(seg)-1 && pipeAll[st] {
			b.WriteString(" 2>&1")
		}
		hdocs = append(hdocs, r.heredocBodies(st)...)
	}
	for _, h := range hdocs {
		b.WriteString("\n")
		b.WriteString(h)
	}
	return b.String(), nil
}

// noNestedTargets refuses an @word inside a command sent as text to a
// target: the target's shell would not know it.
func noNestedTargets(st *syntax.Stmt) error {
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
