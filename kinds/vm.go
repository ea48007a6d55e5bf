package kinds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"

	"spirit/agents/client"
	"spirit/target"
	"spirit/vmctl"
)

// vmKind is @NAME for each VM defined. A VM's target is made on its first
// use and kept, so that its connection serves the lines that follow.
func vmKind(d Deps) target.Kind {
	k := &vms{m: d.VMs, version: d.Version, log: d.Log, made: map[string]*vmTarget{}}
	return target.Kind{Name: "vm", Lookup: k.lookup, Names: k.names, Close: k.close}
}

type vms struct {
	m       *vmctl.Manager // nil: no VMs
	version string
	log     *slog.Logger
	mu      sync.Mutex
	made    map[string]*vmTarget // guarded by mu
}

func (k *vms) lookup(name string) (target.Target, error) {
	if k.m == nil {
		return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if t, ok := k.made[name]; ok {
		return t, nil
	}
	def, err := k.m.Definition(name)
	if err != nil {
		return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
	}
	t := &vmTarget{m: k.m, name: name}
	t.c = client.New(client.Options{
		Name:             name,
		Version:          k.version,
		Log:              k.log,
		Desktop:          def.Windows.Desktop,
		Dial:             func(ctx context.Context) (net.Conn, error) { return k.m.DialAgent(ctx, name) },
		HandshakeTimeout: k.m.HandshakeTimeout(),
	})
	k.made[name] = t
	return t, nil
}

func (k *vms) names() []string {
	if k.m == nil {
		return nil
	}
	return words(k.m.Names())
}

func (k *vms) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, t := range k.made {
		errs = append(errs, t.c.Close())
	}
	return errors.Join(errs...)
}

// vmTarget is @NAME for a VM: commands and files go to the guest's agent
// through the VM's supervisor (which vmctl starts when the definition
// says autostart), control words to the VM's manager, or to the agent for
// the agent's own (--cd).
type vmTarget struct {
	m    *vmctl.Manager
	name string
	c    *client.Client
}

var (
	_ target.Target     = (*vmTarget)(nil)
	_ target.Controller = (*vmTarget)(nil)
	_ target.Systemer   = (*vmTarget)(nil)
)

func (t *vmTarget) Exec(ctx context.Context, c *target.Command) (int, error) {
	return t.c.Exec(ctx, c)
}

// System is what the guest's agent says of its OS.
func (t *vmTarget) System(ctx context.Context) (string, error) { return t.c.System(ctx) }

func (t *vmTarget) Open(ctx context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	return t.c.Open(ctx, path, mode)
}

// ControlWords lists the VM's operations, then its agent's words.
func (t *vmTarget) ControlWords() []string {
	words := vmctl.ControlWords()
	for _, w := range t.c.ControlWords() {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

func (t *vmTarget) Control(ctx context.Context, word string, args []string, stdout io.Writer) error {
	if !slices.Contains(vmctl.ControlWords(), word) {
		return t.c.Control(ctx, word, args, stdout)
	}
	return t.m.Control(ctx, t.name, word, args, stdout, t.c.Reset)
}
