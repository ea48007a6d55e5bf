// Package client is the host's side of the agent protocol: a
// target.Target that runs commands and moves files through a spirit-agent
// over any byte stream.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/target"
)

// Options configure a Client.
type Options struct {
	// Name is the target's name, for messages ("a" in "@a").
	Name string
	// Dial opens a fresh byte stream to the agent. It is called on first
	// use and again after the connection is lost.
	Dial func(ctx context.Context) (net.Conn, error)
	// Version is spirit's, sent at the handshake.
	Version string
	Log     *slog.Logger
	// Paused reports whether the agent is known to be unable to answer
	// for now (its VM is paused): a missed ping is not a death then.
	Paused func() bool
	// Desktop runs every command as the user logged on to the guest's
	// desktop, as the option --desktop does for one ([vm.NAME.windows]
	// desktop = true).
	Desktop bool
	// Timings; zero means the default.
	HandshakeTimeout time.Duration // 10 s
	PingInterval     time.Duration // 1 s
	PingTimeout      time.Duration // 3 s
}

// Client reaches one agent. It holds one connection at a time, made on
// first use and made again after it is lost, and is safe for concurrent
// use: each request is its own stream.
type Client struct {
	o Options

	mu   sync.Mutex
	conn *conn  // nil until the first use, or after Close
	dir  string // working directory of later commands (--cd)
	// dialing is closed when the connection being made is made or has
	// failed; nil when none is being made. stopDial cancels it.
	dialing  chan struct{}
	stopDial context.CancelFunc

	closed bool
}

var (
	_ target.Target     = (*Client)(nil)
	_ target.Controller = (*Client)(nil)
	_ target.Systemer   = (*Client)(nil)
)

// New returns a client; it connects on first use.
func New(o Options) *Client {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Paused == nil {
		o.Paused = func() bool { return false }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.HandshakeTimeout, 10*time.Second)
	def(&o.PingInterval, time.Second)
	def(&o.PingTimeout, 3*time.Second)
	return &Client{o: o}
}

// conn is one connection's yamux session and what the agent said of
// itself.
type conn struct {
	mux   *yamux.Session
	guard *wire.Guard
	hello wire.Hello
	done  chan struct{} // closed when the keepalive has ended
	err   error         // why the connection ended, once done
}

// ErrLost is wrapped by errors of requests cut by a lost connection.
var ErrLost = errors.New("connection to the agent lost")

// connect returns the live connection, making a new one (with a fresh
// handshake) when there is none or it has died.
//
// The dial is made without the lock held (it may wait for a VM to boot),
// so that Reset and Close can cut it short; other callers wait for it
// and, if it failed, dial in turn.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errors.New("client closed")
		}
		if c.conn != nil && !c.conn.mux.IsClosed() {
			cn := c.conn
			c.mu.Unlock()
			return cn, nil
		}
		if wait := c.dialing; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		dctx, cancel := context.WithCancel(ctx)
		c.dialing, c.stopDial = done, cancel
		c.mu.Unlock()

		cn, err := c.dial(dctx)

		c.mu.Lock()
		c.dialing, c.stopDial = nil, nil
		close(done)
		cut := dctx.Err() != nil && ctx.Err() == nil // by Reset or Close
		cancel()
		switch {
		case err == nil && c.closed:
			cn.mux.Close()
			err = errors.New("client closed")
		case err == nil && cut:
			cn.mux.Close()
			fallthrough
		case cut:
			err = fmt.Errorf("%w: connection reset while it was being made", ErrLost)
		case err == nil:
			c.conn = cn
		}
		c.mu.Unlock()
		return cn, err
	}
}

func (c *Client) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.HandshakeTimeout)
	defer cancel()
	raw, err := c.o.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the agent: %w", err)
	}
	hello, mc, err := wire.HostSync(ctx, raw, wire.Hello{Proto: wire.Proto, Version: c.o.Version})
	if err != nil {
		raw.Close()
		return nil, err
	}
	mux, guard, err := wire.HostSession(ctx, mc)
	if err != nil {
		raw.Close()
		return nil, err
	}
	cn := &conn{mux: mux, guard: guard, hello: hello, done: make(chan struct{})}
	c.o.Log.Debug("agent connected", "target", c.o.Name, "version", hello.Version, "os", hello.OS, "host", hello.Hostname)
	go c.keepalive(cn)
	return cn, nil
}

// keepalive pings the agent until the connection ends, and ends it when
// the agent stops answering while it is not known to be paused. It owns
// nothing but the ping streams; the connection's end ends it.
func (c *Client) keepalive(cn *conn) {
	defer close(cn.done)
	t := time.NewTicker(c.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.mux.CloseChan():
			cn.err = c.ended(cn)
			return
		case <-t.C:
		}
		err := ping(cn.mux, c.o.PingTimeout)
		// An error frame is an answer too: an agent with all its
		// streams in use refuses the ping as busy, and is alive.
		var re *errcode.Error
		if err == nil || errors.As(err, &re) || c.o.Paused() {
			continue
		}
		if cn.mux.IsClosed() {
			cn.err = c.ended(cn)
			return
		}
		c.o.Log.Info("agent does not answer; dropping the connection", "target", c.o.Name, "err", err)
		cn.err = fmt.Errorf("%w: no answer to a ping in %v", ErrLost, c.o.PingTimeout)
		cn.mux.Close()
		return
	}
}

// ended is why a connection ended by itself: the agent lost it by a
// flood or a frame yamux does not know, or it was lost.
func (c *Client) ended(cn *conn) error {
	err := cn.guard.Err()
	if err == nil {
		return ErrLost
	}
	c.o.Log.Warn("agent broke the protocol; connection dropped", "target", c.o.Name, "err", err)
	return fmt.Errorf("%w: @%s: %w", ErrLost, c.o.Name, err)
}

// ping makes one request that starts nothing on the agent.
func ping(mux *yamux.Session, timeout time.Duration) error {
	st, err := mux.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(timeout))
	if err := wire.WriteFrame(st, wire.TRequest, wire.Request{Op: wire.OpPing}); err != nil {
		return err
	}
	var r wire.Reply
	return wire.Expect(st, wire.TOK, &r)
}

// open opens a stream on the live connection and sends its request.
func (c *Client) open(ctx context.Context, req wire.Request) (*conn, *yamux.Stream, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := cn.mux.OpenStream()
	if err != nil {
		return cn, nil, c.lost(cn, err)
	}
	if err := wire.WriteFrame(st, wire.TRequest, req); err != nil {
		st.Close()
		return cn, nil, c.lost(cn, err)
	}
	return cn, st, nil
}

// lost explains an error of a request: the connection's end if it has
// ended (a dead agent), else err itself.
func (c *Client) lost(cn *conn, err error) error {
	if cn.mux.IsClosed() {
		select {
		case <-cn.done:
			if cn.err != nil && !errors.Is(err, ErrLost) {
				return cn.err
			}
		case <-time.After(100 * time.Millisecond):
		}
		if !errors.Is(err, ErrLost) {
			return fmt.Errorf("%w (%v)", ErrLost, err)
		}
	}
	return err
}

// Hello returns what the agent said of itself at the last handshake,
// connecting if needed.
func (c *Client) Hello(ctx context.Context) (wire.Hello, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return wire.Hello{}, err
	}
	return cn.hello, nil
}

// Ping makes one request that starts nothing, and returns its round trip.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := ping(cn.mux, c.o.PingTimeout); err != nil {
		return 0, c.lost(cn, err)
	}
	return time.Since(start), nil
}

// Reset drops the connection, so that the next request makes a new one
// with a fresh handshake (after a snapshot is loaded, say).
func (c *Client) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopDial != nil {
		c.stopDial()
	}
	if c.conn != nil {
		c.conn.mux.Close()
		c.conn = nil
	}
}

// Close drops the connection; what it ran on the agent is killed there.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cn := c.conn
	c.conn = nil
	if c.stopDial != nil {
		c.stopDial()
	}
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	err := cn.mux.Close()
	<-cn.done
	return err
}
