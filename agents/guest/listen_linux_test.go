package guest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenPrivateAtOnce: the socket is 0600 from the moment it is at
// its path: it is never made there with the umask's mode and chmodded
// after (inotify reports every change of a name in the directory), so
// no other user can connect in between. The umask is 0 for the test, the
// worst a caller may have.
func TestListenPrivateAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sock")
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ATTRIB|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	p, err := Listen("unix:" + path)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("the socket: %v %v, want a socket of mode 0600", fi.Mode(), err)
	}
	for _, e := range inotifyEvents(t, fd) {
		if e.name == "a.sock" && e.mask&unix.IN_ATTRIB != 0 {
			t.Errorf("the socket's mode was changed at its path (inotify mask %#x): others could connect before", e.mask)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the directory after Close: %v", left)
	}
}

type inotifyEvent struct {
	mask uint32
	name string
}

// inotifyEvents reads the events queued on fd.
func inotifyEvents(t *testing.T, fd int) []inotifyEvent {
	buf := make([]byte, 64<<10)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatalf("read inotify events: %v", err)
	}
	var out []inotifyEvent
	for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
		mask := binary.NativeEndian.Uint32(b[4:8])
		l := int(binary.NativeEndian.Uint32(b[12:16]))
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l], "\x00"))
		out = append(out, inotifyEvent{mask, name})
		b = b[unix.SizeofInotifyEvent+l:]
	}
	return out
}
