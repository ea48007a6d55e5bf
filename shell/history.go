package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"spirit/internal/envlist"
	"spirit/internal/rootfile"
)

// history is the file of lines typed at the prompt, one a line. Each line
// is appended as soon as it is entered, so that a shell that is killed
// loses nothing and several shells add to one file.
type history struct {
	path string
	// root is whether spirit runs as root: then the file is kept only
	// where only root can change it (see rootfile).
	root bool
}

// historyKeep is how many lines are loaded at start.
const historyKeep = 5000

// historyPath is $XDG_STATE_HOME/spirit/history, by default
// ~/.local/state/spirit/history; "" when there is no home to put it in.
func historyPath(env []string) string {
	dir := envlist.UserDir(env, "XDG_STATE_HOME", filepath.Join(".local", "state"))
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "spirit", "history")
}

// load returns the last historyKeep lines, oldest first. A missing file
// is an empty history. It tightens the file's mode to 0600: the lines
// typed at a shell may hold secrets. A symbolic link is refused (a
// *rootfile.RefusedError), and so as root is a file that another user
// could change.
func (h *history) load() ([]string, error) {
	f, err := rootfile.OpenFile(h.path, os.O_RDONLY, 0, h.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	if err := tighten(f, 0o600); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := sc.Text(); strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: read %s: %w", h.path, err)
	}
	if len(lines) > historyKeep {
		lines = lines[len(lines)-historyKeep:]
	}
	return lines, nil
}

// add appends one line, creating the directory (0700) and the file (0600)
// as needed. It writes nothing through a symbolic link, and as root
// nothing where another user could change the file or its directories.
func (h *history) add(line string) error {
	if strings.TrimSpace(line) == "" || strings.ContainsAny(line, "\n\r") {
		return nil
	}
	dir := filepath.Dir(h.path)
	if err := rootfile.MkdirAll(dir, 0o700, h.root); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := rootfile.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600, h.root)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := tighten(f, 0o600); err != nil {
		f.Close()
		return fmt.Errorf("history: %w", err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("history: write %s: %w", h.path, err)
	}
	return f.Close()
}

// refusedHistory reports whether err is a refusal of the history file
// (see rootfile). It says so, once: the shell then keeps no history file.
func (s *shell) refusedHistory(h *history, err error) bool {
	var re *rootfile.RefusedError
	if !errors.As(err, &re) {
		return false
	}
	fmt.Fprintf(errOut(s.opts), "spirit: %v; this shell keeps no history file\n", err)
	h.path = ""
	return true
}

// tighten removes from f's mode whatever perm does not allow.
func tighten(f *os.File, perm fs.FileMode) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode().Perm()&^perm == 0 {
		return nil
	}
	return f.Chmod(st.Mode().Perm() & perm)
}
