package shell

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/c-bata/go-prompt"
)

// promptInfo is what the prompt shows.
type promptInfo struct {
	remote string // the default target word when it is not the host, e.g. "@docker:web"
	dir    string // the host directory
	home   string
	status int // the last status, shown when it is not 0
	root   bool
	// vms are the VMs that are not stopped, as "name:state".
	vms []vmState
}

// vmState is a VM's name and state, for the prompt.
type vmState struct{ name, state string }

// promptLine returns the prompt as plain text and styled. go-prompt
// measures the plain one (it counts every byte of an escape sequence as a
// column) and styledWriter draws the styled one in its place. Only the
// host's directory is known, so a remote default shows none.
//
// The styles use the terminal's own 16 colours, which its theme already
// fits to a light or dark background: nothing has to ask the terminal for
// its background (an answer that would arrive as keys in go-prompt's
// input).
func promptLine(in promptInfo, color bool) (plain, styled string) {
	targetStyle := lipgloss.NewStyle().Foreground(lipgloss.Green).Bold(true)
	remoteStyle := lipgloss.NewStyle().Foreground(lipgloss.Magenta).Bold(true)
	dirStyle := lipgloss.NewStyle().Foreground(lipgloss.Blue)
	statusStyle := lipgloss.NewStyle().Foreground(lipgloss.Red)
	name, style := "spirit", targetStyle
	if in.remote != "" {
		name, style = "spirit"+in.remote, remoteStyle
	}
	parts := []string{name}
	styles := []lipgloss.Style{style}
	if in.remote == "" {
		parts = append(parts, tildePath(in.dir, in.home))
		styles = append(styles, dirStyle)
	}
	for _, vm := range in.vms {
		parts = append(parts, vm.name+":"+vm.state)
		styles = append(styles, vmStyle(vm.state))
	}
	if in.status != 0 {
		parts = append(parts, fmt.Sprintf("[%d]", in.status))
		styles = append(styles, statusStyle)
	}
	sign := "$"
	if in.root {
		sign = "#"
	}
	plain = strings.Join(parts, " ") + " " + sign + " "
	if !color {
		return plain, plain
	}
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(styles[i].Render(p))
		b.WriteString(" ")
	}
	b.WriteString(sign + " ")
	// Sprint downsamples the colours for stdout's terminal, or drops them
	// when NO_COLOR is set or TERM is dumb.
	return plain, lipgloss.Sprint(b.String())
}

// tildePath writes dir under home as ~/...
func tildePath(dir, home string) string {
	if home == "" || home == "/" {
		return dir
	}
	if dir == home {
		return "~"
	}
	if rel, err := filepath.Rel(home, dir); err == nil && !strings.HasPrefix(rel, "..") {
		return "~/" + rel
	}
	return dir
}

// styledWriter is go-prompt's ConsoleWriter with one change: the plain
// prompt is written as its styled twin. go-prompt's WriteStr turns ESC into
// '?', so styles cannot travel through it.
type styledWriter struct {
	prompt.ConsoleWriter
	plain, styled string // set by the shell before each prompt
}

func (w *styledWriter) WriteStr(s string) {
	if s == w.plain && w.styled != "" {
		w.WriteRawStr(w.styled)
		return
	}
	w.ConsoleWriter.WriteStr(s)
}

// ClearTitle does nothing: go-prompt clears the window title each time
// Input returns, which would wipe a title set by the user's terminal,
// tmux or ssh at every line. The shell never sets one.
func (w *styledWriter) ClearTitle() {}

// vmStyle colours a VM's state: green runs, yellow waits, blue sleeps.
func vmStyle(state string) lipgloss.Style {
	c, ok := map[string]color.Color{"running": lipgloss.Green, "paused": lipgloss.Yellow, "suspended": lipgloss.Blue}[state]
	if !ok {
		c = lipgloss.Cyan
	}
	return lipgloss.NewStyle().Foreground(c)
}
