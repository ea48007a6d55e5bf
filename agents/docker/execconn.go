package docker

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// execConn is the stdin and stdout of an Engine exec as a net.Conn: writes
// go to the hijacked connection, and reads come from its stdout once the
// Engine's framing is taken off (a non-TTY exec multiplexes stdout and
// stderr; a TTY would mangle the bytes). Its demultiplexer is its own
// goroutine, which Close ends and waits for.
type execConn struct {
	att client.HijackedResponse
	in  net.Conn // read by the user: the exec's stdout
	out net.Conn // written by demux
	// done is closed when demux has returned.
	done chan struct{}
	once sync.Once
}

// newExecConn starts demultiplexing att; stderr gets the exec's stderr.
func newExecConn(att client.HijackedResponse, stderr io.Writer) *execConn {
	in, out := net.Pipe()
	c := &execConn{att: att, in: in, out: out, done: make(chan struct{})}
	go c.demux(stderr)
	return c
}

func (c *execConn) demux(stderr io.Writer) {
	defer close(c.done)
	stdcopy.StdCopy(c.out, stderr, c.att.Reader)
	c.out.Close() // EOF, or the stream's failure, for the reader
}

func (c *execConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *execConn) Write(p []byte) (int, error) { return c.att.Conn.Write(p) }

// Close closes the exec's stdin and output: an agent exits then.
func (c *execConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.att.Conn.Close()
		c.in.Close() // unblocks a demux write that nobody reads
		<-c.done
	})
	return err
}

func (c *execConn) LocalAddr() net.Addr  { return c.att.Conn.LocalAddr() }
func (c *execConn) RemoteAddr() net.Addr { return c.att.Conn.RemoteAddr() }

func (c *execConn) SetDeadline(t time.Time) error {
	c.in.SetReadDeadline(t)
	return c.att.Conn.SetWriteDeadline(t)
}

func (c *execConn) SetReadDeadline(t time.Time) error  { return c.in.SetReadDeadline(t) }
func (c *execConn) SetWriteDeadline(t time.Time) error { return c.att.Conn.SetWriteDeadline(t) }
