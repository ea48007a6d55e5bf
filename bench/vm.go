package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"spirit/agents/client"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// benchVM is the bench's own @linux: the demo guest booted from the bench
// variant of its initramfs, with two more ports (the raw echo and
// qemu-ga's), defined in a spirit.toml of the bench's own and run from
// runtime and state directories under dir, so that the user's VMs and
// configuration are never touched.
type benchVM struct {
	spirit string
	dir    string
	env    []string // for spirit and its peers: the bench's directories
	// EchoSock and QGASock are the host ends of the ports spirit.echo
	// and org.qemu.guest_agent.0.
	EchoSock, QGASock string
	started           bool
}

const vmName = "linux"

func newBenchVM(spirit, dir, base string) (*benchVM, error) {
	v := &benchVM{
		spirit:   spirit,
		dir:      dir,
		EchoSock: filepath.Join(dir, "echo.sock"),
		QGASock:  filepath.Join(dir, "qga.sock"),
	}
	for _, d := range []string{"run", "state", "home", "config/spirit"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	v.env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"SPIRIT_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"SPIRIT_STATE_DIR="+filepath.Join(dir, "state"),
		"SPIRIT_BASE="+base,
	)
	return v, v.writeConfig(false)
}

// writeConfig writes the bench's spirit.toml; dockerAgent asks for the
// persistent agent in container c1 (the [docker] table's agent).
func (v *benchVM) writeConfig(dockerAgent bool) error {
	q := strconv.Quote
	toml := fmt.Sprintf(`# make bench's own configuration (bench/vm.go).
[vm.linux]
os = "linux"
# 1 GiB: the files rows keep three 64 MiB files in the guest's tmpfs.
memory = "1G"
cores = 1
kernel = "build/guest/vmlinuz"
initrd = "build/guest/initramfs-bench.cpio.gz"
append = "console=ttyS0 quiet panic=-1 printk.time=1"
extra_args = [
  "-chardev", %s,
  "-device", "virtserialport,chardev=echo,name=spirit.echo",
  "-chardev", %s,
  "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
]

[vm.linux.network]
mode = "none"
`, q("socket,id=echo,path="+v.EchoSock+",server=on,wait=off"), q("socket,id=qga,path="+v.QGASock+",server=on,wait=off"))
	if dockerAgent {
		toml += "\n[docker]\nagent = [\"c1\"]\n"
	}
	return os.WriteFile(filepath.Join(v.dir, "config", "spirit", "spirit.toml"), []byte(toml), 0o600)
}

// cmd is a spirit command line in the bench's environment.
func (v *benchVM) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, v.spirit, args...)
	c.Env = v.env
	c.Stderr = os.Stderr
	return c
}

// start boots the VM with spirit vm start --wait and returns how long
// that took.
func (v *benchVM) start(ctx context.Context) (time.Duration, error) {
	t := time.Now()
	c := v.cmd(ctx, "vm", "start", vmName, "--wait")
	v.started = true
	if out, err := c.Output(); err != nil {
		return 0, fmt.Errorf("spirit vm start %s --wait: %w\n%s", vmName, err, out)
	}
	return time.Since(t), nil
}

// stop ends the VM: spirit vm stop, or, if that fails, its supervisor's
// and QEMU's pids killed.
func (v *benchVM) stop() {
	if !v.started {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := v.cmd(ctx, "vm", "stop", vmName)
	c.Stderr = nil
	if err := c.Run(); err == nil {
		return
	}
	for _, f := range []string{"supervisor.pid", "qemu.pid"} {
		b, err := os.ReadFile(filepath.Join(v.dir, "run", vmName, f))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// client is a client of the guest's agent connected as spirit's shell
// connects: through the VM supervisor's relay socket.
func (v *benchVM) client() *client.Client {
	env := vmctl.Env{Dir: filepath.Join(v.dir, "run", vmName)}
	return client.New(client.Options{Name: vmName, Version: "bench", Dial: func(ctx context.Context) (net.Conn, error) {
		_, conn, err := control.Dial(ctx, env.Path(vmctl.ControlSocket), control.Request{Op: control.OpAgent})
		return conn, err
	}})
}

// consoleLog is what the guest printed on its serial console.
func (v *benchVM) consoleLog() string {
	b, _ := os.ReadFile(vmctl.Env{Dir: filepath.Join(v.dir, "run", vmName)}.Path(vmctl.ConsoleLog))
	return string(b)
}
