package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// promptly bounds what must be quick. It is generous: a retry costs
// syncRetry, and a slow machine with the race detector is slow.
const promptly = 5 * time.Second

var (
	hostHello  = Hello{Proto: Proto, Version: "host-1.2.3"}
	guestHello = Hello{Proto: Proto, Version: "agent-1.2.3", OS: "linux", Arch: "arm64", Hostname: "vm1", Caps: []string{"exec", "pty", "files", "signals"}}
)

// tcpPair is two ends of a loopback TCP connection: buffered like a
// virtio-serial port, so a side may write before the other reads, and
// able to half-close, so a reader can see where the other side stopped.
func tcpPair(t testing.TB) (host, guest *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	h, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	g := <-accepted
	if g == nil {
		t.FailNow()
	}
	t.Cleanup(func() { h.Close(); g.Close() })
	return h.(*net.TCPConn), g.(*net.TCPConn)
}

// pipePair is net.Pipe: no buffer at all, every write waits for a read.
func pipePair(t testing.TB) (host, guest net.Conn) {
	h, g := net.Pipe()
	t.Cleanup(func() { h.Close(); g.Close() })
	return h, g
}

var transports = []struct {
	name string
	pair func(testing.TB) (net.Conn, net.Conn)
}{
	{"pipe", pipePair},
	{"tcp", func(t testing.TB) (net.Conn, net.Conn) { h, g := tcpPair(t); return h, g }},
}

type syncResult struct {
	hello Hello
	conn  net.Conn
	err   error
}

func startGuest(conn net.Conn, h Hello) <-chan syncResult {
	ch := make(chan syncResult, 1)
	go func() {
		hello, c, err := GuestSync(conn, h)
		ch <- syncResult{hello, c, err}
	}()
	return ch
}

// startHost runs HostSync on conn until ctx ends.
func startHost(ctx context.Context, conn net.Conn, h Hello) <-chan syncResult {
	ch := make(chan syncResult, 1)
	go func() {
		hello, c, err := HostSync(ctx, conn, h)
		ch <- syncResult{hello, c, err}
	}()
	return ch
}

func hostSync(t *testing.T, conn net.Conn, h Hello) (Hello, net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), promptly)
	defer cancel()
	return HostSync(ctx, conn, h)
}

// waitGuest fails the test unless the guest's handshake ends promptly.
func waitGuest(t *testing.T, ch <-chan syncResult) syncResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(promptly):
		t.Fatal("GuestSync did not return")
		return syncResult{}
	}
}

// handshake runs both sides' handshakes, with hostHello on hc and
// guestHello on gc, the host's for at most promptly; as syncBoth.
func handshake(t *testing.T, hc, gc net.Conn) (hconn, gconn net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), promptly)
	defer cancel()
	return syncBoth(t, startHost(ctx, hc, hostHello), startGuest(gc, guestHello))
}

// syncBoth waits for the handshakes of a host started with hostHello (it
// ends with its context) and a guest started with guestHello, fails the
// test unless both succeed, checks that each side got the other's hello,
// and returns the connections each side hands on.
func syncBoth(t *testing.T, host, guest <-chan syncResult) (hconn, gconn net.Conn) {
	t.Helper()
	h := <-host
	if h.err != nil {
		t.Fatalf("HostSync: %v", h.err)
	}
	g := waitGuest(t, guest)
	if g.err != nil {
		t.Fatalf("GuestSync: %v", g.err)
	}
	if !reflect.DeepEqual(h.hello, guestHello) {
		t.Errorf("host got hello %+v, want %+v", h.hello, guestHello)
	}
	if !reflect.DeepEqual(g.hello, hostHello) {
		t.Errorf("guest got hello %+v, want %+v", g.hello, hostHello)
	}
	return h.conn, g.conn
}

// exchange writes each side's message at once, without waiting for the
// other side to read (net.Pipe would deadlock otherwise), and reads the
// other's.
func exchange(t *testing.T, a, b net.Conn, msgA, msgB string) {
	t.Helper()
	errs := make(chan error, 2)
	go func() { _, err := a.Write([]byte(msgA)); errs <- err }()
	go func() { _, err := b.Write([]byte(msgB)); errs <- err }()
	gotB := make([]byte, len(msgA))
	if _, err := io.ReadFull(b, gotB); err != nil || string(gotB) != msgA {
		t.Errorf("read %q, %v; want %q", gotB, err, msgA)
	}
	gotA := make([]byte, len(msgB))
	if _, err := io.ReadFull(a, gotA); err != nil || string(gotA) != msgB {
		t.Errorf("read %q, %v; want %q", gotA, err, msgB)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestSyncClean(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			hc, gc := tr.pair(t)
			hconn, gconn := handshake(t, hc, gc)
			// Right behind the handshake come the first yamux frames.
			exchange(t, hconn, gconn, "after from the host", "after from the guest")
		})
	}
}

// recordConn records what a side writes, so that a test can see every
// handshake message, and reports syncs as they go out.
type recordConn struct {
	net.Conn
	mu    sync.Mutex
	out   bytes.Buffer
	syncs int
	// syncSent receives the number of syncs written so far after each
	// one, if the test listens.
	syncSent chan int
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	isSync := len(p) > len(magic) && bytes.HasPrefix(p, magic) && p[len(magic)] == kindSync
	if isSync {
		c.syncs++
	}
	n := c.syncs
	c.mu.Unlock()
	if isSync && c.syncSent != nil {
		select {
		case c.syncSent <- n:
		default:
		}
	}
	return c.Conn.Write(p)
}

func (c *recordConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

// scanAll returns the handshake messages in b, and fails the test if
// anything else is there: a side must write nothing but its messages
// during the handshake.
func scanAll(t *testing.T, b []byte) []message {
	t.Helper()
	s := newScanner(bufio.NewReader(bytes.NewReader(b)))
	var ms []message
	total := 0
	for {
		m, err := s.next()
		if err == io.EOF {
			break
		}
		ms = append(ms, m)
		total += len(m.encode())
	}
	if total != len(b) {
		t.Errorf("%d bytes written in the handshake are not messages", len(b)-total)
	}
	return ms
}

func TestSyncHostRetries(t *testing.T) {
	hraw, graw := tcpPair(t)
	hc := &recordConn{Conn: hraw, syncSent: make(chan int, 1)}
	gc := &recordConn{Conn: graw}
	ctx, cancel := context.WithTimeout(context.Background(), 3*promptly)
	defer cancel()
	host := startHost(ctx, hc, hostHello)
	// The guest is not listening yet (it reads the old session's
	// yamux, say): the host keeps sending syncs with new nonces.
	for n := 0; n < 3; {
		select {
		case n = <-hc.syncSent:
		case r := <-host:
			t.Fatalf("HostSync returned with no guest: %+v", r)
		}
	}
	hconn, gconn := syncBoth(t, host, startGuest(gc, guestHello))
	hostMsgs := scanAll(t, hc.written())
	guestMsgs := scanAll(t, gc.written())

	// The host: syncs with distinct nonces, then one go for the first.
	var syncs []nonce
	for _, m := range hostMsgs[:len(hostMsgs)-1] {
		if m.kind != kindSync || contains(syncs, m.nonce) {
			t.Fatalf("host message %c %x: want syncs with new nonces before the go", m.kind, m.nonce)
		}
		syncs = append(syncs, m.nonce)
	}
	if len(syncs) < 3 {
		t.Fatalf("host sent %d syncs, want at least 3", len(syncs))
	}
	goMsg := hostMsgs[len(hostMsgs)-1]
	if goMsg.kind != kindGo || goMsg.nonce != syncs[0] {
		t.Errorf("host's last message %c %x, want go for the first sync %x", goMsg.kind, goMsg.nonce, syncs[0])
	}
	// The guest: an ack for each sync, in order, then ready for the go.
	if len(guestMsgs) != len(syncs)+1 {
		t.Fatalf("guest wrote %d messages for %d syncs", len(guestMsgs), len(syncs))
	}
	for i, n := range syncs {
		if m := guestMsgs[i]; m.kind != kindAck || m.nonce != n {
			t.Errorf("guest message %d: %c %x, want ack %x", i, m.kind, m.nonce, n)
		}
	}
	if m := guestMsgs[len(syncs)]; m.kind != kindReady || m.nonce != goMsg.nonce {
		t.Errorf("guest's last message %c %x, want ready %x", m.kind, m.nonce, goMsg.nonce)
	}

	// The acks of the later syncs came before ready: none of them may
	// reach the host's yamux, nor a sync the guest's. Each side reads
	// exactly what the other wrote after the handshake, up to its end.
	const fromGuest, fromHost = "guest's first yamux frame", "host's first yamux frame"
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := io.WriteString(gconn, fromGuest); err != nil {
			t.Error(err)
		}
		graw.CloseWrite()
	}()
	if _, err := io.WriteString(hconn, fromHost); err != nil {
		t.Fatal(err)
	}
	hraw.CloseWrite()
	got, err := io.ReadAll(hconn)
	if err != nil || string(got) != fromGuest {
		t.Errorf("host read %q, %v after the handshake; want %q", got, err, fromGuest)
	}
	got, err = io.ReadAll(gconn)
	if err != nil || string(got) != fromHost {
		t.Errorf("guest read %q, %v after the handshake; want %q", got, err, fromHost)
	}
	<-done
}

// stale is what an old session may leave in a port: bytes of yamux and of
// its handshake, whole and cut, and noise.
func staleFromHost() []byte {
	var b bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) {
		for range n {
			b.WriteByte(byte(r.Uint32()))
		}
	}
	b.Write([]byte{0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 12}) // a yamux header
	noise(100)
	b.Write(magic[:1])
	b.Write(magic[:2])
	b.Write(magic[:5])
	b.Write(magic)
	b.WriteString("X")                 // not a kind
	b.Write(append(magic[:7:7], 0, 0)) // magic with its last byte wrong
	hello := []byte(`{"proto":1,"version":"stale"}`)
	var old nonce
	copy(old[:], "an old nonce....")
	b.Write(message{kind: kindGo, nonce: old, hello: hello}.encode())     // go, never synced
	b.Write(message{kind: kindSync, nonce: old}.encode()[:len(magic)+10]) // sync, cut short
	noise(300)
	b.Write(message{kind: kindGo, nonce: old, hello: hello}.encode()[:len(magic)+5])
	noise(50)
	b.Write(magic)
	// Last, a go whose hello never came, claiming the most a hello may
	// be: the syncs that follow must not be taken for its hello.
	b.Write(message{kind: kindGo, nonce: old, hello: make([]byte, MaxHello)}.encode()[:len(magic)+1+nonceLen+2])
	return b.Bytes()
}

// Stale bytes need a buffered port, as a real one is: on net.Pipe, a
// guest that acks a stale sync blocks until the host reads, while the host
// blocks sending its own sync.
func TestSyncStaleGuestInput(t *testing.T) {
	hc, gc := tcpPair(t)
	if _, err := hc.Write(staleFromHost()); err != nil {
		t.Fatal(err)
	}
	hconn, gconn := handshake(t, hc, gc)
	exchange(t, hconn, gconn, "after from the host", "after from the guest")
}

func TestSyncStaleHostInput(t *testing.T) {
	hc, gc := tcpPair(t)
	var old nonce
	copy(old[:], "previous session")
	var stale bytes.Buffer
	stale.Write(message{kind: kindAck, nonce: old}.encode())
	stale.Write([]byte{0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}) // yamux
	stale.Write(message{kind: kindReady, nonce: old, hello: []byte(`{"proto":1,"version":"old agent"}`)}.encode())
	// A ready whose hello never came, claiming the most a hello may be,
	// and then more cut messages: the acks that follow must not be taken
	// for their rest.
	stale.Write(message{kind: kindReady, nonce: old, hello: make([]byte, MaxHello)}.encode()[:len(magic)+1+nonceLen+2])
	stale.Write(magic[:3])
	stale.Write(message{kind: kindReady, nonce: old, hello: []byte(`{"proto":1}`)}.encode()[:len(magic)+3])
	if _, err := gc.Write(stale.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The host must get the live agent's hello, none of the stale ones.
	hconn, gconn := handshake(t, hc, gc)
	exchange(t, hconn, gconn, "after from the host", "after from the guest")
}

// TestHostSkipsForeignReady plays the guest by hand, to put messages the
// host must skip between the ack and the ready it waits for, and yamux
// right behind that ready in the same write.
func TestHostSkipsForeignReady(t *testing.T) {
	hc, gc := tcpPair(t)
	script := make(chan error, 1)
	go func() {
		script <- func() error {
			s := newScanner(bufio.NewReader(gc))
			m, err := s.next()
			if err != nil || m.kind != kindSync {
				return fmt.Errorf("want a sync, got %c, %v", m.kind, err)
			}
			var other nonce
			copy(other[:], "not the host's..")
			var b bytes.Buffer
			b.Write(message{kind: kindAck, nonce: other}.encode())
			b.Write(message{kind: kindAck, nonce: m.nonce}.encode())
			b.Write(message{kind: kindReady, nonce: other, hello: []byte(`{"proto":1,"version":"wrong nonce"}`)}.encode())
			b.Write(message{kind: kindAck, nonce: m.nonce}.encode()) // a repeated ack
			b.Write(message{kind: kindReady, nonce: m.nonce, hello: []byte(`{"proto":1,"version":"right"}`)}.encode())
			b.WriteString("yamux")
			_, err = gc.Write(b.Bytes())
			if err != nil {
				return err
			}
			m, err = s.next()
			if err != nil || m.kind != kindGo || !strings.Contains(string(m.hello), hostHello.Version) {
				return fmt.Errorf("want the host's go, got %c %q, %v", m.kind, m.hello, err)
			}
			return nil
		}()
	}()
	got, conn, err := hostSync(t, hc, hostHello)
	if err != nil {
		t.Fatalf("HostSync: %v", err)
	}
	if got.Version != "right" {
		t.Errorf("host took the hello of version %q", got.Version)
	}
	if err := <-script; err != nil {
		t.Fatal(err)
	}
	gc.CloseWrite()
	if b, err := io.ReadAll(conn); err != nil || string(b) != "yamux" {
		t.Errorf("after the handshake the host read %q, %v; want %q", b, err, "yamux")
	}
}

// TestGuestKeepsBytesAfterGo plays the host by hand, to send yamux in the
// same write as the go.
func TestGuestKeepsBytesAfterGo(t *testing.T) {
	hc, gc := tcpPair(t)
	guest := startGuest(gc, guestHello)
	var n nonce
	copy(n[:], "0123456789abcdef")
	if _, err := hc.Write(message{kind: kindSync, nonce: n}.encode()); err != nil {
		t.Fatal(err)
	}
	s := newScanner(bufio.NewReader(hc))
	if m, err := s.next(); err != nil || m.kind != kindAck || m.nonce != n {
		t.Fatalf("want ack %x, got %c %x, %v", n, m.kind, m.nonce, err)
	}
	goMsg := message{kind: kindGo, nonce: n, hello: []byte(`{"proto":1,"version":"by hand"}`)}.encode()
	if _, err := hc.Write(append(goMsg, "yamux"...)); err != nil {
		t.Fatal(err)
	}
	hc.CloseWrite()
	g := waitGuest(t, guest)
	if g.err != nil {
		t.Fatalf("GuestSync: %v", g.err)
	}
	if g.hello.Version != "by hand" {
		t.Errorf("guest got hello %+v", g.hello)
	}
	if b, err := io.ReadAll(g.conn); err != nil || string(b) != "yamux" {
		t.Errorf("after the handshake the guest read %q, %v; want %q", b, err, "yamux")
	}
	m, err := s.next()
	if err != nil || m.kind != kindReady || m.nonce != n {
		t.Fatalf("want ready %x, got %c %x, %v", n, m.kind, m.nonce, err)
	}
	if h, err := decodeHello(m.hello); err != nil || !reflect.DeepEqual(h, guestHello) {
		t.Errorf("ready carries %q, %v; want the guest's hello", m.hello, err)
	}
}

func TestSyncVersionMismatch(t *testing.T) {
	t.Run("newer agent", func(t *testing.T) {
		hc, gc := tcpPair(t)
		newer := guestHello
		newer.Proto, newer.Version = Proto+1, "agent-9.0"
		guest := startGuest(gc, newer)
		got, conn, err := hostSync(t, hc, hostHello)
		if !errors.Is(err, ErrVersion) || conn != nil {
			t.Fatalf("HostSync: %v, conn %v; want ErrVersion", err, conn)
		}
		for _, s := range []string{"agent-9.0", fmt.Sprintf("protocol %d", Proto+1), fmt.Sprintf("spirit speaks %d", Proto)} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
		if got.Proto != Proto+1 {
			t.Errorf("HostSync returned hello %+v, want the agent's", got)
		}
		waitGuest(t, guest) // it may succeed: the host is the one that tells
	})
	for _, p := range []int{Proto + 1, Proto + 100, 0, -Proto} {
		t.Run(fmt.Sprintf("host protocol %d", p), func(t *testing.T) {
			hc, gc := tcpPair(t)
			guest := startGuest(gc, guestHello)
			h := hostHello
			h.Proto = p
			ctx, cancel := context.WithTimeout(context.Background(), promptly)
			defer cancel()
			go HostSync(ctx, hc, h)
			g := waitGuest(t, guest)
			if !errors.Is(g.err, ErrVersion) || g.conn != nil {
				t.Fatalf("GuestSync with a host of protocol %d: %v", p, g.err)
			}
			if want := fmt.Sprintf("host speaks protocol %d, agent %d", p, Proto); !strings.Contains(g.err.Error(), want) {
				t.Errorf("error %q does not say %q", g.err, want)
			}
		})
	}
}

func TestHostSyncGivesUp(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name+"/deadline", func(t *testing.T) {
			hc, _ := tr.pair(t) // nobody reads or answers on the other end
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := hostSyncReturns(t, ctx, hc)
			if err == nil || !strings.Contains(err.Error(), "no answer from the agent") {
				t.Errorf("HostSync: %v, want no answer from the agent", err)
			}
		})
		t.Run(tr.name+"/cancel", func(t *testing.T) {
			hc, _ := tr.pair(t)
			ctx, cancel := context.WithCancel(context.Background())
			rc := &recordConn{Conn: hc, syncSent: make(chan int, 1)}
			go func() {
				if tr.name == "tcp" {
					<-rc.syncSent // cancel while it waits for an ack
				}
				cancel()
			}()
			err := hostSyncReturns(t, ctx, rc)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("HostSync: %v, want context.Canceled", err)
			}
		})
	}
	t.Run("already done", func(t *testing.T) {
		hc, _ := tcpPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := hostSyncReturns(t, ctx, hc); !errors.Is(err, context.Canceled) {
			t.Errorf("HostSync: %v, want context.Canceled", err)
		}
	})
}

func hostSyncReturns(t *testing.T, ctx context.Context, conn net.Conn) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, c, err := HostSync(ctx, conn, hostHello)
		if c != nil {
			err = fmt.Errorf("returned a connection with %v", err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(promptly):
		t.Fatal("HostSync did not return after its context ended")
		return nil
	}
}

// TestHostSyncDeadlineCleared: the deadline that ends a waiting read must
// not outlive the handshake, or yamux would fail on its first read.
func TestHostSyncDeadlineCleared(t *testing.T) {
	hc, gc := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	hconn, gconn := syncBoth(t, startHost(ctx, hc, hostHello), startGuest(gc, guestHello))
	cancel() // as a caller's deferred cancel does once the session runs
	// Nothing is sent for a while: a read deadline left behind would
	// end this read instead of the data.
	read := make(chan error, 1)
	go func() {
		b := make([]byte, 4)
		_, err := io.ReadFull(hconn, b)
		if err == nil && string(b) != "late" {
			err = fmt.Errorf("read %q", b)
		}
		read <- err
	}()
	time.Sleep(syncRetry + 100*time.Millisecond) // a delay under test, not synchronisation
	if _, err := io.WriteString(gconn, "late"); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Errorf("host read after the handshake: %v", err)
	}
}

// TestSyncYamux runs what comes after the handshake: a yamux session, with
// more data on a stream than its window holds, over ports with stale bytes
// of an old session in both directions.
func TestSyncYamux(t *testing.T) {
	hc, gc := tcpPair(t)
	if _, err := hc.Write(staleFromHost()); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Write(message{kind: kindReady, nonce: nonce{1}, hello: []byte(`{}`)}.encode()); err != nil {
		t.Fatal(err)
	}
	hconn, gconn := handshake(t, hc, gc)
	server, err := yamux.Server(gconn, MuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := yamux.Client(hconn, MuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	echoed := make(chan error, 1)
	go func() {
		st, err := server.AcceptStream()
		if err != nil {
			echoed <- err
			return
		}
		defer st.Close()
		_, err = io.Copy(st, st)
		echoed <- err
	}()
	st, err := client.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3 * StreamWindow)
	wrote := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.Close() // half-close: the echo ends
		}
		wrote <- err
	}()
	got, err := io.ReadAll(st)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("echo: %d of %d bytes back, equal %v, %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	if err := <-wrote; err != nil {
		t.Error(err)
	}
	if err := <-echoed; err != nil {
		t.Error(err)
	}
}

// TestScannerResyncs: garbage of any kind before a message, even a message
// cut short, costs at most that one message, and none when the cut message
// leaves room to see the next magic.
func TestScannerResyncs(t *testing.T) {
	var n1, n2, old nonce
	copy(n1[:], "first nonce.....")
	copy(n2[:], "second nonce....")
	copy(old[:], "old nonce.......")
	first := message{kind: kindSync, nonce: n1}
	second := message{kind: kindGo, nonce: n2, hello: []byte(`{"proto":1,"version":"x"}`)}
	scan := func(prefix []byte) []message {
		in := append(append(bytes.Clone(prefix), first.encode()...), second.encode()...)
		s := newScanner(bufio.NewReader(bytes.NewReader(in)))
		var ms []message
		for {
			m, err := s.next()
			if err != nil {
				return ms
			}
			ms = append(ms, m)
		}
	}
	hasBoth := func(ms []message) bool {
		return len(ms) >= 2 && reflect.DeepEqual(ms[len(ms)-2:], []message{first, second})
	}
	bothFound := map[string][]byte{
		"nothing":                   nil,
		"magic fragments":           []byte("\x00\x00\xff\x00\xffSPI\x00\xffSPIRI"),
		"magic, no kind":            append(bytes.Clone(magic), 'Z'),
		"magic, magic":              append(bytes.Clone(magic), magic...),
		"a whole old message":       message{kind: kindAck, nonce: old}.encode(),
		"go header claiming 4 KiB":  message{kind: kindGo, nonce: old, hello: make([]byte, MaxHello)}.encode()[:27],
		"ready cut in its hello":    message{kind: kindReady, nonce: old, hello: make([]byte, 100)}.encode()[:40],
		"sync cut after 8 of nonce": message{kind: kindSync, nonce: old}.encode()[:len(magic)+1+8],
		"hello over MaxHello":       message{kind: kindGo, nonce: old, hello: make([]byte, MaxHello+1)}.encode()[:len(magic)+1+nonceLen+2+10],
	}
	for name, prefix := range bothFound {
		if ms := scan(prefix); !hasBoth(ms) {
			t.Errorf("after %s (%q): scanned %v, want both messages last", name, prefix, ms)
		}
	}
	for _, kind := range []byte{kindSync, kindAck, kindGo, kindReady} {
		whole := message{kind: kind, nonce: old, hello: []byte(`{"proto":1}`)}.encode()
		for cut := 1; cut < len(whole); cut++ {
			ms := scan(whole[:cut])
			if len(ms) == 0 || !reflect.DeepEqual(ms[len(ms)-1], second) {
				t.Errorf("after %c cut at %d: scanned %v, want the second message last", kind, cut, ms)
			}
		}
	}
}
