package docker

import (
	"errors"
	"io"
	"testing"

	"spirit/target"
)

// TestDesktopRefused checks that a container refuses --desktop before it
// looks for the container: it has no user's desktop to run a command on.
func TestDesktopRefused(t *testing.T) {
	tg := &Target{b: New(Options{}), name: "web"}
	status, err := tg.Exec(t.Context(), &target.Command{Text: "true", Desktop: true, Stdout: io.Discard, Stderr: io.Discard})
	if status == 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Exec --desktop in a container: status %d, error %v; want errors.ErrUnsupported", status, err)
	}
}
