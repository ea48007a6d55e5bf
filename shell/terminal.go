package shell

import (
	"golang.org/x/term"
)

// terminalGuard puts a terminal back in the mode it was saved in. go-prompt
// v0.2.6 restores the wrong mode (its saved state is edited by its own
// SetRaw), so the shell saves the mode itself, before the prompt exists,
// and restores it before every command and on every way out.
type terminalGuard struct {
	fd    int
	state *term.State
}

func saveTerminal(fd int) (*terminalGuard, error) {
	st, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	return &terminalGuard{fd: fd, state: st}, nil
}

// restore puts the saved mode back; it cannot fail in a way worth
// reporting on a terminal that is still there.
func (g *terminalGuard) restore() { _ = term.Restore(g.fd, g.state) }

// run calls fn and restores the terminal however fn ends. On a panic the
// restore runs while the panic unwinds, before the runtime prints it, so
// the message lands on a terminal in its normal mode and the panic goes
// on with its own stack (a recover and re-panic would print the trace of
// the re-panic instead).
func (g *terminalGuard) run(fn func()) {
	defer g.restore()
	fn()
}
