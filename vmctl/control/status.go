package control

import "time"

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
	Notes []string `json:"notes,omitempty"`
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
