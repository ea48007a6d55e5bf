package gpu

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoReset is wrapped in the problem of a GPU that the kernel cannot
// reset: given to a VM, it would come back to the host in whatever
// state the guest's driver left it, and the host's driver could not
// take it again until a reboot.
var ErrNoReset = errors.New("has no working reset")

// amdNeedsVendorReset are AMD's GPUs whose bus and power-management
// resets leave them broken (the "reset bug"), as vendor-reset's device
// table lists them: Polaris 10/11/12, Vega 10/20, Navi 10/12/14 (device
// id ranges, inclusive).
var amdNeedsVendorReset = [][2]uint16{
	{0x67c0, 0x67ff}, {0x6980, 0x699f}, // Polaris 10/11, 12
	{0x6860, 0x687f}, {0x66a0, 0x66af}, // Vega 10, 20
	{0x7310, 0x731f}, {0x7360, 0x7362}, {0x7340, 0x734f}, // Navi 10, 12, 14
}

// resetProblem says why the display function d cannot be reset, "" when
// it can. reset_method lists the methods the kernel found
// (Documentation/ABI/testing/sysfs-bus-pci); the kernel hides the file
// when it found none.
func resetProblem(d Device, methods string) string {
	fix := fmt.Sprintf("install vendor-reset (github.com/gnif/vendor-reset), load it (modprobe vendor-reset), and make it the card's reset: echo device_specific > /sys/bus/pci/devices/%s/reset_method (a udev rule keeps it across boots)", d.Addr)
	if methods == "" {
		return fmt.Sprintf("%s %v: the kernel lists no reset_method for it; %s", d.Addr, ErrNoReset, fix)
	}
	if d.Vendor == 0x1002 && !slices.Contains(strings.Fields(methods), "device_specific") &&
		slices.ContainsFunc(amdNeedsVendorReset, func(r [2]uint16) bool { return d.ID >= r[0] && d.ID <= r[1] }) {
		return fmt.Sprintf("%s %v: an AMD %04x is one of the cards whose %s reset leaves it unusable (the AMD reset bug); %s", d.Addr, ErrNoReset, d.ID, methods, fix)
	}
	return ""
}
