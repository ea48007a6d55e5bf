package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"spirit/errcode"
)

// Ops a Request names.
const (
	OpExec   = "exec"   // run a command; its standard files attach on their own streams
	OpAttach = "attach" // this stream is standard file FD of exec ID: raw bytes (after OK, for an output)
	OpRead   = "read"   // the file's bytes follow OK, then the stream ends
	OpWrite  = "write"  // raw bytes follow OK until the client closes; then OK or Error
	OpStat   = "stat"
	OpPing   = "ping"
)

// Request is the first frame of every stream.
type Request struct {
	Op string `json:"op"`

	// Exec and attach.
	ID    string   `json:"id,omitempty"`    // chosen by the client, unique per exec
	Shell string   `json:"shell,omitempty"` // text for the guest's shell
	Argv  []string `json:"argv,omitempty"`  // or a program and its arguments
	Env   []string `json:"env,omitempty"`   // NAME=value, added to the agent's own
	Dir   string   `json:"dir,omitempty"`
	Stdin bool     `json:"stdin,omitempty"` // a stream for FD 0 will attach
	TTY   *Resize  `json:"tty,omitempty"`   // run under a pty of this size
	// Desktop runs the command in the session of the user logged on to
	// the guest's desktop, as that user (Windows); an agent that has no
	// such session refuses it.
	Desktop bool `json:"desktop,omitempty"`
	FD      int  `json:"fd,omitempty"` // attach: 0, 1 or 2

	// Files.
	Path   string      `json:"path,omitempty"`
	Append bool        `json:"append,omitempty"`
	Mode   fs.FileMode `json:"mode,omitempty"` // permissions of a new file; 0 means 0644
}

// MaxID bounds an exec ID.
const MaxID = 64

func (r *Request) check() error {
	switch r.Op {
	case OpExec:
		if (r.Shell == "") == (len(r.Argv) == 0) {
			return errors.New("exec needs shell text or argv, not both")
		}
		if r.ID == "" || len(r.ID) > MaxID {
			return fmt.Errorf("exec id must be 1 to %d bytes", MaxID)
		}
		if r.TTY != nil {
			return r.TTY.check()
		}
	case OpAttach:
		if r.ID == "" || len(r.ID) > MaxID {
			return fmt.Errorf("attach id must be 1 to %d bytes", MaxID)
		}
		if r.FD < 0 || r.FD > 2 {
			return fmt.Errorf("attach fd %d: want 0, 1 or 2", r.FD)
		}
	case OpRead, OpWrite, OpStat:
		if r.Path == "" {
			return fmt.Errorf("%s needs a path", r.Op)
		}
		if r.Mode&^fs.ModePerm != 0 {
			return fmt.Errorf("%s mode %v: only permission bits", r.Op, r.Mode)
		}
	case OpPing:
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	return nil
}

// Reply is the payload of an OK frame.
type Reply struct {
	Stat *Stat `json:"stat,omitempty"`
}

// Stat describes a file on the guest.
type Stat struct {
	Size    int64       `json:"size"`
	Mode    fs.FileMode `json:"mode"`
	ModTime time.Time   `json:"mtime"`
}

// ErrorMsg is the payload of an Error frame: an *errcode.Error on the
// wire. Its codes are errcode's, shared with the VM control protocol.
type ErrorMsg struct {
	Message string       `json:"message"`
	Code    errcode.Code `json:"code,omitempty"`
}

// Signals the client may send. Others are refused, so that a guest on
// another OS is not asked for one it lacks. STOP and CONT are job
// control (a Windows agent refuses them: a job object cannot be stopped).
var Signals = []string{"INT", "TERM", "HUP", "KILL", "QUIT", "STOP", "CONT"}

// SignalMsg is the payload of a Signal frame: the signal goes to the whole
// process group (on Windows, the job). Cancel asks the agent to kill what
// is left of the group shortly after.
type SignalMsg struct {
	Signal string `json:"signal"`
	Cancel bool   `json:"cancel,omitempty"`
}

func (s *SignalMsg) check() error {
	for _, n := range Signals {
		if s.Signal == n {
			return nil
		}
	}
	return fmt.Errorf("unknown signal %q", s.Signal)
}

// Resize is the payload of a Resize frame, and a Request's pty size.
type Resize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

func (r *Resize) check() error { return nil }

// CloseOutMsg is the payload of a CloseOut frame: the agent closes its end
// of that output, so that the writer gets EPIPE as in a host pipeline.
type CloseOutMsg struct {
	FD int `json:"fd"`
}

func (c *CloseOutMsg) check() error {
	if c.FD != 1 && c.FD != 2 {
		return fmt.Errorf("closeout fd %d: want 1 or 2", c.FD)
	}
	return nil
}

// ExitMsg is the payload of an Exit frame.
type ExitMsg struct {
	// Status is the exit status, 128+N for a death by signal N.
	Status int `json:"status"`
	// Signal names the signal that ended the command, if one did.
	Signal string `json:"signal,omitempty"`
}
