package guest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// errPortGone is wrapped by the error of a port whose device has gone
// (a driver update, a hot-unplug): it must be opened anew.
var errPortGone = errors.New("the port's device is gone")

// Back-off between attempts to open a port's device.
const (
	reopenMin = 250 * time.Millisecond
	reopenMax = 30 * time.Second
)

// reopenPort is a port on a device that may go away and come back, as a
// Windows vioserial port does across a driver update. It opens the device
// when it is first needed, waits for it while it does not exist (rather
// than exit for a service manager to restart the agent every few
// seconds), and opens it again when it dies, with a back-off. Each wait
// is logged once at Info, its retries at Debug: a service's log is the
// system's event log, not to be flooded.
type reopenPort struct {
	open func() (Port, error) // opens the device once
	// changed, if not nil, gets a value when a device may have come
	// (the driver's notification): a wait for it ends then, before its
	// back-off.
	changed  <-chan struct{}
	stop     func() // if not nil, ends what feeds changed; called by Close
	log      *slog.Logger
	min, max time.Duration

	mu     sync.Mutex // guards the fields below
	cur    Port       // nil while the device is not open
	closed bool
	// delay is the next wait, kept across connections, so that a device
	// that opens but dies at once is retried at the back-off's pace;
	// it starts over once the device has lasted reopenMax.
	delay    time.Duration
	lastLoss time.Time
	lastInfo time.Time // the last line at Info: one a minute at most
}

func newReopenPort(open func() (Port, error), log *slog.Logger) *reopenPort {
	return &reopenPort{open: open, log: log, min: reopenMin, max: reopenMax}
}

func (p *reopenPort) Concurrent() bool { return false }

// Next returns the next host's connection on the device, opened (again)
// as needed.
func (p *reopenPort) Next(ctx context.Context) (net.Conn, error) {
	for {
		port, err := p.port()
		if err == nil {
			var c net.Conn
			if c, err = port.Next(ctx); err == nil {
				return c, nil
			}
			if ctx.Err() != nil || !errors.Is(err, errPortGone) {
				return nil, err
			}
			p.drop(port)
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if err := p.wait(ctx, p.lost(err)); err != nil {
			return nil, err
		}
	}
}

// wait waits d, or less if the device may have come meanwhile.
func (p *reopenPort) wait(ctx context.Context, d time.Duration) error {
	woken, err := sleepCtx(ctx, d, p.changed)
	if woken {
		p.log.Debug("a device arrived: opening the port")
	}
	return err
}

// infoEvery bounds the lines at Info about the device.
const infoEvery = time.Minute

// lost logs a failure to reach the device and returns how long to wait
// before the next try.
func (p *reopenPort) lost(err error) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.delay == 0 || now.Sub(p.lastLoss) > p.max+p.delay {
		p.delay = p.min
	} else {
		p.delay = min(p.delay*2, p.max)
	}
	p.lastLoss = now
	if now.Sub(p.lastInfo) >= infoEvery {
		p.lastInfo = now
		p.log.Info("waiting for the port's device", "err", err)
	} else {
		p.log.Debug("the port's device is not there", "err", err, "retry in", p.delay)
	}
	return p.delay
}

// port returns the open device, opening it if need be.
func (p *reopenPort) port() (Port, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if p.cur == nil {
		port, err := p.open()
		if err != nil {
			return nil, err
		}
		p.cur = port
		p.log.Debug("the port's device is open")
	}
	return p.cur, nil
}

// drop closes a device that has died, unless it was replaced meanwhile.
func (p *reopenPort) drop(port Port) {
	p.mu.Lock()
	if p.cur == port {
		p.cur = nil
	}
	p.mu.Unlock()
	port.Close()
}

func (p *reopenPort) Close() error {
	p.mu.Lock()
	if !p.closed && p.stop != nil {
		defer p.stop()
	}
	p.closed = true
	cur := p.cur
	p.cur = nil
	p.mu.Unlock()
	if cur != nil {
		return cur.Close()
	}
	return nil
}

// sleepCtx waits d, or less: until ctx is done (its error) or wake
// fires (woken). A nil wake never fires.
func sleepCtx(ctx context.Context, d time.Duration, wake <-chan struct{}) (woken bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	case <-wake:
		return true, nil
	}
}
