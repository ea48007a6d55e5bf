package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"spirit/router"
)

// fromStdin runs the commands on stdin, a line (or, while it is
// incomplete, several) at a time, with no prompt, in a bash that is not
// interactive and whose stdin is spirit's. Like bash it stops at a syntax
// error, at the exit builtin, and at the end of its input.
func (s *shell) fromStdin(ctx context.Context, sig *caught) int {
	if s.opts.Stdin == nil {
		return 0
	}
	h, status, err := s.startHost(ctx, false)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: %v\n", err)
		return 1
	}
	if h == nil {
		return status
	}
	defer func() { h.close(sig.status() != 0) }()
	return s.linesFrom(ctx, h)
}

// linesFrom feeds h the commands on stdin. Each is read only once bash has
// run the one before, and never past its end, so that a command reads the
// lines after its own, as in bash.
func (s *shell) linesFrom(ctx context.Context, h *host) int {
	lr := newLineReader(s.opts.Stdin)
	var pending strings.Builder
	for ctx.Err() == nil {
		line, err := lr.readLine()
		pending.WriteString(line)
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(errOut(s.opts), "spirit: read commands: %v\n", err)
			return 1
		}
		eof := err != nil
		src := pending.String()
		if !eof && router.IsIncomplete(src) {
			continue
		}
		pending.Reset()
		if !onlyComments(src) {
			st, err := h.run(ctx, src)
			if err != nil || syntaxError(src) {
				return st // bash has exited, or the shell is ending
			}
		}
		if eof {
			break
		}
	}
	return h.last.Status
}

// syntaxError reports whether src does not parse, which ends a shell
// that reads a script (the planner has said why).
func syntaxError(src string) bool {
	_, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	return err != nil
}

// lineReader reads lines from a file without taking more than it hands
// back, so that a command run from a line reads the lines after it, as
// bash leaves them: a pipe is read a byte at a time, a regular file in
// blocks with the offset put back after each line.
type lineReader struct {
	f        *os.File
	seekable bool
	buf      []byte
}

func newLineReader(f *os.File) *lineReader {
	st, err := f.Stat()
	seekable := false
	if err == nil && st.Mode().IsRegular() {
		_, err := f.Seek(0, io.SeekCurrent)
		seekable = err == nil
	}
	return &lineReader{f: f, seekable: seekable, buf: make([]byte, 4096)}
}

// readLine returns the next line with its "\n" (without one at the end of
// the input, where err is io.EOF).
func (r *lineReader) readLine() (string, error) {
	var line []byte
	for {
		chunk := r.buf
		if !r.seekable {
			chunk = r.buf[:1]
		}
		n, err := r.f.Read(chunk)
		if n > 0 {
			if i := bytes.IndexByte(chunk[:n], '\n'); i >= 0 {
				line = append(line, chunk[:i+1]...)
				if extra := n - (i + 1); extra > 0 {
					if _, err := r.f.Seek(int64(-extra), io.SeekCurrent); err != nil {
						return string(line), err
					}
				}
				return string(line), nil
			}
			line = append(line, chunk[:n]...)
		}
		if err != nil {
			return string(line), err
		}
		if n == 0 {
			return string(line), io.EOF
		}
	}
}
