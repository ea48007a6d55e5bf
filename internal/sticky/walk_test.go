package sticky

import (
	"errors"
	"path"
	"syscall"
	"testing"
)

// TestWalk resolves paths over a table of links, as the guest agent and
// the container path do over their filesystems.
func TestWalk(t *testing.T) {
	links := map[string]string{
		"/a/l":    "b",      // relative, in /a
		"/a/abs":  "/c",     // absolute
		"/a/up":   "../c/d", // through ..
		"/loop/x": "y", "/loop/y": "x",
	}
	files := map[string]bool{"/a": true, "/a/b": true, "/c": true, "/c/d": true, "/loop": true}
	look := func(dir, next string) (Step, error) {
		if path.Dir(next) != dir {
			t.Fatalf("look(%q, %q): next is not in dir", dir, next)
		}
		if to, ok := links[next]; ok {
			return Step{Link: true, Target: to}, nil
		}
		return Step{Missing: !files[next]}, nil
	}
	for _, c := range []struct {
		p, want string
		exists  bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/l", "/a/b", true},
		{"/a/abs/d", "/c/d", true},
		{"/a/up", "/c/d", true},
		{"/a/./l/", "/a/b", true},
		{"/a/nope/x", "/a/nope/x", false},
		{"/a/l/../nope", "/a/nope", false},
	} {
		got, exists, err := Walk(c.p, 40, look)
		if err != nil || got != c.want || exists != c.exists {
			t.Errorf("Walk(%q) = %q, %v, %v; want %q, %v", c.p, got, exists, err, c.want, c.exists)
		}
	}
	// Past a missing directory, ".." would reach the link /a/l without
	// its being looked at: the kernel says ENOENT.
	if got, _, err := Walk("/a/nope/../l/x", 40, look); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("a .. after a missing directory: %q, %v, want ENOENT", got, err)
	}
	if _, _, err := Walk("/loop/x", 40, look); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a loop: %v, want ELOOP", err)
	}
	refused := errors.New("refused")
	_, _, err := Walk("/a/l", 40, func(dir, next string) (Step, error) {
		if next == "/a/l" {
			return Step{}, refused
		}
		return look(dir, next)
	})
	if !errors.Is(err, refused) {
		t.Errorf("a refused link: %v, want look's error", err)
	}
}
