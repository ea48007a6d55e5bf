package docker

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// agentDirs are the directories, in the order tried, that may hold the
// agent binary and its socket in a container: one of spirit's own, so that
// nothing of the image's is touched. First in the root file system's
// writable layer, which the archive API writes into and which is there in
// any container without a read-only root (a tmpfs mounted on /tmp, as
// often given to a busybox or distroless container, is not seen by the
// archive API: what it writes there is hidden under the mount); then in
// /tmp, for a container whose root is read-only and whose /tmp is a
// volume. A container with neither uses the Engine's exec.
var agentDirs = []string{"/.spirit", "/tmp/.spirit"}

// agentBin is the agent binary on the host.
type agentBin struct {
	file string // on the host
	size int64
	// key is in the names of the socket of the agent started from this
	// file and of the file that records it (nameFile): it is made from
	// the file's size, modification time and inode, which a stat gives
	// at once, where hashing it would cost each spirit -c some
	// milliseconds.
	key string

	hashOnce sync.Once
	sum      [sha256.Size]byte // its SHA-256; set by hashOnce
	hashErr  error             // set by hashOnce
}

// path is where the binary is in dir in a container. Its name carries a
// hash of its content, so that an identical binary is never copied twice.
func (a *agentBin) path(dir string) (string, error) {
	sum, err := a.sha256()
	if err != nil {
		return "", err
	}
	return dir + "/spirit-agent-" + hex.EncodeToString(sum[:8]), nil
}

// sha256 is the SHA-256 of the binary, computed once.
func (a *agentBin) sha256() ([sha256.Size]byte, error) {
	a.hashOnce.Do(func() {
		f, err := os.Open(a.file)
		if err != nil {
			a.hashErr = fmt.Errorf("agent binary: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			a.hashErr = fmt.Errorf("agent binary: %w", err)
			return
		}
		h.Sum(a.sum[:0])
	})
	return a.sum, a.hashErr
}

// agentBinary finds Options.AgentBinary, once.
func (b *Backend) agentBinary() (*agentBin, error) {
	b.binOnce.Do(func() {
		file := b.opts.AgentBinary
		if file == "" {
			b.binErr = errors.New("no agent binary configured")
			return
		}
		fi, err := os.Stat(file)
		if err != nil {
			b.binErr = fmt.Errorf("agent binary: %w", err)
			return
		}
		if !fi.Mode().IsRegular() {
			b.binErr = fmt.Errorf("agent binary %s: not a regular file", file)
			return
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%d %d %d", fi.Size(), fi.ModTime().UnixNano(), ino))
		b.bin = &agentBin{file: file, size: fi.Size(), key: hex.EncodeToString(sum[:8])}
	})
	return b.bin, b.binErr
}

// placed is where the agent binary is in a container.
type placed struct {
	dir, exe string
	// unchecked: a binary of the agent's size was found there, and
	// reuseScript must pass before it runs.
	unchecked bool
}

// installAgent copies the agent binary into the first of agentDirs that
// takes it, unless the same one is there already, and returns where it
// is. With deferCheck, the check of a binary found there is left to the
// caller, which folds it into the agent's start (dialExec).
func (r *resolved) installAgent(ctx context.Context, bin *agentBin, deferCheck bool) (placed, error) {
	var errs []error
	for _, dir := range agentDirs {
		p, err := r.installIn(ctx, bin, dir, deferCheck)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			return placed{}, err
		}
		errs = append(errs, err)
	}
	return placed{}, errors.Join(errs...)
}

// installIn copies the agent binary into dir, unless it is there already
// and safe to run (reusable), or, with deferCheck, looks so.
func (r *resolved) installIn(ctx context.Context, bin *agentBin, dir string, deferCheck bool) (placed, error) {
	exe, err := bin.path(dir)
	if err != nil {
		return placed{}, err
	}
	p := placed{dir: dir, exe: exe}
	err = r.looksReusable(ctx, bin, exe)
	if err == nil && deferCheck {
		p.unchecked = true
		return p, nil
	}
	if err == nil {
		err = r.checkReusable(ctx, bin, dir, exe)
	}
	if err == nil {
		return p, nil
	}
	if ctx.Err() != nil {
		return placed{}, err
	}
	r.b.log.Debug("docker agent binary not reused", "container", r.name, "path", exe, "why", err)
	if err := r.copyAgent(ctx, bin, dir, exe); err != nil {
		return placed{}, err
	}
	return p, nil
}

// copyAgent copies the agent binary to exe in dir. It replaces whatever
// is at exe, and makes dir the container root's, 0755.
func (r *resolved) copyAgent(ctx context.Context, bin *agentBin, dir, exe string) error {
	f, err := os.Open(bin.file)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	tarDone := make(chan error, 1)
	go func() {
		err := writeAgentTar(pw, f, path.Base(dir), path.Base(exe), bin.size)
		pw.CloseWithError(err)
		tarDone <- err
	}()
	_, err = r.cli.CopyToContainer(ctx, r.id, client.CopyToContainerOptions{
		DestinationPath: path.Dir(dir),
		Content:         pr,
	})
	pr.CloseWithError(errors.New("request ended")) // unblocks the tar writer
	tarErr := <-tarDone
	if err != nil {
		return fmt.Errorf("copy the agent to %s: %w", exe, r.b.engineErr(r.cli, err))
	}
	if tarErr != nil {
		return fmt.Errorf("copy the agent to %s: %w", exe, tarErr)
	}
	r.b.log.Debug("docker agent copied", "container", r.name, "path", exe)
	return nil
}

// writeAgentTar writes the directory dir and the binary f in it, called
// name, as a tar.
func writeAgentTar(w io.Writer, f io.Reader, dir, name string, size int64) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	// 0755: a container whose user is not root runs the binary too.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + "/" + name, Mode: 0o755, Size: size, ModTime: now}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close() // fails if the file changed size meanwhile
}

// sharedAgentPid is the pid, as the host sees it, of the container's first
// process when the shared socket agent can be used: the Engine is on this
// machine and the container runs as root (the user the agent serves as).
// That it is still the container's is for holdProcess to check.
func (r *resolved) sharedAgentPid() (int, error) {
	if host := r.cli.DaemonHost(); !strings.HasPrefix(host, "unix://") {
		return 0, fmt.Errorf("the Engine at %s is not on this machine", host)
	}
	if u := r.info.Config; u != nil && !rootUser(u.User) {
		return 0, fmt.Errorf("the container's user is %s, not root", u.User)
	}
	pid := r.info.State.Pid
	if pid <= 0 {
		return 0, errors.New("the engine reported no pid")
	}
	return pid, nil
}

// listenEnv tells a shared agent where to listen (unix:PATH). The
// environment, unlike the command line, is not for every local user to
// read in /proc: the socket's name is a secret of root's and the
// container's root.
const listenEnv = "SPIRIT_AGENT_LISTEN"

// socketName is a fresh name for the socket of an agent started from the
// binary whose key is key: its random part makes it one that nobody can
// compute from the binary, and that a former start's agent never had.
func socketName(key string) string { return "agent-" + key + "-" + rand.Text() + ".sock" }

// validSocketName says whether name is one that socketName makes for key.
func validSocketName(name, key string) bool {
	r, ok := strings.CutPrefix(name, "agent-"+key+"-")
	r, ok2 := strings.CutSuffix(r, ".sock")
	return ok && ok2 && len(r) == 26 && strings.Trim(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == ""
}

// nameFile is the file, in an agent directory, that names the socket of
// the agent last started there from the binary whose key is key.
func nameFile(key string) string { return "agent-" + key + ".name" }

// dialSocket connects to the container's shared agent, starting it if it
// is not listening. The container's first process is held from its check
// to the end, so that every path is resolved in the container's root, not
// in that of a process that took its PID meanwhile.
func (r *resolved) dialSocket(ctx context.Context, bin *agentBin) (net.Conn, error) {
	pid, err := r.sharedAgentPid()
	if err != nil {
		return nil, err
	}
	h, err := holdProcess(r.name, r.id, pid, r.info.State.StartedAt)
	if err != nil {
		return nil, err
	}
	defer h.close()
	for _, dir := range agentDirs {
		sock, err := h.agentSocket(dir, bin.key)
		if err == nil {
			var conn net.Conn
			if conn, err = r.connect(ctx, h, sock); err == nil {
				return conn, nil
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				// A former start's agent: each start leaves one.
				if rerr := h.removeSocket(sock); rerr != nil {
					r.b.log.Debug("docker agent: stale socket not removed", "container", r.name, "err", rerr)
				}
			}
		}
		if errors.Is(err, ErrProcessGone) || errors.Is(err, errUnreachable) {
			return nil, err
		}
	}
	p, err := r.installAgent(ctx, bin, false)
	if err != nil {
		return nil, err
	}
	sock := p.dir + "/" + socketName(bin.key)
	ex, err := r.cli.ExecCreate(ctx, r.id, client.ExecCreateOptions{
		Cmd: []string{p.exe},
		Env: []string{listenEnv + "=unix:" + sock},
	})
	if err != nil {
		return nil, fmt.Errorf("start the agent: %w", r.b.engineErr(r.cli, err))
	}
	if _, err := r.cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return nil, fmt.Errorf("start the agent: %w", r.b.engineErr(r.cli, err))
	}
	r.b.log.Debug("docker agent started", "container", r.name, "exec", ex.ID)
	delay := time.Millisecond
	for {
		conn, err := r.connect(ctx, h, sock)
		if err == nil {
			if err := h.saveAgentSocket(sock, bin.key); err != nil {
				r.b.log.Debug("docker agent socket not recorded", "container", r.name, "err", err)
			}
			return conn, nil
		}
		if errors.Is(err, ErrProcessGone) || errors.Is(err, errUnreachable) {
			return nil, err
		}
		ins, ierr := r.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if ierr != nil {
			return nil, fmt.Errorf("start the agent: %w", r.b.engineErr(r.cli, ierr))
		}
		if !ins.Running {
			return nil, fmt.Errorf("start the agent: it exited with status %d (%v)", ins.ExitCode, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("start the agent: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// connect dials the agent's socket sock through the held process.
func (r *resolved) connect(ctx context.Context, h *heldProc, sock string) (net.Conn, error) {
	if r.b.beforeConnect != nil {
		r.b.beforeConnect(h.pid, sock)
	}
	return h.dial(ctx, sock)
}

// dialExec starts an agent of this Backend's own as an Engine exec and
// returns its stdin and stdout as a stream. The check of a binary found
// in place is folded into that exec, so that each spirit that takes this
// way pays one exec, not two; when the check fails, the binary is copied
// afresh and started without it.
func (r *resolved) dialExec(ctx context.Context, bin *agentBin) (net.Conn, error) {
	p, err := r.installAgent(ctx, bin, true)
	if err != nil {
		return nil, err
	}
	if p.unchecked {
		conn, err := r.startAgentExec(ctx, bin, p)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		r.b.log.Debug("docker agent binary not reused", "container", r.name, "path", p.exe, "why", err)
		if err := r.copyAgent(ctx, bin, p.dir, p.exe); err != nil {
			return nil, err
		}
		p.unchecked = false
	}
	return r.startAgentExec(ctx, bin, p)
}

// startAgentExec starts "spirit-agent --stdio" at p as an Engine exec,
// after reuseScript's check when p is unchecked.
func (r *resolved) startAgentExec(ctx context.Context, bin *agentBin, p placed) (net.Conn, error) {
	cmd := []string{p.exe, "--stdio"}
	if p.unchecked {
		args, err := reuseArgs(bin, p.dir, p.exe)
		if err != nil {
			return nil, err
		}
		cmd = append([]string{"/bin/sh", "-c", checkedStart}, args...)
	}
	ex, err := r.cli.ExecCreate(ctx, r.id, client.ExecCreateOptions{
		Cmd:          cmd,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start the agent: %w", r.b.engineErr(r.cli, err))
	}
	att, err := r.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("start the agent: %w", r.b.engineErr(r.cli, err))
	}
	r.b.log.Debug("docker agent exec started", "container", r.name, "exec", ex.ID, "checked", p.unchecked)
	conn := newExecConn(att.HijackedResponse, &logWriter{r: r, exec: ex.ID})
	if p.unchecked {
		if err := expectChecked(ctx, conn); err != nil {
			closeQuietly(conn)
			return nil, err
		}
	}
	return conn, nil
}

// logWriter passes what the agent writes on stderr to the debug log.
type logWriter struct {
	r    *resolved
	exec string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.r.b.log.Debug("docker agent", "container", w.r.name, "exec", w.exec, "log", strings.TrimSpace(string(p)))
	return len(p), nil
}
