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
	stop    func() // idempotent
	keys    *keyWatch
	stdin   *os.File // the command's stdin: what keys forwards

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
	intr := interruptKey(in)
	if err := t.raw(); err != nil {
		return nil, err
	}
	keys, stdin, err := watchKeys(in, intr)
	if err != nil {
		t.pause()
		return nil, err
	}
	t.keys, t.stdin = keys, stdin
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
	var once sync.Once
	t.stop = func() {
		once.Do(func() {
			signal.Stop(winch)
			close(done)
			wg.Wait()
			t.keys.stop()
			_ = t.stdin.Close()
			t.pause()
		})
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
	st, err := term.GetState(int(t.in.Fd()))
	if err != nil {
		return err
	}
	if err := suspendOnlyRaw(int(t.in.Fd())); err != nil {
		return err
	}
	t.state = st
	t.msgs.SetRaw(true)
	return nil
}

// suspendOnlyRaw puts the terminal in raw mode but for one key: the
// suspend character (Ctrl-Z) still stops the job here, as SPEC's job
// control wants on every target (the relay stops the remote command and
// bash sees the job stopped). Ctrl-C and Ctrl-\ go to the remote terminal
// as bytes, whose own line discipline signals the remote foreground group,
// so that a full-screen program there reads them as keys.
func suspendOnlyRaw(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	if tio.Lflag&unix.ISIG != 0 && tio.Cc[unix.VSUSP] != 0 {
		// _POSIX_VDISABLE (0 on Linux) turns the other signal keys off.
		tio.Cc[unix.VINTR], tio.Cc[unix.VQUIT] = 0, 0
	} else {
		tio.Lflag &^= unix.ISIG
	}
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
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

// resume goes back to raw mode after a stop, when the job is continued in
// the foreground (fg); continued in the background (bg), the terminal is
// not the job's, and a change of its mode would stop the stand-in
// (SIGTTOU).
func (t *terminal) resume() {
	if fg, err := unix.IoctlGetInt(int(t.in.Fd()), unix.TIOCGPGRP); err != nil || fg != unix.Getpgrp() {
		return
	}
	_ = t.raw()
}

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
