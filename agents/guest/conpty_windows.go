//go:build windows

package guest

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
	"spirit/errcode"
)

// conPTYNeeds is the Windows that has ConPTY, for the message when it
// is missing.
const conPTYNeeds = "Windows 10 version 1809 (build 17763), Windows Server 2019, or later"

// hasPty reports whether this Windows has ConPTY. x/sys/windows calls
// CreatePseudoConsole through a lazy lookup that panics when kernel32
// lacks it, so it is looked for first.
func hasPty() bool {
	k := windows.NewLazySystemDLL("kernel32.dll")
	for _, name := range []string{"CreatePseudoConsole", "ResizePseudoConsole", "ClosePseudoConsole"} {
		if k.NewProc(name).Find() != nil {
			return false
		}
	}
	return true
}

func noConPTY() error {
	return &errcode.Error{
		Code: errcode.NotYet,
		Msg: "a terminal (pty) on a Windows guest needs ConPTY, which this Windows lacks (" + conPTYNeeds +
			"): run the command without a terminal, e.g. `@windows dir | @spirit cat`",
	}
}

// pseudoConsole is a ConPTY and the goroutine that closes it.
//
// Before Windows 11 24H2, ClosePseudoConsole returns only once the
// console has written its last frame to the output pipe, so it must not
// be called from the goroutine that reads that pipe, nor while nobody
// reads it: close runs it in a goroutine of its own, which wait joins.
type pseudoConsole struct {
	in *os.File // the agent's end of the console's input

	mu     sync.Mutex
	h      windows.Handle // guarded by mu; 0 once closing
	once   sync.Once
	closed chan struct{} // closed when ClosePseudoConsole has returned
}

// newPseudoConsole makes a console of size whose input the agent writes
// to and whose output (UTF-8 text with VT sequences) it reads; it
// returns the agent's ends.
func newPseudoConsole(size wire.Resize) (c *pseudoConsole, out *os.File, err error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("console input pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, fmt.Errorf("console output pipe: %w", err)
	}
	var h windows.Handle
	err = windows.CreatePseudoConsole(coord(size), windows.Handle(inR.Fd()), windows.Handle(outW.Fd()), 0, &h)
	// The console has its own copies of its ends.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, nil, fmt.Errorf("create pseudo console: %w", err)
	}
	return &pseudoConsole{in: inW, h: h, closed: make(chan struct{})}, outR, nil
}

func coord(s wire.Resize) windows.Coord {
	// A console of no size is refused: the host sends 0 when it cannot
	// tell its terminal's size.
	cols, rows := max(s.Cols, 1), max(s.Rows, 1)
	return windows.Coord{X: int16(min(cols, 0x7fff)), Y: int16(min(rows, 0x7fff))}
}

func (c *pseudoConsole) resize(s wire.Resize) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == 0 {
		return nil // the command is over
	}
	if err := windows.ResizePseudoConsole(c.h, coord(s)); err != nil {
		return fmt.Errorf("resize pseudo console: %w", err)
	}
	return nil
}

// interrupt types Ctrl-C on the console.
func (c *pseudoConsole) interrupt() error {
	if _, err := c.in.Write([]byte{0x03}); err != nil {
		return fmt.Errorf("ctrl-c to the console: %w", err)
	}
	return nil
}

// close starts closing the console and returns at once; later calls do
// nothing. Its processes that are still attached get CTRL_CLOSE_EVENT,
// as a Linux terminal's get SIGHUP.
func (c *pseudoConsole) close() {
	c.once.Do(func() {
		c.mu.Lock()
		h := c.h
		c.h = 0
		c.mu.Unlock()
		go func() {
			defer close(c.closed)
			windows.ClosePseudoConsole(h)
		}()
	})
}

// wait waits until the console is closed; close must have been called.
func (c *pseudoConsole) wait() { <-c.closed }

// startConPTY starts a request's command under a pseudo console of the
// request's size, in a job of its own from its start.
func startConPTY(req *wire.Request) (process, error) {
	if !hasPty() {
		return nil, noConPTY()
	}
	cmd, err := winCommand(req)
	if err != nil {
		return nil, err
	}
	l := &launch{}
	l.command(cmd)
	return startOnConsole(l, req, true)
}

// startOnConsole starts l under a new pseudo console; the job ends what
// is left in it when closed if killOnClose. The console's output is
// UTF-8 already: it is not decoded.
func startOnConsole(l *launch, req *wire.Request, killOnClose bool) (process, error) {
	p, err := newProcess(killOnClose)
	if err != nil {
		return nil, err
	}
	console, out, err := newPseudoConsole(*req.TTY)
	if err != nil {
		p.Release()
		return nil, err
	}
	p.console, p.stdout, p.files = console, out, []*os.File{console.in, out}
	l.console = console.h
	if err := p.launch(l, [3]*os.File{}); err != nil {
		p.Release()
		return nil, err
	}
	if req.Stdin {
		// The host's EOF must not close the console: the command would
		// lose its terminal.
		p.stdin = keepOpen{console.in}
	}
	return p, nil
}

// keepOpen is a writer whose Close does nothing.
type keepOpen struct{ io.Writer }

func (keepOpen) Close() error { return nil }
