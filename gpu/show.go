package gpu

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"

	"spirit/internal/tables"
)

// WriteStatus writes the GPUs as a table: a row per function, then for
// each GPU whether it can be passed through, or why not.
func WriteStatus(w io.Writer, gpus []GPU, iommuGroups int) error {
	if len(gpus) == 0 {
		_, err := fmt.Fprintf(w, "no GPU: this host has no PCI display controller (IOMMU groups: %d)\n", iommuGroups)
		return err
	}
	t := tables.New("GPU", "FUNCTION", "KIND", "DEVICE", "DRIVER", "IOMMU GROUP", "HELD BY")
	for _, g := range gpus {
		for i, f := range append(append([]Device{}, g.Functions...), g.Others...) {
			name, held := "", ""
			if i == 0 {
				name, held = g.Addr, cmp.Or(g.HeldBy, "the host")
			}
			kind := f.ClassName()
			if i >= len(g.Functions) {
				kind += " (group)"
			}
			t.Row(name, f.Addr, kind, deviceText(f), driverCell(f), groupText(f.Group), held)
		}
	}
	if _, err := lipgloss.Fprintln(w, t.Render()); err != nil {
		return err
	}
	for _, g := range gpus {
		var err error
		switch {
		case g.Passable() && g.HeldBy != "":
			_, err = fmt.Fprintf(w, "%s is passed through to vm %s: spirit gpu reclaim gives it back\n", g.Addr, g.HeldBy)
		case g.Passable():
			_, err = fmt.Fprintf(w, "%s can be passed through: spirit gpu passthrough --vm NAME\n", g.Addr)
		default:
			_, err = fmt.Fprintf(w, "%s cannot be passed through:\n  %s\n", g.Addr, strings.Join(g.Problems, "\n  "))
		}
		if err != nil {
			return err
		}
		for _, d := range g.Details() {
			if _, err := fmt.Fprintf(w, "  %s\n", d); err != nil {
				return err
			}
		}
	}
	return nil
}

func deviceText(d Device) string {
	ids := fmt.Sprintf("%04x:%04x", d.Vendor, d.ID)
	if d.Name == "" {
		return ids
	}
	return d.Name + " [" + ids + "]"
}

func driverCell(d Device) string {
	s := driverText(d.Driver)
	if d.Override != "" {
		s += " (override " + d.Override + ")"
	}
	return s
}

func groupText(g int) string {
	if g < 0 {
		return "none"
	}
	return strconv.Itoa(g)
}
