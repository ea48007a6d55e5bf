package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"spirit/internal/printable"
)

// Proto is the protocol version. A host and an agent with different
// versions refuse each other at the handshake, with a message that says
// which one to update.
const Proto = 1

// Hello is what each side tells the other at the handshake.
type Hello struct {
	Proto    int      `json:"proto"`
	Version  string   `json:"version"` // the program's version
	OS       string   `json:"os,omitempty"`
	Arch     string   `json:"arch,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Caps     []string `json:"caps,omitempty"` // what this agent can do: exec, pty, files, signals
}

// The handshake. A virtio-serial port keeps what was written to it across
// host reconnects, in both directions, so each side may first read bytes of
// an old session: yamux frames, half a message, anything. Every handshake
// message starts with a magic that yamux never writes first (its version
// byte is 0) followed by a kind and the host's random nonce, and each side
// skips everything until the message it waits for:
//
//	host → guest  sync  S nonce           (repeated, a new nonce each time, until acked)
//	guest → host  ack   A nonce
//	host → guest  go    G nonce hello     (for the first nonce acked)
//	guest → host  ready R nonce hello
//
// After "go" the host sends only yamux; after "ready" the guest does. The
// third and fourth messages make the host's retries safe: a sync that
// arrives after the first ack is still answered before "ready", so no ack
// is ever read as yamux.
const (
	kindSync  = 'S'
	kindAck   = 'A'
	kindGo    = 'G'
	kindReady = 'R'
)

var magic = []byte("\x00\xffSPIRIT")

const (
	nonceLen = 16
	// MaxHello bounds a hello's encoding.
	MaxHello = 4096
)

type nonce [nonceLen]byte

// message is one handshake message.
type message struct {
	kind  byte
	nonce nonce
	hello []byte // go and ready only
}

func (m message) encode() []byte {
	b := append(append([]byte{}, magic...), m.kind)
	b = append(b, m.nonce[:]...)
	if m.kind == kindGo || m.kind == kindReady {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.hello)))
		b = append(b, m.hello...)
	}
	return b
}

// scanner finds handshake messages in a stream, skipping anything else.
// It keeps a partial message across read errors, so a read deadline that
// expires mid-message loses nothing. Its memory is bounded by one message.
type scanner struct {
	r   *bufio.Reader
	buf []byte // the message being read, from its magic on
}

func newScanner(r *bufio.Reader) *scanner { return &scanner{r: r} }

// next returns the next well-formed message.
func (s *scanner) next() (message, error) {
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return message{}, err
		}
		if m, ok := s.feed(b); ok {
			return m, nil
		}
	}
}

// feed adds one byte and returns the message it completes.
func (s *scanner) feed(b byte) (message, bool) {
	n := len(s.buf)
	switch {
	case n < len(magic):
		if b != magic[n] {
			s.restart(b)
			return message{}, false
		}
	case n == len(magic):
		if b != kindSync && b != kindAck && b != kindGo && b != kindReady {
			s.restart(b)
			return message{}, false
		}
	}
	s.buf = append(s.buf, b)
	if len(s.buf) > len(magic) && b == magic[len(magic)-1] && bytes.HasSuffix(s.buf, magic) {
		// A magic inside a message: the message was cut short (an old
		// session's last bytes) and the next one starts here. Without
		// this, a cut message would swallow the bytes after it, up to
		// MaxHello of them. A hello is JSON, which never holds the
		// magic's 0xff, and a random nonce holds it with odds of 2^-60.
		s.buf = append(s.buf[:0], magic...)
		return message{}, false
	}
	head := len(magic) + 1 + nonceLen
	if len(s.buf) < head {
		return message{}, false
	}
	m := message{kind: s.buf[len(magic)]}
	copy(m.nonce[:], s.buf[len(magic)+1:head])
	if m.kind == kindSync || m.kind == kindAck {
		s.buf = s.buf[:0]
		return m, true
	}
	if len(s.buf) < head+2 {
		return message{}, false
	}
	size := int(binary.BigEndian.Uint16(s.buf[head:]))
	if size > MaxHello {
		s.buf = s.buf[:0]
		return message{}, false
	}
	if len(s.buf) < head+2+size {
		return message{}, false
	}
	m.hello = bytes.Clone(s.buf[head+2:])
	s.buf = s.buf[:0]
	return m, true
}

// restart drops the partial message; b may begin the next one.
func (s *scanner) restart(b byte) {
	s.buf = s.buf[:0]
	if b == magic[0] {
		s.buf = append(s.buf, b)
	}
}

// ErrVersion is wrapped when the two sides speak different protocols.
var ErrVersion = errors.New("protocol version mismatch")

// syncRetry is how long the host waits for an ack before it sends a new
// sync: the guest may have been reading an old session's bytes as yamux
// and only now be looking for a sync.
const syncRetry = 500 * time.Millisecond

// HostSync resynchronises a fresh connection to an agent, exchanges
// hellos, and returns the agent's hello and the connection to run yamux
// on. It gives up when ctx ends.
func HostSync(ctx context.Context, conn net.Conn, h Hello) (Hello, net.Conn, error) {
	// The deadline ends writes too: on a port nobody reads, a write
	// may block for good.
	ended := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(time.Now())
		close(ended)
	})
	defer func() {
		if !stop() {
			<-ended // clear the deadline after it is set, not before
		}
		conn.SetDeadline(time.Time{})
	}()
	s := newScanner(bufio.NewReader(conn))
	sent := map[nonce]bool{}
	var acked *nonce
	for acked == nil {
		n := newNonce()
		sent[n] = true
		if _, err := conn.Write(message{kind: kindSync, nonce: n}.encode()); err != nil {
			return Hello{}, nil, handshakeErr(ctx, "send sync", err)
		}
		conn.SetReadDeadline(time.Now().Add(syncRetry))
		for acked == nil {
			m, err := s.next()
			if isTimeout(err) && ctx.Err() == nil {
				break // send another sync
			}
			if err != nil {
				return Hello{}, nil, handshakeErr(ctx, "wait for ack", err)
			}
			if m.kind == kindAck && sent[m.nonce] {
				acked = &m.nonce
			}
		}
	}
	conn.SetReadDeadline(time.Time{})
	if ctx.Err() != nil {
		return Hello{}, nil, handshakeErr(ctx, "wait for ack", ctx.Err())
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return Hello{}, nil, fmt.Errorf("handshake: %w", err)
	}
	if _, err := conn.Write(message{kind: kindGo, nonce: *acked, hello: hb}.encode()); err != nil {
		return Hello{}, nil, handshakeErr(ctx, "send go", err)
	}
	for {
		m, err := s.next()
		if err != nil {
			return Hello{}, nil, handshakeErr(ctx, "wait for ready", err)
		}
		if m.kind != kindReady || m.nonce != *acked {
			continue // an ack of a later sync, or stale bytes
		}
		guest, err := decodeHello(m.hello)
		if err != nil {
			return Hello{}, nil, fmt.Errorf("handshake: agent's hello: %w", err)
		}
		if guest.Proto != Proto {
			return guest, nil, fmt.Errorf("handshake: %w: the agent (version %s) speaks protocol %d, spirit speaks %d: install the agent that comes with this spirit",
				ErrVersion, guest.Version, guest.Proto, Proto)
		}
		return guest, &bufConn{Conn: conn, r: s.r}, nil
	}
}

// GuestSync waits on a connection for a host's handshake, skipping
// whatever precedes it, and returns the host's hello and the connection to
// run yamux on. It returns an error when the connection does.
func GuestSync(conn net.Conn, h Hello) (Hello, net.Conn, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return Hello{}, nil, fmt.Errorf("handshake: %w", err)
	}
	s := newScanner(bufio.NewReader(conn))
	var acked []nonce // the last few, for a "go" that follows several syncs
	for {
		m, err := s.next()
		if err != nil {
			return Hello{}, nil, fmt.Errorf("handshake: %w", err)
		}
		switch m.kind {
		case kindSync:
			if _, err := conn.Write(message{kind: kindAck, nonce: m.nonce}.encode()); err != nil {
				return Hello{}, nil, fmt.Errorf("handshake: send ack: %w", err)
			}
			acked = append(acked, m.nonce)
			if len(acked) > 16 {
				acked = acked[1:]
			}
		case kindGo:
			if !contains(acked, m.nonce) {
				continue
			}
			host, err := decodeHello(m.hello)
			if err != nil {
				continue // not from a host that synced with us
			}
			// On a mismatch, answer anyway: the host reports it
			// with both versions, where a user sees it.
			if _, err := conn.Write(message{kind: kindReady, nonce: m.nonce, hello: hb}.encode()); err != nil {
				return Hello{}, nil, fmt.Errorf("handshake: send ready: %w", err)
			}
			if host.Proto != Proto {
				return Hello{}, nil, fmt.Errorf("handshake: %w: host speaks protocol %d, agent %d", ErrVersion, host.Proto, Proto)
			}
			return host, &bufConn{Conn: conn, r: s.r}, nil
		}
	}
}

func contains(ns []nonce, n nonce) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// decodeHello decodes the peer's hello, its texts escaped
// (printable.String): they are printed (status, errors) and logged, and
// an agent's escape sequences must not reach the user's terminal.
func decodeHello(b []byte) (Hello, error) {
	var h Hello
	if err := json.Unmarshal(b, &h); err != nil {
		return Hello{}, err
	}
	for _, s := range []*string{&h.Version, &h.OS, &h.Arch, &h.Hostname} {
		*s = printable.String(*s)
	}
	for i := range h.Caps {
		h.Caps[i] = printable.String(h.Caps[i])
	}
	return h, nil
}

func newNonce() nonce {
	var n nonce
	rand.Read(n[:])
	return n
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func handshakeErr(ctx context.Context, doing string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("handshake: %s: no answer from the agent (is it running?)", doing)
		}
	}
	return fmt.Errorf("handshake: %s: %w", doing, err)
}

// bufConn reads first what the handshake's reader buffered: the peer may
// have sent its first yamux frames right behind its last message. It also
// writes yamux's frames in fewer writes (see Write).
type bufConn struct {
	net.Conn
	r *bufio.Reader

	wmu sync.Mutex
	// held are frames not written yet: header-only frames, and last a
	// data frame's header when bodyLeft (its body's length) is not 0.
	held     []byte      // guarded by wmu
	bodyLeft int         // guarded by wmu
	timer    *time.Timer // guarded by wmu: writes held frames that wait too long
	werr     error       // guarded by wmu: a failed write of the timer's
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// yamux's frame header: version, type, flags (2 bytes), stream ID (4),
// length (4). A data frame's body of that length follows it; the other
// types (window update, ping, go away) are the header alone.
const (
	muxHeaderLen = 12
	muxTypeData  = 0
	muxFlagSYN   = 1
	muxFlagACK   = 2
	muxFlagFIN   = 4
	muxFlagRST   = 8
	// maxJoined bounds the copy Write makes of a body: a larger one is
	// written after its header, as yamux would.
	maxJoined = 16 << 10
	// maxHeld bounds the header-only frames held.
	maxHeld = 4 << 10
	// holdFor is how long a stream's opening may wait for a frame to
	// go with: it is never what a peer waits on (yamux's opener sends
	// its request without waiting for the ACK).
	holdFor = time.Millisecond
)

// Write passes on what yamux writes (one frame's header, then its body)
// in fewer writes: a data frame's header waits for its body, and the
// opening of a stream (SYN, or the ACK that accepts it) for the next
// frame or holdFor, whichever comes first; then everything goes in one
// write. On a virtio-serial port each write is a trip through the
// hypervisor and an interrupt in the guest, which cost more than the
// copy: a stat's request and its answer then take one write each instead
// of two. A stream's end and a window update go at once. The bytes are
// the same, in the same order.
func (c *bufConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if c.bodyLeft > 0 {
		if len(p) == c.bodyLeft {
			c.held = append(c.held, p...)
			c.bodyLeft = 0
			if err := c.flush(); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		// Not its body (yamux dropped a body it timed out on): the
		// header goes alone, as it would have.
		c.bodyLeft = 0
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	if len(p) == muxHeaderLen {
		size := int(binary.BigEndian.Uint32(p[8:]))
		flags := binary.BigEndian.Uint16(p[2:])
		switch {
		case p[1] != muxTypeData && (flags&(muxFlagFIN|muxFlagRST) != 0 || flags&(muxFlagSYN|muxFlagACK) == 0):
			// A stream's end or a window update: at once, with
			// whatever is held.
			c.held = append(c.held, p...)
			return len(p), c.flush()
		case p[1] != muxTypeData || size == 0:
			c.held = append(c.held, p...)
			if len(c.held) >= maxHeld {
				return len(p), c.flush()
			}
			if c.timer == nil {
				c.timer = time.AfterFunc(holdFor, c.flushHeld)
			} else {
				c.timer.Reset(holdFor)
			}
			return len(p), nil
		case size <= maxJoined:
			c.held = append(c.held, p...)
			c.bodyLeft = size
			return len(p), nil
		}
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// flush writes the frames held; wmu is held.
func (c *bufConn) flush() error {
	if len(c.held) == 0 {
		return nil
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	_, err := c.Conn.Write(c.held)
	c.held = c.held[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

// flushHeld writes the header-only frames that waited holdFor, unless a
// data frame's body is on its way (its write takes them along).
func (c *bufConn) flushHeld() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.bodyLeft == 0 && c.werr == nil {
		c.flush()
	}
}

// Close writes what is held, then closes the connection. A write under
// way may be blocked (a peer that does not read): Close does not wait
// for it, and closing the connection ends it.
func (c *bufConn) Close() error {
	if c.wmu.TryLock() {
		if c.werr == nil {
			c.bodyLeft = 0
			c.flush()
		}
		if c.timer != nil {
			c.timer.Stop()
		}
		c.werr = net.ErrClosed
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}
