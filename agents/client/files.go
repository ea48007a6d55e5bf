package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/target"
)

// Open opens a file on the guest; see target.Target. A file opened to
// write replaces the old one only when Close returns nil.
func (c *Client) Open(ctx context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	req := wire.Request{Op: wire.OpRead, Path: path}
	if mode != target.Read {
		req.Op, req.Append = wire.OpWrite, mode == target.Append
	}
	cn, st, err := c.open(ctx, req)
	if err != nil {
		return nil, err
	}
	var r wire.Reply
	if err := wire.Expect(st, wire.TOK, &r); err != nil {
		st.Close()
		return nil, c.fileErr(cn, path, err)
	}
	f := &file{c: c, cn: cn, st: st, path: path}
	if mode == target.Read {
		f.r = &wire.ChunkReader{R: st}
	} else {
		f.w = &wire.ChunkWriter{W: st}
	}
	return f, nil
}

func (c *Client) fileErr(cn *conn, path string, err error) error {
	var re *errcode.Error
	if errors.As(err, &re) {
		return re // its Is knows fs.ErrNotExist and fs.ErrPermission
	}
	return fmt.Errorf("%s: %w", path, c.lost(cn, err))
}

// file is a guest file being read or written.
type file struct {
	c    *Client
	cn   *conn
	st   *yamux.Stream
	path string
	r    *wire.ChunkReader
	w    *wire.ChunkWriter
	done bool
}

func (f *file) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, fmt.Errorf("%s: opened for writing", f.path)
	}
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		err = f.c.fileErr(f.cn, f.path, err)
	}
	return n, err
}

func (f *file) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, fmt.Errorf("%s: opened for reading", f.path)
	}
	n, err := f.w.Write(p)
	if err != nil {
		// The agent refused the rest: its reason is on the stream.
		var r wire.Reply
		if rerr := wire.Expect(f.st, wire.TOK, &r); rerr != nil {
			err = rerr
		}
		return n, f.c.fileErr(f.cn, f.path, err)
	}
	return n, nil
}

// Close ends a write and returns whether the file is stored; a read is
// simply dropped.
func (f *file) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	defer f.st.Close()
	if f.w == nil {
		return nil
	}
	if err := f.w.End(nil); err != nil {
		return f.c.fileErr(f.cn, f.path, err)
	}
	var r wire.Reply
	if err := wire.Expect(f.st, wire.TOK, &r); err != nil {
		return f.c.fileErr(f.cn, f.path, err)
	}
	return nil
}
