package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"spirit/internal/agenttest"
	"spirit/internal/proctest"
)

// These tests run the real spirit against the real spirit-agent, each a
// process of its own, the agent listening on a unix socket that spirit.toml
// names @a.

// sockDir gives a script $SOCKDIR, a short directory for a unix socket:
// a socket's path must be under 108 bytes, and $WORK is under $TMPDIR,
// which may be long.
func sockDir(e *testscript.Env) error {
	dir, err := os.MkdirTemp("", "sa")
	if err != nil {
		return err
	}
	e.Defer(func() { os.RemoveAll(dir) })
	e.Setenv("SOCKDIR", dir)
	return nil
}

// cmdWaitSock is the script command "waitsock PATH": it waits until
// something accepts connections on the unix socket PATH, as an agent
// started in the background does a moment later.
func cmdWaitSock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitsock PATH")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agentEnv is baseEnv with a spirit.toml that makes the agent @a.
func agentEnv(t *testing.T, a *agenttest.Agent) []string {
	return append(baseEnv(t), agenttest.Config(t, t.TempDir(), "a", a.Sock))
}

// TestAgentBigStreams moves 256 MiB each way through @a and checks the
// data (sha256) and the memory of both sides: neither may buffer a stream.
func TestAgentBigStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	const size = 256 << 20
	a := agenttest.Start(t, agentBin)
	env := agentEnv(t, a)
	file := filepath.Join(t.TempDir(), "big")
	sum := writeRandom(t, file, size)

	for _, c := range []struct{ name, line string }{
		{"from the agent", fmt.Sprintf("@a cat '%s' | @spirit sha256sum", file)},
		{"to the agent", fmt.Sprintf("cat '%s' | @a sha256sum", file)},
	} {
		start := time.Now()
		r, peak := runPeak(t, env, c.line)
		took := time.Since(start).Seconds()
		if f := strings.Fields(r.stdout); r.status != 0 || len(f) == 0 || f[0] != sum {
			t.Fatalf("%s: status %d stdout %q stderr %q, want sha256 %s", c.name, r.status, r.stdout, r.stderr, sum)
		}
		t.Logf("256 MiB %s: %.2f s (%.0f MiB/s), spirit's peak RSS %.1f MiB",
			c.name, took, 256/took, float64(peak)/(1<<20))
		if peak == 0 || peak >= 64<<20 {
			t.Errorf("%s: spirit's peak RSS %.1f MiB, want under 64 MiB", c.name, float64(peak)/(1<<20))
		}
	}
	hwm, ok := readHWM(a.Pid())
	if !ok {
		t.Fatalf("no VmHWM in /proc/%d/status", a.Pid())
	}
	t.Logf("the agent's peak RSS (VmHWM) over both: %.1f MiB", float64(hwm)/(1<<20))
	if hwm >= 64<<20 {
		t.Errorf("the agent's peak RSS %.1f MiB, want under 64 MiB", float64(hwm)/(1<<20))
	}
}

// runPeak runs spirit -c line as runIn does, and also returns spirit's own
// peak RSS: its VmHWM, read from /proc until it exits. wait4's rusage
// cannot tell spirit's: Linux records in its maxrss the peak of
// the memory the child had before its exec, which os/exec's vfork shares
// with this test process, and under -race this process alone soon passes
// 64 MiB.
func runPeak(t *testing.T, env []string, line string) (result, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, spiritBin, "-c", line)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var peak int64
	for {
		// VmHWM only grows; the last reading before the exit is the
		// peak, give or take the last 5 ms.
		if hwm, ok := readHWM(cmd.Process.Pid); ok {
			peak = max(peak, hwm)
		}
		select {
		case err := <-done:
			r := result{stdout: out.String(), stderr: errb.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.status = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("spirit -c %q: %v", line, err)
			}
			return r, peak
		case <-tick.C:
		}
	}
}

// writeRandom writes size random bytes to path and returns their sha256.
func writeRandom(t *testing.T, path string, size int) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		rng.Read(buf)
		h.Write(buf)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readHWM is a live process's peak resident set size (VmHWM), in bytes.
func readHWM(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	m := hwmLine.FindSubmatch(data)
	if m == nil {
		return 0, false // a zombie has no memory
	}
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, err == nil
}

var hwmLine = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB$`)

// TestAgentConcurrentClients runs 5 spirits at once against one agent,
// each with 10 commands in the background on one line: 50 execs at once.
func TestAgentConcurrentClients(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	env := agentEnv(t, a)
	// $i is the host's, passed as I; $$ is the guest shell's own pid.
	const line = `for i in 0 1 2 3 4 5 6 7 8 9; do I=$i @a sh -c 'sleep 0.2; echo P-$I-$$' & done; wait`
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	type out struct {
		stdout, stderr string
		err            error
	}
	const clients = 5
	results := make(chan out, clients)
	start := time.Now()
	for range clients {
		go func() {
			cmd := exec.CommandContext(ctx, spiritBin, "-c", line)
			cmd.Env = env
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			results <- out{o.String(), e.String(), err}
		}()
	}
	lineRE := regexp.MustCompile(`^P-(\d)-(\d+)$`)
	pids := map[string]bool{}
	for c := range clients {
		r := <-results
		if r.err != nil || r.stderr != "" {
			t.Errorf("spirit %d: %v, stderr %q, stdout %q", c, r.err, r.stderr, r.stdout)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		seen := map[string]bool{}
		for _, l := range lines {
			m := lineRE.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("spirit %d: unexpected line %q", c, l)
				continue
			}
			seen[m[1]] = true
			if pids[m[2]] {
				t.Errorf("spirit %d: pid %s twice", c, m[2])
			}
			pids[m[2]] = true
		}
		if len(lines) != 10 || len(seen) != 10 {
			t.Errorf("spirit %d printed %d lines for %d values of $i, want 10 distinct:\n%s", c, len(lines), len(seen), r.stdout)
		}
	}
	t.Logf("%d spirits × 10 execs: %.2f s", clients, time.Since(start).Seconds())
}

// TestAgentKilledMidCommand kills the agent with SIGKILL while spirit waits
// for a command: spirit reports the lost connection and exits at once, and
// a restarted agent serves again.
func TestAgentKilledMidCommand(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	env := agentEnv(t, a)
	sleep := proctest.UniqueSleep(30)
	sp := startSpirit(t, env, "@a "+sleep)
	pids := proctest.Wait(t, sleep, a.Pid(), 1)
	// A SIGKILLed agent cannot kill what it started: the sleep is
	// orphaned and runs on (only a subreaper could end it).
	t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })

	a.Kill()
	killed := time.Now()
	select {
	case <-sp.done:
		took := time.Since(killed)
		t.Logf("spirit exited %.2f s after the agent's death: %v; stderr %q", took.Seconds(), sp.err, sp.stderr.String())
		if sp.err == nil {
			t.Errorf("spirit exited 0 after the agent's death; stdout %q", sp.stdout.String())
		}
		if !strings.Contains(sp.stderr.String(), "spirit: @a: connection to the agent lost") {
			t.Errorf("stderr %q does not name the lost connection", sp.stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("spirit still runs 5 s after the agent's death")
	}
	for _, pid := range pids {
		if proctest.Alive(pid) {
			t.Logf("as expected, the orphaned %q (pid %d) still runs after the agent's SIGKILL; the test kills it", sleep, pid)
		}
	}

	a.Restart()
	r := runIn(t, t.TempDir(), env, "", spiritBin, "-c", "@a echo back")
	if r.stdout != "back\n" || r.status != 0 {
		t.Fatalf("after a restart: status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
}

// TestAgentSIGTERM stops the agent as a service manager does while it runs
// a command: it exits 0 and kills the command first.
func TestAgentSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			a := agenttest.Start(t, agentBin)
			env := agentEnv(t, a)
			sleep := proctest.UniqueSleep(30)
			sp := startSpirit(t, env, "@a "+sleep)
			pids := proctest.Wait(t, sleep, a.Pid(), 1)
			t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })

			// Stop sends SIGINT and waits; for SIGTERM, send it first
			// and let Stop collect the exit once the agent is a zombie
			// (a SIGINT before its exit would race with its shutdown).
			if sig == syscall.SIGTERM {
				pid := a.Pid()
				if err := syscall.Kill(pid, sig); err != nil {
					t.Fatal(err)
				}
				proctest.WaitGone(t, []int{pid}, 5*time.Second, "the agent after SIGTERM")
			}
			stopped := time.Now()
			if err := a.Stop(); err != nil {
				t.Fatalf("agent stopped with %v, want exit status 0; log:\n%s", err, a.Log())
			}
			proctest.WaitGone(t, pids, 2*time.Second, "the command after the agent's stop")
			t.Logf("agent and command gone %.2f s after %v", time.Since(stopped).Seconds(), sig)
			select {
			case <-sp.done:
				if sp.err == nil {
					t.Errorf("spirit exited 0 although the agent stopped mid-command")
				}
				if !strings.Contains(sp.stderr.String(), "connection to the agent lost") {
					t.Errorf("spirit's stderr %q does not name the lost connection", sp.stderr.String())
				}
			case <-time.After(5 * time.Second):
				t.Errorf("spirit still runs 5 s after the agent stopped")
			}
		})
	}
}

// bgSpirit is a spirit -c started in the background.
type bgSpirit struct {
	stdout, stderr bytes.Buffer  // to read once done is closed
	done           chan struct{} // closed when it has exited
	err            error         // how it exited, once done is closed
}

// startSpirit starts spirit -c line; it is killed when the test ends.
func startSpirit(t *testing.T, env []string, line string) *bgSpirit {
	t.Helper()
	sp := &bgSpirit{done: make(chan struct{})}
	cmd := exec.Command(spiritBin, "-c", line)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &sp.stdout, &sp.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sp.err = cmd.Wait()
		close(sp.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-sp.done
	})
	return sp
}
