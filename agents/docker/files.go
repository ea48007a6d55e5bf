package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"spirit/internal/printable"
	"spirit/target"
)

// maxLinks bounds the symbolic links followed to reach a file.
const maxLinks = 16

// newFileMode is the mode of a file that a write creates.
const newFileMode = 0o644

// Open opens a file of the container through the Engine's archive API; see
// target.Target. A relative path is taken from the container's working
// directory. Reads stream the file; writes are spooled to a private host
// file and stored in the container by Close, since a tar entry needs its
// size up front; appends stream into the container (append.go), so that no
// copy of the current file is ever made on the host.
func (t *Target) Open(ctx context.Context, p string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	r, err := t.resolve(ctx, needExists, func(name string) string { return fmt.Sprintf("%s %s in %s", mode, p, name) })
	if err != nil {
		return nil, err
	}
	p = r.abs(p)
	switch mode {
	case target.Read:
		cl, err := t.b.agentClient(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("docker %s %s in %s: %w", mode, p, r.name, err)
		}
		if cl != nil {
			f, err := cl.Open(ctx, p, mode)
			if err != nil {
				return nil, fmt.Errorf("docker %s %s in %s: %w", mode, p, r.name, err)
			}
			return f, nil
		}
		return r.openRead(ctx, p)
	case target.Write:
		return r.openWrite(ctx, p)
	case target.Append:
		return r.openAppend(ctx, p)
	}
	return nil, fmt.Errorf("docker open %s in %s: unknown mode %d", p, r.name, int(mode))
}

// abs makes p absolute, from the container's working directory.
func (r *resolved) abs(p string) string {
	if !path.IsAbs(p) {
		dir := r.workDir
		if dir == "" {
			dir = "/"
		}
		p = path.Join(dir, p)
	}
	return path.Clean(p)
}

// fileErr wraps an error about the file p. Its text may hold what the
// container chose (a link's target, in a path the Engine echoes): it is
// shown escaped.
func (r *resolved) fileErr(op target.OpenMode, p string, err error) error {
	return printable.Error(fmt.Errorf("docker %s %s in %s: %w", op, p, r.name, r.b.engineErr(r.cli, err)))
}

// openRead streams the one regular file at p out of the archive the Engine
// sends, its links followed as cat would with the kernel's rules (walk).
func (r *resolved) openRead(ctx context.Context, p string) (io.ReadWriteCloser, error) {
	dest, st, err := r.walk(ctx, p)
	switch {
	case err != nil:
		return nil, r.fileErr(target.Read, p, err)
	case st == nil:
		return nil, r.fileErr(target.Read, p, fs.ErrNotExist)
	case st.Mode.IsDir():
		return nil, r.fileErr(target.Read, p, syscall.EISDIR)
	}
	res, err := r.cli.CopyFromContainer(ctx, r.id, client.CopyFromContainerOptions{SourcePath: dest})
	if cerrdefs.IsNotFound(err) {
		return nil, r.fileErr(target.Read, p, fs.ErrNotExist)
	}
	if err != nil {
		return nil, r.fileErr(target.Read, p, err)
	}
	tr := tar.NewReader(res.Content)
	hdr, err := tr.Next()
	if err != nil {
		closeQuietly(res.Content)
		return nil, r.fileErr(target.Read, p, fmt.Errorf("reading the archive: %w", err))
	}
	if hdr.Typeflag != tar.TypeReg {
		// A link put in its place since walk is not followed either.
		closeQuietly(res.Content)
		return nil, r.fileErr(target.Read, p, errors.New("not a regular file"))
	}
	return &fileReader{tr: tr, body: res.Content}, nil
}

// fileReader reads one file out of a tar stream.
type fileReader struct {
	tr   *tar.Reader
	body io.Closer
}

func (f *fileReader) Read(p []byte) (int, error) { return f.tr.Read(p) }

func (f *fileReader) Write([]byte) (int, error) {
	return 0, errors.New("docker file opened for reading")
}

func (f *fileReader) Close() error { return f.body.Close() }

// openWrite checks that p can be written, then returns a writer that spools
// to a host file until Close. The check at Open is for an early, clear error
// before a command runs; Close checks again.
func (r *resolved) openWrite(ctx context.Context, p string) (io.ReadWriteCloser, error) {
	if _, _, err := r.destination(ctx, p); err != nil {
		return nil, r.fileErr(target.Write, p, err)
	}
	spool, err := os.CreateTemp("", "spirit-docker-*")
	if err != nil {
		return nil, r.fileErr(target.Write, p, fmt.Errorf("spool file: %w", err))
	}
	// Unlinked at once: the open file is all we need, and nothing is left
	// behind whatever happens (CreateTemp makes it 0600 anyway).
	if err := os.Remove(spool.Name()); err != nil {
		closeQuietly(spool)
		return nil, r.fileErr(target.Write, p, fmt.Errorf("spool file: %w", err))
	}
	return &fileWriter{r: r, ctx: ctx, path: p, spool: spool}, nil
}

// destination follows the symbolic links of p, as a shell's redirection
// does with the kernel's rules (walk), and checks the file it names: it
// must not be a directory, its directory must exist, and root must be
// allowed to open it with O_CREAT (mayCreate). st is nil for a new file.
func (r *resolved) destination(ctx context.Context, p string) (dest string, st *container.PathStat, err error) {
	dest, st, err = r.walk(ctx, p)
	switch {
	case err != nil:
		return "", nil, err
	case st == nil:
		return dest, nil, r.checkDir(ctx, path.Dir(dest))
	case st.Mode.IsDir():
		return "", nil, syscall.EISDIR
	}
	return dest, st, r.mayCreate(ctx, dest, st)
}

// checkDir checks that dir exists and is a directory.
func (r *resolved) checkDir(ctx context.Context, dir string) error {
	res, err := r.cli.ContainerStatPath(ctx, r.id, client.ContainerStatPathOptions{Path: dir})
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if err != nil {
		return err
	}
	if !res.Stat.Mode.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// fileWriter spools writes to a host file and stores them in the
// container on Close, with the context given to Open.
type fileWriter struct {
	r     *resolved
	ctx   context.Context
	path  string
	spool *os.File // nil once closed
	err   error    // the first write error
}

func (f *fileWriter) Read([]byte) (int, error) {
	return 0, errors.New("docker file opened for writing")
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.spool == nil {
		return 0, fs.ErrClosed
	}
	n, err := f.spool.Write(p)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("spool file: %w", err)
	}
	return n, err
}

// Close stores the file in the container and reports any failure.
func (f *fileWriter) Close() error {
	if f.spool == nil {
		return fs.ErrClosed
	}
	defer func() {
		closeQuietly(f.spool)
		f.spool = nil
	}()
	if f.err != nil {
		return f.r.fileErr(target.Write, f.path, f.err)
	}
	if err := f.store(); err != nil {
		return f.r.fileErr(target.Write, f.path, err)
	}
	return nil
}

// store sends the spooled bytes as a one-entry tar into the file's
// directory.
func (f *fileWriter) store() error {
	ctx, r := f.ctx, f.r
	dest, st, err := r.destination(ctx, f.path)
	if err != nil {
		return err
	}
	size, err := f.spool.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("spool file: %w", err)
	}
	if _, err := f.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool file: %w", err)
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path.Base(dest),
		Mode:     newFileMode,
		Size:     size,
		ModTime:  time.Now(),
	}
	copyOwner := false
	if st != nil {
		// Keep the file's mode and owner, as a shell's redirection does;
		// the owner is only in the archive's header.
		hdr.Mode = unixMode(st.Mode)
		cur, err := r.current(ctx, dest)
		if err != nil {
			return fmt.Errorf("reading the current file's owner: %w", err)
		}
		hdr.Uid, hdr.Gid, copyOwner = cur.Uid, cur.Gid, true
	}
	return r.putFile(ctx, path.Dir(dest), hdr, f.spool, copyOwner)
}

// current reads the header of the file at p, and none of its content. The
// archive is closed before it returns: the Engine holds the container's
// lock until then, so a copy into the container made while it is open
// would wait for ever once the file is larger than what the connection
// buffers.
func (r *resolved) current(ctx context.Context, p string) (*tar.Header, error) {
	res, err := r.cli.CopyFromContainer(ctx, r.id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, err
	}
	defer closeQuietly(res.Content)
	return tar.NewReader(res.Content).Next()
}

// putFile streams a one-entry tar of hdr with the content of data into dir.
func (r *resolved) putFile(ctx context.Context, dir string, hdr *tar.Header, data io.Reader, copyOwner bool) error {
	pr, pw := io.Pipe()
	tarDone := make(chan error, 1)
	go func() {
		err := writeTar(pw, hdr, data)
		pw.CloseWithError(err)
		tarDone <- err
	}()
	_, err := r.cli.CopyToContainer(ctx, r.id, client.CopyToContainerOptions{
		DestinationPath: dir,
		Content:         pr,
		CopyUIDGID:      copyOwner,
	})
	// Unblock the tar writer if the request ended before reading it all.
	ended := errors.New("request ended")
	pr.CloseWithError(ended)
	tarErr := <-tarDone
	switch {
	case err == nil:
		// The engine stored a whole entry: a failure of the tar writer
		// would have cut the request short.
		return nil
	case tarErr != nil && tarErr != ended:
		return tarErr // the cause; the request failed because of it
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("directory %s does not exist", dir)
	}
	return err
}

// writeTar writes a one-entry tar: hdr, then data, which must hold exactly
// hdr.Size bytes.
func writeTar(w io.Writer, hdr *tar.Header, data io.Reader) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, data); err != nil {
		return err
	}
	// Close fails if data fell short of hdr.Size.
	return tw.Close()
}

// unixMode turns a Go file mode into the permission bits of a tar header.
func unixMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
