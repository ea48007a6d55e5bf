package shell

import (
	"errors"
	"sync"
	"unicode/utf8"

	"github.com/c-bata/go-prompt"
	"golang.org/x/sys/unix"
)

// keyReader is the prompt's prompt.ConsoleParser. go-prompt v0.2.6 takes
// whatever one Read returns as one key, so a paste, or "echo hi\r" written
// in one go, would be a single unknown key and never run. keyReader reads
// the terminal itself and hands back one key per Read: one control
// character, one escape sequence, or one run of printable text (which
// go-prompt inserts as typed; handing it over whole keeps a paste quick,
// since go-prompt sleeps 10 ms between reads).
//
// After a key that ends a line it hands back nothing until resume: the
// keys after it belong to the next prompt, and go-prompt's reader would
// otherwise read them into a channel that Input drops when it returns.
type keyReader struct {
	fd    int          // the terminal, read and set raw
	saved unix.Termios // the terminal's mode before the prompt, restored by TearDown
	out   int          // the terminal the prompt is drawn on, for its size

	mu      sync.Mutex
	pending []byte        // guarded by mu: read, not yet handed back
	paused  bool          // guarded by mu: a line has ended; wait for resume
	eof     bool          // guarded by mu: the terminal has hung up
	stop    chan struct{} // closed by end
	woken   bool          // guarded by mu: the wake-up Enter has been sent
}

// errNoKey tells go-prompt's reader that no key is ready; it ignores read
// errors and tries again 10 ms later.
var errNoKey = errors.New("no key")

// maxRead bounds what is read ahead of the keys handed back.
const maxRead = 4096

func newKeyReader(fd, out int, saved *unix.Termios) *keyReader {
	return &keyReader{fd: fd, out: out, saved: *saved, stop: make(chan struct{})}
}

var _ prompt.ConsoleParser = (*keyReader)(nil)

// Setup puts the terminal in the raw mode go-prompt expects. It starts from
// the saved mode, not the current one, and keeps output processing on so
// that go-prompt's "\n" still returns the carriage.
func (k *keyReader) Setup() error {
	raw := k.saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ICANON | unix.IEXTEN | unix.ISIG | unix.ECHONL
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(k.fd, unix.TCSETS, &raw)
}

// TearDown puts back the mode the terminal had before the prompt. It is
// the restore that go-prompt's own parser gets wrong.
func (k *keyReader) TearDown() error {
	return unix.IoctlSetTermios(k.fd, unix.TCSETS, &k.saved)
}

// GetWinSize reports the terminal's size; go-prompt's own panics on error.
func (k *keyReader) GetWinSize() *prompt.WinSize {
	ws, err := unix.IoctlGetWinsize(k.out, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return &prompt.WinSize{Row: 24, Col: 80}
	}
	return &prompt.WinSize{Row: ws.Row, Col: ws.Col}
}

// Read hands back the next key, or errNoKey. It never blocks: go-prompt
// calls it in a loop that must also notice when to stop.
func (k *keyReader) Read() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ended() {
		// Wake Input with an Enter so that it returns; the loop sees
		// the end and runs nothing.
		if k.woken {
			return nil, errNoKey
		}
		k.woken = true
		return []byte{'\r'}, nil
	}
	if k.paused {
		return nil, errNoKey
	}
	if len(k.pending) == 0 || !fullKey(k.pending) {
		k.fill()
	}
	for len(k.pending) > 0 {
		n := keyLen(k.pending)
		key := append([]byte(nil), k.pending[:n]...)
		k.pending = k.pending[n:]
		if key[0] == 0x1b && len(key) > 1 && prompt.GetKey(key) == prompt.NotDefined {
			// An escape sequence go-prompt does not know would be
			// inserted into the line as text: drop it.
			continue
		}
		if key[0] == '\r' || key[0] == '\n' {
			k.paused = true
		}
		return key, nil
	}
	return nil, errNoKey
}

// fill reads what the terminal has, without waiting, up to the end of a
// line. It reads a byte at a time, as bash does, so that what follows the
// line (pasted or typed ahead) stays in the terminal for the command the
// line runs, which may read it. Called with mu held.
func (k *keyReader) fill() {
	var b [1]byte
	for len(k.pending) < maxRead {
		fds := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		if err != nil || n == 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				k.eof = true // the terminal hung up
			}
			return
		}
		n, err = unix.Read(k.fd, b[:])
		if n == 0 || err != nil {
			if err == nil || err == unix.EIO {
				k.eof = true
			}
			return
		}
		k.pending = append(k.pending, b[0])
		if b[0] == '\r' || b[0] == '\n' {
			return
		}
	}
}

// ended reports whether the prompt must give up: the shell is stopping or
// the terminal is gone. Called with mu held.
func (k *keyReader) ended() bool {
	if k.eof {
		return true
	}
	select {
	case <-k.stop:
		return true
	default:
		return false
	}
}

// resume lets Read hand back keys again, for the next line.
func (k *keyReader) resume() {
	k.mu.Lock()
	k.paused = false
	k.mu.Unlock()
}

// end makes Read wake the prompt and then hand back nothing. It may be
// called more than once, from any goroutine.
func (k *keyReader) end() {
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
}

// hungUp reports whether the terminal has gone away or end was called.
func (k *keyReader) hungUp() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ended()
}

// fullKey reports whether b starts with a whole key, rather than with a
// lone ESC, a part of an escape sequence or a part of a UTF-8 character
// that the next read may complete.
func fullKey(b []byte) bool {
	if keyLen(b) < len(b) {
		return true
	}
	if b[0] == 0x1b {
		return csiDone(b)
	}
	return b[0] < utf8.RuneSelf || utf8.FullRune(b)
}

// csiDone reports whether an escape sequence that fills b is complete.
func csiDone(b []byte) bool {
	if len(b) < 3 {
		return len(b) == 2 && b[1] != '[' && b[1] != 'O'
	}
	if b[1] == 'O' {
		return true
	}
	last := b[len(b)-1]
	return last >= 0x40 && last <= 0x7e
}

// keyLen is the length of the first key in b (len(b) > 0).
func keyLen(b []byte) int {
	switch c := b[0]; {
	case c == 0x1b:
		return escLen(b)
	case c < 0x20 || c == 0x7f:
		return 1
	}
	// A run of printable characters, up to the first control character
	// or an invalid UTF-8 sequence. A character cut off at the end is
	// left for the next read to complete.
	n := 0
	for n < len(b) {
		c := b[n]
		if c < 0x20 || c == 0x7f {
			break
		}
		if c < utf8.RuneSelf {
			n++
			continue
		}
		if !utf8.FullRune(b[n:]) {
			if n == 0 {
				return len(b)
			}
			break
		}
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		n += size
	}
	if n == 0 {
		return 1 // an invalid byte on its own
	}
	return n
}

// escLen is the length of the escape sequence at the start of b: ESC [
// parameters intermediates final (CSI), ESC O x (SS3), ESC [ [ x (the
// Linux console's function keys), or ESC alone.
func escLen(b []byte) int {
	if len(b) < 2 {
		return 1
	}
	switch b[1] {
	case 'O':
		return min(3, len(b))
	case '[':
		if len(b) > 2 && b[2] == '[' {
			return min(4, len(b))
		}
		i := 2
		for i < len(b) && b[i] >= 0x20 && b[i] <= 0x3f {
			i++ // parameter and intermediate bytes
		}
		if i < len(b) && b[i] >= 0x40 && b[i] <= 0x7e {
			return i + 1
		}
		return i
	}
	// ESC then anything else (Alt+key, or a second ESC): the ESC alone.
	return 1
}
