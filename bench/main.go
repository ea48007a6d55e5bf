// Command bench times pairs of commands, spirit's and a peer's, run in
// turn in the same session, and prints for each pair the median wall times
// and their ratio. Ratios are the result: absolute times on a shared
// machine are noise. It also writes the table as JSON under bench/results.
//
//	go run ./bench -n 30 -spirit bin/spirit
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

type row struct {
	Name      string  `json:"name"`
	Spirit    string  `json:"spirit"`
	Peer      string  `json:"peer"`
	SpiritMs  float64 `json:"spirit_median_ms"`
	PeerMs    float64 `json:"peer_median_ms"`
	Ratio     float64 `json:"ratio"`
	Runs      int     `json:"runs"`
	PeerLabel string  `json:"peer_label"`
}

func main() {
	n := flag.Int("n", 30, "runs of each command")
	spirit := flag.String("spirit", "bin/spirit", "the spirit binary")
	container := flag.String("container", "c1", "a running container")
	out := flag.String("out", "bench/results", "where the JSON goes")
	flag.Parse()
	if err := run(*n, *spirit, *container, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, spirit, container, outDir string) error {
	pairs := []row{
		{Name: "container round trip", PeerLabel: "docker exec",
			Spirit: fmt.Sprintf("%s -c '@docker:%s true'", spirit, container),
			Peer:   fmt.Sprintf("docker exec %s true", container)},
		{Name: "host pipeline", PeerLabel: "bash -c",
			Spirit: spirit + " -c 'seq 1 1000000 | wc -l'",
			Peer:   "bash -c 'seq 1 1000000 | wc -l'"},
		{Name: "start-up", PeerLabel: "bash -c",
			Spirit: spirit + " -c true",
			Peer:   "bash -c true"},
	}
	ctx := context.Background()
	for i := range pairs {
		p := &pairs[i]
		s, q, err := timePair(ctx, n, p.Spirit, p.Peer)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		p.SpiritMs, p.PeerMs, p.Runs = ms(s), ms(q), n
		p.Ratio = p.SpiritMs / p.PeerMs
	}
	printTable(pairs)
	return writeJSON(outDir, pairs)
}

// timePair runs the two commands in turn, n times each after one warm-up,
// so that both see the same machine, and returns their medians.
func timePair(ctx context.Context, n int, a, b string) (time.Duration, time.Duration, error) {
	var ta, tb []time.Duration
	for i := -1; i < n; i++ {
		da, err := timeOne(ctx, a)
		if err != nil {
			return 0, 0, err
		}
		db, err := timeOne(ctx, b)
		if err != nil {
			return 0, 0, err
		}
		if i >= 0 {
			ta, tb = append(ta, da), append(tb, db)
		}
	}
	return median(ta), median(tb), nil
}

func timeOne(ctx context.Context, command string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "exec "+command)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w", command, err)
	}
	return time.Since(start), nil
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printTable(rows []row) {
	fmt.Printf("%-22s %12s %12s %-12s %8s\n", "row", "spirit ms", "peer ms", "peer", "ratio")
	for _, r := range rows {
		fmt.Printf("%-22s %12.2f %12.2f %-12s %8.2f\n", r.Name, r.SpiritMs, r.PeerMs, r.PeerLabel, r.Ratio)
	}
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
