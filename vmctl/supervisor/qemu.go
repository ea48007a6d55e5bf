package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"spirit/vmctl"
	"spirit/vmctl/control"
	"spirit/vmctl/qmp"
)

// startQEMU starts QEMU as a child of this process, not tied to any
// request's context: QEMU lives until it is told to end. It runs as the
// bootstrap's user, with the files it needs passed open.
func (s *sup) startQEMU() error {
	logf, err := os.OpenFile(s.env.Path(vmctl.QEMULog), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.removeAtEnd(listened(s.b.Files)...)
	files, err := vmctl.OpenPassed(s.b.Files, s.b.User != nil)
	if err != nil {
		return err
	}
	// QEMU has its own copies once started.
	defer vmctl.ClosePassed(files)
	cmd := exec.Command(s.b.QEMU, s.b.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = files
	// QEMU flushes its disk caches and exits on SIGTERM: what it gets
	// when its supervisor dies, so that no VM is left without one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Credential: s.b.User.Credential()}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s%s: %w", s.b.QEMU, asUser(s.b.User), err)
	}
	s.qemu, s.started = cmd, time.Now()
	s.log.Info("qemu started", "pid", cmd.Process.Pid, "user", cmp.Or(userName(s.b.User), "spirit's own"))
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	pid := s.env.Path(vmctl.PIDFile)
	s.removeAtEnd(pid)
	if err := os.WriteFile(pid, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		s.kill()
		return fmt.Errorf("qemu's pid file: %w", err)
	}
	return nil
}

// listened are the sockets among files: the supervisor makes them, so
// it removes them.
func listened(files []vmctl.PassedFile) []string {
	var out []string
	for _, f := range files {
		if f.How == vmctl.PassListen {
			out = append(out, f.Path)
		}
	}
	return out
}

// userName is who QEMU runs as; empty for spirit's own user.
func userName(r *vmctl.RunAs) string {
	if r == nil {
		return ""
	}
	return r.Name
}

// asUser says who QEMU runs as, for an error.
func asUser(r *vmctl.RunAs) string {
	if n := userName(r); n != "" {
		return " as " + n
	}
	return ""
}

// qemuLog is the end of QEMU's own messages, for an error.
func (s *sup) qemuLog() string {
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
	}
	data, _ := os.ReadFile(s.env.Path(vmctl.QEMULog))
	text := strings.TrimSpace(string(data))
	if len(text) > 2000 {
		text = "..." + text[len(text)-2000:]
	}
	if text == "" {
		return ""
	}
	return "\nqemu said: " + text
}

// connectQMP connects to QEMU's QMP socket as soon as QEMU listens.
func (s *sup) connectQMP(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		mon, err := qmp.Dial(ctx, s.env.Path(vmctl.QMPSocket), s.log)
		if err == nil {
			s.mon = mon
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("qemu exited (%s)", exitText(s.waitErr))
		case <-ctx.Done():
			return fmt.Errorf("connect to QMP: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resume loads a suspended VM's state into the QEMU started with
// -incoming defer, and drops the file once the guest runs from it.
func (s *sup) resume(ctx context.Context) error {
	file := s.b.Incoming
	if err := s.mon.MigrateFromFile(ctx, file); err != nil {
		return fmt.Errorf("resume from %s: %w (the saved state is kept; spirit vm start --fresh %s boots anew and drops it)",
			file, err, s.b.Def.Name)
	}
	s.resumed = true
	if err := os.Remove(file); err != nil {
		s.log.Warn("drop the suspended state", "err", err)
	}
	return nil
}

// readState takes QEMU's run state, and follows it from then on.
func (s *sup) readState(ctx context.Context) error {
	events, stop := s.mon.Subscribe()
	st, err := s.mon.Status(ctx)
	if err != nil {
		stop()
		return err
	}
	if s.resumed && !st.Running {
		// The guest was paused for its suspension, and QEMU keeps the
		// saved run state: run it again, as it was before.
		if err := s.mon.Cont(ctx); err != nil {
			stop()
			return fmt.Errorf("run the resumed guest: %w", err)
		}
		if st, err = s.mon.Status(ctx); err != nil {
			stop()
			return err
		}
	}
	s.setState(qemuState(st))
	go s.follow(events, stop)
	return nil
}

// qemuState maps QMP's run states onto spirit's.
func qemuState(st qmp.Status) string {
	switch {
	case st.Running:
		return control.StateRunning
	case st.Status == "shutdown":
		return control.StateStopping
	}
	return control.StatePaused
}

// follow keeps the state as QMP events tell it, until QEMU is gone.
func (s *sup) follow(events <-chan qmp.Event, stop func()) {
	defer stop()
	for {
		select {
		case ev := <-events:
			switch ev.Name {
			case "STOP":
				s.setStateUnlessBusy(control.StatePaused)
			case "RESUME":
				s.setStateUnlessBusy(control.StateRunning)
			case "SHUTDOWN", "POWERDOWN":
				s.log.Info("guest " + strings.ToLower(ev.Name))
			}
		case <-s.mon.Done():
			return
		}
	}
}

// pin puts each vCPU thread on its host core, as the definition says.
func (s *sup) pin(ctx context.Context) error {
	cpus, err := s.mon.VCPUs(ctx)
	if err != nil {
		return err
	}
	tids := make([]int, len(cpus))
	for _, c := range cpus {
		if c.Index < len(tids) {
			tids[c.Index] = c.ThreadID
		}
	}
	pid := s.qemu.Process.Pid
	if cores := s.b.Def.CPUPinning; len(cores) > 0 {
		if err := vmctl.PinVCPUs(pid, tids, cores); err != nil {
			return fmt.Errorf("cpu pinning: %w", err)
		}
	}
	for i, tid := range tids {
		cores, err := vmctl.Affinity(pid, tid)
		if err != nil {
			return err
		}
		s.pins = append(s.pins, control.VCPUPin{VCPU: i, Thread: tid, Cores: cores})
	}
	return nil
}

// kill ends QEMU at once and waits for it.
func (s *sup) kill() {
	if s.qemu == nil {
		return
	}
	if err := s.qemu.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("kill qemu", "err", err)
	}
	<-s.exited
}
