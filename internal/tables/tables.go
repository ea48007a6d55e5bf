// Package tables is the look of spirit's tables (rounded borders, bold
// headers) and of its --json output, the same in every command.
package tables

import (
	"encoding/json"
	"io"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
)

// New is an empty table with these headers.
func New(headers ...string) *table.Table {
	return table.New().
		Border(lipgloss.RoundedBorder()).
		BorderStyle(lipgloss.NewStyle().Foreground(lipgloss.ANSIColor(8))).
		StyleFunc(func(row, col int) lipgloss.Style {
			s := lipgloss.NewStyle().Padding(0, 1)
			if row == table.HeaderRow {
				s = s.Bold(true)
			}
			return s
		}).
		Headers(headers...)
}

// JSON writes v as the --json of every command: indented by two spaces.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
