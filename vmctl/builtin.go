package vmctl

import _ "embed"

// defaultTOML defines the VMs that exist without any configuration: the
// demo Linux guest and the reference Windows profile. What they mean is
// vmctl's; package config decodes the text, as it decodes spirit.toml.
//
//go:embed default.toml
var defaultTOML []byte

// DefaultsFile is how errors and listings name the embedded defaults.
const DefaultsFile = "vmctl/default.toml (built in)"

// DefaultsTOML is the text of the built-in definitions, [vm.NAME] tables
// in spirit.toml's format.
func DefaultsTOML() []byte { return append([]byte(nil), defaultTOML...) }

// Merge lays layers over each other, later ones replacing a VM of the
// same name whole (a user's [vm.windows] is all there is of @windows),
// and returns the definitions with their names set and defaults applied.
func Merge(layers ...map[string]Definition) map[string]Definition {
	out := map[string]Definition{}
	for _, layer := range layers {
		for name, d := range layer {
			d.Name = name
			out[name] = d.WithDefaults()
		}
	}
	return out
}
