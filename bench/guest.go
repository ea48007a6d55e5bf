package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"spirit/agents/client"
	"spirit/target"
)

// Sizes the guest rows move.
const (
	streamSize = 256 << 20 // spirit and the raw stream
	qgaMaxOut  = 16 << 20  // qemu-ga's cap on captured output
	fileSize   = 64 << 20
	footSize   = 1 << 30 // streamed while the agent's RSS is sampled
	// qgaChunk is what each guest-file-read and -write moves: large
	// (qemu-ga allows up to 48 MiB a read), for qemu-ga at its best.
	qgaChunk = 16 << 20
	// slow is the slow producer of the first-byte rows.
	slow = "for i in 1 2 3; do echo $i; sleep 1; done"
)

// guestRows boots the bench's VM once and measures every guest row on
// it, then stops it.
func guestRows(ctx context.Context, o options, vm *benchVM) (rows []row, err error) {
	defer vm.stop()
	progress("booting the bench's VM linux")
	bootTime, err := vm.start(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\nthe guest's console:\n%s", err, tail(vm.consoleLog(), 30))
		}
	}()
	c := vm.client()
	defer c.Close()
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	q, err := dialQGA(qctx, vm.QGASock)
	cancel()
	if err != nil {
		return nil, err
	}
	defer q.Close()
	echo, err := net.Dial("unix", vm.EchoSock)
	if err != nil {
		return nil, fmt.Errorf("the echo port: %w", err)
	}
	defer echo.Close()
	g := &guest{o: o, vm: vm, c: c, q: q, echo: echo}

	// Idle footprints first, before anything has grown.
	if _, err := g.sh(ctx, "true"); err != nil {
		return nil, err
	}
	agentIdle, err := g.rss(ctx, "spirit-agent")
	if err != nil {
		return nil, err
	}
	qgaIdle, err := g.rss(ctx, "qemu-ga")
	if err != nil {
		return nil, err
	}

	var boot []row
	kernel, err := g.kernelToInit(ctx)
	if err != nil {
		return nil, err
	}
	boot = append(boot, row{Group: "7. boot", Name: "vm start --wait to agent ready", Unit: "s",
		Spirit: bootTime.Seconds(), Peer: kernel, PeerLabel: "kernel's own time to /init", Runs: 1,
		SpiritHow: "spirit vm start linux --wait", PeerHow: "the printk time of 'Run /init as init process' (dmesg)",
		Note: "QEMU, SeaBIOS and the kernel's decompression come before the kernel's clock starts"})
	boot[0].finish()

	for _, part := range []struct {
		name string
		f    func(context.Context) ([]row, error)
	}{{"rtt", g.roundTrips}, {"ttfb", g.firstByte}, {"throughput", g.throughput}, {"files", g.files}} {
		if !slices.Contains(o.parts, part.name) {
			continue
		}
		progress("guest rows: %s", part.name)
		r, err := part.f(ctx)
		rows = append(rows, r...)
		if err != nil {
			return rows, err
		}
	}
	if slices.Contains(o.parts, "footprint") {
		progress("guest rows: footprint (1 GiB streamed)")
		foot, err := g.footprint(ctx, agentIdle, qgaIdle)
		rows = append(rows, foot...)
		if err != nil {
			return rows, err
		}
	}
	return append(rows, boot...), nil
}

type guest struct {
	o    options
	vm   *benchVM
	c    *client.Client
	q    *qga
	echo net.Conn
}

// sh runs text in the guest through the client and returns its stdout.
func (g *guest) sh(ctx context.Context, text string) (string, error) {
	var out, errb bytes.Buffer
	status, err := g.c.Exec(ctx, &target.Command{Text: text, Stdout: &out, Stderr: &errb})
	if err == nil && status != 0 {
		err = fmt.Errorf("status %d: %s", status, strings.TrimSpace(errb.String()))
	}
	if err != nil {
		return "", fmt.Errorf("@linux %s: %w", text, err)
	}
	return out.String(), nil
}

// spirit runs spirit -c line in the bench's environment and returns its
// stdout.
func (g *guest) spirit(ctx context.Context, line string) (string, error) {
	out, err := g.vm.cmd(ctx, "-c", line).Output()
	if err != nil {
		return "", fmt.Errorf("spirit -c %s: %w", shellQuote(line), err)
	}
	return string(out), nil
}

// rss is the resident memory of the guest process prog, in MiB.
func (g *guest) rss(ctx context.Context, prog string) (float64, error) {
	out, err := g.sh(ctx, "set -- $(pidof "+prog+"); grep VmRSS /proc/$1/status")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		return 0, fmt.Errorf("rss of %s: %q", prog, out)
	}
	kb, err := strconv.ParseFloat(f[1], 64)
	return kb / 1024, err
}

var runInit = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\]\s+Run /init as init process`)

// kernelToInit is the kernel's own time from its start to running /init,
// in seconds, from its log.
func (g *guest) kernelToInit(ctx context.Context) (float64, error) {
	out, err := g.sh(ctx, "dmesg")
	if err != nil {
		return 0, err
	}
	m := runInit.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no 'Run /init as init process' with a time in the guest's dmesg")
	}
	return strconv.ParseFloat(m[1], 64)
}

// echoOnce is one raw round trip of a byte over the echo port.
func (g *guest) echoOnce() error {
	b := []byte{'x'}
	if _, err := g.echo.Write(b); err != nil {
		return err
	}
	if _, err := io.ReadFull(g.echo, b); err != nil {
		return err
	}
	if b[0] != 'x' {
		return fmt.Errorf("echo: got %q", b)
	}
	return nil
}

// rawStream has the echo port's guest side send size zero bytes and
// reads them.
func (g *guest) rawStream(size int64) error {
	var cmd [9]byte
	cmd[0] = 'z'
	binary.BigEndian.PutUint64(cmd[1:], uint64(size))
	if _, err := g.echo.Write(cmd[:]); err != nil {
		return err
	}
	n, err := io.CopyN(io.Discard, g.echo, size)
	if err != nil {
		return fmt.Errorf("raw stream: %d of %d bytes: %w", n, size, err)
	}
	return nil
}

// pairSamples times a and b in turn, n times each after a warm-up, and
// returns both sorted.
func pairSamples(n int, a, b func() error) ([]time.Duration, []time.Duration, error) {
	var ta, tb []time.Duration
	for i := -1; i < n; i++ {
		for _, x := range []struct {
			f func() error
			d *[]time.Duration
		}{{a, &ta}, {b, &tb}} {
			start := time.Now()
			if err := x.f(); err != nil {
				return nil, nil, err
			}
			if i >= 0 {
				*x.d = append(*x.d, time.Since(start))
			}
		}
	}
	return sortDur(ta), sortDur(tb), nil
}

func sortDur(d []time.Duration) []time.Duration {
	median(d) // sorts
	return d
}

func latencyRows(group, name, peer string, s, p []time.Duration, goal float64, how, peerHow string) []row {
	r50 := row{Group: group, Name: name + " p50", PeerLabel: peer, Unit: "ms", Spirit: ms(percentile(s, 50)),
		Peer: ms(percentile(p, 50)), Max: goal, Runs: len(s), SpiritHow: how, PeerHow: peerHow}
	r99 := r50
	r99.Name, r99.Max = name+" p99", 0
	r99.Spirit, r99.Peer = ms(percentile(s, 99)), ms(percentile(p, 99))
	r50.finish()
	r99.finish()
	return []row{r50, r99}
}

// roundTrips is row 1: a request that starts no process against the raw
// echo, and @linux true against qemu-ga's guest-exec.
func (g *guest) roundTrips(ctx context.Context) ([]row, error) {
	const group = "1. round trip"
	n := g.o.trips
	stat, echo, err := pairSamples(n, func() error { _, err := g.c.Stat(ctx, "/"); return err }, g.echoOnce)
	if err != nil {
		return nil, fmt.Errorf("stat against echo: %w", err)
	}
	rows := latencyRows(group, "stat / (no process)", "raw 1-byte echo", stat, echo, 3,
		"agents/client Stat through the VM supervisor's relay", "1 byte over the port spirit.echo and back")

	// Where the time goes: a ping is answered by the supervisor's relay
	// itself, so it is the host's part of the stat.
	ping, echo2, err := pairSamples(n, func() error { _, err := g.c.Ping(ctx); return err }, g.echoOnce)
	if err != nil {
		return nil, fmt.Errorf("ping against echo: %w", err)
	}
	pr := latencyRows(group, "ping, relay's answer", "raw 1-byte echo", ping, echo2, 0,
		"agents/client Ping, which the VM supervisor's relay answers without the guest", "")[0]
	pr.Note = "the host's part of the stat above: client, relay socket and supervisor"
	rows = append(rows, pr)

	qgaTrue := func() error {
		_, _, err := g.q.exec("/bin/true", nil, false, 0, false)
		return err
	}
	spiritTrue := func() error {
		_, err := timeOne(ctx, g.o.spirit+" -c '@linux true'", g.vm.env)
		return err
	}
	st, qt, err := pairSamples(n, spiritTrue, qgaTrue)
	if err != nil {
		return rows, fmt.Errorf("@linux true against qemu-ga: %w", err)
	}
	rows = append(rows, latencyRows(group, "spirit -c '@linux true'", "qemu-ga guest-exec + status", st, qt, 0.5,
		"spirit -c '@linux true' (a new process each time)", "guest-exec /bin/true, then guest-exec-status at once again until it exited")...)
	ct, qt2, err := pairSamples(n/2, func() error {
		status, err := g.c.Exec(ctx, &target.Command{Text: "true", Stdout: io.Discard, Stderr: io.Discard})
		if err == nil && status != 0 {
			err = fmt.Errorf("status %d", status)
		}
		return err
	}, qgaTrue)
	if err != nil {
		return rows, fmt.Errorf("exec true against qemu-ga: %w", err)
	}
	r := latencyRows(group, "exec true, connected client", "qemu-ga guest-exec + status", ct, qt2, 0,
		"agents/client Exec on a connection already made", "")[0]
	r.Note = "the part of the row above that is not spirit's start-up and connection"
	return append(rows, r), nil
}

// firstByte is the time to the first byte of a slow producer.
func (g *guest) firstByte(ctx context.Context) ([]row, error) {
	const runs = 3
	var s, p []time.Duration
	for range runs {
		cmd := g.vm.cmd(ctx, "-c", "@linux sh -c "+shellQuote(slow))
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		var b [1]byte
		_, rerr := io.ReadFull(out, b[:])
		d := time.Since(start)
		io.Copy(io.Discard, out)
		if err := errors.Join(rerr, cmd.Wait()); err != nil {
			return nil, fmt.Errorf("first byte: %w", err)
		}
		s = append(s, d)

		start = time.Now()
		if _, _, err := g.q.exec("/bin/sh", []string{"-c", slow}, true, 10*time.Millisecond, true); err != nil {
			return nil, err
		}
		p = append(p, time.Since(start))
	}
	r := row{Group: "1. round trip", Name: "first byte of a slow producer", PeerLabel: "qemu-ga (output at exit)", Unit: "ms",
		Spirit: ms(median(s)), Peer: ms(median(p)), Runs: runs,
		SpiritHow: "spirit -c '@linux sh -c \"" + slow + "\"'", PeerHow: "guest-exec of the same, guest-exec-status every 10 ms until out-data"}
	r.finish()
	return []row{r}, nil
}

// throughput is row 2: 256 MiB out of the guest.
func (g *guest) throughput(ctx context.Context) ([]row, error) {
	const group = "2. throughput"
	runs := 3
	line := fmt.Sprintf("@linux head -c %d /dev/zero | @spirit wc -c", streamSize)
	if out, err := g.spirit(ctx, line); err != nil {
		return nil, err
	} else if strings.TrimSpace(out) != strconv.Itoa(streamSize) {
		return nil, fmt.Errorf("spirit -c %s printed %q", shellQuote(line), out)
	}
	s, p, err := pairSamples(runs, func() error {
		_, err := timeOne(ctx, g.o.spirit+" -c "+shellQuote(line), g.vm.env)
		return err
	}, func() error { return g.rawStream(streamSize) })
	if err != nil {
		return nil, err
	}
	rows := []row{{Group: group, Name: "256 MiB out of @linux", PeerLabel: "raw stream, echo port", Unit: "MiB/s",
		Spirit: rate(streamSize, median(s)), Peer: rate(streamSize, median(p)), Min: 0.8, Runs: runs,
		SpiritHow: "spirit -c '" + line + "'", PeerHow: "256 MiB of zeros written by spirit-echo to spirit.echo, read by the bench"}}
	// The same through dd, which writes 256 KiB at a time where
	// busybox head writes 4 KiB: spirit's transport without the cost of
	// a small-write producer on the guest's one vCPU.
	dd := fmt.Sprintf("@linux dd if=/dev/zero bs=262144 count=%d 2>/dev/null | @spirit wc -c", streamSize/262144)
	ds, dp, err := pairSamples(runs, func() error {
		_, err := timeOne(ctx, g.o.spirit+" -c "+shellQuote(dd), g.vm.env)
		return err
	}, func() error { return g.rawStream(streamSize) })
	if err != nil {
		return nil, err
	}
	ddRow := row{Group: group, Name: "256 MiB out of @linux, dd", PeerLabel: "raw stream, echo port", Unit: "MiB/s",
		Spirit: rate(streamSize, median(ds)), Peer: rate(streamSize, median(dp)), Runs: runs,
		SpiritHow: "spirit -c '" + dd + "'", Note: "dd writes 256 KiB at a time, head 4 KiB: the row above less head's cost"}
	var qs []time.Duration
	for range runs {
		start := time.Now()
		_, out, err := g.q.exec("/bin/head", []string{"-c", strconv.Itoa(qgaMaxOut), "/dev/zero"}, true, 0, false)
		if err != nil {
			return rows, err
		}
		if len(out) != qgaMaxOut {
			return rows, fmt.Errorf("qemu-ga head -c %d: %d bytes of output", qgaMaxOut, len(out))
		}
		qs = append(qs, time.Since(start))
	}
	rows = append(rows, row{Group: group, Name: "256 MiB out of @linux", PeerLabel: "qemu-ga guest-exec, 16 MiB", Unit: "MiB/s",
		Spirit: rows[0].Spirit, Peer: rate(qgaMaxOut, median(qs)), Min: 4, Runs: runs,
		PeerHow: "guest-exec head -c 16M /dev/zero with capture-output, then out-data (qemu-ga's cap is 16 MiB)"}, ddRow)
	for i := range rows {
		rows[i].finish()
	}
	return rows, nil
}

// files is row 3: 64 MiB read from and written to a guest file.
func (g *guest) files(ctx context.Context) ([]row, error) {
	const group = "3. files"
	runs := max(3, g.o.n/6)
	src := filepath.Join(g.vm.dir, "file64")
	if err := os.WriteFile(src, make([]byte, fileSize), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(src)
	if _, err := g.sh(ctx, fmt.Sprintf("head -c %d /dev/zero >/tmp/bench-read", fileSize)); err != nil {
		return nil, err
	}
	defer g.sh(context.WithoutCancel(ctx), "rm -f /tmp/bench-read /tmp/bench-write /tmp/bench-qga")
	read := "wc -c < @linux /tmp/bench-read"
	write := "cat " + src + " > @linux /tmp/bench-write"
	for _, line := range []string{read, write} {
		if _, err := g.spirit(ctx, line); err != nil {
			return nil, err
		}
	}
	if out, err := g.sh(ctx, "wc -c </tmp/bench-write"); err != nil || strings.TrimSpace(out) != strconv.Itoa(fileSize) {
		return nil, fmt.Errorf("%s wrote %q bytes (%v)", write, out, err)
	}
	sr, qr, err := pairSamples(runs, func() error {
		_, err := timeOne(ctx, g.o.spirit+" -c "+shellQuote(read), g.vm.env)
		return err
	}, func() error {
		n, err := g.q.readFile("/tmp/bench-read", qgaChunk)
		if err == nil && n != fileSize {
			err = fmt.Errorf("qemu-ga read %d bytes of %d", n, fileSize)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sw, qw, err := pairSamples(runs, func() error {
		_, err := timeOne(ctx, g.o.spirit+" -c "+shellQuote(write), g.vm.env)
		return err
	}, func() error { return g.q.writeFile("/tmp/bench-qga", fileSize, qgaChunk) })
	if err != nil {
		return nil, err
	}
	rows := []row{
		{Group: group, Name: "< @linux FILE, 64 MiB", PeerLabel: "qemu-ga guest-file-read", Unit: "MiB/s",
			Spirit: rate(fileSize, median(sr)), Peer: rate(fileSize, median(qr)), Runs: runs,
			SpiritHow: "spirit -c '" + read + "'", PeerHow: "guest-file-open, guest-file-read of 16 MiB until eof, close"},
		{Group: group, Name: "> @linux FILE, 64 MiB", PeerLabel: "qemu-ga guest-file-write", Unit: "MiB/s",
			Spirit: rate(fileSize, median(sw)), Peer: rate(fileSize, median(qw)), Runs: runs,
			SpiritHow: "spirit -c '" + write + "'", PeerHow: "guest-file-open, guest-file-write of 16 MiB each, close"},
	}
	for i := range rows {
		rows[i].finish()
	}
	return rows, nil
}

// footprint is row 6: the agent's memory idle and while 1 GiB streams out
// of the guest, against qemu-ga's idle; the binaries' sizes.
func (g *guest) footprint(ctx context.Context, agentIdle, qgaIdle float64) ([]row, error) {
	const group = "6. footprint"
	line := fmt.Sprintf("@linux dd if=/dev/zero bs=262144 count=%d 2>/dev/null | @spirit wc -c", footSize/262144)
	cmd := g.vm.cmd(ctx, "-c", line)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak float64
	samples := 0
	var werr error
wait:
	for {
		select {
		case werr = <-done:
			break wait
		case <-time.After(300 * time.Millisecond):
		}
		if r, err := g.rss(ctx, "spirit-agent"); err == nil {
			peak = max(peak, r)
			samples++
		}
	}
	if werr != nil || strings.TrimSpace(out.String()) != strconv.Itoa(footSize) {
		return nil, fmt.Errorf("spirit -c %s: %v, printed %q", shellQuote(line), werr, out.String())
	}
	rows := []row{
		{Group: group, Name: "agent RSS idle", PeerLabel: "qemu-ga RSS idle", Unit: "MiB",
			Spirit: agentIdle, Peer: qgaIdle, Runs: 1, SpiritHow: "VmRSS of spirit-agent after one command", PeerHow: "VmRSS of qemu-ga"},
		{Group: group, Name: "agent RSS streaming 1 GiB", PeerLabel: "qemu-ga RSS idle", Unit: "MiB",
			Spirit: peak, Peer: qgaIdle, Runs: samples, SpiritHow: "the highest VmRSS of spirit-agent sampled every 300 ms during spirit -c '" + line + "'"},
	}
	agentSize, err1 := fileMiB(filepath.Join(g.o.base, "build/guest/spirit-agent"))
	qgaSize, err2 := fileMiB(filepath.Join(g.o.base, "build/guest/qemu-ga/bin/qemu-ga"))
	libs, err3 := dirMiB(filepath.Join(g.o.base, "build/guest/qemu-ga"))
	if err := errors.Join(err1, err2, err3); err != nil {
		return rows, err
	}
	rows = append(rows, row{Group: group, Name: "agent binary (static, stripped)", PeerLabel: "qemu-ga binary", Unit: "MiB",
		Spirit: agentSize, Peer: qgaSize, Runs: 1, Note: fmt.Sprintf("qemu-ga with the libraries it loads: %.1f MiB", libs)})
	for i := range rows {
		rows[i].finish()
	}
	return rows, nil
}

func fileMiB(path string) (float64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return float64(fi.Size()) / (1 << 20), nil
}

func dirMiB(dir string) (float64, error) {
	var total int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return err
	})
	return float64(total) / (1 << 20), err
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
