package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// goneOncePort hands out one connection, then reports its device gone.
type goneOncePort struct {
	mu   sync.Mutex
	used bool
}

func (p *goneOncePort) Next(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used {
		return nil, fmt.Errorf("fake: %w", errPortGone)
	}
	p.used = true
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func (p *goneOncePort) Concurrent() bool { return false }
func (p *goneOncePort) Close() error     { return nil }

// syncBuffer keeps a logger's lines, written by the port's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// atInfo counts the lines above Debug: those a service's event log gets.
func (b *syncBuffer) atInfo() int {
	s := b.String()
	return strings.Count(s, "level=INFO") + strings.Count(s, "level=WARN") + strings.Count(s, "level=ERROR")
}

// TestReopenPort: a missing device is waited for with a back-off, a dead
// one is opened again, and the log has one line at Info a minute, not one
// per try.
func TestReopenPort(t *testing.T) {
	var mu sync.Mutex
	opens, missing := 0, 4
	open := func() (Port, error) {
		mu.Lock()
		defer mu.Unlock()
		if missing > 0 {
			missing--
			return nil, fmt.Errorf("open fake: %w", fs.ErrNotExist)
		}
		opens++
		return &goneOncePort{}, nil
	}
	var log syncBuffer
	p := newReopenPort(open, log.logger())
	p.min = time.Millisecond
	defer p.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err := p.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if opens != 3 {
		t.Errorf("%d opens, want 3 (one per connection: each device died after one)", opens)
	}
	if n := strings.Count(log.String(), "level=INFO"); n != 1 {
		t.Errorf("%d lines at Info, want 1 (one a minute at most):\n%s", n, log.String())
	}
	p.Close()
	if _, err := p.Next(t.Context()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("next after close: %v, want %v", err, net.ErrClosed)
	}
}

// TestReopenPortNotified: a notification that a device arrived ends the
// wait for a missing one before its back-off.
func TestReopenPortNotified(t *testing.T) {
	var mu sync.Mutex
	present := false
	open := func() (Port, error) {
		mu.Lock()
		defer mu.Unlock()
		if !present {
			return nil, fmt.Errorf("open fake: %w", fs.ErrNotExist)
		}
		return &goneOncePort{}, nil
	}
	changed := make(chan struct{}, 1)
	p := newReopenPort(open, slog.New(slog.DiscardHandler))
	p.min, p.max, p.changed = time.Hour, time.Hour, changed
	defer p.Close()
	time.AfterFunc(100*time.Millisecond, func() {
		mu.Lock()
		present = true
		mu.Unlock()
		changed <- struct{}{}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := p.Next(ctx)
	if err != nil {
		t.Fatalf("next after the device arrived: %v (the back-off is an hour)", err)
	}
	c.Close()
}
