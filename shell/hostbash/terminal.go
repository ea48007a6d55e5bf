package hostbash

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// terminal hands the controlling terminal between spirit's process group
// (which reads keys at the prompt) and bash's (which owns it while a line
// runs, and hands it on to each foreground job).
type terminal struct {
	fd   int
	self int // spirit's process group
}

func newTerminal(f *os.File) (*terminal, error) {
	if f == nil {
		return nil, fmt.Errorf("an interactive bash needs a terminal")
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err != nil {
		return nil, fmt.Errorf("%s is not the controlling terminal: %w", f.Name(), err)
	}
	return &terminal{fd: fd, self: unix.Getpgrp()}, nil
}

// give makes pgid the terminal's foreground group.
func (t *terminal) give(pgid int) error { return setForeground(t.fd, pgid) }

// takeBack makes spirit's group the foreground one again. It cannot fail
// in a way worth reporting on a terminal that is still there.
func (t *terminal) takeBack() { _ = setForeground(t.fd, t.self) }

// setForeground is tcsetpgrp. A process outside the foreground group that
// calls it gets SIGTTOU unless it ignores or blocks it; spirit catches
// SIGTTOU (it must never stop, and an ignored signal would stay ignored in
// bash's jobs), and a caught one would only make the kernel restart the
// call and signal again. So SIGTTOU is blocked on this thread for the
// call, which the kernel takes as ignored.
func setForeground(fd, pgid int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var block, old unix.Sigset_t
	sig := uint(unix.SIGTTOU) - 1
	block.Val[sig/64] |= 1 << (sig % 64)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return fmt.Errorf("block SIGTTOU: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgid); err != nil {
		return fmt.Errorf("tcsetpgrp %d: %w", pgid, err)
	}
	return nil
}
