package router

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// A file written on a target is stored when it is closed (a container's
// file is put at the end), but the interpreter closes a redirection's
// file after the command's status is set, and ignores what Close returns.
// So each statement that writes to a target becomes
//
//	{ STATEMENT; storedCmd ID $?; }
//
// and storedCmd, run just after the close, returns 1 when the store of
// redirection ID failed and the statement's own status otherwise: the
// failure reaches $?, set -e, && and ||, as a failed write does in bash.

// storedCmd is the command that reports a store's failure. The control
// character keeps it from meaning anything a user would type.
const storedCmd = "\x1fstored"

// storeMark starts the ID that the open handler finds after the target's
// name in a marked word: "\x1f@T\x1f" + storeMark + ID + "\x1f" + PATH.
const storeMark = "\x1e"

// storeTable records the redirections whose store failed, by ID, until
// storedCmd reads them. Pipeline elements run in goroutines of their own.
type storeTable struct {
	mu     sync.Mutex // guards next and failed
	next   int
	failed map[string]bool
}

func (t *storeTable) newID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	return strconv.Itoa(t.next)
}

// set records whether the store of redirection id failed.
func (t *storeTable) set(id string, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !failed {
		delete(t.failed, id)
		return
	}
	if t.failed == nil {
		t.failed = make(map[string]bool)
	}
	t.failed[id] = true
}

// take reports whether the store of redirection id failed, and forgets it.
func (t *storeTable) take(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	failed := t.failed[id]
	delete(t.failed, id)
	return failed
}

// checkStores wraps every statement of f that writes a file on a target
// so that a failed store fails it.
func (s *Session) checkStores(f *syntax.File) {
	type writer struct {
		st *syntax.Stmt
		id string
	}
	var writers []writer
	syntax.Walk(f, func(n syntax.Node) bool {
		if st, ok := n.(*syntax.Stmt); ok {
			if id := s.markStores(st); id != "" {
				writers = append(writers, writer{st, id})
			}
		}
		return true
	})
	// Wrapped after the walk, which must not see the new statements.
	for _, w := range writers {
		st := w.st
		inner := &syntax.Stmt{Position: st.Position, Cmd: st.Cmd, Redirs: st.Redirs}
		check := &syntax.CallExpr{Args: []*syntax.Word{litWord(storedCmd), litWord(w.id), statusWord()}}
		st.Cmd = &syntax.Block{Lbrace: st.Position, Rbrace: st.Position,
			Stmts: []*syntax.Stmt{inner, {Position: st.Position, Cmd: check}}}
		st.Redirs = nil
	}
}

// markStores gives st's redirections that write on a target one new ID,
// which it returns ("" when there are none).
func (s *Session) markStores(st *syntax.Stmt) string {
	var id string
	for _, rd := range st.Redirs {
		lit := writesTarget(rd)
		if lit == nil {
			continue
		}
		if id == "" {
			id = s.stores.newID()
		}
		name, _, _ := strings.Cut(lit.Value[len(redirMarker):], "\x1f")
		lit.Value = redirMarker + name + "\x1f" + storeMark + id + "\x1f"
	}
	return id
}

// writesTarget returns the marked literal of a redirection that writes a
// file on a target, or nil.
func writesTarget(rd *syntax.Redirect) *syntax.Lit {
	switch rd.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrAll, syntax.AppAll, syntax.RdrClob:
	default:
		return nil
	}
	if rd.Word == nil || len(rd.Word.Parts) == 0 {
		return nil
	}
	lit, ok := rd.Word.Parts[0].(*syntax.Lit)
	if !ok || !strings.HasPrefix(lit.Value, redirMarker) || strings.Contains(lit.Value, "\x1f"+storeMark) {
		return nil
	}
	return lit
}

// cutStoreID splits the ID from the file of a marked word's rest (what
// follows the target's name): "" when it has none.
func cutStoreID(rest string) (id, file string) {
	after, ok := strings.CutPrefix(rest, storeMark)
	if !ok {
		return "", rest
	}
	id, file, _ = strings.Cut(after, "\x1f")
	return id, file
}

func statusWord() *syntax.Word {
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.ParamExp{Short: true, Param: &syntax.Lit{Value: "?"}}}}
}

// stored is storedCmd: args are the ID and the statement's status.
func (s *Session) stored(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("router: %q with %d arguments", storedCmd, len(args))
	}
	if s.stores.take(args[1]) {
		return interp.ExitStatus(1)
	}
	status, err := strconv.ParseUint(args[2], 10, 8)
	if err != nil {
		return fmt.Errorf("router: status %q: %w", args[2], err)
	}
	if status != 0 {
		return interp.ExitStatus(status)
	}
	return nil
}

// reportingFile reports a failure to store a written file, on stderr and
// to storedCmd: the interpreter ignores errors from Close, and nothing may
// be lost in silence.
type reportingFile struct {
	io.ReadWriteCloser
	stderr io.Writer
	what   string
	stores *storeTable
	id     string // of the redirection, for storedCmd; "" when it has none
}

func (f *reportingFile) Close() error {
	err := f.ReadWriteCloser.Close()
	if err != nil {
		fmt.Fprintf(f.stderr, "spirit: %s: %v\n", f.what, err)
	}
	if f.id != "" {
		f.stores.set(f.id, err != nil)
	}
	return err
}

// openedStore wraps a file opened to write on a target.
func (s *Session) openedStore(ctx context.Context, f io.ReadWriteCloser, id, what string) io.ReadWriteCloser {
	if id != "" {
		s.stores.set(id, false) // a failure left by a run that never checked it
	}
	return &reportingFile{ReadWriteCloser: f, stderr: interp.HandlerCtx(ctx).Stderr, what: what, stores: &s.stores, id: id}
}
