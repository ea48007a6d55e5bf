package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"spirit/target"
)

var errClosed = errors.New("transport closed")

// fake is a remote end driven by the test: the command's outputs are pipes
// the test writes, and it exits when the test says.
type fake struct {
	exit        chan int // the status to report; nothing sent: never
	afterOutput bool     // Exit waits for the outputs' end, as the Engine's
	stopOnGone  bool

	outs      [3]*io.PipeWriter // the test's ends of outputs 1 and 2
	readers   [3]*io.PipeReader
	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	stops   []string
	gone    []int
	sizes   []target.WinSize
	badSize int // Resize fails this many times first
}

func newFake() *fake {
	f := &fake{exit: make(chan int, 1), closed: make(chan struct{})}
	for fd := 1; fd <= 2; fd++ {
		f.readers[fd], f.outs[fd] = io.Pipe()
	}
	return f
}

func (f *fake) streams(in Input) Streams {
	return Streams{Stdin: in, Outputs: []Output{{FD: 1, R: f.readers[1]}, {FD: 2, R: f.readers[2]}}}
}

func (f *fake) Exit(ctx context.Context, ended <-chan struct{}) (int, error) {
	if f.afterOutput {
		select {
		case <-ended:
		case <-f.closed:
			return 1, errClosed
		}
	}
	select {
	case s := <-f.exit:
		return s, nil
	case <-ctx.Done():
		return 1, ctx.Err()
	case <-f.closed:
		return 1, errClosed
	}
}

func (f *fake) Stop(_ context.Context, sig string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, sig)
	return nil
}

func (f *fake) Resize(_ context.Context, s target.WinSize) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badSize > 0 {
		f.badSize--
		return errors.New("not started yet")
	}
	f.sizes = append(f.sizes, s)
	return nil
}

func (f *fake) OutputGone(_ context.Context, fd int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = append(f.gone, fd)
	return f.stopOnGone, nil
}

func (f *fake) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		for fd := 1; fd <= 2; fd++ {
			f.readers[fd].CloseWithError(errClosed)
		}
	})
	return nil
}

// deafInput is a stdin the remote end never reads: a write blocks until
// the transport is closed.
type deafInput struct{ f *fake }

func (d deafInput) Write([]byte) (int, error) {
	<-d.f.closed
	return 0, errClosed
}
func (d deafInput) CloseWrite() error { return nil }

type result struct {
	status int
	err    error
	took   time.Duration
}

// start runs c against f in the background.
func start(ctx context.Context, f *fake, c *target.Command, in Input) <-chan result {
	ch := make(chan result, 1)
	go func() {
		t0 := time.Now()
		status, err := Run(ctx, c, f, f.streams(in), nil)
		ch <- result{status, err, time.Since(t0)}
	}()
	return ch
}

func within(t *testing.T, ch <-chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("Run has not returned after %v", d)
		return result{}
	}
}

func TestRunStatus(t *testing.T) {
	for _, afterOutput := range []bool{false, true} {
		f := newFake()
		f.afterOutput = afterOutput
		var out, errb bytes.Buffer // read once Run has returned, as are all below
		ch := start(t.Context(), f, &target.Command{Stdout: &out, Stderr: &errb}, nil)
		f.outs[1].Write([]byte("out\n"))
		f.outs[2].Write([]byte("err\n"))
		f.outs[1].Close()
		f.outs[2].Close()
		f.exit <- 3
		r := within(t, ch, 5*time.Second)
		if r.err != nil || r.status != 3 || out.String() != "out\n" || errb.String() != "err\n" {
			t.Errorf("exit after the output (%v): %+v, stdout %q, stderr %q", afterOutput, r, out.String(), errb.String())
		}
	}
}

// TestRunOutputHeldOpen: a remote end that reports the exit but never ends
// an output is waited for only a short grace.
func TestRunOutputHeldOpen(t *testing.T) {
	f := newFake()
	var out bytes.Buffer
	ch := start(t.Context(), f, &target.Command{Stdout: &out}, nil)
	f.outs[1].Write([]byte("out\n"))
	f.exit <- 0
	r := within(t, ch, outputGrace+2*time.Second)
	if r.err != nil || r.status != 0 || out.String() != "out\n" {
		t.Errorf("%+v, stdout %q", r, out.String())
	}
}

// slowWriter takes its time over its first write, as a pager does.
type slowWriter struct {
	bytes.Buffer
	once sync.Once
	d    time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { time.Sleep(w.d) })
	return w.Buffer.Write(p)
}

// TestRunSlowWriter: time spent writing the output on the host is not the
// remote end's: after the exit, nothing is cut from a slow reader.
func TestRunSlowWriter(t *testing.T) {
	f := newFake()
	out := &slowWriter{d: outputGrace + time.Second}
	ch := start(t.Context(), f, &target.Command{Stdout: out}, nil)
	go func() {
		f.outs[2].Close()
		f.outs[1].Write([]byte("a"))
		f.exit <- 0
		f.outs[1].Write([]byte("b"))
		time.Sleep(outputGrace / 2)
		f.outs[1].Write([]byte("c"))
		f.outs[1].Close()
	}()
	r := within(t, ch, 3*outputGrace)
	if r.err != nil || r.status != 0 || out.String() != "abc" {
		t.Errorf("%+v, stdout %q, want abc", r, out.String())
	}
}

func TestRunCancel(t *testing.T) {
	for _, in := range []bool{false, true} {
		f := newFake()
		ctx, cancel := context.WithCancel(t.Context())
		c := &target.Command{}
		var input Input
		if in {
			c.Stdin, input = filledPipe(t), deafInput{f}
		}
		ch := start(ctx, f, c, input)
		time.Sleep(50 * time.Millisecond)
		cancel()
		r := within(t, ch, cancelWait+2*time.Second)
		if r.err != nil || r.status != StatusInterrupted {
			t.Errorf("stdin %v: %+v, want %d", in, r, StatusInterrupted)
		}
		if !slices.Equal(f.stops, []string{"INT"}) {
			t.Errorf("stdin %v: stopped with %q, want INT", in, f.stops)
		}
	}
}

// TestRunCancelBlockedWriter: a cancel ends the run even while its output
// waits on a host writer that never takes it (a pager that does not read).
func TestRunCancelBlockedWriter(t *testing.T) {
	f := newFake()
	blocked := make(chan struct{})
	defer close(blocked)
	w := writerFunc(func(p []byte) (int, error) {
		<-blocked
		return len(p), nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	ch := start(ctx, f, &target.Command{Stdout: w}, nil)
	f.outs[1].Write([]byte("a"))
	cancel()
	if r := within(t, ch, cancelWait+outputGrace+2*time.Second); r.err != nil || r.status != StatusInterrupted {
		t.Errorf("%+v, want %d", r, StatusInterrupted)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// filledPipe is a file with something to read that never ends.
func filledPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if _, err := w.Write([]byte("input")); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunStdinNotRead: a remote end that never reads stdin does not keep
// the run once the command has exited.
func TestRunStdinNotRead(t *testing.T) {
	for _, file := range []bool{true, false} {
		f := newFake()
		c := &target.Command{Stdin: filledPipe(t)}
		if !file {
			c.Stdin = bytes.NewReader([]byte("input"))
		}
		ch := start(t.Context(), f, c, deafInput{f})
		time.Sleep(100 * time.Millisecond)
		f.outs[1].Close()
		f.outs[2].Close()
		f.exit <- 0
		if r := within(t, ch, 2*time.Second); r.err != nil || r.status != 0 {
			t.Errorf("file %v: %+v", file, r)
		}
	}
}

// failingWriter fails as a pipe whose reader has exited does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestRunBrokenPipe(t *testing.T) {
	for _, stop := range []bool{true, false} {
		f := newFake()
		f.stopOnGone = stop
		ch := start(t.Context(), f, &target.Command{Stdout: failingWriter{}}, nil)
		f.outs[1].Write([]byte("a"))
		// The rest is drained: these writes do not block.
		f.outs[1].Write([]byte("b"))
		if !stop {
			f.outs[1].Close()
			f.outs[2].Close()
			f.exit <- StatusBrokenPipe
		}
		r := within(t, ch, 5*time.Second)
		if r.err != nil || r.status != StatusBrokenPipe {
			t.Errorf("stop %v: %+v, want %d", stop, r, StatusBrokenPipe)
		}
		if !slices.Equal(f.gone, []int{1}) {
			t.Errorf("stop %v: outputs reported gone: %v, want [1]", stop, f.gone)
		}
	}
}

func TestRunReadError(t *testing.T) {
	f := newFake()
	ch := start(t.Context(), f, &target.Command{}, nil)
	errBroken := errors.New("broken stream")
	f.outs[2].CloseWithError(errBroken)
	r := within(t, ch, 5*time.Second)
	if !errors.Is(r.err, errBroken) || r.status != 1 {
		t.Errorf("%+v, want status 1 and the read's error", r)
	}
	if !slices.Equal(f.stops, []string{"INT"}) {
		t.Errorf("stopped with %q, want INT", f.stops)
	}
}

func TestRunResize(t *testing.T) {
	f := newFake()
	f.badSize = 2
	sizes := make(chan target.WinSize)
	tty := &target.TTY{Size: target.WinSize{Rows: 24, Cols: 80}, Resize: sizes}
	ch := start(t.Context(), f, &target.Command{TTY: tty}, nil)
	sizes <- target.WinSize{Rows: 33, Cols: 101}
	close(sizes)
	f.outs[1].Close()
	f.outs[2].Close()
	f.exit <- 0
	within(t, ch, 5*time.Second)
	want := []target.WinSize{{Rows: 24, Cols: 80}, {Rows: 33, Cols: 101}}
	if !slices.Equal(f.sizes, want) {
		t.Errorf("sizes set: %v, want %v", f.sizes, want)
	}
}

func TestNotStarted(t *testing.T) {
	errStart := errors.New("refused")
	if status, err := NotStarted(t.Context(), errStart); status != 1 || !errors.Is(err, errStart) {
		t.Errorf("a failed start: %d, %v; want 1 and its error", status, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if status, err := NotStarted(ctx, context.Canceled); status != StatusInterrupted || err != nil {
		t.Errorf("a start cut by a cancel: %d, %v; want %d and no error", status, err, StatusInterrupted)
	}
}
