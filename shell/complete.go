package shell

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/c-bata/go-prompt"

	"spirit/router"
	"spirit/target"
)

// wordSeparators end the part of a word that a suggestion replaces. With
// ':' and '/' among them, "@docker:we" completes the container name and
// "/usr/lo" the last path element.
const wordSeparators = " \t|;&<>()/:="

// tokenBreaks end a whole shell word; segmentBreaks start a new command.
const (
	tokenBreaks   = " \t\n|;&()<>"
	segmentBreaks = "\n|;&("
)

// Cache lifetimes: go-prompt asks for completions at every key.
const (
	commandsTTL   = 10 * time.Second
	containersTTL = 3 * time.Second
	// containersWait bounds a call to the Docker Engine made while typing.
	containersWait = 500 * time.Millisecond
	maxSuggestions = 500
)

// builtins are the interpreter's own commands, offered with those on PATH.
func builtins() []string {
	return []string{
		"alias", "bg", "break", "builtin", "cd", "command", "continue", "dirs", "echo",
		"eval", "exec", "exit", "export", "false", "getopts", "popd", "printf", "pushd",
		"pwd", "read", "readonly", "return", "set", "shift", "shopt", "source", "test",
		"trap", "true", "type", "umask", "unalias", "unset", "wait",
	}
}

// completer makes go-prompt's suggestions: target words after "@",
// container names after "@docker:", control words after a target word,
// commands from PATH for the first word on the host, paths otherwise.
// Commands and paths are the host's, so none are offered in a segment that
// runs elsewhere.
type completer struct {
	// ctx is the shell's: go-prompt's Completer has no context of its own.
	ctx        context.Context
	targets    func() []string                          // target words, "@spirit" first
	dflt       func() string                            // the default target word
	lookup     func(name string) (target.Target, error) // for control words
	containers func(context.Context) ([]string, error)  // nil without Docker
	dir        func() string                            // the shell's directory
	env        []string                                 // PATH and HOME

	// Caches; the completer runs on the prompt's goroutine only.
	cmds     []string
	cmdsPath string
	cmdsAt   time.Time
	ctrs     []string
	ctrsAt   time.Time
}

// complete is the prompt.Completer.
func (c *completer) complete(d prompt.Document) []prompt.Suggest {
	return c.suggest(d.TextBeforeCursor(), d.LastKeyStroke() == prompt.Tab)
}

// suggest completes the text before the cursor. Each suggestion replaces
// the word after the last of wordSeparators, as go-prompt does. tabbed
// says that the last key was Tab: only then is an empty word completed to
// the whole directory.
func (c *completer) suggest(before string, tabbed bool) []prompt.Suggest {
	word := before[strings.LastIndexAny(before, wordSeparators)+1:]
	tok := before[strings.LastIndexAny(before, tokenBreaks)+1:]
	seg := before[strings.LastIndexAny(before, segmentBreaks)+1 : len(before)-len(tok)]
	fields := strings.Fields(seg)
	for len(fields) > 0 && isAssignment(fields[0]) {
		fields = fields[1:]
	}
	explicit := len(fields) > 0 && strings.HasPrefix(fields[0], "@")
	target := c.dflt()
	if explicit {
		target, fields = fields[0], fields[1:]
	}
	remote := target != router.Host
	first := len(fields) == 0

	var list []prompt.Suggest
	switch {
	case strings.HasPrefix(tok, "@"):
		list = c.targetWords(tok)
	case first && strings.HasPrefix(tok, "-"), first && explicit && tok == "" && remote:
		list = c.controlWords(target)
	case remote:
		// The target's commands and files are not known here.
	case first && !strings.Contains(tok, "/"):
		if tok != "" {
			list = c.commands()
		}
	case tok != "" || tabbed:
		list = c.paths(tok, word)
	}
	return prompt.FilterHasPrefix(list, word, false)
}

// targetWords completes "@do" to "@docker" and "@docker:w" to a running
// container's name.
func (c *completer) targetWords(tok string) []prompt.Suggest {
	kind, _, named := strings.Cut(tok[1:], ":")
	if !named {
		var list []prompt.Suggest
		for _, t := range c.targets() {
			desc := ""
			if t == router.Host {
				desc = "the host"
			}
			list = append(list, prompt.Suggest{Text: t, Description: desc})
		}
		return list
	}
	if kind != "docker" || c.containers == nil {
		return nil
	}
	var list []prompt.Suggest
	for _, n := range c.runningContainers() {
		list = append(list, prompt.Suggest{Text: n, Description: "container"})
	}
	return list
}

// runningContainers asks the Docker Engine at most every containersTTL,
// and not for longer than containersWait, so that typing never stalls on
// a slow or absent engine. A failure is cached as an empty list.
func (c *completer) runningContainers() []string {
	if !c.ctrsAt.IsZero() && time.Since(c.ctrsAt) < containersTTL {
		return c.ctrs
	}
	ctx, cancel := context.WithTimeout(c.ctx, containersWait)
	defer cancel()
	names, err := c.containers(ctx)
	if err != nil {
		names = nil
	}
	c.ctrs, c.ctrsAt = names, time.Now()
	return names
}

// controlWords lists what a target word takes ("--pause", ...), when its
// target is a target.Controller.
func (c *completer) controlWords(word string) []prompt.Suggest {
	name := strings.TrimPrefix(word, "@")
	if name == "" || word == router.Host {
		return nil
	}
	t, err := c.lookup(name)
	if err != nil {
		return nil
	}
	ctl, ok := t.(target.Controller)
	if !ok {
		return nil
	}
	var list []prompt.Suggest
	for _, w := range ctl.ControlWords() {
		list = append(list, prompt.Suggest{Text: w, Description: word})
	}
	return list
}

// commands lists the interpreter's builtins and the files in the PATH
// directories, rescanned at most every commandsTTL. Files are not checked
// for an exec bit: a stat per file at every key would cost more than the
// rare non-program in a bin directory.
func (c *completer) commands() []prompt.Suggest {
	path := getenv(c.env, "PATH")
	if c.cmds == nil || path != c.cmdsPath || time.Since(c.cmdsAt) > commandsTTL {
		names := builtins()
		for _, dir := range filepath.SplitList(path) {
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if !e.IsDir() && plainName(e.Name()) {
					names = append(names, e.Name())
				}
			}
		}
		slices.Sort(names)
		c.cmds, c.cmdsPath, c.cmdsAt = slices.Compact(names), path, time.Now()
	}
	list := make([]prompt.Suggest, len(c.cmds))
	for i, n := range c.cmds {
		list[i] = prompt.Suggest{Text: n}
	}
	return list
}

// paths lists the entries of the directory that tok names, to replace
// word (the part of tok after its last '/'). Directories end in '/'.
func (c *completer) paths(tok, word string) []prompt.Suggest {
	// In "PATH=/a:/usr/lo" or "--file=/usr/lo" the path is after = or :.
	p := tok[strings.LastIndexAny(tok, "=:")+1:]
	dir := strings.TrimSuffix(p, word)
	switch {
	case dir == "~/" || strings.HasPrefix(dir, "~/"):
		dir = filepath.Join(getenv(c.env, "HOME"), dir[2:])
	case dir == "":
		dir = c.dir()
	case !filepath.IsAbs(dir):
		dir = filepath.Join(c.dir(), dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var list []prompt.Suggest
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, word) || !plainName(name) || (name[0] == '.' && !strings.HasPrefix(word, ".")) {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.IsDir() {
			name += "/"
		}
		list = append(list, prompt.Suggest{Text: name})
		if len(list) == maxSuggestions {
			break
		}
	}
	return list
}

// plainName reports whether a file name can be inserted into a line as it
// is. Names that would need quoting are left out rather than inserted in a
// form that runs something else.
func plainName(name string) bool {
	return !strings.ContainsAny(name, wordSeparators+"\n'\"\\$`*?[]{}!#~")
}

// isAssignment reports whether a word is a NAME=value prefix.
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
