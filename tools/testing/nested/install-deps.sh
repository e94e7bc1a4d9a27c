#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# install-deps.sh - install, with apt-get, everything the nested test
# harness needs on a fresh Debian 12 machine: the build tool chain,
# Debian's 6.1 kernel image + headers (the test kernel), 6.12 headers and
# image from bookworm-backports, QEMU, Bochs, busybox, sparse and e2fsprogs
# (mke2fs -d builds the VMM test's L2 disk image).
# Does nothing (and needs no root) when everything is already installed;
# safe to run any number of times.
#
# XKVM_NO_BACKPORTS=1 skips the 6.12 kernel from bookworm-backports.
set -euo pipefail

pkgs=(build-essential bc flex bison libelf-dev kmod cpio xz-utils gzip
      busybox-static qemu-system-x86 sparse linux-source-6.1 rsync
      linux-image-amd64 linux-headers-amd64
      bochs bochsbios vgabios isolinux syslinux-common xorriso e2fsprogs)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

# have_kernel SERIES: an image in /boot with the matching build directory.
have_kernel() {
	local v
	for v in /boot/vmlinuz-"$1".*; do
		[ -e "$v" ] || continue
		[ -d "/lib/modules/${v#/boot/vmlinuz-}/build" ] && return 0
	done
	return 1
}

# The 6.1 test kernel can be missing even though linux-image-amd64 is
# installed (when the meta package already comes from backports).
need_61=0
have_kernel 6.1 || need_61=1

bpo=/etc/apt/sources.list.d/xkvm-backports.sources
need_bpo=0
if [ "${XKVM_NO_BACKPORTS:-0}" != 1 ] && ! have_kernel 6.12; then
	need_bpo=1
fi

[ ${#missing[@]} -eq 0 ] && [ $need_61 = 0 ] && [ $need_bpo = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: need root to install: ${missing[*]}" \
	     "$([ $need_61 = 1 ] && echo 'kernel-6.1') $([ $need_bpo = 1 ] && echo 'kernel-6.12')" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ $need_bpo = 1 ] && [ ! -f "$bpo" ]; then
	uris=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$uris" ] || uris=http://deb.debian.org/debian
	printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$uris" > "$bpo"
fi
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ $need_61 = 1 ] && ! have_kernel 6.1; then
	# Newest 6.1 version of the meta package -> its versioned image package.
	img=$(apt-cache show linux-image-amd64 |
	      awk '/^Package:/ { v = "" } /^Version: 6\.1\./ { v = $2 }
		   /^Depends:/ && v != "" { print v, $2 }' | sort -V | tail -n 1 | cut -d' ' -f2)
	[ -n "$img" ] || { echo "install-deps.sh: no 6.1 kernel in the archive" >&2; exit 1; }
	apt-get install -y -qq --no-install-recommends "$img" "${img/linux-image-/linux-headers-}"
fi
if [ $need_bpo = 1 ]; then
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		linux-image-amd64 linux-headers-amd64
fi
