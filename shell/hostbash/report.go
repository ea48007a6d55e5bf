package hostbash

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// setup is the first text bash reads. It moves the stdin of the commands
// (fd 3) and the report pipe (fd 4) to fds of bash's choosing (10 and up,
// out of the way of the user's), and defines __spirit_done, which writes
// one report: "$?" NUL "$PWD" NUL LF.
//
// An interactive bash reports from PROMPT_COMMAND, which bash runs before
// each prompt with $?, PIPESTATUS and $_ kept for the next line; spirit's
// entry is at index 99, so that a startup file or a line that assigns
// PROMPT_COMMAND (its element 0) keeps it. PS1 and PS2 are emptied at each
// report: spirit draws the prompt. bash's own history is off: spirit keeps
// the history, and the lines bash reads carry spirit's wrapping.
//
// A non-interactive bash has no prompt: a call of __spirit_done follows
// each line (see wrap).
func setup(o Options) string {
	var b strings.Builder
	// One group, read whole before it runs: one report follows it.
	b.WriteString("{ exec {__spirit_in}<&3 {__spirit_report}>&4 3<&- 4>&-\n")
	b.WriteString("readonly __spirit_in __spirit_report\n")
	b.WriteString(`__spirit_done() { local __spirit_st=$?; `)
	if o.Interactive {
		b.WriteString(`PS1= PS2=; `)
	}
	b.WriteString(`printf '%s\0%s\0\n' "$__spirit_st" "$PWD" >&"$__spirit_report"; return "$__spirit_st"; }` + "\n")
	if o.Interactive {
		b.WriteString("PROMPT_COMMAND[99]=__spirit_done\n")
		b.WriteString("set +o history +H; unset HISTFILE\n")
	}
	if o.Arg0 != "" {
		fmt.Fprintf(&b, "BASH_ARGV0=%s\n", Quote(o.Arg0))
	}
	b.WriteString("}\n")
	if !o.Interactive {
		b.WriteString("__spirit_done\n")
	}
	return b.String()
}

// wrap is the text bash is sent for one line: the line as a group whose
// stdin is the commands' (bash's own stdin is spirit's pipe), so that
// everything in it, jobs and builtins alike, reads the terminal or
// spirit's stdin. A group keeps the line's $?, PIPESTATUS and $_ as they
// would be, runs in the shell itself (cd, variables, exit), and its
// aliases and here-documents are the line's. A non-interactive bash then
// reports; "&& :" keeps a non-zero status from firing set -e or the ERR
// trap, and both calls end with the line's $_ as their last argument, so
// that $_ stays the line's.
func (b *Bash) wrap(text string) string {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	s := "{ " + text + "} <&\"$__spirit_in\"\n"
	if !b.opts.Interactive {
		s += "__spirit_done \"$_\" && : \"$_\"\n"
	}
	return s
}

// readReports reads bash's reports until the pipe ends or Close, and
// hands each to Run.
func (b *Bash) readReports() {
	r := bufio.NewReader(b.reports)
	for {
		rep, err := readReport(r)
		if err != nil {
			b.log.Debug("bash reports end", "err", err)
			return
		}
		select {
		case b.reported <- rep:
		case <-b.stop:
			return
		}
	}
}

// readReport reads one "STATUS\0PWD\0\n".
func readReport(r *bufio.Reader) (Report, error) {
	st, err := r.ReadString(0)
	if err != nil {
		return Report{}, err
	}
	dir, err := r.ReadString(0)
	if err != nil {
		return Report{}, err
	}
	if nl, err := r.ReadByte(); err != nil || nl != '\n' {
		return Report{}, fmt.Errorf("bash report: no end of record (%v)", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(st, "\x00"))
	if err != nil {
		return Report{}, fmt.Errorf("bash report: status %q: %w", st, err)
	}
	return Report{Status: n, Dir: strings.TrimSuffix(dir, "\x00")}, nil
}

// Quote is s as one bash word, in single quotes.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
