// Package spiritbin builds the real spirit binary for end-to-end tests,
// once per test binary, without the race detector so that it runs (and its
// memory is measured) as users run it.
package spiritbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds spirit into a temporary directory, sets *bin to its path,
// runs the tests and exits with their status.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "spirit-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "spirit")
	build := exec.Command("go", "build", "-o", *bin, "spirit/cmd/spirit")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build spirit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
