package docker

import (
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// reuseScript exits 0 when the agent binary $2 in the directory $1 can be
// run as it is: both are owned by the container's root and writable by
// no one else, neither is a symbolic link, and the binary's SHA-256 is $3.
// Otherwise it says why and exits non-zero. The directory's own parent is
// / or the sticky /tmp, in which no other user can rename a directory of
// root's, so nothing can change the binary between this check and its
// start but the container's root. It needs sh, stat and sha256sum
// (busybox has them); without them the binary is copied afresh.
const reuseScript = `dir=$1 exe=$2 sum=$3
[ -e "$exe" ] || { echo "not there"; exit 1; }
for f in "$dir" "$exe"; do
	[ -L "$f" ] && { echo "$f is a symbolic link"; exit 1; }
	m=$(stat -c '%u %a' "$f") || exit 2
	set -- $m
	[ "$1" = 0 ] || { echo "$f is owned by uid $1, not root"; exit 1; }
	[ $((0$2 & 022)) = 0 ] || { echo "$f is writable by group or others (mode $2)"; exit 1; }
done
[ -d "$dir" ] && [ -f "$exe" ] || { echo "not a directory and a regular file"; exit 1; }
got=$(sha256sum "$exe") || exit 2
[ "${got%% *}" = "$sum" ] || { echo "$exe is not the agent: its content differs"; exit 1; }`

// reusable says (nil) whether the agent binary at exe, in dir, can be run
// as it is, or why not. The agent runs as the container's root, so a
// binary that anything else in the container could have written must not
// be. The check is one exec of reuseScript, as root, since reading the
// binary back through the archive API to hash it on the host costs
// several times more (two archive reads against one exec).
func (r *resolved) reusable(ctx context.Context, bin *agentBin, dir, exe string) error {
	// A stat first, a few milliseconds against an exec's tens: a binary
	// that is not there, or not of the agent's size, needs no check.
	st, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: exe})
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", exe, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", exe, r.b.engineErr(r.cli, err))
	}
	if !st.Stat.Mode.IsRegular() || st.Stat.Size != bin.size {
		return fmt.Errorf("%s is not a regular file of the agent's size", exe)
	}
	sum, err := bin.sha256()
	if err != nil {
		return err
	}
	cmd := []string{"/bin/sh", "-c", reuseScript, "spirit-reuse", dir, exe, hex.EncodeToString(sum[:])}
	out, code, err := runQuiet(ctx, r.cli, r.id, "0", cmd)
	if err != nil {
		return fmt.Errorf("checking %s: %w", exe, r.b.engineErr(r.cli, err))
	}
	if code != 0 {
		return fmt.Errorf("checking %s: exit status %d: %q", exe, code, strings.TrimSpace(out))
	}
	return nil
}
