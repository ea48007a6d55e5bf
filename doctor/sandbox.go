package doctor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"spirit/vmctl"
)

// checkSandbox checks what spirit runs QEMU with: its seccomp sandbox
// (vmctl.SandboxOptions), which a QEMU built without seccomp refuses,
// and, for root's VMs, a user of its own (see vmctl.RunAs).
func checkSandbox(ctx context.Context, o Options) Result {
	path, err := exec.LookPath(o.QEMU)
	if err != nil {
		return Result{Status: Skip, Found: "no QEMU to check (see the QEMU check)"}
	}
	if r, ok := sandboxAccepted(ctx, path); !ok {
		return r
	}
	found := "QEMU runs in its seccomp sandbox (-sandbox " + vmctl.SandboxOptions + ")"
	ra, err := vmctl.LookupRunAs(o.QEMUUser)
	switch {
	case errors.Is(err, vmctl.ErrNoQEMUUser):
		status, who := Fail, "so root's VMs cannot start"
		if o.UID != 0 {
			status, who = Warn, "as you (uid "+fmt.Sprint(o.UID)+"); as root it would run as "+o.QEMUUser+", which does not exist"
		}
		return Result{Status: status, Found: found + ", " + who,
			Fix: "create the user as root: " + vmctl.UserAddCommand(o.QEMUUser) + ` (or name another in spirit.toml: [qemu] user = "NAME")`}
	case err != nil:
		return Result{Status: Fail, Found: found + fmt.Sprintf(", but: %v", err), Fix: "check /etc/passwd and nsswitch.conf"}
	case ra == nil:
		return Result{Status: Warn, Found: found + `, as root, as spirit.toml says ([qemu] user = "root"): a flaw in its device emulation would give a guest the host`,
			Fix: "run it as a user of its own: " + vmctl.UserAddCommand(vmctl.DefaultQEMUUser) + ", and drop [qemu] user from spirit.toml"}
	case o.UID != 0:
		return Result{Status: OK, Found: found + fmt.Sprintf(", as you (uid %d); as root, as %s (uid %d)", o.UID, ra.Name, ra.UID)}
	}
	return Result{Status: OK, Found: found + fmt.Sprintf(", as %s (uid %d), not root", ra.Name, ra.UID)}
}

// sandboxAccepted runs QEMU with the sandbox's options before -version
// (false and why not when it fails):
// QEMU parses them first, and fails on what it does not support.
func sandboxAccepted(ctx context.Context, path string) (Result, bool) {
	cmd := exec.CommandContext(ctx, path, "-sandbox", vmctl.SandboxOptions, "-version")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err == nil {
		return Result{}, true
	}
	said, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return Result{Status: Fail, Found: fmt.Sprintf("%s refuses -sandbox %s: %v: %s", path, vmctl.SandboxOptions, err, said),
		Fix: "install a QEMU built with seccomp (Debian's is): apt-get install qemu-system-x86"}, false
}
