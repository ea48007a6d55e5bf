package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"spirit/agents/client"
	"spirit/router"
)

// Peers of the agent on the same kind of stream: a process that echoes
// bytes back, and one that streams zeros. The bench binary is both, run
// again with -peer.
const (
	peerEcho   = "echo"
	peerStream = "stream"
)

// streamBytes is what the throughput rows move: 256 MiB.
const streamBytes = 256 << 20

// servePeer is the bench binary run as a peer: it serves sock until
// killed.
func servePeer(kind, sock string) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if kind == peerEcho {
				io.Copy(c, c)
				return
			}
			io.CopyN(c, zeros{}, streamBytes)
		}()
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// agentRows measures the agent against the raw peers, all on unix
// sockets in dir, in the same run.
func agentRows(ctx context.Context, n int, spirit, agent, dir string) ([]row, error) {
	agentSock := filepath.Join(dir, "a.sock")
	echoSock := filepath.Join(dir, "echo.sock")
	streamSock := filepath.Join(dir, "stream.sock")
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for _, p := range [][]string{
		{agent, "--listen", "unix:" + agentSock},
		{self, "-peer", peerEcho, "-sock", echoSock},
		{self, "-peer", peerStream, "-sock", streamSock},
	} {
		stop, err := startServer(p, strings.TrimPrefix(p[len(p)-1], "unix:"))
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	c := client.New(client.Options{Name: "a", Log: slog.New(slog.DiscardHandler), Dial: dialer(agentSock)})
	defer c.Close()
	echo, err := net.Dial("unix", echoSock)
	if err != nil {
		return nil, err
	}
	defer echo.Close()

	const trips = 200
	echoRTT, err := samples(trips, func() error { return echoOnce(echo) })
	if err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	ping, err := samples(trips, func() error { _, err := c.Ping(ctx); return err })
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	exec, err := samples(trips, func() error { return execTrue(ctx, c) })
	if err != nil {
		return nil, fmt.Errorf("@a true: %w", err)
	}
	rows := []row{
		latencyRow("agent ping p50", "raw echo", ping, echoRTT, 50),
		latencyRow("agent ping p99", "raw echo", ping, echoRTT, 99),
		latencyRow("@a true p50", "raw echo", exec, echoRTT, 50),
		latencyRow("@a true p99", "raw echo", exec, echoRTT, 99),
	}
	cfg, err := writeConfig(dir, agentSock)
	if err != nil {
		return nil, err
	}
	through := row{Name: "256 MiB out of @a", PeerLabel: "raw stream",
		Spirit: fmt.Sprintf("%s -c '@a head -c 256M /dev/zero | @spirit wc -c'", spirit),
		Peer:   fmt.Sprintf("%s -peer read -sock %s", self, streamSock)}
	s, q, err := timePairEnv(ctx, max(3, n/6), through.Spirit, through.Peer, []string{cfg})
	if err != nil {
		return nil, fmt.Errorf("throughput: %w", err)
	}
	through.SpiritMs, through.PeerMs, through.Runs = ms(s), ms(q), max(3, n/6)
	through.Ratio = through.SpiritMs / through.PeerMs
	through.Note = fmt.Sprintf("%.0f MiB/s against %.0f MiB/s", mibps(s), mibps(q))
	return append(rows, through), nil
}

// readPeer is the raw stream's reader: it reads the stream to its end
// and prints the count, as wc -c does.
func readPeer(sock string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return err
	}
	if n != streamBytes {
		return fmt.Errorf("read %d bytes, want %d", n, streamBytes)
	}
	fmt.Println(n)
	return nil
}

func mibps(d time.Duration) float64 { return float64(streamBytes>>20) / d.Seconds() }

func startServer(argv []string, sock string) (func(), error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s does not listen on %s", argv[0], sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialer(sock string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
}

func writeConfig(dir, sock string) (string, error) {
	cfgDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(filepath.Join(cfgDir, "spirit"), 0o700); err != nil {
		return "", err
	}
	toml := fmt.Sprintf("[agents.a]\naddress = %q\n", "unix:"+sock)
	return "XDG_CONFIG_HOME=" + cfgDir, os.WriteFile(filepath.Join(cfgDir, "spirit", "spirit.toml"), []byte(toml), 0o600)
}

func echoOnce(c net.Conn) error {
	b := []byte{'x'}
	if _, err := c.Write(b); err != nil {
		return err
	}
	_, err := io.ReadFull(c, b)
	return err
}

func execTrue(ctx context.Context, c *client.Client) error {
	status, err := c.Exec(ctx, &router.Command{Text: "true", Stdout: io.Discard, Stderr: io.Discard})
	if err == nil && status != 0 {
		err = fmt.Errorf("status %d", status)
	}
	return err
}

// samples times f n times after a warm-up.
func samples(n int, f func() error) ([]time.Duration, error) {
	if err := f(); err != nil {
		return nil, err
	}
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func latencyRow(name, peer string, spirit, raw []time.Duration, p int) row {
	s, q := percentile(spirit, p), percentile(raw, p)
	return row{Name: name, PeerLabel: peer, Spirit: "in-process client", Peer: "1-byte echo",
		SpiritMs: ms(s), PeerMs: ms(q), Ratio: float64(s) / float64(q), Runs: len(spirit)}
}

var errUsage = errors.New("usage")
