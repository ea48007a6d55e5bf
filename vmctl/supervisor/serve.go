package supervisor

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"spirit/errcode"
	"spirit/vmctl/control"
)

// serve answers clients until QEMU exits. A cancelled ctx stops the VM
// (the supervisor was told to end).
func (s *sup) serve(ctx context.Context, ln net.Listener) {
	// life ends with QEMU: it ends every request and relay in flight.
	life, end := context.WithCancel(context.Background())
	defer end()
	s.agent = s.newAgent()
	var wg sync.WaitGroup
	wg.Go(func() { s.watchAgent(life) })
	wg.Go(func() {
		select {
		case <-ctx.Done():
			s.log.Info("told to end: stopping the vm")
			s.endStop(life)
		case <-life.Done():
		}
	})
	wg.Go(func() {
		<-s.exited
		s.log.Info("qemu exited", "how", exitText(s.waitErr))
		s.setState(control.StateStopped)
		ln.Close()
		end()
	})
	var conns sync.WaitGroup
	for {
		conn, err := ln.Accept()
		if err != nil {
			break
		}
		// Requests end on their own once QEMU is gone (a stop replies
		// then), and a relay ends with life.
		conns.Go(func() {
			defer conn.Close()
			s.handle(life, conn)
		})
	}
	conns.Wait()
	s.agent.Close()
	s.mon.Close()
	wg.Wait()
}

// endStop stops the VM of a supervisor told to end. A request that holds
// the VM (a snapshot, a balloon) refuses a stop while it runs: the stop
// is tried again until it is taken, or QEMU is gone.
func (s *sup) endStop(life context.Context) {
	for refused := false; ; refused = true {
		_, err := s.stop(life, s.o.StopTimeout)
		// An error with a code is a refusal in the VM's state.
		var refusal *errcode.Error
		if !errors.As(err, &refusal) {
			if err != nil {
				s.log.Error("stop", "err", err)
			}
			return
		}
		if !refused {
			s.log.Info("stop once the request in progress is done", "why", err)
		}
		select {
		case <-life.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// requestTimeout bounds the wait for a client's request line.
const requestTimeout = 10 * time.Second

// handle answers one request.
func (s *sup) handle(ctx context.Context, conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	// QEMU's end ends the wait as well: a client that has not sent its
	// request must not hold up the cleanup (and the exit hooks) after it.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	req, err := control.ReadRequest(bufio.NewReaderSize(conn, 4096))
	stop()
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		s.log.Debug("bad request", "err", err)
		return
	}
	if req.Op == control.OpAgent {
		if err := s.relay(ctx, conn, req.Timeout); err != nil {
			control.WriteReply(conn, control.ErrorReply(err))
		}
		return
	}
	rep, err := s.do(ctx, req)
	if err != nil {
		rep = control.ErrorReply(err)
	}
	control.WriteReply(conn, rep)
}

// do carries out a request other than agent.
func (s *sup) do(ctx context.Context, req control.Request) (control.Reply, error) {
	var msg string
	var err error
	switch req.Op {
	case control.OpStatus:
		st := s.status(ctx)
		return control.Reply{Status: &st}, nil
	case control.OpWaitAgent:
		if err := s.waitAgent(ctx, req.Timeout); err != nil {
			return control.Reply{}, err
		}
		st := s.status(ctx)
		return control.Reply{Status: &st}, nil
	case control.OpSnapshot:
		return s.snapshot(ctx, req.Action, req.Tag)
	case control.OpPause:
		msg, err = s.pause(ctx)
	case control.OpResume:
		msg, err = s.cont(ctx)
	case control.OpStop:
		msg, err = s.stop(ctx, req.Timeout)
	case control.OpKill:
		msg, err = s.killOp()
	case control.OpSuspend:
		msg, err = s.suspend(ctx)
	case control.OpBalloon:
		msg, err = s.balloon(ctx, req.Bytes)
	default:
		return control.Reply{}, errcode.New(errcode.Failed, "unknown request %s", req.Op)
	}
	return control.Reply{Message: msg}, err
}

func pid() int { return os.Getpid() }
