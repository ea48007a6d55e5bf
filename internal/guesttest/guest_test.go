//go:build linux

package guesttest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/agents/client"
	"spirit/internal/agenttest"
	"spirit/internal/guesttest"
	"spirit/internal/spiritbin"
	"spirit/target"
)

// The agent and spirit of this tree, built once: the guest runs this
// agent rather than the one build/guest was made with.
var spiritBin, agentBin string

func TestMain(m *testing.M) {
	spiritbin.MainBins(m, spiritbin.Bins{Spirit: &spiritBin, Agent: &agentBin})
}

// waitSleep waits until a sleep process runs in the guest.
func waitSleep(t *testing.T, c *client.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := agenttest.Run(t.Context(), c, "pidof sleep", nil)
		if r.Err == nil && r.Status == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sleep runs in the guest after 10 s: pidof: status %d %v", r.Status, r.Err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNoSleep waits until no sleep process is left in the guest.
func waitNoSleep(t *testing.T, c *client.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := agenttest.Run(t.Context(), c, "pidof sleep", nil)
		if r.Err == nil && r.Status == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep still runs in the guest after %v: pidof: status %d %q %v", within, r.Status, r.Stdout, r.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDemoGuestAgent boots the demo guest and drives its agent over a real
// virtio-serial port: commands, files, stdin, statuses, a cancel, host
// disconnects with garbage left in the port, and spirit itself.
func TestDemoGuestAgent(t *testing.T) {
	vm := guesttest.Boot(t, guesttest.Options{Agent: agentBin, Debug: true})
	t.Logf("boot to agent ready (%s): %.2f s", guesttest.Accel(), vm.Ready.Seconds())
	c := vm.Client(t, "linux")

	t.Run("commands", func(t *testing.T) {
		agenttest.MustRun(t, c, "uname -s", "Linux\n")
		agenttest.MustRun(t, c, "hostname", "spirit-demo\n")
		r := agenttest.Run(t.Context(), c, "cat /proc/cmdline", nil)
		if r.Status != 0 || !strings.Contains(r.Stdout, "console=ttyS0") {
			t.Errorf("cat /proc/cmdline: status %d %q %v", r.Status, r.Stdout, r.Err)
		}
		agenttest.MustRun(t, c, "grep -c ' /data ext[234] ' /proc/mounts", "1\n")
	})

	t.Run("files", func(t *testing.T) {
		data := make([]byte, 1<<20)
		rand.Read(data)
		const path = "/data/roundtrip.bin"
		f, err := c.Open(t.Context(), path, target.Write)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close after write: %v", err)
		}
		agenttest.MustRun(t, c, "wc -c < "+path, fmt.Sprintf("%d\n", len(data)))
		f, err = c.Open(t.Context(), path, target.Read)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
		}
	})

	t.Run("stdin", func(t *testing.T) {
		// Through a pipe, as the shell gives a segment its input.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		go func() {
			defer w.Close()
			for i := 1; i <= 100000; i++ {
				if _, err := fmt.Fprintln(w, i); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		res := agenttest.Run(ctx, c, "wc -l", r)
		if res.Err != nil || res.Status != 0 || strings.TrimSpace(res.Stdout) != "100000" {
			t.Fatalf("seq 1 100000 | @linux wc -l: status %d err %v stdout %q", res.Status, res.Err, res.Stdout)
		}
	})

	t.Run("status", func(t *testing.T) {
		r := agenttest.Run(t.Context(), c, "exit 7", nil)
		if r.Err != nil || r.Status != 7 {
			t.Fatalf("exit 7: status %d err %v", r.Status, r.Err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan agenttest.Result, 1)
		go func() { done <- agenttest.Run(ctx, c, "sleep 100", nil) }()
		waitSleep(t, c)
		cancel()
		start := time.Now()
		select {
		case r := <-done:
			t.Logf("a cancelled sleep 100 returned in %v", time.Since(start).Round(time.Millisecond))
			if r.Status != 130 || r.Err != nil {
				t.Errorf("cancelled exec: status %d err %v, want 130", r.Status, r.Err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("a cancelled sleep 100 has not returned after 3 s")
		}
		waitNoSleep(t, c, 2*time.Second)
	})

	// The host goes away with a command running: the guest sees it hang
	// up (POLLHUP, a read of 0) and kills what the session started. Then
	// a host leaves garbage in the port, and the next one still gets a
	// clean handshake.
	t.Run("reconnect", func(t *testing.T) {
		// The port takes one host at a time: QEMU accepts the next
		// connection only when the last one has ended.
		c.Close()
		c1 := vm.Client(t, "linux")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan agenttest.Result, 1)
		go func() { done <- agenttest.Run(ctx, c1, "sleep 100", nil) }()
		waitSleep(t, c1)
		const ended = "msg=\"host connection ended\""
		before := strings.Count(vm.Console(), ended)
		c1.Close()
		<-done
		// The agent logs (--debug) each host's end; a host that hung
		// up ends with no error.
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(vm.Console(), ended) == before {
			if time.Now().After(deadline) {
				t.Fatalf("the agent has not seen its host leave 5 s after the host closed the port's socket")
			}
			time.Sleep(20 * time.Millisecond)
		}
		var ends []string
		for _, l := range strings.Split(vm.Console(), "\n") {
			if strings.Contains(l, ended) {
				ends = append(ends, l)
			}
		}
		if l := ends[before]; !strings.Contains(l, "err=<nil>") {
			t.Errorf("the agent saw its host leave with an error, want a clean hang-up: %s", l)
		}

		raw, err := vm.Dial(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Write(agenttest.Garbage()); err != nil {
			t.Fatal(err)
		}
		raw.Close()

		c2 := vm.Client(t, "linux")
		start := time.Now()
		agenttest.MustRun(t, c2, "echo clean", "clean\n")
		t.Logf("handshake and exec after garbage: %v", time.Since(start).Round(time.Millisecond))
		waitNoSleep(t, c2, 3*time.Second)

		// Garbage at the start of the host's own connection.
		c2.Close()
		dirty := client.New(client.Options{Name: "linux", Dial: agenttest.WithGarbage(vm.Dial)})
		defer dirty.Close()
		agenttest.MustRun(t, dirty, "echo after garbage", "after garbage\n")
		dirty.Close()
	})

	// Hosts one after the other with no pause, as after a client's
	// Reset. The agent may not see a host leave before the next one
	// comes (both happen between two of its reads): its old session then
	// reads the new host's first sync, and must give it to the next
	// handshake. Each host here sends one sync only, so an agent that
	// dropped it would never answer: 20 s only bounds the wait (a TCG
	// guest on a loaded 2-core machine took over 5 s in CI).
	t.Run("hosts in turn", func(t *testing.T) {
		var took []string
		for i := range 5 {
			start := time.Now()
			ci := client.New(client.Options{Name: "linux", HandshakeTimeout: 20 * time.Second,
				Dial: func(ctx context.Context) (net.Conn, error) {
					conn, err := vm.Dial(ctx)
					if err != nil {
						return nil, err
					}
					return &oneSync{Conn: conn}, nil
				}})
			agenttest.MustRun(t, ci, fmt.Sprintf("echo %d", i), fmt.Sprintf("%d\n", i))
			ci.Close()
			took = append(took, time.Since(start).Round(time.Millisecond).String())
		}
		t.Logf("5 hosts in turn, each a handshake and an exec: %s", strings.Join(took, " "))
	})

	t.Run("spirit", func(t *testing.T) {
		home := t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, spiritBin, "-c", "@linux uname -s | @spirit tr a-z A-Z")
		cmd.Env = []string{
			"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
			"HOME=" + home,
			"LC_ALL=C",
			"XDG_STATE_HOME=" + t.TempDir(),
			agenttest.Config(t, t.TempDir(), "linux", vm.Sock),
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || stdout.String() != "LINUX\n" {
			t.Fatalf("spirit -c '@linux uname -s | @spirit tr a-z A-Z': %v stdout %q stderr %q, want LINUX", err, stdout.String(), stderr.String())
		}
	})
}

// TestDemoGuestPowerdown presses the guest's ACPI power button (QMP
// system_powerdown, as a stop of the VM does) while a command keeps /data
// busy: the guest ends its processes, unmounts /data and powers off, and
// QEMU exits by itself, with what was written on the disk.
func TestDemoGuestPowerdown(t *testing.T) {
	vm := guesttest.Boot(t, guesttest.Options{Agent: agentBin, QMP: true})
	c := vm.Client(t, "linux")
	mark := make([]byte, 16)
	rand.Read(mark)
	marker := fmt.Sprintf("powerdown-%x", mark)
	agenttest.MustRun(t, c, "echo "+marker+" > /data/marker", "")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan agenttest.Result, 1)
	go func() { done <- agenttest.Run(ctx, c, "cd /data && sleep 1000", nil) }()
	waitSleep(t, c)

	start := time.Now()
	if _, err := vm.Execute(ctx, `{"execute":"system_powerdown"}`); err != nil {
		t.Fatal(err)
	}
	wait, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if err := vm.Wait(wait); err != nil {
		t.Fatalf("QEMU has not exited cleanly within 30 s of system_powerdown: %v", err)
	}
	t.Logf("system_powerdown to QEMU's exit: %.2f s", time.Since(start).Seconds())
	select {
	case r := <-done:
		if r.Err == nil && r.Status == 0 {
			t.Errorf("sleep 1000 in a guest that powered off: status 0, no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a command of a guest that powered off has not returned 10 s after QEMU's exit")
	}
	console := vm.Console()
	if !strings.Contains(console, "power button: powering off") || !strings.Contains(console, "reboot: Power down") {
		t.Errorf("no power-off on the console")
	}
	if strings.Contains(console, "/data is busy") {
		t.Errorf("/data was not unmounted, only made read-only")
	}

	// The disk: the file written, and an ext2 superblock marked clean
	// (s_state, at byte 58 of the superblock at 1024, is 1 once
	// unmounted or read-only; mounted read-write, it is 0).
	raw := filepath.Join(t.TempDir(), "scratch.raw")
	if out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", vm.Disk, raw).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, out)
	}
	img, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(img, []byte(marker+"\n")) {
		t.Errorf("/data/marker is not on the disk after the power-off")
	}
	if state := binary.LittleEndian.Uint16(img[1082:]); state != 1 {
		t.Errorf("/data's superblock has state %d after the power-off, want 1 (clean)", state)
	}
}

// oneSync passes on a host's first handshake sync and drops the ones the
// host sends again when no ack comes.
type oneSync struct {
	net.Conn
	sent bool
}

func (c *oneSync) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("\x00\xffSPIRITS")) {
		if c.sent {
			return len(b), nil
		}
		c.sent = true
	}
	return c.Conn.Write(b)
}
