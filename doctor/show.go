package doctor

import (
	"fmt"
	"io"
	"strings"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"

	"spirit/internal/tables"
)

// The colours of the statuses, as vmctl colours VM states.
var statusColors = map[Status]lipgloss.ANSIColor{OK: 2, Warn: 3, Fail: 1, Skip: 8}

// DefaultWidth is the width Write wraps to when the output is not a
// terminal.
const DefaultWidth = 100

// Write writes the report as a table of checks, wrapped to width
// columns, each check that is not ok followed by its fix, and a summary
// line.
func Write(w io.Writer, rep Report, width int) error {
	if width <= 0 {
		width = DefaultWidth
	}
	t := tables.New("CHECK", "STATUS", "FOUND").
		BorderRow(true).
		Width(width).
		StyleFunc(func(row, col int) lipgloss.Style {
			s := lipgloss.NewStyle().Padding(0, 1)
			if row == table.HeaderRow {
				return s.Bold(true)
			}
			if col == 1 {
				s = s.Foreground(statusColors[rep.Checks[row].Status]).Bold(true)
			}
			return s
		})
	for _, r := range rep.Checks {
		t.Row(r.Name, string(r.Status), cell(r))
	}
	var b strings.Builder
	b.WriteString(t.Render() + "\n")
	for _, n := range rep.Notes {
		b.WriteString("note: " + n + "\n")
	}
	b.WriteString(summary(rep) + "\n")
	_, err := lipgloss.Fprint(w, b.String())
	return err
}

// cell is what a check found, its details and its fix.
func cell(r Result) string {
	lines := append([]string{r.Found}, r.Details...)
	if r.Fix != "" && r.Status != OK {
		lines = append(lines, lipgloss.NewStyle().Italic(true).Render("fix: "+r.Fix))
	}
	return strings.Join(lines, "\n")
}

// summary counts the statuses.
func summary(rep Report) string {
	n := map[Status]int{}
	for _, r := range rep.Checks {
		n[r.Status]++
	}
	verdict := "nothing fails"
	if rep.Failed {
		verdict = lipgloss.NewStyle().Foreground(statusColors[Fail]).Bold(true).Render(plural(n[Fail], "check fails", "checks fail"))
	}
	return fmt.Sprintf("%s: %d ok, %d warn, %d fail, %d skip", verdict, n[OK], n[Warn], n[Fail], n[Skip])
}
