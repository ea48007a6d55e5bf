package router

import (
	"context"
	"fmt"
	"io"
	"spirit/target"
	"strings"
	"syscall"
	"testing"
)

// fullTarget stands in for a target whose store fails at the end, as a
// container's full /tmp does: every write is taken, and Close reports
// that the file could not be stored.
type fullTarget struct{ shTarget }

func (fullTarget) Open(_ context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	if mode == target.Read {
		return nil, fmt.Errorf("open %s: %w", path, syscall.ENOENT)
	}
	return failingStore{path: path}, nil
}

type failingStore struct{ path string }

func (failingStore) Read([]byte) (int, error)    { return 0, io.EOF }
func (failingStore) Write(p []byte) (int, error) { return len(p), nil }
func (s failingStore) Close() error {
	return fmt.Errorf("store %s: %w", s.path, syscall.ENOSPC)
}

// TestFailedStoreFails checks that a redirection whose file cannot be
// stored fails its command, as a failed write does in bash: the status is
// 1, set -e stops, && does not go on, and the error is printed.
func TestFailedStoreFails(t *testing.T) {
	const msg = "no space left on device"
	tests := []struct {
		src, out string
		status   int
	}{
		{"echo x > @full f", "", 1},
		{"echo x >> @full f; echo $?", "1\n", 0},
		{"echo x > @full f && echo not reached", "", 1},
		{"echo x > @full f || echo failed", "failed\n", 0},
		{"set -e; echo x > @full f; echo not reached", "", 1},
		{"@a echo x > @full f; echo $?", "1\n", 0},
		{"f() { echo x > @full f; }; f; echo $?", "1\n", 0},
		{"for i in 1 2; do echo $i >> @full f; echo $?; done", "1\n1\n", 0},
		{"! echo x > @full f", "", 0},
		{"false > @full f; echo $?", "1\n", 0},
		// A store that works keeps the command's own status.
		{"echo x > @b stored; echo $?", "0\n", 0},
		{"sh -c 'exit 3' > @b stored; echo $?", "3\n", 0},
	}
	for _, tc := range tests {
		// A session of its own each: set -e and functions last.
		status, out, er := newRunEnv(t).run(t, tc.src)
		wantErr := strings.Contains(tc.src, "@full")
		if status != tc.status || out != tc.out || strings.Contains(er, msg) != wantErr {
			t.Errorf("%q:\n got status %d, stdout %q, stderr %q\nwant status %d, stdout %q, stderr with %q: %v",
				tc.src, status, out, er, tc.status, tc.out, msg, wantErr)
		}
	}
}
