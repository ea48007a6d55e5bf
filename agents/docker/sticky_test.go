package docker

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"spirit/internal/sticky/stickytest"
	"spirit/target"
)

// stickySetup gives the container bob's (uid 1000) links to root's
// /etc/victim and to /etc in /tmp (root's, 01777), root's link there, and
// bob's file; /bobs (bob's, 01777) and /plain (0777) with bob's links.
const stickySetup = `set -e
echo "root's" >/etc/victim
echo "bob's" >/tmp/bobs-file && chown 1000:1000 /tmp/bobs-file
ln -s /etc/victim /tmp/bob-link && chown -h 1000:1000 /tmp/bob-link
ln -s /etc /tmp/bob-dir-link && chown -h 1000:1000 /tmp/bob-dir-link
ln -s ../etc/victim /tmp/root-link
mkdir /bobs && chmod 1777 /bobs && chown 1000:1000 /bobs
ln -s /etc/victim /bobs/link && chown -h 1000:1000 /bobs/link
mkdir /plain && chmod 0777 /plain
ln -s /etc/victim /plain/link && chown -h 1000:1000 /plain/link
`

// TestStickyLinks: a file of a container is read and stored through the
// Engine's archive API (which follows links itself, and replaces files)
// only as the kernel's protected_symlinks and protected_regular rules let
// root's bash there: a container user's link in /tmp cannot redirect
// `> @docker:c /tmp/x` to a file of root's.
func TestStickyLinks(t *testing.T) {
	_, tgt, _ := newTarget(t)
	for _, tc := range stickytest.Cases {
		t.Run(tc.Path+" "+tc.Mode.String(), func(t *testing.T) {
			mustRun(t, tgt, "rm -rf /tmp/* /bobs /plain; "+stickySetup)
			err := stickytest.UseFile(testContext(t), tgt, "/"+tc.Path, tc.Mode)
			if !tc.Refused {
				if err != nil {
					t.Fatalf("%v", err)
				}
				return
			}
			if !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("%v, want a refusal (fs.ErrPermission)", err)
			}
			if got := mustRun(t, tgt, "cat /etc/victim /tmp/bobs-file"); got != "root's\nbob's\n" {
				t.Errorf("the files are now %q, want them untouched", got)
			}
		})
	}
}

// TestFileErrorEscaped: a file error whose text holds what the container
// chose (here a link's target, named by the refusal) shows it escaped.
func TestFileErrorEscaped(t *testing.T) {
	_, tgt, _ := newTarget(t)
	mustRun(t, tgt, `set -e
ln -s /etc/passwd "$(printf '/tmp/x\033[2J')" && chown -h 1000:1000 /tmp/x*
ln -s "$(printf '/tmp/x\033[2J')" /tmp/a`)
	err := stickytest.UseFile(testContext(t), tgt, "/tmp/a", target.Read)
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), `/tmp/x\x1b[2J`) || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("%q: want a refusal that names the link escaped", err)
	}
}
