// Package tomlpos finds where a key is set in a TOML file, so that
// configuration errors can name the line.
package tomlpos

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Line is the line of data where the key at path is set, or else where
// its nearest enclosing key or table is; 0 when none is there. An index in
// path counts the [[...]] tables of that array.
func Line(data []byte, path ...string) int {
	lines := keyLines(data)
	for ; len(path) > 0; path = path[:len(path)-1] {
		if n, ok := lines[strings.Join(path, "\x00")]; ok {
			return n
		}
	}
	return 0
}

// Lines maps each key and table header of data under the table at
// prefix to the line of its first appearance, keyed by the rest of its
// path joined by dots ("disks.1.path"; "" is the table's own header).
func Lines(data []byte, prefix ...string) map[string]int {
	out := map[string]int{}
	for k, n := range keyLines(data) {
		parts := strings.Split(k, "\x00")
		if len(parts) >= len(prefix) && slices.Equal(parts[:len(prefix)], prefix) {
			out[strings.Join(parts[len(prefix):], ".")] = n
		}
	}
	return out
}

// keyLines maps each key and table header of data (parts joined by NUL,
// array tables with their index) to the line of its first appearance.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	seen := map[string]int{} // array table → how many so far
	put := func(path []string, r unstable.Range, p *unstable.Parser) {
		k := strings.Join(path, "\x00")
		if _, ok := lines[k]; !ok {
			lines[k] = p.Shape(r).Start.Line
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table, _ = keyPath(e.Key())
			if e.Kind == unstable.ArrayTable {
				k := strings.Join(table, "\x00")
				table = append(table, strconv.Itoa(seen[k]))
				seen[k]++
			}
			if r, ok := firstRange(e.Key()); ok {
				put(table, r, &p)
			}
		case unstable.KeyValue:
			parts, r := keyPath(e.Key())
			put(append(slices.Clone(table), parts...), r, &p)
		}
	}
	return lines
}

// keyPath is a key's parts and the range of its first part.
func keyPath(it unstable.Iterator) ([]string, unstable.Range) {
	var parts []string
	var first unstable.Range
	for it.Next() {
		if parts == nil {
			first = it.Node().Raw
		}
		parts = append(parts, string(it.Node().Data))
	}
	return parts, first
}

func firstRange(it unstable.Iterator) (unstable.Range, bool) {
	if it.Next() {
		return it.Node().Raw, true
	}
	return unstable.Range{}, false
}
