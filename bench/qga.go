package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// qga speaks qemu-ga's JSON protocol over its port's chardev socket: the
// peer of spirit's agent. One command at a time, as qemu-ga serves them.
type qga struct {
	conn net.Conn
	dec  *json.Decoder
}

// dialQGA connects to qemu-ga and synchronises with guest-sync-delimited,
// retrying until qemu-ga answers or ctx ends (it starts with the guest).
func dialQGA(ctx context.Context, sock string) (*qga, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "unix", sock)
		if err == nil {
			q := &qga{conn: conn}
			if err = q.sync(time.Now().Add(2 * time.Second)); err == nil {
				return q, nil
			}
			conn.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu-ga on %s: %w (last: %v)", sock, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sync resets qemu-ga's parser (a 0xFF byte), sends guest-sync-delimited
// and skips whatever comes before the 0xFF that precedes its answer.
func (q *qga) sync(deadline time.Time) error {
	q.conn.SetDeadline(deadline)
	defer q.conn.SetDeadline(time.Time{})
	id := rand.Int64N(1 << 50)
	cmd := fmt.Sprintf("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%d}}\n", id)
	if _, err := io.WriteString(q.conn, cmd); err != nil {
		return err
	}
	r := bufio.NewReader(q.conn)
	for {
		if _, err := r.ReadBytes(0xff); err != nil {
			return err
		}
		dec := json.NewDecoder(r)
		var got int64
		if err := decodeReturn(dec, &got); err != nil {
			return err
		}
		if got == id {
			q.dec = dec
			return nil
		}
	}
}

type qgaReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

func decodeReturn(dec *json.Decoder, ret any) error {
	var rep qgaReply
	if err := dec.Decode(&rep); err != nil {
		return err
	}
	if rep.Error != nil {
		return fmt.Errorf("qemu-ga: %s: %s", rep.Error.Class, rep.Error.Desc)
	}
	if ret == nil {
		return nil
	}
	return json.Unmarshal(rep.Return, ret)
}

// call runs one command and decodes its return value into ret.
func (q *qga) call(cmd string, args, ret any) error {
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qemu-ga %s: %w", cmd, err)
	}
	if err := decodeReturn(q.dec, ret); err != nil {
		return fmt.Errorf("qemu-ga %s: %w", cmd, err)
	}
	return nil
}

func (q *qga) Close() error { return q.conn.Close() }

// execStatus is guest-exec-status's answer.
type execStatus struct {
	Exited   bool   `json:"exited"`
	ExitCode int    `json:"exitcode"`
	OutData  string `json:"out-data"`
	ErrData  string `json:"err-data"`
	OutTrunc bool   `json:"out-truncated"`
}

// exec runs path with args through guest-exec and polls guest-exec-status
// every poll (0: at once again) until the process has exited or, with
// firstByte, until output has come. It returns the status last seen and
// the output decoded.
func (q *qga) exec(path string, args []string, capture bool, poll time.Duration, firstByte bool) (execStatus, []byte, error) {
	var started struct {
		PID int `json:"pid"`
	}
	a := map[string]any{"path": path, "capture-output": capture}
	if len(args) > 0 {
		a["arg"] = args
	}
	if err := q.call("guest-exec", a, &started); err != nil {
		return execStatus{}, nil, err
	}
	for {
		var st execStatus
		if err := q.call("guest-exec-status", map[string]any{"pid": started.PID}, &st); err != nil {
			return st, nil, err
		}
		if st.Exited || (firstByte && st.OutData != "") {
			out, err := base64.StdEncoding.DecodeString(st.OutData)
			if err == nil && st.Exited && st.ExitCode != 0 {
				err = fmt.Errorf("qemu-ga: %s exited with %d", path, st.ExitCode)
			}
			return st, out, err
		}
		if poll > 0 {
			time.Sleep(poll)
		}
	}
}

// readFile reads path in chunks of chunk bytes with guest-file-read and
// returns how many bytes came.
func (q *qga) readFile(path string, chunk int) (int64, error) {
	var h int
	if err := q.call("guest-file-open", map[string]any{"path": path, "mode": "r"}, &h); err != nil {
		return 0, err
	}
	defer q.call("guest-file-close", map[string]any{"handle": h}, nil)
	var n int64
	for {
		var r struct {
			Count int    `json:"count"`
			Buf   string `json:"buf-b64"`
			EOF   bool   `json:"eof"`
		}
		if err := q.call("guest-file-read", map[string]any{"handle": h, "count": chunk}, &r); err != nil {
			return n, err
		}
		b, err := base64.StdEncoding.DecodeString(r.Buf)
		if err != nil {
			return n, err
		}
		n += int64(len(b))
		if r.EOF || r.Count == 0 {
			return n, nil
		}
	}
}

// writeFile writes size zero bytes to path in chunks of chunk bytes with
// guest-file-write.
func (q *qga) writeFile(path string, size int64, chunk int) error {
	var h int
	if err := q.call("guest-file-open", map[string]any{"path": path, "mode": "w"}, &h); err != nil {
		return err
	}
	buf := base64.StdEncoding.EncodeToString(make([]byte, chunk))
	for left := size; left > 0; {
		b := buf
		if left < int64(chunk) {
			b = base64.StdEncoding.EncodeToString(make([]byte, left))
		}
		var r struct {
			Count int `json:"count"`
		}
		if err := q.call("guest-file-write", map[string]any{"handle": h, "buf-b64": b}, &r); err != nil {
			return err
		}
		if r.Count <= 0 {
			return errors.New("qemu-ga guest-file-write wrote nothing")
		}
		left -= int64(r.Count)
	}
	return q.call("guest-file-close", map[string]any{"handle": h}, nil)
}
