package vmctl

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestOps(t *testing.T) {
	var verbs []string
	for _, op := range Ops() {
		if op.Verb == "" || op.Short == "" || op.Run == nil || op.Min > op.Max || slices.Contains(verbs, op.Verb) {
			t.Errorf("op %+v: want a verb of its own, help, a Run and Min <= Max", op)
		}
		verbs = append(verbs, op.Verb)
	}
	if !slices.Equal(verbs, []string{"start", "stop", "kill", "pause", "resume", "status", "snapshot", "suspend", "balloon"}) {
		t.Errorf("verbs %q: the control words' order changed", verbs)
	}
}

// TestOpsBothWays checks that the command line (options parsed as cobra
// parses them, with the Op's errors) and the control word say the same of
// a bad value, and take the same good ones.
func TestOpsBothWays(t *testing.T) {
	tests := []struct {
		verb string
		args []string
		want string // "" for none
	}{
		{"stop", []string{"--timeout", "bad"}, "--timeout bad: want a duration such as 30s or 2m"},
		{"stop", []string{"--timeout=0s"}, "--timeout 0s: want a duration"},
		{"stop", []string{"--timeout", "20s"}, ""},
		{"stop", []string{"--timeout=2m"}, ""},
		{"start", []string{"--fresh"}, ""},
		{"start", []string{"--fresh=maybe"}, "maybe: want true or false"},
		{"snapshot", []string{"save", "s1"}, ""},
		{"balloon", []string{"2G"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{tt.verb}, tt.args...), " "), func(t *testing.T) {
			op := opNamed(t, tt.verb)
			_, werr := op.ParseWord("t", tt.args)
			op = opNamed(t, tt.verb)
			fs := pflag.NewFlagSet(tt.verb, pflag.ContinueOnError)
			if op.Options != nil {
				op.Options(fs, true)
			}
			var cerr error
			if err := fs.Parse(tt.args); err != nil {
				cerr = op.FlagError(err, op.CLIUsage(fs))
			}
			for how, err := range map[string]error{"@t --" + tt.verb: werr, "spirit vm " + tt.verb: cerr} {
				if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want)) {
					t.Errorf("%s: %v, want %q", how, err, tt.want)
				}
			}
		})
	}
}

// TestOpsUsage checks the usage each way: the control word's words are
// the shell's, the command line's name the VM.
func TestOpsUsage(t *testing.T) {
	for _, tt := range []struct{ verb, word, cli string }{
		{"stop", "--stop takes only --timeout DURATION", "usage: spirit vm stop NAME [--timeout DURATION]"},
		{"start", "--start takes only --fresh", "usage: spirit vm start NAME [--dry-run] [--fresh] [--wait]"},
		{"kill", "--kill takes no arguments", "usage: spirit vm kill NAME"},
		{"balloon", "usage: @t --balloon SIZE (e.g. 2G, 512M)", "usage: spirit vm balloon NAME SIZE (e.g. 2G, 512M)"},
		{"snapshot", "usage: @t --snapshot save|load|list|delete [NAME]", "usage: spirit vm snapshot save|load|list|delete NAME [SNAPSHOT]"},
	} {
		op := opNamed(t, tt.verb)
		if _, err := op.ParseWord("t", []string{"a", "b", "c"}); err == nil || err.Error() != tt.word {
			t.Errorf("@t --%s a b c: %v, want %q", tt.verb, err, tt.word)
		}
		fs := pflag.NewFlagSet(tt.verb, pflag.ContinueOnError)
		if op.Options != nil {
			op.Options(fs, true)
		}
		if _, _, err := op.CLIArgs([]string{"t", "a", "b", "c"}, op.CLIUsage(fs)); err == nil || err.Error() != tt.cli {
			t.Errorf("spirit vm %s t a b c: %v, want %q", tt.verb, err, tt.cli)
		}
	}
	// The snapshot's VM comes after its action on the command line.
	name, rest, err := opNamed(t, "snapshot").CLIArgs([]string{"save", "linux", "s1"}, nil)
	if name != "linux" || !slices.Equal(rest, []string{"save", "s1"}) || err != nil {
		t.Errorf("snapshot save linux s1: %q %q %v", name, rest, err)
	}
}

func opNamed(t *testing.T, verb string) *Op {
	t.Helper()
	for _, op := range Ops() {
		if op.Verb == verb {
			return op
		}
	}
	t.Fatalf("no op %s", verb)
	return nil
}
