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

var (
	// addrRE is a PCI function as sysfs names it: domain, bus, device
	// (0-1f) and function (0-7), in lower case. Nothing else may become
	// part of a sysfs path: an address comes from users, definitions and
	// the journal.
	addrRE = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$`)
	// noDomainRE is an address as lspci prints it without -D.
	noDomainRE = regexp.MustCompile(`^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)
)

const addrHint = "DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0"

// AddressError is an address that is not a PCI function address
// (DDDD:BB:DD.F).
type AddressError struct {
	Addr string // as given
	// Meant is the address Addr is taken to mean (the domain added, or
	// in lower case), "" when it cannot be told: the error shows it, so
	// that the fix is to copy it.
	Meant string
}

func (e *AddressError) Error() string {
	switch {
	case e.Addr == "":
		return "an empty PCI address: give " + addrHint
	case e.Meant != "" && e.Meant == strings.ToLower(e.Addr):
		return fmt.Sprintf("PCI address %q: write it in lower case, %s", e.Addr, e.Meant)
	case e.Meant != "":
		return fmt.Sprintf("PCI address %q has no domain: write %s (%s)", e.Addr, e.Meant, addrHint)
	}
	return fmt.Sprintf("%q is not a PCI address: give %s", e.Addr, addrHint)
}

// CheckAddr says why s is not a PCI function address (DDDD:BB:DD.F): a
// *AddressError.
func CheckAddr(s string) error {
	if addrRE.MatchString(s) {
		return nil
	}
	e := &AddressError{Addr: s}
	switch lower := strings.ToLower(s); {
	case noDomainRE.MatchString(s):
		e.Meant = "0000:" + lower
	case addrRE.MatchString(lower):
		e.Meant = lower
	}
	return e
}

// slot is the address without its function: the functions of one card
// share it.
func slot(addr string) string { return addr[:len(addr)-2] }
