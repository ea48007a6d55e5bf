package docker

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// reuseScript exits 0 when the agent binary $2 in the directory $1 can be
// run as it is: both are owned by the container's root and writable by
// no one else, neither is a symbolic link, and the binary's SHA-256 is $3.
// Otherwise it says why and exits non-zero. The directory's own parent is
// / or /tmp, which in any sane image no other user can rename a directory
// of root's in (/ is root's alone, /tmp sticky), so nothing can change the
// binary between this check and its start but the container's root. It needs sh, stat and sha256sum
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

// checkedStart runs reuseScript, then says checkedToken and becomes the
// agent: the check and the start of an agent exec in one exec.
const checkedStart = reuseScript + `
echo ` + checkedToken + `
exec "$exe" --stdio`

// checkedToken is what checkedStart writes before the agent starts.
const checkedToken = "spirit-agent-checked"

// looksReusable says (nil) whether a binary of the agent's size is at exe:
// a stat, a few milliseconds against an exec's tens, so that a binary
// that is not there or not of the agent's size costs no check.
func (r *resolved) looksReusable(ctx context.Context, bin *agentBin, exe string) error {
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
	return nil
}

// checkReusable says (nil) whether the agent binary at exe, in dir, can
// be run as it is, or why not. The agent runs as the container's root, so
// a binary that anything else in the container could have written must
// not be. The check is one exec of reuseScript, as root, since reading
// the binary back through the archive API to hash it on the host costs
// several times more (two archive reads against one exec).
func (r *resolved) checkReusable(ctx context.Context, bin *agentBin, dir, exe string) error {
	args, err := reuseArgs(bin, dir, exe)
	if err != nil {
		return err
	}
	out, code, err := runQuiet(ctx, r.cli, r.id, "0", append([]string{"/bin/sh", "-c", reuseScript}, args...))
	if err != nil {
		return fmt.Errorf("checking %s: %w", exe, r.b.engineErr(r.cli, err))
	}
	if code != 0 {
		return fmt.Errorf("checking %s: exit status %d: %q", exe, code, strings.TrimSpace(out))
	}
	return nil
}

// reuseArgs are reuseScript's $0 and arguments.
func reuseArgs(bin *agentBin, dir, exe string) ([]string, error) {
	sum, err := bin.sha256()
	if err != nil {
		return nil, err
	}
	return []string{"spirit-reuse", dir, exe, hex.EncodeToString(sum[:])}, nil
}

// expectChecked reads checkedToken from the start of an agent exec's
// stream, or fails with what the check said instead.
func expectChecked(ctx context.Context, conn net.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	buf := make([]byte, len(checkedToken)+1) // and its newline
	n, err := io.ReadFull(conn, buf)
	if err == nil && string(buf) == checkedToken+"\n" {
		if !stop() {
			return fmt.Errorf("checking the agent binary: %w", ctx.Err())
		}
		return nil
	}
	// The script said why, then exited: its output ends.
	rest, _ := io.ReadAll(io.LimitReader(conn, maxQuietOutput))
	stop()
	if ctx.Err() != nil {
		return fmt.Errorf("checking the agent binary: %w", ctx.Err())
	}
	return fmt.Errorf("checking the agent binary: %q", strings.TrimSpace(string(buf[:n])+string(rest)))
}
