#!/usr/bin/env bash
# run.sh is `make run`: it builds spirit and starts the interactive shell.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/guest.sh --if-missing
export PATH=/usr/local/go/bin:$PATH
go build -o bin/spirit ./cmd/spirit
exec bin/spirit "$@"
