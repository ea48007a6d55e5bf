package docker

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"path"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"spirit/internal/sticky"
)

// rootUID is who reads and writes a container's files here: the Engine's
// archive calls and the append exec act as the container's root.
const rootUID = 0

// walk resolves p in the container one component at a time, as the
// kernel would for root with protected_symlinks on: a link in a sticky
// directory that others can write is followed only when it is root's or
// the directory owner's (a *sticky.Error otherwise). The Engine's own
// stat follows the links of a path's directories without a word and
// reports only a link's last target, and its archive calls replace files,
// so the rule is applied here, on paths whose directories hold no link.
// It returns the path with no link in it and what is there, st nil when
// nothing is.
func (r *resolved) walk(ctx context.Context, p string) (dest string, st *container.PathStat, err error) {
	// The stat of the last directory looked at, which the rules may need.
	var seen string
	var seenSt *container.PathStat
	dest, exists, err := sticky.Walk(p, maxLinks, func(dir, next string) (sticky.Step, error) {
		res, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: next})
		if cerrdefs.IsNotFound(err) {
			return sticky.Step{Missing: true}, nil
		}
		if err != nil {
			// The stat is a HEAD request: its error has no text. The
			// usual cause is a file where a directory should be.
			if derr := r.checkDir(ctx, dir); derr != nil {
				return sticky.Step{}, derr
			}
			return sticky.Step{}, err
		}
		if res.Stat.Mode&fs.ModeSymlink == 0 {
			seen, seenSt = next, &res.Stat
			return sticky.Step{}, nil
		}
		var dirSt *container.PathStat
		if seen == dir {
			dirSt = seenSt
		}
		to, err := r.followable(ctx, dir, dirSt, next)
		return sticky.Step{Link: true, Target: to}, err
	})
	if err != nil || !exists {
		return dest, nil, err
	}
	if seen != dest {
		res, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: dest})
		if err != nil {
			return "", nil, err
		}
		seenSt = &res.Stat
	}
	return dest, seenSt, nil
}

// followable checks the link at link, in dir, against the rule, and says
// where it leads: its own archive entry holds its owner and its target.
func (r *resolved) followable(ctx context.Context, dir string, dirSt *container.PathStat, link string) (string, error) {
	hdr, err := r.current(ctx, link)
	if err != nil {
		return "", fmt.Errorf("reading the link %s: %w", link, err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		return "", fmt.Errorf("%s changed while its links were followed: try again", link)
	}
	d, err := r.stickyDir(ctx, dir, dirSt, hdr.Uid)
	if err != nil {
		return "", err
	}
	if err := sticky.Follow(rootUID, link, hdr.Uid, d); err != nil {
		return "", err
	}
	return hdr.Linkname, nil
}

// mayCreate refuses what an O_CREAT open of the existing file dest (st)
// by root would be refused by protected_regular and protected_fifos: the
// archive API replaces the file, which the kernel does not check.
func (r *resolved) mayCreate(ctx context.Context, dest string, st *container.PathStat) error {
	if !st.Mode.IsRegular() && st.Mode.Type() != fs.ModeNamedPipe {
		return nil
	}
	dir := path.Dir(dest)
	res, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: dir})
	if err != nil || !sticky.Shared(res.Stat.Mode) {
		return err
	}
	hdr, err := r.current(ctx, dest)
	if err != nil {
		return fmt.Errorf("reading the owner of %s: %w", dest, err)
	}
	d, err := r.stickyDir(ctx, dir, &res.Stat, hdr.Uid)
	if err != nil {
		return err
	}
	return sticky.Create(rootUID, dest, hdr.Uid, st.Mode, d)
}

// stickyDir is dir as the rules see it for a file of user owner. The
// owner of dir costs an archive call: it is read only when the rules
// depend on it.
func (r *resolved) stickyDir(ctx context.Context, dir string, st *container.PathStat, owner int) (sticky.Dir, error) {
	if st == nil {
		res, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: dir})
		if err != nil {
			return sticky.Dir{}, err
		}
		st = &res.Stat
	}
	d := sticky.Dir{Mode: st.Mode, UID: -1}
	if !sticky.Shared(st.Mode) || owner == rootUID {
		return d, nil
	}
	// The first entry of a directory's archive is the directory.
	hdr, err := r.current(ctx, dir)
	if err != nil {
		return sticky.Dir{}, fmt.Errorf("reading the owner of %s: %w", dir, err)
	}
	d.UID = hdr.Uid
	return d, nil
}
