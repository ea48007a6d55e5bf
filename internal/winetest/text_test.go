//go:build linux

package winetest

import (
	"os"
	"path/filepath"
	"testing"

	"spirit/internal/agenttest"
)

// TestTextUnderWine: output reaches the host as UTF-8 whether the command
// wrote UTF-8 (a program built for it) or its console's code page (cmd's
// built-ins). Wine's cmd writes a character its code page lacks as "?",
// so only cmd's "café" can be checked, not its "Привет".
func TestTextUnderWine(t *testing.T) {
	c, _ := newClient(t)
	ctx := runCtx(t)
	utf8File := filepath.Join(wine.Dir(t), "utf8.txt")
	if err := os.WriteFile(utf8File, []byte("café Привет\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, want string
	}{
		{"a program's UTF-8", "type " + winPath(utf8File), "café Привет\r\n"},
		{"cmd's code page", "echo café", "café\r\n"},
		{"after chcp 65001", "chcp 65001 >nul& echo café& type " + winPath(utf8File), "café\r\ncafé Привет\r\n"},
		{"both in one stream", "echo café& type " + winPath(utf8File), "café\r\ncafé Привет\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := agenttest.Run(ctx, c, tt.text, nil)
			if r.Err != nil || r.Status != 0 || r.Stdout != tt.want {
				t.Fatalf("%s: status %d err %v stdout %q stderr %q; want stdout %q",
					tt.text, r.Status, r.Err, r.Stdout, r.Stderr, tt.want)
			}
		})
	}
}
