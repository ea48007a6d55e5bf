package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// qemuVersion matches the first line of qemu-system-x86_64 --version:
// "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
var qemuVersion = regexp.MustCompile(`version (\d+)\.(\d+)(?:\.(\d+))?(.*)`)

// qemuMinMajor is the oldest QEMU with everything spirit uses: internal
// snapshots through QMP's snapshot-save job came in 6.0.
const qemuMinMajor = 6

// checkQEMU runs the emulator for its version.
func checkQEMU(ctx context.Context, o Options) Result {
	path, err := exec.LookPath(o.QEMU)
	if err != nil {
		return Result{Status: Fail, Found: fmt.Sprintf("no %s: %v", o.QEMU, errors.Unwrap(err)),
			Fix: "install QEMU as root: apt-get install qemu-system-x86 qemu-utils"}
	}
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return Result{Status: Fail, Found: fmt.Sprintf("%s --version: %v", path, err),
			Fix: "reinstall QEMU as root: apt-get install --reinstall qemu-system-x86"}
	}
	first, _, _ := strings.Cut(string(out), "\n")
	m := qemuVersion.FindStringSubmatch(first)
	if m == nil {
		return Result{Status: Warn, Found: fmt.Sprintf("%s --version says %q, which is not a version", path, first),
			Fix: "use Debian's QEMU: apt-get install qemu-system-x86"}
	}
	major, _ := strconv.Atoi(m[1])
	found := fmt.Sprintf("QEMU %s.%s", m[1], m[2])
	if m[3] != "" {
		found += "." + m[3]
	}
	found += strings.TrimRight(m[4], " ") + " at " + path
	if major < qemuMinMajor {
		return Result{Status: Warn, Found: found + fmt.Sprintf(": snapshots need QEMU %d.0 or newer", qemuMinMajor),
			Fix: "upgrade QEMU (Debian 12 has 7.2): apt-get install qemu-system-x86"}
	}
	return Result{Status: OK, Found: found}
}

// checkDocker pings the Docker Engine that @docker targets use, found as
// agents/docker finds it (DOCKER_HOST, else the local socket). Only
// containers need it: a warning.
func checkDocker(ctx context.Context, o Options) Result {
	opts := []client.Opt{client.FromEnv}
	if o.DockerHost != "" {
		opts = append(opts, client.WithHost(o.DockerHost))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return Result{Status: Warn, Found: fmt.Sprintf("no Docker client: %v", err),
			Fix: "fix DOCKER_HOST (unix:///var/run/docker.sock, tcp://HOST:2376) and DOCKER_CERT_PATH"}
	}
	defer cli.Close()
	host := cli.DaemonHost()
	ping, err := cli.Ping(ctx, client.PingOptions{})
	if err != nil {
		found := fmt.Sprintf("cannot reach dockerd at %s: %v (only @docker targets need it)", host, dialError(err))
		if errors.Is(err, fs.ErrPermission) {
			return Result{Status: Warn, Found: found, Fix: dockerGroupFix(host)}
		}
		return Result{Status: Warn, Found: found,
			Fix: "start it as root: systemctl start docker (apt-get install docker.io installs it); DOCKER_HOST selects another engine"}
	}
	found := fmt.Sprintf("dockerd at %s answers (Engine API %s", host, ping.APIVersion)
	if v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil && v.Version != "" {
		found += ", Docker " + v.Version
	}
	return Result{Status: OK, Found: found + ")"}
}

// dialError is the dial error under the client's own wording, which
// repeats the host and guesses at causes.
func dialError(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se
	}
	return err
}

// dockerGroupFix says how to be let at the engine's socket.
func dockerGroupFix(host string) string {
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		if fi, err := os.Stat(path); err == nil {
			if _, ok := fi.Sys().(*syscall.Stat_t); ok {
				return groupFix(path, fi)
			}
		}
	}
	return "run spirit as root, or as a user of the docker group (as root: usermod -aG docker $USER, then log in again)"
}
