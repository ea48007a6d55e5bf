// Package envlist reads an environment given as a list of NAME=value
// strings, as os.Environ and exec.Cmd.Env hold it: the shell and the VM
// manager work from such a list, not from the process's own environment,
// so that tests can give them one.
package envlist

import (
	"path/filepath"
	"strings"
)

// Get looks name up in env; the last one wins, as in os/exec.
func Get(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// UserDir is the directory $name, or $HOME/fallback when it is unset or
// not absolute (as the XDG base directory specification says); "" when
// there is neither.
func UserDir(env []string, name, fallback string) string {
	if dir := Get(env, name); filepath.IsAbs(dir) {
		return dir
	}
	if home := Get(env, "HOME"); home != "" {
		return filepath.Join(home, fallback)
	}
	return ""
}
