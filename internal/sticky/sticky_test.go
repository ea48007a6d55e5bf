package sticky

import (
	"errors"
	"io/fs"
	"testing"
)

func TestRules(t *testing.T) {
	tmp := Dir{Mode: fs.ModeDir | fs.ModeSticky | 0o777, UID: 0}
	bobs := Dir{Mode: fs.ModeDir | fs.ModeSticky | 0o777, UID: 1000}
	plain := Dir{Mode: fs.ModeDir | 0o777, UID: 0}
	closed := Dir{Mode: fs.ModeDir | fs.ModeSticky | 0o775, UID: 0}
	for _, tc := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"root follows bob's link in /tmp", Follow(0, "l", 1000, tmp), true},
		{"root follows root's link in /tmp", Follow(0, "l", 0, tmp), false},
		{"bob follows bob's link in /tmp", Follow(1000, "l", 1000, tmp), false},
		{"root follows bob's link in bob's sticky dir", Follow(0, "l", 1000, bobs), false},
		{"alice follows root's link in bob's sticky dir", Follow(1001, "l", 0, bobs), true},
		{"root follows bob's link in a dir without the sticky bit", Follow(0, "l", 1000, plain), false},
		{"root follows bob's link in a sticky dir others cannot write", Follow(0, "l", 1000, closed), false},
		{"root creates over bob's file in /tmp", Create(0, "f", 1000, 0o644, tmp), true},
		{"root creates over bob's FIFO in /tmp", Create(0, "f", 1000, fs.ModeNamedPipe|0o644, tmp), true},
		{"root creates over bob's device in /tmp", Create(0, "f", 1000, fs.ModeDevice|fs.ModeCharDevice|0o666, tmp), false},
		{"root creates over root's file in /tmp", Create(0, "f", 0, 0o644, tmp), false},
		{"bob creates over bob's file in /tmp", Create(1000, "f", 1000, 0o644, tmp), false},
		{"root creates over bob's file in bob's sticky dir", Create(0, "f", 1000, 0o644, bobs), false},
		{"root creates over bob's file in a dir without the sticky bit", Create(0, "f", 1000, 0o644, plain), false},
	} {
		if got := tc.err != nil; got != tc.refused {
			t.Errorf("%s: %v, want refused %v", tc.name, tc.err, tc.refused)
		}
		if tc.err != nil && !errors.Is(tc.err, fs.ErrPermission) {
			t.Errorf("%s: %v is not fs.ErrPermission", tc.name, tc.err)
		}
	}
}
