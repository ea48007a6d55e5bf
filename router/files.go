package router

import (
	"context"
	"fmt"
	"io"
	"os"
	"spirit/target"
	"strings"

	"mvdan.cc/sh/v3/interp"
)

// open is the interpreter's open handler: a redirection to `@T PATH` opens
// PATH on T; any other path is a host file.
func (s *Session) open(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	if !strings.HasPrefix(path, redirMarker) {
		return interp.DefaultOpenHandler()(ctx, path, flag, perm)
	}
	name, rest, _ := strings.Cut(path[len(redirMarker):], "\x1f")
	id, file := cutStoreID(rest)
	tg, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	mode := target.Read
	switch {
	case flag&os.O_APPEND != 0:
		mode = target.Append
	case flag&(os.O_WRONLY|os.O_RDWR) != 0:
		mode = target.Write
	}
	f, err := tg.Open(ctx, file, mode)
	if err != nil {
		// A PathError is what the interpreter reports and goes on
		// from, with status 1, as bash does for a failed redirection;
		// any other error would end the whole script.
		return nil, &os.PathError{Op: "spirit: " + mode.String(), Path: "@" + name + " " + file, Err: err}
	}
	if mode == target.Read {
		return f, nil
	}
	return s.openedStore(ctx, f, id, fmt.Sprintf("%s @%s %s", mode, name, file)), nil
}
