#!/usr/bin/env bash
# dockerd.sh start DIR | stop DIR
# Starts a dockerd of the tests' own (socket, data-root and exec-root under
# DIR, no bridge, no iptables, no network needed), imports the busybox test
# image from busybox-static, and prints the DOCKER_HOST to export.
set -euo pipefail
cmd=${1:?usage: dockerd.sh start|stop DIR}
dir=${2:?usage: dockerd.sh start|stop DIR}
image=spirit-test/busybox:latest

start() {
	mkdir -p "$dir"
	chmod 0700 "$dir"
	local sock="$dir/docker.sock"
	dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
		--pidfile "$dir/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
		--userland-proxy=false >"$dir/dockerd.log" 2>&1 &
	export DOCKER_HOST="unix://$sock"
	for _ in $(seq 1 100); do
		docker version >/dev/null 2>&1 && break
		sleep 0.2
	done
	if ! docker version >/dev/null 2>&1; then
		echo "dockerd did not start; its log:" >&2
		tail -20 "$dir/dockerd.log" >&2
		exit 1
	fi
	import_image
	echo "export DOCKER_HOST=$DOCKER_HOST"
}

# import_image builds the test image with docker import: no registry needed.
import_image() {
	local root
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,tmp,etc,proc,sys,dev,root}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	local a
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$image" >/dev/null
	rm -rf "$root"
}

stop() {
	local pid
	pid=$(cat "$dir/dockerd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	# Containers' mounts live under data-root; unmount before removing.
	grep -o " $dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) echo "usage: dockerd.sh start|stop DIR" >&2; exit 2 ;;
esac
