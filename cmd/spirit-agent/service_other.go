//go:build !windows

package main

import "errors"

// runService is for Windows, where the agent may run as a service.
func runService() (int, bool) { return 0, false }

// defaultDir is "": elsewhere the agent stays where its service manager
// started it (/ under systemd), as before.
func defaultDir() string { return "" }

func installService(string) error {
	return errors.New("only on Windows; on Linux install the systemd unit spirit-agent.service")
}

func removeService() error {
	return errors.New("only on Windows; on Linux: systemctl disable --now spirit-agent")
}
