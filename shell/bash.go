package shell

import (
	"context"
	"io"

	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"spirit/config"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"spirit/internal/rootfile"
	"spirit/router"
	"spirit/target"
)

// bashPath is the host's bash, which runs the host's part of every line.
const bashPath = "/bin/bash"

// maxArg is under MAX_ARG_STRLEN (128 KiB), the longest argument execve
// takes: a longer planned script is read by bash from a file instead.
const maxArg = 120 << 10

// Bash is a bash about to run planned text: `bash -c TEXT NAME ARGS...`
// (or `bash FILE ARGS...`), with spirit's prelude sourced first through
// BASH_ENV from an in-memory file.
type Bash struct {
	args    []string // after argv[0]
	env     []string
	prelude *os.File
	script  *os.File // the planned script, when too long for -c; or nil
}

// PrepareCommand plans line for `spirit -c LINE [NAME ARGS...]`. When it
// returns nil, the status says why (the message is printed).
func PrepareCommand(o Options, line string, args []string) (*Bash, int) {
	name, params := "spirit", []string(nil)
	if len(args) > 0 {
		name, params = args[0], args[1:]
	}
	return prepare(o, line, name, params, "")
}

// PrepareScript plans the file at path for `spirit FILE [ARGS...]`.
func PrepareScript(o Options, path string, args []string) (*Bash, int) {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(errOut(o), "spirit: %v\n", err)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 127 // as bash: the script is not there
		}
		return nil, 126
	}
	return prepare(o, string(src), path, args, path)
}

func prepare(o Options, src, name string, params []string, file string) (*Bash, int) {
	msgs := errOut(o)
	// A bad configuration is reported whatever the line; it is read again
	// (and not reported twice) only if the line names a target.
	if _, _, err := config.Load(config.Paths(o.Env)); err != nil {
		fmt.Fprintf(msgs, "spirit: %v\nspirit: going on without this configuration file\n", err)
	}
	targets := &lazyTargets{make: func() *target.Registry { return NewTargets(o, msgs, io.Discard) }}
	defer targets.close()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(msgs, "spirit: find spirit's own binary: %v\n", err)
		return nil, 1
	}
	p := router.NewPlanner(router.PlannerOptions{Targets: targets, Default: target.Host, Self: self})
	var rc string
	if o.Login {
		if rc, err = readRC(o, p); err != nil {
			fmt.Fprintf(msgs, "spirit: %v\n", err)
		}
	}
	text, err := p.Plan(src)
	if err != nil {
		return nil, planFailed(o, name, file, err)
	}
	b := &Bash{}
	if err := b.setPrelude(p.Prelude()+rc, o); err != nil {
		fmt.Fprintf(msgs, "spirit: %v\n", err)
		return nil, 1
	}
	switch {
	case file != "" && text == src:
		// Nothing to plan: bash reads the file itself, so that
		// BASH_SOURCE and its messages name it.
		b.args = append(b.args, file)
	case len(text) > maxArg:
		// $0 is the script's name, set on its first line so that line
		// numbers stay; messages still name /dev/fd/N.
		text = "BASH_ARGV0=" + bashQuote(name) + "; " + text
		if b.script, err = memFile("spirit-script", text); err != nil {
			fmt.Fprintf(msgs, "spirit: %v\n", err)
			return nil, 1
		}
		b.args = append(b.args, "/dev/fd/"+strconv.Itoa(int(b.script.Fd())))
	default:
		b.args = append(b.args, "-c", text, name)
	}
	b.args = append(b.args, params...)
	if o.Login {
		b.args = append([]string{"-l"}, b.args...)
	}
	b.env = o.Env
	return b, 0
}

func planFailed(o Options, name, file string, err error) int {
	var pe *router.PlanError
	status, msg := 2, err.Error()
	if errors.As(err, &pe) {
		status, msg = pe.Status, pe.Msg
	}
	if file != "" {
		msg = name + ": " + msg
	}
	fmt.Fprintf(errOut(o), "spirit: %s\n", msg)
	return status
}

// setPrelude puts the prelude in an in-memory file, with what restores
// the environment bash would have had and the options given before -c.
// The options are set at its end, so that -x and -v do not show the
// prelude itself.
func (b *Bash) setPrelude(prelude string, o Options) error {
	var sb strings.Builder
	// $_ is what bash set before reading BASH_ENV; the last command
	// gives it back (see below).
	sb.WriteString("__spirit_u=$_\n")
	sb.WriteString(prelude)
	if v, ok := lookupEnv(o.Env, "BASH_ENV"); ok {
		fmt.Fprintf(&sb, "export BASH_ENV=%s\n", bashQuote(v))
		sb.WriteString(`if [[ -n $BASH_ENV ]]; then . "$BASH_ENV"; fi` + "\n")
	} else {
		sb.WriteString("unset BASH_ENV\n")
	}
	sb.WriteString("exec PRELUDE_FD<&-\n")
	// The last command leaves no variable or function behind, sets the
	// options given before -c last (so -x and -v do not show the
	// prelude), and gives $_ back: $_ is a call's last argument.
	sb.WriteString("__spirit_end() {\n  unset __spirit_u\n  unset -f __spirit_end\n")
	sb.WriteString(setFlags(o.BashFlags))
	sb.WriteString("}\n__spirit_end \"$__spirit_u\"\n")
	f, err := memFile("spirit-prelude", sb.String())
	if err != nil {
		return err
	}
	b.prelude = f
	return nil
}

// setFlags turns bash's options given before -c into set and shopt
// commands.
func setFlags(flags []string) string {
	var sb, last strings.Builder
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		switch {
		case (f == "-o" || f == "+o") && i+1 < len(flags):
			fmt.Fprintf(&sb, "  set %s %s\n", f, flags[i+1])
			i++
		case (f == "-O" || f == "+O") && i+1 < len(flags):
			op := "-s"
			if f == "+O" {
				op = "-u"
			}
			fmt.Fprintf(&sb, "  shopt %s %s\n", op, flags[i+1])
			i++
		case strings.ContainsAny(f, "xv"):
			// Last: what follows them would be shown.
			fmt.Fprintf(&last, "  set %s\n", f)
		default:
			fmt.Fprintf(&sb, "  set %s\n", f)
		}
	}
	return sb.String() + last.String()
}

// memFile is an in-memory file holding text, inherited across exec.
func memFile(name, text string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, 0)
	if err != nil {
		return nil, fmt.Errorf("memfd for the %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the %s: %w", name, err)
	}
	return f, nil
}

// Exec replaces spirit with bash: nothing of spirit stays between the
// user and bash's jobs.
func (b *Bash) Exec() error {
	fd := int(b.prelude.Fd())
	syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, 0)
	if b.script != nil {
		syscall.RawSyscall(syscall.SYS_FCNTL, b.script.Fd(), syscall.F_SETFD, 0)
	}
	if err := b.rewritePrelude(fd); err != nil {
		return err
	}
	env := append(withoutEnv(b.env, "BASH_ENV"), "BASH_ENV=/dev/fd/"+strconv.Itoa(fd))
	return syscall.Exec(bashPath, append([]string{"bash"}, b.args...), env)
}

// Run runs bash as a child with o's files, and returns its status. spirit
// ignores SIGINT and SIGQUIT meanwhile, as a shell waiting for its
// foreground job does: the terminal sends them to bash too.
func (b *Bash) Run(ctx context.Context, o Options) int {
	defer b.close()
	const fd = 3
	if err := b.rewritePrelude(fd); err != nil {
		fmt.Fprintf(errOut(o), "spirit: %v\n", err)
		return 1
	}
	args := b.args
	files := []*os.File{b.prelude}
	if b.script != nil {
		files = append(files, b.script)
		args = slicesReplace(args, "/dev/fd/"+strconv.Itoa(int(b.script.Fd())), "/dev/fd/4")
	}
	cmd := exec.CommandContext(ctx, bashPath, args...)
	cmd.Args[0] = "bash"
	cmd.Env = append(withoutEnv(b.env, "BASH_ENV"), "BASH_ENV=/dev/fd/"+strconv.Itoa(fd))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	cmd.ExtraFiles = files
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Reset(syscall.SIGINT, syscall.SIGQUIT)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(errOut(o), "spirit: run bash: %v\n", err)
	return 126
}

func (b *Bash) close() {
	b.prelude.Close()
	if b.script != nil {
		b.script.Close()
	}
}

// rewritePrelude puts the prelude's own descriptor number in its text
// (it closes it) and rewinds it.
func (b *Bash) rewritePrelude(fd int) error {
	data, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(b.prelude.Fd())))
	if err != nil {
		return fmt.Errorf("read the prelude back: %w", err)
	}
	text := strings.Replace(string(data), "exec PRELUDE_FD<&-", "exec "+strconv.Itoa(fd)+"<&-", 1)
	if err := b.prelude.Truncate(0); err != nil {
		return fmt.Errorf("rewrite the prelude: %w", err)
	}
	if _, err := b.prelude.WriteAt([]byte(text), 0); err != nil {
		return fmt.Errorf("rewrite the prelude: %w", err)
	}
	return nil
}

// readRC plans ~/.spiritrc for a login shell; "" when there is none. As
// root, one that another user could change is refused: $HOME may be a
// user's (sudo -E), and their commands must not run as root.
func readRC(o Options, p *router.Planner) (string, error) {
	home := getenv(o.Env, "HOME")
	if home == "" {
		return "", nil
	}
	path := filepath.Join(home, ".spiritrc")
	src, err := rootfile.ReadFile(path, os.Geteuid() == 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	text, err := p.Plan(string(src))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return text + "\n", nil
}

func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func slicesReplace(s []string, old, repl string) []string {
	out := append([]string(nil), s...)
	for i, v := range out {
		if v == old {
			out[i] = repl
		}
	}
	return out
}

func bashQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lazyTargets reads the configuration and makes the registry only when the
// planner looks a target up: a line without targets needs neither.
type lazyTargets struct {
	make func() *target.Registry
	r    *target.Registry
}

func (l *lazyTargets) get() *target.Registry {
	if l.r == nil {
		l.r = l.make()
	}
	return l.r
}

func (l *lazyTargets) Lookup(name string) (target.Target, error) { return l.get().Lookup(name) }
func (l *lazyTargets) IsLocal(name string) bool                  { return name == target.Host || l.get().IsLocal(name) }
func (l *lazyTargets) Names() []string                           { return l.get().Names() }

func (l *lazyTargets) close() {
	if l.r != nil {
		l.r.Close()
	}
}
