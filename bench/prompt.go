package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/creack/pty"
)

// promptRows time lines typed at spirit's interactive prompt against the
// same lines typed into an interactive bash, both on a pseudo-terminal of
// the bench's, in turn in the same run: from the Enter that ends the line
// (typed beforehand) to the next prompt. The remote rows compare the
// prompt with spirit -c, measured in the same run.
func promptRows(ctx context.Context, o options, vm *benchVM) ([]row, error) {
	sp, err := startPrompt(ctx, vm.env, o.dir, o.spirit)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	bash, err := startPrompt(ctx, append(vm.env, "PS1="+bashPS1), o.dir, "/bin/bash", "--norc", "--noprofile", "-i")
	if err != nil {
		return nil, err
	}
	defer bash.close()
	var rows []row
	lines := []string{"true", "seq 1 1000000 | wc -l"}
	for i, line := range lines {
		progress("prompt row %q", line)
		s, b, err := timePrompts(o.n, line, sp, bash)
		if err != nil {
			return rows, fmt.Errorf("%s at the prompt: %w", line, err)
		}
		r := row{Group: "5. host, interactive (typed on a pty)", Name: line + " at the prompt", PeerLabel: "interactive bash",
			Unit: "ms", Spirit: ms(s), Peer: ms(b), Runs: o.n,
			SpiritHow: "spirit on a pty: the line typed, then Enter; until spirit's next prompt",
			PeerHow:   "bash --norc -i on a pty: the line typed, then Enter; until bash's next prompt"}
		if i > 0 {
			r.Max = 1.1
		} else {
			r.Note = "go-prompt reads keys every 10 ms"
		}
		r.finish()
		rows = append(rows, r)
	}
	var words []string
	if slices.Contains(o.only, "docker") {
		words = append(words, "@docker:"+o.container)
	}
	if slices.Contains(o.only, "vm") {
		words = append(words, "@linux")
	}
	for _, word := range words {
		line := word + " true"
		progress("prompt row %q", line)
		d, err := timeLines(o.n, line, sp)
		if err != nil {
			return rows, fmt.Errorf("%s at the prompt: %w", line, err)
		}
		c, _, err := timePair(ctx, o.n, fmt.Sprintf("%s -c '%s'", o.spirit, line), "true", vm.env)
		if err != nil {
			return rows, err
		}
		r := row{Group: "5. host, interactive (typed on a pty)", Name: line + " at the prompt", PeerLabel: "spirit -c",
			Unit: "ms", Spirit: ms(d), Peer: ms(c), Runs: o.n,
			SpiritHow: "spirit on a pty: the line typed, then Enter; until spirit's next prompt",
			PeerHow:   fmt.Sprintf("%s -c '%s' (a new spirit each time)", o.spirit, line)}
		r.finish()
		rows = append(rows, r)
	}
	return rows, nil
}

// bashPS1 is the interactive bash's prompt, looked for after each line.
const bashPS1 = "bench-bash$ "

// spiritPrompt is spirit's prompt in its home with no status: the bench
// starts it in its home with NO_COLOR, so the prompt is plain text.
var spiritPrompt = regexp.MustCompile(`spirit ~ (\S+:\S+ )*[#$] $`)

// timePrompts times line n times at each of two prompts, in turn, after
// a warm-up, and returns the medians.
func timePrompts(n int, line string, a, b *ptyPrompt) (time.Duration, time.Duration, error) {
	var ta, tb []time.Duration
	for i := -1; i < n; i++ {
		da, err := a.timeLine(line)
		if err != nil {
			return 0, 0, fmt.Errorf("spirit: %w", err)
		}
		db, err := b.timeLine(line)
		if err != nil {
			return 0, 0, fmt.Errorf("bash: %w", err)
		}
		if i >= 0 {
			ta, tb = append(ta, da), append(tb, db)
		}
	}
	return median(ta), median(tb), nil
}

// timeLines times line n times at one prompt after a warm-up.
func timeLines(n int, line string, p *ptyPrompt) (time.Duration, error) {
	var t []time.Duration
	for i := -1; i < n; i++ {
		d, err := p.timeLine(line)
		if err != nil {
			return 0, err
		}
		if i >= 0 {
			t = append(t, d)
		}
	}
	return median(t), nil
}

// ptyPrompt is an interactive shell on a pseudo-terminal of the bench's.
type ptyPrompt struct {
	cmd    *exec.Cmd
	ptmx   *os.File
	prompt func([]byte) bool // whether the screen ends with a prompt

	mu   sync.Mutex
	out  bytes.Buffer // guarded by mu
	done chan struct{}
}

func startPrompt(ctx context.Context, env []string, dir string, argv ...string) (*ptyPrompt, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	home := dir
	cmd.Dir = home
	cmd.Env = append(append([]string(nil), env...), "NO_COLOR=1", "TERM=xterm", "HOME="+home)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		return nil, fmt.Errorf("start %s on a pty: %w", argv[0], err)
	}
	p := &ptyPrompt{cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	if argv[0] == "/bin/bash" {
		p.prompt = func(b []byte) bool { return bytes.HasSuffix(b, []byte(bashPS1)) }
	} else {
		p.prompt = func(b []byte) bool { return spiritPrompt.Match(b) }
	}
	go p.read()
	if err := p.waitPrompt(0, 10*time.Second); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: no first prompt: %w", argv[0], err)
	}
	return p, nil
}

func (p *ptyPrompt) read() {
	defer close(p.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.ptmx.Read(buf)
		p.mu.Lock()
		p.out.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// since is the screen from offset on, and the screen's length.
func (p *ptyPrompt) since(off int) ([]byte, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.out.Bytes()
	return append([]byte(nil), b[off:]...), len(b)
}

// waitPrompt waits for a prompt on the screen after offset off. Polling
// at 50 µs costs the bench's own process a little CPU, the same for both
// shells.
func (p *ptyPrompt) waitPrompt(off int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		b, _ := p.since(off)
		if p.prompt(stripANSI(b)) {
			return nil
		}
		select {
		case <-p.done:
			return errors.New("the shell ended")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no prompt after %v; the screen shows %q", within, b)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// timeLine types line, waits until it is on the screen, then times the
// Enter up to the next prompt.
func (p *ptyPrompt) timeLine(line string) (time.Duration, error) {
	_, off := p.since(0)
	if _, err := p.ptmx.WriteString(line); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := p.since(off)
		if bytes.Contains(stripANSI(b), []byte(line)) {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the typed line is not echoed: %q", b)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the echo's redraw settles
	_, off = p.since(0)
	start := time.Now()
	if _, err := p.ptmx.WriteString("\r"); err != nil {
		return 0, err
	}
	if err := p.waitPrompt(off, 30*time.Second); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (p *ptyPrompt) close() {
	_, _ = p.ptmx.WriteString("exit\r")
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
	}
	_ = p.ptmx.Close()
	_ = p.cmd.Wait()
}

var ansiSeq = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>78DM])`)

func stripANSI(b []byte) []byte { return ansiSeq.ReplaceAll(b, nil) }
