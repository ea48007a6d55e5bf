package gpu

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Modules is a kernel's module tree, /lib/modules/RELEASE.
type Modules struct {
	Dir string
	// Conf are modprobe.d's directories; nil means the system's.
	Conf []string
}

// KernelModules is the running kernel's module tree.
func KernelModules() Modules {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return Modules{Dir: "/lib/modules/unknown"}
	}
	return Modules{Dir: filepath.Join("/lib/modules", strings.TrimSpace(string(b)))}
}

func (m Modules) release() string { return filepath.Base(m.Dir) }

// Has says whether the module is built in or on disk.
func (m Modules) Has(name string) bool {
	if m.builtin(name) {
		return true
	}
	_, err := m.Deps(name)
	return err == nil
}

func (m Modules) builtin(name string) bool {
	f, err := os.Open(filepath.Join(m.Dir, "modules.builtin"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if modName(sc.Text()) == moduleName(name) {
			return true
		}
	}
	return false
}

// Deps are the files to load for a module, in load order: what it
// depends on first, the module last (modules.dep lists the opposite).
func (m Modules) Deps(name string) ([]string, error) {
	f, err := os.Open(filepath.Join(m.Dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		file, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok || modName(file) != moduleName(name) {
			continue
		}
		files := []string{filepath.Join(m.Dir, file)}
		for _, d := range strings.Fields(deps) {
			files = append([]string{filepath.Join(m.Dir, d)}, files...)
		}
		return files, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("module %s: read modules.dep: %w", name, err)
	}
	return nil, fmt.Errorf("no module %s in %s", name, m.Dir)
}

// modName is a module file's module name: kernel/drivers/vfio/pci/vfio-pci.ko.xz is vfio_pci.
func modName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return moduleName(base)
}

// modprobeDirs are where modprobe reads its configuration, in its order.
var modprobeDirs = []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d"}

// Options are the "options NAME ..." of modprobe.d for a module, as
// modprobe passes them when it loads it (a file name seen in an earlier
// directory hides the same name in later ones, as in modprobe.d(5)).
func (m Modules) Options(name string) []string {
	dirs := m.Conf
	if dirs == nil {
		dirs = modprobeDirs
	}
	seen := map[string]bool{}
	var out []string
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		for _, file := range files {
			if seen[filepath.Base(file)] {
				continue
			}
			seen[filepath.Base(file)] = true
			out = append(out, optionsIn(file, moduleName(name))...)
		}
	}
	return out
}

func optionsIn(file, name string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "options" && moduleName(f[1]) == name {
			for _, p := range f[2:] {
				if paramRE.MatchString(p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}
