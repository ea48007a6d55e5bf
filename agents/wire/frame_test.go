package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"spirit/errcode"
)

// header builds a frame header by hand, so that tests can claim lengths
// that WriteFrame would never write.
func header(t Type, n uint32) []byte {
	h := []byte{byte(t), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], n)
	return h
}

// rawFrame is a frame with an arbitrary payload.
func rawFrame(t Type, payload string) []byte {
	return append(header(t, uint32(len(payload))), payload...)
}

// countWriter counts Write calls: WriteFrame promises one per frame, so
// that frames from concurrent writers on a stream never interleave.
type countWriter struct {
	bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestFrameRoundTrip(t *testing.T) {
	mtime := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC)
	tests := []struct {
		typ Type
		msg any // a pointer to the message
	}{
		{TRequest, &Request{Op: OpExec, ID: "e1", Argv: []string{"ls", "-l", "ü"}, Env: []string{"A=1"}, Dir: "/tmp", Stdin: true, TTY: &Resize{Rows: 24, Cols: 80}}},
		{TRequest, &Request{Op: OpExec, ID: strings.Repeat("x", MaxID), Shell: "echo hi | tr a-z A-Z"}},
		{TRequest, &Request{Op: OpAttach, ID: "e1", FD: 2}},
		{TRequest, &Request{Op: OpWrite, Path: "/tmp/f", Append: true, Mode: 0o750}},
		{TRequest, &Request{Op: OpRead, Path: "C:\\x y\\z"}},
		{TRequest, &Request{Op: OpStat, Path: "/"}},
		{TRequest, &Request{Op: OpPing}},
		{TOK, &Reply{}},
		{TOK, &Reply{Stat: &Stat{Size: 1 << 40, Mode: fs.ModeDir | 0o755, ModTime: mtime}}},
		{TError, &ErrorMsg{Message: "no such file or directory", Code: errcode.NotFound}},
		{TError, &ErrorMsg{Message: "<&> \"quoted\"\n"}},
		{TSignal, &SignalMsg{Signal: "INT"}},
		{TSignal, &SignalMsg{Signal: "KILL", Cancel: true}},
		{TResize, &Resize{Rows: 65535, Cols: 1}},
		{TCloseOut, &CloseOutMsg{FD: 1}},
		{TCloseOut, &CloseOutMsg{FD: 2}},
		{TExit, &ExitMsg{Status: 0}},
		{TExit, &ExitMsg{Status: 130, Signal: "INT"}},
	}
	var stream bytes.Buffer // every frame, one after the other
	for _, tt := range tests {
		var w countWriter
		if err := WriteFrame(&w, tt.typ, tt.msg); err != nil {
			t.Fatalf("WriteFrame(%v, %+v): %v", tt.typ, tt.msg, err)
		}
		if w.writes != 1 {
			t.Errorf("WriteFrame(%v) made %d writes, want 1", tt.typ, w.writes)
		}
		raw := w.Bytes()
		if raw[0] != byte(tt.typ) || int(binary.BigEndian.Uint32(raw[1:5])) != len(raw)-headerLen {
			t.Errorf("%v frame header % x does not match its %d-byte payload", tt.typ, raw[:5], len(raw)-headerLen)
		}
		stream.Write(raw)
	}
	for _, tt := range tests {
		f, err := ReadFrame(&stream)
		if err != nil {
			t.Fatalf("ReadFrame for %v: %v", tt.typ, err)
		}
		if f.Type != tt.typ {
			t.Fatalf("ReadFrame type %v, want %v", f.Type, tt.typ)
		}
		got := reflect.New(reflect.TypeOf(tt.msg).Elem()).Interface()
		if err := f.Decode(got); err != nil {
			t.Fatalf("Decode %v %s: %v", tt.typ, f.Payload, err)
		}
		if !reflect.DeepEqual(got, tt.msg) {
			t.Errorf("%v round trip: got %+v, want %+v", tt.typ, got, tt.msg)
		}
	}
	// The stream ends cleanly after the last frame: plain io.EOF.
	if _, err := ReadFrame(&stream); err != io.EOF {
		t.Errorf("ReadFrame at the end: %v, want io.EOF", err)
	}
}

func TestWriteFrameTooBig(t *testing.T) {
	var w countWriter
	err := WriteFrame(&w, TRequest, &Request{Op: OpRead, Path: strings.Repeat("p", MaxFrame)})
	if err == nil {
		t.Fatal("WriteFrame of a payload over MaxFrame succeeded")
	}
	if w.writes != 0 {
		t.Errorf("a refused frame still made %d writes", w.writes)
	}
	if err := WriteFrame(&w, TOK, func() {}); err == nil {
		t.Error("WriteFrame of a value JSON cannot encode succeeded")
	}
}

func TestReadFrameBoundary(t *testing.T) {
	payload := strings.Repeat("a", MaxFrame)
	f, err := ReadFrame(bytes.NewReader(rawFrame(TOK, payload)))
	if err != nil {
		t.Fatalf("ReadFrame of a MaxFrame payload: %v", err)
	}
	if string(f.Payload) != payload {
		t.Errorf("MaxFrame payload came back as %d bytes", len(f.Payload))
	}
	f, err = ReadFrame(bytes.NewReader(header(TExit, 0)))
	if err != nil || f.Type != TExit || len(f.Payload) != 0 {
		t.Errorf("empty payload: %+v, %v", f, err)
	}
}

// failAfter fails the test if anything reads from it: ReadFrame must decide
// from the header alone.
type failAfter struct{ t *testing.T }

func (r failAfter) Read([]byte) (int, error) {
	r.t.Error("ReadFrame read past a header it should have refused")
	return 0, io.EOF
}

func TestReadFrameRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"type 0", rawFrame(0, "{}")},
		{"type after the last", rawFrame(tEnd, "{}")},
		{"type 255", rawFrame(255, "{}")},
		{"length MaxFrame+1", header(TOK, MaxFrame+1)},
		{"length 4 GiB", header(TRequest, 1<<32-1)},
		{"length 2 GiB", header(TError, 1<<31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadFrame(io.MultiReader(bytes.NewReader(tt.in), failAfter{t}))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("ReadFrame: %v, want ErrFrame", err)
			}
			// Generous: only the claimed length would come near it.
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Errorf("ReadFrame allocated %d bytes for a frame it refused", d)
			}
		})
	}
}

func TestReadFrameCutShort(t *testing.T) {
	whole := rawFrame(TSignal, `{"signal":"INT"}`)
	for n := 0; n < len(whole); n++ {
		_, err := ReadFrame(bytes.NewReader(whole[:n]))
		switch {
		case n == 0:
			if err != io.EOF {
				t.Errorf("empty stream: %v, want exactly io.EOF", err)
			}
		case !errors.Is(err, ErrFrame):
			t.Errorf("cut after %d of %d bytes: %v, want ErrFrame", n, len(whole), err)
		case errors.Is(err, io.EOF):
			t.Errorf("cut after %d bytes: %v also reads as a clean io.EOF", n, err)
		}
	}
	// The same, a byte at a time: short reads are not the end.
	if _, err := ReadFrame(iotest.OneByteReader(bytes.NewReader(whole))); err != nil {
		t.Errorf("one byte at a time: %v", err)
	}
	// Errors other than the end pass through as they are.
	boom := errors.New("boom")
	for _, r := range []io.Reader{
		iotest.ErrReader(boom),
		io.MultiReader(bytes.NewReader(whole[:3]), iotest.ErrReader(boom)),
		io.MultiReader(bytes.NewReader(whole[:7]), iotest.ErrReader(boom)),
	} {
		if _, err := ReadFrame(r); !errors.Is(err, boom) || errors.Is(err, ErrFrame) {
			t.Errorf("a failing reader: %v, want the reader's own error", err)
		}
	}
}

func TestDecode(t *testing.T) {
	long := strings.Repeat("i", MaxID+1)
	tests := []struct {
		name    string
		typ     Type
		payload string
		into    any
		wantErr string // "" for valid
	}{
		{"exec shell", TRequest, `{"op":"exec","id":"a","shell":"ls"}`, &Request{}, ""},
		{"exec argv", TRequest, `{"op":"exec","id":"a","argv":["ls"]}`, &Request{}, ""},
		{"exec id MaxID", TRequest, `{"op":"exec","id":"` + long[1:] + `","argv":["ls"]}`, &Request{}, ""},
		{"exec tty", TRequest, `{"op":"exec","id":"a","shell":"sh","tty":{"rows":1,"cols":2}}`, &Request{}, ""},
		{"exec neither", TRequest, `{"op":"exec","id":"a"}`, &Request{}, "shell text or argv"},
		{"exec empty argv", TRequest, `{"op":"exec","id":"a","argv":[]}`, &Request{}, "shell text or argv"},
		{"exec both", TRequest, `{"op":"exec","id":"a","shell":"ls","argv":["ls"]}`, &Request{}, "shell text or argv"},
		{"exec no id", TRequest, `{"op":"exec","shell":"ls"}`, &Request{}, "id must be"},
		{"exec id too long", TRequest, `{"op":"exec","id":"` + long + `","shell":"ls"}`, &Request{}, "id must be"},
		{"attach fd 0", TRequest, `{"op":"attach","id":"a"}`, &Request{}, ""},
		{"attach fd 2", TRequest, `{"op":"attach","id":"a","fd":2}`, &Request{}, ""},
		{"attach fd 3", TRequest, `{"op":"attach","id":"a","fd":3}`, &Request{}, "attach fd 3"},
		{"attach fd -1", TRequest, `{"op":"attach","id":"a","fd":-1}`, &Request{}, "attach fd -1"},
		{"attach id too long", TRequest, `{"op":"attach","id":"` + long + `"}`, &Request{}, "id must be"},
		{"read", TRequest, `{"op":"read","path":"/x"}`, &Request{}, ""},
		{"write perm bits", TRequest, `{"op":"write","path":"/x","mode":511}`, &Request{}, ""},
		{"write unix setuid", TRequest, `{"op":"write","path":"/x","mode":2541}`, &Request{}, "only permission bits"},
		{"write dir bit", TRequest, `{"op":"write","path":"/x","mode":2147484141}`, &Request{}, "only permission bits"},
		{"write setuid", TRequest, `{"op":"write","path":"/x","mode":8388608}`, &Request{}, "only permission bits"},
		{"stat no path", TRequest, `{"op":"stat"}`, &Request{}, "needs a path"},
		{"ping", TRequest, `{"op":"ping"}`, &Request{}, ""},
		{"unknown op", TRequest, `{"op":"format"}`, &Request{}, `unknown op "format"`},
		{"no op", TRequest, `{}`, &Request{}, `unknown op ""`},
		{"not JSON", TRequest, `{"op":`, &Request{}, "payload"},
		{"empty payload", TRequest, ``, &Request{}, "payload"},
		{"wrong JSON type", TRequest, `{"op":"attach","id":"a","fd":"1"}`, &Request{}, "payload"},
		{"signal INT", TSignal, `{"signal":"INT"}`, &SignalMsg{}, ""},
		{"signal QUIT", TSignal, `{"signal":"QUIT","cancel":true}`, &SignalMsg{}, ""},
		{"signal FOO", TSignal, `{"signal":"FOO"}`, &SignalMsg{}, `unknown signal "FOO"`},
		{"signal lower case", TSignal, `{"signal":"int"}`, &SignalMsg{}, "unknown signal"},
		{"signal with SIG", TSignal, `{"signal":"SIGINT"}`, &SignalMsg{}, "unknown signal"},
		{"closeout 1", TCloseOut, `{"fd":1}`, &CloseOutMsg{}, ""},
		{"closeout 0", TCloseOut, `{"fd":0}`, &CloseOutMsg{}, "closeout fd 0"},
		{"closeout none", TCloseOut, `{}`, &CloseOutMsg{}, "closeout fd 0"},
		{"closeout 3", TCloseOut, `{"fd":3}`, &CloseOutMsg{}, "closeout fd 3"},
		{"resize", TResize, `{"rows":1,"cols":1}`, &Resize{}, ""},
		{"resize overflow", TResize, `{"rows":65536,"cols":1}`, &Resize{}, "payload"},
		{"exit", TExit, `{"status":137,"signal":"KILL"}`, &ExitMsg{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadFrame(bytes.NewReader(rawFrame(tt.typ, tt.payload)))
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			err = f.Decode(tt.into)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode(%s): %v", tt.payload, err)
				}
				return
			}
			if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Decode(%s): %v, want ErrFrame saying %q", tt.payload, err, tt.wantErr)
			}
		})
	}
}

func TestExpect(t *testing.T) {
	t.Run("wanted type", func(t *testing.T) {
		var r Reply
		in := rawFrame(TOK, `{"stat":{"size":3,"mode":420,"mtime":"2020-01-01T00:00:00Z"}}`)
		if err := Expect(bytes.NewReader(in), TOK, &r); err != nil {
			t.Fatal(err)
		}
		if r.Stat == nil || r.Stat.Size != 3 || r.Stat.Mode != 0o644 {
			t.Errorf("Expect decoded %+v", r.Stat)
		}
	})
	t.Run("wanted type, invalid", func(t *testing.T) {
		err := Expect(bytes.NewReader(rawFrame(TSignal, `{"signal":"FOO"}`)), TSignal, &SignalMsg{})
		if !errors.Is(err, ErrFrame) {
			t.Errorf("Expect: %v, want ErrFrame from check", err)
		}
	})
	t.Run("other type", func(t *testing.T) {
		err := Expect(bytes.NewReader(rawFrame(TExit, `{"status":0}`)), TOK, &Reply{})
		if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "got exit, want ok") {
			t.Errorf("Expect: %v, want ErrFrame naming both types", err)
		}
	})
	t.Run("end of stream", func(t *testing.T) {
		if err := Expect(bytes.NewReader(nil), TOK, &Reply{}); err != io.EOF {
			t.Errorf("Expect: %v, want io.EOF", err)
		}
	})
	t.Run("malformed error frame", func(t *testing.T) {
		err := Expect(bytes.NewReader(rawFrame(TError, `"oops"`)), TOK, &Reply{})
		var re *errcode.Error
		if !errors.Is(err, ErrFrame) || errors.As(err, &re) {
			t.Errorf("Expect: %v, want ErrFrame, not an errcode.Error", err)
		}
	})
	errorTests := []struct {
		code                 errcode.Code
		notExist, permission bool
	}{
		{code: errcode.NotFound, notExist: true},
		{code: errcode.Denied, permission: true},
		{code: errcode.Busy},
		{code: ""},
	}
	for _, tt := range errorTests {
		t.Run("error frame "+string(tt.code), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, TError, ErrorMsg{Message: "it failed: " + string(tt.code), Code: tt.code}); err != nil {
				t.Fatal(err)
			}
			err := Expect(&buf, TOK, &Reply{})
			var re *errcode.Error
			if !errors.As(err, &re) {
				t.Fatalf("Expect: %v (%T), want *errcode.Error", err, err)
			}
			if re.Msg != "it failed: "+string(tt.code) || re.Code != tt.code || err.Error() != re.Msg {
				t.Errorf("errcode.Error %+v, message %q", re, err.Error())
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(fs.ErrNotExist) = %v", got)
			}
			if got := errors.Is(err, fs.ErrPermission); got != tt.permission {
				t.Errorf("errors.Is(fs.ErrPermission) = %v", got)
			}
			if errors.Is(err, fs.ErrExist) || errors.Is(err, ErrFrame) {
				t.Errorf("%v matches an unrelated error", err)
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	want := map[Type]string{
		0: "type 0", TRequest: "request", TOK: "ok", TError: "error", TSignal: "signal",
		TResize: "resize", TCloseOut: "closeout", TExit: "exit", tEnd: "type 8", 255: "type 255",
	}
	for typ, s := range want {
		if typ.String() != s {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(typ), typ.String(), s)
		}
	}
}
