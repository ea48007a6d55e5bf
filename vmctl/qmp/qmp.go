// Package qmp is the QEMU Machine Protocol client of spirit's per-VM
// supervisor: one connection to one QEMU, commands with deadlines, an event
// fan-out that never blocks, and the few QMP workflows the supervisor needs
// (status, vCPU threads, balloon, internal snapshots as jobs, suspend to and
// resume from a file by migration).
//
// It is not a general QMP library: it covers the commands spirit uses, it
// does not retry or reconnect (the supervisor owns the QEMU process and
// decides), and it does not start QEMU. QEMU accepts one QMP client at a time;
// the supervisor is that client.
//
// It speaks the wire protocol itself rather than through
// github.com/digitalocean/go-qemu/qmp: that SocketMonitor hands each reply to
// Run as a slice of its reader's bufio.Scanner buffer and json-decodes it
// while the reader already reads the next line into the same buffer (a data
// race that -race reports, and a corrupt reply in production, as soon as a
// reply exceeds 2 KiB — query-block with a few snapshots does); it also keeps
// its mutex while a reply is awaited, so a reply that never comes wedges
// every later command, and it drops the error class (both known upstream:
// digitalocean/go-qemu#226, open since 2026-08; and #210, an event taken for
// the reply to qmp_capabilities). Here every command
// carries an id, replies are matched by id, and nothing is held while a reply
// is awaited.
package qmp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is wrapped by every error of a command that could not complete
// because the connection is gone: QEMU exited, or Close was called.
var ErrClosed = errors.New("qmp connection closed")

// Error is an error reply from QEMU to a command.
type Error struct {
	Command string // the command that failed, such as "balloon"
	Class   string // QEMU's error class: "GenericError", "CommandNotFound", "DeviceNotActive", ...
	Desc    string // QEMU's description
}

func (e *Error) Error() string { return "qmp " + e.Command + ": " + e.Desc }

// JobError is the error a job (such as snapshot-load) concluded with: QEMU
// accepted the command, and the work failed later. QEMU gives a job's error
// no class. SnapshotSave, SnapshotLoad and SnapshotDelete return it wrapped.
type JobError struct {
	Command string // the command that started the job, such as "snapshot-load"
	Desc    string // QEMU's description
}

// Error is QEMU's description alone: the caller's wrapping names the command
// and what it was given.
func (e *JobError) Error() string { return e.Desc }

// Event is an asynchronous QMP event, such as STOP or JOB_STATUS_CHANGE.
type Event struct {
	Name string
	Data json.RawMessage // shared by all subscribers: do not modify
	Time time.Time       // QEMU's timestamp
}

// maxLine bounds one QMP message. query-qmp-schema, the largest reply, is
// about 200 KiB in QEMU 7.2.
const maxLine = 16 << 20

// subscriberBuffer is the channel capacity of each Subscribe.
const subscriberBuffer = 64

// Monitor is a connection to QEMU's QMP socket. Its methods are safe for
// concurrent use.
type Monitor struct {
	conn  *net.UnixConn
	log   *slog.Logger
	nonce string // makes job ids and fd names unique across connections

	// writeSem holds one token: its holder alone writes to conn, so that
	// messages do not interleave.
	writeSem chan struct{}

	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed by the reader when it ends

	mu      sync.Mutex
	nextID  uint64                   // guarded by mu
	pending map[uint64]chan response // guarded by mu; replies awaited, by command id
	subs    map[uint64]chan Event    // guarded by mu; nil once the reader ended
}

// request is one command on the wire.
type request struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        uint64 `json:"id"`
}

// message is anything QEMU sends: the greeting, a reply, or an event.
type message struct {
	QMP       json.RawMessage `json:"QMP"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
	ID *uint64 `json:"id"`
	response
}

// response is a reply to a command.
type response struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// decodeMessage parses one line from QEMU. json.RawMessage copies, so the
// result does not alias line.
func decodeMessage(line []byte) (message, error) {
	var msg message
	if err := json.Unmarshal(line, &msg); err != nil {
		return message{}, err
	}
	if msg.QMP == nil && msg.Event == "" && msg.Return == nil && msg.Error == nil {
		return message{}, errors.New("neither greeting, event nor reply")
	}
	return msg, nil
}

// Dial connects to QEMU's QMP socket at path and negotiates capabilities. It
// does not retry: the caller retries while QEMU starts. ctx bounds the
// connection and the handshake; if another client holds QEMU's monitor, the
// greeting never comes and Dial waits for ctx. A nil log discards.
func Dial(ctx context.Context, path string, log *slog.Logger) (*Monitor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp dial %s: %w", path, err)
	}
	conn := c.(*net.UnixConn)
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	if err := handshake(ctx, conn, sc); err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp dial %s: %w", path, err)
	}
	var nonce [4]byte
	rand.Read(nonce[:])
	m := &Monitor{
		conn:     conn,
		log:      log,
		nonce:    hex.EncodeToString(nonce[:]),
		writeSem: make(chan struct{}, 1),
		done:     make(chan struct{}),
		pending:  make(map[uint64]chan response),
		subs:     make(map[uint64]chan Event),
	}
	go m.read(sc)
	return m, nil
}

// handshake reads QEMU's greeting and leaves capabilities-negotiation mode.
func handshake(ctx context.Context, conn *net.UnixConn, sc *bufio.Scanner) error {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	unblocked := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(time.Unix(1, 0))
		close(unblocked)
	})
	defer func() {
		if !stop() {
			<-unblocked
		}
		conn.SetDeadline(time.Time{})
	}()

	next := func() (message, error) {
		if !sc.Scan() {
			switch {
			case errors.Is(sc.Err(), os.ErrDeadlineExceeded) && ctx.Err() == nil:
				// The deadline taken from ctx can fire before ctx reports it.
				<-ctx.Done()
				return message{}, ctx.Err()
			case ctx.Err() != nil:
				return message{}, ctx.Err()
			case sc.Err() == nil:
				return message{}, ErrClosed
			}
			return message{}, sc.Err()
		}
		return decodeMessage(sc.Bytes())
	}
	greeting, err := next()
	if err != nil {
		// QEMU greets one client at a time: the next waits for its turn.
		return fmt.Errorf("waiting for QEMU's greeting (is another QMP client connected?): %w", err)
	}
	if greeting.QMP == nil {
		return fmt.Errorf("read greeting: unexpected %s", sc.Bytes())
	}
	b, _ := json.Marshal(request{Execute: "qmp_capabilities"})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp_capabilities: %w", err)
	}
	for {
		msg, err := next()
		if err != nil {
			return fmt.Errorf("qmp_capabilities: %w", err)
		}
		if msg.Event != "" {
			continue
		}
		if msg.Error != nil {
			return &Error{Command: "qmp_capabilities", Class: msg.Error.Class, Desc: msg.Error.Desc}
		}
		return nil
	}
}

// read is the connection's only reader. It delivers replies to the Run that
// awaits them (dropping replies nobody awaits any more) and fans events out.
// It ends when the connection does, and then closes done and every
// subscriber's channel.
func (m *Monitor) read(sc *bufio.Scanner) {
	for sc.Scan() {
		msg, err := decodeMessage(sc.Bytes())
		if err != nil {
			m.log.Warn("qmp: undecodable message", "err", err, "line", string(sc.Bytes()))
			continue
		}
		switch {
		case msg.Event != "":
			m.publish(Event{
				Name: msg.Event,
				Data: msg.Data,
				Time: time.Unix(msg.Timestamp.Seconds, msg.Timestamp.Microseconds*1000),
			})
		case msg.ID != nil:
			m.mu.Lock()
			ch, ok := m.pending[*msg.ID]
			delete(m.pending, *msg.ID)
			m.mu.Unlock()
			if !ok {
				m.log.Debug("qmp: reply to an abandoned command dropped", "id", *msg.ID)
				continue
			}
			ch <- msg.response // buffered 1, sole sender
		default:
			// QEMU answers a message it could not parse without an id.
			m.log.Warn("qmp: reply without id", "line", string(sc.Bytes()))
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		m.log.Warn("qmp: message too long, disconnecting", "max", maxLine)
	case err != nil && !errors.Is(err, net.ErrClosed):
		// QEMU exiting resets the connection: the owner learns it from Done.
		m.log.Debug("qmp: connection lost", "err", err)
	}
	m.closeConn()
	m.mu.Lock()
	for _, ch := range m.subs {
		close(ch)
	}
	m.subs = nil
	m.mu.Unlock()
	close(m.done)
}

func (m *Monitor) publish(ev Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.subs {
		select {
		case ch <- ev:
		default:
			m.log.Debug("qmp: event dropped, subscriber is full", "event", ev.Name)
		}
	}
}

func (m *Monitor) closeConn() error {
	m.closeOnce.Do(func() { m.closeErr = m.conn.Close() })
	return m.closeErr
}

// Close disconnects, ends the reader goroutine and waits for it. Runs still
// waiting for a reply return an error wrapping ErrClosed.
func (m *Monitor) Close() error {
	err := m.closeConn()
	<-m.done
	if err != nil {
		return fmt.Errorf("qmp close: %w", err)
	}
	return nil
}

// Done returns a channel closed when the connection is gone: QEMU exited or
// closed it, or Close was called.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Subscribe returns a channel of the events QEMU sends from now on (buffered,
// 64) and a func that cancels the subscription and closes the channel. The
// channel is also closed when the connection is gone. Fan-out never blocks
// the reader: a subscriber whose buffer is full loses events (logged at
// debug), so a caller that must not miss a change polls as well.
func (m *Monitor) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		close(ch)
		return ch, func() {}
	}
	id := m.nextID
	m.nextID++
	m.subs[id] = ch
	return ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if c, ok := m.subs[id]; ok {
			delete(m.subs, id)
			close(c)
		}
	}
}

// Run executes cmd with args (nil for none; anything json.Marshal takes) and
// decodes the "return" into reply (nil to ignore). A QMP error reply becomes
// *Error. ctx bounds the wait: on expiry it returns ctx's error wrapped with
// the command name.
//
// A command abandoned this way may still run in QEMU; its reply, if it ever
// comes, is read and dropped by the connection's reader. Nothing is held
// while a reply is awaited, so a reply that never comes (a hung QEMU) costs
// only the Run that waits for it: later Runs are sent and time out on their
// own contexts, and Close (or QEMU's exit) ends every wait with ErrClosed.
func (m *Monitor) Run(ctx context.Context, cmd string, args, reply any) error {
	return m.run(ctx, cmd, args, reply, nil)
}

// run is Run, passing f's descriptor along with the command when f is not
// nil (SCM_RIGHTS; QEMU files it for the commands that take a descriptor,
// such as getfd).
func (m *Monitor) run(ctx context.Context, cmd string, args, reply any, f *os.File) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	m.mu.Lock()
	if m.subs == nil { // the reader ended
		m.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
	}
	id := m.nextID
	m.nextID++
	ch := make(chan response, 1)
	m.pending[id] = ch
	m.mu.Unlock()

	b, err := json.Marshal(request{Execute: cmd, Arguments: args, ID: id})
	if err == nil {
		err = m.send(ctx, append(b, '\n'), f)
	}
	if err != nil {
		m.abandon(id)
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	select {
	case r := <-ch:
		return r.decode(cmd, reply)
	case <-ctx.Done():
		m.abandon(id)
		return fmt.Errorf("qmp %s: %w", cmd, ctx.Err())
	case <-m.done:
		select {
		case r := <-ch: // the reply came just before the end (quit does this)
			return r.decode(cmd, reply)
		default:
			return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
		}
	}
}

func (m *Monitor) abandon(id uint64) {
	m.mu.Lock()
	delete(m.pending, id)
	m.mu.Unlock()
}

func (r response) decode(cmd string, reply any) error {
	if r.Error != nil {
		return &Error{Command: cmd, Class: r.Error.Class, Desc: r.Error.Desc}
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(r.Return, reply); err != nil {
		return fmt.Errorf("qmp %s: decode reply: %w", cmd, err)
	}
	return nil
}

// send writes one whole message, with f's descriptor if f is not nil. A
// write cut short by ctx would leave half a command on the wire, which would
// garble the next one: the connection is closed instead, as after any other
// write error.
func (m *Monitor) send(ctx context.Context, b []byte, f *os.File) error {
	select {
	case m.writeSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrClosed
	}
	defer func() { <-m.writeSem }()

	dl, _ := ctx.Deadline() // zero: none
	m.conn.SetWriteDeadline(dl)
	unblocked := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		m.conn.SetWriteDeadline(time.Unix(1, 0))
		close(unblocked)
	})
	n, err := m.write(b, f)
	if !stop() {
		<-unblocked // so that it cannot move the next writer's deadline
	}
	switch {
	case err == nil:
		return nil
	case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
		// ctx ended (and moved the deadline) before anything was sent.
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return context.DeadlineExceeded
	}
	// A dead peer (EPIPE, ECONNRESET) or half a command on the wire: either
	// way the connection is unusable.
	m.log.Debug("qmp: write failed, closing the connection", "err", err, "written", n)
	m.closeConn()
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

func (m *Monitor) write(b []byte, f *os.File) (int, error) {
	if f == nil {
		return m.conn.Write(b)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	// Control keeps the descriptor open for the duration of the call.
	if err := rc.Control(func(fd uintptr) {
		n, _, werr = m.conn.WriteMsgUnix(b, syscall.UnixRights(int(fd)), nil)
	}); err != nil {
		return 0, err
	}
	if werr == nil && n < len(b) { // the descriptor went with the first byte
		var k int
		k, werr = m.conn.Write(b[n:])
		n += k
	}
	return n, werr
}

// uniqueName returns a name for a QEMU object (job id, fd name) that no other
// call, and no other connection to the same QEMU, uses.
func (m *Monitor) uniqueName(kind string) string {
	m.mu.Lock()
	n := m.nextID
	m.nextID++
	m.mu.Unlock()
	return fmt.Sprintf("spirit-%s-%s-%d", kind, m.nonce, n)
}
