package shell

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// termSignals end a shell: it stops what runs, restores the terminal and
// exits with 128+N.
func termSignals() []os.Signal { return []os.Signal{syscall.SIGTERM, syscall.SIGHUP} }

// caught remembers the first signal that ended a context.
type caught struct {
	mu  sync.Mutex
	sig os.Signal // guarded by mu
}

// status is 128+N for a caught signal N, 0 when none was caught.
func (c *caught) status() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 0
}

// catchSignals returns a context cancelled by the first of sigs, and what
// was caught. stop ends the catching and waits for its goroutine.
func catchSignals(ctx context.Context, sigs ...os.Signal) (context.Context, *caught, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	c := &caught{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case s := <-ch:
			c.mu.Lock()
			c.sig = s
			c.mu.Unlock()
			cancel()
		case <-done:
		}
	})
	stop := func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
		cancel()
	}
	return ctx, c, stop
}

// neverStopped keeps the job-control signals from stopping spirit, and a
// SIGINT from ending it: in an interactive shell the terminal's signals
// are for the job in the foreground (bash's), and spirit waits for bash,
// whatever it does with them. They are caught, never ignored: an ignored
// signal would stay ignored in bash and in every job it starts. A caught
// signal nobody reads is dropped. The returned function stops catching.
func neverStopped() func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, os.Interrupt)
	return func() { signal.Stop(ch) }
}
