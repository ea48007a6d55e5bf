#!/usr/bin/env bash
# bench.sh is `make bench`: it builds spirit, starts a dockerd of its own
# with a container c1, and prints spirit's times against its peers'
# (docker exec, bash -c), measured in turn in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export PATH=/usr/local/go/bin:$PATH
go build -o bin/spirit ./cmd/spirit
CGO_ENABLED=0 go build -o bin/spirit-agent ./cmd/spirit-agent

tmp=$(mktemp -d /tmp/spirit-bench.XXXXXX)
cleanup() { scripts/dockerd.sh stop "$tmp/docker" || true; rm -rf "$tmp"; }
trap cleanup EXIT
eval "$(scripts/dockerd.sh start "$tmp/docker")"
# The peer's own CLI starts the container: only the benchmark uses it.
docker run -d --name c1 spirit-test/busybox:latest sleep 1000000 >/dev/null
go build -o bin/bench ./bench
bin/bench -n "${BENCH_RUNS:-30}" -spirit bin/spirit -agent bin/spirit-agent -container c1
