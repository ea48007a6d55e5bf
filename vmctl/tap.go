package vmctl

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultBridgeHelper is Debian's qemu-bridge-helper: it makes a tap
// device, adds it to a bridge that /etc/qemu/bridge.conf allows, and
// sends its descriptor over a unix socket.
const DefaultBridgeHelper = "/usr/lib/qemu/qemu-bridge-helper"

// bridgeHelperTimeout bounds the helper, which only makes a device.
const bridgeHelperTimeout = 30 * time.Second

// openTap runs the bridge helper as the supervisor's user (root) and
// returns the tap device it made on bridge: QEMU's -netdev bridge would
// run the helper itself, which its sandbox forbids (spawn=deny), and its
// user could not.
func openTap(helper, bridge string) (*os.File, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "bridge-helper"), os.NewFile(uintptr(pair[1]), "bridge-helper")
	defer ours.Close()
	cmd := exec.Command(helper, "--use-vnet", "--br="+bridge, "--fd=3")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	ours.SetReadDeadline(time.Now().Add(bridgeHelperTimeout))
	tap, rerr := receiveFD(ours)
	if werr := cmd.Wait(); werr != nil || rerr != nil {
		if tap != nil {
			tap.Close()
		}
		return nil, fmt.Errorf("bridge %s: %s: %v %v: %s", bridge, helper, werr, rerr, strings.TrimSpace(out.String()))
	}
	return tap, nil
}

// receiveFD reads one descriptor sent with SCM_RIGHTS.
func receiveFD(f *os.File) (*os.File, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	var oobn int
	var rerr error
	err = conn.Read(func(fd uintptr) bool {
		_, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("receive the tap: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive the tap: no descriptor came (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive the tap: %d descriptors (%v)", len(fds), err)
	}
	return os.NewFile(uintptr(fds[0]), "tap"), nil
}
