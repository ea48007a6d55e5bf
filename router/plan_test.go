package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"spirit/target"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// fakeResolver knows @docker, @docker:NAME and @linux, and targets that
// record nothing: the planner tests only look at the plan.
type fakeResolver struct{}

func (fakeResolver) Lookup(name string) (target.Target, error) {
	switch {
	case name == "linux", name == "docker", strings.HasPrefix(name, "docker:") && len(name) > len("docker:"):
		return nopTarget{}, nil
	case name == "docker:":
		return nil, errors.New("@docker: needs a container name")
	}
	return nil, fmt.Errorf("%w @%s", target.ErrUnknownTarget, name)
}

func (r fakeResolver) targets() *target.Registry {
	return withHost(r.Lookup, "@docker", "@linux")
}

// withHost makes a registry of the host and one kind that looks names up
// with lookup and lists names.
func withHost(lookup func(string) (target.Target, error), names ...string) *target.Registry {
	r := &target.Registry{}
	r.Register(target.Kind{Name: "the host", Prefix: target.Host, Local: true,
		Names: func() []string { return []string{"@" + target.Host} }})
	r.Register(target.Kind{Name: "test", Lookup: lookup, Names: func() []string { return names }})
	return r
}

type nopTarget struct{}

func (nopTarget) Exec(context.Context, *target.Command) (int, error) { return 0, nil }
func (nopTarget) Open(context.Context, string, target.OpenMode) (io.ReadWriteCloser, error) {
	return nil, errors.New("nop")
}

// planString plans src and prints the rewritten program with the side
// table: "#N" stands for a segment key, "<@T>PATH" for a target file.
func planString(t *testing.T, src, dflt string) (string, error) {
	t.Helper()
	s, err := New(Options{Targets: fakeResolver{}.targets()})
	if err != nil {
		t.Fatal(err)
	}
	s.setDefault(cmp.Or(dflt, target.Host)) // "" in the tables is the host
	f, err := s.plan(src, "test")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := syntax.NewPrinter(syntax.Minify(false)).Print(&b, f); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSpace(b.String())
	for i := s.segs.next - 1; i >= 0; i-- {
		key := fmt.Sprintf("%s%d", segKeyPrefix, i)
		seg := s.segs.segs[key]
		out = strings.ReplaceAll(out, key, fmt.Sprintf("#%d", i))
		out += fmt.Sprintf("\n#%d %s %q", i, seg.target, seg.text)
		if len(seg.envNames) > 0 {
			out += fmt.Sprintf(" env=%v", seg.envNames)
		}
	}
	out = strings.ReplaceAll(out, redirMarker, "<@")
	out = strings.ReplaceAll(out, "\x1f", ">")
	return out, nil
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name, src, dflt, want string
	}{
		{"host only", "ls | wc -l", "", "ls | wc -l"},
		{"one remote", "@docker:c1 cat /etc/hostname", "",
			"@docker:c1 #0\n#0 docker:c1 \"cat /etc/hostname\""},
		{"remote then host", "@docker:c1 cat /etc/hostname | @spirit tr a-z A-Z", "",
			"@docker:c1 #0 | tr a-z A-Z\n#0 docker:c1 \"cat /etc/hostname\""},
		{"sticky target", "@docker:c1 echo x | cat /etc/hostname", "",
			"{ @docker:c1 #0; }\n#0 docker:c1 \"echo x | cat /etc/hostname\""},
		{"host into remote", "seq 1 100000 | @docker:c1 wc -l", "",
			"seq 1 100000 | @docker:c1 #0\n#0 docker:c1 \"wc -l\""},
		{"verbatim text", `@linux echo $HOME 'a  b' C:\Users`, "",
			"@linux #0\n#0 linux \"echo $HOME 'a  b' C:\\\\Users\""},
		{"assignment prefix", "v=abc; F=$v @docker:c1 echo $F", "",
			"v=abc\nF=$v @docker:c1 #0\n#0 docker:c1 \"echo $F\" env=[F]"},
		{"write host file", "@docker:c1 echo hi > @spirit /tmp/f", "",
			"@docker:c1 #0 >/tmp/f\n#0 docker:c1 \"echo hi\""},
		{"write target file", "echo data | @spirit cat > @docker:c1 /tmp/y", "",
			"echo data | cat ><@docker:c1>/tmp/y"},
		{"read target file", "wc -c < @linux /etc/hosts", "",
			"wc -c <<@linux>/etc/hosts"},
		{"append", "date >> @linux /var/log/x", "",
			"date >><@linux>/var/log/x"},
		{"targeted redirect splits segment", "@linux cat < @spirit /etc/hosts | sort", "",
			"@linux #0 </etc/hosts | @linux #1\n#1 linux \"sort\"\n#0 linux \"cat\""},
		{"plain redirect stays", "@linux ls > /tmp/x 2>&1", "",
			"@linux #0\n#0 linux \"ls > /tmp/x 2>&1\""},
		{"three segments", "@linux a | b | @docker c | @spirit d", "",
			"@linux #0 | @docker #1 | d\n#1 docker \"c\"\n#0 linux \"a | b\""},
		{"pipe all", "@linux a |& b | @spirit c", "",
			"@linux #0 | c\n#0 linux \"a 2>&1 | b\""},
		{"lone target", "@docker:c1", "", "@docker:c1"},
		{"lone spirit", "@spirit", "linux", "@spirit"},
		{"default target", "cat /etc/hostname | wc -c", "docker:c1",
			"@docker:c1 #0\n#0 docker:c1 \"cat /etc/hostname | wc -c\""},
		{"default target loop", "for i in 1 2; do echo $i; done", "linux",
			"@linux #0\n#0 linux \"for i in 1 2; do echo $i; done\""},
		{"default with host segment", "cat x | @spirit wc", "linux",
			"@linux #0 | wc\n#0 linux \"cat x\""},
		{"lone target sets later lines", "@linux\nuname", "",
			"@linux\n@linux #0\n#0 linux \"uname\""},
		{"nested in host control flow", "if @linux true; then echo ok; fi", "",
			"if @linux #0; then echo ok; fi\n#0 linux \"true\""},
		{"command substitution", "x=$(@linux hostname); echo $x", "",
			"x=$(@linux #0)\necho $x\n#0 linux \"hostname\""},
		{"function body", "f() { @linux ls; }", "",
			"f() { @linux #0; }\n#0 linux \"ls\""},
		{"heredoc", "@linux cat <<EOF\nhello $x\nEOF\necho after", "",
			"@linux #0\n\necho after\n#0 linux \"cat <<EOF\\nhello $x\\nEOF\""},
		{"heredoc mid pipeline", "@linux cat <<EOF | grep h\nhello\nEOF", "",
			"{ @linux #0; }\n#0 linux \"cat <<EOF | grep h\\nhello\\nEOF\""},
		{"control word", "@docker:c1 --pause", "",
			"@docker:c1 #0\n#0 docker:c1 \"--pause\""},
		{"negated", "! @linux false", "",
			"! @linux #0\n#0 linux \"false\""},
		{"background", "@linux sleep 1 &", "",
			"@linux #0 &\n#0 linux \"sleep 1\""},
		{"extglob is not a target", "shopt -s extglob; ls @(a|b)", "",
			"shopt -s extglob\nls @(a|b)"},
		{"email is not a target", "echo bob@host", "", "echo bob@host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planString(t, tc.src, tc.dflt)
			if err != nil {
				t.Fatalf("plan %q: %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("plan %q:\ngot:\n%s\nwant:\n%s", tc.src, got, tc.want)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name, src string
		status    int
		msg       string
	}{
		{"unknown target", "@nope ls", 127, "unknown target @nope (targets: @spirit @docker @linux)"},
		{"unknown after host", "echo hi; @nope ls", 127, "unknown target @nope"},
		{"unknown in redirect", "echo hi > @nope /x", 127, "unknown target @nope"},
		{"unknown nested", "if true; then x=$(@nope ls); fi", 127, "unknown target @nope"},
		{"lone at", "@ ls", 127, "@ must be followed by a target name"},
		{"docker colon", "@docker: ls", 127, "@docker: needs a container name"},
		{"redirect without path", "echo hi > @linux", 2, "needs a path"},
		{"nested target in remote text", "@linux ls | { @spirit cat; }", 2, "cannot stand inside"},
		{"spirit without command", "F=1 @spirit", 2, "@spirit needs a command"},
		{"nul byte", "echo a\x00b", 2, "NUL byte"},
		{"syntax", "echo 'open", 2, "reached EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := planString(t, tc.src, "")
			if err == nil {
				t.Fatalf("plan %q: no error", tc.src)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("plan %q: error %q does not say %q", tc.src, err, tc.msg)
			}
			status := 2
			var pe *planError
			if errors.As(err, &pe) {
				status = pe.status
			}
			if status != tc.status {
				t.Errorf("plan %q: status %d, want %d", tc.src, status, tc.status)
			}
		})
	}
}
