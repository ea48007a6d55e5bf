package standin

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"spirit/target"
)

// exec runs the segment's text on its target, with the stand-in's own
// files, and returns the remote status.
//
// Signals: SIGINT, SIGTERM and SIGHUP cancel the remote command (the
// target signals it and everything it started, then kills what is left)
// and the stand-in dies of the same signal (128+N to bash). SIGTSTP stops the remote command where
// the target can (target.Command.Signals), restores the terminal, and stops the
// stand-in itself with SIGTSTP, so that bash sees its job stopped (148, as
// for a host command); SIGCONT
// continues the remote command and puts the terminal back in raw mode.
func (s *standin) exec(ctx context.Context, tg target.Target) int {
	if s.o.Targets.IsLocal(s.c.target) {
		return s.execHost()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := &target.Command{
		Text:    s.c.text,
		Env:     envOf(s.c.env),
		Stdin:   s.o.Stdin,
		Stdout:  s.o.Stdout,
		Stderr:  s.o.Stderr,
		Desktop: s.c.desktop,
	}
	term, err := s.terminal()
	if err != nil {
		s.o.Log.Debug("no pseudo-terminal for the command", "err", err)
	}
	if term != nil {
		defer term.stop()
		cmd.TTY = term.tty
		cmd.Stdin = term.stdin
	} else if in := s.o.Stdin; in != nil && isTerminal(in) {
		// The terminal without a pty (the segment's output goes on in a
		// pipeline): read only in the foreground as well.
		keys, stdin, err := watchKeys(in, 0)
		if err == nil {
			defer func() { keys.stop(); stdin.Close() }()
			cmd.Stdin = stdin
		}
	}
	relay := &relay{cancel: cancel, term: term, msgs: s.o.Messages}
	cmd.Signals = relay.remote()
	stop := relay.start()
	status, err := tg.Exec(ctx, cmd)
	stop()
	sig := relay.caught()
	if term != nil {
		if sig == 0 && err == nil && term.keys.lateInterrupt(status) {
			sig = syscall.SIGINT // a Ctrl-C the remote command was gone for
		}
		term.stop() // the terminal back in its mode before any death
	}
	if sig != 0 {
		dieOf(sig)
		return 128 + int(sig)
	}
	if err != nil {
		s.errorf("@%s: %v", s.c.target, err)
		if errors.Is(err, target.ErrNotFound) {
			return 127
		}
		return 125
	}
	return exitStatus(status)
}

// exitStatus is a remote status as a process's exit status, which has 8
// bits. A Windows exit code has 32: its low byte is kept (as ssh and
// wsl.exe pass it on), but one whose low byte is 0 (256, 0xC0000100)
// becomes 1, because a failure must never read as success.
func exitStatus(status int) int {
	if b := status & 0xff; b != 0 || status == 0 {
		return b
	}
	return 1
}

// execHost runs a segment whose @word, reached through an expansion, is
// the host's: bash runs it.
func (s *standin) execHost() int {
	err := syscall.Exec("/bin/bash", []string{"bash", "-c", s.c.text}, os.Environ())
	s.errorf("run /bin/bash: %v", err)
	return 126
}

// envOf returns NAME=value for each name set in the stand-in's
// environment: bash put the assignment prefixes there.
func envOf(names []string) []string {
	var env []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env = append(env, n+"="+v)
		}
	}
	return env
}

// relay turns the signals the stand-in gets into what the remote command
// must get.
type relay struct {
	cancel context.CancelFunc
	term   *terminal // nil when not on a terminal
	msgs   *LineWriter
	sigs   chan target.Signal // to the target; nil when it cannot stop

	mu  sync.Mutex
	sig syscall.Signal // guarded by mu: the signal that ended the run
}

// remote makes the channel on which the target gets STOP and CONT.
func (r *relay) remote() <-chan target.Signal {
	r.sigs = make(chan target.Signal)
	return r.sigs
}

func (r *relay) caught() syscall.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sig
}

// dieOf ends the stand-in by sig, once the remote command is gone: a
// non-interactive bash that gets SIGINT goes on after a child that exited
// 130, but stops when the child died of SIGINT, as every process that
// cleans up on a signal must then do.
// The runtime dies of the signal from a thread of its own: wait for it.
func dieOf(sig syscall.Signal) {
	signal.Reset(sig)
	_ = unix.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
}

// start listens for signals until stop is called, which also waits for
// the listener.
func (r *relay) start() (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGTSTP, syscall.SIGCONT)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				r.handle(sig.(syscall.Signal))
			}
		}
	})
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}

func (r *relay) handle(sig syscall.Signal) {
	switch sig {
	case syscall.SIGTSTP:
		r.send(target.SignalStop)
		if r.term != nil {
			r.term.pause()
		}
		// Only this process: the others of the job got SIGTSTP too.
		stopByTSTP() // bash sees the job stopped
	case syscall.SIGCONT:
		if r.term != nil {
			r.term.resume()
		}
		r.send(target.SignalCont)
	default:
		r.mu.Lock()
		if r.sig == 0 {
			r.sig = sig
		}
		r.mu.Unlock()
		r.cancel()
	}
}

// send hands a signal to the target without ever blocking the relay.
//
// It waits, up to syncWait, until the target has handled it (it then
// takes target.SignalSync), so that a stop reaches the remote command
// before the stand-in stops itself: a stopped stand-in sends nothing.
func (r *relay) send(sig target.Signal) {
	if r.sigs == nil {
		return
	}
	t := time.NewTimer(syncWait)
	defer t.Stop()
	for _, s := range []target.Signal{sig, target.SignalSync} {
		select {
		case r.sigs <- s:
		case <-t.C:
			return
		}
	}
}

// syncWait bounds the wait for a target to take a job-control signal (a
// Docker Engine exec of a kill script: a tenth of a second or so).
const syncWait = 3 * time.Second
