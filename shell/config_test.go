package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		want   string   // docker.default
		errHas []string // parts of the error; none means no error
	}{
		{name: "empty", text: ""},
		{name: "default container", text: "[docker]\ndefault = \"web\"\n", want: "web"},
		{name: "misspelt field", text: "[docker]\n\ndefualt = \"web\"\n",
			errHas: []string{":3:", "docker.defualt", "unknown field"}},
		{name: "unknown table", text: "[dokcer]\ndefault = \"web\"\n",
			errHas: []string{":1:", "dokcer"}},
		{name: "wrong type", text: "[docker]\ndefault = 3\n",
			errHas: []string{":2:", "default"}},
		{name: "bad container name", text: "[docker]\ndefault = \"-web\"\n",
			errHas: []string{":2:", "docker.default", "not a container name"}},
		{name: "bad name in a dotted key", text: "# c\ndocker.default = \"a b\"\n",
			errHas: []string{":2:", "docker.default", "not a container name"}},
		{name: "bad syntax", text: "[docker\n",
			errHas: []string{":1:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spirit.toml")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, got, err := LoadConfig([]string{filepath.Join(t.TempDir(), "missing.toml"), path})
			if got != path {
				t.Errorf("read %q, want %q", got, path)
			}
			if len(tt.errHas) == 0 {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if string(cfg.Docker.Default) != tt.want {
					t.Errorf("docker.default = %q, want %q", cfg.Docker.Default, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for %q", tt.text)
			}
			msg := err.Error()
			for _, part := range append([]string{path + ":"}, tt.errHas...) {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not contain %q", msg, part)
				}
			}
		})
	}
}

func TestLoadConfigNone(t *testing.T) {
	cfg, path, err := LoadConfig([]string{filepath.Join(t.TempDir(), "no.toml")})
	if err != nil || path != "" || cfg.Docker.Default != "" {
		t.Errorf("no file: %+v %q %v; want the empty configuration", cfg, path, err)
	}
}

func TestConfigPaths(t *testing.T) {
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"HOME=/h"}, []string{"/h/.config/spirit/spirit.toml", "/etc/spirit/spirit.toml"}},
		{[]string{"HOME=/h", "XDG_CONFIG_HOME=/x"}, []string{"/x/spirit/spirit.toml", "/etc/spirit/spirit.toml"}},
		// A relative XDG directory is ignored, as the specification says.
		{[]string{"HOME=/h", "XDG_CONFIG_HOME=x"}, []string{"/h/.config/spirit/spirit.toml", "/etc/spirit/spirit.toml"}},
		{nil, []string{"/etc/spirit/spirit.toml"}},
	}
	for _, tt := range tests {
		if got := ConfigPaths(tt.env); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("ConfigPaths(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
