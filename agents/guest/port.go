package guest

import (
	"context"
	"net"
)

// PortName is the name of the agent's virtio-serial port.
const PortName = "spirit.0"

// Port is where host connections come from: a virtio-serial port (one host
// at a time, the same device across hosts), a listening socket (any number
// at once), or the agent's stdin and stdout.
type Port interface {
	// Next waits for the next host connection. Closing the returned
	// connection must unblock its pending Read and Write; for a device
	// kept across hosts it does not close the device.
	Next(ctx context.Context) (net.Conn, error)
	// Concurrent says whether connections from Next may be served at
	// the same time, or one after the other.
	Concurrent() bool
	Close() error
}

// OpenVirtioPort opens the agent's virtio-serial port; it is defined per
// OS (port_linux.go, port_windows.go):
//
//	func OpenVirtioPort(name string, log *slog.Logger) (Port, error)
