package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"spirit/agents/client"
	"spirit/agents/wire"
)

// yamux's frame header, written here by hand so that the flooder does not
// share the code it tests: version, type, flags, stream ID, length.
const (
	yamuxData   = 0
	yamuxWindow = 1
	yamuxPing   = 2
	yamuxSYN    = 1
	yamuxRST    = 8
)

func yamuxHeader(typ byte, flags uint16, id, length uint32) []byte {
	h := make([]byte, 12)
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], id)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

// A flood is what a hostile agent sends after the handshake, frame after
// frame, while it never reads a byte of what the host sends.
type flood struct {
	name string
	// frames is how many it sends at most; the host may cut it first.
	frames int
	// frame writes frame i into conn.
	frame func(conn net.Conn, i int) error
	// every is how often (in frames) the flooder samples the host's
	// memory and goroutines.
	every int
}

// floods are the floods of the "Must show". 3,000,000 pings or
// window updates are 30 s of what a flooder managed in the proof
// (100,000 a second); stream opens carry a full window each, so fewer
// make the point.
func floods() []flood {
	full := make([]byte, wire.StreamWindow)
	return []flood{
		{name: "pings", frames: 3_000_000, every: 4096, frame: func(c net.Conn, i int) error {
			_, err := c.Write(yamuxHeader(yamuxPing, yamuxSYN, 0, uint32(i)))
			return err
		}},
		{name: "stream opens with a full window, never read", frames: 2048, every: 16, frame: func(c net.Conn, i int) error {
			// Even IDs are the agent's (yamux's server side).
			if _, err := c.Write(yamuxHeader(yamuxData, yamuxSYN, uint32(2+2*i), uint32(len(full)))); err != nil {
				return err
			}
			_, err := c.Write(full)
			return err
		}},
		{name: "window updates", frames: 3_000_000, every: 4096, frame: func(c net.Conn, i int) error {
			_, err := c.Write(yamuxHeader(yamuxWindow, 0, uint32(1+2*(i%64)), 1))
			return err
		}},
	}
}

// usage is the most the test process held while a flood ran.
type usage struct {
	sent       int
	goroutines int
	mem        uint64 // heap and stacks in use, bytes
}

func (u *usage) sample() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	u.goroutines = max(u.goroutines, runtime.NumGoroutine())
	u.mem = max(u.mem, m.HeapInuse+m.StackInuse)
}

// Past these the host has lost: the flooder stops rather than take the
// machine down with the host it tests.
const (
	maxGoroutines = 1000
	maxMem        = 64 << 20
)

// run accepts one connection on l, handshakes as an agent, and floods.
// It returns what the process held at most meanwhile; its connection
// stays open until done is closed.
func (f flood) run(l net.Listener, done <-chan struct{}) (usage, error) {
	var u usage
	conn, err := l.Accept()
	if err != nil {
		return u, err
	}
	defer conn.Close()
	if _, _, err := wire.GuestSync(conn, wire.Hello{Proto: wire.Proto, Version: "hostile", OS: "linux"}); err != nil {
		return u, err
	}
	u.sample()
	for ; u.sent < f.frames; u.sent++ {
		if err := f.frame(conn, u.sent); err != nil {
			break // the host has cut the connection
		}
		if u.sent%f.every == 0 {
			if u.sample(); u.goroutines > 2*maxGoroutines || u.mem > 2*maxMem {
				break
			}
		}
	}
	u.sample()
	<-done
	return u, nil
}

// startFlood serves f on a unix socket at sock. stop ends the flood and
// checks what the host (who) held while it went on.
func startFlood(t *testing.T, f flood, sock string) (stop func(t *testing.T, who string)) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	done := make(chan struct{})
	var g errgroup.Group
	var u usage
	g.Go(func() (err error) {
		u, err = f.run(l, done)
		return err
	})
	return func(t *testing.T, who string) {
		t.Helper()
		close(done)
		if err := g.Wait(); err != nil {
			t.Fatalf("hostile agent: %v", err)
		}
		t.Logf("%d frames sent; at most %d goroutines and %.1f MiB (heap and stacks)", u.sent, u.goroutines, float64(u.mem)/(1<<20))
		if u.goroutines >= maxGoroutines || u.mem >= maxMem {
			t.Errorf("the flood made %s hold %d goroutines and %.1f MiB, want under %d and %d MiB",
				who, u.goroutines, float64(u.mem)/(1<<20), maxGoroutines, maxMem>>20)
		}
	}
}

// TestFlood floods the real client from an agent that never reads: the
// host holds under 64 MiB and 1,000 goroutines through the flood, refuses
// the agent's streams, and drops the connection with a message that
// names the target; a request in flight ends with it.
func TestFlood(t *testing.T) {
	for _, f := range floods() {
		t.Run(f.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "agent.sock")
			stop := startFlood(t, f, sock)
			c := client.New(client.Options{
				Name: "hostile", Version: "test",
				Dial: func(ctx context.Context) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", sock)
				},
				// No keepalive during the test: the flood alone must
				// end the connection.
				PingInterval: time.Hour,
				PingTimeout:  20 * time.Second,
			})
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			_, perr := c.Ping(ctx)
			c.Close()
			stop(t, "the host")
			if !errors.Is(perr, client.ErrLost) || !errors.Is(perr, wire.ErrFlood) || !strings.Contains(perr.Error(), "@hostile") {
				t.Errorf("a request during the flood ended with %v, want the connection lost to a flood by @hostile", perr)
			}
		})
	}
}

// TestRelayFlood floods a VM supervisor's relay from the guest's side:
// the relay's client of the agent holds under 64 MiB and 1,000 goroutines
// and drops the agent, and the relay ends with a message naming the
// target; the shell behind it finds its request ended.
func TestRelayFlood(t *testing.T) {
	for _, f := range floods() {
		t.Run(f.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "f")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			sock := filepath.Join(dir, "agent.sock")
			stop := startFlood(t, f, sock)
			tr := startRelayWith(t, sock, client.Options{PingInterval: time.Hour})
			sh := tr.shell(t, client.Options{PingInterval: time.Hour})
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			r := within(t, execAsync(ctx, sh, "anything", nil), 60*time.Second, "exec through the relay")
			rerr := tr.end(t, 60*time.Second)
			stop(t, "the supervisor")
			if !errors.Is(rerr, wire.ErrFlood) || !strings.Contains(rerr.Error(), "@a") {
				t.Errorf("the relay ended with %v, want the agent's connection lost to a flood by @a", rerr)
			}
			if r.Err == nil {
				t.Errorf("the shell's exec ended with status %d and no error, want its connection lost", r.Status)
			}
		})
	}
}

// TestAgentStreamRefused opens a stream from the agent's side, which the
// host never accepts: the host resets it at once instead of holding it,
// and its data, for an accept that never comes. The stream follows the
// handshake at once: a host that read it before going away held it (7
// runs in 300 did before yamux was kept from reading until then).
func TestAgentStreamRefused(t *testing.T) {
	hostEnd, agentEnd := net.Pipe()
	defer agentEnd.Close()
	c := client.New(client.Options{Name: "hostile", Version: "test", PingInterval: time.Hour,
		Dial: func(context.Context) (net.Conn, error) { return hostEnd, nil }})
	defer c.Close()
	var g errgroup.Group
	reset := make(chan error, 1)
	g.Go(func() error {
		_, mc, err := wire.GuestSync(agentEnd, wire.Hello{Proto: wire.Proto, Version: "hostile", OS: "linux"})
		if err != nil {
			return err
		}
		g.Go(func() error {
			frame := append(yamuxHeader(yamuxData, yamuxSYN, 2, 5), "hello"...)
			_, err := mc.Write(frame)
			return err
		})
		reset <- waitReset(mc, 2)
		return nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reset:
		if err != nil {
			t.Errorf("the stream the agent opened: %v, want it reset", err)
		}
	case <-ctx.Done():
		t.Errorf("the stream the agent opened was not reset in 10 s: the host holds it")
	}
	c.Close()
	agentEnd.Close()
	if err := g.Wait(); err != nil {
		t.Errorf("hostile agent: %v", err)
	}
}

// waitReset reads the host's frames until one resets stream id.
func waitReset(r io.Reader, id uint32) error {
	h := make([]byte, 12)
	for {
		if _, err := io.ReadFull(r, h); err != nil {
			return fmt.Errorf("no reset before the connection's end: %w", err)
		}
		flags, sid, length := binary.BigEndian.Uint16(h[2:]), binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint32(h[8:])
		if h[1] == yamuxWindow && sid == id && flags&yamuxRST != 0 {
			return nil
		}
		if h[1] == yamuxData {
			if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
				return err
			}
		}
	}
}
