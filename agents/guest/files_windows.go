package guest

import (
	"io/fs"
	"path/filepath"
)

// noFollow is nothing on Windows: os.OpenFile has no such flag there.
const noFollow = 0

// resolve follows p's links as os.Open would. Windows has no sticky
// directories that everyone can write: its ACLs decide who may put a link
// where, and the open checks them.
func resolve(p string) (string, error) {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r, nil
	}
	return p, nil
}

// mayCreate allows what the ACLs allow.
func mayCreate(string, fs.FileInfo) error { return nil }
