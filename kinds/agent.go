package kinds

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"spirit/agents/client"
	"spirit/target"
)

// agentKind is the targets of [agents.NAME]: a spirit-agent listening at a
// fixed address. None connects before its first use.
func agentKind(d Deps) target.Kind {
	clients := map[string]*client.Client{}
	for name, a := range d.Config.Agents {
		path := strings.TrimPrefix(a.Address, "unix:")
		clients[name] = client.New(client.Options{
			Name:    name,
			Version: d.Version,
			Log:     d.Log,
			Dial: func(ctx context.Context) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, "unix", path)
			},
		})
	}
	return target.Kind{
		Name: "agent",
		Lookup: func(name string) (target.Target, error) {
			if c, ok := clients[name]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
		},
		Names: func() []string { return words(slices.Sorted(maps.Keys(clients))) },
		Close: func() error {
			var errs []error
			for _, c := range clients {
				errs = append(errs, c.Close())
			}
			return errors.Join(errs...)
		},
	}
}

// words puts an @ before each name.
func words(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "@" + n
	}
	return out
}
