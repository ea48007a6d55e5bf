package standin

import (
	"bytes"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"spirit/internal/fdcopy"
)

// lateKeyWindow is how long before the remote command's reported end an
// interrupt key it was sent counts as come too late for it. The exit of
// a remote command reaches the host some milliseconds after its last
// output (25 ms or so through a container's agent here); a Ctrl-C typed
// on seeing that output lands in raw mode, goes to a remote terminal whose
// command is gone, and would be lost, while the user meant to stop the
// line (`@docker:c echo started; sleep 100`).
const lateKeyWindow = 250 * time.Millisecond

// keyWatch copies the terminal to the remote command through a pipe and
// notes when it last forwarded the interrupt key (the terminal's VINTR,
// Ctrl-C), so that a Ctrl-C that reached only a command already gone can
// be taken as the host's (see lateInterrupt).
type keyWatch struct {
	intr byte // the interrupt key; 0 when the terminal has none

	mu   sync.Mutex
	last time.Time // guarded by mu: when intr was last forwarded

	w    *os.File // the pipe's writing end
	done chan struct{}
	wg   sync.WaitGroup
}

// watchKeys starts copying in (the terminal) to a pipe whose reading end
// it returns as the command's stdin; intr is taken from the terminal's
// mode before raw mode. stop ends the copy (no byte is read from the
// terminal after it) and closes the pipe.
func watchKeys(in *os.File, intr byte) (*keyWatch, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	k := &keyWatch{intr: intr, w: w, done: make(chan struct{})}
	k.wg.Go(func() {
		// Only while the job has the terminal: continued in the
		// background (bg), it would be stopped by SIGTTIN at the first
		// key typed at the prompt, where bash stops a background job
		// only when its command reads.
		_, _ = fdcopy.FromFileWhen(k, in, k.done, func() bool { return isForeground(in) })
		_ = w.Close()
	})
	return k, r, nil
}

// isForeground reports whether this process's group has the terminal f.
func isForeground(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	fg := -1
	_ = rc.Control(func(fd uintptr) { fg, _ = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP) })
	return fg == unix.Getpgrp()
}

// Write forwards p to the command, noting an interrupt key in it.
func (k *keyWatch) Write(p []byte) (int, error) {
	if k.intr != 0 && bytes.IndexByte(p, k.intr) >= 0 {
		k.mu.Lock()
		k.last = time.Now()
		k.mu.Unlock()
	}
	return k.w.Write(p)
}

// stop ends the copy and waits for it.
func (k *keyWatch) stop() {
	close(k.done)
	k.wg.Wait()
}

// lateInterrupt reports whether an interrupt key was forwarded within
// lateKeyWindow before now, when the command has ended without dying of
// SIGINT: the key came too late for it and is the host's.
func (k *keyWatch) lateInterrupt(status int) bool {
	if status == 128+int(unix.SIGINT) {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.last.IsZero() && time.Since(k.last) < lateKeyWindow
}

// interruptKey is the terminal's VINTR when its signals are on, else 0.
func interruptKey(f *os.File) byte {
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ISIG == 0 {
		return 0
	}
	return tio.Cc[unix.VINTR]
}

func isTerminal(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	is := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		is = err == nil
	})
	return is
}
