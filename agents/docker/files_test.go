package docker

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"runtime"
	"spirit/target"
	"strings"
	"syscall"
	"testing"
)

// binaryData is n bytes that hold every byte value.
func binaryData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func writeFile(t *testing.T, tgt *Target, p string, mode target.OpenMode, data []byte) {
	t.Helper()
	f, err := tgt.Open(testContext(t), p, mode)
	if err != nil {
		t.Fatal(err)
	}
	// Several writes, as a command's output comes.
	for chunk := range slicesChunk(data, 100_000) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			c := b[:min(n, len(b))]
			b = b[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

func readFile(t *testing.T, tgt *Target, p string) []byte {
	t.Helper()
	f, err := tgt.Open(testContext(t), p, target.Read)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFiles(t *testing.T) {
	t.Parallel()
	_, tgt, name := newTarget(t)

	t.Run("binary round trip", func(t *testing.T) {
		data := binaryData(3<<20 + 123)
		writeFile(t, tgt, "/tmp/bin", target.Write, data)
		if got := readFile(t, tgt, "/tmp/bin"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
		}
		if got := mustRun(t, tgt, "wc -c </tmp/bin"); strings.TrimSpace(got) != "3145851" {
			t.Errorf("size in the container: %s", got)
		}
	})

	t.Run("truncate and append", func(t *testing.T) {
		writeFile(t, tgt, "/tmp/log", target.Write, []byte("one\ntwo\n"))
		writeFile(t, tgt, "/tmp/log", target.Write, []byte("a\n"))
		writeFile(t, tgt, "/tmp/log", target.Append, []byte("b\n"))
		writeFile(t, tgt, "/tmp/new-by-append", target.Append, []byte("c\n"))
		if got := mustRun(t, tgt, "cat /tmp/log /tmp/new-by-append"); got != "a\nb\nc\n" {
			t.Errorf("got %q", got)
		}
	})

	t.Run("mode and owner kept", func(t *testing.T) {
		// Not in /tmp: root may not write another user's file there
		// (TestStickyLinks).
		mustRun(t, tgt, "mkdir -p /data && echo x >/data/script && chmod 750 /data/script && chown 1000:1001 /data/script")
		writeFile(t, tgt, "/data/script", target.Write, []byte("#!/bin/sh\necho hi\n"))
		writeFile(t, tgt, "/data/script", target.Append, []byte("echo more\n"))
		writeFile(t, tgt, "/tmp/fresh", target.Write, []byte("x"))
		got := mustRun(t, tgt, `stat -c '%a %u:%g' /data/script /tmp/fresh; /data/script`)
		if want := "750 1000:1001\n644 0:0\nhi\nmore\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("symbolic links followed", func(t *testing.T) {
		mustRun(t, tgt, "echo target >/tmp/real && ln -sf /tmp/real /tmp/link && ln -sf real /tmp/rel-link")
		if got := string(readFile(t, tgt, "/tmp/link")); got != "target\n" {
			t.Errorf("read through the link: %q", got)
		}
		writeFile(t, tgt, "/tmp/rel-link", target.Append, []byte("more\n"))
		if got := mustRun(t, tgt, "cat /tmp/real; [ -L /tmp/rel-link ] && echo still a link"); got != "target\nmore\nstill a link\n" {
			t.Errorf("write through the link: %q", got)
		}
	})

	t.Run("relative path from the working directory", func(t *testing.T) {
		writeFile(t, tgt, "rel.txt", target.Write, []byte("rel\n"))
		if got := mustRun(t, tgt, "cat /rel.txt"); got != "rel\n" {
			t.Errorf("got %q", got)
		}
	})

	t.Run("empty file", func(t *testing.T) {
		writeFile(t, tgt, "/tmp/empty", target.Write, nil)
		if got := readFile(t, tgt, "/tmp/empty"); len(got) != 0 {
			t.Errorf("got %q", got)
		}
	})

	errTests := []struct {
		name  string
		path  string
		mode  target.OpenMode
		is    error
		parts []string
	}{
		{name: "read missing", path: "/tmp/nope", mode: target.Read, is: fs.ErrNotExist,
			parts: []string{"docker read /tmp/nope in " + name, "does not exist"}},
		{name: "read directory", path: "/etc", mode: target.Read, is: syscall.EISDIR,
			parts: []string{"docker read /etc in " + name, "is a directory"}},
		{name: "write directory", path: "/tmp", mode: target.Write, is: syscall.EISDIR,
			parts: []string{"docker write /tmp in " + name, "is a directory"}},
		{name: "write missing directory", path: "/nodir/x", mode: target.Write,
			parts: []string{"docker write /nodir/x in " + name, "directory /nodir does not exist"}},
		{name: "append under a file", path: "/etc/passwd/x", mode: target.Append,
			parts: []string{"docker append /etc/passwd/x in " + name, "/etc/passwd is not a directory"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tgt.Open(testContext(t), tt.path, tt.mode)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not say %q", err, p)
				}
			}
		})
	}

	t.Run("directory gone before close", func(t *testing.T) {
		mustRun(t, tgt, "mkdir -p /tmp/gone")
		f, err := tgt.Open(testContext(t), "/tmp/gone/x", target.Write)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		mustRun(t, tgt, "rmdir /tmp/gone")
		err = f.Close()
		if err == nil || !strings.Contains(err.Error(), "directory /tmp/gone does not exist") {
			t.Errorf("Close: %v", err)
		}
		if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("wrong direction", func(t *testing.T) {
		r, err := tgt.Open(testContext(t), "/etc/passwd", target.Read)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Write([]byte("x")); err == nil {
			t.Error("write to a file opened for reading")
		}
		w, err := tgt.Open(testContext(t), "/tmp/w", target.Write)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Read(make([]byte, 1)); err == nil {
			t.Error("read from a file opened for writing")
		}
	})
}

// TestFilesLarge is not parallel, so that the heap it measures is its own.
func TestFilesLarge(t *testing.T) {
	_, tgt, _ := newTarget(t)
	const size = 64 << 20
	chunk := binaryData(1 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := tgt.Open(testContext(t), "/tmp/large", target.Write)
	if err != nil {
		t.Fatal(err)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("allocated %d bytes to write %d: the write is not spooled to disk", alloc, size)
	}
	if got := mustRun(t, tgt, "wc -c </tmp/large"); strings.TrimSpace(got) != "67108864" {
		t.Errorf("size in the container: %s", got)
	}
	// Replacing and appending to a file larger than a connection's
	// buffers: the Engine holds the container's lock while the current
	// file is read.
	for _, mode := range []target.OpenMode{target.Write, target.Append} {
		f, err := tgt.Open(testContext(t), "/tmp/large", mode)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("%s over a large file: %v", mode, err)
		}
	}
	if got := mustRun(t, tgt, "wc -c </tmp/large"); strings.TrimSpace(got) != "2097152" {
		t.Errorf("size in the container after a write and an append: %s", got)
	}
}
