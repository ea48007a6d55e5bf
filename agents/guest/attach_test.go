package guest

import (
	"net"
	"testing"
	"time"
)

// TestAttachOutlivesWait runs an exec longer than the attach wait: the
// stream it took must stay open until it is done. A stream no exec takes
// is let go after the wait.
func TestAttachOutlivesWait(t *testing.T) {
	a := newAttachments()
	a.wait = 20 * time.Millisecond
	ctx := t.Context()
	st, _ := net.Pipe()
	offered := make(chan error, 1)
	go func() { offered <- a.offer(ctx, "run", 1, st) }()
	p, got, err := a.claim(ctx, "run", [3]bool{false, true, false})
	if err != nil || got[1] != st {
		t.Fatalf("claim: %v, stream %v", err, got[1])
	}
	select {
	case err := <-offered:
		t.Fatalf("the attach ended (%v) while its exec still runs", err)
	case <-time.After(10 * a.wait):
	}
	a.release("run", p)
	if err := <-offered; err != nil {
		t.Errorf("attach after its exec ended: %v", err)
	}

	lone, _ := net.Pipe()
	start := time.Now()
	if err := a.offer(ctx, "none", 2, lone); err == nil {
		t.Errorf("a stream no exec took: attach returned nil")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a stream no exec took was held %v", d)
	}
}
