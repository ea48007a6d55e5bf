package gpu_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"spirit/gpu"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/status")

// TestWriteStatusGolden: what spirit gpu status prints for each fixture:
// the table, whether the GPU can be passed through, its reset method,
// framebuffers, the kernel's eviction and who holds it.
func TestWriteStatusGolden(t *testing.T) {
	for _, fx := range []string{"nvidia", "nvidia-efifb", "amd-usbc", "amd-noreset", "bridge"} {
		t.Run(fx, func(t *testing.T) {
			h := newHost(t, fx)
			gpus, err := h.h.Status()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := gpu.WriteStatus(&out, gpus, h.sim.IOMMUGroups()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/status", fx+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestWriteStatusGolden -update writes it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("status:\n%s\nwant (%s):\n%s", out.String(), golden, want)
			}
		})
	}
}
