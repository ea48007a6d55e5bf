package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrNotRunning is returned by a Dial that finds no supervisor.
var ErrNotRunning = errors.New("not running")

// ErrLineTooLong is returned for a line of more than MaxLine bytes.
var ErrLineTooLong = errors.New("line too long")

// MaxLine bounds a line of the control protocol.
const MaxLine = 1 << 20

// Dial connects to the supervisor's socket, sends req and reads the
// reply. An error reply is returned as its *errcode.Error (see
// Reply.Err), with the reply. The connection is returned open only for
// OpAgent with no error (positioned at the agent protocol); it is nil
// otherwise.
func Dial(ctx context.Context, socket string, req Request) (Reply, net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if ctx.Err() != nil {
			// Not a sign that the VM has stopped.
			return Reply{}, nil, fmt.Errorf("%s request: %w", req.Op, ctx.Err())
		}
		return Reply{}, nil, fmt.Errorf("%w (%v)", ErrNotRunning, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	rep, err := exchange(conn, req)
	if ctx.Err() != nil {
		// ctx's end shows in the exchange as an i/o timeout: say why.
		err = fmt.Errorf("%s request: %w", req.Op, ctx.Err())
	}
	if err == nil {
		err = rep.Err()
	}
	if err != nil || req.Op != OpAgent {
		conn.Close()
		return rep, nil, err
	}
	return rep, conn, nil
}

func exchange(conn net.Conn, req Request) (Reply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return Reply{}, fmt.Errorf("send %s request: %w", req.Op, err)
	}
	line, err := readLine(conn)
	if err != nil {
		return Reply{}, fmt.Errorf("read %s reply: %w", req.Op, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return Reply{}, fmt.Errorf("read %s reply: %w", req.Op, err)
	}
	return rep, nil
}

// readLine reads one line a byte at a time, so that nothing after it (the
// agent protocol) is taken from the connection.
func readLine(conn net.Conn) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := conn.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return line, nil
			}
			if len(line) >= MaxLine {
				return nil, ErrLineTooLong
			}
			line = append(line, b[0])
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadRequest reads a request line on the supervisor's side.
func ReadRequest(r *bufio.Reader) (Request, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return Request{}, err
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Request{}, fmt.Errorf("bad request: %w", err)
	}
	return req, nil
}

// WriteReply writes a reply line on the supervisor's side.
func WriteReply(conn net.Conn, rep Reply) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = conn.Write(append(b, '\n'))
	return err
}
