package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ProcFS reads which processes hold which files, from /proc (or a
// simulator's tree): what fuser(1) reads, without running it.
type ProcFS struct {
	// Root is /proc; "" reads nothing.
	Root string
}

// Holder is a process that holds one of the GPU's device files open.
type Holder struct {
	PID     int    `json:"pid"`
	Cmdline string `json:"cmdline"`
	File    string `json:"file"`
}

func (h Holder) String() string { return fmt.Sprintf("pid %d (%s) holds %s", h.PID, h.Cmdline, h.File) }

// Holding lists the processes with a file open that matches one of
// globs, a line per process and file. Processes that end while they are
// read, or that this user may not read, are skipped.
func (p ProcFS) Holding(globs []string) []Holder {
	if p.Root == "" || len(globs) == 0 {
		return nil
	}
	pids, _ := os.ReadDir(p.Root)
	var out []Holder
	for _, e := range pids {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(p.Root, e.Name(), "fd"))
		var files []string
		for _, fd := range fds {
			t, err := os.Readlink(filepath.Join(p.Root, e.Name(), "fd", fd.Name()))
			if err == nil && matchAny(globs, t) && !slices.Contains(files, t) {
				files = append(files, t)
			}
		}
		if len(files) == 0 {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(p.Root, e.Name(), "cmdline"))
		cmd := strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "))
		for _, f := range files {
			out = append(out, Holder{PID: pid, Cmdline: cmd, File: f})
		}
	}
	return out
}

func matchAny(globs []string, name string) bool {
	return slices.ContainsFunc(globs, func(g string) bool { ok, _ := filepath.Match(g, name); return ok })
}

// DeviceFiles are the device files of the GPU's functions that a
// process may hold: its DRM nodes (/dev/dri/cardN, renderDN), its audio
// function's ALSA card (/dev/snd/controlCN, pcmCN...), and NVIDIA's
// /dev/nvidia* when NVIDIA's driver has it.
func (s Sys) DeviceFiles(g GPU) []string {
	var out []string
	for _, f := range g.Functions {
		out = append(out, s.functionFiles(f.Addr)...)
	}
	return out
}

// functionFiles are the device files of one function, as its driver
// now gives them.
func (s Sys) functionFiles(addr string) []string {
	var out []string
	drm, _ := s.names(pciDevices, addr, "drm")
	for _, n := range drm {
		if drmRE.MatchString(n) {
			out = append(out, "/dev/dri/"+n)
		}
	}
	cards, _ := s.names(pciDevices, addr, "sound")
	for _, c := range cards {
		nodes, _ := s.names(pciDevices, addr, "sound", c)
		for _, n := range nodes {
			if sndRE.MatchString(n) {
				out = append(out, "/dev/snd/"+n)
			}
		}
	}
	if s.link(pciDevices, addr, "driver") == "nvidia" {
		out = append(out, "/dev/nvidia*")
	}
	return out
}

var (
	drmRE = regexp.MustCompile(`^(card|renderD)[0-9]+$`)
	sndRE = regexp.MustCompile(`^(controlC|pcmC|hwC|midiC)[0-9]+[A-Za-z0-9]*$`)
)

// holdersText says who holds the GPU, for an error or a status line: a
// process each, with the files it holds.
func holdersText(hs []Holder) string {
	if len(hs) == 0 {
		return "held by: no process that /proc shows holds the GPU's device files (a user inside the kernel may: fbcon, another driver or module)"
	}
	var lines []string
	for i, h := range hs {
		if i > 0 && hs[i-1].PID == h.PID {
			lines[len(lines)-1] += ", " + h.File
			continue
		}
		lines = append(lines, h.String())
	}
	return "held by: " + strings.Join(lines, "; ")
}
