// Command bench is make bench: it times spirit against a peer doing the
// same job, measured in turn in the same run (and for the guest rows on
// the same VM), and prints one table with, for each row, spirit's figure,
// the peer's, their ratio and the goal the ratio is checked against.
// Ratios are the result: absolute figures on a shared machine are noise.
// The table is also written as JSON under bench/results.
//
// scripts/bench.sh builds what it needs (the bench variant of the demo
// guest, a dockerd with a container c1) and runs it:
//
//	bin/bench -spirit bin/spirit -dir /tmp/spirit-bench.XXXX
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// row is one line of the table. Ratio is Spirit/Peer; the goal holds when
// it is at most Max, or at least Min.
type row struct {
	Group     string  `json:"group"`
	Name      string  `json:"name"`
	Spirit    float64 `json:"spirit"`
	Peer      float64 `json:"peer"`
	Unit      string  `json:"unit"`
	PeerLabel string  `json:"peer_label"`
	Ratio     float64 `json:"ratio"`
	Max       float64 `json:"goal_max,omitempty"`
	Min       float64 `json:"goal_min,omitempty"`
	Met       *bool   `json:"goal_met,omitempty"`
	Runs      int     `json:"runs"`
	SpiritHow string  `json:"spirit_how,omitempty"`
	PeerHow   string  `json:"peer_how,omitempty"`
	Note      string  `json:"note,omitempty"`
	Skipped   string  `json:"skipped,omitempty"`
}

func (r *row) finish() {
	if r.Skipped != "" || r.Peer == 0 {
		return
	}
	r.Ratio = r.Spirit / r.Peer
	if r.Max == 0 && r.Min == 0 {
		return
	}
	met := (r.Max == 0 || r.Ratio <= r.Max) && (r.Min == 0 || r.Ratio >= r.Min)
	r.Met = &met
}

type options struct {
	n         int // runs of each command row
	trips     int // round trips of each latency row
	spirit    string
	container string
	dir       string
	base      string
	only      []string
	parts     []string // of the guest rows
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 20, "runs of each command row")
	flag.IntVar(&o.trips, "trips", 200, "round trips of each latency row")
	flag.StringVar(&o.spirit, "spirit", "bin/spirit", "the spirit binary")
	flag.StringVar(&o.container, "container", "c1", "a running container (the docker rows)")
	flag.StringVar(&o.dir, "dir", "", "a private directory with a short path for the bench's VM (default: a new one under $TMPDIR)")
	out := flag.String("out", "bench/results", "where the JSON goes")
	only := flag.String("only", "vm,docker,host", "the groups of rows to run")
	parts := flag.String("parts", "rtt,ttfb,throughput,files,footprint", "the guest rows to run (boot always is)")
	flag.Parse()
	o.only, o.parts = strings.Split(*only, ","), strings.Split(*parts, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rows, err := run(ctx, o)
	if len(rows) > 0 {
		printTable(os.Stdout, rows)
		if werr := writeJSON(*out, rows); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// progress says on stderr what the bench is at: a run takes minutes.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, o options) ([]row, error) {
	var err error
	if o.spirit, err = filepath.Abs(o.spirit); err != nil {
		return nil, err
	}
	if o.base, err = os.Getwd(); err != nil {
		return nil, err
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "sb"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(o.dir)
	}
	vm, err := newBenchVM(o.spirit, o.dir, o.base)
	if err != nil {
		return nil, err
	}
	var rows []row
	if slices.Contains(o.only, "vm") {
		r, err := guestRows(ctx, o, vm)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("guest rows: %w", err)
		}
	}
	if slices.Contains(o.only, "docker") {
		r, err := dockerRows(ctx, o, vm)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("docker rows: %w", err)
		}
	}
	if slices.Contains(o.only, "host") {
		r, err := hostRows(ctx, o, vm)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("host rows: %w", err)
		}
		r, err = promptRows(ctx, o, vm)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("prompt rows: %w", err)
		}
	}
	return rows, nil
}

// timePair runs the two shell command lines in turn, n times each after
// one warm-up, so that both see the same machine, and returns their
// medians.
func timePair(ctx context.Context, n int, a, b string, env []string) (time.Duration, time.Duration, error) {
	var ta, tb []time.Duration
	for i := -1; i < n; i++ {
		da, err := timeOne(ctx, a, env)
		if err != nil {
			return 0, 0, err
		}
		db, err := timeOne(ctx, b, env)
		if err != nil {
			return 0, 0, err
		}
		if i >= 0 {
			ta, tb = append(ta, da), append(tb, db)
		}
	}
	return median(ta), median(tb), nil
}

// timeOne runs a shell command line, its output discarded, and returns
// its wall time.
func timeOne(ctx context.Context, command string, env []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "exec "+command)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w", command, err)
	}
	return time.Since(start), nil
}

// samples times f n times after a warm-up, sorted.
func samples(n int, f func() error) ([]time.Duration, error) {
	if err := f(); err != nil {
		return nil, err
	}
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rate is MiB/s for size bytes in d.
func rate(size int64, d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }

func printTable(w *os.File, rows []row) {
	fmt.Fprintf(w, "\n%-34s %13s %13s  %-30s %7s  %-7s %s\n", "row", "spirit", "peer", "(peer)", "ratio", "goal", "")
	group := ""
	for _, r := range rows {
		if r.Group != group {
			group = r.Group
			fmt.Fprintf(w, "%s\n", group)
		}
		if r.Skipped != "" {
			fmt.Fprintf(w, "  %-32s skipped: %s\n", r.Name, r.Skipped)
			continue
		}
		goal, mark := "", ""
		switch {
		case r.Max != 0:
			goal = fmt.Sprintf("<= %g", r.Max)
		case r.Min != 0:
			goal = fmt.Sprintf(">= %g", r.Min)
		}
		if r.Met != nil {
			mark = "met"
			if !*r.Met {
				mark = "BEHIND"
			}
		}
		fmt.Fprintf(w, "  %-32s %13s %13s  %-30s %7.2f  %-7s %s\n", r.Name,
			figure(r.Spirit, r.Unit), figure(r.Peer, r.Unit), r.PeerLabel, r.Ratio, goal, mark)
		if r.Note != "" {
			fmt.Fprintf(w, "  %-32s %s\n", "", r.Note)
		}
	}
}

func figure(v float64, unit string) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func writeJSON(dir string, rows []row) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(dir, time.Now().UTC().Format("20060102T150405Z")+".json")
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println("written", name)
	return os.WriteFile(name, append(b, '\n'), 0o644)
}
