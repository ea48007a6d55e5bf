package vmctl

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// The options of Ops are pflag's, as cobra parses them, with values of
// their own: a value given twice is a mistake, and a bad one is said in
// the option's words.

// errTwice is an option given twice.
var errTwice = errors.New("given twice")

func boolOption(fs *pflag.FlagSet, p *bool, name, usage string) {
	fs.Var(&boolValue{p: p}, name, usage)
	fs.Lookup(name).NoOptDefVal = "true"
}

func durationOption(fs *pflag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var(&durationValue{p: p, name: name}, name, usage)
}

type boolValue struct {
	p   *bool
	set bool
}

func (v *boolValue) Type() string { return "bool" }

func (v *boolValue) String() string { return strconv.FormatBool(v.p != nil && *v.p) }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	switch {
	case v.set:
		return errTwice
	case err != nil:
		return fmt.Errorf("%s: want true or false", s)
	}
	*v.p, v.set = b, true
	return nil
}

type durationValue struct {
	p    *time.Duration
	name string
	set  bool
}

func (v *durationValue) Type() string { return "duration" }

func (v *durationValue) String() string {
	if v.p == nil {
		return time.Duration(0).String()
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	if v.set {
		return errTwice
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("--%s %s: want a duration such as 30s or 2m", v.name, s)
	}
	*v.p, v.set = d, true
	return nil
}

// ParseWord reads the arguments of the control word @vm --VERB: the
// options as the command line reads them, then the count of the rest,
// which it returns.
func (op *Op) ParseWord(vm string, args []string) ([]string, error) {
	fs := pflag.NewFlagSet(op.Verb, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if op.Options != nil {
		op.Options(fs, false)
	}
	if err := fs.Parse(args); err != nil {
		return nil, op.FlagError(err, op.wordUsage(vm, fs))
	}
	if err := op.CheckArgs(fs.Args(), op.wordUsage(vm, fs)); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// FlagError is the error for a mistake in the options: a bad value in the
// option's words, anything else the usage.
func (op *Op) FlagError(err, usage error) error {
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) && !errors.Is(err, errTwice) {
		return bad.Unwrap()
	}
	return usage
}

// CheckArgs counts the arguments after the VM's name.
func (op *Op) CheckArgs(args []string, usage error) error {
	if len(args) < op.Min || len(args) > op.Max {
		return usage
	}
	return nil
}

// wordUsage is the usage error of the control word: how to use it, what
// it takes, or that it takes nothing.
func (op *Op) wordUsage(vm string, fs *pflag.FlagSet) error {
	word := "--" + op.Verb
	switch opts := optionsUsage(fs, false); {
	case op.Max > 0:
		return fmt.Errorf("usage: @%s %s", vm, join(word, op.Args, opts, op.Hint))
	case opts != "":
		return fmt.Errorf("%s takes only %s", word, opts)
	}
	return fmt.Errorf("%s takes no arguments", word)
}

// CLIArgs splits the arguments of `spirit vm VERB` into the VM's name
// and the rest, and counts the rest; usage is the error for a wrong count.
func (op *Op) CLIArgs(args []string, usage error) (name string, rest []string, err error) {
	if len(args) <= op.NameAt {
		return "", nil, usage
	}
	rest = append(slices.Clone(args[:op.NameAt]), args[op.NameAt+1:]...)
	return args[op.NameAt], rest, op.CheckArgs(rest, usage)
}

// CLIUse is the command line's usage after `spirit vm`.
func (op *Op) CLIUse() string {
	if op.Use != "" {
		return op.Verb + " " + op.Use
	}
	return join(op.Verb, "NAME", op.Args)
}

// CLIUsage is the usage error of `spirit vm VERB`, whose options are fs.
func (op *Op) CLIUsage(fs *pflag.FlagSet) error {
	return fmt.Errorf("usage: spirit vm %s", join(op.CLIUse(), optionsUsage(fs, true), op.Hint))
}

// optionsUsage is "--fresh --timeout DURATION": each option of fs but
// help, with its value's kind; each in brackets when optional is set.
func optionsUsage(fs *pflag.FlagSet, optional bool) string {
	var words []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		w := "--" + f.Name
		if f.NoOptDefVal == "" {
			w += " " + strings.ToUpper(f.Value.Type())
		}
		if optional {
			w = "[" + w + "]"
		}
		words = append(words, w)
	})
	return strings.Join(words, " ")
}

// join joins the words that are not empty.
func join(words ...string) string {
	var out []string
	for _, w := range words {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}
