package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestTypeMessages checks the message for a value of the wrong type, of
// every type a field can have: it says what TOML wants, never the Go
// type, and how to write a table or an array of tables.
func TestTypeMessages(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line, col int
		key, msg  string
	}{
		{"string", "[vm.w]\nmemory = 4\n", 2, 10, "vm.w.memory",
			"vm.w.memory: cannot decode TOML integer into a string"},
		{"string, a float", "[docker]\ndefault = 3.5\n", 2, 11, "docker.default",
			"docker.default: cannot decode TOML float into a string"},
		{"string, a date", "[docker]\ndefault = 1979-05-27\n", 2, 11, "docker.default",
			"docker.default: cannot decode TOML local date into a string"},
		{"string, a table", "[vm.w]\n[vm.w.memory]\nx = 1\n", 2, 2, "vm.w.memory",
			"vm.w.memory: cannot decode TOML table into a string"},
		{"integer", "[vm.w]\ncores = \"4\"\n", 2, 9, "vm.w.cores",
			"vm.w.cores: cannot decode TOML string into an integer"},
		{"integer, a float", "[vm.w]\ncores = 1.5\n", 2, 9, "vm.w.cores",
			"vm.w.cores: cannot decode TOML float into an integer"},
		{"boolean", "[vm.w]\nhugepages = \"yes\"\n", 2, 13, "vm.w.hugepages",
			"vm.w.hugepages: cannot decode TOML string into a boolean"},
		{"optional boolean", "[vm.w]\nhyperv = 1\n", 2, 10, "vm.w.hyperv",
			"vm.w.hyperv: cannot decode TOML integer into a boolean"},
		{"array of strings", "[docker]\nagent = \"c1\"\n", 2, 9, "docker.agent",
			"docker.agent: cannot decode TOML string into an array of strings"},
		{"array of strings, an element", "[vm.w]\ngpu = [1]\n", 2, 8, "vm.w.gpu",
			"vm.w.gpu: cannot decode TOML integer into a string (in an array of strings)"},
		{"array of integers", "[vm.w]\ncpu_pinning = 3\n", 2, 15, "vm.w.cpu_pinning",
			"vm.w.cpu_pinning: cannot decode TOML integer into an array of integers"},
		{"array of integers, an element", "[vm.w]\ncpu_pinning = [\"a\"]\n", 2, 16, "vm.w.cpu_pinning",
			"vm.w.cpu_pinning: cannot decode TOML string into an integer (in an array of integers)"},
		{"table", "[vm.w]\nnetwork = \"x\"\n", 2, 11, "vm.w.network",
			"vm.w.network: cannot decode TOML string into a table ([vm.w.network])"},
		{"table, an array table", "[vm.w]\n[[vm.w.network]]\nx = 1\n", 2, 3, "vm.w.network",
			"vm.w.network: cannot decode TOML array table into a table"},
		{"table of the file", "docker = 3\n", 1, 10, "docker",
			"docker: cannot decode TOML integer into a table ([docker])"},
		{"array of tables", "[vm.box]\ndisks = \"x\"\n", 2, 9, "vm.box.disks",
			"vm.box.disks: cannot decode TOML string into an array of tables ([[vm.box.disks]])"},
		{"array of tables, an element", "[vm.w]\ndisks = [\"a\"]\n", 2, 10, "vm.w.disks",
			"vm.w.disks: cannot decode TOML string into a table (in an array of tables)"},
		{"field of an array's table", "[vm.w]\n[[vm.w.disks]]\npath = 3\n", 3, 8, "vm.w.disks.path",
			"vm.w.disks.path: cannot decode TOML integer into a string"},
		{"table of tables", "vm = 3\n", 1, 6, "vm",
			"vm: cannot decode TOML integer into a table of tables ([vm.NAME])"},
		{"a named table", "[vm]\nw = 3\n", 2, 5, "vm.w",
			"vm.w: cannot decode TOML integer into a table ([vm.w])"},
		{"agents", "agents = 3\n", 1, 10, "agents",
			"agents: cannot decode TOML integer into a table of tables ([agents.NAME])"},
		{"agent's field", "[agents.a]\naddress = 3\n", 2, 11, "agents.a.address",
			"agents.a.address: cannot decode TOML integer into a string"},
		{"too large", "[vm.w]\ncores = 99999999999999999999\n", 2, 9, "vm.w.cores",
			"vm.w.cores: decimal number is too large to fit in a 64-bit signed integer"},
		{"syntax", "[docker\n", 1, 8, "", "expected ']' to close table name"},
		{"unknown table", "[dokcer]\n", 1, 2, "dokcer",
			`unknown field "dokcer" (known: docker.default, docker.agent, agents.NAME.address, vm.NAME.{` + vmFields + `}, qemu.user, gpu.display_units)`},
		{"unknown field of an agent", "[agents.a]\nadress = 1\n", 2, 1, "agents.a.adress",
			`unknown field "agents.a.adress" (known: docker.default, docker.agent, agents.NAME.address, vm.NAME.{` + vmFields + `}, qemu.user, gpu.display_units)`},
		{"unknown field of a VM's table", "[vm.w.network]\nmod = 1\n", 2, 1, "vm.w.network.mod",
			`unknown field "vm.w.network.mod" (known: vm.NAME.{` + vmFields + `})`},
		{"unknown field of an array's table", "[vm.w]\n[[vm.w.disks]]\nsize = 3\n", 3, 1, "vm.w.disks.size",
			`unknown field "vm.w.disks.size" (known: vm.NAME.{` + vmFields + `})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("spirit.toml", []byte(tt.text))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want a *Error", err, err)
			}
			want := Error{Path: "spirit.toml", Line: tt.line, Column: tt.col, Key: tt.key, Msg: tt.msg}
			if *e != want {
				t.Errorf("error\n%#v\nwant\n%#v", *e, want)
			}
		})
	}
}

// vmFields are the fields of [vm.NAME].
const vmFields = "os, memory, cores, threads, machine, firmware, ovmf_code, ovmf_vars, disks[].{path, format, interface, cache}, " +
	"network.{model, mode, bridge}, agent_port, hugepages, cpu_pinning, balloon, hyperv, gpu, rom, extra_args, autostart, kernel, initrd, append, windows.{desktop}"

// TestUnknownFields checks that every unknown field is reported, each a
// *Error with its place, one a line.
func TestUnknownFields(t *testing.T) {
	_, err := Parse("spirit.toml", []byte("[docker]\ndefualt = \"web\"\n[vm.w]\nos = \"linux\"\nmemroy = \"1G\"\n"))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %v (%T), want several", err, err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T), want a *Error", e, e)
		}
		got = append(got, fmt.Sprintf("%d:%d %s", ce.Line, ce.Column, ce.Key))
	}
	if want := []string{"2:1 docker.defualt", "5:1 vm.w.memroy"}; !slices.Equal(got, want) {
		t.Errorf("unknown fields at %q, want %q", got, want)
	}
	if n := strings.Count(err.Error(), "\n"); n != 1 {
		t.Errorf("message of %d lines, want 2:\n%v", n+1, err)
	}
}
