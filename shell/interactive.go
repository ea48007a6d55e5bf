package shell

import (
	"context"
	"fmt"
	"os"

	"github.com/c-bata/go-prompt"
	"golang.org/x/sys/unix"

	"spirit/router"
)

// interactive is the prompt loop, with a persistent interactive bash that
// runs what the prompt reads.
//
// It calls go-prompt's Input once per line rather than handing it an
// executor through Run. Run's own signal handler calls os.Exit on SIGTERM,
// SIGQUIT and even a SIGINT sent with kill, skipping every deferred
// restore, and it cannot be turned off; Input has no signal handler, so
// this loop decides how the shell ends (Ctrl-D, the exit builtin, SIGTERM,
// SIGHUP, a hang-up) and always leaves through the deferred restore. For
// the same reason there is no executor and no ExitChecker: the loop simply
// returns.
func (s *shell) interactive(ctx context.Context, sig *caught) int {
	in, ui := s.opts.Stdin, s.opts.Stdout
	if !isTerminal(ui) {
		ui = s.opts.Stderr // draw where bash draws its prompt
	}
	fd := int(in.Fd())
	guard, err := saveTerminal(fd)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: terminal: %v\n", err)
		return s.fromStdin(ctx, sig)
	}
	// The same mode again, in the form keyReader derives raw mode from.
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: terminal: %v\n", err)
		return s.fromStdin(ctx, sig)
	}
	// bash first: it reads its startup files with the terminal its own,
	// before the prompt opens anything.
	h, status, err := s.startHost(ctx, true)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: %v\n", err)
		return 1
	}
	if h == nil {
		return status
	}
	defer func() { h.close(sig.status() != 0) }()
	guard.run(func() {
		status = s.promptLoop(ctx, h, guard, in, ui, saved)
	})
	return status
}

// promptLoop reads lines and has bash run them until bash exits (exit,
// Ctrl-D), or ctx ends. The terminal is in its saved mode, and bash's,
// whenever a line runs.
func (s *shell) promptLoop(ctx context.Context, h *host, guard *terminalGuard, in, ui *os.File, saved *unix.Termios) int {
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
	p, err := s.newPrompt(ctx, h, keys, w, &st, past)
	if err != nil {
		fmt.Fprintf(errOut(s.opts), "spirit: %v; reading commands with no prompt\n", err)
		return s.linesFrom(ctx, h)
	}
	home, root := getenv(s.opts.Env, "HOME"), os.Geteuid() == 0
	color := isTerminal(s.opts.Stdout) && ui == s.opts.Stdout
	for {
		w.plain, w.styled = promptLine(promptInfo{
			remote: s.remoteDefault(), dir: h.last.Dir, home: home, status: h.last.Status, root: root,
			vms: s.vmStates(ctx),
		}, color)
		st.entered = false
		keys.resume()
		line := p.Input()
		guard.restore() // go-prompt's own restore leaves it raw
		if ctx.Err() != nil || keys.hungUp() {
			return h.last.Status
		}
		src, ok := st.take(line, hist, s)
		if !ok {
			continue
		}
		status, err := h.run(ctx, src)
		if err != nil { // bash has exited, or the shell is ending
			return status
		}
	}
}

// take adds a line that Input returned to the command being typed, and
// returns the command once it is complete. Ctrl-D (Input returns with no
// Enter) on an empty line is bash's: exit, which warns once about stopped
// jobs; at a continuation prompt it ends the command, which the planner
// then reports as unfinished, as bash does.
func (st *lineState) take(line string, hist *history, s *shell) (string, bool) {
	if !st.entered {
		src := st.pending
		st.pending = ""
		if src == "" {
			return "exit", true
		}
		return src, true
	}
	if hist.path != "" {
		if err := hist.add(line); err != nil && !s.refusedHistory(hist, err) {
			s.log.Debug("history", "err", err)
		}
	}
	st.pending += line + "\n"
	if router.IsIncomplete(st.pending) {
		return "", false
	}
	src := st.pending
	st.pending = ""
	// An empty line, or one of comments, keeps $?.
	return src, !onlyComments(src)
}

// lineState is what the prompt's callbacks and the loop share; all run on
// the loop's goroutine (go-prompt's Input calls them there).
type lineState struct {
	pending string // the lines of an incomplete command so far
	entered bool   // Input returned for Enter, not for Ctrl-D
}

// newPrompt makes the go-prompt: keys from keys, drawing through w, the
// prompt or "> " while a command continues, and the shell's completion.
func (s *shell) newPrompt(ctx context.Context, h *host, keys *keyReader, w *styledWriter, st *lineState, past []string) (*prompt.Prompt, error) {
	comp := &completer{
		ctx:     ctx,
		targets: s.targets,
		dflt:    s.plan.Default,
		dir:     func() string { return h.last.Dir },
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
