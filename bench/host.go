package main

import (
	"context"
	"fmt"
	"strings"
)

// dockerRows times @docker against the docker CLI, once with spirit's
// Engine path and once with the persistent agent in the container asked
// for ([docker] agent = ["c1"] in spirit.toml).
func dockerRows(ctx context.Context, o options, vm *benchVM) ([]row, error) {
	defer vm.writeConfig(false)
	c, sp := o.container, o.spirit
	var rows []row
	for _, agent := range []bool{false, true} {
		if err := vm.writeConfig(agent); err != nil {
			return rows, err
		}
		progress("docker rows, agent %v", agent)
		group := "4. containers, Engine path (no [docker] agent)"
		if agent {
			group = fmt.Sprintf("4. containers, [docker] agent = [%q]", c)
		}
		pairs := []row{
			{Name: "@docker:" + c + " true", PeerLabel: "docker exec " + c + " true", Max: 0.5,
				SpiritHow: fmt.Sprintf("%s -c '@docker:%s true'", sp, c),
				PeerHow:   fmt.Sprintf("docker exec %s true", c)},
			{Name: "64 MiB out of " + c, PeerLabel: "docker exec | wc -c",
				SpiritHow: fmt.Sprintf("%s -c '@docker:%s head -c 67108864 /dev/zero | @spirit wc -c'", sp, c),
				PeerHow:   fmt.Sprintf("/bin/sh -c 'docker exec %s head -c 67108864 /dev/zero | wc -c'", c)},
			{Name: "64 MiB into " + c, PeerLabel: "head | docker exec -i",
				SpiritHow: fmt.Sprintf("%s -c 'head -c 67108864 /dev/zero | @docker:%s wc -c'", sp, c),
				PeerHow:   fmt.Sprintf("/bin/sh -c 'head -c 67108864 /dev/zero | docker exec -i %s wc -c'", c)},
		}
		var skip string
		if agent {
			// A spirit that does not know the setting yet refuses the
			// configuration.
			if _, err := timeOne(ctx, sp+" -c true 2>/dev/null", vm.env); err != nil {
				skip = "this spirit refuses [docker] agent in spirit.toml (not built yet)"
			}
		}
		for i, p := range pairs {
			p.Group, p.Unit = group, "ms"
			p.Skipped = skip
			if skip == "" {
				n := o.n
				if i > 0 {
					n = max(3, o.n/4)
				}
				s, q, err := timePair(ctx, n, p.SpiritHow, p.PeerHow, vm.env)
				if err != nil {
					return rows, fmt.Errorf("%s: %w", p.Name, err)
				}
				p.Spirit, p.Peer, p.Runs = ms(s), ms(q), n
				if i > 0 {
					p.Note = fmt.Sprintf("%.0f MiB/s against %.0f MiB/s", rate(64<<20, s), rate(64<<20, q))
				}
			}
			p.finish()
			rows = append(rows, p)
		}
	}
	return rows, nil
}

// hostRows times spirit -c against bash -c on the host.
func hostRows(ctx context.Context, o options, vm *benchVM) ([]row, error) {
	pairs := []row{
		{Name: "pipeline seq 1e6 | wc -l", PeerLabel: "bash -c", Max: 1.3,
			SpiritHow: o.spirit + " -c 'seq 1 1000000 | wc -l'",
			PeerHow:   "bash -c 'seq 1 1000000 | wc -l'"},
		{Name: "pipeline 3 stages, loop", PeerLabel: "bash -c", Max: 1.3,
			SpiritHow: o.spirit + ` -c 'for i in $(seq 1 200); do echo $i; done | grep 1 | wc -l'`,
			PeerHow:   `bash -c 'for i in $(seq 1 200); do echo $i; done | grep 1 | wc -l'`},
		{Name: "start-up (-c true)", PeerLabel: "bash -c true",
			SpiritHow: o.spirit + " -c true",
			PeerHow:   "bash -c true"},
	}
	progress("host rows")
	var rows []row
	for _, p := range pairs {
		s, q, err := timePair(ctx, o.n, p.SpiritHow, p.PeerHow, vm.env)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", p.Name, err)
		}
		p.Group, p.Unit = "5. host", "ms"
		p.Spirit, p.Peer, p.Runs = ms(s), ms(q), o.n
		p.finish()
		rows = append(rows, p)
	}
	return rows, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
