package vmctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"spirit/internal/printable"
	"spirit/internal/tables"
	"spirit/vmctl/control"
)

// The colours of VM states in tables.
var stateColors = map[string]lipgloss.ANSIColor{
	control.StateRunning: 2, control.StatePaused: 3, control.StateStopping: 6,
	control.StateSuspending: 6, control.StateSuspended: 4, control.StateStopped: 8,
}

func styledState(state string) string {
	c, ok := stateColors[state]
	if !ok {
		return state
	}
	return lipgloss.NewStyle().Foreground(c).Render(state)
}

// WriteList writes the VMs as a table.
func WriteList(w io.Writer, defs map[string]Definition, list []control.Status) error {
	t := tables.New("NAME", "STATE", "OS", "MEMORY", "VCPUS", "ACCEL", "AGENT", "PID", "UPTIME")
	for _, st := range list {
		d := defs[st.Name]
		t.Row(st.Name, styledState(st.State), d.OS, d.Memory, strconv.Itoa(d.Cores*d.Threads),
			st.Accel, agentCell(st), pidCell(st.PID), uptime(st))
	}
	_, err := lipgloss.Fprintln(w, t.Render())
	return err
}

func agentCell(st control.Status) string {
	switch {
	case st.Agent != nil && st.AgentReady:
		return printable.String(st.Agent.Version)
	case st.State == control.StateRunning:
		return "not yet"
	}
	return ""
}

func pidCell(pid int) string {
	if pid == 0 {
		return ""
	}
	return strconv.Itoa(pid)
}

func uptime(st control.Status) string {
	if st.Started.IsZero() {
		return ""
	}
	return time.Since(st.Started).Round(time.Second).String()
}

// WriteStatus writes one VM's state, one field a line.
func WriteStatus(w io.Writer, d Definition, st control.Status) error {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", k+":", v)
		}
	}
	line("vm", st.Name)
	line("state", styledState(st.State))
	line("os", d.OS)
	line("memory", d.Memory)
	line("vcpus", fmt.Sprintf("%d (%d cores × %d threads)", d.Cores*d.Threads, d.Cores, d.Threads))
	line("accel", st.Accel)
	line("pid", pidCell(st.PID))
	line("uptime", uptime(st))
	if st.Balloon > 0 {
		line("balloon", fmt.Sprintf("%d MiB", st.Balloon>>20))
	}
	if st.Agent != nil {
		// The guest's words: escaped here too, whatever the supervisor did.
		a := st.Agent
		line("agent", fmt.Sprintf("spirit-agent %s on %s (%s), %s",
			printable.String(a.Version), printable.String(a.Hostname), printable.String(a.OS), answers(st)))
	} else if st.PID != 0 {
		line("agent", answers(st))
	}
	if st.BootToAgent > 0 {
		line("boot", fmt.Sprintf("agent ready %.1f s after QEMU started", st.BootToAgent.Seconds()))
	}
	for _, n := range st.Notes {
		line("note", string(n))
	}
	for _, p := range st.Pinning {
		line(fmt.Sprintf("vcpu %d", p.VCPU), fmt.Sprintf("thread %d on cores %s", p.Thread, FormatCPUList(p.Cores)))
	}
	_, err := lipgloss.Fprint(w, b.String())
	return err
}

func answers(st control.Status) string {
	if st.AgentReady {
		return "answering"
	}
	return "not answering"
}

// WriteSnapshots writes a VM's snapshots as a table.
func WriteSnapshots(w io.Writer, snaps []control.Snapshot) error {
	if len(snaps) == 0 {
		_, err := fmt.Fprintln(w, "no snapshots")
		return err
	}
	t := tables.New("NAME", "DATE", "VM STATE", "VM CLOCK")
	for _, s := range snaps {
		t.Row(s.Name, s.Date.Local().Format("2006-01-02 15:04:05"), fmt.Sprintf("%d MiB", s.VMState>>20), s.VMClock.Round(time.Second).String())
	}
	_, err := lipgloss.Fprintln(w, t.Render())
	return err
}

// WritePlan prints the command line of a start, one option a line as a
// shell would take it, and its notes on errw.
func WritePlan(out, errw io.Writer, b Bootstrap) error {
	for _, n := range b.Notes {
		fmt.Fprintf(errw, "spirit: note: %s\n", n)
	}
	if b.Incoming != "" {
		fmt.Fprintf(errw, "spirit: note: resumes from %s (--fresh boots anew)\n", b.Incoming)
	}
	writeFiles(errw, b)
	var lines []string
	line := shellQuote(b.QEMU)
	for _, a := range b.Args {
		if strings.HasPrefix(a, "-") {
			lines = append(lines, line)
			line = "  " + a
			continue
		}
		line += " " + shellQuote(a)
	}
	lines = append(lines, line)
	_, err := fmt.Fprintln(out, strings.Join(lines, " \\\n"))
	return err
}

// writeFiles says who QEMU runs as, and what each descriptor of its
// command line is.
func writeFiles(w io.Writer, b Bootstrap) {
	who := "spirit's own user"
	if b.User != nil {
		who = fmt.Sprintf("%s (uid %d)", b.User.Name, b.User.UID)
	}
	fmt.Fprintf(w, "spirit: note: QEMU runs as %s, with these files open:\n", who)
	for i, f := range b.Files {
		fmt.Fprintf(w, "spirit: note:   fd %d: %s (%s)\n", PassedFD(i), f.Path, f.How)
	}
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,.:/+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
