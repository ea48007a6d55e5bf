package vmctl

import "path/filepath"

// File names a file of a VM's runtime directory (Env.Dir) or state
// directory (Env.StateDir); Env.Path says where it is.
type File int

// The files of a VM's directories: the one list of them. Each says what
// it is and who makes it (see fileSpec for its name and how long it
// lives).
const (
	// ControlSocket is the supervisor's socket (spirit/vmctl/control),
	// made by the supervisor once QEMU runs.
	ControlSocket File = iota
	// QMPSocket, AgentSocket and ConsoleSocket are QEMU's: its monitor
	// (the supervisor's alone), the chardev of the guest agent's
	// virtio-serial port, and the serial console. The supervisor makes
	// them and QEMU listens on them (see PassListen): QEMU's user could
	// not make them here.
	QMPSocket
	AgentSocket
	ConsoleSocket
	// PIDFile is QEMU's pid, written by the supervisor: a start after a
	// supervisor that died finds the orphan QEMU by it.
	PIDFile
	// SupervisorPID is the supervisor's pid, written by the supervisor.
	SupervisorPID
	// BootstrapFile is what the supervisor runs (Bootstrap), written by
	// the starter (Manager.Start) and taken over by the supervisor.
	BootstrapFile
	// LockFile is the VM's lock, made by the starter and held by the
	// supervisor for its life.
	LockFile
	// SupervisorLog is the supervisor's stdout and stderr, opened by the
	// starter; QEMULog is QEMU's, opened by the supervisor; ConsoleLog
	// is a copy of the serial console, written by QEMU.
	SupervisorLog
	QEMULog
	ConsoleLog
	// VarsFile is the VM's UEFI variable store, made by the starter on
	// the first start (VarsCopyArgs). It is qcow2, not raw like the
	// template, because QEMU saves internal snapshots (savevm) only when
	// every writable drive can hold one, the firmware's included. (HMP's
	// savevm then puts the RAM in the first such drive, this one: QMP's
	// snapshot-save should name the VM's disk as its vmstate.)
	VarsFile
	// SuspendFile is a suspended VM's RAM and devices, written by the
	// supervisor's suspend through SuspendTmpFile, so that a failed save
	// leaves no half state to resume from; the next start resumes from
	// it.
	SuspendFile
	SuspendTmpFile
	numFiles
)

// Maker is who makes a file.
type Maker int

const (
	ByStarter Maker = iota
	BySupervisor
)

// fileSpec is a file's name, its maker and where it lives: live files
// last as long as the supervisor (it removes each where it is made, and
// a start removes those a supervisor that died left), the others outlive
// it (the logs, for a post-mortem), and inState ones are in StateDir,
// which outlives a reboot of the host.
func (f File) spec() (name string, by Maker, live, inState bool) {
	switch f {
	case ControlSocket:
		return "control.sock", BySupervisor, true, false
	case QMPSocket:
		return "qmp.sock", BySupervisor, true, false
	case AgentSocket:
		return "agent.sock", BySupervisor, true, false
	case ConsoleSocket:
		return "console.sock", BySupervisor, true, false
	case PIDFile:
		return "qemu.pid", BySupervisor, true, false
	case SupervisorPID:
		return "supervisor.pid", BySupervisor, true, false
	case BootstrapFile:
		return "vm.json", ByStarter, true, false
	case LockFile:
		return "lock", ByStarter, false, false
	case SupervisorLog:
		return "supervisor.log", ByStarter, false, false
	case QEMULog:
		return "qemu.log", BySupervisor, false, false
	case ConsoleLog:
		return "console.log", BySupervisor, false, false
	case VarsFile:
		return "OVMF_VARS.qcow2", ByStarter, false, true
	case SuspendFile:
		return "suspend.state", BySupervisor, false, true
	case SuspendTmpFile:
		return "suspend.state.part", BySupervisor, false, true
	}
	panic("vmctl: unknown file")
}

// Path is where the file f of this VM is.
func (e Env) Path(f File) string {
	name, _, _, inState := f.spec()
	if inState {
		return filepath.Join(e.StateDir, name)
	}
	return filepath.Join(e.Dir, name)
}

// Live lists the files that last as long as the supervisor and that by
// makes.
func (e Env) Live(by Maker) []string {
	var out []string
	for f := range numFiles {
		if _, maker, live, _ := f.spec(); live && maker == by {
			out = append(out, e.Path(f))
		}
	}
	return out
}

// leftovers lists every file that lasts as long as the supervisor: what
// one that died left behind.
func (e Env) leftovers() []string {
	var out []string
	for _, by := range []Maker{ByStarter, BySupervisor} {
		out = append(out, e.Live(by)...)
	}
	return out
}
