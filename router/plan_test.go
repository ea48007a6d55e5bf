package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"spirit/target"
	"strings"
)

// fakeResolver knows @docker, @docker:NAME and @linux, and targets that
// record nothing: the planner tests only look at the plan.
type fakeResolver struct{}

func (fakeResolver) Lookup(name string) (target.Target, error) {
	switch {
	case name == "linux", name == "docker", strings.HasPrefix(name, "docker:") && len(name) > len("docker:"):
		return nopTarget{}, nil
	case name == "docker:":
		return nil, errors.New("@docker: needs a container name")
	}
	return nil, fmt.Errorf("%w @%s", target.ErrUnknownTarget, name)
}

func (r fakeResolver) targets() *target.Registry {
	return withHost(r.Lookup, "@docker", "@linux")
}

// withHost makes a registry of the host and one kind that looks names up
// with lookup and lists names.
func withHost(lookup func(string) (target.Target, error), names ...string) *target.Registry {
	r := &target.Registry{}
	r.Register(target.Kind{Name: "the host", Prefix: target.Host, Local: true,
		Names: func() []string { return []string{"@" + target.Host} }})
	r.Register(target.Kind{Name: "test", Lookup: lookup, Names: func() []string { return names }})
	return r
}

type nopTarget struct{}

func (nopTarget) Exec(context.Context, *target.Command) (int, error) { return 0, nil }
func (nopTarget) Open(context.Context, string, target.OpenMode) (io.ReadWriteCloser, error) {
	return nil, errors.New("nop")
}
