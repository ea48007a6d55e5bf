package router

import (
	"os"
	"os/signal"
	"spirit/target"
	"sync"
	"syscall"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// rawTerminal puts the local terminal in raw mode for a command that runs
// under a pseudo-terminal on its target and forwards window-size changes.
// stop restores the terminal and ends the forwarding.
func rawTerminal(in, out *os.File) (*target.TTY, func(), error) {
	size, err := winSize(out)
	if err != nil {
		return nil, nil, err
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, nil, err
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
				if s, err := winSize(out); err == nil {
					select {
					case resize <- s:
					case <-done:
						return
					}
				}
			}
		}
	})
	stop := func() {
		signal.Stop(winch)
		close(done)
		wg.Wait()
		_ = term.Restore(int(in.Fd()), state)
	}
	return &target.TTY{Size: size, Resize: resize}, stop, nil
}

func winSize(f *os.File) (target.WinSize, error) {
	cols, rows, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return target.WinSize{}, err
	}
	return target.WinSize{Rows: uint16(rows), Cols: uint16(cols)}, nil
}
