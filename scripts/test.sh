#!/usr/bin/env bash
# test.sh is `make test`: it installs what is missing, starts a dockerd of
# the tests' own, and runs gofmt, go vet, the race detector over every test,
# and a short run of each fuzz target. dockerd is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/guest.sh --if-missing # the demo guest that internal/guesttest boots
export PATH=/usr/local/go/bin:$PATH

tmp=$(mktemp -d /tmp/spirit-test.XXXXXX)
# The Wine lane (internal/winetest): one prefix for the run, made by its
# first test; a missing Wine fails it instead of skipping it.
export SPIRIT_WINE_REQUIRED=1 SPIRIT_WINEPREFIX=$tmp/wine
stopwine() { [ -d "$SPIRIT_WINEPREFIX" ] && WINEPREFIX=$SPIRIT_WINEPREFIX wineserver -k 2>/dev/null || true; }
cleanup() { stopwine; scripts/dockerd.sh stop "$tmp/docker" || true; rm -rf "$tmp"; }
trap cleanup EXIT
eval "$(scripts/dockerd.sh start "$tmp/docker")"
echo "dockerd for the tests at $DOCKER_HOST"

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go') 2>&1 || true)
if [ -n "$bad" ]; then
	echo "gofmt would change: $bad" >&2
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== the agent for Windows"
GOOS=windows GOARCH=amd64 go vet ./cmd/spirit-agent ./agents/guest ./agents/wire
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -o /dev/null ./cmd/spirit-agent
echo "== go test -race"
go test -race -count=1 -timeout 25m $(go list ./... | grep -v '/internal/winetest$')
echo "== the Windows agent under Wine"
start=$SECONDS
go test -race -count=1 -v -timeout 10m ./internal/winetest/ >"$tmp/wine.log" 2>&1 || { cat "$tmp/wine.log"; exit 1; }
grep -E '^(--- |ok|PASS|FAIL)' "$tmp/wine.log" | grep -v '^--- PASS' || true
echo "Wine lane: $(grep -c -- '--- PASS' "$tmp/wine.log") tests and subtests passed on the host, $(grep -c 'passed under Wine:' "$tmp/wine.log") of the agent package under Wine, $(grep -c -- '--- SKIP' "$tmp/wine.log") skipped, in $((SECONDS - start)) s"
stopwine
echo "== GPU passthrough: a failure at each change rolls back (k of k)"
go test -count=1 -v -run '^TestFailureAtEveryStep$' ./gpu/ | grep 'a failure injected'
echo "== fuzz (short)"
# Budgets are counts, not durations: Go 1.26's fuzz coordinator can fail
# a run with a bare "context deadline exceeded" when a -fuzztime duration
# ends under load (golang/go#75804, fixed in Go 1.27).
go test -run '^$' -fuzz '^FuzzPlan$' -fuzztime 100000x ./router/
for f in $(go test -list '^Fuzz' ./agents/wire/ | grep '^Fuzz'); do
	go test -run '^$' -fuzz "^$f\$" -fuzztime 200000x ./agents/wire/
done
# A session per input (a handshake, a ping, the end): slower, so fewer;
# minimizing a new input is bounded too, by count.
go test -run '^$' -fuzz '^FuzzHostSession$' -fuzztime 10000x -fuzzminimizetime 100x ./agents/client/
go test -run '^$' -fuzz '^FuzzDecodeMessage$' -fuzztime 100000x ./vmctl/qmp/
go test -run '^$' -fuzz '^FuzzConsoleText$' -fuzztime 100000x ./agents/guest/
go test -run '^$' -fuzz '^FuzzCPUList$' -fuzztime 100000x ./vmctl/
go test -run '^$' -fuzz '^FuzzReadJournal$' -fuzztime 50000x ./gpu/
