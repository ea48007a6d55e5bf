package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"spirit/errcode"
)

// randomBytes is reproducible data without a repeating period that could
// hide a chunk delivered twice or skipped.
func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// chunked is what a ChunkWriter writes for data in the given pieces, ended
// with End(end).
func chunked(t testing.TB, data []byte, pieces []int, end error) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := &ChunkWriter{W: &buf}
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), pieces[i%len(pieces)])
		m, err := w.Write(data[:n])
		if m != n || err != nil {
			t.Fatalf("ChunkWriter.Write(%d bytes) = %d, %v", n, m, err)
		}
		data = data[n:]
	}
	if err := w.End(end); err != nil {
		t.Fatalf("End: %v", err)
	}
	return buf.Bytes()
}

// readAll reads r with reads of the given sizes in turn, and returns the
// data and the error that ended it.
func readAll(r io.Reader, sizes []int) ([]byte, error) {
	var out []byte
	buf := make([]byte, slices.Max(sizes))
	for i := 0; ; i++ {
		p := buf[:sizes[i%len(sizes)]]
		n, err := r.Read(p)
		if n < 0 || n > len(p) {
			return out, fmt.Errorf("Read returned %d for %d bytes", n, len(p))
		}
		out = append(out, p[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func TestChunkRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 2, 4095, 64 << 10, MaxChunk, MaxChunk + 1, 3 << 20}
	writes := map[string][]int{
		"one write":    {1 << 30},
		"odd pieces":   {7, 4093, MaxChunk + 3, 1, 65537},
		"single bytes": {1},
	}
	reads := map[string][]int{
		"big buffer":  {4 << 20},
		"odd buffers": {13, 4097, 1, 65521, 3 << 20},
	}
	for _, size := range sizes {
		data := randomBytes(size)
		for wname, pieces := range writes {
			if wname == "single bytes" && size > 64<<10 {
				continue // 4 bytes of header a byte: slow, and proves nothing more
			}
			stream := chunked(t, data, pieces, nil)
			for rname, bufs := range reads {
				for _, oneByte := range []bool{false, true} {
					name := fmt.Sprintf("%d bytes/%s/%s/onebyte=%v", size, wname, rname, oneByte)
					t.Run(name, func(t *testing.T) {
						// Bytes after the end belong to whoever reads
						// the stream next: the reader must not take them.
						src := bytes.NewReader(append(append([]byte{}, stream...), "next"...))
						var under io.Reader = src
						if oneByte {
							under = iotest.OneByteReader(src)
						}
						cr := &ChunkReader{R: under}
						got, err := readAll(cr, bufs)
						if err != io.EOF {
							t.Fatalf("after %d bytes: %v, want io.EOF", len(got), err)
						}
						if !bytes.Equal(got, data) {
							t.Fatalf("read %d bytes, differing from the %d written", len(got), len(data))
						}
						if src.Len() != len("next") {
							t.Errorf("the reader left %d bytes after the end, want 4", src.Len())
						}
						if n, err := cr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
							t.Errorf("Read after the end: %d, %v; want 0, io.EOF", n, err)
						}
					})
				}
			}
		}
	}
}

func TestChunkWriterSplits(t *testing.T) {
	stream := chunked(t, randomBytes(3<<20+5), []int{1 << 30}, nil)
	var lens []uint32
	for {
		n := binary.BigEndian.Uint32(stream)
		stream = stream[4:]
		if n == 0 {
			break
		}
		lens = append(lens, n)
		stream = stream[n:]
	}
	want := []uint32{MaxChunk, MaxChunk, MaxChunk, 5}
	if fmt.Sprint(lens) != fmt.Sprint(want) {
		t.Errorf("one 3 MiB write became chunks %v, want %v", lens, want)
	}
	if f, err := ReadFrame(bytes.NewReader(stream)); err != nil || f.Type != TOK {
		t.Errorf("after the chunks: %+v, %v; want an OK frame", f, err)
	}
	// An empty Write writes nothing: a zero length would end the data.
	var buf bytes.Buffer
	if n, err := (&ChunkWriter{W: &buf}).Write(nil); n != 0 || err != nil || buf.Len() != 0 {
		t.Errorf("empty Write: %d, %v, wrote %d bytes", n, err, buf.Len())
	}
}

func TestChunkReaderZeroBuffer(t *testing.T) {
	cr := &ChunkReader{R: bytes.NewReader(chunked(t, []byte("abc"), []int{3}, nil))}
	if n, err := cr.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	if got, err := io.ReadAll(cr); string(got) != "abc" || err != nil {
		t.Errorf("then ReadAll = %q, %v", got, err)
	}
}

func TestChunkEndError(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "/guest/secret/name", Err: errors.New("disk on fire")}
	tests := []struct {
		name     string
		err      error
		wantMsg  string
		wantCode errcode.Code
		is       error // an error the errcode.Error must match, or nil
	}{
		{"plain", errors.New("out of space"), "out of space", "", nil},
		{"path error", pathErr, "disk on fire", "", nil},
		{"wrapped path error", fmt.Errorf("write: %w", pathErr), "disk on fire", "", nil},
		{"not exist", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, fs.ErrNotExist.Error(), errcode.NotFound, fs.ErrNotExist},
		{"os not exist", func() error { _, err := os.Open("/nonexistent/spirit-wire-test"); return err }(), "no such file or directory", errcode.NotFound, fs.ErrNotExist},
		{"permission", fmt.Errorf("ctx: %w", fs.ErrPermission), "ctx: permission denied", errcode.Denied, fs.ErrPermission},
		{"forwarded remote", &errcode.Error{Msg: "busy now", Code: errcode.Busy}, "busy now", errcode.Busy, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(100)
			cr := &ChunkReader{R: bytes.NewReader(chunked(t, data, []int{33}, tt.err))}
			got, err := io.ReadAll(cr)
			if !bytes.Equal(got, data) {
				t.Errorf("read %q before the error, want the %d bytes written", got, len(data))
			}
			var re *errcode.Error
			if !errors.As(err, &re) {
				t.Fatalf("ReadAll: %v (%T), want *errcode.Error", err, err)
			}
			if re.Msg != tt.wantMsg || re.Code != tt.wantCode {
				t.Errorf("errcode.Error{%q, %q}, want {%q, %q}", re.Msg, re.Code, tt.wantMsg, tt.wantCode)
			}
			if strings.Contains(re.Msg, "/guest/secret") {
				t.Errorf("the message %q names the guest's path", re.Msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			// The failure is sticky, like io.EOF.
			if _, err2 := cr.Read(make([]byte, 1)); err2 != err {
				t.Errorf("Read after the failure: %v, want %v again", err2, err)
			}
		})
	}
}

func TestChunkReaderCut(t *testing.T) {
	data := randomBytes(10)
	stream := chunked(t, data, []int{6, 4}, nil) // [6]6 bytes [4]4 bytes [0] OK frame
	end := 4 + 6 + 4 + 4 + 4                     // where the terminating frame starts
	for cut := 0; cut < len(stream); cut++ {
		got, err := io.ReadAll(&ChunkReader{R: bytes.NewReader(stream[:cut])})
		if !bytes.HasPrefix(data, got) {
			t.Errorf("cut at %d: read %x, not a prefix of %x", cut, got, data)
		}
		if cut <= end {
			if err != io.ErrUnexpectedEOF {
				t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
			}
			continue
		}
		// Inside the last frame: ReadFrame calls it malformed. Either
		// way it must not read as a complete file.
		if err == nil || errors.Is(err, io.EOF) {
			t.Errorf("cut at %d, in the final frame: %v, want a failure", cut, err)
		}
	}
}

func TestChunkReaderRejects(t *testing.T) {
	ok := rawFrame(TOK, "{}")
	chunk := func(n uint32, rest ...[]byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, n)
		for _, r := range rest {
			b = append(b, r...)
		}
		return b
	}
	boom := errors.New("boom")
	tests := []struct {
		name string
		in   io.Reader
		want error
	}{
		{"chunk over MaxChunk", bytes.NewReader(chunk(MaxChunk + 1)), ErrFrame},
		{"chunk of 4 GiB", bytes.NewReader(chunk(1<<32 - 1)), ErrFrame},
		{"exit frame after the end", bytes.NewReader(chunk(0, rawFrame(TExit, "{}"))), ErrFrame},
		{"unknown frame after the end", bytes.NewReader(chunk(0, rawFrame(9, "{}"))), ErrFrame},
		{"OK frame that is not JSON", bytes.NewReader(chunk(0, rawFrame(TOK, "{"))), ErrFrame},
		{"reader error in a header", io.MultiReader(bytes.NewReader([]byte{0, 0}), iotest.ErrReader(boom)), boom},
		{"reader error in a chunk", io.MultiReader(bytes.NewReader(chunk(5, []byte("ab"))), iotest.ErrReader(boom)), boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := io.ReadAll(&ChunkReader{R: tt.in})
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadAll: %v, want %v", err, tt.want)
			}
		})
	}
	// MaxChunk itself is allowed.
	big := randomBytes(MaxChunk)
	got, err := io.ReadAll(&ChunkReader{R: bytes.NewReader(chunk(MaxChunk, big, chunk(0, ok)))})
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("a MaxChunk chunk: %d bytes, %v", len(got), err)
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit int
	buf   bytes.Buffer
}

var errWriter = errors.New("write failed")

func (w *failingWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.limit-w.buf.Len())
	w.buf.Write(p[:n])
	if n < len(p) {
		return n, errWriter
	}
	return n, nil
}

func TestChunkWriterErrors(t *testing.T) {
	tests := []struct {
		limit int
		wantN int
	}{
		{0, 0},           // in the first header
		{4 + 3, 3},       // in the first chunk's data
		{4 + 10, 10},     // right after the first chunk
		{4 + 10 + 4, 10}, // after the second header
	}
	for _, tt := range tests {
		w := &failingWriter{limit: tt.limit}
		n, err := (&ChunkWriter{W: w}).Write(make([]byte, 10))
		if tt.limit < 4+10 {
			if n != tt.wantN || !errors.Is(err, errWriter) {
				t.Errorf("limit %d: Write = %d, %v; want %d, errWriter", tt.limit, n, err, tt.wantN)
			}
			continue
		}
		if n != 10 || err != nil {
			t.Errorf("limit %d: Write = %d, %v", tt.limit, n, err)
		}
		if err := (&ChunkWriter{W: w}).End(nil); !errors.Is(err, errWriter) {
			t.Errorf("limit %d: End = %v, want errWriter", tt.limit, err)
		}
	}
}
