package control

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/errcode"
)

// fakeSupervisor listens on a socket of its own and serves each
// connection with serve, until the test ends. It returns the socket.
func fakeSupervisor(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	// A short path: a unix socket's is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "vm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	return sock
}

func TestDialBadSupervisor(t *testing.T) {
	// readRequest reads the request line, as a supervisor does.
	readRequest := func(conn net.Conn) bool {
		_, err := ReadRequest(bufio.NewReader(conn))
		return err == nil
	}
	isEOF := func(err error) bool { return errors.Is(err, io.EOF) }
	tests := []struct {
		name    string
		serve   func(net.Conn)
		is      func(error) bool // what the error must be
		timeout time.Duration    // 0: 5 s
	}{
		{name: "garbage", serve: func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "<html>hello</html>\n")
			}
		}, is: func(err error) bool {
			var se *json.SyntaxError
			return errors.As(err, &se)
		}},
		{name: "closes at once", serve: func(c net.Conn) {}, is: func(err error) bool { return err != nil }},
		{name: "closes early", serve: func(c net.Conn) { readRequest(c) }, is: isEOF},
		{name: "half a line", serve: func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, `{"status":`)
			}
		}, is: isEOF},
		{name: "too long a line", serve: func(c net.Conn) {
			if readRequest(c) {
				c.Write([]byte(strings.Repeat("x", MaxLine+10)))
			}
		}, is: func(err error) bool { return errors.Is(err, ErrLineTooLong) }, timeout: 20 * time.Second},
		{name: "no answer", serve: func(c net.Conn) {
			readRequest(c)
			time.Sleep(5 * time.Second)
		}, is: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, timeout: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeSupervisor(t, tt.serve)
			timeout := cmp.Or(tt.timeout, 5*time.Second)
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()
			rep, conn, err := Dial(ctx, sock, Request{Op: OpStatus})
			took := time.Since(start)
			if err == nil || !tt.is(err) || conn != nil {
				t.Errorf("Dial: %+v, %v, %v (%T); want another error", rep, conn, err, err)
			}
			if errors.Is(err, ErrNotRunning) {
				t.Errorf("Dial: %v: a supervisor that answers badly is not one that is not running", err)
			}
			if took > timeout+time.Second {
				t.Errorf("Dial took %v with a deadline of %v", took, timeout)
			}
		})
	}
}

func TestDialAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, _, err := Dial(ctx, filepath.Join(t.TempDir(), "none.sock"), Request{Op: OpStatus}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial with no supervisor: %v, want ErrNotRunning", err)
	}
	// The reply and the agent protocol's first bytes come in one write:
	// Dial must leave the latter on the connection.
	sock := fakeSupervisor(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		req, err := ReadRequest(r)
		if err != nil {
			return
		}
		if req.Op != OpAgent {
			io.WriteString(c, `{"error":"not paused","code":"state"}`+"\n")
			return
		}
		io.WriteString(c, "{}\nagent protocol")
		io.Copy(io.Discard, r)
	})
	rep, conn, err := Dial(ctx, sock, Request{Op: OpAgent})
	if err != nil || rep.Error != "" || conn == nil {
		t.Fatalf("Dial agent: %+v, %v, %v", rep, conn, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest := make([]byte, len("agent protocol"))
	if _, err := io.ReadFull(conn, rest); err != nil || string(rest) != "agent protocol" {
		t.Errorf("after the reply: %q, %v; want what followed it", rest, err)
	}
	// A request cut short by its caller says so: the VM runs on.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Dial(cancelled, sock, Request{Op: OpStatus}); errors.Is(err, ErrNotRunning) || !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context: %v, want context.Canceled, not ErrNotRunning", err)
	}
	// An error reply is an error of its code, with the supervisor's words.
	rep, conn2, err := Dial(ctx, sock, Request{Op: OpResume})
	var ce *errcode.Error
	if !errors.As(err, &ce) || !errors.Is(err, errcode.ErrState) || err.Error() != "not paused" || rep.Code != errcode.State || conn2 != nil {
		t.Errorf("Dial resume: %+v, %v, %v; want the error reply and no connection", rep, conn2, err)
	}
}

func TestErrorReply(t *testing.T) {
	for _, err := range []error{
		errcode.New(errcode.Paused, "vm linux is paused"),
		errcode.New(errcode.Refused, "no balloon"),
		errors.New("qmp: broken pipe"),
	} {
		rep := ErrorReply(err)
		back := rep.Err()
		if back.Error() != err.Error() || errcode.Of(back) != cmp.Or(errcode.Of(err), errcode.Failed) {
			t.Errorf("ErrorReply(%v) = %+v, back %v", err, rep, back)
		}
	}
	if (Reply{Message: "ok"}).Err() != nil {
		t.Error("a reply with no error has one")
	}
}
