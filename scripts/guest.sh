#!/usr/bin/env bash
# guest.sh is `make guest`: it builds spirit's demo Linux guest into
# build/guest/ from Debian packages only, as root or not:
#
#   vmlinuz             the kernel of linux-image-cloud-amd64
#   initramfs.cpio.gz   busybox-static, the modules of that kernel it
#                       needs (virtio; the ACPI power button and evdev,
#                       for busybox acpid), spirit-agent, and
#                       testdata/guest/init as /init
#   scratch.qcow2       a 64 MiB ext2 disk (qcow2, so that QEMU's internal
#                       snapshots work), mounted at /data: the tests'
#                       template, which they only read (through overlays)
#   linux.qcow2         a copy of it, the disk of the VM @linux
#                       (vmctl/default.toml), made once and then kept
#
# With --bench (make bench only) it also makes the bench variant:
#
#   initramfs-bench.cpio.gz  initramfs.cpio.gz followed by a second
#                       archive (the kernel unpacks both) with Debian's
#                       qemu-guest-agent (qemu-ga, the shared libraries
#                       ldd names and the dynamic loader) and spirit-echo
#                       (bench/echo): the init starts them when the VM has
#                       the ports org.qemu.guest_agent.0 and spirit.echo
#
# Boot it with internal/guesttest, or by hand (Ctrl-A x quits):
#   qemu-system-x86_64 -accel tcg -machine q35 -m 256 -nodefaults \
#     -nographic -serial mon:stdio -no-reboot \
#     -kernel build/guest/vmlinuz -initrd build/guest/initramfs.cpio.gz \
#     -append 'console=ttyS0 quiet panic=-1' \
#     -drive file=build/guest/scratch.qcow2,if=none,id=d0,format=qcow2,snapshot=on \
#     -device virtio-blk-pci,drive=d0 \
#     -chardev socket,id=sp0,path=/tmp/spirit.sock,server=on,wait=off \
#     -device virtio-serial-pci -device virtserialport,chardev=sp0,name=spirit.0
#
# Each output is remade only when it is missing or older than what it is
# made from (this script, testdata/guest/init, the agent's binary); the
# kernel is fetched again only when this script changes or it is missing:
# rm -rf build/guest for a newer kernel. With --if-missing it does nothing
# at all when the outputs exist (make run and make test use that).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/guest
script=scripts/guest.sh
init=testdata/guest/init

bench=
if [ "${1:-}" = --bench ]; then
	bench=1
elif [ "${1:-}" = --if-missing ]; then
	if [ -s $out/vmlinuz ] && [ -s $out/initramfs.cpio.gz ] && [ -s $out/scratch.qcow2 ] && [ -s $out/linux.qcow2 ]; then
		exit 0
	fi
elif [ $# -gt 0 ]; then
	echo "usage: scripts/guest.sh [--if-missing | --bench]" >&2
	exit 2
fi

scripts/deps.sh
export PATH=/usr/local/go/bin:$PATH
mkdir -p $out
tmp=$(mktemp -d /tmp/spirit-guest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# newer A B...: A is missing or older than one of B.
stale() {
	local t=$1 f
	shift
	[ -e "$t" ] || return 0
	for f in "$@"; do
		[ "$f" -nt "$t" ] && return 0
	done
	return 1
}

# The agent: static, stripped. The file is replaced only when the build
# differs, so that an unchanged agent does not remake the initramfs.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/spirit-agent" ./cmd/spirit-agent
if ! cmp -s "$tmp/spirit-agent" $out/spirit-agent; then
	mv "$tmp/spirit-agent" $out/spirit-agent
fi

# apt_download PKG: fetch PKG's .deb into the current directory, updating
# the package lists first if they do not know it or are too old.
apt_download() {
	if ! apt-cache show "$1" >/dev/null 2>&1 || ! apt-get download -q "$1" >/dev/null 2>&1; then
		echo "updating the package lists" >&2
		apt-get update -q >/dev/null
		apt-get download -q "$1" >/dev/null
	fi
}

# kernel fetches the kernel and stages the modules the guest loads in
# $out/kernel: lib/modules/RELEASE/... uncompressed, and the list
# /etc/modules of the initramfs in load order.
kernel() {
	local meta=linux-image-cloud-amd64 pkg
	if ! apt-cache show $meta >/dev/null 2>&1; then
		echo "updating the package lists" >&2
		apt-get update -q >/dev/null
	fi
	# The metapackage depends on the versioned image, e.g.
	# linux-image-6.1.0-56-cloud-amd64.
	pkg=$(apt-cache depends $meta | awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		echo "guest: cannot resolve $meta to a linux-image package (apt-cache depends $meta)" >&2
		exit 1
	fi
	echo "guest: fetching $pkg" >&2
	mkdir "$tmp/deb"
	# apt drops to the _apt user to download: let it write there.
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
		chown _apt "$tmp/deb"
	fi
	(cd "$tmp/deb" && apt_download "$pkg")
	dpkg-deb -x "$tmp"/deb/*.deb "$tmp/root"
	local rel config moddir
	rel=$(ls "$tmp/root/lib/modules")
	config=$tmp/root/boot/config-$rel
	moddir=$tmp/root/lib/modules/$rel
	if [ ! -f "$config" ] || [ ! -f "$tmp/root/boot/vmlinuz-$rel" ]; then
		echo "guest: $pkg has no /boot/config-$rel or /boot/vmlinuz-$rel" >&2
		exit 1
	fi

	# What /init relies on must be built in; the drivers may be modules.
	local opt
	for opt in BLK_DEV_INITRD RD_GZIP DEVTMPFS SERIAL_8250_CONSOLE UNIX98_PTYS TMPFS PCI; do
		if ! grep -qx "CONFIG_$opt=y" "$config"; then
			echo "guest: $pkg lacks CONFIG_$opt=y, which the demo guest needs" >&2
			exit 1
		fi
	done
	local want=() builtin=() line name
	# CONFIG option and the module (file) name it builds.
	for line in VIRTIO_PCI:virtio_pci VIRTIO_CONSOLE:virtio_console VIRTIO_BLK:virtio_blk \
		VIRTIO_NET:virtio_net VIRTIO_BALLOON:virtio_balloon HW_RANDOM_VIRTIO:virtio-rng \
		EXT4_FS:ext4 ACPI_BUTTON:button INPUT_EVDEV:evdev; do
		opt=${line%%:*} name=${line#*:}
		case $(grep -E "^(# )?CONFIG_$opt[= ]" "$config" || true) in
		"CONFIG_$opt=m") want+=("$name") ;;
		"CONFIG_$opt=y") builtin+=("$name") ;;
		*)
			echo "guest: $pkg does not build $name (CONFIG_$opt)" >&2
			exit 1
			;;
		esac
	done
	echo "guest: kernel $rel; built in: ${builtin[*]:-none}; modules: ${want[*]:-none}" >&2

	# The package has no modules.dep (its postinst runs depmod).
	[ -f "$moddir/modules.dep" ] || busybox depmod -b "$tmp/root" "$rel"
	declare -A deps=()
	local mod rest
	while IFS=: read -r mod rest; do
		deps[$mod]=$rest
	done <"$moddir/modules.dep"
	# Dependencies first, each once.
	declare -A seen=()
	local order=()
	add() {
		local m=$1 d
		[ -z "${seen[$m]:-}" ] || return 0
		seen[$m]=1
		for d in ${deps[$m]:-}; do
			add "$d"
		done
		order+=("$m")
	}
	for name in ${want[@]+"${want[@]}"}; do
		mod=$(printf '%s\n' "${!deps[@]}" | grep -E "(^|/)$name\.ko(\.xz|\.zst|\.gz)?\$" | head -1 || true)
		if [ -z "$mod" ]; then
			echo "guest: module $name is not in $pkg's modules.dep" >&2
			exit 1
		fi
		add "$mod"
	done

	# Stage them uncompressed: busybox insmod may not read .ko.xz/.ko.zst.
	local stage=$tmp/kernel ko
	mkdir -p "$stage/lib/modules"
	: >"$stage/modules"
	for mod in ${order[@]+"${order[@]}"}; do
		ko=${mod%.xz}
		ko=${ko%.zst}
		ko=${ko%.gz}
		mkdir -p "$stage/lib/modules/$rel/$(dirname "$ko")"
		case $mod in
		*.xz) busybox xz -dc "$moddir/$mod" ;;
		*.zst)
			command -v zstd >/dev/null || { echo "guest: $mod needs zstd: apt-get install zstd" >&2; exit 1; }
			zstd -qdc "$moddir/$mod"
			;;
		*.gz) gzip -dc "$moddir/$mod" ;;
		*) cat "$moddir/$mod" ;;
		esac >"$stage/lib/modules/$rel/$ko"
		echo "$rel/$ko" >>"$stage/modules"
	done
	echo "$pkg $rel" >"$stage/release"
	rm -rf $out/kernel
	mv "$stage" $out/kernel
	cp "$tmp/root/boot/vmlinuz-$rel" $out/vmlinuz
	rm -rf "$tmp/deb" "$tmp/root"
}

if [ ! -s $out/kernel/modules ] || stale $out/vmlinuz $script; then
	kernel
fi

# The initramfs: a newc cpio owned by root, made without root.
if stale $out/initramfs.cpio.gz $script $init $out/spirit-agent $out/kernel/modules; then
	if ! { [ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked'; }; then
		echo "guest: /bin/busybox is not busybox-static's: apt-get install busybox-static" >&2
		exit 1
	fi
	r=$tmp/initramfs
	mkdir -p "$r"/{bin,sbin,etc,dev,proc,sys,tmp,run,data,root,lib/modules}
	chmod 1777 "$r/tmp"
	chmod 0700 "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	install -m 0755 $out/spirit-agent "$r/bin/spirit-agent"
	install -m 0755 $init "$r/init"
	cp -a $out/kernel/lib/modules/. "$r/lib/modules/"
	cp $out/kernel/modules "$r/etc/modules"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\n' >"$r/etc/group"
	printf '127.0.0.1\tlocalhost spirit-demo\n::1\tlocalhost\n' >"$r/etc/hosts"
	echo spirit-demo >"$r/etc/hostname"
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$tmp/initramfs.cpio.gz"
	mv "$tmp/initramfs.cpio.gz" $out/initramfs.cpio.gz
fi

# The scratch disk, formatted here (a regular file needs no root), so
# that the guest does not format it at each boot of a fresh copy.
if [ ! -s $out/scratch.qcow2 ]; then
	truncate -s 64M "$tmp/scratch.raw"
	busybox mke2fs -F -L scratch "$tmp/scratch.raw" >/dev/null
	qemu-img convert -q -f raw -O qcow2 "$tmp/scratch.raw" "$tmp/scratch.qcow2"
	mv "$tmp/scratch.qcow2" $out/scratch.qcow2
fi
# @linux writes to a disk of its own, so that a running demo VM and the
# tests (which open the template read-only) never contend for a lock.
if [ ! -s $out/linux.qcow2 ]; then
	cp $out/scratch.qcow2 "$tmp/linux.qcow2"
	mv "$tmp/linux.qcow2" $out/linux.qcow2
fi

# bench_initramfs makes $out/initramfs-bench.cpio.gz: see the top.
bench_initramfs() {
	local qga=$out/qemu-ga stage=$tmp/bench lib
	if [ ! -s $qga/bin/qemu-ga ] || stale $qga/bin/qemu-ga $script; then
		echo "guest: fetching qemu-guest-agent" >&2
		mkdir -p "$tmp/qga-deb"
		if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
			chown _apt "$tmp/qga-deb"
		fi
		(cd "$tmp/qga-deb" && apt_download qemu-guest-agent)
		dpkg-deb -x "$tmp"/qga-deb/*.deb "$tmp/qga-root"
		# The binary and what it loads, from the host (Debian 12 too):
		# ldd names each library's path, and the loader.
		rm -rf "$tmp/qga"
		mkdir -p "$tmp/qga/bin"
		cp "$tmp/qga-root/usr/sbin/qemu-ga" "$tmp/qga/bin/qemu-ga"
		if ldd "$tmp/qga/bin/qemu-ga" | grep -q 'not found'; then
			echo "guest: qemu-ga needs libraries this host lacks:" >&2
			ldd "$tmp/qga/bin/qemu-ga" | grep 'not found' >&2
			echo "guest: apt-get install libglib2.0-0 libnuma1 libudev1 liburing2" >&2
			exit 1
		fi
		for lib in $(ldd "$tmp/qga/bin/qemu-ga" | grep -o '/[^ ]*'); do
			mkdir -p "$tmp/qga$(dirname "$lib")"
			cp -L "$lib" "$tmp/qga$lib"
		done
		touch "$tmp/qga/bin/qemu-ga" # newer than this script: kept until it changes
		rm -rf "$qga"
		mv "$tmp/qga" "$qga"
		rm -rf "$tmp/qga-deb" "$tmp/qga-root"
	fi
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/spirit-echo" ./bench/echo
	if ! cmp -s "$tmp/spirit-echo" $out/spirit-echo; then
		mv "$tmp/spirit-echo" $out/spirit-echo
	fi
	if ! stale $out/initramfs-bench.cpio.gz $script $out/initramfs.cpio.gz $out/spirit-echo $qga/bin/qemu-ga; then
		return 0
	fi
	mkdir -p "$stage/bin"
	cp -a $qga/. "$stage/"
	install -m 0755 $out/spirit-echo "$stage/bin/spirit-echo"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6n >"$tmp/extra.cpio.gz"
	cat $out/initramfs.cpio.gz "$tmp/extra.cpio.gz" >"$tmp/initramfs-bench.cpio.gz"
	mv "$tmp/initramfs-bench.cpio.gz" $out/initramfs-bench.cpio.gz
}

if [ -n "$bench" ]; then
	bench_initramfs
fi

size() { numfmt --to=iec-i --suffix=B --format='%.1f' "$(stat -c %s "$1")"; }
echo "guest: $(cut -d' ' -f1 $out/kernel/release) in $out:" \
	"vmlinuz $(size $out/vmlinuz)," \
	"initramfs.cpio.gz $(size $out/initramfs.cpio.gz) (spirit-agent $(size $out/spirit-agent))," \
	"scratch.qcow2 $(size $out/scratch.qcow2) on disk, 64MiB virtual" >&2
