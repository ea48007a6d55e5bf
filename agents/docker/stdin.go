package docker

import (
	"os"

	"spirit/internal/fdcopy"
)

// copyFileStdin copies a file to the exec, then gives it EOF; see
// fdcopy.FromFile for why it polls.
func (e *execRun) copyFileStdin(f *os.File, done <-chan struct{}) {
	eof, err := fdcopy.FromFile(e.att.Conn, f, done)
	if err != nil {
		e.b.log.Debug("docker exec stdin", "exec", e.id, "err", err)
	}
	if !eof {
		return
	}
	if err := e.att.CloseWrite(); err != nil {
		e.b.log.Debug("docker exec stdin close", "exec", e.id, "err", err)
	}
}
