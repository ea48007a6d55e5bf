package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"spirit/agents/wire"
	"spirit/target"
)

// ControlWords lists the control words of an agent target.
func (c *Client) ControlWords() []string { return []string{"--status", "--cd"} }

// Control carries out a control word; see target.Controller.
func (c *Client) Control(ctx context.Context, word string, args []string, stdout io.Writer) error {
	switch word {
	case "--status":
		if len(args) != 0 {
			return fmt.Errorf("--status takes no arguments")
		}
		return c.status(ctx, stdout)
	case "--cd":
		return c.chdir(ctx, args)
	}
	return fmt.Errorf("unknown control word %s (known: %s)", word, strings.Join(c.ControlWords(), " "))
}

func (c *Client) status(ctx context.Context, w io.Writer) error {
	h, err := c.Hello(ctx)
	if err != nil {
		return err
	}
	rtt, err := c.Ping(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	dir := c.dir
	c.mu.Unlock()
	if dir == "" {
		dir = "(the agent's own)"
	}
	_, err = fmt.Fprintf(w, "agent %s on %s (%s/%s), protocol %d, can: %s\nround trip %v, working directory %s\n",
		h.Version, h.Hostname, h.OS, h.Arch, h.Proto, strings.Join(h.Caps, " "), rtt.Round(time.Microsecond), dir)
	return err
}

// chdir sets the working directory of the commands that follow in this
// shell, after checking that it is a directory on the guest. With no
// argument it goes back to the agent's own.
func (c *Client) chdir(ctx context.Context, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("--cd takes one directory")
	}
	if len(args) == 0 {
		c.mu.Lock()
		c.dir = ""
		c.mu.Unlock()
		return nil
	}
	dir := args[0]
	c.mu.Lock()
	if cur := c.dir; cur != "" && !isAbs(dir) {
		dir = joinPath(cur, dir)
	}
	c.mu.Unlock()
	st, err := c.stat(ctx, dir)
	if err != nil {
		return err
	}
	if !st.Mode.IsDir() {
		return fmt.Errorf("%s: %w", dir, syscall.ENOTDIR)
	}
	c.mu.Lock()
	c.dir = dir
	c.mu.Unlock()
	return nil
}

// Stat describes the file p on the guest: one request that starts no
// process there (make bench times it against a raw echo of the port).
func (c *Client) Stat(ctx context.Context, p string) (*wire.Stat, error) { return c.stat(ctx, p) }

func (c *Client) stat(ctx context.Context, p string) (*wire.Stat, error) {
	cn, st, err := c.open(ctx, wire.Request{Op: wire.OpStat, Path: p})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var r wire.Reply
	if err := wire.Expect(st, wire.TOK, &r); err != nil {
		err = c.fileErr(cn, p, err)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound{fmt.Errorf("%s: %w", p, err)}
		}
		return nil, err
	}
	if r.Stat == nil {
		return nil, fmt.Errorf("%s: the agent sent no stat", p)
	}
	return r.Stat, nil
}

// isAbs knows both guests' absolute paths: /x and C:\x or \x.
func isAbs(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 2 && p[1] == ':')
}

func joinPath(dir, p string) string {
	if strings.Contains(dir, `\`) {
		return strings.TrimRight(dir, `\`) + `\` + p
	}
	return path.Join(dir, p)
}

// notFound is a missing file that the router reports with status 127.
type notFound struct{ error }

func (e notFound) Unwrap() []error { return []error{e.error, target.ErrNotFound} }

// System is the agent's operating system, as its hello said.
func (c *Client) System(ctx context.Context) (string, error) {
	h, err := c.Hello(ctx)
	if err != nil {
		return "", err
	}
	return h.OS, nil
}
