package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/sync/errgroup"

	"spirit/agents/client"
	"spirit/agents/wire"
	"spirit/internal/agenttest"
	"spirit/target"
)

// hostile is a fake agent that answers pings and starts every exec, then
// does only what it is told: it never reads the command's stdin, and it
// closes the outputs and sends the exit only when asked to.
type hostile struct {
	closeOutputs bool
	exit         *wire.ExitMsg // nil: never sent
	hello        wire.Hello    // its hello; the zero Hello: a plain one
	fileErr      wire.ErrorMsg // the answer to every file request
}

// start serves one connection as h and returns a client of it. The peer
// holds every stream open until the test ends.
func (h hostile) start(t *testing.T) *client.Client {
	t.Helper()
	hostEnd, agentEnd := net.Pipe()
	var g errgroup.Group
	g.Go(func() error { return h.serve(agentEnd) })
	dialed := false
	c := client.New(client.Options{Name: "hostile", Version: "test", Dial: func(context.Context) (net.Conn, error) {
		if dialed {
			return nil, errors.New("the hostile agent takes one connection")
		}
		dialed = true
		return hostEnd, nil
	}})
	t.Cleanup(func() {
		c.Close()
		agentEnd.Close()
		if err := g.Wait(); err != nil {
			t.Errorf("hostile agent: %v", err)
		}
	})
	return c
}

func (h hostile) serve(conn net.Conn) error {
	hello := h.hello
	if hello.Proto == 0 {
		hello = wire.Hello{Proto: wire.Proto, Version: "hostile", OS: "linux"}
	}
	_, mc, err := wire.GuestSync(conn, hello)
	if err != nil {
		return err
	}
	sess, err := yamux.Server(mc, wire.MuxConfig())
	if err != nil {
		return err
	}
	defer sess.Close()
	err = h.loop(sess)
	if err != nil {
		// A stream cut because the host has gone (the test is over) is
		// not the agent's failure.
		select {
		case <-sess.CloseChan():
			return nil
		case <-time.After(time.Second):
		}
	}
	return err
}

// loop serves the streams the host opens until the host has gone.
func (h hostile) loop(sess *yamux.Session) error {
	var ctl *yamux.Stream
	var execReq wire.Request
	attached := map[int]*yamux.Stream{}
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			return nil // the host has gone
		}
		var req wire.Request
		if err := wire.Expect(st, wire.TRequest, &req); err != nil {
			return err
		}
		switch req.Op {
		case wire.OpPing:
			if err := wire.WriteFrame(st, wire.TOK, wire.Reply{}); err != nil {
				return err
			}
			st.Close()
			continue
		case wire.OpRead, wire.OpWrite, wire.OpStat:
			if err := wire.WriteFrame(st, wire.TError, h.fileErr); err != nil {
				return err
			}
			st.Close()
			continue
		case wire.OpExec:
			ctl, execReq = st, req
		case wire.OpAttach:
			attached[req.FD] = st
		}
		if ctl == nil || len(attached) < wants(execReq) {
			continue
		}
		if err := h.run(ctl, attached); err != nil {
			return err
		}
		ctl, attached = nil, map[int]*yamux.Stream{}
	}
}

// wants is how many streams attach to an exec.
func wants(r wire.Request) int {
	n := 1 // stdout
	if r.Stdin {
		n++
	}
	if r.TTY == nil {
		n++ // stderr
	}
	return n
}

// run answers an exec whose streams have all attached.
func (h hostile) run(ctl *yamux.Stream, streams map[int]*yamux.Stream) error {
	for fd := 1; fd <= 2; fd++ {
		if st := streams[fd]; st != nil {
			if err := wire.WriteFrame(st, wire.TOK, wire.Reply{}); err != nil {
				return err
			}
			if _, err := st.Write([]byte("out\n")); err != nil {
				return err
			}
			if h.closeOutputs {
				st.Close()
			}
		}
	}
	if h.exit == nil {
		return nil
	}
	if streams[0] != nil {
		// Time for the host to fill the stdin stream's window.
		time.Sleep(500 * time.Millisecond)
	}
	return wire.WriteFrame(ctl, wire.TExit, *h.exit)
}

// fullStdin is a pipe with more in it than a stream's window: a copier
// that writes it to a peer that never reads blocks.
func fullStdin(t *testing.T) io.Reader {
	t.Helper()
	r, w := pipe(t)
	go func() {
		w.Write(make([]byte, 4*wire.StreamWindow)) // ends when the test closes r
	}()
	return r
}

// TestHostilePeer runs commands on an agent that misbehaves: whatever it
// does, Exec returns within a short grace of the exit or of the cancel.
func TestHostilePeer(t *testing.T) {
	exit3 := &wire.ExitMsg{Status: 3}
	for _, tc := range []struct {
		name   string
		peer   hostile
		stdin  bool
		cancel bool // the test cancels the exec after a moment
		want   int
	}{
		{name: "never reads stdin", peer: hostile{closeOutputs: true, exit: exit3}, stdin: true, want: 3},
		{name: "never closes its outputs", peer: hostile{exit: exit3}, want: 3},
		{name: "never closes its outputs nor reads stdin", peer: hostile{exit: exit3}, stdin: true, want: 3},
		{name: "never sends the exit", peer: hostile{closeOutputs: true}, cancel: true, want: 130},
		{name: "never sends the exit nor reads stdin", peer: hostile{}, stdin: true, cancel: true, want: 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.peer.start(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out agenttest.LockedBuffer
			rc := &target.Command{Stdout: &out, Stderr: io.Discard}
			if tc.stdin {
				rc.Stdin = fullStdin(t)
			}
			ch := execAsync(ctx, c, "anything", rc)
			if tc.cancel {
				time.Sleep(200 * time.Millisecond)
				cancel()
			}
			r := within(t, ch, 6*time.Second, "exec on a hostile agent")
			if r.Err != nil || r.Status != tc.want {
				t.Errorf("status %d err %v, want %d", r.Status, r.Err, tc.want)
			}
			if !tc.cancel && out.String() != "out\n" {
				t.Errorf("stdout %q, want what the agent sent", out.String())
			}
		})
	}
}
