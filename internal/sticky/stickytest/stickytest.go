// Package stickytest holds the cases of the sticky-directory rules that
// every file transport of spirit must keep (the guest agent, a
// container's Engine path), and the use of a file that tries each.
package stickytest

import (
	"context"
	"io"

	"spirit/target"
)

// Case is one use of a file in the tree each transport's test builds:
// tmp (01777, root's) with bob's (uid 1000) links to root's safe file
// victim and to its directory, root's own link to it and bob's file
// bobs-file; bobs (01777, bob's) and plain (0777) with bob's links.
type Case struct {
	Path    string // relative to the tree's root
	Mode    target.OpenMode
	Refused bool // as the kernel refuses root's bash
}

// Cases are what protected_symlinks and protected_regular decide.
var Cases = []Case{
	{"tmp/bob-link", target.Write, true},
	{"tmp/bob-link", target.Append, true},
	{"tmp/bob-link", target.Read, true},
	{"tmp/bob-dir-link/victim", target.Write, true},
	{"tmp/bob-dir-link/victim", target.Read, true},
	{"tmp/bobs-file", target.Write, true},
	{"tmp/bobs-file", target.Append, true},
	{"tmp/bobs-file", target.Read, false},
	{"tmp/root-link", target.Write, false},
	{"bobs/link", target.Write, false},
	{"plain/link", target.Append, false},
}

// Opener opens a target's files.
type Opener interface {
	Open(ctx context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error)
}

// UseFile reads the file at p or writes a line to it, as mode says.
func UseFile(ctx context.Context, o Opener, p string, mode target.OpenMode) error {
	f, err := o.Open(ctx, p, mode)
	if err != nil {
		return err
	}
	if mode == target.Read {
		_, err = io.ReadAll(f)
	} else {
		_, err = f.Write([]byte("written\n"))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
