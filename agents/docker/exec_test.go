package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"spirit/target"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// seqInput is what "seq 1 100000" prints.
func seqInput() []byte {
	var b bytes.Buffer
	for i := 1; i <= 100000; i++ {
		fmt.Fprintln(&b, i)
	}
	return b.Bytes()
}

func TestExec(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)
	tests := []struct {
		name    string
		text    string
		env     []string
		stdin   func(t *testing.T) io.Reader
		status  int
		stdout  string
		stderr  string
		noInput bool
	}{
		{name: "streams apart and status", text: "echo out; echo err >&2; exit 7", status: 7, stdout: "out\n", stderr: "err\n"},
		{name: "env", text: "echo $F", env: []string{"F=abc"}, stdout: "abc\n"},
		{name: "quoting kept", text: `printf '%s\n' "a  b" 'C:\Users'`, stdout: "a  b\nC:\\Users\n"},
		{name: "death by signal", text: "kill -TERM $$", status: 128 + 15},
		{name: "no stdin attached", text: "cat; echo done", stdout: "done\n"},
		{
			name:   "stdin reader reaches EOF",
			text:   "wc -l",
			stdin:  func(*testing.T) io.Reader { return bytes.NewReader(seqInput()) },
			stdout: "100000\n",
		},
		{
			name: "stdin file reaches EOF",
			text: "wc -l",
			stdin: func(t *testing.T) io.Reader {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				go func() {
					_, _ = w.Write(seqInput())
					w.Close()
				}()
				return r
			},
			stdout: "100000\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &target.Command{Env: tt.env}
			if tt.stdin != nil {
				c.Stdin = tt.stdin(t)
			}
			res := run(testContext(t), tgt, tt.text, c)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.status != tt.status || strings.TrimSpace(res.stdout) != strings.TrimSpace(tt.stdout) || res.stderr != tt.stderr {
				t.Errorf("got status %d, stdout %q, stderr %q; want %d, %q, %q",
					res.status, res.stdout, res.stderr, tt.status, tt.stdout, tt.stderr)
			}
		})
	}
}

// countWriter counts what is written to it and keeps nothing.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// TestExecLargeOutput is not parallel, so that the heap it measures is its
// own.
func TestExecLargeOutput(t *testing.T) {
	_, tgt, _ := newTarget(t)
	const size = 100_000_000
	var out countWriter
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	status, err := tgt.Exec(testContext(t), &target.Command{
		Text:   fmt.Sprintf("head -c %d /dev/zero", size),
		Stdout: &out,
		Stderr: os.Stderr,
	})
	runtime.ReadMemStats(&after)
	if err != nil || status != 0 {
		t.Fatalf("status %d, err %v", status, err)
	}
	if out.n.Load() != size {
		t.Errorf("got %d bytes, want %d", out.n.Load(), size)
	}
	// Buffering the output would allocate at least its size.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("allocated %d bytes to stream %d: output is not streamed", alloc, size)
	}
}

// TestExecBrokenPipe: a reader that goes away stops the command, as SIGPIPE
// does in a shell pipeline.
func TestExecBrokenPipe(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)
	if status := brokenPipe(t, tgt); status != 141 {
		t.Errorf("status %d, want 141", status)
	}
}

// TestExecCancel is not parallel: it measures how quickly a cancel returns.
func TestExecCancel(t *testing.T) {
	_, tgt, _ := newTarget(t)
	tests := []struct {
		name   string
		text   string
		left   []string      // commands that must not be left running
		within time.Duration // from the cancel to the return
	}{
		{name: "child of a shell", text: "sh -c 'sleep 100; echo'", left: []string{"sleep 100", "sh -c sleep 100; echo"}, within: 2 * time.Second},
		{name: "with stdin", text: "cat; sleep 104", left: []string{"sleep 104", "cat"}, within: 2 * time.Second},
		// These outlive SIGINT (a background job ignores it), so they
		// take the grace period and a SIGKILL.
		{name: "background child", text: "sleep 101 & sleep 102; echo", left: []string{"sleep 101", "sleep 102"}, within: 4 * time.Second},
		{name: "ignores SIGINT", text: "trap '' INT; sleep 103; echo", left: []string{"sleep 103"}, within: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			pr, pw := io.Pipe()
			defer pw.Close()
			c := &target.Command{Stdin: pr}
			var res result
			var g errgroup.Group
			g.Go(func() error {
				res = run(ctx, tgt, tt.text, c)
				return nil
			})
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			cancel()
			_ = g.Wait()
			if d := time.Since(start); d > tt.within {
				t.Errorf("returned %v after the cancel, want within %v", d, tt.within)
			}
			if res.err != nil || res.status != 130 {
				t.Errorf("status %d, err %v; want 130, nil", res.status, res.err)
			}
			if left := leftovers(t, tgt, tt.left...); len(left) > 0 {
				t.Errorf("left in the container: %q", left)
			}
		})
	}
}

// TestExecStdinNotRead: a command that does not read its stdin ends the
// exec while the stdin is still open, and takes nothing from it after.
func TestExecStdinNotRead(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)

	t.Run("file", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		start := time.Now()
		res := run(testContext(t), tgt, "echo hi", &target.Command{Stdin: r})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		if res.err != nil || res.status != 0 || res.stdout != "hi\n" {
			t.Fatalf("got %+v", res)
		}
		// Nothing reads the pipe any more: what is written now is still
		// there for the next reader.
		if _, err := w.Write([]byte("after")); err != nil {
			t.Fatal(err)
		}
		if err := r.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "after" {
			t.Errorf("read %q, %v after the exec; want %q", buf[:n], err, "after")
		}
	})

	t.Run("reader", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		start := time.Now()
		res := run(testContext(t), tgt, "echo hi", &target.Command{Stdin: pr})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		if res.err != nil || res.status != 0 || res.stdout != "hi\n" {
			t.Fatalf("got %+v", res)
		}
	})
}

func TestExecTTY(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)
	tests := []struct {
		name   string
		text   string
		resize []target.WinSize
		want   string
	}{
		{name: "is a terminal", text: "tty", want: "/dev/pts/"},
		{name: "initial size", text: "sleep 0.3; stty size", want: "24 80"},
		{name: "resize", text: "sleep 0.5; stty size", resize: []target.WinSize{{Rows: 33, Cols: 101}}, want: "33 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan target.WinSize, len(tt.resize))
			for _, s := range tt.resize {
				ch <- s
			}
			defer close(ch)
			c := &target.Command{TTY: &target.TTY{Size: target.WinSize{Rows: 24, Cols: 80}, Resize: ch}}
			res := run(testContext(t), tgt, tt.text, c)
			if res.err != nil || res.status != 0 {
				t.Fatalf("status %d, err %v", res.status, res.err)
			}
			if !strings.HasPrefix(strings.TrimSpace(res.stdout), tt.want) {
				t.Errorf("got %q, want it to start with %q", res.stdout, tt.want)
			}
		})
	}
}

func TestExecCancelledBefore(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := run(ctx, tgt, "echo should not run", nil)
	if res.err != nil || res.status != 130 || res.stdout != "" {
		t.Errorf("got %+v, want status 130 and nothing run", res)
	}
}
