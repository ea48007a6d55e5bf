package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"spirit/internal/printable"
	"spirit/target"
)

// killScript stops every process of the container whose environment holds
// the tag ($2): it sends them the signal $1, gives them up to $3 tenths of a
// second to go, then kills those left, until none is left. Finding them by
// their environment catches children and background jobs too, which a kill
// of the exec's PID would miss. It needs only a POSIX sh with grep, kill and
// sleep (busybox has them all); it scans /proc with one grep -z where grep
// has it, else with tr and grep for each process. Its own processes do not
// carry the tag: it is an argument here, not in their environment. The
// whole sequence runs in one exec so that a cancel stays quick on a loaded
// engine.
const killScript = `sig=$1 tag=$2 grace=$3
if printf 'x\000' | grep -qzxF x 2>/dev/null; then
	tagged() {
		for f in $(grep -lzxF "$tag" /proc/[0-9]*/environ 2>/dev/null); do
			f=${f#/proc/}
			echo "${f%/environ}"
		done
	}
else
	tagged() {
		for d in /proc/[0-9]*; do
			{ tr '\000' '\n' <"$d/environ" | grep -qxF "$tag"; } 2>/dev/null && echo "${d#/proc/}"
		done
	}
fi
pids=$(tagged)
[ -n "$pids" ] || exit 0
kill -s "$sig" $pids 2>/dev/null
i=0
while [ "$i" -lt "$grace" ]; do
	sleep 0.1
	pids=$(tagged)
	[ -n "$pids" ] || exit 0
	i=$((i + 1))
done
i=0
while [ "$i" -lt 20 ]; do
	kill -s KILL $pids 2>/dev/null
	sleep 0.05
	pids=$(tagged)
	[ -n "$pids" ] || exit 0
	i=$((i + 1))
done
echo "still running: $pids"
exit 1`

const (
	// killGrace is how long processes have to stop after the first
	// signal before the rest are killed, in tenths of a second.
	killGrace = "10"
	// killTimeout bounds the whole stop sequence, should the engine hang.
	killTimeout = 10 * time.Second
)

// signalScript sends the signal $1 to every process of the container
// whose environment holds the tag $2 (found as killScript finds them), and
// nothing more: job control's STOP and CONT.
const signalScript = `sig=$1 tag=$2
for d in /proc/[0-9]*; do
	{ tr '\000' '\n' <"$d/environ" | grep -qxF "$tag"; } 2>/dev/null && kill -s "$sig" "${d#/proc/}" 2>/dev/null
done
exit 0`

// Signal stops or continues the exec's processes (job control).
func (e *execRun) Signal(ctx context.Context, sig target.Signal) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	cmd := []string{"/bin/sh", "-c", signalScript, "spirit-signal", string(sig), e.tag}
	out, code, err := runQuiet(ctx, e.r.cli, e.r.id, "0", cmd)
	if err != nil {
		return fmt.Errorf("SIG%s to the command: %w", sig, err)
	}
	if code != 0 {
		return fmt.Errorf("SIG%s to the command: signal script exited %d: %s", sig, code, strings.TrimSpace(out))
	}
	return nil
}

// Stop signals the exec's processes with sig, kills those still there
// after a grace period, and waits for the engine to report the exec ended.
func (e *execRun) Stop(ctx context.Context, sig string) error {
	// ctx is usually cancelled already; the stopping must still happen.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	e.b.log.Debug("docker exec stop", "exec", e.id, "signal", sig)
	// As root: the exec may run as another user than the container's
	// default one.
	cmd := []string{"/bin/sh", "-c", killScript, "spirit-kill", sig, e.tag, killGrace}
	out, code, err := runQuiet(ctx, e.r.cli, e.r.id, "0", cmd)
	e.b.log.Debug("docker exec kill script", "exec", e.id, "status", code, "output", out, "err", err)
	if err != nil {
		return fmt.Errorf("stopping the command with SIG%s: %w", sig, err)
	}
	if code != 0 {
		// The container's sh wrote it.
		return fmt.Errorf("stopping the command with SIG%s: kill script exited %d: %s", sig, code, printable.String(strings.TrimSpace(out)))
	}
	if err := e.waitEnded(ctx, killTimeout); err != nil {
		return fmt.Errorf("stopping the command: %w", err)
	}
	return nil
}

// waitEnded waits until the exec is reported ended; it fails if that
// takes longer than d.
func (e *execRun) waitEnded(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := exitCode(ctx, e.r.cli, e.id)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the engine still reports exec %s running after %v", e.id, d)
	}
	return err
}

// exitCode polls until the engine reports exec id ended, and returns its
// exit code.
func exitCode(ctx context.Context, cli *client.Client, id string) (int, error) {
	delay := 5 * time.Millisecond
	for {
		ins, err := cli.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err != nil {
			return 0, err
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// maxQuietOutput bounds what runQuiet keeps of a helper's output.
const maxQuietOutput = 4 << 10

// runQuiet runs a short helper command in the container and returns the
// start of its output and its exit code.
func runQuiet(ctx context.Context, cli *client.Client, id, user string, cmd []string) (string, int, error) {
	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User:         user,
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return "", 0, err
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", 0, err
	}
	defer att.Close()
	// Closing the connection when ctx ends unblocks the read below.
	stopClose := context.AfterFunc(ctx, att.Close)
	defer stopClose()
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		if ctx.Err() != nil {
			return out.String(), 0, ctx.Err()
		}
		return out.String(), 0, err
	}
	code, err := exitCode(ctx, cli, ex.ID)
	return out.String(), code, err
}

// limitedBuffer keeps the first maxQuietOutput bytes written to it and
// drops the rest, without failing the writer.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxQuietOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
