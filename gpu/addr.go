// Package gpu hands the host's GPU to a VM and back. It reads the PCI
// devices, their drivers and IOMMU groups from sysfs (under a root that
// tests point at a simulator), and runs the passthrough as a journalled
// transaction: every step is written down before it is taken, so that a
// failure, the VM's end or a later `spirit gpu reclaim` after a crash can
// undo exactly what was done and give the host its display back.
package gpu

import (
	"fmt"
	"regexp"
	"strings"
)

// addrRE is a PCI function as sysfs names it: domain, bus, device (0-1f)
// and function (0-7), in lower case. Nothing else may become part of a
// sysfs path: an address comes from users, definitions and the journal.
var addrRE = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$`)

// CheckAddr says why s is not a PCI function address (DDDD:BB:DD.F).
func CheckAddr(s string) error {
	if addrRE.MatchString(s) {
		return nil
	}
	hint := "DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0"
	switch {
	case s == "":
		return fmt.Errorf("an empty PCI address: give %s", hint)
	case regexp.MustCompile(`^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`).MatchString(s):
		return fmt.Errorf("PCI address %q has no domain: write 0000:%s (%s)", s, strings.ToLower(s), hint)
	case strings.ToLower(s) != s && addrRE.MatchString(strings.ToLower(s)):
		return fmt.Errorf("PCI address %q: write it in lower case, %s", s, strings.ToLower(s))
	}
	return fmt.Errorf("%q is not a PCI address: give %s", s, hint)
}

// slot is the address without its function: the functions of one card
// share it.
func slot(addr string) string { return addr[:len(addr)-2] }
