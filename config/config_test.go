package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
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
		{name: "agent containers", text: "[docker]\ndefault = \"c1\"\n# via an agent\nagent = [\"c1\", \"*\"]\n", want: "c1"},
		{name: "bad agent container", text: "[docker]\ndefault = \"c1\"\n\nagent = [\"c1\", \"a b\"]\n",
			errHas: []string{":4:", "docker.agent", `"a b" is not a container name`}},
		{name: "agent not a list", text: "[docker]\nagent = \"c1\"\n",
			errHas: []string{":2:", "agent"}},
		{name: "misspelt agent", text: "[docker]\nagents = [\"c1\"]\n",
			errHas: []string{":2:", `unknown field "docker.agents"`, "docker.agent,"}},
		{name: "bad syntax", text: "[docker\n",
			errHas: []string{":1:"}},
		{name: "bad VM value", text: "[vm.windows]\nos = \"windows\"\n\nmemory = \"4X\"\n",
			errHas: []string{":4: ", `vm.windows.memory: "4X" is not a size (e.g. 4G, 512M)`}},
		{name: "bad VM field", text: "[vm.windows]\nos = \"windows\"\nmemroy = \"4G\"\n",
			errHas: []string{":3:1:", `unknown field "vm.windows.memroy"`, "vm.NAME.{os, memory,"}},
		{name: "bad field of a second disk", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n[[vm.w.disks]]\npath = \"a\"\n[[vm.w.disks]]\npath = \"b\"\ncache = \"fast\"\n",
			errHas: []string{":8: ", `vm.w.disks[1].cache: "fast"`}},
		{name: "VM named like an agent", text: "[agents.a]\naddress = \"unix:/a.sock\"\n[vm.a]\nos = \"linux\"\nmemory = \"1G\"\n",
			errHas: []string{":3: ", "vm.a: @a is already an agent target"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spirit.toml")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, got, err := Load([]string{filepath.Join(t.TempDir(), "missing.toml"), path})
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
			var ce *Error
			if !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("error %v for %q, want a *Error in %s", err, tt.text, path)
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

func TestLoadVM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spirit.toml")
	text := `[docker]
default = "web"

[vm.windows]
os = "windows"
memory = "16G"
cores = 8
gpu = ["0000:01:00.0", "0000:01:00.1"]

[[vm.windows.disks]]
path = "/srv/win.qcow2"
cache = "none"
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	w, ok := cfg.VM["windows"]
	if !ok || w.OS != "windows" || w.Memory != "16G" || w.Cores != 8 || len(w.GPU) != 2 ||
		len(w.Disks) != 1 || w.Disks[0].Path != "/srv/win.qcow2" || w.Disks[0].Cache != "none" {
		t.Errorf("vm.windows = %+v", w)
	}
	if cfg.Docker.Default != "web" {
		t.Errorf("docker.default = %q", cfg.Docker.Default)
	}
}

func TestLoadDockerAgent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spirit.toml")
	text := "[docker]\ndefault = \"c1\"\n# containers whose commands go through a spirit agent started once inside them\nagent = [\"c1\"]      # container names; \"*\" means every container\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Docker.Agent; len(got) != 1 || got[0] != "c1" {
		t.Errorf("docker.agent = %q, want [c1]", got)
	}
}

func TestLoadNone(t *testing.T) {
	cfg, path, err := Load([]string{filepath.Join(t.TempDir(), "no.toml")})
	if err != nil || path != "" || cfg.Docker.Default != "" {
		t.Errorf("no file: %+v %q %v; want the empty configuration", cfg, path, err)
	}
}

func TestPaths(t *testing.T) {
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
		if got := Paths(tt.env); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Paths(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
