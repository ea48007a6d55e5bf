package shell

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/c-bata/go-prompt"
	"golang.org/x/sys/unix"

	"spirit/router"
)

// interactive is the prompt loop.
//
// It calls go-prompt's Input once per line rather than handing it an
// executor through Run. Run's own signal handler calls os.Exit on SIGTERM,
// SIGQUIT and even a SIGINT sent with kill, skipping every deferred
// restore, and it cannot be turned off; Input has no signal handler, so
// this loop decides how the shell ends (Ctrl-D, the exit builtin, SIGTERM,
// SIGHUP, a hang-up) and always leaves through the deferred restore. For
// the same reason there is no executor and no ExitChecker: the loop simply
// returns.
func (s *shell) interactive(ctx context.Context) int {
	in, ui := s.opts.Stdin, s.opts.Stdout
	if !isTerminal(ui) {
		ui = s.opts.Stderr // draw where bash draws its prompt
	}
	fd := int(in.Fd())
	guard, err := saveTerminal(fd)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: terminal: %v\n", err)
		return s.fromStdin(ctx)
	}
	// The same mode again, in the form keyReader derives raw mode from.
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: terminal: %v\n", err)
		return s.fromStdin(ctx)
	}
	status := 0
	guard.run(func() {
		status = s.promptLoop(ctx, guard, in, ui, saved)
	})
	return status
}

// promptLoop reads and runs lines until Ctrl-D on an empty line, the exit
// builtin, or the end of ctx. The terminal is in its saved mode whenever a
// line runs.
func (s *shell) promptLoop(ctx context.Context, guard *terminalGuard, in, ui *os.File, saved *unix.Termios) int {
	keys := newKeyReader(int(in.Fd()), int(ui.Fd()), saved)
	defer context.AfterFunc(ctx, keys.end)()

	hist := &history{path: historyPath(s.opts.Env), root: os.Geteuid() == 0}
	var past []string
	if hist.path != "" {
		var err error
		if past, err = hist.load(); err != nil && !s.refusedHistory(hist, err) {
			fmt.Fprintf(errOut(s.opts), "spirit: %v\n", err)
		}
	}

	w := &styledWriter{ConsoleWriter: consoleWriter(ui)}
	var st lineState
	p, err := s.newPrompt(ctx, keys, w, &st, past)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: %v; reading commands with no prompt\n", err)
		return s.fromStdin(ctx)
	}

	if rc, done := s.readRC(ctx); done {
		return rc
	}
	ints := newInterrupts()
	defer ints.stop()
	home, root := getenv(s.opts.Env, "HOME"), os.Geteuid() == 0
	color := isTerminal(s.opts.Stdout) && ui == s.opts.Stdout
	status := 0
	for {
		w.plain, w.styled = promptLine(promptInfo{
			remote: s.remoteDefault(), dir: s.sess.Dir(), home: home, status: status, root: root,
			vms: s.vmStates(ctx),
		}, color)
		st.entered = false
		keys.resume()
		line := p.Input()
		guard.restore() // go-prompt's own restore leaves it raw
		if ctx.Err() != nil || keys.hungUp() {
			return status
		}
		if !st.entered { // Ctrl-D on an empty line
			if st.pending == "" {
				return status
			}
			// At a continuation prompt it ends the command, which the
			// router reports as unfinished, as bash does.
			status, _ = s.runLine(ctx, ints, ui, st.pending)
			st.pending = ""
			continue
		}
		if hist.path != "" {
			if err := hist.add(line); err != nil && !s.refusedHistory(hist, err) {
				s.log.Debug("history", "err", err)
			}
		}
		st.pending += line + "\n"
		if router.IsIncomplete(st.pending) {
			continue
		}
		src := st.pending
		st.pending = ""
		if strings.TrimSpace(src) == "" {
			continue // an empty line keeps $?
		}
		var interrupted bool
		status, interrupted = s.runLine(ctx, ints, ui, src)
		// The interpreter also counts a cancelled run as exiting: only
		// the exit builtin (or set -e) ends the shell, not a Ctrl-C.
		if (s.sess.Exited() && !interrupted) || ctx.Err() != nil {
			return status
		}
	}
}

// lineState is what the prompt's callbacks and the loop share; all run on
// the loop's goroutine (go-prompt's Input calls them there).
type lineState struct {
	pending string // the lines of an incomplete command so far
	entered bool   // Input returned for Enter, not for Ctrl-D
}

// newPrompt makes the go-prompt: keys from keys, drawing through w, the
// prompt or "> " while a command continues, and the shell's completion.
func (s *shell) newPrompt(ctx context.Context, keys *keyReader, w *styledWriter, st *lineState, past []string) (*prompt.Prompt, error) {
	comp := &completer{
		ctx:     ctx,
		targets: s.targets,
		dflt:    s.sess.Default,
		dir:     s.sess.Dir,
		env:     s.opts.Env,
	}
	setEntered := func(*prompt.Buffer) { st.entered = true }
	return newPrompt(comp.complete,
		prompt.OptionParser(keys),
		prompt.OptionWriter(w),
		prompt.OptionLivePrefix(func() (string, bool) {
			if st.pending != "" {
				return "> ", true
			}
			return w.plain, true
		}),
		prompt.OptionPrefixTextColor(prompt.DefaultColor),
		prompt.OptionHistory(past),
		prompt.OptionCompletionWordSeparator(wordSeparators),
		prompt.OptionAddKeyBind(
			prompt.KeyBind{Key: prompt.Enter, Fn: setEntered},
			prompt.KeyBind{Key: prompt.ControlM, Fn: setEntered},
			// Ctrl-C drops a command being continued, as in bash.
			prompt.KeyBind{Key: prompt.ControlC, Fn: func(*prompt.Buffer) { st.pending = "" }},
		),
	)
}

// runLine runs src with Ctrl-C (SIGINT) cancelling it. After a Ctrl-C
// the next prompt starts on a line of its own, past the terminal's "^C".
// A host command may die of the SIGINT before the shell's own copy of it
// arrives, so its status (128+2) counts as a Ctrl-C too, as in bash.
func (s *shell) runLine(ctx context.Context, ints *interrupts, ui *os.File, src string) (int, bool) {
	status, interrupted := ints.run(ctx, func(ctx context.Context) int {
		return s.sess.Run(ctx, src, "")
	})
	if interrupted || status == 128+int(unix.SIGINT) {
		fmt.Fprintln(ui)
	}
	return status, interrupted
}

// newPrompt is prompt.New, which panics when it cannot open /dev/tty
// (a terminal on stdin that is not the controlling one).
func newPrompt(c prompt.Completer, opts ...prompt.Option) (p *prompt.Prompt, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot start the prompt: %v", r)
		}
	}()
	return prompt.New(func(string) {}, c, opts...), nil
}

// consoleWriter is go-prompt's writer for f (stdout or stderr).
func consoleWriter(f *os.File) prompt.ConsoleWriter {
	if f.Fd() == uintptr(unix.Stderr) {
		return prompt.NewStderrWriter()
	}
	return prompt.NewStdoutWriter()
}
