package wire

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// Limits of a session, the same on both sides; the README lists them.
const (
	// StreamWindow is yamux's receive window per stream: what a peer may
	// send on one stream that has not been read yet.
	StreamWindow = 256 << 10
	// MaxStreams bounds the streams open at once on one connection. An
	// exec takes up to four, a file or a ping one: MaxSessions execs
	// leave room for pings and stats. With StreamWindow it bounds what a
	// peer can make the other side buffer: 80 MiB.
	MaxStreams = 4*MaxSessions + 64
	// MaxSessions bounds the requests (execs, file transfers) an agent
	// serves at once, over all its connections.
	MaxSessions = 64
)

// MuxConfig is the yamux configuration of both sides.
func MuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	// A paused VM cannot answer pings; the host checks liveness itself,
	// knowing whether the VM is paused.
	c.EnableKeepAlive = false
	c.AcceptBacklog = MaxStreams
	c.MaxStreamWindowSize = StreamWindow
	c.StreamOpenTimeout = 30 * time.Second
	// A reader that stops early half-closes its stream; the agent learns
	// of it from the reset that follows, and stops sending.
	c.StreamCloseTimeout = 5 * time.Second
	c.ConnectionWriteTimeout = 30 * time.Second
	c.LogOutput = io.Discard
	return c
}
