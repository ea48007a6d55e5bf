package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"spirit/errcode"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// qmpTimeout bounds a QMP command that QEMU answers at once.
const qmpTimeout = 10 * time.Second

func (s *sup) name() string { return s.b.Def.Name }

func (s *sup) pause(ctx context.Context) (string, error) {
	return s.toggle(ctx, "pause", control.StateRunning, control.StatePaused, s.mon.Stop,
		fmt.Sprintf("vm %s paused; resume it with @%s --resume", s.name(), s.name()))
}

func (s *sup) cont(ctx context.Context) (string, error) {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != control.StatePaused {
		return "", errcode.New(errcode.State, "vm %s is not paused: it is %s", s.name(), state)
	}
	return s.toggle(ctx, "resume", control.StatePaused, control.StateRunning, s.mon.Cont,
		fmt.Sprintf("vm %s running", s.name()))
}

// toggle takes the VM from one state to the other with a QMP command.
func (s *sup) toggle(ctx context.Context, op, from, to string, f func(context.Context) error, msg string) (string, error) {
	end, err := s.begin(op, "", from)
	if err != nil {
		return "", err
	}
	defer end()
	if err := s.run(ctx, f); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, s.name(), err)
	}
	s.setState(to)
	return msg, nil
}

// stop asks the guest to power off, then makes QEMU quit after timeout.
// A paused guest cannot act on the request, so QEMU quits at once.
func (s *sup) stop(ctx context.Context, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = control.DefaultStopTimeout
	}
	s.mu.Lock()
	paused := s.state == control.StatePaused
	s.mu.Unlock()
	end, err := s.begin("stop", control.StateStopping, control.StateRunning, control.StatePaused)
	if err != nil {
		return "", err
	}
	defer end()
	start := time.Now()
	if !paused {
		if err := s.run(ctx, s.mon.Powerdown); err != nil {
			return "", fmt.Errorf("stop %s: %w", s.name(), err)
		}
		select {
		case <-s.exited:
			return fmt.Sprintf("vm %s powered off after %.1f s", s.name(), time.Since(start).Seconds()), nil
		case <-time.After(timeout):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if err := s.quit(ctx); err != nil {
		return "", err
	}
	if paused {
		return fmt.Sprintf("vm %s was paused: quit without a power-off", s.name()), nil
	}
	return fmt.Sprintf("vm %s did not power off within %v: quit", s.name(), timeout), nil
}

// quit makes QEMU exit, and kills it when it does not.
func (s *sup) quit(ctx context.Context) error {
	if err := s.run(ctx, s.mon.Quit); err != nil {
		s.log.Warn("quit", "err", err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
	return nil
}

// run calls a QMP command that answers at once.
func (s *sup) run(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	return f(ctx)
}

func (s *sup) killOp() (string, error) {
	s.kill()
	return fmt.Sprintf("vm %s killed", s.name()), nil
}

// suspend saves the guest's RAM and devices to the state file and ends
// QEMU: the next start resumes from the file. The file is written aside
// and renamed, so a failed save leaves no half state to resume from.
func (s *sup) suspend(ctx context.Context) (string, error) {
	if len(s.b.Def.GPU) > 0 {
		return "", errcode.New(errcode.Refused, "cannot suspend vm %s: a GPU is passed through to it (VFIO devices cannot be saved)", s.name())
	}
	s.mu.Lock()
	was := s.state
	s.mu.Unlock()
	end, err := s.begin("suspend", control.StateSuspending, control.StateRunning, control.StatePaused)
	if err != nil {
		return "", err
	}
	defer end()
	undo := func(err error) (string, error) {
		os.Remove(s.env.Path(vmctl.SuspendTmpFile))
		if was == control.StateRunning {
			if cerr := s.run(ctx, s.mon.Cont); cerr != nil {
				s.log.Error("run again after a failed suspend", "err", cerr)
			}
		}
		s.setState(was)
		return "", fmt.Errorf("suspend %s: %w", s.name(), err)
	}
	start := time.Now()
	if err := s.run(ctx, s.mon.Stop); err != nil {
		return undo(err)
	}
	if err := s.mon.MigrateToFile(ctx, s.env.Path(vmctl.SuspendTmpFile)); err != nil {
		return undo(err)
	}
	if err := commit(s.env.Path(vmctl.SuspendTmpFile), s.env.Path(vmctl.SuspendFile)); err != nil {
		return undo(err)
	}
	fi, _ := os.Stat(s.env.Path(vmctl.SuspendFile))
	s.quit(ctx)
	size := int64(0)
	if fi != nil {
		size = fi.Size()
	}
	return fmt.Sprintf("vm %s suspended in %.1f s to %s (%d MiB); spirit vm start %s resumes it",
		s.name(), time.Since(start).Seconds(), s.env.Path(vmctl.SuspendFile), size>>20, s.name()), nil
}

// commit renames tmp to path and makes the rename durable.
func commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// balloon sets the guest's memory and waits a little for the guest's
// driver to give the memory back (or take it), to say where it got.
func (s *sup) balloon(ctx context.Context, bytes int64) (string, error) {
	d := s.b.Def
	if !d.Balloon {
		return "", errcode.New(errcode.Refused, "vm %s has no balloon device: set balloon = true in its definition", s.name())
	}
	max, _ := vmctl.ParseSize(d.Memory)
	if bytes > max || bytes < 64<<20 {
		return "", errcode.New(errcode.Refused, "balloon %s: %d MiB is outside 64 MiB..%s (the VM's memory)", s.name(), bytes>>20, d.Memory)
	}
	end, err := s.begin("balloon", "", control.StateRunning)
	if err != nil {
		return "", err
	}
	defer end()
	before, _ := s.balloonNow(ctx)
	if err := s.run(ctx, func(ctx context.Context) error { return s.mon.SetBalloon(ctx, bytes) }); err != nil {
		return "", fmt.Errorf("balloon %s: %w", s.name(), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, err := s.balloonNow(ctx)
		if err != nil {
			return "", fmt.Errorf("balloon %s: %w", s.name(), err)
		}
		if now == bytes {
			return fmt.Sprintf("vm %s: balloon %d MiB (was %d MiB)", s.name(), now>>20, before>>20), nil
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("vm %s: balloon set to %d MiB; the guest is at %d MiB so far (was %d MiB): its virtio_balloon driver moves it",
				s.name(), bytes>>20, now>>20, before>>20), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *sup) balloonNow(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	return s.mon.Balloon(ctx)
}
