package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
)

// Server serves host connections. Its limits hold over all connections.
type Server struct {
	log      *slog.Logger
	hello    wire.Hello
	sessions chan struct{} // a token per request being served
}

// NewServer returns a server that introduces itself with version.
func NewServer(log *slog.Logger, version string) *Server {
	host, _ := os.Hostname()
	return &Server{
		log: log,
		hello: wire.Hello{
			Proto:    wire.Proto,
			Version:  version,
			OS:       runtime.GOOS,
			Arch:     runtime.GOARCH,
			Hostname: host,
			Caps:     capabilities(),
		},
		sessions: make(chan struct{}, wire.MaxSessions),
	}
}

func capabilities() []string {
	caps := []string{"exec", "files", "signals"}
	if hasPty() {
		caps = append(caps, "pty")
	}
	if hasDesktop() {
		caps = append(caps, "desktop")
	}
	return caps
}

// Serve runs the port: each host connection in turn, or all at once if
// the port allows, until ctx ends or the port fails.
func (s *Server) Serve(ctx context.Context, port Port) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// A port whose host stays connected may hand out a connection
		// without looking at ctx; ServeConn then ends at once, and this
		// loop would spin until the process is killed.
		if ctx.Err() != nil {
			return nil
		}
		conn, err := port.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if port.Concurrent() {
			wg.Go(func() { s.logEnd(s.ServeConn(ctx, conn)) })
			continue
		}
		s.logEnd(s.ServeConn(ctx, conn))
	}
}

// logEnd logs how a host connection ended: a host that leaves is normal,
// anything else is worth a line.
func (s *Server) logEnd(err error) {
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		// A new host's handshake read by the old session: the host
		// changed between two reads of the port.
		errors.Is(err, yamux.ErrInvalidMsgType), errors.Is(err, yamux.ErrInvalidVersion):
		s.log.Debug("host connection ended", "err", err)
	default:
		s.log.Info("host connection ended", "err", err)
	}
}

// ServeConn serves one host connection until it ends; everything started
// for it is killed then.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	host, mc, err := wire.GuestSync(conn, s.hello)
	if err != nil {
		return err
	}
	s.log.Debug("host connected", "version", host.Version)
	sess, err := yamux.Server(mc, wire.MuxConfig())
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer sess.Close()
	defer cancel()
	att := newAttachments()
	pool := &workers{wg: &wg, work: make(chan func()), stop: ctx.Done()}
	var open atomic.Int32
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			if errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("session: %w", err)
		}
		if open.Add(1) > wire.MaxStreams {
			open.Add(-1)
			s.fail(st, &errcode.Error{Code: errcode.Busy, Msg: fmt.Sprintf("agent busy: %d streams open on this connection", wire.MaxStreams)})
			st.Close()
			continue
		}
		pool.run(func() {
			defer open.Add(-1)
			defer st.Close()
			s.handle(ctx, st, att)
		})
	}
}

// workerIdle is how long a goroutine that has served a stream waits for
// the next one.
const workerIdle = 10 * time.Second

// workers run the handlers of one connection's streams. A goroutine that
// has served one stream serves the next if it comes within workerIdle,
// rather than each stream getting a new goroutine whose stack the
// request's JSON and yamux's reads grow again: that growth was a seventh
// of a stat's CPU, which under TCG is a fraction of a millisecond.
type workers struct {
	wg   *sync.WaitGroup
	work chan func()
	stop <-chan struct{} // idle workers end
}

// run runs f on an idle worker, or on a new one.
func (w *workers) run(f func()) {
	select {
	case w.work <- f:
		return
	default:
	}
	w.wg.Go(func() {
		f()
		t := time.NewTimer(workerIdle)
		defer t.Stop()
		for {
			select {
			case f := <-w.work:
				f()
				t.Reset(workerIdle)
			case <-t.C:
				return
			case <-w.stop:
				return
			}
		}
	})
}

// handle serves one stream according to its first frame.
func (s *Server) handle(ctx context.Context, st net.Conn, att *attachments) {
	var req wire.Request
	if err := wire.Expect(st, wire.TRequest, &req); err != nil {
		s.log.Debug("bad request", "err", err)
		s.fail(st, err)
		return
	}
	switch req.Op {
	case wire.OpPing:
		s.ok(st, wire.Reply{})
	case wire.OpAttach:
		if err := att.offer(ctx, req.ID, req.FD, st); err != nil {
			s.log.Debug("attach", "err", err)
		}
	case wire.OpStat:
		s.stat(st, &req)
	default:
		select {
		case s.sessions <- struct{}{}:
			defer func() { <-s.sessions }()
		default:
			if req.Op == wire.OpExec {
				att.refuse(req.ID) // its streams need not wait
			}
			s.fail(st, &errcode.Error{Code: errcode.Busy, Msg: fmt.Sprintf("agent busy: %d sessions at once (try again when some end)", wire.MaxSessions)})
			return
		}
		switch req.Op {
		case wire.OpExec:
			s.exec(ctx, st, &req, att)
		case wire.OpRead:
			s.read(st, &req)
		case wire.OpWrite:
			s.write(st, &req)
		}
	}
}

func (s *Server) ok(st net.Conn, r wire.Reply) {
	if err := wire.WriteFrame(st, wire.TOK, r); err != nil {
		s.log.Debug("reply", "err", err)
	}
}

func (s *Server) fail(st net.Conn, err error) {
	if werr := wire.WriteFrame(st, wire.TError, wire.ErrorFor(err)); werr != nil {
		s.log.Debug("reply", "err", werr)
	}
}
