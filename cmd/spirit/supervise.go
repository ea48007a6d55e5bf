package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"spirit/vmctl"
	"spirit/vmctl/supervisor"
)

// detachSupervisor starts `spirit vm supervise DIR` with the files it
// was given (the readiness pipe and the lock), and does not wait for it.
func detachSupervisor(dir string) error {
	// Whatever the starting shell left open without close-on-exec (its
	// terminal: go-prompt opens /dev/tty so) must not reach the
	// supervisor, which would hold the user's terminal for the VM's life.
	if err := unix.CloseRange(vmctl.LockFD+1, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark inherited files close-on-exec: %w", err)
	}
	ready, lock := vmctl.SupervisorFiles()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{os.Args[0], "vm", "supervise", dir},
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ExtraFiles:  []*os.File{ready, lock},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	return cmd.Start()
}

// runSupervisor is the supervisor process of the VM whose runtime
// directory is dir: what it runs is in the bootstrap file there, so it
// reads no configuration (a broken or changed spirit.toml cannot reach a
// running VM). Its stdout and stderr are the VM's supervisor.log.
func runSupervisor(dir, version string) error {
	ready, lock := vmctl.SupervisorFiles()
	// Neither may reach QEMU: the readiness pipe would stay open, and the
	// lock would outlive the supervisor.
	syscall.CloseOnExec(vmctl.ReadyFD)
	syscall.CloseOnExec(vmctl.LockFD)
	defer lock.Close()
	// What the supervisor and QEMU create (sockets, logs) is for this
	// user only, whatever the directory allows.
	syscall.Umask(0o077)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	return supervisor.Run(ctx, supervisor.Options{
		Dir:     dir,
		Version: version,
		Log:     log,
		Ready:   ready,
		Lock:    lock,
		OnExit:  exitHooks(vmctl.Env{Dir: dir}.Path(vmctl.BootstrapFile), log),
	})
}

// exitHooks run when the VM's QEMU has ended: a VM with a GPU gives it
// back to the host, whether it powered off or crashed.
func exitHooks(bootstrap string, log *slog.Logger) []func(context.Context) error {
	b, err := vmctl.ReadBootstrap(bootstrap)
	if err != nil || len(b.Def.GPU) == 0 {
		return nil // the supervisor reports an unreadable bootstrap itself
	}
	return []func(context.Context) error{func(ctx context.Context) error {
		log.Info("giving the GPU back to the host")
		return realHost().exitHandover(b.GPUDir, b.GPUDisplayUnits, os.Stderr).VMExited(ctx, b.Def.Name)
	}}
}

// logLevel is $SPIRIT_LOG's level, info by default: the supervisor's log
// is a file, read after the fact.
func logLevel() slog.Level {
	level := slog.LevelInfo
	if v := os.Getenv("SPIRIT_LOG"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return level
}
