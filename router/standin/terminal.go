package standin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"spirit/target"
)

// terminal is the local terminal of a segment that runs alone on it: raw
// mode while the remote pseudo-terminal runs, window sizes forwarded.
type terminal struct {
	in, out *os.File
	msgs    *LineWriter
	tty     *target.TTY
	stop    func()

	mu    sync.Mutex
	state *term.State // guarded by mu: the mode to restore; nil while not raw
}

// terminal returns the segment's terminal when its stdin and stdout are
// the terminal and the stand-in is in the terminal's foreground (a
// background job must not take it); nil otherwise.
func (s *standin) terminal() (*terminal, error) {
	in, out := s.o.Stdin, s.o.Stdout
	if in == nil || out == nil || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return nil, nil
	}
	fg, err := unix.IoctlGetInt(int(in.Fd()), unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return nil, errors.New("not in the terminal's foreground")
	}
	size, err := winSize(out)
	if err != nil {
		return nil, err
	}
	t := &terminal{in: in, out: out, msgs: s.o.Messages}
	if err := t.raw(); err != nil {
		return nil, err
	}
	resize := make(chan target.WinSize, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(resize)
		for {
			select {
			case <-done:
				return
			case <-winch:
				if sz, err := winSize(out); err == nil {
					select {
					case resize <- sz:
					case <-done:
						return
					}
				}
			}
		}
	})
	t.tty = &target.TTY{Size: size, Resize: resize}
	t.stop = func() {
		signal.Stop(winch)
		close(done)
		wg.Wait()
		t.pause()
	}
	return t, nil
}

// raw puts the terminal in raw mode; messages then end lines with \r\n.
func (t *terminal) raw() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != nil {
		return nil
	}
	st, err := term.MakeRaw(int(t.in.Fd()))
	if err != nil {
		return err
	}
	t.state = st
	t.msgs.SetRaw(true)
	return nil
}

// pause restores the terminal's mode (at a stop and at the end).
func (t *terminal) pause() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == nil {
		return
	}
	_ = term.Restore(int(t.in.Fd()), t.state)
	t.state = nil
	t.msgs.SetRaw(false)
}

// resume goes back to raw mode after a stop.
func (t *terminal) resume() { _ = t.raw() }

func winSize(f *os.File) (target.WinSize, error) {
	cols, rows, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return target.WinSize{}, err
	}
	return target.WinSize{Rows: uint16(rows), Cols: uint16(cols)}, nil
}

// LineWriter writes messages to a terminal that may be in raw mode, where
// a "\n" only moves down: then each "\n" goes out as "\r\n", so that a
// line printed while a remote command owns the terminal (a VM's autostart
// progress) starts at column 0. Writes are serialised.
type LineWriter struct {
	w   io.Writer
	mu  sync.Mutex
	raw bool // guarded by mu
}

// NewLineWriter makes a LineWriter on w, not in raw mode.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

// SetRaw says whether the terminal is in raw mode.
func (l *LineWriter) SetRaw(raw bool) {
	l.mu.Lock()
	l.raw = raw
	l.mu.Unlock()
}

func (l *LineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return len(p), nil
	}
	if !l.raw {
		return l.w.Write(p)
	}
	fixed := bytes.ReplaceAll(bytes.ReplaceAll(p, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	if _, err := l.w.Write(fixed); err != nil {
		return 0, err
	}
	return len(p), nil
}

// suspendKey is Ctrl-Z, the terminal's VSUSP character by default.
const suspendKey = 0x1a

// suspendReader reads the terminal for a command under a remote pty: in
// raw mode Ctrl-Z is a byte like any other, which would stop the remote
// command alone and leave the local job running. It takes the key out of
// the stream and suspends the job here instead, as the terminal does for a
// local command: the remote command is stopped and bash sees the stand-in
// stopped.
type suspendReader struct {
	r       io.Reader
	suspend func()
	rest    []byte // what followed a Ctrl-Z in the last read
}

func (s *suspendReader) Read(p []byte) (int, error) {
	if len(s.rest) == 0 {
		n, err := s.r.Read(p)
		if n == 0 {
			return n, err
		}
		s.rest = append(s.rest[:0], p[:n]...)
	}
	i := bytes.IndexByte(s.rest, suspendKey)
	if i == 0 {
		s.rest = s.rest[1:]
		s.suspend() // returns once the job is continued
		return 0, nil
	}
	if i < 0 {
		i = len(s.rest)
	}
	n := copy(p, s.rest[:i])
	s.rest = s.rest[n:]
	return n, nil
}
