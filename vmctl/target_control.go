package vmctl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"spirit/vmctl/control"
)

// vmWords are the control words a VM target takes besides its agent's.
var vmWords = []string{"--start", "--stop", "--kill", "--pause", "--resume", "--status",
	"--snapshot", "--suspend", "--balloon"}

// ControlWords lists the VM's control words and its agent's (--cd).
func (t *Target) ControlWords() []string {
	words := slices.Clone(vmWords)
	for _, w := range t.c.ControlWords() {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// Control carries out a control word on the VM.
func (t *Target) Control(ctx context.Context, word string, args []string, stdout io.Writer) error {
	if !slices.Contains(vmWords, word) {
		return t.c.Control(ctx, word, args, stdout)
	}
	msg, err := t.control(ctx, word, args, stdout)
	if msg != "" {
		fmt.Fprintln(stdout, msg)
	}
	return err
}

func (t *Target) control(ctx context.Context, word string, args []string, stdout io.Writer) (string, error) {
	m, name := t.m, t.name
	switch word {
	case "--start":
		fresh, err := flagArgs(word, args, "--fresh")
		if err != nil {
			return "", err
		}
		st, err := m.Start(ctx, name, StartOptions{Fresh: fresh})
		if err != nil {
			return "", err
		}
		return StartMessage(st), nil
	case "--stop":
		timeout, err := timeoutArg(args)
		if err != nil {
			return "", err
		}
		t.c.Reset()
		return m.Stop(ctx, name, timeout)
	case "--status":
		if err := noArgs(word, args); err != nil {
			return "", err
		}
		st, err := m.Status(ctx, name)
		if err != nil {
			return "", err
		}
		d, _ := m.Definition(name)
		return "", WriteStatus(stdout, d, st)
	case "--snapshot":
		if len(args) == 0 || len(args) > 2 {
			return "", fmt.Errorf("usage: @%s --snapshot save|load|list|delete [NAME]", name)
		}
		rep, err := m.Snapshot(ctx, name, args[0], at(args, 1))
		if err != nil {
			return "", err
		}
		if args[0] == "load" {
			t.c.Reset() // the guest's agent is as it was at the save
		}
		if args[0] == "list" {
			return "", WriteSnapshots(stdout, rep.Snapshots)
		}
		return rep.Message, nil
	case "--balloon":
		if len(args) != 1 {
			return "", fmt.Errorf("usage: @%s --balloon SIZE (e.g. 2G, 512M)", name)
		}
		return m.Balloon(ctx, name, args[0])
	}
	if err := noArgs(word, args); err != nil {
		return "", err
	}
	switch word {
	case "--kill":
		t.c.Reset()
		return m.Kill(ctx, name)
	case "--pause":
		return m.Pause(ctx, name)
	case "--resume":
		return m.Resume(ctx, name)
	case "--suspend":
		t.c.Reset()
		return m.Suspend(ctx, name)
	}
	return "", fmt.Errorf("unknown control word %s", word)
}

// StartMessage says what a start did.
func StartMessage(st control.Status) string {
	if st.Resumed {
		return fmt.Sprintf("vm %s resumed from its suspended state (pid %d)", st.Name, st.PID)
	}
	return fmt.Sprintf("vm %s started (pid %d, %s)", st.Name, st.PID, st.Accel)
}

func at(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func noArgs(word string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments", word)
	}
	return nil
}

// flagArgs accepts at most the one flag given.
func flagArgs(word string, args []string, flag string) (bool, error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && args[0] == flag:
		return true, nil
	}
	return false, fmt.Errorf("%s takes only %s", word, flag)
}

// timeoutArg reads "--timeout DURATION" of --stop.
func timeoutArg(args []string) (time.Duration, error) {
	switch {
	case len(args) == 0:
		return 0, nil
	case len(args) == 2 && args[0] == "--timeout":
		d, err := time.ParseDuration(args[1])
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("--timeout %s: want a duration such as 30s or 2m", args[1])
		}
		return d, nil
	}
	return 0, fmt.Errorf("--stop takes only --timeout DURATION")
}
