//go:build windows

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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
//   - Pending reads can be cancelled; writes cannot since virtio-win
//     3aadeb82 (2021): CancelIoEx on a write does nothing, and the write
//     ends when the host reads it or goes away. So closing a connection
//     waits for its writes only a while (closeWait), and shutdown never
//     waits for one.
//   - A driver update or a hot-unplug kills the handle: every call then
//     fails. The port is then opened again (reopenPort), with a back-off,
//     as it is waited for while it does not exist.

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
	// closeWait bounds how long closing a connection waits for its
	// pending writes, which cannot be cancelled.
	closeWait = 2 * time.Second
)

// errNoHost is why a write fails when the host has gone.
var errNoHost = errors.New("no host is connected to the port")

// portIO is the vioserial driver as the port uses it, through one open
// handle: a seam, so that tests can stand in for the driver (a host that
// comes and goes, a full queue, a handle that dies).
type portIO interface {
	// hostConnected asks the driver whether a host has the port open.
	hostConnected() (bool, error)
	// read and write run one operation and wait for it; it is
	// cancelled when cancelWhen returns true, which a write ignores.
	read(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error)
	write(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error)
	close() error
}

// virtioPort is the agent's virtio-serial port on one open handle: one
// device for host after host, each a portConn in turn.
type virtioPort struct {
	h    portIO
	name string

	mu     sync.Mutex // guards the fields below and use of h outside a conn
	closed bool
	cur    *portConn
}

// OpenVirtioPort serves \\.\Global\NAME, the link the vioserial driver
// makes for a port named NAME. The device is opened when first needed,
// waited for while it is missing, and opened again if it dies.
func OpenVirtioPort(name string, log *slog.Logger) (Port, error) {
	p := newReopenPort(func() (Port, error) { return openVirtioHandle(name) }, log)
	p.changed, p.stop = portArrivals(log)
	return p, nil
}

// openVirtioHandle opens the port's device once.
func openVirtioHandle(name string) (Port, error) {
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
	return &virtioPort{h: handleIO{h}, name: path}, nil
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
		if why := prev.reason(); errors.Is(why, errPortGone) {
			return nil, why
		}
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
		up, ierr := p.h.hostConnected()
		p.mu.Unlock()
		if ierr == nil && up {
			return true, nil
		}
		if ierr != nil && !cannotTell(ierr) {
			return false, fmt.Errorf("%s: %w: %w", p.name, errPortGone, ierr)
		}
		if _, err := sleepCtx(ctx, hostPoll, nil); err != nil {
			return false, err
		}
		if ierr != nil {
			return false, nil
		}
	}
}

// cannotTell says whether the driver's failure to say if a host is there
// means it lacks the IOCTL (a driver of another make): reads find out
// then. Any other failure is a handle that no longer works.
func cannotTell(err error) bool {
	return errors.Is(err, windows.ERROR_INVALID_FUNCTION) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_INVALID_PARAMETER)
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
	if err := p.h.close(); err != nil {
		return fmt.Errorf("close %s: %w", p.name, err)
	}
	return nil
}

// portConn is one host's use of the port. Closing it cancels its pending
// reads and leaves the device open for the next host.
type portConn struct {
	h    portIO
	name string

	rmu, wmu sync.Mutex // one read, one write at a time: the driver's queues are in order
	rd, wd   deadline

	mu       sync.Mutex
	why      error         // why the connection ended; nil while it is open
	ended    chan struct{} // closed when it ends
	inflight int           // operations on the handle under way
	idle     chan struct{} // closed once it has ended and none is under way
	closed   bool          // Close has been called
}

func newPortConn(h portIO, name string) *portConn {
	return &portConn{h: h, name: name, ended: make(chan struct{}), idle: make(chan struct{})}
}

// begin registers an operation on the handle, unless the conn has ended;
// finish says it is over.
func (c *portConn) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why != nil {
		return c.why
	}
	c.inflight++
	return nil
}

func (c *portConn) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if c.inflight == 0 && c.why != nil {
		close(c.idle)
	}
}

// end ends the connection for why; the first reason stays.
func (c *portConn) end(why error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why == nil {
		c.why = why
		close(c.ended)
		if c.inflight == 0 {
			close(c.idle)
		}
	}
}

func (c *portConn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// Close cancels pending reads and waits until they are over, so that none
// of them takes the next host's bytes. A pending write cannot be
// cancelled: it is waited for closeWait at most, and left to end when the
// host reads it or goes away; the next host's handshake skips its bytes.
// A second Close does not wait again.
func (c *portConn) Close() error {
	c.mu.Lock()
	again := c.closed
	c.closed = true
	c.mu.Unlock()
	c.end(net.ErrClosed)
	wait := closeWait
	if again {
		wait = 0
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-c.idle:
	case <-t.C:
	}
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
		up, err := c.h.hostConnected()
		c.finish()
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
	defer c.finish()
	if len(b) == 0 {
		return 0, nil
	}
	if passed, _ := c.rd.state(); passed {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := c.h.read(b, c.cancelWhen(&c.rd))
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
	// Anything else is a handle that no longer works: the port is
	// opened again before the next host (reopenPort).
	err = fmt.Errorf("read %s: %w: %w", c.name, errPortGone, err)
	c.end(err)
	return int(n), err
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
	defer c.finish()
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
	n, err := c.h.write(b, c.cancelWhen(&c.wd))
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
	if up, err := c.h.hostConnected(); err == nil && !up {
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
