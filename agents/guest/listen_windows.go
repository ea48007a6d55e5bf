package guest

import "net"

// bindPrivate binds a unix socket at path. Windows has no umask: the
// socket's access is its directory's ACL, from the moment it is made.
func bindPrivate(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
