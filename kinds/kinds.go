// Package kinds makes the registry of target kinds of one shell: the
// host, the agents at an address, the VMs and the containers, each in a
// file of its own and registered in New. It decides which @words exist
// and what they reach; it does not parse lines (router) nor speak any
// protocol (agents, vmctl).
//
// Adding a kind of target is one new file here, with a function that
// returns its target.Kind, and one line in New.
package kinds

import (
	"log/slog"

	"spirit/config"
	"spirit/target"
	"spirit/vmctl"
)

// Deps are what the kinds are made of.
type Deps struct {
	// Config is spirit.toml: each kind reads its own section.
	Config *config.Config
	// AgentBinary is the spirit-agent that containers named in
	// [docker] agent get.
	AgentBinary string
	// VMs is the manager of the virtual machines; nil when there are none.
	VMs *vmctl.Manager
	// Version is spirit's, told to agents at the handshake.
	Version string
	Log     *slog.Logger
}

// New registers every kind of target. Kinds with a prefix own their
// words and come first in listings, in this order; the others are asked
// in this order.
func New(d Deps) *target.Registry {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	r := &target.Registry{}
	r.Register(Host())
	r.Register(dockerKind(d))
	r.Register(agentKind(d))
	r.Register(vmKind(d))
	return r
}
