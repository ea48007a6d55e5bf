//go:build unix

package guest

import (
	"errors"
	"testing"

	"spirit/agents/wire"
)

// TestDesktopRefused checks that a Unix agent refuses a desktop command
// rather than run it as itself.
func TestDesktopRefused(t *testing.T) {
	p, err := startProcess(&wire.Request{Op: wire.OpExec, ID: "d", Shell: "echo ran", Desktop: true})
	if err == nil {
		p.Kill()
		p.Wait()
		p.Release()
		t.Fatal("a desktop command ran on a Unix agent")
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("error %v, want one that is errors.ErrUnsupported", err)
	}
}
