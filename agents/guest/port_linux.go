package guest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenVirtioPort opens the virtio-serial port called name: its udev link
// /dev/virtio-ports/NAME, or, in a guest without udev (the demo guest's
// initramfs), the /dev/vportNpM whose sysfs name matches.
func OpenVirtioPort(name string, _ *slog.Logger) (Port, error) {
	path, err := findPort(name)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that a session's reads can be cut with a
	// deadline; one opener at a time (EBUSY) is the device's rule.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	return &devicePort{r: f, w: f, hangup: true, name: path}, nil
}

func findPort(name string) (string, error) {
	link := filepath.Join("/dev/virtio-ports", name)
	if _, err := os.Stat(link); err == nil {
		return link, nil
	}
	names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		dev := filepath.Join("/dev", filepath.Base(filepath.Dir(n)))
		if _, err := os.Stat(dev); err == nil {
			return dev, nil
		}
		return "", fmt.Errorf("virtio-serial port %s is %s, but %s does not exist (mknod it from %s/dev)", name, filepath.Dir(n), dev, filepath.Dir(n))
	}
	return "", fmt.Errorf("no virtio-serial port named %s (not in /dev/virtio-ports nor /sys/class/virtio-ports): is the VM started with -device virtserialport,name=%s?", name, name)
}
