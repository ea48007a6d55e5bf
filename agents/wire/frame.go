// Package wire is the protocol between spirit and its guest agent.
//
// One byte stream (a virtio-serial port, a unix socket, a pipe) first
// carries a resynchronising handshake (sync.go), then a yamux session. Each
// request is one yamux stream that starts with a control frame (this
// file); an exec adds one raw stream per standard file, so that stdout and
// stderr each have their own flow control.
package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"spirit/errcode"
	"spirit/internal/printable"
)

// MaxFrame bounds a control frame's payload. Frames carry only small JSON
// messages: data goes on raw streams.
const MaxFrame = 64 << 10

// Type says what a control frame carries.
type Type uint8

// Frame types. Requests open a stream; the others follow on it.
const (
	TRequest  Type = 1 + iota // Request, client → agent, the first frame of a stream
	TOK                       // Reply, agent → client: the request is accepted or done
	TError                    // ErrorMsg, agent → client: the request failed
	TSignal                   // SignalMsg, client → agent
	TResize                   // ResizeMsg, client → agent
	TCloseOut                 // CloseOutMsg, client → agent: nobody reads that output any more
	TExit                     // ExitMsg, agent → client: the exec is over
	tEnd                      // first unknown type
)

func (t Type) String() string {
	names := [...]string{"", "request", "ok", "error", "signal", "resize", "closeout", "exit"}
	if t > 0 && t < tEnd {
		return names[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// ErrFrame is wrapped by ReadFrame for bytes that are not a valid frame; it
// ends the stream it came on, never the agent.
var ErrFrame = errors.New("malformed frame")

// Frame is one control frame: a type and its JSON payload.
type Frame struct {
	Type    Type
	Payload []byte
}

// headerLen is the type byte and the big-endian payload length.
const headerLen = 5

// WriteFrame encodes v as the payload of a frame of type t, in one Write.
func WriteFrame(w io.Writer, t Type, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %v frame: %w", t, err)
	}
	if len(payload) > MaxFrame {
		return fmt.Errorf("encode %v frame: %d bytes, more than %d", t, len(payload), MaxFrame)
	}
	buf := make([]byte, headerLen+len(payload))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	copy(buf[headerLen:], payload)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame. It never allocates more than MaxFrame for a
// payload, whatever the length field says. A clean end of stream before a
// frame starts is io.EOF.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, fmt.Errorf("%w: cut short in its header", ErrFrame)
		}
		return Frame{}, err
	}
	t := Type(h[0])
	if t == 0 || t >= tEnd {
		return Frame{}, fmt.Errorf("%w: unknown type %d", ErrFrame, h[0])
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxFrame {
		return Frame{}, fmt.Errorf("%w: %v payload of %d bytes, more than %d", ErrFrame, t, n, MaxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, fmt.Errorf("%w: %v payload cut short", ErrFrame, t)
		}
		return Frame{}, err
	}
	return Frame{Type: t, Payload: p}, nil
}

// Decode unmarshals the payload into v, which must be the message of the
// frame's type.
func (f Frame) Decode(v any) error {
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("%w: %v payload: %v", ErrFrame, f.Type, err)
	}
	if c, ok := v.(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return fmt.Errorf("%w: %v: %v", ErrFrame, f.Type, err)
		}
	}
	return nil
}

// Expect reads a frame of type t into v. An error frame in its place
// becomes an *errcode.Error.
func Expect(r io.Reader, t Type, v any) error {
	f, err := ReadFrame(r)
	if err != nil {
		return err
	}
	switch f.Type {
	case t:
		return f.Decode(v)
	case TError:
		var e ErrorMsg
		if err := f.Decode(&e); err != nil {
			return err
		}
		// The peer's text: shown, never obeyed, by the user's terminal.
		return &errcode.Error{Code: e.Code, Msg: printable.String(e.Message)}
	}
	return fmt.Errorf("%w: got %v, want %v", ErrFrame, f.Type, t)
}
