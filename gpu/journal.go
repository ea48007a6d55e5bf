package gpu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"spirit/internal/rootfile"
)

// The journal is a file of JSON lines in the GPU's runtime directory: a
// header with what was found, then each step as it is about to be taken,
// then "attached" once the VM runs. It lives in /run, so a reboot (which
// gives the host its drivers back anyway) forgets it.
type journalLine struct {
	Begin    *header `json:"begin,omitempty"`
	Step     *Step   `json:"step,omitempty"`
	Attached bool    `json:"attached,omitempty"`
}

type header struct {
	VM  string `json:"vm,omitempty"`
	GPU string `json:"gpu"`
	// Drivers are the functions' drivers when the passthrough began.
	Drivers map[string]string `json:"drivers"`
	// Display is the boot GPU whose display must be up after an undo,
	// "" when the host showed none on it.
	Display string    `json:"display,omitempty"`
	At      time.Time `json:"at"`
}

// journal is a transaction's record, as read back.
type journal struct {
	header
	Steps    []Step
	Attached bool
}

const (
	journalFile = "journal"
	lockFile    = "lock"
)

// asRoot says whether the runtime directory and its files must pass
// rootfile's rule for root: as root, the journal names units to start and
// modules to load, so only a file that root alone could have written is
// read, and no link lets another user point root's writes elsewhere.
func asRoot() bool { return os.Geteuid() == 0 }

// readJournal reads the journal in dir; ok is false when there is none.
// A torn last line (a crash while writing it) is dropped: its step was
// never taken. A step naming a unit or module outside p refuses the whole
// journal: none of it is acted on.
func readJournal(dir string, p Profile) (j journal, ok bool, err error) {
	f, err := rootfile.OpenFile(filepath.Join(dir, journalFile), os.O_RDONLY, 0, asRoot())
	if errors.Is(err, fs.ErrNotExist) {
		return journal{}, false, nil
	}
	if err != nil {
		return journal{}, false, fmt.Errorf("read the GPU journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			break
		}
		switch {
		case l.Begin != nil:
			j.header = *l.Begin
		case l.Step != nil:
			if err := l.Step.check(); err != nil {
				return journal{}, false, err
			}
			if err := p.allows(*l.Step); err != nil {
				return journal{}, false, fmt.Errorf("the GPU journal in %s: %w: remove it once the host is as it should be", dir, err)
			}
			j.Steps = append(j.Steps, *l.Step)
		case l.Attached:
			j.Attached = true
		}
	}
	if err := sc.Err(); err != nil {
		return journal{}, false, fmt.Errorf("read the GPU journal: %w", err)
	}
	if j.Display != "" && CheckAddr(j.Display) != nil {
		return journal{}, false, fmt.Errorf("the GPU journal: %w", CheckAddr(j.Display))
	}
	for a := range j.Drivers {
		if err := CheckAddr(a); err != nil {
			return journal{}, false, fmt.Errorf("the GPU journal: %w", err)
		}
	}
	return j, true, nil
}

// journalWriter appends lines, each on disk before the step it names is
// taken.
type journalWriter struct{ f *os.File }

func createJournal(dir string, h header) (*journalWriter, error) {
	f, err := rootfile.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600, asRoot())
	if err != nil {
		return nil, fmt.Errorf("create the GPU journal: %w", err)
	}
	w := &journalWriter{f}
	if err := w.add(journalLine{Begin: &h}); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *journalWriter) add(l journalLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write the GPU journal: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("write the GPU journal: %w", err)
	}
	return nil
}

func (w *journalWriter) Close() error { return w.f.Close() }

func removeJournal(dir string) error {
	err := os.Remove(filepath.Join(dir, journalFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the GPU journal: %w", err)
	}
	return nil
}

// lock takes the GPU lock in dir, waiting while another GPU operation
// holds it. The kernel drops it with its holder, so a crash frees it.
func lock(ctx context.Context, dir string, waiting func()) (*os.File, error) {
	// The VMs' rule (vmctl's private): 0700, ours, under directories
	// only root controls.
	if err := rootfile.MkdirAll(dir, 0o700, asRoot()); err != nil {
		return nil, fmt.Errorf("GPU runtime directory: %w", err)
	}
	f, err := rootfile.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600, asRoot())
	if err != nil {
		return nil, fmt.Errorf("GPU lock: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("GPU lock: %w", err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another GPU operation: %w", context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
