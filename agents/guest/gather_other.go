//go:build !linux

package guest

import "io"

// gathering is gather_linux.go's, which other systems do without.
func gathering(r io.Reader) io.Reader { return r }
