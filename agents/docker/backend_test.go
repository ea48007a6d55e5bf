package docker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"spirit/internal/dockertest"
	"spirit/target"
)

func TestNotFound(t *testing.T) {
	t.Parallel()
	running := dockertest.Container(t, "")
	b := New(Options{})
	defer b.Close()
	tgt := b.Target("spirit-no-such-container")
	ctx := testContext(t)
	want := "no such container spirit-no-such-container (running: "
	uses := map[string]func() error{
		"exec": func() error { return run(ctx, tgt, "true", nil).err },
		"open": func() error {
			_, err := tgt.Open(ctx, "/etc/passwd", target.Read)
			return err
		},
		"control": func() error {
			_, err := control(ctx, tgt, "--status")
			return err
		},
	}
	for name, use := range uses {
		err := use()
		if !errors.Is(err, target.ErrNotFound) {
			t.Errorf("%s: %v does not wrap target.ErrNotFound", name, err)
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), running) {
			t.Errorf("%s: error %q, want %q... naming %s", name, err, want, running)
		}
	}
}

// TestUnreachable is not parallel: it changes DOCKER_HOST.
func TestUnreachable(t *testing.T) {
	host := "unix://" + t.TempDir() + "/no-dockerd.sock"
	t.Setenv("DOCKER_HOST", host)
	b := New(Options{})
	defer b.Close()
	ctx := testContext(t)
	uses := map[string]func() error{
		"exec": func() error { return run(ctx, b.Target("c1"), "true", nil).err },
		"default": func() error {
			return run(ctx, b.Target(""), "true", nil).err
		},
		"open": func() error {
			_, err := b.Target("c1").Open(ctx, "/x", target.Write)
			return err
		},
		"containers": func() error {
			_, err := b.Containers(ctx)
			return err
		},
	}
	for name, use := range uses {
		start := time.Now()
		err := use()
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, part := range []string{"cannot reach the Docker Engine at " + host + ": ", "(is dockerd running? DOCKER_HOST selects another engine)"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q does not say %q", name, err, part)
			}
		}
		if errors.Is(err, target.ErrNotFound) {
			t.Errorf("%s: an unreachable engine is not a missing container: %v", name, err)
		}
	}
}

func TestDefaultContainer(t *testing.T) {
	t.Parallel()
	c1 := dockertest.Container(t, "")
	c2 := dockertest.Container(t, "")
	ctx := testContext(t)

	t.Run("configured", func(t *testing.T) {
		b := New(Options{DefaultContainer: c2})
		defer b.Close()
		out, err := control(ctx, b.Target(""), "--status")
		if err != nil || !strings.HasPrefix(out, c2+": running") {
			t.Errorf("got %q, %v; want the status of %s", out, err, c2)
		}
	})

	t.Run("several running", func(t *testing.T) {
		b := New(Options{})
		defer b.Close()
		err := run(ctx, b.Target(""), "true", nil).err
		if err == nil {
			t.Fatal("no error")
		}
		for _, part := range []string{"several containers are running (", c1, c2, "use @docker:NAME"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not say %q", err, part)
			}
		}
	})

	t.Run("containers", func(t *testing.T) {
		b := New(Options{})
		defer b.Close()
		names, err := b.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, c1) || !slices.Contains(names, c2) || !slices.IsSorted(names) {
			t.Errorf("got %q, want them sorted with %s and %s", names, c1, c2)
		}
	})
}

func TestClosed(t *testing.T) {
	b := New(Options{})
	b.Target("x") // no I/O before use
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Containers(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
