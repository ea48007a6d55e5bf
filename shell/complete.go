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

// Cache lifetimes: go-prompt asks for completions at every key.
const (
	commandsTTL = 10 * time.Second
	membersTTL  = 3 * time.Second
	// membersWait bounds a call to the Docker Engine made while typing.
	membersWait    = 500 * time.Millisecond
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

// completer makes go-prompt's suggestions: target words after "@", the
// members of a kind after "@KIND:" (container names after "@docker:"),
// control words after a target word, commands from PATH for the first
// word on the host, paths otherwise. Commands and paths are the host's,
// so none are offered in a segment that runs elsewhere. Which word is
// where, and which target it goes to, is the router's to say (router.At).
type completer struct {
	// ctx is the shell's: go-prompt's Completer has no context of its own.
	ctx     context.Context
	targets targetSource
	dflt    func() string // the default target word
	dir     func() string // the shell's directory
	env     []string      // PATH and HOME

	// Caches; the completer runs on the prompt's goroutine only.
	cmds        []string
	cmdsPath    string
	cmdsAt      time.Time
	members     []string
	membersKind string // the prefix of the kind they are of
	membersAt   time.Time
}

// targetSource is what completion asks of the registry of target kinds.
type targetSource interface {
	Names() []string
	Lookup(name string) (target.Target, error)
	IsLocal(name string) bool
	Owner(prefix string) (target.Kind, bool)
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
	cur, ok := router.At(before, strings.TrimPrefix(c.dflt(), "@"))
	if !ok {
		return nil // an open quote: nothing offered could be inserted as it is
	}
	tok := cur.Word
	remote := !c.targets.IsLocal(cur.Target)

	var list []prompt.Suggest
	switch {
	case cur.AtTarget:
		list = c.targetWords(tok)
	case cur.First && strings.HasPrefix(tok, "-"), cur.First && cur.Explicit && tok == "" && remote:
		list = c.controlWords(cur.Target)
	case remote:
		// The target's commands and files are not known here.
	case cur.First && !strings.Contains(tok, "/"):
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
	prefix, _, named := strings.Cut(tok[1:], ":")
	if !named {
		var list []prompt.Suggest
		for _, t := range c.targets.Names() {
			desc := ""
			if c.targets.IsLocal(t[1:]) {
				desc = "the host"
			}
			list = append(list, prompt.Suggest{Text: t, Description: desc})
		}
		return list
	}
	k, ok := c.targets.Owner(prefix)
	if !ok || k.Members == nil {
		return nil
	}
	var list []prompt.Suggest
	for _, n := range c.membersOf(k) {
		list = append(list, prompt.Suggest{Text: n, Description: k.Name})
	}
	return list
}

// membersOf asks the kind (the Docker Engine) at most every
// membersTTL, and not for longer than membersWait, so that typing never
// stalls on a slow or absent engine. A failure is cached as an empty list.
func (c *completer) membersOf(k target.Kind) []string {
	if c.membersKind == k.Prefix && time.Since(c.membersAt) < membersTTL {
		return c.members
	}
	ctx, cancel := context.WithTimeout(c.ctx, membersWait)
	defer cancel()
	names, err := k.Members(ctx)
	if err != nil {
		names = nil
	}
	c.members, c.membersKind, c.membersAt = names, k.Prefix, time.Now()
	return names
}

// controlWords lists what the target name takes ("--pause", ...), when
// it is a target.Controller.
func (c *completer) controlWords(name string) []prompt.Suggest {
	if name == "" || c.targets.IsLocal(name) {
		return nil
	}
	t, err := c.targets.Lookup(name)
	if err != nil {
		return nil
	}
	ctl, ok := t.(target.Controller)
	if !ok {
		return nil
	}
	var list []prompt.Suggest
	for _, w := range ctl.ControlWords() {
		list = append(list, prompt.Suggest{Text: w, Description: "@" + name})
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
