package router

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A redirection to a file on a target, `CMD > @T PATH`, becomes a
// redirection to a process substitution that runs the stand-in, and the
// statement is wrapped so that the store's end decides it:
//
//	if CMD > >('/usr/bin/spirit' segment --write @T PATH); then __spirit_stored; else __spirit_stored; fi
//
// __spirit_stored (see Prelude) starts with the statement's status in $?,
// waits for the stand-in ($! is the last process substitution, which
// bash 5.1 and later let `wait` take), and returns 1 when the store
// failed (the stand-in has printed why), the statement's status
// otherwise. So the line goes on only once the file is complete on its
// target, a failed store fails the command as a failed write does in
// bash, and $?, PIPESTATUS of a simple command, &&, ||, ! and set -e see
// the command's own status otherwise: set -e is not in force inside an
// if's condition, and __spirit_stored, the last command of its branch,
// is where it takes effect. `exec > @T PATH` is not wrapped: its stand-in
// lives as long as the shell's redirection.

// targetRedirects turns the redirections to targets of st into host
// redirections. For a host statement it edits them in place and returns
// ""; for a remote segment (inPlace false) it returns them as text to put
// after the segment's call. wait says whether the statement must wait for
// a stand-in.
func (r *planRun) targetRedirects(st *syntax.Stmt, asText bool) (string, bool, error) {
	var out strings.Builder
	wait := false
	for _, rd := range st.Redirs {
		name, ok := isTargetedRedirect(rd)
		if !ok {
			continue
		}
		pathFrom, ok := redirectPath(rd)
		if !ok {
			return "", false, &planError{pos: rd.Pos(), status: 2,
				msg: fmt.Sprintf("redirection to @%s needs a path: %s @%s PATH", name, rd.Op, name)}
		}
		if err := r.check(name, rd.Word.Pos()); err != nil {
			return "", false, err
		}
		path := r.src[pathFrom:rd.Word.End().Offset()]
		var repl string
		if r.local(name) {
			repl = path
		} else {
			repl = " " + r.standinFile(rd.Op, name, path)
			wait = true
		}
		if asText {
			out.WriteString(" " + r.src[rd.Pos().Offset():rd.Word.Pos().Offset()] + repl)
		} else {
			r.replace(rd.Word.Pos().Offset(), rd.Word.End().Offset(), repl)
		}
		if err := r.nested(rd.Word); err != nil {
			return "", false, err
		}
	}
	if wait && isExecRedirect(st) {
		wait = false
	}
	return out.String(), wait, nil
}

// hostRedirects plans the redirections to targets of a host statement.
func (r *planRun) hostRedirects(st *syntax.Stmt) error {
	_, wait, err := r.targetRedirects(st, false)
	if wait {
		r.waitStore(st)
	}
	return err
}

// standinFile is the process substitution that reads or writes PATH on
// target name.
func (r *planRun) standinFile(op syntax.RedirOperator, name, path string) string {
	mode, sub := "--write", ">("
	switch op {
	case syntax.AppOut, syntax.AppAll:
		mode = "--append"
	case syntax.RdrIn:
		mode, sub = "--read", "<("
	}
	return sub + r.self() + " segment " + mode + " @" + name + " " + path + ")"
}

// self is the stand-in's path, quoted for bash.
func (r *planRun) self() string {
	q, err := syntax.Quote(r.p.opts.Self, syntax.LangBash)
	if err != nil {
		return bashQuote(r.p.opts.Self)
	}
	return q
}

// waitStore wraps st so that its status waits for its stand-in's.
func (r *planRun) waitStore(st *syntax.Stmt) {
	r.replace(stmtStart(st), stmtStart(st), " if ")
	r.replace(stmtEnd(st), stmtEnd(st), "; then __spirit_stored; else __spirit_stored; fi")
}

// redirectPath returns where PATH starts in a `> @T PATH` word that
// joinTargetPaths has joined.
func redirectPath(rd *syntax.Redirect) (uint, bool) {
	lit, ok := rd.Word.Parts[0].(*syntax.Lit)
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(lit.Value, pathSep)
	if i < 0 {
		return 0, false
	}
	j := i
	for j < len(lit.Value) && lit.Value[j] == pathSep {
		j++
	}
	return rd.Word.Pos().Offset() + uint(j), true
}

// isExecRedirect reports a statement that is `exec` with redirections
// only, which redirects the shell itself.
func isExecRedirect(st *syntax.Stmt) bool {
	call, ok := st.Cmd.(*syntax.CallExpr)
	return ok && len(call.Args) == 1 && call.Args[0].Lit() == "exec"
}

// heredocBodies returns the bodies of a statement's here-documents with
// their closing lines: they stand after the statement's line in the
// source, so they must follow the segment's text.
func (r *planRun) heredocBodies(st *syntax.Stmt) []string {
	var out []string
	for _, rd := range st.Redirs {
		if from, to, ok := r.heredocSpan(st, rd); ok {
			out = append(out, strings.TrimRight(r.src[from:to], "\n"))
		}
	}
	return out
}

// dropHeredocs removes the bodies of st's here-documents from the bash
// text: they went to the target with the segment's text.
func (r *planRun) dropHeredocs(st *syntax.Stmt) {
	syntax.Walk(st, func(n syntax.Node) bool {
		if inner, ok := n.(*syntax.Stmt); ok {
			for _, rd := range inner.Redirs {
				if from, to, ok := r.heredocSpan(inner, rd); ok {
					r.replace(from, to, "")
				}
			}
		}
		return true
	})
}

// heredocSpan is where a here-document's body and closing line stand.
func (r *planRun) heredocSpan(st *syntax.Stmt, rd *syntax.Redirect) (uint, uint, bool) {
	if rd.Op != syntax.Hdoc && rd.Op != syntax.DashHdoc {
		return 0, 0, false
	}
	delim := unquote(r.src[rd.Word.Pos().Offset():rd.Word.End().Offset()])
	var from uint
	if rd.Hdoc != nil {
		from = rd.Hdoc.Pos().Offset()
	} else {
		nl := strings.IndexByte(r.src[stmtEnd(st):], '\n')
		if nl < 0 {
			return 0, 0, false
		}
		from = stmtEnd(st) + uint(nl) + 1
	}
	at := from
	for at < uint(len(r.src)) {
		end := uint(len(r.src))
		if nl := strings.IndexByte(r.src[at:], '\n'); nl >= 0 {
			end = at + uint(nl) + 1
		}
		line := strings.TrimRight(r.src[at:end], "\n")
		if rd.Op == syntax.DashHdoc {
			line = strings.TrimLeft(line, "\t")
		}
		if line == delim {
			return from, end, true
		}
		at = end
	}
	return from, uint(len(r.src)), true
}
