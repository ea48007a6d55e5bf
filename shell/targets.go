package shell

import (
	"context"
	"fmt"
	"strings"

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
}

var _ router.Resolver = (*Targets)(nil)

// NewTargets returns the resolver over a Docker backend.
func NewTargets(d *docker.Backend) *Targets {
	return &Targets{docker: d}
}

// Lookup turns "docker" or "docker:NAME" into a container target. It does
// no I/O: the backend finds the container when the target is used.
func (t *Targets) Lookup(name string) (router.Target, error) {
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
	return []string{"@docker"}
}

// Containers lists the running containers' names, for completion.
func (t *Targets) Containers(ctx context.Context) ([]string, error) {
	return t.docker.Containers(ctx)
}
