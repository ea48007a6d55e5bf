//go:build unix

package guest_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"

	"spirit/agents/client"
	"spirit/agents/guest"
	"spirit/target"
)

// serve runs a Server on one end of a socket pair, in this process, and
// returns a client of it: the agent's per-request cost without a VM, for
// go test -bench . -cpuprofile (make bench times the real thing).
func serve(b *testing.B) *client.Client {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	agentEnd, err := net.FileConn(os.NewFile(uintptr(fds[0]), "agent"))
	if err != nil {
		b.Fatal(err)
	}
	hostEnd, err := net.FileConn(os.NewFile(uintptr(fds[1]), "host"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := guest.NewServer(slog.New(slog.DiscardHandler), "bench")
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(ctx, agentEnd)
	}()
	c := client.New(client.Options{Name: "a", Version: "bench", Dial: func(context.Context) (net.Conn, error) { return hostEnd, nil }})
	b.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}

func BenchmarkStat(b *testing.B) {
	c := serve(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Stat(ctx, "/"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecTrue(b *testing.B) {
	c := serve(b)
	ctx := context.Background()
	for b.Loop() {
		status, err := c.Exec(ctx, &target.Command{Text: "true", Stdout: io.Discard, Stderr: io.Discard})
		if err != nil || status != 0 {
			b.Fatal(status, err)
		}
	}
}

// BenchmarkExecStream moves 64 MiB of a command's output, as
// @linux dd ... | @spirit wc -c does.
func BenchmarkExecStream(b *testing.B) {
	c := serve(b)
	ctx := context.Background()
	b.SetBytes(64 << 20)
	for b.Loop() {
		status, err := c.Exec(ctx, &target.Command{Text: "dd if=/dev/zero bs=262144 count=256 2>/dev/null", Stdout: io.Discard, Stderr: io.Discard})
		if err != nil || status != 0 {
			b.Fatal(status, err)
		}
	}
}
