package docker

import (
	"errors"
	"fmt"
)

// ErrProcessGone is wrapped by the error of a connection to a container's
// agent refused because the container's process, by which the host
// reaches the agent's socket, exited or was replaced on the way: its PID
// may now be another user's.
var ErrProcessGone = errors.New("the container's process is gone")

// goneError is a container whose process went away while the host
// connected through it.
type goneError struct {
	container string
	pid       int
	why       string // e.g. "exited while spirit connected"
}

func (e *goneError) Error() string {
	return fmt.Sprintf("container %s: its process %d %s; refusing to connect through what may now be another process (run the command again once the container is up)", e.container, e.pid, e.why)
}

func (e *goneError) Unwrap() error { return ErrProcessGone }
