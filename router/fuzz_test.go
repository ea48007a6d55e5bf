package router

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"
)

// FuzzPlan feeds arbitrary lines to the planner: it may refuse them, but it
// must never panic, and what it accepts must print as a program whose
// remote segments all have text.
func FuzzPlan(f *testing.F) {
	for _, seed := range []string{
		"@docker:c1 cat /etc/hostname | @spirit tr a-z A-Z",
		"seq 1 100000 | @docker:c1 wc -l",
		"v=abc; F=$v @docker:c1 echo $F",
		"@docker:c1 echo hi > @spirit f; echo d | @spirit cat > @docker:c1 /tmp/y",
		"@linux cat <<EOF | grep h\nhello\nEOF\n",
		"if @linux true; then x=$(@linux hostname); fi",
		"@linux a |& b | @spirit c",
		"@docker:c1\nls\n@spirit\n",
		"@ ls", "@docker: x", "> @linux", "f() { @linux ls; }",
		"shopt -s extglob; ls @(a|b)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		done := make(chan error, 1)
		go func() { done <- checkPlan(src) }()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			panic(fmt.Sprintf("planning %q hangs", src)) // a panic ends the hang too
		}
	})
}

// checkPlan plans src and checks what the planner accepted.
func checkPlan(src string) error {
	s, err := New(Options{Targets: fakeResolver{}.targets()})
	if err != nil {
		return err
	}
	file, err := s.plan(src, "fuzz")
	if err != nil {
		return nil // refusing is fine
	}
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, file); err != nil {
		return fmt.Errorf("print planned %q: %w", src, err)
	}
	for key, seg := range s.segs.segs {
		if strings.TrimSpace(seg.text) == "" {
			return fmt.Errorf("plan %q: segment %q on @%s has no text", src, key, seg.target)
		}
	}
	return nil
}
