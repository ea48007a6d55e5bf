//go:build unix

package guest

// hasPty: a Unix agent runs commands under a pty.
func hasPty() bool { return true }

// hasDesktop: a Unix agent's commands have no desktop session to go to.
func hasDesktop() bool { return false }
