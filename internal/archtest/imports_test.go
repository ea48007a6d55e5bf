package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// pkgs lists each package of the module ("go list") with what it imports
// directly and what it links in all.
type pkgs struct {
	imports map[string][]string
	deps    map[string][]string
}

func list(t *testing.T) pkgs {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "spirit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	p := pkgs{imports: map[string][]string{}, deps: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		path, rest, _ := strings.Cut(sc.Text(), "|")
		imports, deps, _ := strings.Cut(rest, "|")
		p.imports[path] = strings.Fields(imports)
		p.deps[path] = strings.Fields(deps)
	}
	return p
}

// under reports whether pkg is prefix or inside it.
func under(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

func TestImportRules(t *testing.T) {
	p := list(t)
	forbidDeps := []struct {
		pkg, why string
		not      []string
	}{
		{"spirit/cmd/spirit-agent", "the guest agent links no shell, prompt, CLI or Docker client",
			[]string{"mvdan.cc/sh/v3", "github.com/c-bata/go-prompt", "charm.land/lipgloss/v2", "github.com/spf13/cobra", "github.com/moby/moby/client"}},
		{"spirit/vmctl/supervisor", "the per-VM daemon links no interpreter, prompt, shell or configuration",
			[]string{"mvdan.cc/sh/v3/interp", "github.com/c-bata/go-prompt", "spirit/shell", "spirit/router", "spirit/config"}},
	}
	for _, r := range forbidDeps {
		if _, ok := p.deps[r.pkg]; !ok {
			t.Errorf("%s: not in go list's output", r.pkg)
		}
		for _, d := range p.deps[r.pkg] {
			for _, bad := range r.not {
				if under(d, bad) {
					t.Errorf("%s links %s: %s", r.pkg, d, r.why)
				}
			}
		}
	}
	for pkg, imports := range p.imports {
		for _, imp := range imports {
			switch {
			case (under(pkg, "spirit/agents") || under(pkg, "spirit/vmctl")) && (under(imp, "spirit/router") || under(imp, "spirit/shell")):
				t.Errorf("%s imports %s: agents and vmctl are below the router and the shell", pkg, imp)
			case pkg == "spirit/target" && strings.HasPrefix(imp, "spirit/"):
				t.Errorf("spirit/target imports %s: the contract is a leaf", imp)
			case pkg == "spirit/target/stream" && strings.HasPrefix(imp, "spirit/") && imp != "spirit/target" && imp != "spirit/internal/fdcopy":
				t.Errorf("spirit/target/stream imports %s: every backend uses it, so it holds only the contract and the stdin copier", imp)
			case pkg == "spirit/internal/fdcopy" && strings.HasPrefix(imp, "spirit/"):
				t.Errorf("spirit/internal/fdcopy imports %s: the stream plumbing and the agent use it", imp)
			case under(imp, "spirit/shell") && pkg != "spirit/cmd/spirit" && !under(pkg, "spirit/shell"):
				t.Errorf("%s imports %s: nothing but the program imports the shell", pkg, imp)
			case under(imp, "spirit/kinds") && !slices.Contains([]string{"spirit/shell", "spirit/cmd/spirit"}, pkg):
				t.Errorf("%s imports %s: only the front end builds the registry of kinds", pkg, imp)
			}
		}
	}
}
