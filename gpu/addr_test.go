package gpu

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
		// meant is the address the error takes it to mean, "" for none.
		meant string
	}{
		{in: "0000:01:00.0", ok: true},
		{in: "0000:0c:1f.7", ok: true},
		{in: ""},
		{in: "01:00.0", meant: "0000:01:00.0"},
		{in: "01:0A.0", meant: "0000:01:0a.0"},
		{in: "0000:01:00.0/../../x"},
		{in: "0000:01:00.0\n"},
		{in: "0000:01:20.0"},
		{in: "0000:01:00.8"},
		{in: "0000:0C:00.0", meant: "0000:0c:00.0"},
		{in: "../0000:01:00.0"},
		{in: "0000:01:00.0 "},
	} {
		err := CheckAddr(tc.in)
		if tc.ok {
			if err != nil {
				t.Errorf("CheckAddr(%q) = %v", tc.in, err)
			}
			continue
		}
		var ae *AddressError
		if !errors.As(err, &ae) || ae.Addr != tc.in || ae.Meant != tc.meant {
			t.Errorf("CheckAddr(%q) = %v (%#v), want an *AddressError meaning %q", tc.in, err, ae, tc.meant)
			continue
		}
		// The fix is to copy the address the message shows.
		if !strings.Contains(err.Error(), tc.meant) {
			t.Errorf("CheckAddr(%q) = %v, want it to show %q", tc.in, err, tc.meant)
		}
	}
}
