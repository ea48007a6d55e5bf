package gpu

import (
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"0000:01:00.0", ""},
		{"0000:0c:1f.7", ""},
		{"", "empty"},
		{"01:00.0", "write 0000:01:00.0"},
		{"0000:01:00.0/../../x", "not a PCI address"},
		{"0000:01:00.0\n", "not a PCI address"},
		{"0000:01:20.0", "not a PCI address"},
		{"0000:01:00.8", "not a PCI address"},
		{"0000:0C:00.0", "lower case"},
		{"../0000:01:00.0", "not a PCI address"},
		{"0000:01:00.0 ", "not a PCI address"},
	} {
		err := CheckAddr(tc.in)
		if tc.err == "" {
			if err != nil {
				t.Errorf("CheckAddr(%q) = %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckAddr(%q) = %v, want it to say %q", tc.in, err, tc.err)
		}
	}
}
