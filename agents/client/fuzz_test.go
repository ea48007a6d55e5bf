package client_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"spirit/agents/client"
	"spirit/agents/wire"
)

// fuzzSeeds are yamux frames an agent may send after the handshake: an
// answer to the host's first ping (stream 1), and each kind of frame the
// host must not trust.
func fuzzSeeds() [][]byte {
	var reply bytes.Buffer
	if err := wire.WriteFrame(&reply, wire.TOK, wire.Reply{}); err != nil {
		panic(err)
	}
	const ack = 2
	answer := append(yamuxHeader(yamuxWindow, ack, 1, 0), yamuxHeader(yamuxData, 0, 1, uint32(reply.Len()))...)
	answer = append(answer, reply.Bytes()...)
	open := append(yamuxHeader(yamuxData, yamuxSYN, 2, 5), "hello"...)
	return [][]byte{
		nil,
		answer,
		yamuxHeader(yamuxPing, yamuxSYN, 0, 7),
		open,
		yamuxHeader(yamuxWindow, 0, 1, 1<<30),
		yamuxHeader(yamuxData, 0, 1, wire.StreamWindow+1),
		yamuxHeader(3, 0, 0, 1), // go away: protocol error
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		bytes.Repeat(yamuxHeader(yamuxPing, yamuxSYN, 0, 1), 300),
	}
}

// FuzzHostSession feeds the host's side of a session, after a real
// handshake, whatever bytes an agent may send, while the host pings it:
// no panic, the ping ends once the agent's connection does, every
// goroutine of the client ends with Close, and the heap stays under
// 64 MiB.
func FuzzHostSession(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		before, heap := runtime.NumGoroutine(), liveHeap()
		hostEnd, agentEnd := net.Pipe()
		c := client.New(client.Options{Name: "fuzz", Version: "test", PingInterval: time.Hour, PingTimeout: time.Minute,
			Dial: func(context.Context) (net.Conn, error) { return hostEnd, nil }})
		var g errgroup.Group
		g.Go(func() error {
			defer agentEnd.Close()
			_, mc, err := wire.GuestSync(agentEnd, wire.Hello{Proto: wire.Proto, Version: "fuzz", OS: "linux"})
			if err != nil {
				return err
			}
			g.Go(func() error {
				io.Copy(io.Discard, mc) // until agentEnd is closed
				return nil
			})
			mc.Write(in) // fails once the host has cut the connection
			return nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		c.Ping(ctx) // an answer or an error: either is right
		if ctx.Err() != nil {
			t.Fatalf("a ping still waits after the agent's connection ended")
		}
		c.Close()
		if err := g.Wait(); err != nil {
			t.Fatalf("fake agent: %v", err)
		}
		if grown := liveHeap() - heap; grown > maxMem {
			t.Fatalf("the session left %d MiB of heap, want under %d", grown>>20, maxMem>>20)
		}
		for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines 10 s after Close, %d before the session", runtime.NumGoroutine(), before)
			}
		}
	})
}

// liveHeap is the heap's live bytes. A fuzzing worker's own is not the
// host's (it holds 100 MiB to share with its coordinator): measure what
// a session adds.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
