package kinds

import (
	"errors"
	"strings"

	"spirit/agents/docker"
	"spirit/target"
)

// dockerKind is @docker (the default container) and @docker:NAME. A
// lookup does no I/O: the backend finds the container when the target is
// used.
func dockerKind(d Deps) target.Kind {
	b := docker.New(docker.Options{
		DefaultContainer: d.Config.Docker.Default,
		Agent:            d.Config.Docker.Agent,
		AgentBinary:      d.AgentBinary,
		Version:          d.Version,
		Log:              d.Log,
	})
	return target.Kind{
		Name:   "container",
		Prefix: "docker",
		Lookup: func(name string) (target.Target, error) {
			_, arg, named := strings.Cut(name, ":")
			if !named {
				return b.Target(""), nil
			}
			if arg == "" {
				return nil, errors.New("@docker: needs a container name, e.g. @docker:web")
			}
			return b.Target(arg), nil
		},
		Names:   func() []string { return []string{"@docker"} },
		Members: b.Containers,
		Close:   b.Close,
	}
}
