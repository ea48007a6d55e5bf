//go:build unix

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// devicePort serves hosts one after the other over one stream that
// outlives them: a virtio-serial port, or the agent's stdin and stdout.
type devicePort struct {
	r, w *os.File // the same file for a device
	// hangup says how the stream shows that no host is connected:
	// POLLHUP on a virtio-serial port; stdin's end is final instead.
	hangup bool
	eof    atomic.Bool // stdin has ended: no more hosts
	name   string
	// last is the host connection served before, once it is over: Serve
	// asks for the next only when every reader of the last has returned.
	last *deviceConn
}

// Stdio returns a port over the agent's stdin and stdout, for tests and
// for hosts that start the agent themselves (over ssh, say).
func Stdio() (Port, error) {
	in, err := pollable(os.Stdin)
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	out, err := pollable(os.Stdout)
	if err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	return &devicePort{r: in, w: out, name: "stdio"}, nil
}

// pollable makes a file non-blocking so that its reads can be interrupted
// with a deadline when a host's session ends.
func pollable(f *os.File) (*os.File, error) {
	fd := int(f.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func (p *devicePort) Concurrent() bool { return false }

func (p *devicePort) Close() error {
	err := p.r.Close()
	if p.w != p.r {
		err = errors.Join(err, p.w.Close())
	}
	return err
}

// Next waits until a host is connected. On a virtio-serial port, with no
// host the port polls as hung up; the bytes sent meanwhile stay queued and
// the handshake skips them.
//
// Nothing wakes a waiter when the host comes back (poll reports POLLHUP
// at once, read returns 0 at once), so Next polls: often just after a
// host has left, when the next one is likely to follow (spirit -c run
// again, a client that reconnects), then every 250 ms.
func (p *devicePort) Next(ctx context.Context) (net.Conn, error) {
	if p.eof.Load() {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wait := 5 * time.Millisecond
	for p.hangup {
		up, err := p.hostConnected()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if up {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
	p.r.SetDeadline(time.Time{})
	p.w.SetDeadline(time.Time{})
	c := &deviceConn{p: p}
	// The host may have changed without the agent seeing it leave (its
	// hangup and the next host's connect both came between two reads):
	// then the last session read the next host's first sync as yamux,
	// failed, and dropped it. Read the last session's last read again,
	// so that the handshake finds that sync rather than waiting for the
	// host to send another (0.5 s later); the handshake skips whatever
	// else is in it. Only the last read: an earlier one may hold the old
	// host's own handshake, which would be answered again. A session
	// that saw its host leave (a read of 0) hands nothing over.
	if last := p.last; last != nil && !last.hungUp {
		c.replay = last.lastRead
	}
	p.last = c
	return c, nil
}

func (p *devicePort) hostConnected() (bool, error) {
	fds := []unix.PollFd{{Fd: int32(p.r.Fd()), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		return fds[0].Revents&unix.POLLHUP == 0, nil
	}
}

// deviceConn is one host's use of the port. Closing it leaves the port
// open for the next host.
type deviceConn struct {
	p      *devicePort
	closed atomic.Bool
	// Used by one reader at a time (the handshake, then yamux).
	replay   []byte // read first: the last connection's last read
	lastRead []byte // the end of the last read that returned bytes
	hungUp   bool   // a read returned io.EOF
}

// keepRead bounds what a connection keeps of its last read: a host's
// first sync is 25 bytes, at its end.
const keepRead = 4 << 10

func (c *deviceConn) Read(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(c.replay) > 0 {
		n := copy(b, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	n, err := c.p.r.Read(b)
	if n > 0 {
		c.lastRead = append(c.lastRead[:0], b[max(0, n-keepRead):n]...)
	}
	if errors.Is(err, io.EOF) {
		// A virtio-serial port reads 0 bytes, io.EOF, when its host
		// disconnects: this host's session is over.
		c.hungUp = true
		if !c.p.hangup {
			c.p.eof.Store(true)
		}
	}
	return n, err
}

func (c *deviceConn) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.p.w.Write(b)
}

func (c *deviceConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	now := time.Now()
	c.p.r.SetDeadline(now)
	c.p.w.SetDeadline(now)
	return nil
}

func (c *deviceConn) LocalAddr() net.Addr                { return portAddr(c.p.name) }
func (c *deviceConn) RemoteAddr() net.Addr               { return portAddr(c.p.name) }
func (c *deviceConn) SetDeadline(t time.Time) error      { return c.p.r.SetDeadline(t) }
func (c *deviceConn) SetReadDeadline(t time.Time) error  { return c.p.r.SetReadDeadline(t) }
func (c *deviceConn) SetWriteDeadline(t time.Time) error { return c.p.w.SetWriteDeadline(t) }

type portAddr string

func (a portAddr) Network() string { return "virtio-serial" }
func (a portAddr) String() string  { return string(a) }
