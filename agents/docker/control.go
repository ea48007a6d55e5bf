package docker

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ControlWords lists the control words of a container target.
func (t *Target) ControlWords() []string {
	return []string{"--pause", "--resume", "--status"}
}

// Control carries out "@docker:NAME --pause", "--resume" or "--status".
func (t *Target) Control(ctx context.Context, word string, args []string, stdout io.Writer) error {
	switch word {
	case "--pause", "--resume", "--status":
	default:
		return fmt.Errorf("docker: unknown control word %s (words: %s)", word, strings.Join(t.ControlWords(), " "))
	}
	if len(args) > 0 {
		return fmt.Errorf("docker %s: takes no arguments (got %s)", word, strings.Join(args, " "))
	}
	r, err := t.resolve(ctx, needExists, func(name string) string { return strings.TrimPrefix(word, "--") + " " + name })
	if err != nil {
		return err
	}
	st := r.info.State
	if st == nil {
		return fmt.Errorf("docker %s %s: the engine reported no state", word, r.name)
	}
	switch word {
	case "--pause":
		switch {
		case st.Paused:
			return fmt.Errorf("docker pause %s: container %s is already paused", r.name, r.name)
		case !st.Running:
			return fmt.Errorf("docker pause %s: container %s is not running (%s)", r.name, r.name, stateText(st))
		}
		if _, err := r.cli.ContainerPause(ctx, r.id, client.ContainerPauseOptions{}); err != nil {
			return fmt.Errorf("docker pause %s: %w", r.name, r.b.engineErr(r.cli, err))
		}
		_, err = fmt.Fprintf(stdout, "%s: paused\n", r.name)
		return err
	case "--resume":
		switch {
		case st.Paused:
		case st.Running:
			return fmt.Errorf("docker resume %s: container %s is already running", r.name, r.name)
		default:
			return fmt.Errorf("docker resume %s: container %s is not paused (%s)", r.name, r.name, stateText(st))
		}
		if _, err := r.cli.ContainerUnpause(ctx, r.id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("docker resume %s: %w", r.name, r.b.engineErr(r.cli, err))
		}
		_, err = fmt.Fprintf(stdout, "%s: running\n", r.name)
		return err
	}
	_, err = fmt.Fprintln(stdout, statusLine(r.name, r.info, time.Now()))
	return err
}

// statusLine is the line of "--status": "c1: running (image busybox, up 5m)".
func statusLine(name string, info container.InspectResponse, now time.Time) string {
	st := info.State
	image := info.Image
	if info.Config != nil && info.Config.Image != "" {
		image = info.Config.Image // the name it was created from, not the digest
	}
	switch {
	case st == nil:
		return name + ": unknown"
	case st.Running || st.Paused:
		detail := "image " + image
		if started, err := time.Parse(time.RFC3339Nano, st.StartedAt); err == nil && !started.IsZero() {
			detail += ", up " + humanDuration(now.Sub(started))
		}
		return fmt.Sprintf("%s: %s (%s)", name, stateText(st), detail)
	}
	return fmt.Sprintf("%s: %s", name, stateText(st))
}

// stateText names a container's state: "running", "paused", "exited (0)".
func stateText(st *container.State) string {
	switch {
	case st.Paused:
		return "paused"
	case st.Restarting:
		return "restarting"
	case st.Running:
		return "running"
	case st.Status == container.StateExited:
		return fmt.Sprintf("exited (%d)", st.ExitCode)
	case st.Status != "":
		return string(st.Status)
	}
	return "not running"
}

// humanDuration gives d in its two largest units: "45s", "5m", "2h5m", "3d4h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		if m := s % 3600 / 60; m != 0 {
			return fmt.Sprintf("%dh%dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	}
	if h := s % 86400 / 3600; h != 0 {
		return fmt.Sprintf("%dd%dh", s/86400, h)
	}
	return fmt.Sprintf("%dd", s/86400)
}
