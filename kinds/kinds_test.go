package kinds

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"spirit/config"
	"spirit/target"
	"spirit/vmctl"
)

// testRegistry has the agents a and zz, the VMs linux and box (not
// running: nothing here dials) and the Docker kind.
func testRegistry(t *testing.T) *target.Registry {
	t.Helper()
	dir := t.TempDir()
	defs := vmctl.Merge(map[string]vmctl.Definition{
		"linux": {OS: "linux", Memory: "64M"},
		"box":   {OS: "linux", Memory: "64M"},
	})
	r := New(Deps{
		Config: &config.Config{Agents: map[string]config.Agent{
			"a":  {Address: "unix:" + dir + "/a.sock"},
			"zz": {Address: "unix:" + dir + "/zz.sock"},
		}},
		VMs: vmctl.NewManager(vmctl.ManagerOptions{Defs: defs, Places: vmctl.Places{Run: dir, State: dir, Base: dir}}),
	})
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func TestNames(t *testing.T) {
	got := testRegistry(t).Names()
	want := []string{"@spirit", "@docker", "@a", "@box", "@linux", "@zz"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestLookup(t *testing.T) {
	r := testRegistry(t)
	for _, name := range []string{"a", "zz", "linux", "box", "docker", "docker:web"} {
		if _, err := r.Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	for _, name := range []string{"nope", "spirit", "linux:x", "a:b"} {
		if _, err := r.Lookup(name); !errors.Is(err, target.ErrUnknownTarget) {
			t.Errorf("Lookup(%q) = %v, want ErrUnknownTarget", name, err)
		}
	}
	if _, err := r.Lookup("docker:"); err == nil || errors.Is(err, target.ErrUnknownTarget) {
		t.Errorf(`Lookup("docker:") = %v, want an error that asks for a name`, err)
	}
	if !r.IsLocal("spirit") || r.IsLocal("linux") {
		t.Error("IsLocal: the host is spirit, and only it")
	}
	a1, _ := r.Lookup("linux")
	a2, _ := r.Lookup("linux")
	if a1 != a2 {
		t.Error("a VM's target is made once and kept, with its connection")
	}
}

// TestVMControlWords: a VM takes its operations and its agent's words.
func TestVMControlWords(t *testing.T) {
	tg, err := testRegistry(t).Lookup("linux")
	if err != nil {
		t.Fatal(err)
	}
	ctl, ok := tg.(target.Controller)
	if !ok {
		t.Fatal("a VM's target takes no control words")
	}
	words := ctl.ControlWords()
	for _, w := range []string{"--start", "--stop", "--snapshot", "--cd"} {
		if !slices.Contains(words, w) {
			t.Errorf("ControlWords() = %q, want %s among them", words, w)
		}
	}
}
