package gpu

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// PCIIDs are the places of the pci.ids database: pciutils' and hwdata's.
var PCIIDs = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"}

// nameDevices fills in vendor and device names from the first pci.ids
// found among paths; without one the ids stay bare.
func nameDevices(devs []Device, paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		names := readIDs(bufio.NewScanner(f), wanted(devs))
		for i := range devs {
			d := &devs[i]
			d.VendorName = names[idKey(d.Vendor, 0, false)]
			d.Name = names[idKey(d.Vendor, d.ID, true)]
		}
		return
	}
}

func wanted(devs []Device) map[uint16]bool {
	w := map[uint16]bool{}
	for _, d := range devs {
		w[d.Vendor] = true
	}
	return w
}

func idKey(vendor, device uint16, isDevice bool) string {
	if !isDevice {
		return strconv.FormatUint(uint64(vendor), 16)
	}
	return strconv.FormatUint(uint64(vendor), 16) + ":" + strconv.FormatUint(uint64(device), 16)
}

// readIDs reads the vendor lines ("10de  NVIDIA Corporation") and their
// device lines ("\t2484  GA104 [GeForce RTX 3070]") for the vendors
// wanted; subsystem lines (two tabs) and the class list are skipped.
func readIDs(sc *bufio.Scanner, want map[uint16]bool) map[string]string {
	names := map[string]string{}
	var vendor uint16
	in := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "\t\t") {
			continue
		}
		if line[0] == 'C' && len(line) > 1 && line[1] == ' ' {
			break // the device classes follow the vendors
		}
		tab := line[0] == '\t'
		id, name, ok := strings.Cut(strings.TrimPrefix(line, "\t"), "  ")
		n, err := strconv.ParseUint(id, 16, 16)
		if !ok || err != nil {
			continue
		}
		switch {
		case !tab:
			vendor, in = uint16(n), want[uint16(n)]
			if in {
				names[idKey(vendor, 0, false)] = name
			}
		case in:
			names[idKey(vendor, uint16(n), true)] = name
		}
	}
	return names
}
