#!/usr/bin/env bash
# deps.sh installs, on Debian 12 as root, what building and testing spirit
# needs and the machine lacks. It installs nothing that is already there.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
# The test image is made from busybox-static: a dynamic busybox would not
# run in an image with no libc.
if ! { [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; }; then
	need+=(busybox-static)
fi
command -v file >/dev/null || need+=(file)
command -v bash >/dev/null || need+=(bash)
command -v git >/dev/null || need+=(git)
command -v gcc >/dev/null || need+=(gcc) # the race detector needs cgo
# The demo guest (make guest) and the tests that boot it.
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v cpio >/dev/null || need+=(cpio)
# The Wine lane of make test runs the agent's Windows build (64-bit
# only: no i386 multiarch needed) and builds a DLL for it with mingw-w64.
command -v wine >/dev/null || need+=(wine)
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
# UEFI firmware for the windows profile (vmctl/default.toml).
if ! [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || ! [ -f /usr/share/OVMF/OVMF_VARS_4M.fd ]; then
	need+=(ovmf)
fi

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "spirit needs these Debian packages: ${need[*]}; run as root: apt-get install ${need[*]}" >&2
		exit 1
	fi
	echo "installing: ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

# The user that root's VMs run QEMU as (README: Security); spirit itself
# never creates it.
if [ "$(id -u)" = 0 ] && ! getent passwd spirit-qemu >/dev/null; then
	echo "creating the system user spirit-qemu, that QEMU runs as" >&2
	useradd --system --no-create-home --shell /usr/sbin/nologin spirit-qemu
fi

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH=/usr/local/go/bin:$PATH
fi
if ! command -v go >/dev/null; then
	echo "spirit needs Go 1.26 or newer (https://go.dev/dl/); Debian 12's golang package is too old" >&2
	exit 1
fi
