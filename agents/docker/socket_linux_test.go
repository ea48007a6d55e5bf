package docker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"spirit/internal/dockertest"
)

// testKey is the key of the test agent binary (agentBin.key).
func testKey(t *testing.T) string {
	t.Helper()
	bin, err := New(Options{AgentBinary: testAgentBin}).agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin.key
}

// containerPid is the host's PID of the container's first process.
func containerPid(t *testing.T, name string) int {
	t.Helper()
	res, err := dockertest.Client(t).ContainerInspect(testContext(t), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.State.Pid
}

// TestAgentSocketName: the shared agent's socket has a name of its own at
// each start of the container, which is not on the agent's command line
// and which the host records in a file that only the container's root
// can read; a former start's socket is removed.
func TestAgentSocketName(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	key := testKey(t)
	look := New(Options{})
	t.Cleanup(func() { _ = look.Close() })
	sockRE := regexp.MustCompile(`^agent-` + key + `-[A-Z2-7]{26}\.sock$`)

	// sockets runs the first command through a new backend and returns
	// the agent sockets in /.spirit.
	sockets := func() []string {
		t.Helper()
		mustRun(t, agentBackend(t, false).Target(name), "true")
		var socks []string
		for f := range strings.FieldsSeq(mustRun(t, look.Target(name), "ls -A /.spirit")) {
			if strings.HasSuffix(f, ".sock") {
				if !sockRE.MatchString(f) {
					t.Errorf("socket %s: its name is not agent-KEY-RANDOM.sock", f)
				}
				socks = append(socks, f)
			}
		}
		if len(socks) != 1 {
			t.Fatalf("agent sockets in /.spirit: %q, want one", socks)
		}
		recorded := mustRun(t, look.Target(name), "stat -c '%u %a' /.spirit/"+nameFile(key)+"; cat /.spirit/"+nameFile(key))
		if want := "0 600\n" + socks[0] + "\n"; recorded != want {
			t.Errorf("the recorded name (owner, mode, content): %q, want %q", recorded, want)
		}
		return socks
	}
	first := sockets()
	if args := leftovers(t, look.Target(name), agentExe(t)); len(args) != 1 {
		t.Errorf("agent processes whose command line is the binary alone: %q, want one", args)
	}
	if again := sockets(); again[0] != first[0] {
		t.Errorf("a second spirit's agent socket is %s, want the first's %s", again[0], first[0])
	}
	zero := 0
	if _, err := dockertest.Client(t).ContainerRestart(testContext(t), name, client.ContainerRestartOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	if after := sockets(); after[0] == first[0] {
		t.Errorf("after a restart the agent's socket is still %s", after[0])
	}
}

// TestAgentForeignListener: the recorded name leads to a socket of the
// container's root, private, in the agent's directory, but whoever
// listens on it is not in the container (here: the host's root, through
// /proc/PID/root). spirit reads nothing from it and sends it nothing,
// and starts an agent of its own.
func TestAgentForeignListener(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	key := testKey(t)
	mustRun(t, agentBackend(t, false).Target(name), "true")

	sock := socketName(key)
	l, err := net.Listen("unix", fmt.Sprintf("/proc/%d/root/.spirit/%s", containerPid(t, name), sock))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 10)
	go func() {
		defer close(got)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(testTimeout))
			data, err := io.ReadAll(c)
			got <- fmt.Sprintf("%d bytes (%v)", len(data), err)
			c.Close()
		}
	}()
	look := New(Options{})
	t.Cleanup(func() { _ = look.Close() })
	mustRun(t, look.Target(name), fmt.Sprintf("set -e; chmod 700 /.spirit/%[1]s; umask 077; echo %[1]s >/.spirit/%[2]s", sock, nameFile(key)))

	if out := mustRun(t, agentBackend(t, false).Target(name), "echo reached"); out != "reached\n" {
		t.Errorf("got %q", out)
	}
	l.Close()
	for g := range got {
		if g != "0 bytes (<nil>)" {
			t.Errorf("the foreign listener got %s, want nothing", g)
		}
	}
	if recorded := mustRun(t, look.Target(name), "cat /.spirit/"+nameFile(key)); strings.TrimSpace(recorded) == sock {
		t.Errorf("the foreign socket is still the recorded one")
	}
}

// TestHoldProcess: a process is taken as a container's only while it
// runs, started no later than the Engine says the container did, and is in
// the container's cgroup; otherwise the error says it is gone.
func TestHoldProcess(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	inCgroup := strings.TrimSpace(string(cg[strings.LastIndexByte(string(cg[:len(cg)-1]), '\n')+1:]))
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	waitProcState(t, zombie.Process.Pid, 'Z')
	now := time.Now()
	tests := []struct {
		name    string
		pid     int
		id      string
		started time.Time
		want    string // in the error; "" for none
	}{
		{"exited", dead.Process.Pid, inCgroup, now, "has exited"},
		{"exited, not reaped", zombie.Process.Pid, inCgroup, now, "has exited"},
		{"started after the container", self, inCgroup, now.Add(-time.Hour), "was replaced: what has that PID now started at"},
		{"another cgroup", self, "0123456789abcdef-no-such-container", now, "is not in the container's cgroup"},
		{"the container's", self, inCgroup, now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := holdProcess("c1", tt.id, tt.pid, tt.started.Format(time.RFC3339Nano))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("holdProcess: %v", err)
				}
				defer h.close()
				if h.rootUID != 0 || h.rootGID != 0 {
					t.Errorf("root maps to %d:%d, want 0:0", h.rootUID, h.rootGID)
				}
				if err := h.still(); err != nil {
					t.Errorf("still: %v", err)
				}
				return
			}
			if err == nil {
				h.close()
				t.Fatalf("holdProcess: no error, want %q", tt.want)
			}
			want := fmt.Sprintf("container c1: its process %d ", tt.pid)
			if !errors.Is(err, ErrProcessGone) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("holdProcess: %v, want ErrProcessGone and %q, %q", err, want, tt.want)
			}
		})
	}
}

func TestMapRoot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"         0          0 4294967295\n", 0, true},
		{"         0     100000      65536\n", 100000, true},
		{"         1     100001      65535\n         0       1000          1\n", 1000, true},
		{"         1     100001      65535\n", 0, false},
		{"", 0, false},
	} {
		got, err := mapRoot([]byte(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("mapRoot(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSocketName(t *testing.T) {
	t.Parallel()
	a, b := socketName("k1"), socketName("k1")
	if a == b {
		t.Errorf("two socket names are both %s", a)
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{a, true},
		{"agent-k1.sock", false},
		{"agent-k2-" + strings.Repeat("A", 26) + ".sock", false},
		{"agent-k1-" + strings.Repeat("A", 25) + ".sock", false},
		{"agent-k1-" + strings.Repeat("a", 26) + ".sock", false},
		{"agent-k1-../../" + strings.Repeat("A", 20) + ".sock", false},
	} {
		if got := validSocketName(tt.name, "k1"); got != tt.ok {
			t.Errorf("validSocketName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// waitProcState waits until the process pid is in state (of its stat).
func waitProcState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d: %q, not in state %c", pid, stat, state)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHoldProcessUser: a user who may not look into a container's
// process (spirit not run as root) finds it unreachable, not gone, and
// so takes the agent exec instead.
func TestHoldProcessUser(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	res, err := dockertest.Client(t).ContainerInspect(testContext(t), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	st := res.Container.State
	cmd := exec.CommandContext(testContext(t), self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s %s", holdEnv, st.Pid, res.Container.ID, st.StartedAt))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "unreachable\n" {
		t.Errorf("holding the container's process as uid %d: %q, %v; want unreachable", fakeUID, out, err)
	}
	if got := mustRun(t, agentBackend(t, false).Target(name), "echo reached"); got != "reached\n" {
		t.Errorf("as root: %q", got)
	}
}
