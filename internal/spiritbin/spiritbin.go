// Package spiritbin builds the real spirit binaries for end-to-end tests,
// once per test binary, without the race detector so that they run (and
// their memory is measured) as users run them.
package spiritbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Bins are the paths of the built binaries; a field left nil is not built.
type Bins struct {
	Spirit *string // spirit/cmd/spirit
	Agent  *string // spirit/cmd/spirit-agent, static as it ships
}

// Main builds spirit into a temporary directory, sets *bin to its path,
// runs the tests and exits with their status.
func Main(m *testing.M, bin *string) { MainBins(m, Bins{Spirit: bin}) }

// MainBins builds the binaries b asks for, runs the tests and exits with
// their status.
func MainBins(m *testing.M, b Bins) {
	dir, err := os.MkdirTemp("", "spirit-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir, b); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// Build builds the binaries b asks for into dir, for a TestMain that
// has more to set up than MainBins does.
func Build(dir string, b Bins) error { return build(dir, b) }

func build(dir string, b Bins) error {
	for _, t := range []struct {
		path *string
		name string
		pkg  string
	}{{b.Spirit, "spirit", "spirit/cmd/spirit"}, {b.Agent, "spirit-agent", "spirit/cmd/spirit-agent"}} {
		if t.path == nil {
			continue
		}
		*t.path = filepath.Join(dir, t.name)
		cmd := exec.Command("go", "build", "-o", *t.path, t.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", t.name, err)
		}
	}
	return nil
}
