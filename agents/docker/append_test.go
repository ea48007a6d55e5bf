package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/target"

	"golang.org/x/sync/errgroup"
)

// TestAppendSparse: ">> @docker:c F" appends inside the container and
// copies nothing of F to the host. F is a 2 GiB sparse file, which a host
// copy would fill the host's temporary directory with. TMPDIR names a
// directory that does not exist, so any host file the append made would
// fail it: the host's temporary directory grows by nothing. The file must
// grow by exactly the bytes appended, end with them, and stay sparse.
// Not parallel: it sets TMPDIR for the whole process.
func TestAppendSparse(t *testing.T) {
	_, tgt, _ := newTarget(t)
	const size = 2 << 30
	mustRun(t, tgt, fmt.Sprintf("truncate -s %d /tmp/sparse", size))
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-dir"))

	data := binaryData(300_000)
	writeFile(t, tgt, "/tmp/sparse", target.Append, data)

	var gotSize, blocks, blockSize int64
	st := mustRun(t, tgt, "stat -c '%s %b %B' /tmp/sparse")
	if _, err := fmt.Sscan(st, &gotSize, &blocks, &blockSize); err != nil {
		t.Fatalf("stat: %q: %v", st, err)
	}
	if want := int64(size + len(data)); gotSize != want {
		t.Errorf("size after the append: %d, want %d", gotSize, want)
	}
	// The appended bytes take some blocks; the 2 GiB hole none.
	if used := blocks * blockSize; used > 16<<20 {
		t.Errorf("the file uses %d bytes on disk: its hole was filled", used)
	}
	tail := mustRun(t, tgt, fmt.Sprintf("tail -c %d /tmp/sparse", len(data)))
	if !bytes.Equal([]byte(tail), data) {
		t.Errorf("the file does not end with the %d bytes appended (got %d bytes)", len(data), len(tail))
	}
	if got := mustRun(t, tgt, "ls -A /tmp"); strings.TrimSpace(got) != "sparse" {
		t.Errorf("the append left files in the container's /tmp: %q", got)
	}
}

// TestAppendFails: a failure to append in the container is reported by
// Close, and a container that never reads what is appended holds neither
// Write nor Close past the context's end.
func TestAppendFails(t *testing.T) {
	t.Parallel()
	_, tgt, _ := newTarget(t)

	t.Run("store fails", func(t *testing.T) {
		f, err := tgt.Open(testContext(t), "/dev/full", target.Append)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write([]byte("x\n"))
		err = f.Close()
		if err == nil || !strings.Contains(err.Error(), "No space left on device") {
			t.Errorf("Close: %v (Write: %v), want the container's error", err, werr)
		}
	})

	t.Run("never read", func(t *testing.T) {
		// Nothing opens the FIFO to read it, so the shell in the
		// container waits in open for ever, and reads no stdin.
		mustRun(t, tgt, "mkfifo /tmp/fifo")
		ctx, cancel := context.WithCancel(testContext(t))
		f, err := tgt.Open(ctx, "/tmp/fifo", target.Append)
		if err != nil {
			t.Fatal(err)
		}
		var g errgroup.Group
		g.Go(func() error {
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					return err
				}
			}
		})
		// Let the writes fill what the connection buffers, then cancel.
		time.Sleep(200 * time.Millisecond)
		cancel()
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Write after the cancel: %v, want context.Canceled", err)
		}
		if err := f.Close(); !errors.Is(err, context.Canceled) {
			t.Errorf("Close after the cancel: %v, want context.Canceled", err)
		}
	})
}

// TestAppendEndless: appending through a link the container made to a
// file with no end (/dev/zero) stores the bytes there as cat would, with
// nothing read from it and nothing made on the host (TMPDIR names no
// directory). A host copy of the current contents would never finish.
// Not parallel: it sets TMPDIR for the whole process.
func TestAppendEndless(t *testing.T) {
	_, tgt, _ := newTarget(t)
	mustRun(t, tgt, "ln -s /dev/zero /tmp/endless")
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-dir"))
	writeFile(t, tgt, "/tmp/endless", target.Append, []byte("x\n"))
	if got := mustRun(t, tgt, "[ -L /tmp/endless ] && echo still a link"); got != "still a link\n" {
		t.Errorf("got %q", got)
	}
}
