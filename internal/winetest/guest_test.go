//go:build linux

package winetest

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"
)

// TestGuestPackageUnderWine runs the agent package's own tests, built for
// Windows, under Wine: its Windows files (jobs, the Ctrl-C helper, the
// port's seam, output decoding) are tested where they run.
func TestGuestPackageUnderWine(t *testing.T) {
	wine.Need(t)
	exe := filepath.Join(wine.Dir(t), "guest.test.exe")
	if err := BuildTest("spirit/agents/guest", exe); err != nil {
		t.Fatal(err)
	}
	out, err := wine.Command(runCtx(t), exe, "-test.v", "-test.count=1", "-test.timeout=5m").CombinedOutput()
	passed := regexp.MustCompile(`(?m)^\s*--- PASS: (\S+)`).FindAllSubmatch(out, -1)
	for _, p := range passed {
		t.Logf("passed under Wine: %s", p[1])
	}
	if err != nil || len(passed) == 0 {
		t.Fatalf("the guest package's tests under Wine: %v\n%s", err, out)
	}
	// A skip there would hide a Windows path that Wine can run (the
	// tests skip only what needs a real Windows): none is expected.
	if skipped := regexp.MustCompile(`(?m)^\s*--- SKIP: .*$`).FindAll(out, -1); len(skipped) > 0 {
		t.Errorf("skipped under Wine:\n%s", bytes.Join(skipped, []byte("\n")))
	}
}
