package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"reflect"
	"testing"
	"testing/iotest"
	"time"

	"spirit/errcode"
	"spirit/internal/printable"
)

// The seed corpora under testdata/fuzz hold valid frames of each type,
// chunked data with both ends, and handshakes with stale bytes around
// them.

// newMessage returns a pointer to the message a frame of type t carries.
func newMessage(t Type) any {
	switch t {
	case TRequest:
		return &Request{}
	case TOK:
		return &Reply{}
	case TError:
		return &ErrorMsg{}
	case TSignal:
		return &SignalMsg{}
	case TResize:
		return &Resize{}
	case TCloseOut:
		return &CloseOutMsg{}
	case TExit:
		return &ExitMsg{}
	}
	panic(fmt.Sprintf("no message for %v", t))
}

// FuzzReadFrame reads frames from arbitrary bytes: whatever they are,
// ReadFrame returns frames that are exactly the bytes it consumed, or
// ErrFrame, or io.EOF at a frame boundary; and a message that decodes
// passes through WriteFrame unchanged, as the agent relays it.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		pos := 0
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				if err == io.EOF && pos != len(in) {
					t.Fatalf("io.EOF at %d of %d bytes: only a clean end is io.EOF", pos, len(in))
				}
				if err != io.EOF && !errors.Is(err, ErrFrame) {
					t.Fatalf("ReadFrame: %v, neither io.EOF nor ErrFrame", err)
				}
				return
			}
			if fr.Type == 0 || fr.Type >= tEnd || len(fr.Payload) > MaxFrame {
				t.Fatalf("ReadFrame returned type %d with %d bytes", fr.Type, len(fr.Payload))
			}
			end := pos + headerLen + len(fr.Payload)
			if end > len(in) || in[pos] != byte(fr.Type) || !bytes.Equal(in[pos+headerLen:end], fr.Payload) {
				t.Fatalf("frame %v at %d is not the bytes there", fr.Type, pos)
			}
			pos = end
			v := newMessage(fr.Type)
			if err := fr.Decode(v); err != nil {
				if !errors.Is(err, ErrFrame) {
					t.Fatalf("Decode: %v, not ErrFrame", err)
				}
				continue
			}
			checkReencode(t, fr.Type, v)
		}
	})
}

// checkReencode writes v as a frame and reads it back. It compares JSON,
// not values: "argv":[] decodes to an empty slice that comes back nil, and
// both mean the same.
func checkReencode(t *testing.T, typ Type, v any) {
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("a decoded %v does not encode: %v", typ, err)
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, typ, v); err != nil {
		if len(want) > MaxFrame {
			return // escaping grew it: "<" is 6 bytes as "\u003c"
		}
		t.Fatalf("WriteFrame of a decoded %v: %v", typ, err)
	}
	fr, err := ReadFrame(&buf)
	if err != nil || fr.Type != typ || buf.Len() != 0 {
		t.Fatalf("reading back a %v frame: %v, %v, %d bytes left", typ, fr.Type, err, buf.Len())
	}
	v2 := newMessage(typ)
	if err := fr.Decode(v2); err != nil {
		t.Fatalf("a re-encoded %v no longer decodes: %v\nfirst %s\nthen  %s", typ, err, want, fr.Payload)
	}
	got, err := json.Marshal(v2)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%v changed on the way: %s became %s (%v)", typ, want, got, err)
	}
}

// FuzzChunkReader reads arbitrary bytes as chunked data and checks the
// result against a plain decoding of the format: the same data, the same
// end, and on a complete stream not a byte read past its final frame.
func FuzzChunkReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		want, end, wantErr := decodeChunks(in)
		if n, _ := io.Copy(io.Discard, &ChunkReader{R: bytes.NewReader(in)}); n != int64(len(want)) {
			t.Fatalf("io.Copy to io.Discard: %d bytes from %d, want %d", n, len(in), len(want))
		}
		for _, oneByte := range []bool{false, true} {
			src := bytes.NewReader(in)
			var r io.Reader = src
			if oneByte {
				r = iotest.OneByteReader(src)
			}
			cr := &ChunkReader{R: r}
			var got bytes.Buffer
			_, err := io.Copy(&got, cr)
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("onebyte=%v: read %d bytes, want %d: %x", oneByte, got.Len(), len(want), got.Bytes())
			}
			if kind := errKind(err); kind != wantErr.kind {
				t.Fatalf("onebyte=%v: ended with %v (%s), want %s", oneByte, err, kind, wantErr.kind)
			}
			var re *errcode.Error
			if errors.As(err, &re) && (re.Msg != wantErr.remote.Msg || re.Code != wantErr.remote.Code) {
				t.Fatalf("errcode.Error %+v, want %+v", re, wantErr.remote)
			}
			if err == nil && src.Len() != len(in)-end {
				t.Fatalf("onebyte=%v: consumed %d bytes, the stream ends at %d", oneByte, len(in)-src.Len(), end)
			}
		}
	})
}

type chunkEnd struct {
	kind   string // as errKind says
	remote errcode.Error
}

// decodeChunks decodes the chunk format directly from a slice.
func decodeChunks(in []byte) (data []byte, end int, e chunkEnd) {
	pos := 0
	for {
		if len(in)-pos < 4 {
			return data, 0, chunkEnd{kind: "unexpected"}
		}
		n := int(binary.BigEndian.Uint32(in[pos:]))
		pos += 4
		if n > MaxChunk {
			return data, 0, chunkEnd{kind: "frame"}
		}
		if n == 0 {
			break
		}
		if len(in)-pos < n {
			return append(data, in[pos:]...), 0, chunkEnd{kind: "unexpected"}
		}
		data = append(data, in[pos:pos+n]...)
		pos += n
	}
	if pos == len(in) {
		return data, 0, chunkEnd{kind: "unexpected"}
	}
	if len(in)-pos < headerLen {
		return data, 0, chunkEnd{kind: "frame"}
	}
	typ := Type(in[pos])
	n := int(binary.BigEndian.Uint32(in[pos+1:]))
	if n > MaxFrame || len(in)-pos-headerLen < n {
		return data, 0, chunkEnd{kind: "frame"}
	}
	payload := in[pos+headerLen : pos+headerLen+n]
	switch typ {
	case TOK:
		if json.Unmarshal(payload, &Reply{}) != nil {
			return data, 0, chunkEnd{kind: "frame"}
		}
		return data, pos + headerLen + n, chunkEnd{kind: "eof"}
	case TError:
		var m ErrorMsg
		if json.Unmarshal(payload, &m) != nil {
			return data, 0, chunkEnd{kind: "frame"}
		}
		// The peer's text comes escaped (Expect).
		return data, 0, chunkEnd{kind: "remote", remote: errcode.Error{Msg: printable.String(m.Message), Code: m.Code}}
	}
	return data, 0, chunkEnd{kind: "frame"}
}

// errKind names how a ChunkReader's data ended, as io.Copy reports it.
func errKind(err error) string {
	var re *errcode.Error
	switch {
	case err == nil:
		return "eof"
	case err == io.ErrUnexpectedEOF:
		return "unexpected"
	case errors.As(err, &re):
		return "remote"
	case errors.Is(err, ErrFrame):
		return "frame"
	}
	return fmt.Sprintf("unexpected error %v", err)
}

// maxMessage is the longest handshake message: the most the scanner holds.
var maxMessage = len(magic) + 1 + nonceLen + 2 + MaxHello

// feedEach feeds in to s a byte at a time and yields each message s finds,
// with the index of the byte that ends it. It fails the test if s ever
// holds more than a message.
func feedEach(t *testing.T, s *scanner, in []byte) iter.Seq2[int, message] {
	return func(yield func(int, message) bool) {
		for i, b := range in {
			m, ok := s.feed(b)
			if len(s.buf) > maxMessage || cap(s.buf) > 2*maxMessage {
				t.Fatalf("scanner holds %d bytes (cap %d), more than a message", len(s.buf), cap(s.buf))
			}
			if ok && !yield(i, m) {
				return
			}
		}
	}
}

// fuzzConn reads a fixed input, then io.EOF, and records what is written.
type fuzzConn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return nil }
func (c *fuzzConn) RemoteAddr() net.Addr             { return nil }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzGuestSync gives the guest's handshake arbitrary bytes from the host,
// then the end. The guest must answer each sync with its ack and nothing
// else, and succeed only on a go for a nonce it acked, handing on every
// byte after that go; the scanner must stay within one message.
func FuzzGuestSync(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		guest := Hello{Proto: Proto, Version: "fuzz"}
		hb, _ := json.Marshal(guest)

		// What the guest should do, from the scanner's messages.
		var (
			wantOut  bytes.Buffer
			acked    []nonce
			wantHost *Hello
			rest     []byte
		)
	model:
		for i, m := range feedEach(t, newScanner(nil), in) {
			switch m.kind {
			case kindSync:
				wantOut.Write(message{kind: kindAck, nonce: m.nonce}.encode())
				acked = append(acked, m.nonce)
				if len(acked) > 16 {
					acked = acked[1:]
				}
			case kindGo:
				h, err := decodeHello(m.hello)
				if !contains(acked, m.nonce) || err != nil {
					continue
				}
				wantOut.Write(message{kind: kindReady, nonce: m.nonce, hello: hb}.encode())
				wantHost, rest = &h, in[i+1:]
				break model
			}
		}

		c := &fuzzConn{r: bytes.NewReader(in)}
		watchdog := time.AfterFunc(5*time.Second, func() {
			panic(fmt.Sprintf("GuestSync on %q hangs", in)) // a panic ends the hang too
		})
		host, conn, err := GuestSync(c, guest)
		watchdog.Stop()

		if !bytes.Equal(c.out.Bytes(), wantOut.Bytes()) {
			t.Fatalf("guest wrote %q, want %q", c.out.Bytes(), wantOut.Bytes())
		}
		checkGuestWrites(t, c.out.Bytes(), hb)
		switch {
		case wantHost == nil:
			if !errors.Is(err, io.EOF) || conn != nil {
				t.Fatalf("GuestSync with no go for an acked sync: %v, want io.EOF", err)
			}
		case wantHost.Proto != Proto:
			if !errors.Is(err, ErrVersion) || conn != nil {
				t.Fatalf("GuestSync with a host of protocol %d: %v, want ErrVersion", wantHost.Proto, err)
			}
		default:
			if err != nil {
				t.Fatalf("GuestSync: %v, want success", err)
			}
			if !reflect.DeepEqual(host, *wantHost) {
				t.Fatalf("GuestSync returned hello %+v, want %+v", host, *wantHost)
			}
			after, err := io.ReadAll(conn)
			if err != nil || !bytes.Equal(after, rest) {
				t.Fatalf("after the go the guest read %q, %v; want %q", after, err, rest)
			}
		}
	})
}

// checkGuestWrites: the guest writes only whole acks, then at most one
// ready carrying its hello, last.
func checkGuestWrites(t *testing.T, out, hello []byte) {
	s := newScanner(bufio.NewReader(bytes.NewReader(out)))
	total := 0
	var ready bool
	for {
		m, err := s.next()
		if err != nil {
			break
		}
		total += len(m.encode())
		switch {
		case ready:
			t.Fatalf("guest wrote %c after ready", m.kind)
		case m.kind == kindReady:
			ready = true
			if !bytes.Equal(m.hello, hello) {
				t.Fatalf("ready carries %q, want %q", m.hello, hello)
			}
		case m.kind != kindAck:
			t.Fatalf("guest wrote a %c", m.kind)
		}
	}
	if total != len(out) {
		t.Fatalf("%d of the %d bytes the guest wrote are not messages", len(out)-total, len(out))
	}
}

// FuzzHostScanner fuzzes the scanner both sides use (HostSync's nonces are
// random, so it cannot be driven to success from a corpus): every message
// it finds is the bytes right before the point it found it, each after the
// last; reading through a small bufio.Reader finds the same messages as
// feeding bytes one at a time; memory stays within one message; and
// whatever the input, of two messages after it at most the first is lost.
func FuzzHostScanner(f *testing.F) {
	var n1, n2 nonce
	copy(n1[:], "fuzz nonce one..")
	copy(n2[:], "fuzz nonce two..")
	tail1 := message{kind: kindAck, nonce: n1}
	tail2 := message{kind: kindReady, nonce: n2, hello: []byte(`{"proto":1}`)}
	f.Fuzz(func(t *testing.T, in []byte) {
		var viaNext []message
		s := newScanner(bufio.NewReaderSize(bytes.NewReader(in), 16))
		for {
			m, err := s.next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("next: %v, want io.EOF", err)
				}
				break
			}
			viaNext = append(viaNext, m)
		}

		var viaFeed []message
		s = newScanner(nil)
		last := 0 // where the last message ended
		for i, m := range feedEach(t, s, in) {
			switch m.kind {
			case kindSync, kindAck:
				if m.hello != nil {
					t.Fatalf("%c with a hello %q", m.kind, m.hello)
				}
			case kindGo, kindReady:
				if len(m.hello) > MaxHello {
					t.Fatalf("%c with a hello of %d bytes", m.kind, len(m.hello))
				}
			default:
				t.Fatalf("message of kind %q", m.kind)
			}
			enc := m.encode()
			start := i + 1 - len(enc)
			if start < last || !bytes.Equal(in[start:i+1], enc) {
				t.Fatalf("message %c %x found at %d is not the %d bytes before it (last ended at %d)", m.kind, m.nonce, i+1, len(enc), last)
			}
			last = i + 1
			viaFeed = append(viaFeed, m)
		}
		if !reflect.DeepEqual(viaNext, viaFeed) {
			t.Fatalf("next found %d messages, feed %d:\n%v\n%v", len(viaNext), len(viaFeed), viaNext, viaFeed)
		}

		// Whatever came before, the scanner finds its way back.
		for _, m := range feedEach(t, s, append(tail1.encode(), tail2.encode()...)) {
			viaFeed = append(viaFeed, m)
		}
		if len(viaFeed) == 0 || !reflect.DeepEqual(viaFeed[len(viaFeed)-1], tail2) {
			t.Fatalf("after the input, the scanner missed the last message: %v", viaFeed[len(viaNext):])
		}
	})
}
