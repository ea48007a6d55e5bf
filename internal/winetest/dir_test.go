//go:build linux

package winetest

import (
	"strings"
	"testing"
	"time"

	"spirit/agents/client"
	"spirit/internal/agenttest"
)

// TestDirUnderWine: commands start in the user's profile, not where the
// agent was started (a service's is System32), or in --dir.
func TestDirUnderWine(t *testing.T) {
	ctx := runCtx(t)
	dir := wine.Dir(t)
	tests := []struct {
		name string
		args []string
		want string // "": the profile, as %USERPROFILE% says
	}{
		{"the profile", nil, ""},
		{"--dir", []string{"--dir", winPath(dir)}, winPath(dir)},
		{"a --dir that is gone: the profile", []string{"--dir", winPath(dir) + `\gone`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wine.Agents(t)
			a.Args = tt.args
			c := client.New(client.Options{Name: "w", Dial: a.Dial, HandshakeTimeout: 30 * time.Second})
			defer c.Close()
			r := agenttest.Run(ctx, c, "cd& echo %USERPROFILE%", nil)
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\r\n")
			if r.Err != nil || len(lines) != 2 {
				t.Fatalf("cd: %v, stdout %q stderr %q", r.Err, r.Stdout, r.Stderr)
			}
			want := tt.want
			if want == "" {
				want = lines[1]
			}
			if !strings.EqualFold(lines[0], want) {
				t.Fatalf("commands start in %q, want %q", lines[0], want)
			}
		})
	}
}
