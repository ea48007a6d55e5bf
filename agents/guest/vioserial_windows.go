//go:build windows

package guest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
)

// handleIO is the vioserial driver through an open handle of its port.
type handleIO struct{ h windows.Handle }

func (d handleIO) hostConnected() (bool, error) { return hostConnected(d.h) }

func (d handleIO) read(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error) {
	return overlappedIO(d.h, b, cancelWhen, func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.ReadFile(d.h, b, &ignored, ov)
	})
}

// write cannot be cancelled on vioserial; cancelWhen is still given, for
// a driver that can.
func (d handleIO) write(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error) {
	return overlappedIO(d.h, b, cancelWhen, func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.WriteFile(d.h, b, &ignored, ov)
	})
}

func (d handleIO) close() error { return windows.CloseHandle(d.h) }

// hostConnected asks the driver whether a host has the port open.
func hostConnected(h windows.Handle) (bool, error) {
	// Room for the port's name after the fixed part, which the driver
	// otherwise reports as an overflow.
	info := make([]byte, 512)
	n, err := overlappedIO(h, info, nil, func(ov *windows.Overlapped) error {
		var ignored uint32
		return windows.DeviceIoControl(h, ioctlGetInformation, nil, 0, &info[0], uint32(len(info)), &ignored, ov)
	})
	if err != nil {
		return false, fmt.Errorf("port information: %w", err)
	}
	if n <= portInfoHostConnected {
		return false, fmt.Errorf("port information: %d bytes, too short", n)
	}
	return info[portInfoHostConnected] != 0, nil
}

// overlappedIO runs one overlapped operation that start begins on h, and
// waits for it to end. When cancelWhen (if not nil) returns true, the
// operation is cancelled; whatever it completed before counts. buf is the
// memory the operation uses, pinned until it is over.
func overlappedIO(h windows.Handle, buf []byte, cancelWhen func(done <-chan struct{}) bool, start func(*windows.Overlapped) error) (uint32, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("create event: %w", err)
	}
	defer windows.CloseHandle(ev)
	// The kernel writes to ov and buf after start returns: they must
	// stay where they are, and alive, until the operation is over.
	ov := &windows.Overlapped{HEvent: ev}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(ov)
	if len(buf) > 0 {
		pin.Pin(&buf[0])
	}
	if err := start(ov); err != nil && err != windows.ERROR_IO_PENDING {
		return 0, err
	}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if cancelWhen != nil && cancelWhen(done) {
			windows.CancelIoEx(h, ov)
		}
	}()
	var n uint32
	err = windows.GetOverlappedResult(h, ov, &n, true)
	close(done)
	<-watched // no CancelIoEx on ov once it may be reused
	return n, err
}
