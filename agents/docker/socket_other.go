//go:build !linux

package docker

import (
	"context"
	"errors"
	"net"
)

var errUnreachable = errors.New("the container's files are not reachable from here")

// heldProc needs Linux's /proc, pidfds and openat2.
type heldProc struct{ pid int }

func holdProcess(string, string, int, string) (*heldProc, error) { return nil, errUnreachable }

func (*heldProc) close() {}

func (*heldProc) dial(context.Context, string) (net.Conn, error) { return nil, errUnreachable }

func (*heldProc) agentSocket(string, string) (string, error) { return "", errUnreachable }

func (*heldProc) saveAgentSocket(string, string) error { return errUnreachable }

func (*heldProc) removeSocket(string) error { return errUnreachable }
