package vmctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// The supervisor's control protocol: on its socket (Env.ControlSocket) a
// client writes one Request as a JSON line and reads one Reply line. The
// "agent" request is different: after a Reply with no error the
// connection carries the agent protocol, relayed to the guest.
//
// One connection per request keeps it simple to serve many shells at
// once, and a request that waits (a stop, a snapshot) blocks nobody else.

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
	// Error is what went wrong, for the user; Code classifies it.
	Error     string     `json:"error,omitempty"`
	Code      string     `json:"code,omitempty"`
	Status    *Status    `json:"status,omitempty"`
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	// Message is what a request that changed something has to say.
	Message string `json:"message,omitempty"`
}

// The codes of a Reply's error.
const (
	CodePaused  = "paused"  // the VM is paused: resume it
	CodeState   = "state"   // not possible in the VM's state
	CodeRefused = "refused" // not possible for this VM (a GPU, no balloon...)
	CodeFailed  = "failed"
)

// VM states. A VM with no supervisor is stopped, or suspended when its
// RAM is saved to a file.
const (
	StateRunning    = "running"
	StatePaused     = "paused"
	StateSuspending = "suspending"
	StateStopping   = "stopping"
	StateStopped    = "stopped"
	StateSuspended  = "suspended"
)

// Status is what a supervisor says of its VM.
type Status struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// PID is QEMU's; Supervisor the supervisor's.
	PID        int       `json:"pid,omitempty"`
	Supervisor int       `json:"supervisor,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Accel      string    `json:"accel,omitempty"`
	// AgentReady says whether the guest's agent answers; BootToAgent is
	// the time from QEMU's start until it first did.
	AgentReady  bool          `json:"agent_ready"`
	BootToAgent time.Duration `json:"boot_to_agent,omitempty"`
	Agent       *AgentInfo    `json:"agent,omitempty"`
	// Balloon is the guest's memory as the balloon has it, in bytes.
	Balloon int64 `json:"balloon,omitempty"`
	// Pinning is each vCPU's thread and the cores it may run on.
	Pinning []VCPUPin `json:"pinning,omitempty"`
	// Resumed says the VM was resumed from a suspended state.
	Resumed bool `json:"resumed,omitempty"`
	// Notes are what the command line had to change (no KVM: TCG).
	Notes []Note `json:"notes,omitempty"`
}

// AgentInfo is what the guest's agent said of itself.
type AgentInfo struct {
	Version  string `json:"version"`
	OS       string `json:"os"`
	Hostname string `json:"hostname"`
}

// VCPUPin is one vCPU's thread and its allowed cores.
type VCPUPin struct {
	VCPU   int   `json:"vcpu"`
	Thread int   `json:"thread"`
	Cores  []int `json:"cores"`
}

// Snapshot is an internal snapshot of a VM's disks and RAM.
type Snapshot struct {
	Name    string        `json:"name"`
	Date    time.Time     `json:"date"`
	VMState int64         `json:"vm_state_size"`
	VMClock time.Duration `json:"vm_clock"`
}

// ControlSocket is the supervisor's socket.
func (e Env) ControlSocket() string { return filepath.Join(e.Dir, "control.sock") }

// Files of the runtime directory besides the sockets.
func (e Env) LockFile() string       { return filepath.Join(e.Dir, "lock") }
func (e Env) BootstrapFile() string  { return filepath.Join(e.Dir, "vm.json") }
func (e Env) SupervisorLog() string  { return filepath.Join(e.Dir, "supervisor.log") }
func (e Env) SupervisorPID() string  { return filepath.Join(e.Dir, "supervisor.pid") }
func (e Env) QEMULog() string        { return filepath.Join(e.Dir, "qemu.log") }
func (e Env) SuspendFile() string    { return filepath.Join(e.StateDir, "suspend.state") }
func (e Env) SuspendTmpFile() string { return filepath.Join(e.StateDir, "suspend.state.part") }

// RemoteError is an error reply of a supervisor.
type RemoteError struct{ Code, Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// ErrNotRunning is returned by calls to a VM that has no supervisor.
var ErrNotRunning = errors.New("not running")

// ErrRunning is wrapped by a start of a VM that runs already.
var ErrRunning = errors.New("already running")

// Dial connects to the supervisor of the VM whose runtime directory is
// env.Dir, sends req and reads the reply. The connection is returned
// open only for OpAgent (positioned at the agent protocol); it is nil
// otherwise.
func Dial(ctx context.Context, env Env, req Request) (Reply, net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", env.ControlSocket())
	if err != nil {
		if ctx.Err() != nil {
			// Not a sign that the VM has stopped.
			return Reply{}, nil, fmt.Errorf("%s request: %w", req.Op, ctx.Err())
		}
		return Reply{}, nil, fmt.Errorf("%w (%v)", ErrNotRunning, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	rep, err := exchange(conn, req)
	if ctx.Err() != nil {
		// ctx's end shows in the exchange as an i/o timeout: say why.
		err = fmt.Errorf("%s request: %w", req.Op, ctx.Err())
	}
	if err != nil {
		conn.Close()
		return Reply{}, nil, err
	}
	if rep.Error != "" || req.Op != OpAgent {
		conn.Close()
		return rep, nil, nil
	}
	return rep, conn, nil
}

func exchange(conn net.Conn, req Request) (Reply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return Reply{}, fmt.Errorf("send %s request: %w", req.Op, err)
	}
	line, err := readLine(conn)
	if err != nil {
		return Reply{}, fmt.Errorf("read %s reply: %w", req.Op, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return Reply{}, fmt.Errorf("read %s reply: %w", req.Op, err)
	}
	return rep, nil
}

// MaxLine bounds a line of the control protocol.
const MaxLine = 1 << 20

// readLine reads one line a byte at a time, so that nothing after it (the
// agent protocol) is taken from the connection.
func readLine(conn net.Conn) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := conn.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return line, nil
			}
			if len(line) >= MaxLine {
				return nil, errors.New("line too long")
			}
			line = append(line, b[0])
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadRequest reads a request line on the supervisor's side.
func ReadRequest(r *bufio.Reader) (Request, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return Request{}, err
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Request{}, fmt.Errorf("bad request: %w", err)
	}
	return req, nil
}

// WriteReply writes a reply line on the supervisor's side.
func WriteReply(conn net.Conn, rep Reply) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = conn.Write(append(b, '\n'))
	return err
}
