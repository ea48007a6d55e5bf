package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

// The host's side of a session does not trust the agent (whoever owns a
// guest or a container can replace it), and yamux v0.1.2 trusts its peer
// in two ways that cost the host memory: it answers every ping from a
// goroutine of its own, which waits up to ConnectionWriteTimeout when the
// peer does not read, and it buffers the streams the peer opens, a full
// window each, until they are accepted. The host opens every stream and
// uses no yamux ping (its keepalive is its own), so its side answers
// neither: a guard reads yamux's frame headers before yamux does, drops
// pings, and charges every control frame of the agent's against what the
// host's own frames account for; yamux itself resets the streams the
// agent opens, the session having gone away for them (GoAway).

// ErrFlood is wrapped by the error that ends a host's session whose agent
// sent more control frames than the host's own traffic accounts for.
var ErrFlood = errors.New("the agent flooded the host with yamux control frames")

// The types of yamux's frames beside data (muxTypeData; the header is
// described at muxHeaderLen).
const (
	muxTypeWindow = 1
	muxTypePing   = 2
	muxTypeAway   = 3
)

// Per frame of the host's that opens a stream or carries data, an honest
// agent sends back at most an ACK, a FIN, a reset, and a window update
// for each half window it has read: floodPerFrame control frames. Beyond
// that, floodSlack is allowed for nothing, and credit stops growing at
// floodCap (what is owed at once is bounded by the windows of the open
// streams, far less), so that a flood after a long quiet session is cut
// as soon.
const (
	floodPerFrame = 4
	floodSlack    = 256
	floodCap      = 1 << 16
)

// Guard is the host's reading of an agent's frames. Err says why it cut
// the session, if it did.
type Guard struct {
	conn net.Conn
	br   *bufio.Reader
	open chan struct{} // closed once the session has gone away
	// Read side, yamux's receive loop only.
	hdr     [muxHeaderLen]byte
	pending []byte // header bytes checked and not yet read by yamux
	body    uint32 // data bytes of the current frame not yet read
	counts  struct{ pings, windows, opens, other int }

	bodyOut uint32       // yamux's send loop only: the body it writes next
	credit  atomic.Int64 // control frames the agent may still send

	mu  sync.Mutex
	err error // guarded by mu
}

// HostSession starts the host's side of a yamux session on conn, once the
// handshake is done: the client side (the host opens the streams), with
// every stream the agent opens reset and every ping of its dropped. ctx
// bounds the time to tell the agent so.
func HostSession(ctx context.Context, conn net.Conn) (*yamux.Session, *Guard, error) {
	g := &Guard{conn: conn, br: bufio.NewReader(conn), open: make(chan struct{})}
	g.credit.Store(floodSlack)
	sess, err := yamux.Client(guarded{g}, MuxConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("start session: %w", err)
	}
	// A going-away session resets each stream the peer opens, from its
	// receive loop, holding nothing for it. Until it goes away, yamux
	// reads nothing (open): a stream opened right after the handshake
	// would wait for an accept.
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Now()) })
	err = sess.GoAway()
	close(g.open)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("start session: refuse the agent's streams: %w", err)
	}
	return sess, g, nil
}

// Err is why the guard ended the session: a flood (wrapping ErrFlood) or
// a frame yamux does not know (wrapping ErrFrame); nil if it did not.
func (g *Guard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *Guard) fail(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
	return g.err
}

// guarded is the connection as yamux sees it.
type guarded struct{ g *Guard }

func (c guarded) Read(p []byte) (int, error)  { return c.g.read(p) }
func (c guarded) Write(p []byte) (int, error) { return c.g.write(p) }
func (c guarded) Close() error                { return c.g.conn.Close() }

// read gives yamux the agent's frames but its pings.
func (g *Guard) read(p []byte) (int, error) {
	<-g.open
	for {
		if err := g.Err(); err != nil {
			return 0, err
		}
		if len(g.pending) > 0 {
			n := copy(p, g.pending)
			g.pending = g.pending[n:]
			return n, nil
		}
		if g.body > 0 {
			n, err := g.br.Read(p[:min(uint32(len(p)), g.body)])
			g.body -= uint32(n)
			return n, err
		}
		if _, err := io.ReadFull(g.br, g.hdr[:]); err != nil {
			return 0, err
		}
		keep, err := g.check()
		if err != nil {
			return 0, g.fail(err)
		}
		if keep {
			g.pending = g.hdr[:]
		}
	}
}

// check charges the frame whose header is g.hdr, and says whether yamux
// gets it.
func (g *Guard) check() (keep bool, err error) {
	h := g.hdr[:]
	if h[0] != 0 {
		return false, fmt.Errorf("%w: yamux frame of version %d", ErrFrame, h[0])
	}
	flags, length := binary.BigEndian.Uint16(h[2:]), binary.BigEndian.Uint32(h[8:])
	switch h[1] {
	case muxTypePing:
		g.counts.pings++
		return false, g.charge()
	case muxTypeData:
		g.body = length
		if flags&muxFlagSYN == 0 && length > 0 {
			return true, nil // bounded by the windows the host grants
		}
	case muxTypeWindow, muxTypeAway:
	default:
		return false, fmt.Errorf("%w: yamux frame of type %d", ErrFrame, h[1])
	}
	switch {
	case flags&muxFlagSYN != 0:
		g.counts.opens++
	case h[1] == muxTypeWindow:
		g.counts.windows++
	default:
		g.counts.other++ // empty data frames, go-aways
	}
	return true, g.charge()
}

// charge takes one control frame off the agent's credit.
func (g *Guard) charge() error {
	if g.credit.Add(-1) >= 0 {
		return nil
	}
	c := g.counts
	return fmt.Errorf("%w: %d pings, %d window updates, %d stream opens and %d other frames, more than the host's own traffic accounts for",
		ErrFlood, c.pings, c.windows, c.opens, c.other)
}

// write sends yamux's frames, and credits the agent with what an honest
// one answers to each. yamux writes a frame's header, then its body, each
// in one write (as bufConn also relies on).
func (g *Guard) write(p []byte) (int, error) {
	// Credit first: the answer may be read before the write returns.
	if g.bodyOut > 0 && len(p) == int(g.bodyOut) {
		g.bodyOut = 0
		return g.conn.Write(p)
	}
	g.bodyOut = 0
	if len(p) == muxHeaderLen {
		typ, flags, length := p[1], binary.BigEndian.Uint16(p[2:]), binary.BigEndian.Uint32(p[8:])
		if typ == muxTypeData {
			g.bodyOut = length
		}
		if (flags&muxFlagSYN != 0 || typ == muxTypeData && length > 0) && g.credit.Load() < floodCap {
			g.credit.Add(floodPerFrame)
		}
	}
	return g.conn.Write(p)
}
