package router

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"
)

// FuzzPlan feeds arbitrary lines to the planner: it may refuse them, but it
// must never panic, and what it accepts must still be a program.
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

// checkPlan plans src and checks what the planner accepted: a line
// without any @word reaches bash unchanged, and a planned line that
// mvdan.cc/sh could read is still a program it can read.
func checkPlan(src string) error {
	p := NewPlanner(PlannerOptions{Targets: fakeResolver{}.targets(), Self: "/usr/bin/spirit"})
	out, err := p.Plan(src)
	if err != nil {
		return nil // refusing is fine
	}
	if !mayHaveTargets(src) && out != src {
		return fmt.Errorf("plan %q: a line without targets became %q", src, out)
	}
	if _, err := syntax.NewParser().Parse(strings.NewReader(src), ""); err != nil {
		return nil
	}
	if _, err := syntax.NewParser().Parse(strings.NewReader(out), ""); err != nil {
		return fmt.Errorf("plan %q: %q does not parse: %w", src, out, err)
	}
	return nil
}
