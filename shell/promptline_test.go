package shell

import (
	"strings"
	"testing"

	"github.com/c-bata/go-prompt"
)

func TestPromptLine(t *testing.T) {
	tests := []struct {
		in   promptInfo
		want string
	}{
		{promptInfo{dir: "/home/u/src", home: "/home/u"}, "spirit ~/src $ "},
		{promptInfo{dir: "/home/u", home: "/home/u"}, "spirit ~ $ "},
		{promptInfo{dir: "/home/user2", home: "/home/u"}, "spirit /home/user2 $ "},
		{promptInfo{dir: "/tmp", home: "/home/u", status: 130, root: true}, "spirit /tmp [130] # "},
		{promptInfo{remote: "@docker:c1", dir: "/tmp", home: "/home/u"}, "spirit@docker:c1 $ "},
		{promptInfo{dir: "/tmp", vms: []vmState{{"linux", "running"}, {"windows", "paused"}}}, "spirit /tmp linux:running windows:paused $ "},
	}
	for _, tt := range tests {
		plain, styled := promptLine(tt.in, false)
		if plain != tt.want || styled != plain {
			t.Errorf("promptLine(%+v) = %q, %q; want %q twice", tt.in, plain, styled, tt.want)
		}
		// Styled, the text is the same once the escapes are out.
		plain, styled = promptLine(tt.in, true)
		if got := ansi.ReplaceAllString(styled, ""); got != plain {
			t.Errorf("styled %q reads %q, want %q", styled, got, plain)
		}
	}
}

// fakeConsole records the writes styledWriter passes on.
type fakeConsole struct {
	prompt.ConsoleWriter // nil: only the methods below are called
	write                func(s string, raw bool)
}

func (f fakeConsole) WriteStr(s string)    { f.write(s, false) }
func (f fakeConsole) WriteRawStr(s string) { f.write(s, true) }

func TestStyledWriterSwapsOnlyThePrompt(t *testing.T) {
	var got []string
	w := &styledWriter{ConsoleWriter: nil, plain: "spirit $ ", styled: "\x1b[1mspirit\x1b[m $ "}
	w.ConsoleWriter = fakeConsole{write: func(s string, raw bool) { got = append(got, map[bool]string{true: "raw:", false: "str:"}[raw]+s) }}
	w.WriteStr("spirit $ ")
	w.WriteStr("echo hi")
	want := []string{"raw:\x1b[1mspirit\x1b[m $ ", "str:echo hi"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
