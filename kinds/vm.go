package kinds

import (
	"errors"
	"fmt"
	"sync"

	"spirit/target"
	"spirit/vmctl"
)

// vmKind is @NAME for each VM defined. A VM's target is made on its first
// use and kept, so that its connection serves the lines that follow.
func vmKind(d Deps) target.Kind {
	k := &vms{m: d.VMs, made: map[string]*vmctl.Target{}}
	return target.Kind{Name: "vm", Lookup: k.lookup, Names: k.names, Close: k.close}
}

type vms struct {
	m    *vmctl.Manager // nil: no VMs
	mu   sync.Mutex
	made map[string]*vmctl.Target // guarded by mu
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
	t, err := k.m.Target(name)
	if err != nil {
		return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
	}
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
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}
