package guest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// attachWait bounds how long an exec and its standard-file streams wait for
// each other: the client opens them all at once, so only a broken client
// makes them wait at all.
const attachWait = 10 * time.Second

// attachments pairs an exec's control stream with the streams of its
// standard files, which arrive separately and in any order.
type attachments struct {
	wait    time.Duration // attachWait, shorter in tests
	mu      sync.Mutex
	pending map[string]*pendingExec
}

// pendingExec collects the streams of one exec ID.
type pendingExec struct {
	fds  [3]chan net.Conn // each holds at most one stream
	done chan struct{}    // closed when the exec no longer needs its streams
	once sync.Once        // closes done
}

func newAttachments() *attachments {
	return &attachments{wait: attachWait, pending: map[string]*pendingExec{}}
}

// get returns the exec ID's entry, making it if needed. The table is
// bounded like the streams that fill it.
func (a *attachments) get(id string) (*pendingExec, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.pending[id]; p != nil {
		return p, nil
	}
	if len(a.pending) >= maxPending {
		return nil, errors.New("too many execs waiting for their streams")
	}
	p := &pendingExec{done: make(chan struct{})}
	for i := range p.fds {
		p.fds[i] = make(chan net.Conn, 1)
	}
	a.pending[id] = p
	return p, nil
}

// maxPending bounds the exec IDs waiting for their streams on one
// connection: every entry holds at least one open stream.
const maxPending = 256

func (a *attachments) drop(id string, p *pendingExec) {
	a.mu.Lock()
	if a.pending[id] == p {
		delete(a.pending, id)
	}
	a.mu.Unlock()
}

// offer hands the stream for fd to exec id and waits until the exec is
// done with it, so the caller keeps owning the stream's lifetime.
func (a *attachments) offer(ctx context.Context, id string, fd int, st net.Conn) error {
	p, err := a.get(id)
	if err != nil {
		return err
	}
	select {
	case p.fds[fd] <- st:
	default:
		return fmt.Errorf("exec %s: fd %d attached twice", id, fd)
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	// attachWait bounds the wait for the exec to take the stream, not
	// the exec's run: a stream the exec has taken is its own until it
	// is done, however long it runs.
	select {
	case <-p.fds[fd]:
		// The exec never came: take the entry away.
		a.drop(id, p)
		return fmt.Errorf("exec %s: no exec request came for fd %d", id, fd)
	default:
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// claim waits for the streams an exec needs; need[fd] says which.
func (a *attachments) claim(ctx context.Context, id string, need [3]bool) (*pendingExec, [3]net.Conn, error) {
	var got [3]net.Conn
	p, err := a.get(id)
	if err != nil {
		return nil, got, err
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	for fd, want := range need {
		if !want {
			continue
		}
		select {
		case got[fd] = <-p.fds[fd]:
		case <-ctx.Done():
			a.release(id, p)
			return nil, got, ctx.Err()
		case <-t.C:
			a.release(id, p)
			return nil, got, fmt.Errorf("exec %s: the stream for fd %d never came", id, fd)
		}
	}
	return p, got, nil
}

// refuse lets go of the streams that came for an exec that will not run.
// Streams that come after it wait out attachWait.
func (a *attachments) refuse(id string) {
	a.mu.Lock()
	p := a.pending[id]
	a.mu.Unlock()
	if p != nil {
		a.release(id, p)
	}
}

// release ends the exec's use of its streams.
func (a *attachments) release(id string, p *pendingExec) {
	a.drop(id, p)
	p.once.Do(func() { close(p.done) })
}
