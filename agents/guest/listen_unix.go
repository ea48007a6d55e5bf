//go:build unix

package guest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// bindPrivate binds a unix socket at path that nobody else can connect to
// at any moment. A socket is made with the umask's mode, and there is no
// fchmod before bind for a socket, so a chmod after bind leaves a moment
// in which others may connect (and keep the connection); setting the
// umask around the bind would not do either, as it is the process's and
// would change the mode of whatever the agent's other goroutines create
// meanwhile. So the socket is bound in a new 0700 directory beside path,
// where nobody else can reach it, made 0600 there, then linked into
// place: link, unlike rename, never replaces what another agent put at
// path in the meantime.
func bindPrivate(path string) (net.Listener, error) {
	// A short name: a socket's path is limited to 107 bytes.
	dir, err := os.MkdirTemp(filepath.Dir(path), ".sa")
	if err != nil {
		return nil, fmt.Errorf("a private directory for the socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Its name is gone once linked; Close removes path instead.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("another socket appeared at %s meanwhile", path)
		}
		return nil, err
	}
	return l, nil
}
