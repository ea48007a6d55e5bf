package shell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"spirit/config"
	"strings"
	"sync"

	"spirit/agents/client"
	"spirit/agents/docker"
	"spirit/target"
	"spirit/vmctl"
)

// Targets is the target.Resolver the shell hands to the router: it knows
// the kinds of target there are and turns an @word into one.
type Targets struct {
	docker *docker.Backend
	agents map[string]*client.Client
	vms    *vmctl.Manager

	mu sync.Mutex
	// vmTargets keeps each VM's target once used, so that its
	// connection serves the lines that follow (guarded by mu).
	vmTargets map[string]*vmctl.Target
}

var _ target.Resolver = (*Targets)(nil)

// NewTargets returns the resolver over a Docker backend and the agents
// that the configuration names.
func NewTargets(d *docker.Backend, agents map[string]*client.Client, vms *vmctl.Manager) *Targets {
	return &Targets{docker: d, agents: agents, vms: vms, vmTargets: map[string]*vmctl.Target{}}
}

// AgentClients makes a client for each [agents.NAME] of the
// configuration; none connects before its first use.
func AgentClients(cfg map[string]config.Agent, version string, log *slog.Logger) map[string]*client.Client {
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
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range t.vmTargets {
		errs = append(errs, v.Close())
	}
	return errors.Join(errs...)
}

// Lookup turns "docker" or "docker:NAME" into a container target. It does
// no I/O: the backend finds the container when the target is used.
func (t *Targets) Lookup(name string) (target.Target, error) {
	if c, ok := t.agents[name]; ok {
		return c, nil
	}
	if v, ok := t.vm(name); ok {
		return v, nil
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
	return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
}

// Names lists the target words, for messages and completion.
func (t *Targets) Names() []string {
	names := []string{"@docker"}
	all := slices.Collect(maps.Keys(t.agents))
	if t.vms != nil {
		all = append(all, t.vms.Names()...)
	}
	slices.Sort(all)
	for _, n := range all {
		names = append(names, "@"+n)
	}
	return names
}

// vm returns the target of the VM name, made on first use.
func (t *Targets) vm(name string) (*vmctl.Target, bool) {
	if t.vms == nil {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.vmTargets[name]; ok {
		return v, true
	}
	v, err := t.vms.Target(name)
	if err != nil {
		return nil, false
	}
	t.vmTargets[name] = v
	return v, true
}

// VMs is the manager of the VMs, for the prompt and completion.
func (t *Targets) VMs() *vmctl.Manager { return t.vms }

// Containers lists the running containers' names, for completion.
func (t *Targets) Containers(ctx context.Context) ([]string, error) {
	return t.docker.Containers(ctx)
}
