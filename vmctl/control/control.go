// Package control is the protocol of a VM's supervisor, which both sides
// import: the supervisor (spirit/vmctl/supervisor) serves it and vmctl's
// Manager is its client. On the supervisor's socket a client writes one
// Request as a JSON line and reads one Reply line. The "agent" request is
// different: after a Reply with no error the connection carries the agent
// protocol (spirit/agents/wire), relayed to the guest.
//
// One connection per request keeps it simple to serve many shells at
// once, and a request that waits (a stop, a snapshot) blocks nobody else.
//
// It says what crosses the socket, not what a VM is (vmctl) nor how the
// supervisor carries a request out.
package control

import (
	"cmp"
	"errors"
	"time"

	"spirit/errcode"
)

// The operations of a Request.
const (
	OpStatus    = "status"
	OpAgent     = "agent"      // then the agent protocol
	OpWaitAgent = "wait-agent" // until the guest's agent answers
	OpPause     = "pause"
	OpResume    = "resume"
	OpStop      = "stop"
	OpKill      = "kill"
	OpSnapshot  = "snapshot"
	OpSuspend   = "suspend"
	OpBalloon   = "balloon"
)

// DefaultStopTimeout is how long a stop waits for the guest to power off
// after the ACPI request before it makes QEMU quit: a Request's zero
// Timeout.
const DefaultStopTimeout = 60 * time.Second

// Request is one control request.
type Request struct {
	Op string `json:"op"`
	// Timeout bounds a stop before QEMU is told to quit, and a
	// wait-agent; zero means the default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Action is save, load, list or delete, for snapshot.
	Action string `json:"action,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// Bytes is the balloon's target: the guest's memory size.
	Bytes int64 `json:"bytes,omitempty"`
}

// Reply answers a Request.
type Reply struct {
	// Error is what went wrong, for the user; Code classifies it, for
	// the program (see Err).
	Error     string       `json:"error,omitempty"`
	Code      errcode.Code `json:"code,omitempty"`
	Status    *Status      `json:"status,omitempty"`
	Snapshots []Snapshot   `json:"snapshots,omitempty"`
	// Message is what a request that changed something has to say.
	Message string `json:"message,omitempty"`
}

// Err is the reply's error as an *errcode.Error, or nil.
func (r Reply) Err() error {
	if r.Error == "" {
		return nil
	}
	return &errcode.Error{Code: r.Code, Msg: r.Error}
}

// ErrorReply is the reply that carries err: the message and code of the
// *errcode.Error it wraps, or its text with the code Failed.
func ErrorReply(err error) Reply {
	var e *errcode.Error
	if errors.As(err, &e) {
		return Reply{Error: e.Msg, Code: cmp.Or(e.Code, errcode.Failed)}
	}
	return Reply{Error: err.Error(), Code: errcode.Failed}
}
