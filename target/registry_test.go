package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

type nopTarget struct{ name string }

func (nopTarget) Exec(context.Context, *Command) (int, error) { return 0, nil }
func (nopTarget) Open(context.Context, string, OpenMode) (io.ReadWriteCloser, error) {
	return nil, errors.New("nop")
}

// named is a kind whose names are configured.
func named(kind string, names ...string) Kind {
	return Kind{Name: kind,
		Lookup: func(name string) (Target, error) {
			for _, n := range names {
				if n == name {
					return nopTarget{kind + ":" + name}, nil
				}
			}
			return nil, fmt.Errorf("@%s: %w", name, ErrUnknownTarget)
		},
		Names: func() []string {
			var out []string
			for _, n := range names {
				out = append(out, "@"+n)
			}
			return out
		},
	}
}

func testRegistry(closeErr error) *Registry {
	r := &Registry{}
	r.Register(Kind{Name: "host", Prefix: Host, Local: true, Names: func() []string { return []string{"@spirit"} }})
	r.Register(named("agent", "zed", "box"))
	r.Register(Kind{Name: "container", Prefix: "docker",
		Lookup: func(name string) (Target, error) { return nopTarget{name}, nil },
		Names:  func() []string { return []string{"@docker"} },
		Close:  func() error { return closeErr },
	})
	r.Register(named("vm", "linux", "alpha"))
	return r
}

func TestRegistryLookup(t *testing.T) {
	r := testRegistry(nil)
	for _, tc := range []struct {
		name string
		want Target
		err  error
	}{
		{"linux", nopTarget{"vm:linux"}, nil},
		{"box", nopTarget{"agent:box"}, nil},
		{"docker", nopTarget{"docker"}, nil},
		{"docker:web", nopTarget{"docker:web"}, nil},
		{"spirit", nil, ErrUnknownTarget}, // the host is no target of its own
		{"spirit:x", nil, ErrUnknownTarget},
		{"nope", nil, ErrUnknownTarget},
		{"linux:x", nil, ErrUnknownTarget},
	} {
		got, err := r.Lookup(tc.name)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	for name, want := range map[string]bool{"spirit": true, "spirit:x": false, "docker": false, "linux": false, "": false} {
		if got := r.IsLocal(name); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRegistryNames(t *testing.T) {
	got := testRegistry(nil).Names()
	want := []string{"@spirit", "@docker", "@alpha", "@box", "@linux", "@zed"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestRegistryOwnerAndClose(t *testing.T) {
	boom := errors.New("boom")
	r := testRegistry(boom)
	if k, ok := r.Owner("docker"); !ok || k.Name != "container" {
		t.Errorf("Owner(docker) = %v, %v", k.Name, ok)
	}
	if _, ok := r.Owner("linux"); ok {
		t.Error("Owner(linux): a configured name has no owner by prefix")
	}
	if err := r.Close(); !errors.Is(err, boom) {
		t.Errorf("Close() = %v, want it to wrap %v", err, boom)
	}
}
