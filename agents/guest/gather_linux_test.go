package guest

import (
	"context"
	"io"
	"os"
	"testing"
	"time"
)

func TestGatheringJoinsSmallWrites(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// A producer that writes a page at a time, as busybox head does.
	go func() {
		defer w.Close()
		page := make([]byte, gatherFrom)
		for i := 0; i < 64 && ctx.Err() == nil; i++ {
			w.Write(page)
		}
	}()
	g := gathering(r)
	buf := make([]byte, 256<<10)
	total, reads := 0, 0
	for {
		n, err := g.Read(buf)
		total += n
		if n > 0 {
			reads++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != 64*gatherFrom {
		t.Fatalf("read %d bytes, want %d", total, 64*gatherFrom)
	}
	if reads >= 64 {
		t.Errorf("%d reads for 64 writes of a page: nothing gathered", reads)
	}
}

// TestGatheringDoesNotWaitForMore checks that a page followed by a pause
// goes out at once, also from a pipe in blocking mode (as Fd leaves the
// agent's pipes).
func TestGatheringDoesNotWaitForMore(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	r.Fd()
	w.Write(make([]byte, 2*gatherFrom))
	done := make(chan int, 1)
	go func() {
		n, _ := gathering(r).Read(make([]byte, 64<<10))
		done <- n
	}()
	select {
	case n := <-done:
		if n != 2*gatherFrom {
			t.Errorf("Read = %d bytes, want %d", n, 2*gatherFrom)
		}
	case <-time.After(5 * time.Second):
		w.Close() // ends the read
		t.Fatal("a Read waited for more than the pipe held")
	}
}

func TestGatheringSendsSmallOutputAtOnce(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	w.Write([]byte("a line\n"))
	start := time.Now()
	n, err := gathering(r).Read(make([]byte, 1024))
	if n != 7 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("a line took %v to read", d)
	}
}
