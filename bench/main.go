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
	"strings"
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
	Note      string  `json:"note,omitempty"`
}

func main() {
	n := flag.Int("n", 30, "runs of each command")
	spirit := flag.String("spirit", "bin/spirit", "the spirit binary")
	container := flag.String("container", "c1", "a running container")
	out := flag.String("out", "bench/results", "where the JSON goes")
	agent := flag.String("agent", "bin/spirit-agent", "the agent binary")
	peer := flag.String("peer", "", "run as a raw peer: echo, stream or read (internal)")
	sock := flag.String("sock", "", "the peer's socket (internal)")
	only := flag.String("only", "docker,host,agent", "the groups of rows to run")
	flag.Parse()
	if *peer != "" {
		if err := runPeer(*peer, *sock); err != nil {
			fmt.Fprintln(os.Stderr, "bench peer:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *spirit, *agent, *container, *out, strings.Split(*only, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runPeer(kind, sock string) error {
	switch kind {
	case peerEcho, peerStream:
		return servePeer(kind, sock)
	case "read":
		return readPeer(sock)
	}
	return fmt.Errorf("%w: unknown peer %q", errUsage, kind)
}

func run(n int, spirit, agent, container, outDir string, only []string) error {
	var pairs []row
	if slices.Contains(only, "docker") {
		pairs = append(pairs, row{Name: "container round trip", PeerLabel: "docker exec",
			Spirit: fmt.Sprintf("%s -c '@docker:%s true'", spirit, container),
			Peer:   fmt.Sprintf("docker exec %s true", container)})
	}
	if slices.Contains(only, "host") {
		pairs = append(pairs, row{Name: "host pipeline", PeerLabel: "bash -c",
			Spirit: spirit + " -c 'seq 1 1000000 | wc -l'",
			Peer:   "bash -c 'seq 1 1000000 | wc -l'"},
			row{Name: "start-up", PeerLabel: "bash -c",
				Spirit: spirit + " -c true",
				Peer:   "bash -c true"})
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
	if slices.Contains(only, "agent") {
		dir, err := os.MkdirTemp("", "spirit-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		agentPairs, err := agentRows(ctx, n, spirit, agent, dir)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		pairs = append(pairs, agentPairs...)
	}
	printTable(pairs)
	return writeJSON(outDir, pairs)
}

// timePair runs the two commands in turn, n times each after one warm-up,
// so that both see the same machine, and returns their medians.
func timePair(ctx context.Context, n int, a, b string) (time.Duration, time.Duration, error) {
	return timePairEnv(ctx, n, a, b, nil)
}

// timePairEnv is timePair with env added to the commands' environment.
func timePairEnv(ctx context.Context, n int, a, b string, env []string) (time.Duration, time.Duration, error) {
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

func timeOne(ctx context.Context, command string, env []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "exec "+command)
	cmd.Env = append(os.Environ(), env...)
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
		fmt.Printf("%-22s %12.3f %12.3f %-12s %8.2f  %s\n", r.Name, r.SpiritMs, r.PeerMs, r.PeerLabel, r.Ratio, r.Note)
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
