// Package supervisor is the process that owns one running VM: it starts
// QEMU, is its only QMP client, holds the only connection to the guest's
// agent, serves any number of spirit shells on a unix socket in the VM's
// runtime directory (the protocol of spirit/vmctl/control), and cleans up
// when QEMU exits: each file it makes is removed at its end. It is started
// detached from the shell that asked for the VM (see vmctl.Manager.Start)
// and lives exactly as long as QEMU. It does not decide what QEMU runs:
// the starter checked the definition and wrote the command line down.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"spirit/agents/client"
	"spirit/agents/wire"
	"spirit/vmctl"
	"spirit/vmctl/control"
	"spirit/vmctl/qmp"
)

// Options configure a supervisor.
type Options struct {
	// Dir is the VM's runtime directory, where the starter left the
	// bootstrap (vm.json).
	Dir     string
	Version string
	Log     *slog.Logger
	// Ready gets "ok" once QEMU runs and the control socket listens, or
	// why the start failed; then it is closed.
	Ready io.WriteCloser
	// Lock is the VM's lock, held for the supervisor's life.
	Lock *os.File
	// OnExit runs after QEMU has exited, however it exited, before the
	// runtime directory is cleaned: the GPU passthrough gives the host's
	// GPU back from here.
	OnExit []func(context.Context) error
	// StopTimeout bounds the guest's power-off when the supervisor is
	// told to end (SIGTERM: the host shuts down); zero means 60 s.
	StopTimeout time.Duration
}

// sup is one supervisor.
type sup struct {
	o   Options
	b   vmctl.Bootstrap
	env vmctl.Env
	log *slog.Logger

	qemu    *exec.Cmd
	exited  chan struct{} // closed when QEMU has exited
	waitErr error         // QEMU's Wait, once exited
	started time.Time
	mon     *qmp.Monitor
	agent   *client.Client
	resumed bool
	pins    []control.VCPUPin
	// made are the files that last as long as the supervisor, each
	// added where it is made (or taken over): cleanup removes them.
	made []string
	// giveBack returns the devices handed to QEMU's user (VFIO groups)
	// to their owners, once QEMU has exited.
	giveBack func() error

	mu sync.Mutex
	// state is QEMU's, as QMP events tell it (guarded by mu).
	state string
	// busy names a long operation in progress, which others must not
	// overlap (guarded by mu).
	busy string
	// agentReady says the guest's agent answers; agentCh is closed and
	// replaced each time agentReady or state changes (guarded by mu).
	agentReady bool
	agentCh    chan struct{}
	// recheck makes watchAgent ping the agent at once (buffered, 1).
	recheck     chan struct{}
	hello       wire.Hello
	bootToAgent time.Duration
}

// Run supervises the VM whose runtime directory is o.Dir until QEMU
// exits. Cancelling ctx (the supervisor's SIGTERM) powers the guest off,
// and makes QEMU quit after o.StopTimeout.
func Run(ctx context.Context, o Options) (err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = control.DefaultStopTimeout
	}
	s := &sup{o: o, log: o.Log, exited: make(chan struct{}), agentCh: make(chan struct{}), recheck: make(chan struct{}, 1)}
	// The starter learns how the start went before the exit hooks run:
	// a GPU passthrough waiting for this start holds the lock that the
	// GPU's exit hook takes.
	ready := func(msg string) {
		if o.Ready != nil {
			fmt.Fprintln(o.Ready, msg)
			o.Ready.Close()
			o.Ready = nil
		}
	}
	defer func() {
		if err != nil {
			ready(err.Error())
		}
	}()
	b, err := vmctl.ReadBootstrap(vmctl.Env{Dir: o.Dir}.Path(vmctl.BootstrapFile))
	if err != nil {
		return fmt.Errorf("read what to run: %w", err)
	}
	s.b, s.env = b, b.Env
	s.log = s.log.With("vm", b.Def.Name)
	if err := os.WriteFile(s.env.Path(vmctl.SupervisorPID), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	// The starter's bootstrap is the supervisor's from here on.
	s.removeAtEnd(s.env.Path(vmctl.BootstrapFile), s.env.Path(vmctl.SupervisorPID))
	defer s.cleanup()
	ln, err := s.boot(ctx)
	if err != nil {
		ready(err.Error())
		return err
	}
	ready("ok")
	s.serve(ctx, ln)
	return nil
}

// boot starts QEMU and everything around it; on an error QEMU is gone.
func (s *sup) boot(ctx context.Context) (net.Listener, error) {
	giveBack, err := vmctl.HandOver(s.b.VFIO, s.b.User)
	if err != nil {
		return nil, err
	}
	s.giveBack = giveBack
	if err := s.startQEMU(); err != nil {
		return nil, err
	}
	fail := func(err error) (net.Listener, error) {
		s.kill()
		if s.mon != nil {
			s.mon.Close()
		}
		return nil, fmt.Errorf("%w%s", err, s.qemuLog())
	}
	if err := s.connectQMP(ctx); err != nil {
		return fail(err)
	}
	if s.b.Incoming != "" {
		if err := s.resume(ctx); err != nil {
			return fail(err)
		}
	}
	if err := s.readState(ctx); err != nil {
		return fail(err)
	}
	if err := s.pin(ctx); err != nil {
		return fail(err)
	}
	ln, err := listen(s.env.Path(vmctl.ControlSocket))
	if err != nil {
		return fail(fmt.Errorf("control socket: %w", err))
	}
	s.removeAtEnd(s.env.Path(vmctl.ControlSocket))
	return ln, nil
}

// listen makes a unix socket only its owner can use (the directory is
// 0700 too).
func listen(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// removeAtEnd has cleanup remove the files paths, which last as long as
// the supervisor (see vmctl.Env.Live). Call it where each is made.
func (s *sup) removeAtEnd(paths ...string) { s.made = append(s.made, paths...) }

// cleanup runs once QEMU is gone: the exit hooks, then the runtime
// directory loses every socket and pid file, newest first. The logs
// stay, for a post-mortem.
func (s *sup) cleanup() {
	if s.qemu != nil {
		<-s.exited
	}
	// Before the exit hooks: giving the GPU back to its host driver
	// removes its VFIO group's device.
	if s.giveBack != nil {
		if err := s.giveBack(); err != nil {
			s.log.Error("give the VFIO groups back to root", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := len(s.o.OnExit) - 1; i >= 0; i-- {
		if err := s.o.OnExit[i](ctx); err != nil {
			s.log.Error("exit hook", "err", err)
		}
	}
	for _, f := range slices.Backward(s.made) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("clean up", "err", err)
		}
	}
	s.log.Info("vm ended", "qemu", exitText(s.waitErr))
}

// exitText says how QEMU ended.
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}
