package router

import (
	"cmp"
	"errors"
	"strings"
	"testing"

	"spirit/target"
)

// planBash plans src with the default target dflt ("" is the host) and
// returns the bash text, with the stand-in's path shown as SELF.
func planBash(t *testing.T, src, dflt string) (string, *Planner, error) {
	t.Helper()
	p := NewPlanner(PlannerOptions{Targets: fakeResolver{}.targets(), Default: cmp.Or(dflt, target.Host), Self: "/bin/spirit"})
	out, err := p.Plan(src)
	return strings.ReplaceAll(out, "/bin/spirit", "SELF"), p, err
}

// storeWrap is what a statement with one redirection to a target file
// becomes: open is the stand-in's process substitution, cmd the statement
// with its redirection to the stand-in's descriptor (see planredir.go).
func storeWrap(open, cmd string) string {
	const v = " $__spirit_fd1 $__spirit_pid1"
	return " { exec {__spirit_fd1}" + open + "; __spirit_pid1=$!; if " + cmd +
		"; then __spirit_stored" + v + "; else __spirit_stored" + v + "; fi; }"
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name, src, dflt, want string
	}{
		{"host only", "ls | wc -l", "", "ls | wc -l"},
		{"unparsable host line", "echo $((", "", "echo $(("},
		{"one remote", "@docker:c1 cat /etc/hostname", "", "@docker:c1 cat /etc/hostname"},
		{"remote then host", "@docker:c1 cat /etc/hostname | @spirit tr a-z A-Z", "",
			"@docker:c1 cat /etc/hostname | tr a-z A-Z"},
		{"sticky target", "@docker:c1 echo x | cat /etc/hostname", "",
			"@docker:c1 -c 'echo x | cat /etc/hostname'"},
		{"host into remote", "seq 1 100000 | @docker:c1 wc -l", "", "seq 1 100000 | @docker:c1 wc -l"},
		{"verbatim text", `@linux echo $HOME 'a  b' C:\Users`, "",
			`@linux -c 'echo $HOME '\''a  b'\'' C:\Users'`},
		{"assignment prefix", "v=abc; F=$v @docker:c1 echo $F", "",
			"v=abc; F=$v @docker:c1 -e F -c 'echo $F'"},
		{"write host file", "@docker:c1 echo hi > @spirit /tmp/f", "", "@docker:c1 echo hi > /tmp/f"},
		{"write target file", "echo data | @spirit cat > @docker:c1 /tmp/y", "",
			"echo data | " + storeWrap("> >(SELF segment --write @docker:c1 /tmp/y)", "cat >&$__spirit_fd1")},
		{"read target file", "wc -c < @linux /etc/hosts", "",
			storeWrap("< <(SELF segment --read @linux /etc/hosts)", "wc -c <&$__spirit_fd1")},
		{"append", "date >> @linux /var/log/x", "",
			storeWrap("> >(SELF segment --append @linux /var/log/x)", "date >&$__spirit_fd1")},
		{"compound write", "for i in 1 2; do echo $i; done > @linux /x", "",
			storeWrap("> >(SELF segment --write @linux /x)", "for i in 1 2; do echo $i; done >&$__spirit_fd1")},
		{"targeted redirect splits segment", "@linux cat < @spirit /etc/hosts | sort", "",
			"@linux cat < /etc/hosts | @linux sort"},
		{"plain redirect stays", "@linux ls > /tmp/x 2>&1", "", "@linux -c 'ls > /tmp/x 2>&1'"},
		{"three segments", "@linux a | b | @docker c | @spirit d", "",
			"@linux -c 'a | b' | @docker c | d"},
		{"pipe all", "@linux a |& b | @spirit c", "", "@linux -c 'a 2>&1 | b' | c"},
		{"desktop", "@linux --desktop start notepad.exe", "", "@linux --desktop start notepad.exe"},
		{"desktop text", `@linux --desktop dir C:\Users | @spirit cat`, "", `@linux --desktop -c 'dir C:\Users' | cat`},
		{"desktop env", "F=x @linux --desktop echo %F%", "", "F=x @linux --desktop -e F -c 'echo %F%'"},
		{"desktop not a control word", "@linux --desktop --status", "", "@linux --desktop -c '--status'"},
		{"desktop on the default target", "--desktop notepad.exe", "linux", "@linux --desktop notepad.exe"},
		{"desktop text on the default target", `--desktop dir C:\Users`, "linux", `@linux --desktop -c 'dir C:\Users'`},
		{"lone target", "@docker:c1", "", ":"},
		{"lone spirit", "@spirit", "linux", ":"},
		{"default target", "cat /etc/hostname | wc -c", "docker:c1",
			"@docker:c1 -c 'cat /etc/hostname | wc -c'"},
		{"default target loop", "for i in 1 2; do echo $i; done", "linux",
			"@linux -c 'for i in 1 2; do echo $i; done'"},
		{"default with host segment", "cat x | @spirit wc", "linux", "@linux cat x | wc"},
		{"lone target sets later lines", "@linux\nuname", "", ":\n@linux uname"},
		{"nested in host control flow", "if @linux true; then echo ok; fi", "",
			"if @linux true; then echo ok; fi"},
		{"command substitution", "x=$(@linux hostname); echo $x", "", "x=$(@linux hostname); echo $x"},
		{"function body", "f() { @linux ls -l \"$1\"; }", "", "f() { @linux -c 'ls -l \"$1\"'; }"},
		{"heredoc", "@linux cat <<EOF\nhello $x\nEOF\necho after", "",
			"@linux -c 'cat <<EOF\nhello $x\nEOF'\necho after"},
		{"heredoc mid pipeline", "@linux cat <<EOF | grep h\nhello\nEOF", "",
			"@linux -c 'cat <<EOF | grep h\nhello\nEOF'\n"},
		{"control word", "@docker:c1 --pause", "", "@docker:c1 --pause"},
		{"control word args", `@linux --snapshot save "$n"`, "", `@linux --snapshot save "$n"`},
		{"dash first word", "@linux -x", "", "@linux -c '-x'"},
		{"negated", "! @linux false", "", "! @linux false"},
		{"background", "@linux sleep 1 &", "", "@linux sleep 1 &"},
		{"extglob is not a target", "shopt -s extglob; ls @(a|b)", "", "shopt -s extglob; ls @(a|b)"},
		{"email is not a target", "echo bob@host", "", "echo bob@host"},
		{"negated store", "! echo x > @linux f", "",
			"! " + storeWrap("> >(SELF segment --write @linux f)", "echo x >&$__spirit_fd1")},
		{"exec store", "exec > @linux /log", "", "exec > >(SELF segment --write @linux /log)"},
		{"store of a remote segment", "@docker:c1 echo hi 2> @linux /e", "",
			storeWrap("> >(SELF segment --write @linux /e)", "@docker:c1 echo hi 2>&$__spirit_fd1")},
		{"store keeps its place", "cat > @linux /x 2>&1", "",
			storeWrap("> >(SELF segment --write @linux /x)", "cat >&$__spirit_fd1 2>&1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := planBash(t, tc.src, tc.dflt)
			if err != nil {
				t.Fatalf("plan %q: %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("plan %q:\ngot:\n%s\nwant:\n%s", tc.src, got, tc.want)
			}
		})
	}
}

func TestPlanDefault(t *testing.T) {
	_, p, err := planBash(t, "@linux\nuname", "")
	if err != nil || p.Default() != "@linux" {
		t.Fatalf("default after @linux: %s, %v", p.Default(), err)
	}
	if out, _ := p.Plan("ls"); out != "@linux ls" {
		t.Errorf("next line: %q", out)
	}
	if out, _ := p.Plan("@spirit"); out != ":" || p.Default() != "@spirit" {
		t.Errorf("@spirit: %q, default %s", out, p.Default())
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
		{"desktop without command", "@linux --desktop", 2, "@linux needs a command"},
		{"nul byte", "@linux a\x00b", 2, "NUL byte"},
		{"syntax", "@linux echo 'open", 2, "reached EOF"},
		{"line of a script", "echo\n@nope x", 127, "line 2:1: unknown target @nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := planBash(t, tc.src, "")
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("plan %q: error %v, want a *PlanError", tc.src, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) || pe.Status != tc.status {
				t.Errorf("plan %q: %d %q, want %d and %q", tc.src, pe.Status, pe.Msg, tc.status, tc.msg)
			}
		})
	}
}
