package router

import (
	"context"
	"os"
	"strings"
	"testing"

	"spirit/router/standin"
	"spirit/target"
)

// TestMain is also the stand-in of the lines the tests run: bash calls
// this binary as `segment ...` with SPIRIT_TEST_ROOTS set to the roots
// of @a, @b and @win.
func TestMain(m *testing.M) {
	if roots := os.Getenv("SPIRIT_TEST_ROOTS"); len(os.Args) > 1 && os.Args[1] == "segment" && roots != "" {
		a, rest, _ := strings.Cut(roots, ":")
		b, win, _ := strings.Cut(rest, ":")
		os.Exit(standin.Run(context.Background(), standin.Options{
			Targets: testRegistry(a, b, win),
			Stdin:   os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		}, os.Args[2:]))
	}
	os.Exit(m.Run())
}

// testRegistry knows @a and @b (shTargets in the directories a and b),
// @win (a winTarget in the directory win), @ctl and @full.
func testRegistry(a, b, win string) *target.Registry {
	return shResolver{targets: map[string]shTarget{"a": {a}, "b": {b}}, win: winTarget{win}}.registry()
}
