package guest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"spirit/agents/wire"
	"spirit/internal/fdcopy"
)

// copyBuf is the size of a file chunk.
const copyBuf = 64 << 10

func (s *Server) stat(st net.Conn, req *wire.Request) {
	p, err := resolve(req.Path)
	var fi fs.FileInfo
	if err == nil {
		fi, err = os.Lstat(p)
	}
	if err != nil {
		s.fail(st, err)
		return
	}
	s.ok(st, wire.Reply{Stat: statOf(fi)})
}

func statOf(fi fs.FileInfo) *wire.Stat {
	return &wire.Stat{Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
}

// read sends a file: OK with its stat, then its bytes in chunks, then how
// the reading ended.
func (s *Server) read(st net.Conn, req *wire.Request) {
	p, err := resolve(req.Path)
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(p, os.O_RDONLY|noFollow, 0)
	}
	if err != nil {
		s.fail(st, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		s.fail(st, err)
		return
	}
	s.ok(st, wire.Reply{Stat: statOf(fi)})
	cw := &wire.ChunkWriter{W: st}
	writeFailed, err := fdcopy.Copy(cw, f, make([]byte, copyBuf))
	if writeFailed {
		return // the client is gone
	}
	if err := cw.End(err); err != nil {
		s.log.Debug("read end", "path", req.Path, "err", err)
	}
}

// write stores a file: OK once it can be written, then the client's chunks,
// then OK once the file is complete where it belongs, or the failure. A
// write never leaves half a file: the bytes go to a temporary file that
// replaces the target, or, to append, that is appended in one go at the
// end.
func (s *Server) write(st net.Conn, req *wire.Request) {
	w, err := openTarget(req)
	if err != nil {
		s.fail(st, err)
		return
	}
	defer w.abort()
	s.ok(st, wire.Reply{})
	cr := &wire.ChunkReader{R: st}
	if _, err := io.CopyBuffer(w.f, cr, make([]byte, copyBuf)); err != nil {
		// The client failed or went away before the end: the target
		// stays as it was.
		s.fail(st, fmt.Errorf("cut short: %w", err))
		return
	}
	if err := w.commit(); err != nil {
		s.fail(st, err)
		return
	}
	s.ok(st, wire.Reply{})
}

// target is a file being written.
type target struct {
	path   string   // the file to write, symlinks resolved (resolve)
	f      *os.File // where the bytes go now
	temp   string   // f's name, to remove on failure; "" if none
	append bool
	mode   fs.FileMode
	direct bool // not a regular file (a device, a FIFO): written in place
}

func openTarget(req *wire.Request) (*target, error) {
	p, err := resolve(req.Path) // write through a symlink, as > does
	if err != nil {
		return nil, err
	}
	t := &target{path: p, append: req.Append, mode: req.Mode}
	if t.mode == 0 {
		t.mode = 0o644
	}
	fi, err := os.Lstat(p)
	if err == nil {
		// > and >> open with O_CREAT: what the kernel would refuse them.
		if err := mayCreate(p, fi); err != nil {
			return nil, err
		}
	}
	switch {
	case err == nil && fi.IsDir():
		return nil, errors.New("is a directory")
	case err == nil && !fi.Mode().IsRegular():
		// /dev/null, a FIFO, a tty: renaming over them would replace
		// the device, so they are written as a shell would.
		t.direct = true
		flag := os.O_WRONLY
		if req.Append {
			flag |= os.O_APPEND
		}
		t.f, err = os.OpenFile(p, flag|noFollow, 0)
		return t, err
	case err == nil:
		t.mode = fi.Mode().Perm() // keep the file's permissions
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	t.f, err = os.CreateTemp(filepath.Dir(t.path), "."+filepath.Base(t.path)+".spirit-*")
	if err != nil {
		return nil, err
	}
	t.temp = t.f.Name()
	return t, nil
}

// commit puts the bytes in place.
func (t *target) commit() error {
	if t.direct {
		err := t.f.Close()
		t.f = nil
		return err
	}
	if t.append {
		return t.appendTemp()
	}
	if err := t.f.Chmod(t.mode); err != nil {
		return err
	}
	if err := t.f.Sync(); err != nil {
		return err
	}
	if err := t.f.Close(); err != nil {
		return err
	}
	t.f = nil
	if err := os.Rename(t.temp, t.path); err != nil {
		return err
	}
	t.temp = ""
	return nil
}

// appendTemp appends the spooled bytes to the target in one copy.
func (t *target) appendTemp() error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dst, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|noFollow, t.mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, t.f)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort removes what a failed or finished write left behind.
func (t *target) abort() {
	if t.f != nil {
		t.f.Close()
	}
	if t.temp != "" {
		os.Remove(t.temp)
	}
}
