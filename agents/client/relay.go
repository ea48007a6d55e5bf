package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
)

// A VM's agent takes one host connection at a time (a virtio-serial
// chardev has one end), so the VM's supervisor holds it and relays the
// requests of every shell that wants the VM: each shell speaks the agent
// protocol to the supervisor as if it were the agent.

// RelayOptions configure a Relay.
type RelayOptions struct {
	// Refuse, when it returns an error, makes the relay answer each new
	// request with that error instead of passing it on (the VM is paused:
	// the message says how to resume). Pings are answered all the same.
	// nil: never.
	Refuse func() error
}

// Relay serves the agent protocol on conn as if it were the agent, passing
// each request to c's agent. It handshakes with the host on conn, offering
// the agent's own hello (so that the host sees the guest's OS, hostname,
// version and capabilities), then passes every stream the host opens to a
// new stream on c's connection: the request that starts it is checked and
// sent on, then bytes flow both ways. An end one way (a half-close) is
// passed on and the other way goes on; a failure either way ends both.
// An exec's ID is made the relay's own, so that two hosts never meet in
// one exec.
//
// The relay answers pings itself while c's connection is up: a host's
// keepalive tests the relay, c's keepalive (with Paused) the agent.
//
// Relay returns when conn ends (nil), when ctx ends, or when c's
// connection ends or is replaced (an error wrapping ErrLost). It closes
// conn then, and every stream it opened on the agent, so that the agent
// kills what they ran; it returns only once all its goroutines have.
// It connects c first if c is not connected. The host has c's
// HandshakeTimeout to complete its handshake.
func (c *Client) Relay(ctx context.Context, conn net.Conn, o RelayOptions) error {
	cn, err := c.connect(ctx)
	if err != nil {
		conn.Close()
		return fmt.Errorf("relay: %w", err)
	}
	r := &relay{c: c, cn: cn, o: o, conn: conn, salt: rand.Text(), pairs: map[*pair]struct{}{}}
	r.log = c.o.Log.With("target", c.o.Name)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The host's connection ends with the relay's context or with the
	// agent's connection.
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-cn.mux.CloseChan():
		case <-stop:
		}
		r.closeConn()
	})
	err = r.serve(&wg)
	close(stop)
	r.closeConn()
	r.abortAll()
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("relay: %w", context.Cause(ctx))
	case cn.mux.IsClosed():
		return fmt.Errorf("relay: %w", c.connErr(cn))
	}
	return err
}

// connErr is why a connection ended: its keepalive says, or ErrLost.
func (c *Client) connErr(cn *conn) error {
	select {
	case <-cn.done:
		if cn.err != nil {
			return cn.err
		}
	case <-time.After(100 * time.Millisecond):
	}
	return ErrLost
}

// relay is one host's connection relayed to the agent.
type relay struct {
	c    *Client
	cn   *conn // the agent's connection, for the whole relay
	o    RelayOptions
	conn net.Conn // the host's
	log  *slog.Logger
	// salt makes this host's exec IDs its own on the agent's connection,
	// which the hosts of all relays share.
	salt string

	closeOnce sync.Once
	open      atomic.Int32 // streams being served

	mu     sync.Mutex
	pairs  map[*pair]struct{} // guarded by mu
	closed bool               // guarded by mu: no new pairs
}

// closeConn ends the host's connection. When the agent's connection has
// ended, it must come before any stream is closed: the host then sees its
// requests cut by a lost connection, not ended.
func (r *relay) closeConn() {
	r.closeOnce.Do(func() { r.conn.Close() })
}

// serve handshakes with the host and serves its streams until its
// connection ends; wg owns the goroutines of the streams.
func (r *relay) serve(wg *sync.WaitGroup) error {
	// A host that connects and never completes a handshake does not hold
	// the relay for long.
	r.conn.SetDeadline(time.Now().Add(r.c.o.HandshakeTimeout))
	host, mc, err := wire.GuestSync(r.conn, r.cn.hello)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	r.conn.SetDeadline(time.Time{})
	r.log.Debug("relay: host connected", "version", host.Version)
	sess, err := yamux.Server(mc, wire.MuxConfig())
	if err != nil {
		return fmt.Errorf("relay: start session: %w", err)
	}
	defer sess.Close()
	for {
		h, err := sess.AcceptStream()
		if err != nil {
			r.log.Debug("relay: host connection ended", "err", err)
			// A host that leaves, even killed with unread bytes, or
			// while the relay was writing to it (EPIPE).
			if errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
				return nil
			}
			return fmt.Errorf("relay: session: %w", err)
		}
		if r.open.Add(1) > wire.MaxStreams {
			r.open.Add(-1)
			r.fail(h, &errcode.Error{Code: errcode.Busy, Msg: fmt.Sprintf("relay busy: %d streams open on this connection", wire.MaxStreams)})
			h.Close()
			continue
		}
		wg.Go(func() {
			defer r.open.Add(-1)
			defer h.Close()
			r.stream(sess, h)
		})
	}
}

// stream serves one stream the host opened, sess's stream h.
func (r *relay) stream(sess *yamux.Session, h *yamux.Stream) {
	f, err := wire.ReadFrame(h)
	if err != nil {
		if !errors.Is(err, io.EOF) && !sess.IsClosed() {
			r.fail(h, fmt.Errorf("relay: read the request: %w", err))
		}
		return
	}
	req, payload, err := r.request(f)
	if err != nil {
		r.log.Debug("relay: bad request", "err", err)
		r.fail(h, err)
		return
	}
	if req.Op == wire.OpPing {
		r.pong(h)
		return
	}
	if r.o.Refuse != nil {
		if err := r.o.Refuse(); err != nil {
			r.fail(h, err)
			return
		}
	}
	a, err := r.cn.mux.OpenStream()
	if err != nil {
		// The agent's connection is gone, and with it this relay.
		r.log.Debug("relay: open a stream to the agent", "err", err)
		r.closeConn()
		return
	}
	p := &pair{h: h, a: a}
	if !r.add(p) {
		a.Close()
		return
	}
	defer r.remove(p)
	if err := wire.WriteFrame(a, wire.TRequest, payload); err != nil {
		r.log.Debug("relay: pass a request on", "op", req.Op, "err", err)
		r.cut(p)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.pipe(p, sess, a, h) })
	r.pipe(p, sess, h, a)
	wg.Wait()
}

// request checks the first frame of a stream and returns the request and
// the payload to send on: the host's own, with a relayed exec ID.
func (r *relay) request(f wire.Frame) (wire.Request, json.RawMessage, error) {
	var req wire.Request
	if f.Type != wire.TRequest {
		return req, nil, fmt.Errorf("relay: %w: a stream starts with %v, want request", wire.ErrFrame, f.Type)
	}
	if err := f.Decode(&req); err != nil {
		return req, nil, fmt.Errorf("relay: %w", err)
	}
	payload := json.RawMessage(f.Payload)
	if req.ID != "" {
		// Fields this relay does not know pass unchanged.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(f.Payload, &m); err != nil {
			return req, nil, fmt.Errorf("relay: %w: request: %v", wire.ErrFrame, err)
		}
		for k := range m {
			if strings.EqualFold(k, "id") {
				delete(m, k)
			}
		}
		m["id"], _ = json.Marshal(r.execID(req.ID))
		var err error
		if payload, err = json.Marshal(m); err != nil {
			return req, nil, fmt.Errorf("relay: request: %w", err)
		}
	}
	// What WriteFrame will send, to refuse here what it would refuse.
	out, err := json.Marshal(payload)
	if err != nil {
		return req, nil, fmt.Errorf("relay: request: %w", err)
	}
	if len(out) > wire.MaxFrame {
		return req, nil, fmt.Errorf("relay: %s request of %d bytes once relayed, more than %d", req.Op, len(out), wire.MaxFrame)
	}
	return req, out, nil
}

// execID is the ID on the agent's connection of this host's exec id.
func (r *relay) execID(id string) string {
	sum := sha256.Sum256([]byte(r.salt + "\x00" + id))
	return "r" + hex.EncodeToString(sum[:20])
}

// pong answers a ping while the agent's connection is up. Once it is
// down the relay ends, and the host finds its connection lost.
func (r *relay) pong(h *yamux.Stream) {
	if r.cn.mux.IsClosed() {
		r.closeConn()
		return
	}
	if err := wire.WriteFrame(h, wire.TOK, wire.Reply{}); err != nil {
		r.log.Debug("relay: answer a ping", "err", err)
	}
}

// fail answers a request with an error frame.
func (r *relay) fail(h *yamux.Stream, err error) {
	if werr := wire.WriteFrame(h, wire.TError, wire.ErrorFor(err)); werr != nil {
		r.log.Debug("relay: answer a request", "err", werr)
	}
}

// pipe copies src to dst. At src's end it ends dst (a half-close: the
// other way goes on); on a failure it cuts the pair, both ways.
func (r *relay) pipe(p *pair, sess *yamux.Session, dst, src *yamux.Stream) {
	_, err := io.Copy(dst, src)
	// A session's end looks like each stream's end: check the sessions
	// before taking it for a half-close.
	if err == nil && !r.cn.mux.IsClosed() && !sess.IsClosed() {
		dst.Close()
		return
	}
	if err != nil {
		r.log.Debug("relay: stream cut", "err", err)
	}
	r.cut(p)
}

// cut ends both streams of a pair and unblocks whoever copies them.
func (r *relay) cut(p *pair) {
	if r.cn.mux.IsClosed() {
		r.closeConn()
	}
	p.abort()
}

// add registers a pair, so that the relay's end cuts it; false once the
// relay is ending.
func (r *relay) add(p *pair) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.pairs[p] = struct{}{}
	return true
}

func (r *relay) remove(p *pair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pairs, p)
}

// abortAll cuts every pair, now and from now on.
func (r *relay) abortAll() {
	r.mu.Lock()
	r.closed = true
	pairs := make([]*pair, 0, len(r.pairs))
	for p := range r.pairs {
		pairs = append(pairs, p)
	}
	r.mu.Unlock()
	for _, p := range pairs {
		p.abort() // outside mu: a Close may wait for a slow connection
	}
}

// pair is a host's stream h and the agent's stream a it is relayed to.
type pair struct {
	h, a *yamux.Stream
	once sync.Once
}

// abort ends both streams. yamux has no reset: each peer gets an end of
// stream (which, on an exec's control stream, makes the agent kill the
// command), and a reset if it has not ended its side when the close times
// out (MuxConfig's StreamCloseTimeout). The deadlines come first: they
// wake the copies of the pair at once, where a Close may wait for a slow
// connection.
func (p *pair) abort() {
	p.once.Do(func() {
		now := time.Now()
		p.a.SetDeadline(now)
		p.h.SetDeadline(now)
		p.a.Close()
		p.h.Close()
	})
}
