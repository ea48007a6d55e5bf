package guest

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// mergeEnv adds extra to base; a later NAME replaces an earlier one, names
// compared with same.
func mergeEnv(base, extra []string, same func(a, b string) bool) []string {
	env := slices.Clone(base)
	for _, kv := range extra {
		name := envKey(kv)
		env = slices.DeleteFunc(env, func(e string) bool { return same(envKey(e), name) })
		env = append(env, kv)
	}
	return env
}

func sameName(a, b string) bool { return a == b }

// envKey is the name in NAME=value. A leading = belongs to the name, as in
// Windows's =C:=C:\dir entries that hold each drive's current directory.
func envKey(kv string) string {
	if kv == "" {
		return ""
	}
	if i := strings.IndexByte(kv[1:], '='); i >= 0 {
		return kv[:i+1]
	}
	return kv
}

// checkDir checks a command's working directory; "" is the agent's own.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("working directory %s: not a directory", dir)
	}
	return nil
}
