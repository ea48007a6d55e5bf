// Package dockertest gives tests real containers on the test dockerd. It
// never skips: a test that needs Docker and finds none fails with the
// command that starts one (make test, or scripts/dockerd.sh start DIR). It is
// for tests only, and knows nothing of spirit's own Docker target.
package dockertest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Image is the busybox image that scripts/dockerd.sh imports into the test
// engine: busybox-static with PATH=/bin, no registry needed.
const Image = "spirit-test/busybox:latest"

// Label marks the containers made here, so stray ones can be found.
const Label = "spirit.test"

const (
	setupTimeout   = 30 * time.Second
	cleanupTimeout = 15 * time.Second
)

const howto = "run the tests with make test (which starts a dockerd), or start one with " +
	"scripts/dockerd.sh start DIR and export the DOCKER_HOST it prints"

// Client returns a client for the test engine, closed when the test ends. It
// fails the test when DOCKER_HOST is unset or the engine does not answer.
func Client(t testing.TB) *client.Client {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		t.Fatalf("DOCKER_HOST is not set: these tests need the test dockerd; %s", howto)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client for DOCKER_HOST=%s: %v", host, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("cannot reach the Docker Engine at %s: %v; %s", host, err, howto)
	}
	return cli
}

// Container creates and starts a container of Image running "sleep 1000000"
// and returns its name. It is removed (forced) when the test ends. With an
// empty name, the name is made from the test's name and a random suffix;
// otherwise it is exactly name, and a leftover container of that name from an
// earlier run is removed first.
func Container(t testing.TB, name string) string {
	t.Helper()
	return ContainerWith(t, name, nil)
}

// ContainerWith is Container with host, when not nil, changing the
// container's host configuration first: a tmpfs, a limit.
func ContainerWith(t testing.TB, name string, host func(*container.HostConfig)) string {
	t.Helper()
	cli := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if name == "" {
		name = uniqueName(t.Name())
	} else {
		_, err := cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Fatalf("remove leftover container %s: %v", name, err)
		}
	}
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  Image,
			Cmd:    []string{"sleep", "1000000"},
			Labels: map[string]string{Label: t.Name()},
		},
		HostConfig: hostConfig(host),
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			t.Fatalf("create container %s: image %s is missing (scripts/dockerd.sh start DIR imports it): %v", name, Image, err)
		}
		t.Fatalf("create container %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context is already done here; removal needs its own.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		// With its anonymous volumes: a test's tmpfs volume goes with it.
		_, err := cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove container %s: %v", name, err)
		}
	})
	if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container %s: %v", name, err)
	}
	return name
}

func hostConfig(change func(*container.HostConfig)) *container.HostConfig {
	// The test dockerd has no bridge; no test needs a network.
	hc := &container.HostConfig{NetworkMode: "none"}
	if change != nil {
		change(hc)
	}
	return hc
}

// uniqueName turns a test name into a valid, unique container name
// ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
func uniqueName(test string) string {
	var b strings.Builder
	b.WriteString("spirit-test-")
	for _, r := range test {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 60 {
			break
		}
	}
	b.WriteByte('-')
	b.WriteString(strings.ToLower(rand.Text()[:8]))
	return b.String()
}
