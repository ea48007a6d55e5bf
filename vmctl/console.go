package vmctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/term"
)

// consoleEscape is Ctrl-], which leaves the console, as in telnet and
// virsh console.
const consoleEscape = 0x1d

// Console attaches in and out to the serial console of the running VM
// name, showing the end of what it printed before, until Ctrl-] on in,
// the end of in, or the VM's end. A terminal is put in raw mode.
func (m *Manager) Console(ctx context.Context, name string, in, out *os.File) error {
	if _, err := m.Status(ctx, name); err != nil {
		return err
	}
	env := m.Env(name)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", env.Path(ConsoleSocket))
	if err != nil {
		return m.notRunning(name)
	}
	defer conn.Close()
	if tail := lastLines(env.Path(ConsoleLog), 20); tail != "" {
		fmt.Fprint(out, tail)
	}
	fmt.Fprintf(os.Stderr, "spirit: connected to the console of vm %s; Ctrl-] leaves\r\n", name)
	if term.IsTerminal(int(in.Fd())) {
		old, err := term.MakeRaw(int(in.Fd()))
		if err == nil {
			defer term.Restore(int(in.Fd()), old)
		}
	}
	done := make(chan error, 2)
	go func() {
		_, err := io.Copy(out, conn)
		done <- err
	}()
	go func() { done <- copyUntilEscape(conn, in) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Ends both copies: the connection's reader and, through the
	// connection, the writer; a read of in blocks until the next key,
	// which the caller's exit makes moot.
	conn.Close()
	if errors.Is(err, errEscape) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

var errEscape = errors.New("escape")

// copyUntilEscape copies in to w until Ctrl-] or the end of in.
func copyUntilEscape(w io.Writer, in io.Reader) error {
	buf := make([]byte, 4096)
	for {
		n, err := in.Read(buf)
		if i := bytes.IndexByte(buf[:n], consoleEscape); i >= 0 {
			w.Write(buf[:i])
			return errEscape
		}
		if _, werr := w.Write(buf[:n]); werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
	}
}

// lastLines is the end of a log file.
func lastLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.ReplaceAll(strings.Join(lines, ""), "\n", "\r\n")
}
