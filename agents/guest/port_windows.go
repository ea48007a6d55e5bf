//go:build windows

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/windows"
)

// What this file relies on about the vioserial driver (virtio-win's
// vioserial/sys, read from its source; not tried on a Windows guest):
//
//   - The port is an exclusive device: one handle at a time, so reads and
//     writes share it. An *os.File would not do: Go serialises a regular
//     file's Read and Write (internal/poll's readWriteLock), so a pending
//     read would block every write. Hence overlapped I/O done here.
//   - A read with no data while no host is connected fails at once
//     (STATUS_INSUFFICIENT_RESOURCES, ERROR_NO_SYSTEM_RESOURCES); with a
//     host it pends, and stays pending if the host goes away.
//   - A write fails at once with STATUS_CANT_WAIT (ERROR_CANT_WAIT) when
//     no host is connected or the virtqueue is full, and with
//     STATUS_INSUFFICIENT_RESOURCES when the buffer needs more than the
//     128 scatter-gather descriptors the driver allows (one a page).
//   - IOCTL_GET_INFORMATION says whether a host is connected.
//   - Pending reads and writes can be cancelled.

const (
	// ioctlGetInformation is vioserial's IOCTL_GET_INFORMATION:
	// CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_OUT_DIRECT,
	// FILE_ANY_ACCESS). It returns a VIRTIO_PORT_INFO: a UINT Id, then
	// BOOLEANs OutVqFull, HostConnected, GuestConnected, then the name.
	ioctlGetInformation   = 0x222002
	portInfoHostConnected = 5 // offset of HostConnected
	// portWriteMax bounds one write to the device: 64 pages, well under
	// the driver's 128 descriptors, even for a buffer not page aligned.
	portWriteMax = 256 << 10
	portWriteMin = 4 << 10
	// hostPoll is how often the port is asked whether a host is there.
	hostPoll = 500 * time.Millisecond
)

// errNoHost is why a write fails when the host has gone.
var errNoHost = errors.New("no host is connected to the port")

// virtioPort is the agent's virtio-serial port: one device for host after
// host, each a portConn in turn.
type virtioPort struct {
	h    windows.Handle
	name string

	mu     sync.Mutex // guards the fields below and use of h outside a conn
	closed bool
	cur    *portConn
}

// OpenVirtioPort opens \\.\Global\NAME, the link the vioserial driver
// makes for a port named NAME.
func OpenVirtioPort(name string) (Port, error) {
	path := `\\.\Global\` + name
	p16, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	h, err := windows.CreateFile(p16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		return nil, fmt.Errorf("open virtio-serial port %s: %w (is the VirtIO serial driver installed, the VM started with -device virtserialport,name=%s, and no other agent running?)", path, err, name)
	}
	return &virtioPort{h: h, name: path}, nil
}

func (p *virtioPort) Concurrent() bool { return false }

// Next ends the previous host's connection, waits until a host is
// connected and returns a connection for it.
func (p *virtioPort) Next(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	prev := p.cur
	p.cur = nil
	p.mu.Unlock()
	if prev != nil {
		prev.Close() // its I/O must be over before the next host's starts
	}
	watch, err := p.waitHost(ctx)
	if err != nil {
		return nil, err
	}
	c := newPortConn(p.h, p.name)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	p.cur = c
	if watch {
		go c.watchHost()
	}
	return c, nil
}

// waitHost polls until a host is connected. It reports false when the
// driver cannot tell (an IOCTL it lacks): then it waits one poll, so that
// a port without host is retried at that pace, and lets reads find out.
func (p *virtioPort) waitHost(ctx context.Context) (watch bool, err error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return false, net.ErrClosed
		}
		up, ierr := hostConnected(p.h)
		p.mu.Unlock()
		if ierr == nil && up {
			return true, nil
		}
		if err := sleepCtx(ctx, hostPoll); err != nil {
			return false, err
		}
		if ierr != nil {
			return false, nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close ends the current connection and closes the device.
func (p *virtioPort) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	cur := p.cur
	p.cur = nil
	p.mu.Unlock()
	if cur != nil {
		cur.Close()
	}
	if err := windows.CloseHandle(p.h); err != nil {
		return fmt.Errorf("close %s: %w", p.name, err)
	}
	return nil
}

// hostConnected asks the driver whether a host has the port open.
func hostConnected(h windows.Handle) (bool, error) {
	// Room for the port's name after the fixed part, which the driver
	// otherwise reports as an overflow.
	info := make([]byte, 512)
	n, err := overlappedIO(h, info, nil, func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.DeviceIoControl(h, ioctlGetInformation, nil, 0, &info[0], uint32(len(info)), &ignored, ov)
	})
	if err != nil {
		return false, fmt.Errorf("port information: %w", err)
	}
	if n <= portInfoHostConnected {
		return false, fmt.Errorf("port information: %d bytes, too short", n)
	}
	return info[portInfoHostConnected] != 0, nil
}

// overlappedIO runs one overlapped operation that start begins on h, and
// waits for it to end. When cancelWhen (if not nil) returns true, the
// operation is cancelled; whatever it completed before counts. buf is the
// memory the operation uses, pinned until it is over.
func overlappedIO(h windows.Handle, buf []byte, cancelWhen func(done <-chan struct{}) bool, start func(*windows.Overlapped) error) (uint32, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("create event: %w", err)
	}
	defer windows.CloseHandle(ev)
	// The kernel writes to ov and buf after start returns: they must
	// stay where they are, and alive, until the operation is over.
	ov := &windows.Overlapped{HEvent: ev}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(ov)
	if len(buf) > 0 {
		pin.Pin(&buf[0])
	}
	if err := start(ov); err != nil && err != windows.ERROR_IO_PENDING {
		return 0, err
	}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if cancelWhen != nil && cancelWhen(done) {
			windows.CancelIoEx(h, ov)
		}
	}()
	var n uint32
	err = windows.GetOverlappedResult(h, ov, &n, true)
	close(done)
	<-watched // no CancelIoEx on ov once it may be reused
	return n, err
}

// portConn is one host's use of the port. Closing it cancels its pending
// I/O and leaves the device open for the next host.
type portConn struct {
	h    windows.Handle
	name string

	rmu, wmu sync.Mutex // one read, one write at a time: the driver's queues are in order
	rd, wd   deadline

	mu       sync.Mutex
	why      error         // why the connection ended; nil while it is open
	ended    chan struct{} // closed when it ends
	inflight sync.WaitGroup
}

func newPortConn(h windows.Handle, name string) *portConn {
	return &portConn{h: h, name: name, ended: make(chan struct{})}
}

// begin registers an operation on the handle, unless the conn has ended.
func (c *portConn) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why != nil {
		return c.why
	}
	c.inflight.Add(1)
	return nil
}

// end ends the connection for why; the first reason stays.
func (c *portConn) end(why error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why == nil {
		c.why = why
		close(c.ended)
	}
}

func (c *portConn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// Close cancels pending reads and writes and waits until they are over,
// so that none of them takes the next host's bytes.
func (c *portConn) Close() error {
	c.end(net.ErrClosed)
	c.inflight.Wait()
	c.rd.set(time.Time{})
	c.wd.set(time.Time{})
	return nil
}

// watchHost ends the connection when its host goes away, which a pending
// read does not notice.
func (c *portConn) watchHost() {
	t := time.NewTicker(hostPoll)
	defer t.Stop()
	for {
		select {
		case <-c.ended:
			return
		case <-t.C:
		}
		if c.begin() != nil {
			return
		}
		up, err := hostConnected(c.h)
		c.inflight.Done()
		if err != nil {
			return // the driver cannot tell: reads will
		}
		if !up {
			c.end(errNoHost)
			return
		}
	}
}

// cancelWhen returns when the operation should be cancelled (true):
// the connection has ended or d has passed.
func (c *portConn) cancelWhen(d *deadline) func(done <-chan struct{}) bool {
	return func(done <-chan struct{}) bool {
		for {
			passed, changed := d.state()
			if passed {
				return true
			}
			select {
			case <-done:
				return false
			case <-c.ended:
				return true
			case <-changed:
			}
		}
	}
}

// abortErr says why an operation was cancelled.
func (c *portConn) abortErr(d *deadline) error {
	if why := c.reason(); why != nil {
		return why
	}
	if passed, _ := d.state(); passed {
		return os.ErrDeadlineExceeded
	}
	return windows.ERROR_OPERATION_ABORTED
}

func (c *portConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.begin(); err != nil {
		return 0, readErr(err)
	}
	defer c.inflight.Done()
	if len(b) == 0 {
		return 0, nil
	}
	if passed, _ := c.rd.state(); passed {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := overlappedIO(c.h, b, c.cancelWhen(&c.rd), func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.ReadFile(c.h, b, &ignored, ov)
	})
	switch {
	case err == nil && n == 0:
		return 0, io.EOF // the host has gone
	case err == nil:
		return int(n), nil
	case errors.Is(err, windows.ERROR_OPERATION_ABORTED):
		return int(n), readErr(c.abortErr(&c.rd))
	case errors.Is(err, windows.ERROR_NO_SYSTEM_RESOURCES):
		return 0, io.EOF // no host connected (any more)
	}
	return int(n), fmt.Errorf("read %s: %w", c.name, err)
}

// readErr makes the host's going away the end of the stream.
func readErr(err error) error {
	if errors.Is(err, errNoHost) {
		return io.EOF
	}
	return err
}

// Write writes b in pieces the driver takes, one after the other.
func (c *portConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.begin(); err != nil {
		return 0, err
	}
	defer c.inflight.Done()
	written := 0
	piece := portWriteMax
	for len(b) > 0 {
		n, err := c.writePiece(b[:min(len(b), piece)])
		written += n
		b = b[n:]
		switch {
		case err == nil:
		case errors.Is(err, windows.ERROR_CANT_WAIT), errors.Is(err, windows.ERROR_NO_SYSTEM_RESOURCES):
			// Full queue, or a piece too big: try smaller, if
			// there is a host to take it.
			if err := c.backOff(); err != nil {
				return written, err
			}
			piece = max(piece/2, portWriteMin)
		default:
			return written, err
		}
	}
	return written, nil
}

func (c *portConn) writePiece(b []byte) (int, error) {
	if why := c.reason(); why != nil {
		return 0, why
	}
	if passed, _ := c.wd.state(); passed {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := overlappedIO(c.h, b, c.cancelWhen(&c.wd), func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.WriteFile(c.h, b, &ignored, ov)
	})
	switch {
	case err == nil && n == 0:
		return 0, windows.ERROR_CANT_WAIT
	case errors.Is(err, windows.ERROR_OPERATION_ABORTED):
		return int(n), c.abortErr(&c.wd)
	case errors.Is(err, windows.ERROR_CANT_WAIT), errors.Is(err, windows.ERROR_NO_SYSTEM_RESOURCES):
		return int(n), err
	case err != nil:
		return int(n), fmt.Errorf("write %s: %w", c.name, err)
	}
	return int(n), nil
}

// backOff waits a little before a write is tried again, unless the host
// has gone or the connection has ended.
func (c *portConn) backOff() error {
	if up, err := hostConnected(c.h); err == nil && !up {
		c.end(errNoHost)
	}
	if why := c.reason(); why != nil {
		return why
	}
	select {
	case <-c.ended:
		return c.reason()
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

func (c *portConn) LocalAddr() net.Addr  { return winPortAddr(c.name) }
func (c *portConn) RemoteAddr() net.Addr { return winPortAddr(c.name) }

func (c *portConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

func (c *portConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *portConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

type winPortAddr string

func (a winPortAddr) Network() string { return "virtio-serial" }
func (a winPortAddr) String() string  { return string(a) }

// deadline is one direction's deadline. Operations pending when it moves
// look again, so that a deadline set to now cuts them short, as with a
// net.Conn.
type deadline struct {
	mu      sync.Mutex
	at      time.Time
	timer   *time.Timer
	changed chan struct{} // closed, and replaced, when at changes or passes
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at = t
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if dur := time.Until(t); !t.IsZero() && dur > 0 {
		d.timer = time.AfterFunc(dur, d.poke)
	}
	d.pokeLocked()
}

func (d *deadline) poke() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pokeLocked()
}

func (d *deadline) pokeLocked() {
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// state says whether the deadline has passed, and gives a channel closed
// when that may have changed.
func (d *deadline) state() (passed bool, changed <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return !d.at.IsZero() && !time.Now().Before(d.at), d.changed
}

// Stdio returns a port over the agent's stdin and stdout, for tests and
// for hosts that start the agent themselves. It serves one host: a read
// of a Windows console or pipe cannot be cut short and resumed, so the
// first host's end is the port's.
func Stdio() (Port, error) {
	return &stdioPort{}, nil
}

type stdioPort struct {
	mu   sync.Mutex
	used bool
}

func (p *stdioPort) Concurrent() bool { return false }

func (p *stdioPort) Next(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used {
		return nil, io.EOF
	}
	p.used = true
	return &stdioConn{}, nil
}

func (p *stdioPort) Close() error { return nil }

// stdioConn is the one host on stdin and stdout. Closing it closes stdin,
// which is what ends a pending read.
type stdioConn struct {
	once sync.Once
}

func (c *stdioConn) Read(b []byte) (int, error)  { return os.Stdin.Read(b) }
func (c *stdioConn) Write(b []byte) (int, error) { return os.Stdout.Write(b) }

func (c *stdioConn) Close() error {
	c.once.Do(func() { os.Stdin.Close() })
	return nil
}

func (c *stdioConn) LocalAddr() net.Addr                { return winPortAddr("stdio") }
func (c *stdioConn) RemoteAddr() net.Addr               { return winPortAddr("stdio") }
func (c *stdioConn) SetDeadline(t time.Time) error      { return os.Stdin.SetDeadline(t) }
func (c *stdioConn) SetReadDeadline(t time.Time) error  { return os.Stdin.SetReadDeadline(t) }
func (c *stdioConn) SetWriteDeadline(t time.Time) error { return os.Stdout.SetWriteDeadline(t) }
