//go:build windows

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceName is the agent's name with the service manager and the
// event log.
const serviceName = "spirit-agent"

const serviceDescription = "spirit guest agent: runs commands and moves files for the spirit host shell over virtio-serial"

// stopWait bounds how long a stop waits for the agent to end its sessions;
// the service manager is told it may take that long.
const stopWait = 10 * time.Second

// runService runs the agent as a Windows service when the service manager
// started it, and says so; otherwise main goes on as a command.
func runService() (int, bool) {
	isService, err := svc.IsWindowsService()
	if err != nil {
		fmt.Fprintf(os.Stderr, "spirit-agent: cannot tell whether this is a service, running as a command: %v\n", err)
		return 0, false
	}
	if !isService {
		return 0, false
	}
	log, closeLog := serviceLogger()
	defer closeLog()
	if err := svc.Run(serviceName, &agentService{log: log}); err != nil {
		log.Error("service failed", "err", err)
		return 1, true
	}
	return 0, true
}

// agentService serves the virtio-serial port for the service manager.
type agentService struct {
	log *slog.Logger
}

func (s *agentService) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serveDefault(ctx, s.log) }()
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-done:
			// Ended on its own: a failure, so that the recovery
			// actions restart the service.
			s.log.Error("spirit-agent stopped", "err", err)
			return true, 1
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				cancel()
				return s.stopped(done, req, status)
			}
		}
	}
}

// stopped waits for the server to end after a stop, still answering the
// service manager meanwhile.
func (s *agentService) stopped(done <-chan error, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	pending := svc.Status{State: svc.StopPending, WaitHint: uint32(stopWait / time.Millisecond)}
	status <- pending
	timeout := time.NewTimer(stopWait)
	defer timeout.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("spirit-agent stopped", "err", err)
			} else {
				s.log.Info("spirit-agent stopped")
			}
			return false, 0
		case c := <-req:
			if c.Cmd == svc.Interrogate {
				status <- pending
			}
		case <-timeout.C:
			s.log.Warn("spirit-agent stopped before its sessions ended")
			return false, 0
		}
	}
}

// serviceLogger logs to the Windows event log, under the source that
// install-service registers; where it cannot, to a file in
// %ProgramData%\spirit, since a service has no stderr anyone reads.
func serviceLogger() (*slog.Logger, func()) {
	if el, err := eventlog.Open(serviceName); err == nil {
		return slog.New(newEventHandler(el)), func() { el.Close() }
	}
	f, err := openLogFile()
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }
}

func openLogFile() (*os.File, error) {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	dir := filepath.Join(base, "spirit")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	return os.OpenFile(filepath.Join(dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// Event IDs: the EventCreate message file that InstallAsEventCreate
// registers shows any ID from 1 to 1000 with the text as given.
const (
	eventInfo    = 1
	eventWarning = 2
	eventError   = 3
)

// eventHandler is a slog.Handler writing to the event log. It formats
// records as slog's text handler does, into a buffer shared with the
// handlers WithAttrs and WithGroup derive, and sends each as one event.
type eventHandler struct {
	el   *eventlog.Log
	mu   *sync.Mutex
	buf  *bytes.Buffer
	text slog.Handler
}

func newEventHandler(el *eventlog.Log) *eventHandler {
	buf := new(bytes.Buffer)
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			// The event log has its own time and level; the
			// message leads, unquoted, in Handle.
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &eventHandler{el: el, mu: new(sync.Mutex), buf: buf, text: text}
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.buf.Reset()
	err := h.text.Handle(ctx, r)
	msg := strings.TrimSpace(r.Message + " " + h.buf.String())
	h.mu.Unlock()
	if err != nil {
		return err
	}
	switch {
	case r.Level >= slog.LevelError:
		return h.el.Error(eventError, msg)
	case r.Level >= slog.LevelWarn:
		return h.el.Warning(eventWarning, msg)
	}
	return h.el.Info(eventInfo, msg)
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{el: h.el, mu: h.mu, buf: h.buf, text: h.text.WithAttrs(as)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{el: h.el, mu: h.mu, buf: h.buf, text: h.text.WithGroup(name)}
}

// installService registers the agent as a service that starts with
// Windows and is restarted when it fails, registers its event log source,
// and starts it.
func installService(exePath string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %s is already installed (remove-service first)", serviceName)
	}
	s, err := m.CreateService(serviceName, exePath, mgr.Config{
		DisplayName: "spirit guest agent",
		Description: serviceDescription,
		StartType:   mgr.StartAutomatic,
	}, serviceArgs()...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", serviceName, err)
	}
	defer s.Close()
	if err := setRecovery(s); err != nil {
		s.Delete()
		return err
	}
	if err := installEventSource(); err != nil {
		s.Delete()
		return err
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("start service %s: %w", serviceName, err)
	}
	return nil
}

// serviceArgs starts the service's commands in the profile of the user
// who installs it: the service's own (LocalSystem's) is in System32.
func serviceArgs() []string {
	if dir := defaultDir(); dir != "" {
		return []string{"--dir", dir}
	}
	return nil
}

// defaultDir is where commands start without --dir (profileDir).
func defaultDir() string {
	return profileDir(os.Getenv("USERPROFILE"), os.Getenv("SystemRoot"), os.Getenv("SystemDrive"))
}

// setRecovery restarts the service 5 s after it fails, also when it
// stops with an error rather than crashing.
func setRecovery(s *mgr.Service) error {
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: 5 * time.Second}
	const resetPeriod = 24 * 60 * 60 // seconds without failure before the count restarts
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{restart, restart, restart}, resetPeriod); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	return nil
}

// installEventSource registers the event log source; one left by an
// earlier install is replaced.
func installEventSource() error {
	const kinds = eventlog.Error | eventlog.Warning | eventlog.Info
	err := eventlog.InstallAsEventCreate(serviceName, kinds)
	if err != nil && strings.Contains(err.Error(), "already exists") {
		eventlog.Remove(serviceName)
		err = eventlog.InstallAsEventCreate(serviceName, kinds)
	}
	if err != nil {
		return fmt.Errorf("register event log source: %w", err)
	}
	return nil
}

// removeService stops the service if it runs, deletes it and its event
// log source.
func removeService() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s: %w", serviceName, err)
	}
	defer s.Close()
	if err := stopService(s); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", serviceName, err)
	}
	if err := eventlog.Remove(serviceName); err != nil {
		return fmt.Errorf("remove event log source: %w", err)
	}
	return nil
}

// stopService stops s and waits until it has stopped, so that its
// executable can be replaced right after.
func stopService(s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", serviceName, err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop service %s: %w", serviceName, err)
	}
	deadline := time.Now().Add(stopWait + 5*time.Second)
	for time.Now().Before(deadline) {
		if st, err := s.Query(); err != nil || st.State == svc.Stopped {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("service %s did not stop within %v", serviceName, stopWait+5*time.Second)
}
