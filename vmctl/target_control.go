package vmctl

import (
	"context"
	"fmt"
	"io"
	"slices"

	"spirit/vmctl/control"
)

// ControlWords lists the VM's control words (one an Op) and its agent's
// (--cd).
func (t *Target) ControlWords() []string {
	var words []string
	for _, op := range Ops() {
		words = append(words, "--"+op.Verb)
	}
	for _, w := range t.c.ControlWords() {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// Control carries out a control word on the VM: an Op, or its agent's.
func (t *Target) Control(ctx context.Context, word string, args []string, stdout io.Writer) error {
	ops := Ops()
	i := slices.IndexFunc(ops, func(op *Op) bool { return "--"+op.Verb == word })
	if i < 0 {
		return t.c.Control(ctx, word, args, stdout)
	}
	op := ops[i]
	args, err := op.ParseWord(t.name, args)
	if err != nil {
		return err
	}
	return op.Run(ctx, &Call{M: t.m, Name: t.name, Args: args, Stdout: stdout, Stderr: io.Discard, ResetAgent: t.c.Reset})
}

// StartMessage says what a start did.
func StartMessage(st control.Status) string {
	if st.Resumed {
		return fmt.Sprintf("vm %s resumed from its suspended state (pid %d)", st.Name, st.PID)
	}
	return fmt.Sprintf("vm %s started (pid %d, %s)", st.Name, st.PID, st.Accel)
}
