package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"spirit/internal/guesttest"
)

// TestVMInteractive uses the demo guest as @linux from the prompt: its
// first use starts it with progress lines, the prompt shows its state,
// and it can be the default target.
func TestVMInteractive(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	home, run := demoVMHome(t)
	s := startSessionEnv(t, home, []string{"SPIRIT_RUNTIME_DIR=" + run, "SPIRIT_BASE=" + home}, nil)
	s.expect(hostPrompt, 5*time.Second)

	s.typeKeys("@linux uname -s | tr a-z A-Z", enter)
	s.expect("spirit: starting vm linux (autostart)...", 10*time.Second)
	s.expect("spirit: vm linux is up", 2*time.Minute)
	s.expect("\nLINUX\r\n", 10*time.Second)
	s.expect("spirit ~ linux:running ", 5*time.Second)
	// The VM outlives the shell: its supervisor and QEMU must not hold
	// the shell's terminal (go-prompt opens /dev/tty without
	// close-on-exec).
	for _, f := range []string{"supervisor.pid", "qemu.pid"} {
		if held := terminals(t, filepath.Join(run, "linux", f)); len(held) > 0 {
			t.Errorf("%s holds the shell's terminal: %q", f, held)
		}
	}

	// The VM as the default target: its commands get a terminal there.
	s.typeKeys("@linux", enter)
	s.expect("spirit@linux linux:running ", 5*time.Second)
	s.typeKeys("hostname; tty", enter)
	s.expect("spirit-demo\r\n/dev/pts/", 10*time.Second)
	// Keys typed before the prompt would go to the remote terminal, as
	// with ssh -t.
	s.expect("spirit@linux linux:running ", 5*time.Second)
	s.typeKeys("@spirit", enter)
	s.expect("spirit ~ linux:running ", 5*time.Second)

	s.typeKeys("@linux --pause", enter)
	s.expect("spirit ~ linux:paused ", 5*time.Second)
	s.typeKeys("@linux true", enter)
	s.expect("resume it with @linux --resume", 5*time.Second)
	s.typeKeys("@linux --resume", enter)
	s.expect("spirit ~ linux:running ", 5*time.Second)
	s.typeKeys("@linux --kill", enter)
	s.expect("vm linux killed", 10*time.Second)
	// No VM left in the prompt.
	s.expectMatch(regexp.MustCompile(`spirit ~ [$#] `), 5*time.Second)

	// A segment alone on the terminal holds it in raw mode (no \n to
	// \r\n by the terminal) while the VM starts: what spirit prints
	// meanwhile must still come out as whole lines at column 0.
	s.typeKeys("@linux hostname", enter)
	m := s.expectMatch(regexp.MustCompile(`(?s)spirit: starting vm linux \(autostart\)\.\.\..*?spirit-demo\r\n`), 2*time.Minute)
	if bare := regexp.MustCompile(`[^\r]\n`).FindAllStringIndex(m[0], -1); len(bare) > 0 {
		t.Errorf("a line break without a carriage return (a staircase) in %q", m[0])
	}
	s.expect("spirit ~ linux:running ", 5*time.Second)
	s.typeKeys("@linux --kill", enter)
	s.expect("vm linux killed", 10*time.Second)
}

// terminals lists the terminals that the process whose pid file is
// pidFile has open.
func terminals(t *testing.T, pidFile string) []string {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%s/fd/*", strings.TrimSpace(string(data))))
	if err != nil || len(fds) == 0 {
		t.Fatalf("no open files of %s: %v", pidFile, err)
	}
	var out []string
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && (strings.HasPrefix(l, "/dev/pts/") || l == "/dev/tty" || l == "/dev/ptmx") {
			out = append(out, fd+" -> "+l)
		}
	}
	return out
}

// demoVMHome makes a home whose spirit.toml defines the demo guest as
// @linux (autostart), and a runtime directory for it; the VM is killed
// when the test ends.
func demoVMHome(t *testing.T) (home, run string) {
	t.Helper()
	files := guesttest.Prepare(t, guesttest.Options{Agent: agentBin})
	home = t.TempDir()
	cfg := filepath.Join(home, ".config", "spirit")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("[vm.linux]\nos = \"linux\"\nmemory = \"256M\"\nkernel = %q\ninitrd = %q\n"+
		"append = \"console=ttyS0 quiet panic=-1\"\nautostart = true\n\n[vm.linux.network]\nmode = \"none\"\n\n"+
		"[[vm.linux.disks]]\npath = %q\n", files.Kernel, files.Initrd, files.Disk)
	if err := os.WriteFile(filepath.Join(cfg, "spirit.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	run, err = os.MkdirTemp("", "sr") // short: socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		guesttest.KillVM(filepath.Join(run, "linux"))
		os.RemoveAll(run)
	})
	return home, run
}
