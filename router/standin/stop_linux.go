package standin

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stopByTSTP stops the stand-in as SIGTSTP's default action does, so
// that bash's $? is 148 (128+SIGTSTP) as for a host command stopped by
// Ctrl-Z; a SIGSTOP would give 147. Go's own handler of SIGTSTP is put
// aside for the moment (an action of all zeros is SIG_DFL on every
// architecture) and put back once the process is continued. The signal
// is aimed at this thread, with it unblocked, so that the stop happens
// before tgkill returns, while the default action is in place.
func stopByTSTP() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var dfl, old [8]uint64 // larger than any kernel's struct sigaction
	sig := uintptr(unix.SIGTSTP)
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
		return
	}
	var set, prev unix.Sigset_t
	n := uint(unix.SIGTSTP) - 1
	set.Val[n/64] |= 1 << (n % 64)
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, &prev)
	_ = unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGTSTP)
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &prev, nil)
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
}
