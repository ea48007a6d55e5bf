package vmctl

import (
	"errors"
	"fmt"
	"strings"
)

// Line is the line of d.Source where the field key is set (a
// FieldError's Key), or else where its nearest enclosing key or table
// is; 0 when none is known.
func (d Definition) Line(key []string) int {
	for k := key; ; k = k[:len(k)-1] {
		if n, ok := d.Lines[LinesKey(k)]; ok {
			return n
		}
		if len(k) == 0 {
			return 0
		}
	}
}

// LinesKey is how Definition.Lines names the field key: its parts joined
// by dots, array indexes as decimal numbers ("disks.1.path"); "" is the
// [vm.NAME] table itself.
func LinesKey(key []string) string { return strings.Join(key, ".") }

// where is "FILE:LINE: " for the field key of d, as the configuration
// places its own errors; "FILE: " when the line is not known, "" when
// the file is not.
func (d Definition) where(key []string) string {
	switch line := d.Line(key); {
	case d.Source == "":
		return ""
	case line == 0:
		return d.Source + ": "
	default:
		return fmt.Sprintf("%s:%d: ", d.Source, line)
	}
}

// placed puts a *FieldError of d at its line of d.Source.
func (d Definition) placed(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%s%w", d.where(fe.Key), err)
	}
	return err
}
