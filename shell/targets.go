package shell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"

	"spirit/agents/client"
	"spirit/agents/docker"
	"spirit/router"
)

// Targets is the router.Resolver the shell hands to the router: it knows
// the kinds of target there are and turns an @word into one.
//
// Virtual machines are the next kind: vmctl will supply a lookup of VM
// names, consulted in Lookup before the unknown-target error, and its
// names joined to Names.
type Targets struct {
	docker *docker.Backend
	agents map[string]*client.Client
}

var _ router.Resolver = (*Targets)(nil)

// NewTargets returns the resolver over a Docker backend and the agents
// that the configuration names.
func NewTargets(d *docker.Backend, agents map[string]*client.Client) *Targets {
	return &Targets{docker: d, agents: agents}
}

// AgentClients makes a client for each [agents.NAME] of the
// configuration; none connects before its first use.
func AgentClients(cfg map[string]AgentConfig, version string, log *slog.Logger) map[string]*client.Client {
	clients := map[string]*client.Client{}
	for name, a := range cfg {
		path := strings.TrimPrefix(a.Address, "unix:")
		clients[name] = client.New(client.Options{
			Name:    name,
			Version: version,
			Log:     log,
			Dial: func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		})
	}
	return clients
}

// Close drops the agents' connections.
func (t *Targets) Close() error {
	var errs []error
	for _, c := range t.agents {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Lookup turns "docker" or "docker:NAME" into a container target. It does
// no I/O: the backend finds the container when the target is used.
func (t *Targets) Lookup(name string) (router.Target, error) {
	if c, ok := t.agents[name]; ok {
		return c, nil
	}
	kind, arg, hasArg := strings.Cut(name, ":")
	switch kind {
	case "docker":
		if !hasArg {
			return t.docker.Target(""), nil
		}
		if arg == "" {
			return nil, fmt.Errorf("@docker: needs a container name, e.g. @docker:web")
		}
		return t.docker.Target(arg), nil
	}
	return nil, fmt.Errorf("@%s: %w", name, router.ErrUnknownTarget)
}

// Names lists the target words, for messages and completion.
func (t *Targets) Names() []string {
	names := []string{"@docker"}
	for _, n := range slices.Sorted(maps.Keys(t.agents)) {
		names = append(names, "@"+n)
	}
	return names
}

// Containers lists the running containers' names, for completion.
func (t *Targets) Containers(ctx context.Context) ([]string, error) {
	return t.docker.Containers(ctx)
}
