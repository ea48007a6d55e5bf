package main

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"spirit/internal/dockertest"
)

// TestRemoteEngine reaches the engine over TCP, as a remote DOCKER_HOST
// would be, through a forwarder to the test engine's unix socket.
func TestRemoteEngine(t *testing.T) {
	name := dockertest.Container(t, "c1-remote")
	sock, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if !ok {
		t.Fatalf("DOCKER_HOST %q is not a unix socket; run make test", os.Getenv("DOCKER_HOST"))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() { forward(ln, sock, &wg) })

	env := baseEnv(t)
	for i, e := range env {
		if strings.HasPrefix(e, "DOCKER_HOST=") {
			env[i] = "DOCKER_HOST=tcp://" + ln.Addr().String()
		}
	}
	r := runIn(t, t.TempDir(), env, "", spiritBin, "-c",
		"seq 1 1000 | @docker:"+name+" wc -l | @spirit tr -d ' '")
	if r.stdout != "1000\n" || r.status != 0 {
		t.Fatalf("over tcp: status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
}

// forward copies each TCP connection to a new connection to the unix
// socket, both ways, until the listener closes.
func forward(ln net.Listener, sock string, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			u, err := net.Dial("unix", sock)
			if err != nil {
				return
			}
			defer u.Close()
			var inner sync.WaitGroup
			inner.Go(func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite() })
			io.Copy(c, u)
			c.(*net.TCPConn).CloseWrite()
			inner.Wait()
		})
	}
}
