package target

import (
	"errors"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"linux", true}, {"win-10_a", true}, {"a", true},
		{"", false}, {"Linux", false}, {"1vm", false}, {"-x", false}, {"a.b", false}, {"a:b", false},
		{"spirit", false}, {"docker", false}, {"é", false},
	} {
		err := CheckName("target", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, does not wrap ErrBadName", tc.name, err)
		}
	}
}
