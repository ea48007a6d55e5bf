# spirit: see README.md. Every target runs on a fresh Debian 12 as root and
# installs what it needs first.
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: build guest run test bench clean

build:
	scripts/deps.sh
	go build -o bin/spirit ./cmd/spirit
	CGO_ENABLED=0 go build -o bin/spirit-agent ./cmd/spirit-agent
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -o bin/spirit-agent.exe ./cmd/spirit-agent

# The demo guest, into build/guest: a kernel and an initramfs from Debian
# packages, with spirit-agent. run and test build it when it is missing.
guest:
	scripts/guest.sh

run:
	scripts/run.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

clean:
	rm -rf bin bench/results build
