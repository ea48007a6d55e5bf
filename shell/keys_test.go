package shell

import (
	"reflect"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

func TestKeyLen(t *testing.T) {
	tests := []struct {
		name  string
		chunk string
		keys  []string
	}{
		{"line and enter", "echo hi\r", []string{"echo hi", "\r"}},
		{"two pasted lines", "a\nb\n", []string{"a", "\n", "b", "\n"}},
		{"control keys alone", "\x01\x03\x04\t\x7f", []string{"\x01", "\x03", "\x04", "\t", "\x7f"}},
		{"arrows", "\x1b[A\x1b[B\x1bOC", []string{"\x1b[A", "\x1b[B", "\x1bOC"}},
		{"ctrl-arrow and delete", "\x1b[1;5C\x1b[3~x", []string{"\x1b[1;5C", "\x1b[3~", "x"}},
		{"linux console F1", "\x1b[[Ax", []string{"\x1b[[A", "x"}},
		{"lone escape", "\x1b", []string{"\x1b"}},
		{"alt-b is escape then b", "\x1bb", []string{"\x1b", "b"}},
		{"utf-8 text", "héllo wörld\r", []string{"héllo wörld", "\r"}},
		{"invalid byte", "a\xffb", []string{"a", "\xff", "b"}},
		{"text then tab", "@do\t", []string{"@do", "\t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			b := []byte(tt.chunk)
			for len(b) > 0 {
				n := keyLen(b)
				got = append(got, string(b[:n]))
				b = b[n:]
			}
			if !reflect.DeepEqual(got, tt.keys) {
				t.Errorf("keys of %q = %q, want %q", tt.chunk, got, tt.keys)
			}
		})
	}
}

func TestFullKey(t *testing.T) {
	tests := []struct {
		b    string
		full bool
	}{
		{"a", true},
		{"\x1b", false},
		{"\x1b[", false},
		{"\x1b[1;5", false},
		{"\x1b[A", true},
		{"\x1bO", false},
		{"\x1bOP", true},
		{"\xc3", false}, // the first byte of é
		{"\xc3\xa9", true},
		{"\xe2\x82", false},  // two bytes of €
		{"ab\xe2\x82", true}, // "ab" can go; the € waits
	}
	for _, tt := range tests {
		if got := fullKey([]byte(tt.b)); got != tt.full {
			t.Errorf("fullKey(%q) = %v, want %v", tt.b, got, tt.full)
		}
	}
}

// TestKeyReaderOnTerminal writes a paste to a real terminal and reads it
// back through keyReader as go-prompt would.
func TestKeyReaderOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	saved, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeyReader(int(tty.Fd()), int(tty.Fd()), saved)
	if err := k.Setup(); err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST == 0 {
		t.Errorf("Setup: lflag %#x oflag %#x, want no ICANON/ECHO/ISIG and OPOST kept", raw.Lflag, raw.Oflag)
	}
	if _, err := ptmx.Write([]byte("echo a\recho b\r")); err != nil {
		t.Fatal(err)
	}
	got := readKeys(t, k, 2)
	if want := []string{"echo a", "\r"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first line: %q, want %q", got, want)
	}
	// After an Enter nothing comes until resume: those keys are the next
	// prompt's.
	if b, err := k.Read(); err == nil {
		t.Fatalf("Read after Enter gave %q before resume", b)
	}
	k.resume()
	got = readKeys(t, k, 2)
	if want := []string{"echo b", "\r"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("second line: %q, want %q", got, want)
	}
	// end wakes the prompt with one Enter even while paused, then nothing.
	k.end()
	if b, err := k.Read(); err != nil || string(b) != "\r" {
		t.Fatalf("Read after end = %q, %v; want the wake-up Enter", b, err)
	}
	if b, err := k.Read(); err == nil {
		t.Fatalf("Read after the wake-up gave %q", b)
	}
	if !k.hungUp() {
		t.Error("hungUp is false after end")
	}
	if err := k.TearDown(); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if *after != *saved {
		t.Errorf("TearDown left %+v, want %+v", *after, *saved)
	}
	if ws := k.GetWinSize(); ws.Col == 0 || ws.Row == 0 {
		t.Errorf("GetWinSize = %+v", ws)
	}
}

// readKeys reads n keys, as go-prompt's reader loop does, within a second.
func readKeys(t *testing.T, k *keyReader, n int) []string {
	t.Helper()
	var keys []string
	deadline := time.Now().Add(time.Second)
	for len(keys) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %q, then no key for a second", keys)
		}
		b, err := k.Read()
		if err != nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		keys = append(keys, string(b))
	}
	return keys
}

// TestTerminalGuardPanic checks that a panic inside the guarded prompt
// leaves the terminal as it was saved.
func TestTerminalGuardPanic(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	fd := int(tty.Fd())
	before, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	g, err := saveTerminal(fd)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeyReader(fd, fd, before)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic to go on after the restore", r)
			}
		}()
		g.run(func() {
			if err := k.Setup(); err != nil {
				t.Error(err)
			}
			panic("boom")
		})
	}()
	after, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if *after != *before {
		t.Errorf("after a panic the terminal is %+v, want %+v", *after, *before)
	}
}
