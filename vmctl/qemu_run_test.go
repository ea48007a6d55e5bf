package vmctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/internal/guesttest"
)

// TestArgsQEMUAccepts starts the real QEMU (under TCG, stopped before the
// guest's first instruction) with an argv from Args, and talks to it over
// its QMP socket: QEMU, not a golden file, is the judge of whether the
// flags fit together.
func TestArgsQEMUAccepts(t *testing.T) {
	qemu := guesttest.Program(t, "qemu-system-x86_64")
	qemuImg := guesttest.Program(t, "qemu-img")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	for _, img := range []string{"a.qcow2", "b.qcow2", "c.qcow2"} {
		if out, err := exec.CommandContext(ctx, qemuImg, "create", "-f", "qcow2", filepath.Join(dir, img), "16M").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, out)
		}
	}
	d := Definition{
		Name: "t", OS: "windows", Firmware: "bios", Memory: "128M", Cores: 2, Threads: 2,
		Disks:   []Disk{{Path: "a.qcow2"}, {Path: "b.qcow2", Interface: "scsi"}, {Path: "c.qcow2", Interface: "sata"}},
		Balloon: true, ExtraArgs: []string{"-S"},
	}
	env := Env{Dir: dir, Base: dir}
	l, err := Build(d, env)
	if err != nil {
		t.Fatal(err)
	}
	args := l.Args
	files, err := OpenPassed(l.Files, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ClosePassed(files)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.ExtraFiles = files
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cancel()
		<-exited
	}()
	conn, err := dialQMP(ctx, env.Path(QMPSocket), exited)
	if err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%w (%v)", err, waitErr)
		}
		t.Fatalf("%v\nqemu %s\n%s", err, strings.Join(args, " "), stderr.String())
	}
	defer conn.Close()
	status := qmp(t, conn, `{"execute":"query-status"}`)
	if !strings.Contains(status, `"status": "prelaunch"`) && !strings.Contains(status, `"status":"prelaunch"`) {
		t.Errorf("query-status: %s", status)
	}
	for _, sock := range []string{env.Path(AgentSocket), env.Path(ConsoleSocket)} {
		if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("%s: %v, want a socket QEMU listens on", sock, err)
		}
	}
	qmp(t, conn, `{"execute":"quit"}`)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("QEMU: %v\n%s", waitErr, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("QEMU did not quit")
	}
}

// dialQMP waits for QEMU's QMP socket and leaves it in command mode.
func dialQMP(ctx context.Context, path string, exited <-chan struct{}) (*qmpConn, error) {
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			q := &qmpConn{Conn: c, r: bufio.NewReader(c)}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := q.r.ReadString('\n'); err != nil { // the greeting
				c.Close()
				return nil, err
			}
			_, err := q.call(`{"execute":"qmp_capabilities"}`)
			return q, err
		}
		select {
		case <-exited:
			return nil, errExited
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var errExited = errors.New("QEMU exited before its QMP socket was up")

type qmpConn struct {
	net.Conn
	r *bufio.Reader
}

// call sends one command and returns its reply, skipping events.
func (q *qmpConn) call(cmd string) (string, error) {
	if _, err := q.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	for {
		line, err := q.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		var msg map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			return "", err
		}
		if _, ok := msg["event"]; !ok {
			if e, ok := msg["error"]; ok {
				return "", errors.New(string(e))
			}
			return line, nil
		}
	}
}

func qmp(t *testing.T, q *qmpConn, cmd string) string {
	t.Helper()
	reply, err := q.call(cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return reply
}
