package gpu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestWriteDeadline: a sysfs write that the kernel does not finish is
// given up at its deadline, with ErrBlocked. A FIFO without a reader
// stands in for the blocked attribute: opening it for writing blocks,
// as an unbind's write blocks in the driver's remove.
func TestWriteDeadline(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "unbind")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	k := SysKernel{Sys: Sys{Root: root}}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := k.Write(ctx, "unbind", "0000:01:00.1")
	if !errors.Is(err, ErrBlocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a blocked write: %v, want ErrBlocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the blocked write returned after %s", d)
	}
	// The write is still in the kernel: a reader lets it end, so that
	// its goroutine does not outlive the test.
	r, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _ := r.Read(b)
	r.Close()
	if string(b[:n]) != "0000:01:00.1" {
		t.Errorf("the write, once let through, wrote %q", b[:n])
	}
	if err := k.Write(t.Context(), "missing", "1"); err == nil || errors.Is(err, ErrBlocked) {
		t.Errorf("a write to a missing attribute: %v", err)
	}
}

// TestProcFSHolding finds this test process holding a file, on the real
// /proc.
func TestProcFSHolding(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "card0"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hs := ProcFS{Root: "/proc"}.Holding([]string{filepath.Join(dir, "card*")})
	i := slices.IndexFunc(hs, func(h Holder) bool { return h.PID == os.Getpid() })
	if i < 0 || hs[i].File != f.Name() || hs[i].Cmdline == "" {
		t.Fatalf("holders of %s: %+v, want this process", f.Name(), hs)
	}
	if hs := (ProcFS{Root: "/proc"}).Holding([]string{filepath.Join(dir, "renderD*")}); len(hs) != 0 {
		t.Errorf("holders of nothing: %+v", hs)
	}
}

// TestModprobeOptions reads options as modprobe does: a file name in an
// earlier directory hides the same name in a later one.
func TestModprobeOptions(t *testing.T) {
	etc, lib := t.TempDir(), t.TempDir()
	for _, f := range []struct{ dir, name, text string }{
		{etc, "nvidia.conf", "options nvidia-drm modeset=1 fbdev=1\noptions nvidia NVreg_X=1\n# options nvidia_drm x=1\n"},
		{lib, "nvidia.conf", "options nvidia_drm modeset=0\n"},
		{lib, "vfio.conf", "options vfio_pci ids=10de:2484,10de:228b 'bad word'\n"},
	} {
		if err := os.WriteFile(filepath.Join(f.dir, f.name), []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := Modules{Conf: []string{etc, lib}}
	for _, tc := range []struct {
		module string
		want   []string
	}{
		{"nvidia_drm", []string{"modeset=1", "fbdev=1"}},
		{"vfio-pci", []string{"ids=10de:2484,10de:228b"}},
		{"amdgpu", nil},
	} {
		if got := m.Options(tc.module); !slices.Equal(got, tc.want) {
			t.Errorf("Options(%s) = %q, want %q", tc.module, got, tc.want)
		}
	}
}
