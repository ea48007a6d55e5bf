// Package docker is spirit's Docker target: it runs segments in containers
// ("@docker:web ls"), reads and writes their files ("> @docker:web /tmp/x")
// and pauses or resumes them, all through the Docker Engine API with the moby
// Go client. It never runs the docker CLI, and it does not create, start or
// remove containers: that stays the job of the user's own Docker tooling.
//
// Each command is one Engine exec by default. For the containers that
// Options.Agent names, the package copies spirit's agent into the
// container and runs commands and file reads through it instead: started
// once and shared through a unix socket in the container that the host
// reaches under /proc/PID/root when it can, or one long-lived Engine exec
// per Backend otherwise, with the Engine's exec as the fallback (agent.go
// tells the whole story).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"spirit/target"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Options configures a Backend.
type Options struct {
	// DefaultContainer is the container that a bare "@docker" means. When
	// it is empty, "@docker" means the only running container.
	DefaultContainer string
	// Agent names the containers whose commands and files go through a
	// spirit-agent started in them (see agent.go) rather than an Engine
	// exec each; "*" means every container.
	Agent []string
	// AgentBinary is the spirit-agent (static, Linux, this machine's
	// architecture) copied into those containers. When it is missing,
	// the Engine's exec is used.
	AgentBinary string
	// Version is spirit's, told to the agents at the handshake.
	Version string
	// Log receives debug records; nil discards them.
	Log *slog.Logger
}

// Backend holds the (lazily created) Engine client shared by all the
// containers' targets.
type Backend struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	cli    *client.Client // guarded by mu; nil until first use
	closed bool           // guarded by mu
	// agents are the agent paths into containers, by container ID;
	// guarded by mu.
	agents map[string]*containerAgent

	// noSocket leaves out the shared socket agent, so that tests can
	// take the exec way into a container that could have it.
	noSocket bool
	// beforeConnect, set by tests, is called once the container's
	// process has been checked and before its agent's socket sock is
	// connected to: where a reused PID strikes.
	beforeConnect func(pid int, sock string)

	binOnce sync.Once
	bin     *agentBin // set by binOnce
	binErr  error     // set by binOnce
}

// listTimeout bounds the calls that only feed messages and completion, so a
// slow or unreachable engine never holds up the prompt.
const listTimeout = 2 * time.Second

// New returns a Backend. It does no I/O: the Engine client is made on first
// use, from DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY, with the API version negotiated with the engine.
func New(opts Options) *Backend {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{opts: opts, log: log}
}

// ErrClosed is returned by a Backend's calls after Close.
var ErrClosed = errors.New("docker backend is closed")

// client returns the Engine client, making it on first use.
func (b *Backend) client() (*client.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.cli == nil {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			// Only a malformed DOCKER_HOST or bad TLS files get here.
			return nil, fmt.Errorf("docker client (check DOCKER_HOST and DOCKER_CERT_PATH): %w", err)
		}
		b.cli = cli
	}
	return b.cli, nil
}

// Close ends the connections to the agents in containers (and so what
// they run for this Backend) and releases the Engine client's idle
// connections. Targets fail after it.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	agents := b.agents
	b.agents = nil
	b.mu.Unlock()
	var errs []error
	for _, a := range agents {
		errs = append(errs, a.close())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cli != nil {
		errs = append(errs, b.cli.Close())
		b.cli = nil
	}
	return errors.Join(errs...)
}

// Target is one container, or the default one, as a target.Target. It
// holds only a name: the container is looked up at each use, so it may come
// and go between uses.
type Target struct {
	b    *Backend
	name string
}

var (
	_ target.Target     = (*Target)(nil)
	_ target.Controller = (*Target)(nil)
)

// Target returns the target for the container with that name (or ID). The
// empty name means the default container, resolved at each use: the
// configured one, else the only running one.
func (b *Backend) Target(name string) *Target {
	return &Target{b: b, name: name}
}

// Containers lists the names of the running (and paused) containers, sorted,
// for completion. It gives up after a short time.
func (b *Backend) Containers(ctx context.Context) ([]string, error) {
	cli, err := b.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	names, err := b.running(ctx, cli)
	if err != nil {
		return nil, fmt.Errorf("docker list containers: %w", b.engineErr(cli, err))
	}
	return names, nil
}

// running lists the names of the containers that are up (running or paused).
func (b *Backend) running(ctx context.Context, cli *client.Client) ([]string, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		if n := containerName(c.Names); n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// containerName picks a container's own name from the list the engine gives,
// which also holds link aliases such as "/other/alias".
func containerName(names []string) string {
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		if n != "" && !strings.Contains(n, "/") {
			return n
		}
	}
	return ""
}

// engineErr turns a failure to connect into a message that says what to do.
func (b *Backend) engineErr(cli *client.Client, err error) error {
	if err == nil || !client.IsErrConnectionFailed(err) {
		return err
	}
	// The client's own text repeats the host and guesses at causes; the
	// dial error underneath, when it keeps one, says what happened.
	var cause error = errors.New("connection refused or timed out")
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		cause = opErr
	}
	return &unreachableError{host: cli.DaemonHost(), cause: cause, err: err}
}

// unreachableError reports an engine that could not be reached.
type unreachableError struct {
	host  string
	cause error // shown
	err   error // wrapped
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Docker Engine at %s: %v (is dockerd running? DOCKER_HOST selects another engine)", e.host, e.cause)
}

func (e *unreachableError) Unwrap() error { return e.err }

// notFoundError reports a container that does not exist; it wraps
// target.ErrNotFound so that the router gives status 127.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return target.ErrNotFound }

// need says what state a use of a container requires.
type need int

const (
	needExists  need = iota // files and control words
	needRunning             // exec: running and not paused
)

// resolved is a target resolved to one container: the client and what the
// engine says about the container.
type resolved struct {
	b       *Backend
	cli     *client.Client
	id      string
	name    string
	workDir string
	info    container.InspectResponse
}

// resolve finds the container t names and checks its state. what names
// the use, for errors: what("c1") is "exec in c1".
func (t *Target) resolve(ctx context.Context, n need, what func(name string) string) (*resolved, error) {
	cli, err := t.b.client()
	if err != nil {
		return nil, err
	}
	name := t.name
	if name == "" {
		name = t.b.opts.DefaultContainer
	}
	if name == "" {
		if name, err = t.only(ctx, cli); err != nil {
			return nil, err
		}
	}
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, t.notFound(ctx, cli, name)
		}
		return nil, fmt.Errorf("docker %s: %w", what(name), t.b.engineErr(cli, err))
	}
	info := res.Container
	c := &resolved{b: t.b, cli: cli, id: info.ID, name: strings.TrimPrefix(info.Name, "/"), info: info}
	if c.name == "" {
		c.name = name
	}
	if info.Config != nil {
		c.workDir = info.Config.WorkingDir
	}
	if n == needRunning {
		if err := runningErr(c.name, info.State); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// runningErr says why a container cannot run commands, or returns nil.
func runningErr(name string, st *container.State) error {
	switch {
	case st == nil:
		return fmt.Errorf("container %s: the engine reported no state", name)
	case st.Paused:
		return fmt.Errorf("container %s is paused (resume it with @docker:%s --resume)", name, name)
	case st.Restarting:
		return fmt.Errorf("container %s is restarting; try again in a moment", name)
	case !st.Running:
		return fmt.Errorf("container %s is not running (%s); start it with docker start %s", name, stateText(st), name)
	}
	return nil
}

// only resolves a bare "@docker" with no configured default.
func (t *Target) only(ctx context.Context, cli *client.Client) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	names, err := t.b.running(lctx, cli)
	if err != nil {
		return "", fmt.Errorf("@docker: %w", t.b.engineErr(cli, err))
	}
	switch len(names) {
	case 0:
		return "", errors.New("@docker: no container is running (start one, or name it: @docker:NAME)")
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("@docker: several containers are running (%s); use @docker:NAME, or set a default container in the config", strings.Join(names, ", "))
}

// notFound builds the message for a missing container, naming the running
// ones so that the user can pick.
func (t *Target) notFound(ctx context.Context, cli *client.Client, name string) error {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	names, err := t.b.running(lctx, cli)
	switch {
	case err != nil:
		return &notFoundError{msg: fmt.Sprintf("no such container %s", name)}
	case len(names) == 0:
		return &notFoundError{msg: fmt.Sprintf("no such container %s (no container is running)", name)}
	}
	return &notFoundError{msg: fmt.Sprintf("no such container %s (running: %s)", name, strings.Join(names, ", "))}
}

// closeQuietly closes c, for paths where an error is already being returned.
func closeQuietly(c io.Closer) { _ = c.Close() }
