package router

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Cursor is what the line language makes of the end of a line being
// typed: which word is there, and to which target the command it belongs
// to goes, by the same rules as the planner's. Completion reads it.
type Cursor struct {
	// Word is the shell word that ends the line; "" after a blank or an
	// operator, where a new word starts.
	Word string
	// AtTarget says that Word stands where an @word names a target: at
	// the head of a command, or as the word of a redirection.
	AtTarget bool
	// Target is the name (without @) of the target that the command of
	// Word goes to: its own @word, the @word before it in its pipeline
	// (targets are sticky), or the default.
	Target string
	// Explicit says that the command names its target with an @word.
	Explicit bool
	// First says that Word is the command's first word after its @word
	// and assignments: a command name, or a control word.
	First bool
}

// At reads src, a line being typed, and says what stands at its end. dflt
// is the default target's name. It returns false when src cannot be read
// that far (an open quote).
func At(src, dflt string) (Cursor, bool) {
	f, err := syntax.NewParser(syntax.RecoverErrors(8)).Parse(strings.NewReader(src), "")
	if err != nil {
		return Cursor{}, false
	}
	w := &cursorWalk{end: uint(len(src)), sticky: map[*syntax.Stmt]string{}}
	syntax.Walk(f, w.visit)
	if w.bad {
		return Cursor{}, false
	}
	st := w.last
	fresh := Cursor{First: true, Target: dflt}
	if st == nil || st.Pos().IsRecovered() {
		if t, ok := w.sticky[st]; ok && st != nil {
			fresh.Target = t
		}
		return fresh, true
	}
	rest := src[st.End().Offset():]
	if st.Semicolon.IsValid() || strings.Trim(rest, " \t") != "" {
		return fresh, true // a ; or & ended the statement
	}
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return fresh, true
	}
	c := callCursor(src, st, call, rest != "")
	if c.Target == "" {
		c.Target = dflt
		if t, ok := w.sticky[st]; ok {
			c.Target = t
		}
	}
	return c, true
}

// callCursor places the end of the line in a simple command; blank says
// that a blank follows its last word.
func callCursor(src string, st *syntax.Stmt, call *syntax.CallExpr, blank bool) Cursor {
	var c Cursor
	index := len(call.Args) // a new word
	if !blank {
		switch {
		case len(st.Redirs) > 0 && endsAt(st.Redirs[len(st.Redirs)-1].Word, len(src)):
			w := st.Redirs[len(st.Redirs)-1].Word
			c.Word = src[w.Pos().Offset():]
			c.AtTarget = strings.HasPrefix(c.Word, "@")
			return c
		case len(call.Args) > 0 && endsAt(call.Args[len(call.Args)-1], len(src)):
			index--
			c.Word = src[call.Args[index].Pos().Offset():]
		case len(call.Assigns) > 0:
			// NAME=value being typed: a value, never a command.
			c.Word = src[call.Assigns[len(call.Assigns)-1].Pos().Offset():]
			return c
		}
	}
	first := 0
	if index > 0 {
		// A whole @word before the end: the command's own target.
		if head, ok := targetWord(call.Args[0]); ok {
			c.Target, c.Explicit, first = head, true, 1
		}
	}
	c.First = index == first
	c.AtTarget = index == 0 && strings.HasPrefix(c.Word, "@")
	return c
}

func endsAt(w *syntax.Word, end int) bool {
	return w != nil && w.End().IsValid() && int(w.End().Offset()) == end
}

// cursorWalk finds the last statement that starts before the end, and
// the sticky target of every pipeline element.
type cursorWalk struct {
	end    uint
	last   *syntax.Stmt
	bad    bool // an open quote
	sticky map[*syntax.Stmt]string
}

func (w *cursorWalk) visit(n syntax.Node) bool {
	switch n := n.(type) {
	case *syntax.Stmt:
		if (n.Pos().IsRecovered() || n.Pos().Offset() <= w.end) && (w.last == nil || !w.last.Pos().IsRecovered()) {
			w.last = n
		}
		w.pipeline(n)
	case *syntax.SglQuoted:
		w.bad = w.bad || !n.Right.IsValid() || n.Right.IsRecovered()
	case *syntax.DblQuoted:
		w.bad = w.bad || !n.Right.IsValid() || n.Right.IsRecovered()
	}
	return true
}

// pipeline records the target each element of a pipeline inherits from
// the @words before it. Inner pipes of one seen already give the same.
func (w *cursorWalk) pipeline(st *syntax.Stmt) {
	elems, _ := flattenPipe(st)
	current := ""
	for _, el := range elems {
		if current != "" {
			w.sticky[el] = current
		}
		if t, _, ok := headTarget(el); ok {
			current = t
		}
	}
}
