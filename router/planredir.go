package router

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A redirection to a file on a target, `CMD > @T PATH`, becomes a
// redirection to a descriptor that the shell opened just before on a
// process substitution running the stand-in, and the statement is
// wrapped so that the store's end decides it:
//
//	{ exec {__spirit_fd1}> >('/usr/bin/spirit' segment --write @T PATH); __spirit_pid1=$!;
//	  if CMD >&$__spirit_fd1; then __spirit_stored $__spirit_fd1 $__spirit_pid1;
//	  else __spirit_stored $__spirit_fd1 $__spirit_pid1; fi; }
//
// (on one line). The process substitution is made by the shell itself, not
// in the child forked for an external CMD, so $! names it and `wait` can
// take it. __spirit_stored (see Prelude) starts with CMD's status in $?,
// closes the shell's copy of the descriptor (the stand-in then meets the
// end of its input once CMD is done), waits for the stand-in, and returns
// 1 when the store failed (the stand-in has printed why), CMD's status
// otherwise. So the line goes on only once the file is complete on its
// target; a failed store fails the command as a failed write does in
// bash; and $?, &&, ||, ! and set -e see the command's own status
// otherwise: set -e is not in force inside an if's condition, and
// __spirit_stored, the last command of its branch, is where it takes
// effect. The redirection keeps its place among the statement's others,
// so `CMD > @T PATH 2>&1` sends both streams. `exec > @T PATH` is left a
// plain process substitution: its stand-in lives as long as the shell's
// redirection. What it costs: $! names the last stand-in afterwards.

// store is one redirection to a target file of a statement, numbered
// for the names of its shell variables.
type store struct {
	n    int
	open string // the shell's opening of its descriptor
}

func (s store) fd() string  { return fmt.Sprintf("__spirit_fd%d", s.n) }
func (s store) pid() string { return fmt.Sprintf("__spirit_pid%d", s.n) }

// targetRedirects turns the redirections to targets of st into host
// redirections. For a host statement it edits them in place and returns
// ""; for a remote segment (asText) it returns them as text to put after
// the segment's call. It returns the stores the statement must open
// before and wait for after.
func (r *planRun) targetRedirects(st *syntax.Stmt, asText bool) (string, []store, error) {
	var out strings.Builder
	var opens []store
	for _, rd := range st.Redirs {
		name, ok := isTargetedRedirect(rd)
		if !ok {
			continue
		}
		pathFrom, ok := redirectPath(rd)
		if !ok {
			return "", nil, &planError{pos: rd.Pos(), status: 2,
				msg: fmt.Sprintf("redirection to @%s needs a path: %s @%s PATH", name, rd.Op, name)}
		}
		if err := r.check(name, rd.Word.Pos()); err != nil {
			return "", nil, err
		}
		path := r.src[pathFrom:rd.Word.End().Offset()]
		op := r.src[rd.Pos().Offset():rd.Word.Pos().Offset()]
		var repl string
		switch {
		case r.local(name):
			repl = op + path
		case isExecRedirect(st):
			repl = strings.TrimRight(op, " \t") + " " + r.standinFile(rd.Op, name, path)
		default:
			s := store{n: r.p.nextStore()}
			s.open = s.opening(r, rd.Op, name, path)
			opens = append(opens, s)
			repl = s.redirect(rd)
		}
		if asText {
			out.WriteString(" " + repl)
		} else {
			r.replace(rd.Pos().Offset(), rd.Word.End().Offset(), repl)
		}
		if err := r.nested(rd.Word); err != nil {
			return "", nil, err
		}
	}
	return out.String(), opens, nil
}

// opening is the shell's opening of the stand-in's descriptor.
func (s store) opening(r *planRun, op syntax.RedirOperator, name, path string) string {
	dir := ">"
	if op == syntax.RdrIn {
		dir = "<"
	}
	return fmt.Sprintf("exec {%s}%s %s; %s=$!; ", s.fd(), dir, r.standinFile(op, name, path), s.pid())
}

// redirect is the statement's redirection to the stand-in's descriptor,
// for the operator rd had.
func (s store) redirect(rd *syntax.Redirect) string {
	n := ""
	if rd.N != nil {
		n = rd.N.Value
	}
	switch rd.Op {
	case syntax.RdrIn:
		return n + "<&$" + s.fd()
	case syntax.RdrAll, syntax.AppAll:
		return ">&$" + s.fd() + " 2>&1"
	}
	return n + ">&$" + s.fd()
}

// hostRedirects plans the redirections to targets of a host statement.
func (r *planRun) hostRedirects(st *syntax.Stmt) error {
	_, opens, err := r.targetRedirects(st, false)
	if len(opens) > 0 {
		r.waitStore(st, opens)
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
	return sub + r.self() + " segment " + mode + typedPath(path) + " @" + name + " " + path + ")"
}

// typedPath gives the stand-in a path's text as typed, which is what a
// Windows target gets (bash would take its backslashes for escapes); a
// path that bash leaves as it is needs none.
func typedPath(path string) string {
	if q, err := syntax.Quote(path, syntax.LangPOSIX); err == nil && q == path {
		return ""
	}
	return " --typed " + bashQuote(path)
}

// self is the stand-in's path, quoted for bash.
func (r *planRun) self() string {
	q, err := syntax.Quote(r.p.opts.Self, syntax.LangBash)
	if err != nil {
		return bashQuote(r.p.opts.Self)
	}
	return q
}

// waitStore wraps st so that it opens its stores first and its status
// waits for theirs.
func (r *planRun) waitStore(st *syntax.Stmt, opens []store) {
	var args, open strings.Builder
	for _, s := range opens {
		open.WriteString(s.open)
		fmt.Fprintf(&args, " $%s $%s", s.fd(), s.pid())
	}
	r.replace(stmtStart(st), stmtStart(st), " { "+open.String()+"if ")
	r.replace(stmtEnd(st), stmtEnd(st), fmt.Sprintf("; then __spirit_stored%s; else __spirit_stored%s; fi; }", args.String(), args.String()))
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
