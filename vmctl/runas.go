package vmctl

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// DefaultQEMUUser is the user QEMU runs as when spirit runs as root and
// spirit.toml's [qemu] user names none: a system user of its own, that
// owns no file and no process but the VMs' QEMUs.
const DefaultQEMUUser = "spirit-qemu"

// RunAs is the user a root spirit runs QEMU as. QEMU starts as that user
// (it could not drop root itself: its sandbox denies set*uid), with the
// files it needs passed open (see PassedFile).
type RunAs struct {
	Name string `json:"name"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	// Groups are QEMU's only supplementary groups: /dev/kvm's group
	// when the VM uses KVM, so that QEMU can open it; none otherwise.
	Groups []uint32 `json:"groups,omitempty"`
}

// ErrNoQEMUUser is wrapped by a start as root when the user QEMU runs as
// does not exist. spirit does not create users: the message says how.
var ErrNoQEMUUser = errors.New("no such user")

// UserAddCommand creates the user name as spirit expects it: a system
// user with no home and no shell (scripts/deps.sh runs it).
func UserAddCommand(name string) string {
	return "useradd --system --no-create-home --shell /usr/sbin/nologin " + name
}

// LookupRunAs finds the user name for QEMU. root (or any user of uid 0)
// is allowed only by name, and gives nil: QEMU then runs as root.
func LookupRunAs(name string) (*RunAs, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("QEMU runs as the user %s, and there is %w %s: create it as root with: %s "+
			"(or name another in spirit.toml: [qemu] user = \"NAME\")", name, ErrNoQEMUUser, name, UserAddCommand(name))
	}
	if err != nil {
		return nil, fmt.Errorf("look up the user %s that QEMU runs as: %w", name, err)
	}
	uid, uerr := strconv.ParseUint(u.Uid, 10, 32)
	gid, gerr := strconv.ParseUint(u.Gid, 10, 32)
	if uerr != nil || gerr != nil {
		return nil, fmt.Errorf("user %s: uid %q, gid %q are not numbers", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, nil
	}
	return &RunAs{Name: name, UID: uint32(uid), GID: uint32(gid)}, nil
}

// withKVM adds the group of the KVM device to r's groups.
func (r *RunAs) withKVM(dev string) error {
	fi, err := os.Stat(dev)
	if err != nil {
		return fmt.Errorf("kvm: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("kvm: no owner for %s", dev)
	}
	if st.Gid != 0 {
		r.Groups = append(r.Groups, st.Gid)
	}
	return nil
}

// Credential is r as exec.Cmd's SysProcAttr takes it; nil runs QEMU as
// spirit's own user.
func (r *RunAs) Credential() *syscall.Credential {
	if r == nil {
		return nil
	}
	// Groups is set even when empty: root's groups must not be kept.
	return &syscall.Credential{Uid: r.UID, Gid: r.GID, Groups: append([]uint32{}, r.Groups...)}
}

// HandOver makes the devices r's for as long as QEMU runs (VFIO groups,
// which QEMU opens by path, as libvirt hands them over), and returns
// what gives each back to its owner. Nothing is handed over for nil.
func HandOver(devices []string, r *RunAs) (restore func() error, err error) {
	var undo []func() error
	restore = func() error {
		var errs []error
		for _, u := range slices.Backward(undo) {
			errs = append(errs, u())
		}
		return errors.Join(errs...)
	}
	if r == nil {
		return restore, nil
	}
	for _, dev := range devices {
		fi, err := os.Stat(dev)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("hand %s to %s: %w", dev, r.Name, err), restore())
		}
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Chown(dev, int(r.UID), int(r.GID)); err != nil {
			return nil, errors.Join(fmt.Errorf("hand %s to %s: %w", dev, r.Name, err), restore())
		}
		undo = append(undo, func() error {
			if err := os.Chown(dev, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("give %s back: %w", dev, err)
			}
			return nil
		})
	}
	return restore, nil
}
