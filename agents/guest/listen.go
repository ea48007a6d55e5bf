package guest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"
)

// Listen returns a port that accepts hosts on addr, "unix:PATH": any
// number at once, each a fresh stream. It is how tests and a supervisor on
// the same machine reach an agent. The socket is 0600 from the moment it
// is at PATH (bindPrivate), and a stale socket left by an agent that died
// is replaced.
func Listen(addr string) (Port, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok || path == "" {
		return nil, fmt.Errorf("listen %q: want unix:PATH", addr)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := bindPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return &listenPort{l: l, path: path}, nil
}

// removeStale removes a socket nobody answers on; anything else in the
// way is an error, so an agent never deletes a file it did not make.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen on %s: a file that is not a socket is in the way", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("listen on %s: another agent is listening there", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("listen on %s: remove stale socket: %w", path, err)
	}
	return nil
}

type listenPort struct {
	l    net.Listener
	path string // removed by Close: the listener was bound elsewhere
}

func (p *listenPort) Next(ctx context.Context) (net.Conn, error) {
	stop := context.AfterFunc(ctx, func() { p.l.Close() })
	defer stop()
	c, err := p.l.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	return c, nil
}

func (p *listenPort) Concurrent() bool { return true }

func (p *listenPort) Close() error {
	err := p.l.Close()
	if rerr := os.Remove(p.path); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	return err
}
