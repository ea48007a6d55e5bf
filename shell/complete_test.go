package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/c-bata/go-prompt"

	"spirit/kinds"
	"spirit/target"
)

// fakeTarget is a container target that takes control words.
type fakeTarget struct{}

func (fakeTarget) Exec(context.Context, *target.Command) (int, error) { return 0, nil }
func (fakeTarget) Open(context.Context, string, target.OpenMode) (io.ReadWriteCloser, error) {
	return nil, errors.New("no files")
}
func (fakeTarget) Control(context.Context, string, []string, io.Writer) error { return nil }
func (fakeTarget) ControlWords() []string                                     { return []string{"--pause", "--resume", "--status"} }

// fakeTargets is the host, @docker (whose containers are db, web and
// web2) and @linux, which takes no control words.
func fakeTargets(calls *int) *target.Registry {
	r := &target.Registry{}
	r.Register(kinds.Host())
	r.Register(target.Kind{Name: "container", Prefix: "docker",
		Lookup: func(string) (target.Target, error) { return fakeTarget{}, nil },
		Names:  func() []string { return []string{"@docker"} },
		Members: func(context.Context) ([]string, error) {
			*calls++
			return []string{"db", "web", "web2"}, nil
		},
	})
	r.Register(target.Kind{Name: "vm",
		Lookup: func(name string) (target.Target, error) {
			if name == "linux" {
				return struct{ target.Target }{fakeTarget{}}, nil // no Controller
			}
			return nil, fmt.Errorf("@%s: %w", name, target.ErrUnknownTarget)
		},
		Names: func() []string { return []string{"@linux"} },
	})
	return r
}

func newFakeCompleter(t *testing.T, dflt string) (*completer, *int) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, p := range []string{"bin/lsblk", "bin/lsx", "bin/other", "work/notes.txt", "work/src/main.go", "work/.hidden", "work/with space", "home/docs/a"} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	return &completer{
		ctx:     t.Context(),
		targets: fakeTargets(&calls),
		dflt:    func() string { return dflt },
		dir:     func() string { return filepath.Join(dir, "work") },
		env:     []string{"PATH=" + bin, "HOME=" + filepath.Join(dir, "home")},
	}, &calls
}

func TestComplete(t *testing.T) {
	tests := []struct {
		line string
		tab  bool   // the last key was Tab
		dflt string // default target; "" is the host
		want []string
	}{
		{line: "@do", want: []string{"@docker"}},
		{line: "@", want: []string{"@spirit", "@docker", "@linux"}},
		{line: "ls | @sp", want: []string{"@spirit"}},
		{line: "echo hi > @li", want: []string{"@linux"}},
		{line: "@docker:we", want: []string{"web", "web2"}},
		{line: "@docker:", want: []string{"db", "web", "web2"}},
		{line: "@nope:x", want: nil},
		{line: "@docker:web --p", want: []string{"--pause"}},
		{line: "@docker:web ", want: []string{"--pause", "--resume", "--status"}},
		{line: "@docker --s", want: []string{"--status"}},
		{line: "@linux --s", want: nil},          // no control words there
		{line: "@docker:web ca", want: nil},      // the container's commands are unknown
		{line: "@docker:web cat /et", want: nil}, // and so are its files
		{line: "--re", dflt: "@docker:web", want: []string{"--resume"}},
		{line: "ls /et", dflt: "@docker:web", want: nil},
		{line: "ls", want: []string{"lsblk", "lsx"}},
		{line: "F=1 ls", want: []string{"lsblk", "lsx"}},
		{line: "true && ls", want: []string{"lsblk", "lsx"}},
		{line: "ech", want: []string{"echo"}}, // a builtin
		{line: "", want: nil},
		{line: "cat no", want: []string{"notes.txt"}},
		{line: "cat s", want: []string{"src/"}},
		{line: "cat src/m", want: []string{"main.go"}},
		{line: "cat ./src/", want: []string{"main.go"}},
		{line: "cat .h", want: []string{".hidden"}},
		{line: "cat ~/d", want: []string{"docs/"}},
		{line: "cat ", want: nil},
		{line: "cat ", tab: true, want: []string{"notes.txt", "src/"}}, // no hidden, no "with space"
		{line: "./s", want: []string{"src/"}},
		{line: "x=./s", want: []string{"src/"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			dflt := tt.dflt
			if dflt == "" {
				dflt = "@" + target.Host
			}
			c, _ := newFakeCompleter(t, dflt)
			var got []string
			for _, s := range c.suggest(tt.line, tt.tab) {
				got = append(got, s.Text)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("complete(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestContainersCached(t *testing.T) {
	c, calls := newFakeCompleter(t, "@"+target.Host)
	for _, line := range []string{"@docker:", "@docker:w", "@docker:we"} {
		buf := prompt.NewBuffer()
		buf.InsertText(line, false, true)
		c.complete(*buf.Document())
	}
	if *calls != 1 {
		t.Errorf("%d calls to the Docker Engine for three keys, want 1", *calls)
	}
}
