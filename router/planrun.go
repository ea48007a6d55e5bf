package router

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// planRun plans one source: it collects edits of the source's bytes, so
// that everything it does not touch reaches bash byte for byte.
type planRun struct {
	src   string
	p     *Planner
	dflt  string // the default target, as the statements go
	edits []edit
}

// edit replaces src[from:to] with text (an insertion when from == to).
type edit struct {
	from, to uint
	text     string
}

func (r *planRun) local(name string) bool { return r.p.opts.Targets.IsLocal(name) }

func (r *planRun) replace(from, to uint, text string) {
	r.edits = append(r.edits, edit{from, to, text})
}

// apply returns the source with every edit made.
func (r *planRun) apply() (string, error) {
	sort.SliceStable(r.edits, func(i, j int) bool {
		a, b := r.edits[i], r.edits[j]
		if a.from != b.from {
			return a.from < b.from
		}
		return a.to == a.from && b.to != b.from // insertions first
	})
	var b strings.Builder
	at := uint(0)
	for _, e := range r.edits {
		if e.from < at {
			return "", &PlanError{Status: 2, Msg: fmt.Sprintf("internal error: overlapping edits at byte %d", e.from)}
		}
		b.WriteString(r.src[at:e.from])
		b.WriteString(e.text)
		at = e.to
	}
	b.WriteString(r.src[at:])
	return b.String(), nil
}

// wholeLine sends the whole source to the default target as one segment.
func (r *planRun) wholeLine(f *syntax.File) (string, error) {
	if _, ok := f.Stmts[0].Cmd.(*syntax.CallExpr); ok && len(f.Stmts) == 1 && goesToDefault(f.Stmts[0]) {
		if err := r.remote(f.Stmts, r.dflt, nil, nil); err != nil {
			return "", planPositioned(err, r.src)
		}
		return r.apply()
	}
	return "@" + r.dflt + " -c " + bashQuote(strings.TrimSpace(r.src)), nil
}

// stmt plans one statement.
func (r *planRun) stmt(st *syntax.Stmt) error {
	list, ops := flattenPipe(st)
	if len(list) == 1 && list[0] == st {
		return r.single(st)
	}
	return r.pipeline(list, ops)
}

// single plans a statement that is not a pipeline.
func (r *planRun) single(st *syntax.Stmt) error {
	name, call, ok := headTarget(st)
	if !ok {
		if !r.local(r.dflt) && goesToDefault(st) {
			return r.remote([]*syntax.Stmt{st}, r.dflt, nil, nil)
		}
		return r.host(st, nil)
	}
	if r.local(name) {
		return r.host(st, call)
	}
	if err := r.check(name, call.Args[0].Pos()); err != nil {
		return err
	}
	if len(call.Args) == 1 && len(call.Assigns) == 0 && len(st.Redirs) == 0 {
		return nil // a lone @T inside a command: the stand-in says why not
	}
	return r.remote([]*syntax.Stmt{st}, name, call, nil)
}

// group is one segment of a pipeline: its target, its @word (nil under
// the default target) and its statements.
type group struct {
	target string
	head   *syntax.CallExpr
	stmts  []*syntax.Stmt
}

// pipeline plans a flattened pipeline. A command starting with @T starts
// a segment on T, and the commands after it stay there until the next
// @word (the target is sticky). A command with a redirection to a target
// is a segment of its own, so that the host can route that stream. Each
// host command stays a pipeline element of its own.
func (r *planRun) pipeline(list []*syntax.Stmt, ops []syntax.BinCmdOperator) error {
	pipeAll := map[*syntax.Stmt]bool{}
	for i, op := range ops {
		if op == syntax.PipeAll {
			pipeAll[list[i]] = true
		}
	}
	var groups []group
	cur := group{target: r.dflt}
	flush := func() {
		if len(cur.stmts) > 0 {
			groups = append(groups, cur)
		}
		cur = group{target: cur.target}
	}
	for _, st := range list {
		name, call, isHead := headTarget(st)
		targeted := hasTargetedRedirect(st)
		prevTargeted := len(cur.stmts) > 0 && hasTargetedRedirect(cur.stmts[len(cur.stmts)-1])
		if isHead || targeted || prevTargeted || r.local(cur.target) {
			flush()
		}
		if isHead {
			if err := r.check(name, call.Args[0].Pos()); err != nil {
				return err
			}
			cur.target, cur.head = name, call
		}
		cur.stmts = append(cur.stmts, st)
	}
	flush()
	for _, g := range groups {
		var err error
		if r.local(g.target) {
			err = r.host(g.stmts[0], g.head)
		} else {
			err = r.remote(g.stmts, g.target, g.head, pipeAll)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// host plans a statement that runs on the host: it drops a leading
// @spirit word, replaces its redirections to targets, and plans the
// statements nested in it.
func (r *planRun) host(st *syntax.Stmt, head *syntax.CallExpr) error {
	if head != nil {
		if err := r.dropHead(st, head); err != nil {
			return err
		}
	}
	if err := r.hostRedirects(st); err != nil {
		return err
	}
	return r.nested(st)
}

// dropHead removes the @spirit word of a host statement.
func (r *planRun) dropHead(st *syntax.Stmt, call *syntax.CallExpr) error {
	word := call.Args[0]
	switch {
	case len(call.Args) > 1:
		r.replace(word.Pos().Offset(), call.Args[1].Pos().Offset(), "")
	case len(call.Assigns) > 0:
		return &planError{pos: st.Pos(), status: 2, msg: "@spirit needs a command after its assignments"}
	case len(st.Redirs) == 0:
		r.replace(word.Pos().Offset(), word.End().Offset(), ":") // a lone @spirit inside a command
	default:
		r.replace(word.Pos().Offset(), word.End().Offset(), "") // `@spirit > f` truncates f
	}
	return nil
}

// nested plans the statements inside node: command substitutions, bodies
// of loops and functions, and so on.
func (r *planRun) nested(node syntax.Node) error {
	var err error
	syntax.Walk(node, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		inner, ok := n.(*syntax.Stmt)
		if !ok || inner == node {
			return true
		}
		err = r.stmt(inner)
		return false
	})
	return err
}

// goesToDefault reports whether a statement without an @word goes whole
// to a remote default target. A simple command does; a compound one does
// when nothing in it names a target, so that `for`, `cd` and variables
// behave as in the target's own shell. A bare assignment and a function
// declaration stay on the host.
func goesToDefault(st *syntax.Stmt) bool {
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		return len(c.Args) > 0
	case *syntax.FuncDecl, nil:
		return false
	}
	return !hasTargets(st)
}

// pathSep joins `> @T PATH` into one word before parsing: the parser
// would take PATH for an argument of a simple command, and refuse it
// after a compound one. It replaces the blanks between @T and PATH, so
// offsets do not move; only the parse sees it.
const pathSep = '\x01'

var targetPathRE = regexp.MustCompile(`(?:^|[^<>&])(?:>>|>\||&>>|&>|>|<)[ \t]*@[^\s;&|<>()'"` + "`" + `$\\]*([ \t]+)[^\s;&|<>()#]`)

// joinTargetPaths replaces the blanks after each `> @T` that a path
// follows with pathSep.
func joinTargetPaths(src string) string {
	if !strings.Contains(src, "@") {
		return src
	}
	b := []byte(src)
	for _, m := range targetPathRE.FindAllStringSubmatchIndex(src, -1) {
		for i := m[2]; i < m[3]; i++ {
			b[i] = pathSep
		}
	}
	return string(b)
}
