// Command spirit-agent is spirit's guest agent. It runs in a VM (or a
// container) and serves the host's spirit over the virtio-serial port
// spirit.0: commands with streamed input and output, signals, terminals,
// and files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"spirit/agents/guest"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	if code, ok := runService(); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

// listenEnv, when no port is named on the command line, is a listen
// address (unix:PATH): spirit's host starts a container's shared agent so,
// keeping the socket's name out of the command line that every local
// user can read.
const listenEnv = "SPIRIT_AGENT_LISTEN"

// options are the command line's.
type options struct {
	stdio  bool
	listen string
	port   string
	dir    string
	debug  bool
}

// flags returns the command line's flag set, which fills o.
func flags(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("spirit-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.stdio, "stdio", false, "serve one host over stdin and stdout (tests, ssh)")
	fs.StringVar(&o.listen, "listen", "", "serve hosts on `unix:PATH` (tests, a supervisor on the same machine)")
	fs.StringVar(&o.port, "port", guest.PortName, "the virtio-serial port's `name`")
	fs.StringVar(&o.dir, "dir", "", "the `directory` commands start in (Windows: default the profile of the user who installed the service, else the agent's user's)")
	fs.BoolVar(&o.debug, "debug", false, "log every request")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: spirit-agent [--port NAME | --listen unix:PATH | --stdio] [--dir DIR] [--debug]\n"+
			"       spirit-agent version | install-service | remove-service\n\n")
		fs.PrintDefaults()
	}
	return fs
}

func run(args []string, stderr io.Writer) int {
	var o options
	fs := flags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return subcommand(fs.Args(), stderr)
	}
	if v, ok := os.LookupEnv(listenEnv); ok {
		// The commands the agent runs are not to see it.
		os.Unsetenv(listenEnv)
		if o.listen == "" && !o.stdio {
			o.listen = v
		}
	}
	if o.stdio && o.listen != "" {
		fmt.Fprintln(stderr, "spirit-agent: --stdio and --listen exclude each other")
		return 2
	}
	log := newLogger(stderr, o.debug)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, log); err != nil {
		log.Error("spirit-agent stopped", "err", err)
		return 1
	}
	log.Info("spirit-agent stopped")
	return 0
}

func subcommand(args []string, stderr io.Writer) int {
	var err error
	switch args[0] {
	case "version":
		fmt.Fprintf(os.Stdout, "spirit-agent %s (%s %s/%s)\n", agentVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "install-service":
		var exe string
		if exe, err = os.Executable(); err == nil {
			err = installService(exe)
		}
	case "remove-service":
		err = removeService()
	case guest.CtrlCArg: // the agent re-run by itself, on Windows
		return guest.CtrlCHelper(args[1:])
	default:
		fmt.Fprintf(stderr, "spirit-agent: unknown command %q (version, install-service, remove-service)\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "spirit-agent: %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// serve opens the port the options name and serves it until ctx ends.
func serve(ctx context.Context, o options, log *slog.Logger) error {
	var port guest.Port
	var err error
	switch {
	case o.stdio:
		port, err = guest.Stdio()
	case o.listen != "":
		port, err = guest.Listen(o.listen)
	default:
		port, err = guest.OpenVirtioPort(o.port, log)
	}
	if err != nil {
		return err
	}
	defer port.Close()
	enterDir(o.dir, log)
	log.Info("spirit-agent serving", "version", agentVersion(), "port", portName(o))
	err = guest.NewServer(log, agentVersion()).Serve(ctx, port)
	if errors.Is(err, io.EOF) && o.stdio {
		return nil // the host closed our stdin: done
	}
	return err
}

// serveDefault serves the virtio-serial port: what the agent does as a
// service, with the options the service was installed with.
func serveDefault(ctx context.Context, log *slog.Logger) error {
	o := options{port: guest.PortName}
	if err := flags(&o, io.Discard).Parse(os.Args[1:]); err != nil {
		log.Warn("the service's arguments", "err", err)
	}
	return serve(ctx, o, log)
}

// enterDir makes dir, or the OS's default (defaultDir), the directory
// commands start in and relative file paths are taken from: a Windows
// service starts in System32, where `echo x > x` must not write. A dir
// that is gone (a deleted profile) falls back to the default with a
// warning: a service that exits for it would be restarted for ever.
func enterDir(dir string, log *slog.Logger) {
	if dir != "" {
		err := os.Chdir(dir)
		if err == nil {
			log.Debug("commands start in", "dir", dir)
			return
		}
		log.Warn("the directory for commands (--dir) is not usable: using the default", "err", err)
	}
	if dir = defaultDir(); dir == "" {
		return
	}
	if err := os.Chdir(dir); err != nil {
		log.Warn("the default directory for commands is not usable", "err", err)
		return
	}
	log.Debug("commands start in", "dir", dir)
}

func portName(o options) string {
	switch {
	case o.stdio:
		return "stdio"
	case o.listen != "":
		return o.listen
	}
	return o.port
}

func agentVersion() string {
	if version == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return version
}
