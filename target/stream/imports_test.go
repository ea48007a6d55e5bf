package stream

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestImports keeps the target tree light: the contract imports nothing of
// spirit's, and this package only the contract and the stdin copier, so
// that every backend (the supervisor's relay among them) can use it
// without the shell, its interpreter or a backend's client.
func TestImports(t *testing.T) {
	for _, c := range []struct {
		dir     string
		allowed []string
	}{
		{"..", nil},
		{".", []string{"spirit/target", "spirit/internal/fdcopy"}},
		{"../../internal/fdcopy", nil},
	} {
		p, err := build.ImportDir(c.dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			if (imp == "spirit" || strings.HasPrefix(imp, "spirit/")) && !slices.Contains(c.allowed, imp) {
				t.Errorf("%s imports %s; it may import of spirit's only %q", p.Dir, imp, c.allowed)
			}
		}
	}
}
