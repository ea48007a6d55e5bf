package kinds

import "spirit/target"

// Host is the kind of the host itself, @spirit: the router runs its
// segments in the shell.
func Host() target.Kind {
	return target.Kind{
		Name:   "host",
		Prefix: target.Host,
		Local:  true,
		Names:  func() []string { return []string{"@" + target.Host} },
	}
}
