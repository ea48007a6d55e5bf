package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"spirit/errcode"
)

// File contents travel in chunks, so that the end of a file and a failure
// part-way are both said in the stream: a stream that merely stops could be
// a file cut short. Each chunk is a big-endian length and that many bytes;
// a zero length ends the data and is followed by an OK or Error frame.

// MaxChunk bounds a chunk's length. A reader copies a chunk straight into
// its caller's buffer, so the bound is about sanity, not memory.
const MaxChunk = 1 << 20

// ChunkWriter writes chunks; Close ends the data with OK. Its Writes are
// not buffered: each is one chunk (split at MaxChunk).
type ChunkWriter struct {
	W io.Writer
}

func (c *ChunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		part := p[:min(len(p), MaxChunk)]
		var h [4]byte
		binary.BigEndian.PutUint32(h[:], uint32(len(part)))
		if _, err := c.W.Write(h[:]); err != nil {
			return n, err
		}
		m, err := c.W.Write(part)
		n += m
		if err != nil {
			return n, err
		}
		p = p[len(part):]
	}
	return n, nil
}

// End ends the data and says how it went: err nil for complete, or the
// failure, which the reader's Read returns.
func (c *ChunkWriter) End(err error) error {
	if _, werr := c.W.Write([]byte{0, 0, 0, 0}); werr != nil {
		return werr
	}
	if err != nil {
		return WriteFrame(c.W, TError, ErrorFor(err))
	}
	return WriteFrame(c.W, TOK, Reply{})
}

// ChunkReader reads what a ChunkWriter wrote: the data, then io.EOF if the
// writer ended with OK, or an *errcode.Error if it ended with a failure. A
// stream that stops before the end is an error: io.ErrUnexpectedEOF, or
// ErrFrame when it stops inside the final frame.
type ChunkReader struct {
	R    io.Reader
	left uint32 // bytes left in the current chunk
	err  error  // sticky: the end, or a failure
}

func (c *ChunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		var h [4]byte
		if _, err := io.ReadFull(c.R, h[:]); err != nil {
			c.err = unexpected(err)
			return 0, c.err
		}
		c.left = binary.BigEndian.Uint32(h[:])
		if c.left > MaxChunk {
			c.err = fmt.Errorf("%w: chunk of %d bytes, more than %d", ErrFrame, c.left, MaxChunk)
			return 0, c.err
		}
		if c.left == 0 {
			c.err = c.end()
			return 0, c.err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.R.Read(p[:min(uint32(len(p)), c.left)])
	c.left -= uint32(n)
	if err != nil {
		c.err = unexpected(err)
		if n > 0 {
			return n, nil
		}
		return 0, c.err
	}
	return n, nil
}

// end reads the frame after the last chunk.
func (c *ChunkReader) end() error {
	var r Reply
	if err := Expect(c.R, TOK, &r); err != nil {
		return unexpected(err)
	}
	return io.EOF
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ErrorFor turns a local failure into an Error frame's payload, with the
// code that lets the other side tell kinds apart.
func ErrorFor(err error) ErrorMsg {
	var re *errcode.Error
	if errors.As(err, &re) {
		return ErrorMsg{Message: re.Msg, Code: re.Code}
	}
	m := ErrorMsg{Message: err.Error()}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// The host names the file itself, with its target.
		m.Message = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m.Code = errcode.NotFound
	case errors.Is(err, fs.ErrPermission):
		m.Code = errcode.Denied
	}
	return m
}
