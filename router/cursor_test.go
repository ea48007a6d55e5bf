package router

import (
	"strings"
	"testing"
)

func TestAt(t *testing.T) {
	tests := []struct {
		src, dflt string
		want      Cursor
		ok        bool
	}{
		{"", "spirit", Cursor{First: true, Target: "spirit"}, true},
		{"@do", "spirit", Cursor{Word: "@do", AtTarget: true, First: true, Target: "spirit"}, true},
		{"ls | @sp", "spirit", Cursor{Word: "@sp", AtTarget: true, First: true, Target: "spirit"}, true},
		{"echo hi > @li", "spirit", Cursor{Word: "@li", AtTarget: true, Target: "spirit"}, true},
		{"@docker:web ", "spirit", Cursor{First: true, Explicit: true, Target: "docker:web"}, true},
		{"@docker:web --p", "spirit", Cursor{Word: "--p", First: true, Explicit: true, Target: "docker:web"}, true},
		{"--re", "docker:web", Cursor{Word: "--re", First: true, Target: "docker:web"}, true},
		{"F=1 ls", "spirit", Cursor{Word: "ls", First: true, Target: "spirit"}, true},
		{"x=./s", "spirit", Cursor{Word: "x=./s", Target: "spirit"}, true},
		{"true && ls", "spirit", Cursor{Word: "ls", First: true, Target: "spirit"}, true},
		{"cat ", "spirit", Cursor{Target: "spirit"}, true},
		{"ls; ", "linux", Cursor{First: true, Target: "linux"}, true},
		{"@linux cat x | ", "spirit", Cursor{First: true, Target: "linux"}, true},
		{"@linux cat x | wc -", "spirit", Cursor{Word: "-", Target: "linux"}, true},
		{"@linux cat x | @spirit grep e", "spirit", Cursor{Word: "e", Explicit: true, Target: "spirit"}, true},
		{"echo $(ls /u", "spirit", Cursor{Word: "/u", Target: "spirit"}, true},
		{"echo 'abc", "spirit", Cursor{}, false},
	}
	for _, tt := range tests {
		got, ok := At(tt.src, tt.dflt)
		if ok != tt.ok || got != tt.want {
			t.Errorf("At(%q) = %+v, %v; want %+v, %v", tt.src, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzAt: whatever is typed, At neither panics nor names a word that is
// not the end of the line.
func FuzzAt(f *testing.F) {
	for _, s := range []string{"", "@do", "ls | @sp", "echo hi > @li", "@docker:web --p", "x=./s", "echo $(ls /u", "echo 'abc", "a | b | @c d |", "for i in a; do ec", "cat <<EOF\nx", "f() { @linux ls", "((1+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, ok := At(src, "spirit")
		if ok && !strings.HasSuffix(src, c.Word) {
			t.Errorf("At(%q) = word %q, not the end of the line", src, c.Word)
		}
	})
}
