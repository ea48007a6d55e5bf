package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// invocation is a command line in bash's own form: options bash takes,
// then -c LINE [NAME ARGS...] or FILE [ARGS...].
type invocation struct {
	flags   []string // for set and shopt: "-e", "-o", "pipefail"
	login   bool
	command bool   // -c
	line    string // with -c
	file    string // without -c
	rest    []string
}

// setLetters are the single-letter options of bash's set.
const setLetters = "abefhkmnptuvxBCEHPT"

// subcommands are spirit's own commands: a word that names one is never
// taken for a script.
var subcommands = []string{"vm", "gpu", "doctor", "version", "completion", "segment", "help"}

// parseInvocation reads args (without argv[0]) as bash would. ok is false
// when they are not for bash (a subcommand, no command at all, --help):
// cobra reads them then. Everything after -c LINE or FILE is the script's,
// never spirit's.
func parseInvocation(args []string) (inv invocation, ok bool, err error) {
	i := 0
loop:
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--", a == "-":
			i++
			break loop
		case a == "--login":
			inv.login = true
		case strings.HasPrefix(a, "--"):
			return inv, false, nil // spirit's own long options (--help)
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			n, err := inv.letters(a, args[i+1:])
			if err != nil {
				return inv, true, err
			}
			i += n
		default:
			break loop
		}
		i++
	}
	if inv.command {
		if i >= len(args) {
			return inv, true, errors.New("-c: option requires an argument")
		}
		inv.line, inv.rest = args[i], args[i+1:]
		return inv, true, nil
	}
	if i >= len(args) || slices.Contains(subcommands, args[i]) {
		return inv, false, nil
	}
	inv.file, inv.rest = args[i], args[i+1:]
	return inv, true, nil
}

// letters reads one cluster of single-letter options (-ec, +o, -xo
// pipefail); n is how many of the following arguments it took.
func (inv *invocation) letters(a string, next []string) (n int, err error) {
	sign := a[:1]
	for _, c := range a[1:] {
		switch {
		case c == 'c' && sign == "-":
			inv.command = true
		case c == 'l' && sign == "-":
			inv.login = true
		case c == 'o' || c == 'O':
			if n >= len(next) {
				return n, fmt.Errorf("%s%c: option requires an argument", sign, c)
			}
			inv.flags = append(inv.flags, sign+string(c), next[n])
			n++
		case strings.ContainsRune(setLetters, c):
			inv.flags = append(inv.flags, sign+string(c))
		default:
			return n, fmt.Errorf("%s%c: invalid option", sign, c)
		}
	}
	return n, nil
}
