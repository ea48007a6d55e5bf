package vmctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"spirit/internal/envlist"
	"spirit/internal/rootfile"
)

// Places says where VMs keep their files on this host.
type Places struct {
	// Run holds one 0700 directory per running VM: its sockets, pid
	// files and logs. It is gone at the host's reboot, as they are.
	Run string
	// State holds one directory per VM for what must outlive a reboot:
	// the UEFI variable store, a suspended VM's RAM.
	State string
	// Base is the directory that relative paths of definitions are
	// taken from: the repository, or an install prefix.
	Base string
}

// PlacesFor finds the places for a user with the environment env (NAME=value)
// and user id uid, as systemd and the XDG base directory specification
// lay them out: /run/spirit and /var/lib/spirit for root,
// $XDG_RUNTIME_DIR/spirit and $XDG_STATE_HOME/spirit (~/.local/state)
// otherwise; never $XDG_* for root. $SPIRIT_RUNTIME_DIR,
// $SPIRIT_STATE_DIR and $SPIRIT_BASE override them (tests use them); as
// root, a $SPIRIT_BASE that another user controls is refused (a
// *rootfile.RefusedError). Never a shared /tmp: a socket there is for
// anyone to take.
func PlacesFor(env []string, uid int, exe string) (Places, error) {
	p := Places{
		Run:   getenv(env, "SPIRIT_RUNTIME_DIR"),
		State: getenv(env, "SPIRIT_STATE_DIR"),
		Base:  getenv(env, "SPIRIT_BASE"),
	}
	if p.Run == "" {
		switch xdg := getenv(env, "XDG_RUNTIME_DIR"); {
		case uid == 0:
			p.Run = "/run/spirit"
		case filepath.IsAbs(xdg):
			p.Run = filepath.Join(xdg, "spirit")
		default:
			return p, errors.New("XDG_RUNTIME_DIR is not set, and VMs need a private runtime directory: " +
				"log in through a session that sets it (pam_systemd), or set SPIRIT_RUNTIME_DIR to a directory of your own")
		}
	}
	if p.State == "" {
		switch xdg, home := getenv(env, "XDG_STATE_HOME"), getenv(env, "HOME"); {
		case uid == 0:
			p.State = "/var/lib/spirit"
		case filepath.IsAbs(xdg):
			p.State = filepath.Join(xdg, "spirit")
		case home != "":
			p.State = filepath.Join(home, ".local", "state", "spirit")
		default:
			return p, errors.New("neither XDG_STATE_HOME nor HOME is set: set SPIRIT_STATE_DIR to where VMs should keep their state")
		}
	}
	if p.Base == "" && exe != "" {
		// bin/spirit of a checkout or of an install prefix.
		p.Base = filepath.Dir(filepath.Dir(exe))
	}
	for _, d := range []*string{&p.Run, &p.State, &p.Base} {
		if *d != "" && !filepath.IsAbs(*d) {
			return p, fmt.Errorf("%s: want an absolute path", *d)
		}
	}
	if base := getenv(env, "SPIRIT_BASE"); uid == 0 && base != "" {
		// The built-in VMs' disks are found under it, and a root QEMU
		// opens them: as root, only a directory that only root can
		// change (the run and state directories are checked when a VM
		// starts: see private). A missing one is left to the VM's start.
		var re *rootfile.RefusedError
		if _, err := rootfile.Dir(base); errors.As(err, &re) {
			return p, fmt.Errorf("SPIRIT_BASE=%s: %w", base, err)
		}
	}
	return p, nil
}

// GPUDir is where the GPU passthrough keeps its journal and lock: the
// host's, beside the VMs' runtime directories (whose files are listed in
// runtime.go).
func (p Places) GPUDir() string { return filepath.Join(p.Run, "gpu") }

// Places are where this manager keeps VMs.
func (m *Manager) Places() Places { return m.o.Places }

// Env is the environment Args needs for the VM name, KVM left unset.
func (p Places) Env(name string) Env {
	return Env{Dir: filepath.Join(p.Run, name), StateDir: filepath.Join(p.State, name), Base: p.Base}
}

// private makes dir (and its parents) with mode 0700 and checks that it
// is a directory that belongs to us and that nobody else can enter; as
// root, also that no other user controls a directory above it
// ($SPIRIT_RUNTIME_DIR and $SPIRIT_STATE_DIR survive sudo -E).
func private(dir string) error {
	return rootfile.MkdirAll(dir, 0o700, os.Geteuid() == 0)
}

// getenv looks a variable up in a NAME=value list.
func getenv(env []string, name string) string { return envlist.Get(env, name) }
