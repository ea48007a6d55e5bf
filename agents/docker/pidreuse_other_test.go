//go:build !linux

package docker

// runHelper: the fake agent of TestAgentPidReuse is Linux's.
func runHelper() (int, bool) { return 0, false }
