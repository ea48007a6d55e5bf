package standin

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want call
		err  string
	}{
		{[]string{"--", "@linux", "sleep", "100"}, call{target: "linux", words: []string{"sleep", "100"}}, ""},
		{[]string{"--", "@web", "ls", "-l", "a b", "it's"}, call{target: "web", words: []string{"ls", "-l", "a b", "it's"}}, ""},
		{[]string{"--", "@linux", "-c", "echo $HOME | wc -c"}, call{target: "linux", text: "echo $HOME | wc -c"}, ""},
		{[]string{"--", "@linux", "-e", "F", "-e", "G", "-c", `wc -l "$F"`}, call{target: "linux", env: []string{"F", "G"}, text: `wc -l "$F"`}, ""},
		{[]string{"--", "@linux", "--snapshot", "save", "s 1"}, call{target: "linux", ctl: "--snapshot", args: []string{"save", "s 1"}}, ""},
		{[]string{"--", "@linux"}, call{target: "linux"}, ""},
		{[]string{"--", "@w", "--desktop", "start", "notepad.exe"}, call{target: "w", desktop: true, words: []string{"start", "notepad.exe"}}, ""},
		{[]string{"--", "@w", "--desktop", "-e", "F", "-c", "echo %F%"}, call{target: "w", desktop: true, env: []string{"F"}, text: "echo %F%"}, ""},
		{[]string{"--", "@w", "--desktop", "--status"}, call{}, "goes before a command"},
		{[]string{"--write", "@docker:c1", "/tmp/x y"}, call{target: "docker:c1", file: "write", path: "/tmp/x y"}, ""},
		{[]string{"--read", "@a", "f"}, call{target: "a", file: "read", path: "f"}, ""},
		{[]string{"--read", "--typed", `C:\x`, "@a", "C:x"}, call{target: "a", file: "read", path: "C:x", typed: `C:\x`}, ""},
		{[]string{"--read", "--typed", `C:\x`, "@a"}, call{}, "needs @TARGET PATH"},
		{[]string{"--append", "@a"}, call{}, "needs @TARGET PATH"},
		{[]string{"--", "linux", "ls"}, call{}, "no @TARGET"},
		{nil, call{}, "no arguments"},
	}
	for _, tc := range tests {
		got, err := parse(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse %q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("parse %q = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewLineWriter(&b)
	io.WriteString(w, "cooked\n")
	w.SetRaw(true)
	io.WriteString(w, "starting vm linux (autostart)...\nup\r\n")
	if want := "cooked\nstarting vm linux (autostart)...\r\nup\r\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}
