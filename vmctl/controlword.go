package vmctl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"spirit/vmctl/control"
)

// ControlWords lists the VM operations as control words ("--stop").
func ControlWords() []string {
	var words []string
	for _, op := range Ops() {
		words = append(words, "--"+op.Verb)
	}
	return words
}

// Control carries out the control word word (one of ControlWords) on the
// VM name, with the same parsing, help and errors as spirit vm VERB.
// resetAgent drops the caller's connection to the guest's agent, for the
// operations that end the guest or take it back in time.
func (m *Manager) Control(ctx context.Context, name, word string, args []string, stdout io.Writer, resetAgent func()) error {
	ops := Ops()
	i := slices.IndexFunc(ops, func(op *Op) bool { return "--"+op.Verb == word })
	if i < 0 {
		return fmt.Errorf("unknown control word %s (%s)", word, strings.Join(ControlWords(), " "))
	}
	op := ops[i]
	args, err := op.ParseWord(name, args)
	if err != nil {
		return err
	}
	return op.Run(ctx, &Call{M: m, Name: name, Args: args, Stdout: stdout, Stderr: io.Discard, ResetAgent: resetAgent})
}

// StartMessage says what a start did.
func StartMessage(st control.Status) string {
	if st.Resumed {
		return fmt.Sprintf("vm %s resumed from its suspended state (pid %d)", st.Name, st.PID)
	}
	return fmt.Sprintf("vm %s started (pid %d, %s)", st.Name, st.PID, st.Accel)
}
