package errcode

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestIs(t *testing.T) {
	sentinels := []error{fs.ErrNotExist, fs.ErrPermission, ErrBusy, errors.ErrUnsupported, ErrPaused, ErrState, ErrRefused}
	for _, tt := range []struct {
		code Code
		want error // the one sentinel it matches, or nil
	}{
		{NotFound, fs.ErrNotExist},
		{Denied, fs.ErrPermission},
		{Busy, ErrBusy},
		{NotYet, errors.ErrUnsupported},
		{Paused, ErrPaused},
		{State, ErrState},
		{Refused, ErrRefused},
		{Failed, nil},
		{"from-a-newer-peer", nil},
	} {
		t.Run(string(tt.code), func(t *testing.T) {
			err := fmt.Errorf("vm linux: %w", New(tt.code, "it failed: %d", 1))
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			if got := Of(err); got != tt.code {
				t.Errorf("Of: %q, want %q", got, tt.code)
			}
			if err.Error() != "vm linux: it failed: 1" {
				t.Errorf("text %q: the code must not show", err)
			}
		})
	}
	if Of(errors.New("plain")) != "" || Of(nil) != "" {
		t.Error("Of of an error with no code is not empty")
	}
}
