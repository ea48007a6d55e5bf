#!/usr/bin/env bash
# bench.sh is `make bench`: it builds spirit and the bench variant of the
# demo guest (scripts/guest.sh --bench: qemu-ga and a byte echo beside the
# agent), starts a dockerd of its own with a container c1, and runs
# bin/bench, which boots the bench's own VM @linux once (its runtime,
# state and configuration under a temporary directory, never the user's),
# prints one table of spirit against its peers, measured in turn in the
# same run, and writes it as JSON under bench/results/.
#
# BENCH_RUNS (default 20) is the runs of each command row; BENCH_TRIPS
# (default 200) the round trips of each latency row; BENCH_ONLY a subset
# of vm,docker,host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export PATH=/usr/local/go/bin:$PATH
go build -o bin/spirit ./cmd/spirit
CGO_ENABLED=0 go build -o bin/spirit-agent ./cmd/spirit-agent
scripts/guest.sh --bench
go build -o bin/bench ./bench

# A short path: the VM's unix sockets live under it.
tmp=$(mktemp -d /tmp/spirit-bench.XXXXXX)
cleanup() {
	# bin/bench stops its VM itself; this is for a bench killed outright.
	local f
	for f in "$tmp"/vm/run/linux/supervisor.pid "$tmp"/vm/run/linux/qemu.pid; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	scripts/dockerd.sh stop "$tmp/docker" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
eval "$(scripts/dockerd.sh start "$tmp/docker")"
# The peer's own CLI starts the container: only the benchmark uses it.
docker run -d --name c1 spirit-test/busybox:latest sleep 1000000 >/dev/null
mkdir -m 0700 "$tmp/vm"
bin/bench -n "${BENCH_RUNS:-20}" -trips "${BENCH_TRIPS:-200}" -only "${BENCH_ONLY:-vm,docker,host}" \
	-spirit bin/spirit -container c1 -dir "$tmp/vm"
