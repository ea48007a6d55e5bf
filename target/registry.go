package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind is one kind of target (the host, the VMs, the containers, the
// agents at an address), registered once in a Registry. Everything the
// shell knows of a kind's @words comes from here: how a name is looked
// up, which names exist (for completion, the prompt and the "unknown
// target" message) and how its connections end.
type Kind struct {
	// Name says what the kind is ("vm", "container"), for messages.
	Name string
	// Prefix is the word the kind owns whole, with any NAME after a
	// colon: "docker" owns @docker and @docker:web. Empty for a kind
	// whose every name is configured (a VM, an agent).
	Prefix string
	// Local marks the host: its segments run in the shell itself, so
	// Lookup is never asked for a Target of it. Its one word is Prefix.
	Local bool
	// Lookup turns a name without its @ into a target; it must not
	// block on the network (a target connects on first use). An error
	// wrapping ErrUnknownTarget means the name is not the kind's.
	Lookup func(name string) (Target, error)
	// Names lists the kind's words with their @, in a stable order.
	Names func() []string
	// Members lists what may follow "@Prefix:" (running containers),
	// for completion; nil when nothing may.
	Members func(ctx context.Context) ([]string, error)
	// Close ends what the kind holds; nil when it holds nothing.
	Close func() error
}

// Registry is every kind of target of one shell. Kinds with a prefix own
// their words; the others are asked in the order they were registered.
// Names cannot be claimed twice: CheckName keeps configured names off
// the prefixes, and the configuration refuses a name given to two kinds.
type Registry struct {
	kinds []Kind
}

// Register adds a kind. It is meant for start-up, before any lookup.
func (r *Registry) Register(k Kind) {
	r.kinds = append(r.kinds, k)
}

// Lookup turns the @word name (without its @) of a target other than
// the host into its target.
func (r *Registry) Lookup(name string) (Target, error) {
	if k := r.owner(name); k != nil {
		return r.lookup(k, name)
	}
	for i := range r.kinds {
		k := &r.kinds[i]
		if k.Prefix != "" {
			continue
		}
		t, err := k.Lookup(name)
		if !errors.Is(err, ErrUnknownTarget) {
			return t, err
		}
	}
	return nil, fmt.Errorf("@%s: %w", name, ErrUnknownTarget)
}

func (r *Registry) lookup(k *Kind, name string) (Target, error) {
	if k.Local {
		return nil, fmt.Errorf("@%s is the host, not a target of its own: %w", name, ErrUnknownTarget)
	}
	return k.Lookup(name)
}

// owner is the kind whose prefix name carries, or nil.
func (r *Registry) owner(name string) *Kind {
	prefix, _, _ := strings.Cut(name, ":")
	for i := range r.kinds {
		if k := &r.kinds[i]; k.Prefix != "" && k.Prefix == prefix {
			return k
		}
	}
	return nil
}

// IsLocal reports whether the @word name (without its @) is the host.
func (r *Registry) IsLocal(name string) bool {
	k := r.owner(name)
	return k != nil && k.Local && name == k.Prefix
}

// Names lists every kind's words: the fixed words of the kinds with a
// prefix in the order they were registered, then every configured name
// in alphabetical order, whatever its kind.
func (r *Registry) Names() []string {
	var fixed, named []string
	for _, k := range r.kinds {
		switch {
		case k.Names == nil:
		case k.Prefix != "":
			fixed = append(fixed, k.Names()...)
		default:
			named = append(named, k.Names()...)
		}
	}
	slices.Sort(named)
	return append(fixed, named...)
}

// Owner is the kind that owns the words "@prefix" and "@prefix:NAME".
func (r *Registry) Owner(prefix string) (Kind, bool) {
	if k := r.owner(prefix); k != nil && !strings.Contains(prefix, ":") {
		return *k, true
	}
	return Kind{}, false
}

// Close closes every kind, and reports every failure.
func (r *Registry) Close() error {
	var errs []error
	for _, k := range r.kinds {
		if k.Close == nil {
			continue
		}
		if err := k.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the %s targets: %w", k.Name, err))
		}
	}
	return errors.Join(errs...)
}
