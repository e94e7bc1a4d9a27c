#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh - builds the nested harness' debug kernel: Debian's
# linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz) configured with the
# kernel's runtime checkers (KASAN, lockdep, kmemleak, ...), so that
# `run.sh --debug-kernel` can run the selftests under them. Owns
# build/debug-kernel/ and build/logs/build-debug-kernel.log.
#
# Usage: tools/testing/nested/debug-kernel.sh [--force]
#   Builds (or finds cached) and prints, on its last lines, the kernel's
#   description for run.sh, also kept in build/debug-kernel/kernel.env:
#     KVER=<kernel release>          (6.1.<n>-xkvm-debug)
#     IMAGE=<bzImage>                to boot
#     MODDIR=<staging>/lib/modules/KVER   modules_install output (modules.dep)
#     KDIR=<tree>                    external-module build directory
#     CMDLINE=<extra kernel command line for the debug checkers>
#     BUILD_SECS=<seconds the last build took, extraction included>
#   Progress goes to stderr, the build itself to build/logs/build-debug-kernel.log.
#   --force  rebuild even if cached.
#
# Cache: build/debug-kernel/stamp holds the source package's version, the
# tarball's sha256 and the sha256 of the configuration below (base configs
# + fragment). The same stamp and outputs present: nothing is done. Same
# source, other fragment: the tree is reconfigured and rebuilt in place
# (incremental). Other source: everything is rebuilt.
#
# Configuration choices (the fragment is in write_fragment):
# - Base: `make x86_64_defconfig` + kernel/configs/kvm_guest.config, not
#   Debian's full config: a few thousand objects instead of ~20k, which is
#   what two shared cores can build (Debian's config with KASAN would take
#   hours). Big subsystems the test machines do not use are turned off
#   (DRM/i915, sound, USB, wireless, netfilter, IPv6); the build measured
#   about 45 min with nice -n 19 on the 2-core development machine
#   (BUILD_SECS in kernel.env holds the figure of the last build).
# - What the harness needs: 8250 serial console, initramfs (gzip) and
#   devtmpfs, ACPI power-off (QEMU and Bochs end on it), SMP and CPU
#   hotplug (tests take a CPU offline), loadable and unloadable modules
#   without signatures or versions, CPU_SUP_AMD and CPU_SUP_INTEL, KVM as
#   modules (kvm, kvm-amd, kvm-intel: reference mode; no SEV so kvm-amd
#   needs no ccp, no Xen), virtio-pci + 9p built in (cheap; the amd
#   machine's VMM test mounts the host's root with them), debugfs (kmemleak).
#   X86_SGX off. CPUMASK_OFFSTACK as in Debian's kernels (there it comes
#   with MAXSMP): it changes cpumask_var_t from an array to a pointer, so
#   the module API differs with it (xkvm's this_cpu_read() of a per-CPU
#   cpumask_var_t did not build without it); here it is reached through
#   DEBUG_PER_CPU_MAPS (cpumask index checks), NR_CPUS stays 64. No DEBUG_INFO (KASAN/lockdep reports symbolize with
#   kallsyms; DWARF would double the build and the tree).
# - LOCALVERSION "-xkvm-debug": the release differs from Debian's own
#   6.1.0-N-amd64, so xkvm's vermagic check and /lib/modules paths cannot
#   mix the two.
# - Preemption: CONFIG_PREEMPT (full), so that DEBUG_PREEMPT checks
#   smp_processor_id()/this_cpu ops in preemptible code; Debian's kernels
#   are PREEMPT_DYNAMIC, so xkvm must be preemption-safe anyway.
# - KASAN generic, inline instrumentation, with stack and vmalloc checks;
#   KFENCE off (KASAN covers it). xkvm's modules are instrumented too: the
#   kernel's Makefile.kasan flags apply to M= builds. The command line gets
#   kasan_multi_shot so that every report is printed, not only the first,
#   and log_buf_len=4M so that the guest's final dmesg dump (where run.sh
#   finds reports made while TAP was printed) cannot lose them.
# - Locking: PROVE_LOCKING (lockdep, DEBUG_{SPINLOCK,MUTEXES,RWSEMS,
#   LOCK_ALLOC}, PROVE_RCU), DEBUG_ATOMIC_SLEEP, DEBUG_IRQFLAGS.
#   PROVE_RAW_LOCK_NESTING stays off (it is about PREEMPT_RT and 6.1
#   itself trips it).
# - Memory: DEBUG_KMEMLEAK, on by default, without the automatic scan
#   (the guest scans once at the end of a job: deterministic, and no
#   report in the middle of a test); DEBUG_VM (page refcounts and flags:
#   xkvm pins guest pages and has an MMU notifier), HARDENED_USERCOPY,
#   FORTIFY_SOURCE, SCHED_STACK_END_CHECK.
# - Objects and lists: DEBUG_LIST, DEBUG_OBJECTS with FREE, TIMERS, WORK
#   and RCU_HEAD (cheap, enabled by default), DEBUG_NOTIFIERS.
# - UBSAN: bounds and shift checks over the whole kernel and modules
#   (UBSAN_SANITIZE_ALL); bool/enum/div-zero/alignment off (cost, noise).
# - Hang detectors: soft lockup, hung task (120 s, below the harness'
#   300 s per test binary), workqueue watchdog, RCU stall warnings
#   (default). No hard-lockup detector: neither emulator has a usable PMU.
# - Nothing panics on a report (no panic_on_warn, BUG_ON_DATA_CORRUPTION
#   off): the run goes on and the host's console scanner (run.sh
#   parse_tests) fails it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=$top/build/debug-kernel
log=$top/build/logs/build-debug-kernel.log
tarball=/usr/src/linux-source-6.1.tar.xz
tree=$out/linux
staging=$out/staging
jobs=${NESTED_JOBS:-2}
force=0

case ${1:-} in
--force) force=1 ;;
"") ;;
-h|--help) sed -n '/^# Usage:/,/^# Cache:/{/^# Cache:/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
*) echo "debug-kernel.sh: unknown option '$1'" >&2; exit 2 ;;
esac

# note MSG: progress on stderr (stdout carries the result).
note() { echo "debug-kernel.sh: $*" >&2; }

# install_build_deps: the kernel build's own tools, with apt-get, only
# when missing (the default test run does not need them).
install_build_deps()
{
	local p missing=()
	for p in build-essential bc bison flex libelf-dev libssl-dev xz-utils \
		 cpio kmod linux-source-6.1; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || { note "need root to install: ${missing[*]}"; return 1; }
	note "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# write_fragment FILE: the configuration fragment merged on top of
# x86_64_defconfig + kvm_guest.config (choices explained in the header).
write_fragment()
{
	cat > "$1" <<-'EOF'
	CONFIG_LOCALVERSION="-xkvm-debug"
	# CONFIG_LOCALVERSION_AUTO is not set
	# ---- what the harness needs
	CONFIG_SERIAL_8250=y
	CONFIG_SERIAL_8250_CONSOLE=y
	CONFIG_BLK_DEV_INITRD=y
	CONFIG_RD_GZIP=y
	CONFIG_DEVTMPFS=y
	CONFIG_ACPI=y
	CONFIG_SMP=y
	CONFIG_HOTPLUG_CPU=y
	CONFIG_MODULES=y
	CONFIG_MODULE_UNLOAD=y
	# CONFIG_MODVERSIONS is not set
	# CONFIG_MODULE_SIG is not set
	CONFIG_CPU_SUP_AMD=y
	CONFIG_CPU_SUP_INTEL=y
	CONFIG_VIRTUALIZATION=y
	CONFIG_KVM=m
	CONFIG_KVM_AMD=m
	CONFIG_KVM_INTEL=m
	# CONFIG_KVM_AMD_SEV is not set
	# CONFIG_KVM_XEN is not set
	CONFIG_VIRTIO_PCI=y
	CONFIG_NET_9P=y
	CONFIG_NET_9P_VIRTIO=y
	CONFIG_9P_FS=y
	CONFIG_DEBUG_FS=y
	# CONFIG_X86_SGX is not set
	CONFIG_DEBUG_PER_CPU_MAPS=y
	CONFIG_CPUMASK_OFFSTACK=y
	# CONFIG_DEBUG_INFO is not set
	CONFIG_DEBUG_INFO_NONE=y
	# ---- left out to keep the build small
	# CONFIG_DRM is not set
	# CONFIG_SOUND is not set
	# CONFIG_USB_SUPPORT is not set
	# CONFIG_WLAN is not set
	# CONFIG_WIRELESS is not set
	# CONFIG_NETFILTER is not set
	# CONFIG_IPV6 is not set
	# CONFIG_HIBERNATION is not set
	# ---- the checkers
	CONFIG_DEBUG_KERNEL=y
	CONFIG_PREEMPT=y
	CONFIG_DEBUG_PREEMPT=y
	CONFIG_KASAN=y
	CONFIG_KASAN_GENERIC=y
	CONFIG_KASAN_INLINE=y
	CONFIG_KASAN_STACK=y
	CONFIG_KASAN_VMALLOC=y
	# CONFIG_KFENCE is not set
	CONFIG_PROVE_LOCKING=y
	CONFIG_PROVE_RCU=y
	# CONFIG_PROVE_RAW_LOCK_NESTING is not set
	CONFIG_DEBUG_ATOMIC_SLEEP=y
	CONFIG_DEBUG_IRQFLAGS=y
	CONFIG_DEBUG_KMEMLEAK=y
	# CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF is not set
	# CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set
	CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000
	CONFIG_DEBUG_VM=y
	CONFIG_HARDENED_USERCOPY=y
	CONFIG_FORTIFY_SOURCE=y
	CONFIG_SCHED_STACK_END_CHECK=y
	CONFIG_DEBUG_LIST=y
	# CONFIG_BUG_ON_DATA_CORRUPTION is not set
	CONFIG_DEBUG_OBJECTS=y
	CONFIG_DEBUG_OBJECTS_FREE=y
	CONFIG_DEBUG_OBJECTS_TIMERS=y
	CONFIG_DEBUG_OBJECTS_WORK=y
	CONFIG_DEBUG_OBJECTS_RCU_HEAD=y
	CONFIG_DEBUG_OBJECTS_ENABLE_DEFAULT=1
	CONFIG_DEBUG_NOTIFIERS=y
	CONFIG_UBSAN=y
	CONFIG_UBSAN_BOUNDS=y
	CONFIG_UBSAN_SHIFT=y
	# CONFIG_UBSAN_DIV_ZERO is not set
	# CONFIG_UBSAN_BOOL is not set
	# CONFIG_UBSAN_ENUM is not set
	# CONFIG_UBSAN_ALIGNMENT is not set
	# CONFIG_UBSAN_TRAP is not set
	CONFIG_UBSAN_SANITIZE_ALL=y
	CONFIG_SOFTLOCKUP_DETECTOR=y
	CONFIG_DETECT_HUNG_TASK=y
	CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120
	CONFIG_WQ_WATCHDOG=y
	# CONFIG_PANIC_ON_OOPS is not set
	EOF
}

# check_config CONFIG FRAGMENT: every "=y/=m/=N" line and every "is not
# set" line of FRAGMENT holds in CONFIG (olddefconfig drops what a
# dependency forbids; that must not pass silently).
check_config()
{
	local line sym bad=0
	while read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -e "$line" "$1" || { note "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$1" || echo 'not present')"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			if grep -qE "^$sym=" "$1"; then
				note "config: wanted $sym off, got $(grep -E "^$sym=" "$1")"; bad=1
			fi ;;
		esac
	done < "$2"
	return $bad
}

# emit: the kernel description, on stdout and in kernel.env.
emit()
{
	local kver
	kver=$(cat "$tree/include/config/kernel.release")
	{
		echo "KVER=$kver"
		echo "IMAGE=$out/bzImage"
		echo "MODDIR=$staging/lib/modules/$kver"
		echo "KDIR=$tree"
		echo "CMDLINE=kasan_multi_shot log_buf_len=4M"
		echo "BUILD_SECS=$(cat "$out/build-secs" 2>/dev/null || echo 0)"
	} > "$out/kernel.env"
	cat "$out/kernel.env"
}

# build: configure and build the tree in place, install the modules into
# the staging directory; records the time taken.
build()
{
	local t0=$SECONDS kver frag=$out/fragment.config
	write_fragment "$frag"
	note "configuring (x86_64_defconfig + kvm_guest.config + $frag)"
	(
		cd "$tree"
		make x86_64_defconfig
		scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$frag"
		make olddefconfig
	) >> "$log" 2>&1 || { note "configuration failed (log: $log)"; return 1; }
	check_config "$tree/.config" "$frag" ||
		{ note "the configuration lost some of the fragment's options"; return 1; }
	note "building bzImage and modules with -j$jobs, nice -n 19 (log: $log)"
	nice -n 19 make -C "$tree" -j"$jobs" bzImage modules >> "$log" 2>&1 ||
		{ note "kernel build failed (log: $log)"; tail -n 30 "$log" >&2; return 1; }
	# modules_prepare is part of the full build; run it anyway so that the
	# tree is explicitly ready for M= builds.
	nice -n 19 make -C "$tree" -j"$jobs" modules_prepare >> "$log" 2>&1
	kver=$(cat "$tree/include/config/kernel.release")
	rm -rf "$staging"
	make -C "$tree" INSTALL_MOD_PATH="$staging" DEPMOD=/sbin/depmod \
		modules_install >> "$log" 2>&1 ||
		{ note "modules_install failed (log: $log)"; return 1; }
	# The staging tree must not point back into the build tree through
	# the build/source links: run.sh takes KDIR from kernel.env.
	rm -f "$staging/lib/modules/$kver/build" "$staging/lib/modules/$kver/source"
	cp "$tree/arch/x86/boot/bzImage" "$out/bzImage"
	note "built $kver in $((SECONDS - t0)) s"
}

# key: what the cache depends on (source version, tarball, configuration).
key()
{
	local f
	f=$(mktemp)
	write_fragment "$f"
	echo "source=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo unknown)"
	echo "tarball=$(sha256sum < "$tarball" | cut -c1-64)"
	echo "config=$( { echo x86_64_defconfig kvm_guest.config; cat "$f"; } | sha256sum | cut -c1-64)"
	rm -f "$f"
}

main()
{
	local want have="" t0
	mkdir -p "$out" "$(dirname "$log")"
	install_build_deps
	[ -f "$tarball" ] || { note "no $tarball"; exit 1; }
	want=$(key)
	[ -f "$out/stamp" ] && have=$(cat "$out/stamp")
	if [ "$force" = 0 ] && [ "$want" = "$have" ] && [ -f "$out/bzImage" ] &&
	   [ -f "$out/kernel.env" ] && [ -f "$tree/Module.symvers" ]; then
		note "cached: $(sed -n 's/^KVER=//p' "$out/kernel.env") in $out"
		emit
		return 0
	fi
	: > "$log"
	rm -f "$out/stamp"
	t0=$SECONDS
	if [ "$force" = 1 ] || [ ! -f "$tree/Makefile" ] || [ ! -f "$out/source-stamp" ] ||
	   [ "$(echo "$want" | head -n 2)" != "$(cat "$out/source-stamp")" ]; then
		note "extracting $tarball"
		rm -rf "$tree" "$out/linux-source-6.1" "$out/source-stamp"
		tar -xJf "$tarball" -C "$out"
		mv "$out/linux-source-6.1" "$tree"
		echo "$want" | head -n 2 > "$out/source-stamp"
		note "extracted in $((SECONDS - t0)) s"
	else
		note "same source, other configuration or an unfinished build: building in place"
	fi
	build
	echo $((SECONDS - t0)) > "$out/build-secs"
	note "extraction + build: $((SECONDS - t0)) s"
	echo "$want" > "$out/stamp"
	emit
}

main
