package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"spirit/agents/client"
)

// The agent path. A container named in Options.Agent gets spirit's own
// agent: the binary is copied in once through the archive API (agentBin,
// install.go), and commands and file reads then go over one connection to
// it, multiplexed (agents/client), instead of three Engine calls each. Two
// ways lead to the agent, tried in this order each time a connection is
// made:
//
//   - socket: when the Engine is on this machine and the host can see the
//     container's file system through /proc/PID/root of its first process
//     (as root can), one agent per container start listens on a unix
//     socket inside the container, and every spirit process connects to
//     it directly: a later "spirit -c" makes no Engine exec at all. The
//     agent is started once, detached, by the first spirit that needs it,
//     and lives until the container stops. Its socket's name has a random
//     part, chosen by the host at each start and recorded in a file of
//     the container's root beside it (nameFile); the host reaches both
//     through the container's first process, held by its pidfd and /proc
//     directory from its check to the end of the dial (heldProc,
//     socket_linux.go), and takes only a listener that is the container's
//     root in the container.
//   - exec: otherwise, each Backend starts "spirit-agent --stdio" as one
//     long-lived Engine exec whose hijacked stdin and stdout are the
//     stream. It ends when the Backend closes the stream (or its process
//     dies): the agent sees its stdin end and exits.
//
// Either way, closing a connection kills what the agent runs for it. When
// neither can be made (no binary, another architecture, a read-only file
// system, a container that stops), the Engine's exec is used, and the
// agent is not tried again until the container restarts.

// containerAgent is the agent path into one container for one Backend.
type containerAgent struct {
	b  *Backend
	id string // the container's ID
	cl *client.Client

	mu     sync.Mutex
	cur    *resolved // guarded by mu: the container as last resolved, for dial
	boot   string    // guarded by mu: the container start cur belongs to
	failed string    // guarded by mu: a start for which no agent could be reached
}

// agentWanted says whether the configuration names the container.
func (b *Backend) agentWanted(r *resolved) bool {
	return slices.ContainsFunc(b.opts.Agent, func(n string) bool {
		return n == "*" || n == r.name || n == r.id
	})
}

// agentClient returns the client of the agent in r's container, connected,
// or nil when the Engine's exec is to be used. It fails only when the
// container's process went away while the host connected to the agent
// through it (ErrProcessGone): nothing is to be run then.
func (b *Backend) agentClient(ctx context.Context, r *resolved) (*client.Client, error) {
	if !b.agentWanted(r) || r.info.State == nil || !r.info.State.Running || r.info.State.Paused {
		return nil, nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil
	}
	a := b.agents[r.id]
	if a == nil {
		a = &containerAgent{b: b, id: r.id}
		a.cl = client.New(client.Options{
			Name:    "docker:" + r.name,
			Dial:    a.dial,
			Version: b.opts.Version,
			Log:     b.log,
		})
		if b.agents == nil {
			b.agents = map[string]*containerAgent{}
		}
		b.agents[r.id] = a
	}
	b.mu.Unlock()
	return a.ready(ctx, r)
}

// bootOf names one start of a container: a restart changes it.
func bootOf(r *resolved) string {
	return fmt.Sprintf("%s %d", r.info.State.StartedAt, r.info.State.Pid)
}

// ready connects to the agent if it is not connected, and returns the
// client, or nil when no agent can be reached in this start of the
// container.
func (a *containerAgent) ready(ctx context.Context, r *resolved) (*client.Client, error) {
	boot := bootOf(r)
	a.mu.Lock()
	if a.failed == boot {
		a.mu.Unlock()
		return nil, nil
	}
	restarted := a.boot != "" && a.boot != boot
	a.cur, a.boot = r, boot
	a.mu.Unlock()
	if restarted {
		// The old agent died with the container; do not wait for the
		// connection's end to be noticed.
		a.cl.Reset()
	}
	if _, err := a.cl.Hello(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, nil // the Engine's path sees the cancellation too
		}
		if errors.Is(err, ErrProcessGone) {
			return nil, err
		}
		a.mu.Lock()
		if a.boot == boot {
			a.failed = boot
		}
		a.mu.Unlock()
		a.b.log.Debug("docker agent unavailable; using the Engine's exec", "container", r.name, "err", err)
		return nil, nil
	}
	return a.cl, nil
}

// dial makes a stream to the agent, starting one if needed; the client
// calls it on first use and after a connection is lost.
func (a *containerAgent) dial(ctx context.Context) (net.Conn, error) {
	a.mu.Lock()
	r := a.cur
	a.mu.Unlock()
	bin, err := a.b.agentBinary()
	if err != nil {
		return nil, err
	}
	if !a.b.noSocket {
		conn, err := r.dialSocket(ctx, bin)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrProcessGone) {
			return nil, err
		}
		a.b.log.Debug("docker agent socket unusable; starting an agent exec", "container", r.name, "err", err)
	}
	conn, err := r.dialExec(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("agent in container %s: %w", r.name, err)
	}
	return conn, nil
}

// close ends the connection to the agent.
func (a *containerAgent) close() error { return a.cl.Close() }

// rootUser says whether a container's default user is root, whom the
// shared socket agent runs as.
func rootUser(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "" || name == "0" || name == "root"
}
