//go:build windows

package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fakeIO stands in for the vioserial driver behind one handle: a host
// that comes and goes, a queue that is full for a number of writes,
// writes that cannot be cancelled, and a handle that dies.
type fakeIO struct {
	mu      sync.Mutex
	host    bool
	dead    bool
	full    int           // writes that fail with ERROR_CANT_WAIT before one goes
	hold    chan struct{} // non-nil: writes pend until it is closed, whatever cancels them
	written bytes.Buffer
	died    chan struct{} // closed when the handle dies
	in      chan []byte   // what the host sends, a read each
}

func newFakeIO(host bool) *fakeIO {
	return &fakeIO{host: host, died: make(chan struct{}), in: make(chan []byte, 16)}
}

// errGone is what a dead handle gives: the device was removed.
var errGone = windows.ERROR_DEVICE_REMOVED

func (f *fakeIO) setHost(up bool) { f.mu.Lock(); f.host = up; f.mu.Unlock() }

func (f *fakeIO) kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dead {
		f.dead = true
		close(f.died)
	}
}

func (f *fakeIO) hostConnected() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return false, errGone
	}
	return f.host, nil
}

func (f *fakeIO) read(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error) {
	if up, err := f.hostConnected(); err != nil || !up {
		if err == nil {
			err = windows.ERROR_NO_SYSTEM_RESOURCES // vioserial's "no host"
		}
		return 0, err
	}
	done, cancelled, watched := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		if cancelWhen(done) {
			close(cancelled)
		}
	}()
	defer func() { close(done); <-watched }()
	select {
	case data := <-f.in:
		return uint32(copy(b, data)), nil
	case <-cancelled:
		return 0, windows.ERROR_OPERATION_ABORTED
	case <-f.died:
		return 0, errGone
	}
}

func (f *fakeIO) write(b []byte, _ func(done <-chan struct{}) bool) (uint32, error) {
	f.mu.Lock()
	hold := f.hold
	switch {
	case f.dead:
		f.mu.Unlock()
		return 0, errGone
	case !f.host || f.full > 0:
		f.full = max(f.full-1, 0)
		f.mu.Unlock()
		return 0, windows.ERROR_CANT_WAIT
	}
	f.mu.Unlock()
	if hold != nil {
		<-hold // as vioserial: CancelIoEx does nothing to a write
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written.Write(b)
	return uint32(len(b)), nil
}

func (f *fakeIO) close() error { return nil }

func nextWithin(t *testing.T, p Port, d time.Duration) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	c, err := p.Next(ctx)
	if err != nil {
		t.Fatalf("next connection: %v", err)
	}
	return c
}

// TestPortWaitsForHost: a connection is handed out only once the driver
// says a host is connected.
func TestPortWaitsForHost(t *testing.T) {
	f := newFakeIO(false)
	p := &virtioPort{h: f, name: "fake"}
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*hostPoll)
	if _, err := p.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next without a host: %v, want it to wait", err)
	}
	cancel()
	f.setHost(true)
	c := nextWithin(t, p, 3*hostPoll)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestPortWriteQueueFull: ERROR_CANT_WAIT is a full queue while a host is
// there (the write goes on) and no host once it has gone (the write
// fails).
func TestPortWriteQueueFull(t *testing.T) {
	f := newFakeIO(true)
	p := &virtioPort{h: f, name: "fake"}
	defer p.Close()
	c := nextWithin(t, p, time.Second)
	f.mu.Lock()
	f.full = 5
	f.mu.Unlock()
	if n, err := c.Write([]byte("through a full queue")); err != nil || n != 20 || f.written.String() != "through a full queue" {
		t.Fatalf("write: %d, %v; written %q", n, err, f.written.String())
	}
	f.mu.Lock()
	f.full = 1 << 30
	f.mu.Unlock()
	time.AfterFunc(50*time.Millisecond, func() { f.setHost(false) })
	if _, err := c.Write([]byte("nobody")); !errors.Is(err, errNoHost) {
		t.Fatalf("write once the host has gone: %v, want %v", err, errNoHost)
	}
}

// TestPortCloseWithPendingWrite: a write vioserial will not cancel holds
// neither the connection's Close nor the port's for good.
func TestPortCloseWithPendingWrite(t *testing.T) {
	f := newFakeIO(true)
	f.hold = make(chan struct{})
	defer close(f.hold)
	p := &virtioPort{h: f, name: "fake"}
	c := nextWithin(t, p, time.Second)
	go c.Write([]byte("stuck"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	c.Close()
	p.Close()
	if d := time.Since(start); d > closeWait+time.Second {
		t.Fatalf("close took %v with a write pending", d)
	}
}

// TestPortReopens: a device that is missing is waited for, and one whose
// handle dies is opened again; the next connection works, and the log
// has one line at Info a minute, its retries at Debug.
func TestPortReopens(t *testing.T) {
	var mu sync.Mutex
	var handles []*fakeIO
	missing := 3 // opens that fail before the device appears
	open := func() (Port, error) {
		mu.Lock()
		defer mu.Unlock()
		if missing > 0 {
			missing--
			return nil, fmt.Errorf("open fake: %w", windows.ERROR_FILE_NOT_FOUND)
		}
		f := newFakeIO(true)
		handles = append(handles, f)
		return &virtioPort{h: f, name: "fake"}, nil
	}
	var log syncBuffer
	p := newReopenPort(open, log.logger())
	p.min = 10 * time.Millisecond
	defer p.Close()

	c := nextWithin(t, p, 5*time.Second)
	if got := log.atInfo(); got != 1 {
		t.Fatalf("%d lines above Debug while the device was missing, want 1:\n%s", got, log.String())
	}
	mu.Lock()
	first := handles[0]
	mu.Unlock()
	first.kill()
	buf := make([]byte, 8)
	if _, err := c.Read(buf); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read on a dead handle: %v, want its failure", err)
	}
	c.Close()

	c = nextWithin(t, p, 5*time.Second)
	mu.Lock()
	n, second := len(handles), handles[len(handles)-1]
	mu.Unlock()
	if n != 2 {
		t.Fatalf("%d opens of the device, want 2", n)
	}
	second.in <- []byte("ping")
	if k, err := c.Read(buf); err != nil || string(buf[:k]) != "ping" {
		t.Fatalf("read after the reopen: %q, %v", buf[:k], err)
	}
	if got := log.atInfo(); got != 1 {
		t.Fatalf("%d lines above Debug after a loss, want still 1 (one a minute):\n%s", got, log.String())
	}
}

// TestPortArrivals: the notification filter has cfgmgr32's size, and
// registering works or says it cannot (Wine's cfgmgr32 has no
// CM_Register_Notification), without failing the port.
func TestPortArrivals(t *testing.T) {
	if n := unsafe.Sizeof(cmNotifyFilter{}); n != 416 {
		t.Fatalf("CM_NOTIFY_FILTER is %d bytes here, 416 in cfgmgr32.h", n)
	}
	ch, stop := portArrivals(slog.New(slog.DiscardHandler))
	defer stop()
	t.Logf("device notifications: %v", ch != nil)
}
