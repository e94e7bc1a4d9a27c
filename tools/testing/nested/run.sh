#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the nested-VM test harness of xkvm. On a Debian 12 machine
# without VT-x/AMD-V it installs what is missing, builds the modules for
# each test kernel and the selftests, packs an initramfs, boots Debian's
# kernel in an emulated machine, loads the modules there, runs the
# selftests and prints their TAP output. Owns tools/testing/nested/ and the
# build/{src-*,selftests,initramfs,logs} directories.
#
# Usage: tools/testing/nested/run.sh [options]
#   (default)          run the selftests; last line "N passed, N failed, N skipped",
#                      exit status 0 only if nothing failed
#   --demo             boot once, load xkvm, run the selftests' "demo" program
#   --bench            boot each machine once with guest time counting
#                      instructions, run "exit_bench" and "dirty_bench" (and
#                      on amd "shadow_bench" with npt=0) on xkvm, then on
#                      stock KVM; print emulated instructions per round trip
#                      and the ratios xkvm/KVM
#   --mode M           xkvm | reference | both (default both; --demo: xkvm)
#                      reference = the stock kvm/kvm-amd modules of the same kernel
#   --kernel K         test kernel, repeatable: an exact version from /lib/modules
#                      or a series ("6.1", "6.12": the newest installed), or
#                      "debug" (= --debug-kernel). Default: 6.1 and, if
#                      installed, 6.12 (--demo/--bench: the first one)
#   --debug-kernel     test the debug kernel (KASAN, lockdep, kmemleak, ...) that
#                      debug-kernel.sh builds from linux-source-6.1 (cached in
#                      build/debug-kernel/); alone, it replaces the default
#                      kernels. See Documentation/debug-kernel.md
#   --machine M        test machine, repeatable: amd (QEMU TCG -cpu EPYC,+svm,+npt)
#                      or intel (Bochs, VT-x with EPT); see machines/*.sh.
#                      Default: both (--demo: amd). Machines boot in parallel,
#                      one emulator each; the first one's output is shown
#                      live, the others' when they end. After its regular
#                      boots, a machine boots its variants (MACHINE_VARIANTS,
#                      e.g. amd-nonpt: the CPU without NPT, so shadow paging)
#                      in every mode on the newest kernel of the run, in the
#                      same stream (tests only, not --demo or --bench);
#                      those in MACHINE_VARIANTS_ON_REQUEST (intel-noept)
#                      only when NESTED_VARIANTS names them
#   --no-deps          do not run install-deps.sh
#   -h, --help         this text
# Environment (same meaning, for make targets and CI):
#   NESTED_MODE, NESTED_KERNELS, NESTED_MACHINE (both space separated), NESTED_NO_DEPS=1,
#   NESTED_VARIANTS (space separated machine variants to run, e.g. "nonpt";
#   unset: each machine's MACHINE_VARIANTS on the newest kernel other than
#   the debug kernel; set: those named, on every kernel of the run, in the
#   machines that have them; empty: none), NESTED_VARIANTS_ONLY=1 (boot
#   only the variants, not the machines' regular boots),
#   NESTED_BOOT_TIMEOUT (seconds per boot, default 600; 3600 with the debug
#   kernel and for --bench),
#   NESTED_TEST_TIMEOUT (seconds per test binary, default 300; 900 with the debug kernel),
#   NESTED_SMP (default 2), NESTED_MEM (default 1G),
#   NESTED_TCG_THREAD (single | multi, default single: multi-threaded TCG
#   crashed or hung the guest kernel in about half of the stock-KVM runs),
#   NESTED_JOBS (make -j, default 2), NESTED_TAIL (console lines shown on failure, 60),
#   NESTED_SRC (module source tree, default the repository),
#   NESTED_XKVM_PARAMS (parameters for xkvm.ko, e.g. "nx_huge_pages=force"),
#   NESTED_VENDOR_PARAMS (parameters for the vendor module of both modes,
#   xkvm-intel/kvm-intel or xkvm-amd/kvm-amd, e.g. "pml=0": the two share
#   the names that matter here),
#   NESTED_QEMU_TIMEOUT (seconds per QEMU boot of vmm_qemu_test, default 240;
#   vmm_migrate_test: per QEMU process, each of its waits a quarter of it),
#   NESTED_QEMU_CONFIGS (vmm_qemu_test's boots instead of its five, ";"
#   between them, e.g. "pc_smp1 pc,kernel-irqchip=off 1 qemu64"),
#   NESTED_VMM (default 1: also run vmm_qemu_test.sh, where Debian's QEMU
#   boots a Linux guest on the hypervisor under test, and vmm_migrate_test.sh,
#   where it live-migrates one, in machines that get
#   the host's root over virtio-9p (amd); all: also in the others (intel),
#   with QEMU, its libraries and firmware packed into the initramfs; 0 leaves
#   it out),
#   NESTED_SELFTESTS (selftests directory, default tools/testing/selftests/xkvm),
#   NESTED_TESTS (space separated test binaries: run only these, e.g.
#   "events_test vmm_qemu_test"),
#   NESTED_FUZZ_SEED, NESTED_FUZZ_ITERS, NESTED_FUZZ_SECS, NESTED_FUZZ_ROUND
#   (passed to the tests as XKVM_FUZZ_*: fuzz_test's seed, rounds, time;
#   NESTED_FUZZ_SECS also raises the default test and boot timeouts; see
#   Documentation/fuzzing.md).
# Logs: build/logs/<machine>[-<variant>]-<kernel>-<mode>.log (guest console,
# ends with a dmesg dump), build/logs/build-*.log (module and selftest builds).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=$top/build
logs=$build/logs

action=tests
mode=${NESTED_MODE:-}
read -r -a machines <<< "${NESTED_MACHINE:-}"
nodeps=${NESTED_NO_DEPS:-0}
read -r -a kernel_args <<< "${NESTED_KERNELS:-}"
variants_given=${NESTED_VARIANTS+1}
read -r -a variant_args <<< "${NESTED_VARIANTS:-}"
boot_timeout=${NESTED_BOOT_TIMEOUT:-600}
test_timeout=${NESTED_TEST_TIMEOUT:-300}
src=${NESTED_SRC:-$top}
vmm_test=${NESTED_VMM:-1}
seltests=${NESTED_SELFTESTS:-$top/tools/testing/selftests/xkvm}
only_tests=${NESTED_TESTS:-}

usage() { sed -n '/^# Usage:/,/^# Logs:/{/^# Logs:/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case $1 in
	--demo) action=demo ;;
	--bench) action=bench ;;
	--mode) mode=${2:?}; shift ;;
	--mode=*) mode=${1#*=} ;;
	--kernel) kernel_args+=("${2:?}"); shift ;;
	--kernel=*) kernel_args+=("${1#*=}") ;;
	--machine) machines+=("${2:?}"); shift ;;
	--machine=*) machines+=("${1#*=}") ;;
	--debug-kernel) kernel_args+=(debug) ;;
	--no-deps) nodeps=1 ;;
	-h|--help) usage 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done

# The benchmark boots QEMU inside each machine too (the boot benchmark):
# QEMU packed into machines without virtio-9p, and room for it.
if [ "$action" = bench ]; then
	[ -n "${NESTED_VMM:-}" ] || vmm_test=all
	export NESTED_MEM=${NESTED_MEM:-1G}
	# guest time counts instructions: both hypervisors' exit, dirty-log,
	# boot and migration runs take most of an hour of wall time in TCG
	boot_timeout=${NESTED_BOOT_TIMEOUT:-3600}
fi

mode_given=${mode:+1}
case $action:${mode:-} in
tests:) mode=both ;;
demo:) mode=xkvm ;;
bench:*) mode=both ;;
*:xkvm|*:reference|tests:both) ;;
*) echo "run.sh: bad mode '$mode' for $action" >&2; exit 2 ;;
esac
modes=(xkvm reference)
[ "$mode" = both ] || modes=("$mode")

if [ ${#machines[@]} -eq 0 ]; then
	machines=(amd intel)
	[ "$action" = demo ] && machines=(amd)
fi
[ "$action" = demo ] && machines=("${machines[0]}")
for m in "${machines[@]}"; do
	[ -f "$here/machines/$m.sh" ] ||
		{ echo "run.sh: unknown machine '$m'" >&2; exit 2; }
done

# use_machine M [VARIANT]: make M, or its variant VARIANT, the machine
# that boot() starts (its MACHINE_* variables and machine_boot; the file
# sees the variant as machine_variant). Optional settings besides those of
# machines/amd.sh: MACHINE_DEBUG_MODES (modes run on the debug kernel
# unless --mode is given; empty: all) and MACHINE_DEBUG_TESTS (test
# binaries run on the debug kernel unless NESTED_TESTS is set; empty: all).
use_machine()
{
	machine=$1
	machine_variant=${2:-}
	MACHINE_VARIANTS=
	MACHINE_VARIANTS_ON_REQUEST=
	MACHINE_VENDOR_PARAMS=
	MACHINE_EXPECT_XKVM=''
	MACHINE_EXPECT_REFERENCE=''
	MACHINE_REFUSE_XKVM=''
	# shellcheck disable=SC2034 # read through ${!r} in parse_tests
	MACHINE_REFUSE_REFERENCE=''
	MACHINE_VMM_TEST=0
	MACHINE_REFERENCE_NEWEST_ONLY=0
	MACHINE_DEBUG_MODES=
	MACHINE_DEBUG_TESTS=
	MACHINE_DEFAULT_SKIP=
	MACHINE_OLDER_KERNEL_TESTS=
	MACHINE_TIME_FACTOR=1
	# shellcheck source=machines/amd.sh
	. "$here/machines/$machine.sh"
}
# A variant asked for must be one that some machine of the run has.
if [ "$action" = tests ]; then
	for v in "${variant_args[@]}"; do
		for m in "${machines[@]}"; do
			[[ " $(use_machine "$m"; echo "$MACHINE_VARIANTS $MACHINE_VARIANTS_ON_REQUEST") " == *" $v "* ]] &&
				continue 2
		done
		echo "run.sh: no machine of the run (${machines[*]}) has a variant '$v'" >&2
		exit 2
	done
fi
use_machine "${machines[0]}"

total_pass=0 total_fail=0 total_skip=0
summary=()

# Every exit of a test run ends with the counting line.
final()
{
	local rc=0
	[ "$action" = tests ] || return 0
	if [ ${#summary[@]} -gt 0 ]; then
		echo
		printf '  %s\n' "${summary[@]}"
	fi
	[ "$total_fail" -eq 0 ] || rc=1
	if [ "$total_skip" -gt 0 ]; then
		echo "$total_pass passed, $total_fail failed, $total_skip skipped"
	else
		echo "$total_pass passed, $total_fail failed"
	fi
	return $rc
}

die()
{
	echo "run.sh: $*" >&2
	total_fail=$((total_fail + 1))
	final || true
	exit 1
}

# show_tail FILE [N]: last lines of a log, carriage returns removed.
show_tail()
{
	echo "---- last ${2:-40} lines of $1"
	tail -n "${2:-40}" "$1" | tr -d '\r'
	echo "----"
}

# show_build_log LOG: the first errors of a failed build, then its end.
show_build_log()
{
	echo "---- first errors in $1"
	grep -m 20 -E '(error|Error|undefined|No such file)' "$1" || true
	show_tail "$1" 15
}

# show_console LOG: what explains a failed boot. If the guest got to its
# dmesg dump, the kernel messages since /init started (module loading,
# tests); otherwise the end of the console (crash, panic or hang), and the
# emulator's own messages.
show_console()
{
	local n=${NESTED_TAIL:-60}
	if grep -q '^@@XH DMESG-END' "$1"; then
		echo "---- kernel messages since /init (last $n lines; full log: $1)"
		tr -d '\r' < "$1" | awk '
			/^@@XH DMESG-BEGIN/ { on = 1; next }
			/^@@XH DMESG-END/ { on = 0 }
			on && /Run \/init as init process/ { since = 1; next }
			on && since' | tail -n "$n"
		echo "----"
	else
		show_tail "$1" "$n"
	fi
	if [ -f "$1.emu" ] &&
	   grep -qv "TCG doesn't support requested feature" "$1.emu"; then
		echo "---- emulator messages"
		grep -v "TCG doesn't support requested feature" "$1.emu"
		echo "----"
	fi
}

# One ordered stream for terminals and CI logs.
exec 2>&1
mkdir -p "$logs"
exec 9> "$build/.nested.lock"
flock -n 9 || { echo "run.sh: waiting for another run.sh to finish" >&2; flock 9; }

# ---- dependencies --------------------------------------------------------
if [ "$nodeps" != 1 ]; then
	"$here/install-deps.sh" || die "install-deps.sh failed"
fi

# ---- test kernels --------------------------------------------------------
# All kernels with an image in /boot and modules in /lib/modules, oldest first.
installed_kernels()
{
	local v k
	for v in /boot/vmlinuz-*; do
		k=${v#/boot/vmlinuz-}
		[ -f "/lib/modules/$k/modules.dep" ] && echo "$k"
	done | sort -V
}

# pick_kernel SPEC: an exact version, or the newest of a series ("6.1").
pick_kernel()
{
	local k best=
	for k in $(installed_kernels); do
		if [ "$k" = "$1" ]; then echo "$k"; return 0; fi
		case $k in "$1".*|"$1"-*|"$1"+*) best=$k ;; esac
	done
	[ -n "$best" ] && echo "$best"
}

# A test kernel is its release KVER plus, in these arrays: the image to
# boot, its modules directory (modules.dep, the stock kvm modules), the
# directory xkvm is built against (make -C ... M=), extra kernel command
# line, and the kernel that the VMM test boots as its L2 guest (a host path).
declare -A kimage=() kmoddir=() kbuilddir=() kcmdline=() kl2=()

# add_kernel KVER: an installed Debian kernel (/boot, /lib/modules).
add_kernel()
{
	kernels+=("$1")
	kimage[$1]=/boot/vmlinuz-$1
	kmoddir[$1]=/lib/modules/$1
	kbuilddir[$1]=/lib/modules/$1/build
	kcmdline[$1]=
	kl2[$1]=/boot/vmlinuz-$1
}

# add_debug_kernel: the kernel debug-kernel.sh builds (or has cached),
# described by its output. The VMM test's L2 guest stays a Debian kernel:
# it is only the payload that exercises the hypervisor, and a KASAN kernel
# two levels of emulation deep would only add minutes.
add_debug_kernel()
{
	local env key val KVER='' IMAGE='' MODDIR='' KDIR='' CMDLINE='' l2
	env=$("$here/debug-kernel.sh") || die "debug-kernel.sh failed (log: $logs/build-debug-kernel.log)"
	while IFS='=' read -r key val; do
		case $key in
		KVER) KVER=$val ;; IMAGE) IMAGE=$val ;; MODDIR) MODDIR=$val ;;
		KDIR) KDIR=$val ;; CMDLINE) CMDLINE=$val ;;
		esac
	done <<< "$env"
	[ -n "$KVER" ] && [ -f "$IMAGE" ] || die "debug-kernel.sh gave no kernel"
	l2=$(pick_kernel 6.1) || die "no Debian 6.1 kernel for the VMM test's L2 guest"
	kernels+=("$KVER")
	debug_kver=$KVER
	kimage[$KVER]=$IMAGE
	kmoddir[$KVER]=$MODDIR
	kbuilddir[$KVER]=$KDIR
	kcmdline[$KVER]=$CMDLINE
	kl2[$KVER]=/boot/vmlinuz-$l2
}

kernels=()
debug_kernel=0 debug_kver=
if [ ${#kernel_args[@]} -eq 0 ]; then
	k=$(pick_kernel 6.1) || die "no Debian 6.1 kernel in /boot and /lib/modules"
	add_kernel "$k"
	if [ "$action" = tests ] && k=$(pick_kernel 6.12); then
		add_kernel "$k"
	fi
else
	for spec in "${kernel_args[@]}"; do
		if [ "$spec" = debug ]; then
			[ "$debug_kernel" = 1 ] && continue
			debug_kernel=1
			add_debug_kernel
			continue
		fi
		k=$(pick_kernel "$spec") || die "no installed kernel matches '$spec'"
		add_kernel "$k"
	done
	[ "$action" = tests ] || kernels=("${kernels[0]}")
fi

for k in "${kernels[@]}"; do
	[ -r "${kimage[$k]}" ] ||
		die "cannot read ${kimage[$k]} (Debian installs it mode 0600: run as root)"
done

# The debug kernel is several times slower (KASAN, lockdep): longer
# limits unless they are set explicitly.
if [ "$debug_kernel" = 1 ]; then
	boot_timeout=${NESTED_BOOT_TIMEOUT:-3600}
	test_timeout=${NESTED_TEST_TIMEOUT:-900}
fi

# A long fuzzer run: NESTED_FUZZ_SECS of fuzzing in one binary, unless
# the limits are set explicitly.
if [ -n "${NESTED_FUZZ_SECS:-}" ]; then
	[ -n "${NESTED_TEST_TIMEOUT:-}" ] ||
		test_timeout=$((test_timeout + 2 * NESTED_FUZZ_SECS))
	[ -n "${NESTED_BOOT_TIMEOUT:-}" ] ||
		boot_timeout=$((boot_timeout + 2 * NESTED_FUZZ_SECS))
fi

# ---- builds --------------------------------------------------------------
jobs=${NESTED_JOBS:-2}
# One output directory per selftests tree: object and dependency files of
# another copy of the tests must never be mixed in.
seldir=$build/selftests
if [ "$seltests" != "$top/tools/testing/selftests/xkvm" ]; then
	seldir=$build/selftests-$(printf '%s' "$seltests" | md5sum | cut -c1-8)
fi

echo "== building selftests ($seltests)"
[ -f "$seltests/Makefile" ] || die "no selftests at $seltests"
mkdir -p "$seldir"
if ! make -C "$seltests" -j"$jobs" OUTPUT="$seldir" > "$logs/build-selftests.log" 2>&1; then
	show_build_log "$logs/build-selftests.log"
	die "selftests build failed (log: $logs/build-selftests.log)"
fi
[ -s "$seldir/TESTS" ] || die "selftests build wrote no $seldir/TESTS"

# build_modules KVER: copy the source tree to build/src-KVER and make there.
declare -A mod_ok=()
build_modules()
{
	local kver=$1 dst=$build/src-$1 log=$logs/build-modules-$1.log m vm
	local kdir=${kbuilddir[$1]}

	echo "== building modules for $kver"
	if [ ! -f "$src/Makefile" ]; then
		echo "run.sh: no top-level Makefile in $src" >&2
		return 1
	fi
	if [ ! -d "$kdir" ]; then
		echo "run.sh: no $kdir (kernel headers or build tree missing)" >&2
		return 1
	fi
	mkdir -p "$dst"
	# Kbuild products are excluded, so they are neither copied nor deleted.
	# Changed files are found by content and get the current time (no -t),
	# so make rebuilds them even if the source's mtime is older.
	rsync -rlpD --checksum --delete --exclude=/build --exclude=/.git \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='.*.cmd' --exclude='.*.d' --exclude='*.a' --exclude='*.symvers' \
		--exclude=modules.order --exclude=.tmp_versions \
		"$src/" "$dst/"
	if ! make -C "$dst" -j"$jobs" KDIR="$kdir" > "$log" 2>&1; then
		show_build_log "$log"
		echo "run.sh: module build for $kver failed (log: $log)" >&2
		return 1
	fi
	for m in $(for vm in "${machines[@]}"; do
			(use_machine "$vm"; echo "${MACHINE_XKVM_MODULES[@]}")
		   done | tr ' ' '\n' | sort -u); do
		if [ ! -f "$dst/$m.ko" ]; then
			echo "run.sh: the build did not produce $m.ko (log: $log)" >&2
			return 1
		fi
		vm=$(modinfo -F vermagic "$dst/$m.ko" | cut -d' ' -f1)
		if [ "$vm" != "$kver" ]; then
			echo "run.sh: $m.ko has vermagic '$vm', expected '$kver'" >&2
			return 1
		fi
	done
	return 0
}

if [ "$mode" != reference ] || [ "$action" = bench ]; then
	for k in "${kernels[@]}"; do
		if build_modules "$k"; then
			mod_ok[$k]=1
		elif [ "$action" = tests ]; then
			total_fail=$((total_fail + 1))
			summary+=("$k/xkvm: module build FAILED")
		else
			die "module build failed"
		fi
	done
fi

# ---- initramfs -----------------------------------------------------------
# copy_module SRC DSTDIR: copy one module, decompressing .xz/.gz/.zst.
copy_module()
{
	local f=$1 base
	base=$(basename "$f")
	case $f in
	*.ko.xz) xz -dc "$f" > "$2/${base%.xz}" ;;
	*.ko.gz) gzip -dc "$f" > "$2/${base%.gz}" ;;
	*.ko.zst) zstd -qdc "$f" > "$2/${base%.zst}" ;;
	*) cp "$f" "$2/" ;;
	esac
	base=${base%.xz}; base=${base%.gz}; base=${base%.zst}
	echo "$base"
}

# stock_modules KVER MODULE: module files (relative to KVER's modules
# directory: the test kernel's, or /lib/modules/KVER for the L2 guest's
# kernel) to load for MODULE, dependencies first, as modules.dep lists them.
stock_modules()
{
	local line deps i
	line=$(grep -E "(^|/)$2\.ko(\.[a-z]+)?:" "${kmoddir[$1]:-/lib/modules/$1}/modules.dep" | head -n 1)
	[ -n "$line" ] || return 1
	read -r -a deps <<< "${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		echo "${deps[i]}"
	done
	echo "${line%%:*}"
}

# l2_kver KVER: the release of the Debian kernel that the VMM test boots
# as its L2 guest on test kernel KVER.
l2_kver()
{
	local v=${kl2[$1]##*/}
	echo "${v#vmlinuz-}"
}

# The modules the L2 /init loads when QEMU gives it virtio devices, for
# the real-devices boot: the virtio PCI transport, block and network
# drivers, and ext4 with crc32c (its soft dependency: metadata checksums).
# Those built into the L2 kernel (6.12: virtio, virtio_pci) are not in its
# modules.dep and are left out.
l2_modules=(virtio virtio_ring virtio_pci virtio_blk virtio_net crc32c_generic ext4)

# build_l2_disk: build/l2-disk.img, the L2 guest's virtio-blk disk: a 4 MiB
# ext4 file system (mke2fs -d) whose file "data" is 512 KiB of random bytes
# made now; their SHA-256 is build/l2-disk.img.sha256, which the test
# expects the L2 guest to print. QEMU opens the image at this host path:
# over virtio-9p, or in the copy of the host's files packed into the
# initramfs (pack_qemu_root).
build_l2_disk()
{
	local img=$build/l2-disk.img dir=$build/l2-disk
	[ -f "$img" ] && [ -s "$img.sha256" ] && [ "$img" -nt "$0" ] &&
		return 0
	rm -rf "$dir" "$img" "$img.sha256" "$img.tmp"
	mkdir -p "$dir" || return 1
	head -c 512K /dev/urandom > "$dir/data" || return 1
	truncate -s 4M "$img.tmp" || return 1
	PATH=$PATH:/usr/sbin:/sbin mke2fs -q -F -t ext4 -L xkvm-l2 -d "$dir" "$img.tmp" ||
		{ echo "run.sh: mke2fs failed for $img" >&2; return 1; }
	sha256sum < "$dir/data" | cut -d' ' -f1 > "$img.sha256" || return 1
	mv "$img.tmp" "$img"
}

# build_l2_initrd_for L2KVER: build/l2-initrd-L2KVER.gz, the initramfs of
# the second-level guest that the VMM test boots under QEMU: busybox, the
# modules of l2_modules for kernel L2KVER (lib/modules/*.ko, their load
# order in lib/modules/order) and an /init that prints the marker, CPUs
# and clock readings; if QEMU gave it virtio devices (the real-devices
# boot) it loads the modules, prints the SHA-256 of /data on the virtio
# disk, the virtio devices' MSI-X interrupts and the clocksource; then it
# powers off, or, with xkvm_wait on its command line (the boot benchmark
# reads the VM's statistics then), waits to be ended.
build_l2_initrd_for()
{
	local v=$1 root=$build/l2/$1 out=$build/l2-initrd-$1.gz f m
	[ -f "$out" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$here/l2/memcheck.c" ] &&
		return 0
	rm -rf "$root"
	mkdir -p "$root"/{bin,proc,sys,dev,mnt,lib/modules} || return 1
	cp /bin/busybox "$root/bin/busybox" || return 1
	# the migration test's guest program (vmm_migrate_test.sh)
	gcc -static -O2 -Wall -o "$root/bin/memcheck" "$here/l2/memcheck.c" || return 1
	for m in "${l2_modules[@]}"; do
		stock_modules "$v" "$m" || true
	done | awk '!seen[$0]++' | while read -r f; do
		copy_module "/lib/modules/$v/$f" "$root/lib/modules" || exit 1
	done > "$root/lib/modules/order" || return 1
	cat > "$root/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox

# The real-devices boot: virtio-blk and virtio-net (vendor 0x1af4).
l2_devices()
{
	local m d t n=0
	$B mount -t devtmpfs devtmpfs /dev
	for m in $($B cat /lib/modules/order); do
		$B insmod /lib/modules/$m || $B echo "L2-MODULE-FAIL $m"
	done
	while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do
		$B sleep 0.1
		n=$((n + 1))
	done
	if $B mount -t ext4 -o ro /dev/vda /mnt; then
		$B echo L2-DISK-SHA256 $($B sha256sum /mnt/data | $B cut -d" " -f1)
		$B umount /mnt
	fi
	# each virtio device: its MSI/MSI-X lines in /proc/interrupts (the
	# chip is "PCI-MSI" or "PCI-MSIX-<bdf>") and their interrupt total
	for d in /sys/bus/virtio/devices/virtio*; do
		case $($B cat $d/device 2>/dev/null) in
		0x0001) t=net ;;
		0x0002) t=blk ;;
		*) continue ;;
		esac
		$B echo L2-VIRTIO-MSIX $t $($B awk -v v="${d##*/}-" '
			/PCI-MSI/ && index($0, v) {
				n++
				for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) c += $i
			}
			END { print n + 0, c + 0 }' /proc/interrupts)
	done
	$B echo L2-CLOCKSOURCE $($B cat /sys/devices/system/clocksource/clocksource0/current_clocksource)
}

$B echo XKVM-L2-MARKER: the L2 guest ran its init
$B mount -t proc proc /proc
# xkvm_memcheck=<MiB> (vmm_migrate_test): memcheck is the guest's job
mc=$($B sed -n 's/.*xkvm_memcheck=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$mc" ] && exec /bin/memcheck "$mc"
$B echo L2-UPTIME $($B cat /proc/uptime)
$B echo L2-CPUS $($B grep -c ^processor /proc/cpuinfo)
u0=$($B cut -d" " -f1 /proc/uptime)
$B sleep 1
$B echo L2-TICKS $u0 $($B cut -d" " -f1 /proc/uptime)
$B mount -t sysfs sysfs /sys
$B grep -qs 0x1af4 /sys/bus/pci/devices/*/vendor && l2_devices
$B echo L2-END
$B grep -q xkvm_wait /proc/cmdline &&
	while :; do $B sleep 3600; done
$B poweroff -f
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$out.tmp" && mv "$out.tmp" "$out"
}

# build_l2_initrd: the L2 guest's disk and an initramfs for the L2 kernel
# of each test kernel.
build_l2_initrd()
{
	local k
	build_l2_disk || return 1
	for k in "${kernels[@]}"; do
		build_l2_initrd_for "$(l2_kver "$k")" || return 1
	done
}

# pack_9p_modules KVER DIR: the modules that mount the host's root over
# virtio-9p (those that are not built in), in load order, and DIR/order.
pack_9p_modules()
{
	local kver=$1 dir=$2 f
	mkdir -p "$dir"
	for m in virtio_pci 9pnet_virtio 9p; do
		stock_modules "$kver" "$m" || true
	done | awk '!seen[$0]++' | while read -r f; do
		copy_module "${kmoddir[$kver]}/$f" "$dir"
	done > "$dir/order"
}

# pack_qemu_root KVER DIR: what vmm_qemu_test.sh needs from the host, for
# a machine without virtio-9p: QEMU with its libraries and x86 firmware,
# timeout, the L2 kernel and the L2 guest's disk, at their host paths
# under DIR.
pack_qemu_root()
{
	local kver=$1 dir=$2 f
	for f in /usr/bin/qemu-system-x86_64 /usr/bin/timeout; do
		echo "$f"
		ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | sort -u | while read -r f; do
		mkdir -p "$dir$(dirname "$f")"
		cp -L "$f" "$dir$f"
	done
	mkdir -p "$dir/usr/share/qemu" "$dir/boot" "$dir/dev" "$dir/proc" \
		 "$dir/sys" "$dir/mnt" "$dir/tmp"
	cp -rL /usr/share/seabios "$dir/usr/share/"
	for f in kvmvapic.bin linuxboot.bin linuxboot_dma.bin pvh.bin; do
		cp -L "/usr/share/qemu/$f" "$dir/usr/share/qemu/"
	done
	mkdir -p "$dir$(dirname "${kl2[$kver]}")" "$dir$build"
	cp "${kl2[$kver]}" "$dir${kl2[$kver]}"
	cp "$build/l2-disk.img" "$dir$build/"
}

# build_initrd KVER: build/initramfs/<machine>-KVER.cpio.gz with busybox,
# /init, the tests and each module set available for KVER.
build_initrd()
{
	local kver=$1 root=$build/initramfs/$machine${machine_variant:+-$machine_variant}-$1 out t m f
	out=$root.cpio.gz
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,harness/tests}
	cp /bin/busybox "$root/bin/busybox"
	cp "$here/guest-init.sh" "$root/init"
	chmod 755 "$root/init"

	cp "$seldir/TESTS" "$root/harness/tests/"
	if { [ "$vmm_test" = 1 ] && [ "$MACHINE_VMM_TEST" = 1 ]; } ||
	   [ "$vmm_test" = all ]; then
		# The benchmark runs QEMU from the initramfs everywhere: reading
		# it over virtio-9p would make the host's load part of the
		# measured guest time.  9p stays for kvm_stat (python3).
		if [ "$MACHINE_VMM_TEST" = 1 ]; then
			pack_9p_modules "$kver" "$root/harness/9p"
		fi
		if [ "$MACHINE_VMM_TEST" != 1 ] || [ "$action" = bench ]; then
			pack_qemu_root "$kver" "$root/harness/qemuroot"
		fi
		cp "$here/vmm_lib.sh" "$root/harness/vmm_lib.sh"
		cp "$here/vmm_qemu_test.sh" "$root/harness/tests/vmm_qemu_test"
		cp "$here/vmm_migrate_test.sh" "$root/harness/tests/vmm_migrate_test"
		cp "$build/l2-initrd-$(l2_kver "$kver").gz" "$root/harness/l2-initrd.gz"
		printf '%s\n' vmm_qemu_test vmm_migrate_test >> "$root/harness/tests/TESTS"
	fi
	local only=$only_tests
	if [ -z "$only" ] && [ "$kver" = "$debug_kver" ] && [ -n "$MACHINE_DEBUG_TESTS" ]; then
		# The machine's subset for the debug kernel, less what this
		# tree does not have (yet).
		only=$(for t in $MACHINE_DEBUG_TESTS; do
			grep -qx -e "$t" "$root/harness/tests/TESTS" && echo "$t"
		done)
	fi
	if [ -z "$only" ] && [ -n "$MACHINE_OLDER_KERNEL_TESTS" ] &&
	   [ "$action" = tests ] && [ "$kver" != "$debug_kver" ] &&
	   [ "$kver" != "${kernels[${#kernels[@]} - 1]}" ]; then
		# A slow machine runs the binaries that meet kernel-version
		# dependent host code on the older kernels, all on the newest.
		only=$(for t in $MACHINE_OLDER_KERNEL_TESTS; do
			grep -qx -e "$t" "$root/harness/tests/TESTS" && echo "$t"
		done)
		echo "== $kver on $machine: the older-kernel subset (NESTED_TESTS or NESTED_KERNELS=<one kernel> to run all):" \
			$only
	fi
	if [ -z "$only" ] && [ -n "$MACHINE_DEFAULT_SKIP" ] && [ "$action" = tests ]; then
		# A slow machine runs a representative part by default.
		only=$(grep -vx -F "$(printf '%s\n' $MACHINE_DEFAULT_SKIP)" \
			"$root/harness/tests/TESTS")
		echo "== left out on $machine by default (NESTED_TESTS to run them):" \
			$MACHINE_DEFAULT_SKIP
	fi
	if [ -n "$only" ]; then
		for t in $only; do
			grep -qx -e "$t" "$root/harness/tests/TESTS" ||
				die "NESTED_TESTS: no test binary '$t'"
			echo "$t"
		done > "$root/harness/tests/TESTS.only"
		mv "$root/harness/tests/TESTS.only" "$root/harness/tests/TESTS"
	fi
	run_list=$root.tests
	cp "$root/harness/tests/TESTS" "$run_list"
	vmm_env=(XKVM_L2_KERNEL="${kl2[$kver]}" XKVM_HOST_TOOLS="$here" \
		 XKVM_L2_INITRD=/harness/l2-initrd.gz XKVM_9P_MODULES=/harness/9p \
		 XKVM_L2_DISK="$build/l2-disk.img")
	if [ -s "$build/l2-disk.img.sha256" ]; then
		vmm_env+=(XKVM_L2_DISK_SHA256="$(cat "$build/l2-disk.img.sha256")")
	fi
	[ -f "$build/kvm_stat" ] && vmm_env+=(XKVM_KVM_STAT="$build/kvm_stat")
	# The L2 guest boots several times slower on the debug kernel: it
	# gets most of the binary's time limit instead of 240 s.
	[ -n "${NESTED_QEMU_CONFIGS:-}" ] &&
		vmm_env+=(XKVM_QEMU_CONFIGS="$NESTED_QEMU_CONFIGS")
	if [ -n "${NESTED_QEMU_TIMEOUT:-}" ]; then
		vmm_env+=(XKVM_QEMU_TIMEOUT="$NESTED_QEMU_TIMEOUT")
	elif [ "$kver" = "$debug_kver" ]; then
		vmm_env+=(XKVM_QEMU_TIMEOUT=$((test_timeout * 4 / 5)))
	fi
	# NESTED_FUZZ_<X> reaches the tests as XKVM_FUZZ_<X> (fuzz_test).
	local fuzz_env=() v
	for v in $(compgen -v NESTED_FUZZ_); do
		fuzz_env+=("XKVM_FUZZ_${v#NESTED_FUZZ_}=${!v}")
	done
	for t in $(cat "$seldir/TESTS") demo exit_bench dirty_bench shadow_bench qmp_stats; do
		[ -f "$seldir/$t" ] || continue
		if readelf -l "$seldir/$t" 2>/dev/null | grep -q 'program interpreter'; then
			echo "run.sh: warning: $t is not statically linked" >&2
		fi
		cp "$seldir/$t" "$root/harness/tests/"
	done

	if [ -n "${mod_ok[$kver]:-}" ]; then
		mkdir -p "$root/harness/xkvm"
		for m in "${MACHINE_XKVM_MODULES[@]}"; do
			copy_module "$build/src-$kver/$m.ko" "$root/harness/xkvm" || return 1
		done > "$root/harness/xkvm/modules"
		echo "${NESTED_XKVM_PARAMS:-}" > "$root/harness/xkvm/params"
		echo "${NESTED_VENDOR_PARAMS:-$MACHINE_VENDOR_PARAMS}" > "$root/harness/xkvm/vendor_params"
		printf '%s\n' "${MACHINE_XKVM_UNLOAD[@]}" > "$root/harness/xkvm/unload"
		printf '%s\n' XKVM_DEV=/dev/xkvm XKVM_MODE=xkvm XKVM_CORE_MODULE=xkvm \
			"XKVM_VENDOR_MODULE=$MACHINE_XKVM_VENDOR" "XKVM_MACHINE=$machine" \
			"${vmm_env[@]}" "${fuzz_env[@]}" > "$root/harness/xkvm/env"
	fi

	mkdir -p "$root/harness/reference"
	m=$(stock_modules "$kver" "$MACHINE_STOCK_MODULE") ||
		{ echo "run.sh: $MACHINE_STOCK_MODULE not in modules.dep of $kver" >&2; return 1; }
	for f in $m; do
		copy_module "${kmoddir[$kver]}/$f" "$root/harness/reference" || return 1
	done > "$root/harness/reference/modules"
	printf '%s\n' "${MACHINE_STOCK_UNLOAD[@]}" > "$root/harness/reference/unload"
	echo "${NESTED_VENDOR_PARAMS:-$MACHINE_VENDOR_PARAMS}" > "$root/harness/reference/vendor_params"
	printf '%s\n' XKVM_DEV=/dev/kvm XKVM_MODE=reference XKVM_CORE_MODULE=kvm \
		"XKVM_VENDOR_MODULE=$MACHINE_STOCK_VENDOR" "XKVM_MACHINE=$machine" \
		"${vmm_env[@]}" "${fuzz_env[@]}" > "$root/harness/reference/env"

	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$out"
}

# ---- boot + parse --------------------------------------------------------
# The per-binary limit on this machine: a slow one (MACHINE_TIME_FACTOR,
# e.g. the shadow-paging variant) gets its multiple of the limits.
machine_test_timeout()
{
	echo $((test_timeout * ${MACHINE_TIME_FACTOR:-1}))
}

declare -A initrd_done=()
# boot JOB KVER TAG BENCH: boot once; sets boot_rc, boot_secs, boot_log.
boot()
{
	local job=$1 kver=$2 tag=$3 bench=$4 initrd t0
	# a variant has its own (its MACHINE_DEFAULT_SKIP may differ)
	initrd=$build/initramfs/$machine${machine_variant:+-$machine_variant}-$kver.cpio.gz
	if [ -z "${initrd_done[${machine_variant:-}/$kver]:-}" ]; then
		build_initrd "$kver" || return 1
		initrd_done[${machine_variant:-}/$kver]=1
	fi
	boot_log=$logs/$machine${machine_variant:+-$machine_variant}-$kver-$tag.log
	rm -f "$boot_log" "$boot_log.emu"
	t0=$SECONDS
	boot_rc=0
	machine_boot "${kimage[$kver]}" "$initrd" \
		"xkvm_harness=$job xkvm_test_timeout=$(machine_test_timeout)${kcmdline[$kver]:+ ${kcmdline[$kver]}}" \
		"$boot_log" "$((boot_timeout * ${MACHINE_TIME_FACTOR:-1}))" "$bench" || boot_rc=$?
	boot_secs=$((SECONDS - t0))
	[ -f "$boot_log" ] || : > "$boot_log"
}

# parse_tests LOG PREFIX BOOT_RC COUNTS [MODE]: print the TAP of each
# binary with PREFIX, count test cases; write "passed failed skipped" to
# COUNTS. With MODE (xkvm or reference), the machine's MACHINE_EXPECT_<MODE>
# must match a console line and MACHINE_REFUSE_<MODE> none, or the boot
# fails.
parse_tests()
{
	local e r expect='' refuse=''
	if [ -n "${5:-}" ]; then
		e=MACHINE_EXPECT_${5^^} r=MACHINE_REFUSE_${5^^}
		expect=${!e:-} refuse=${!r:-}
	fi
	# passed in the environment: awk -v would take backslashes as escapes
	XH_EXPECT=$expect XH_REFUSE=$refuse XH_VARIANT=$machine${machine_variant:+-$machine_variant} \
	awk -v pfx="$2" -v bootrc="$3" -v counts="$4" -v testsfile="$run_list" \
	    -v tmo="$(machine_test_timeout)" '
	function fail(msg) { f++; print pfx "HARNESS FAIL: " msg }
	function leak_object() {
		if (obj != "" && objmod != "") { nleak++; if (leakline == "") leakline = obj " from " objmod }
		obj = ""
	}
	function finish(rc, secs,    n) {
		n = ""
		if (bail) { f++; n = n " bailed-out" }
		if (plan > res) { f += plan - res; n = n " " plan - res " result(s) missing" }
		if (res == 0 && !skipplan && plan <= res) { f++; n = n " no TAP results" }
		else if (rc != 0 && bf == 0 && plan <= res && !(skipplan && rc == 4)) { f++; n = n " non-zero exit" }
		if (rc == 137) n = n " (killed after " tmo " s timeout)"
		if (res == 0 && skipplan) s++
		print pfx "# ---- " cur ": exit " rc (secs != "" ? " after " secs " s of guest time" : "") (n != "" ? ", FAIL:" n : "")
	}
	BEGIN {
		while ((getline t < testsfile) > 0) if (t != "") order[++ntests] = t
		splat = "(Oops|BUG:|kernel BUG at|general protection fault|Kernel panic|WARNING: CPU:|Call Trace:|UBSAN:|soft lockup|blocked for more than|rcu: INFO:)"
		# The checkers of the debug kernel: lockdep and RCU-lockdep reports
		# ("WARNING: possible circular locking dependency detected",
		# "WARNING: inconsistent lock state", "WARNING: suspicious RCU
		# usage", ...: a WARNING: heading at the start of a message) and
		# kmemleak giving up. KASAN, might_sleep, DEBUG_PREEMPT and
		# workqueue lockups say "BUG:", UBSAN "UBSAN:".
		splat = splat "|(^|\\] )WARNING: |INFO: trying to register non-static key|kmemleak: (Kernel memory leak detector disabled|Memory pool empty|Cannot )"
		# kmemleak: only objects with xkvm or KVM code in their allocation
		# backtrace count; the others belong to the kernel itself (boot-time
		# false positives), counted and shown as a note. A frame without a
		# symbol is code of a module unloaded before the scan: only the
		# modules under test are ever unloaded.
		leakmods = "(\\[(xkvm|xkvm_amd|xkvm_intel|kvm|kvm_amd|kvm_intel|irqbypass)\\] *$|^ *\\[<[0-9a-f]+>\\] 0x[0-9a-f]+ *$)"
		# what shows that the machine (variant) is what it claims
		expect = ENVIRON["XH_EXPECT"]; refuse = ENVIRON["XH_REFUSE"]
	}
	{ gsub(/\r/, "") }
	expect != "" && !expected && $0 ~ expect { expected = 1 }
	refuse != "" && refused == "" && $0 ~ refuse { refused = $0 }
	/^@@XH BEGIN / { begun = 1; next }
	/^@@XH MODLOAD-FAIL / { modfail = substr($0, 19); next }
	/^@@XH UNLOAD-FAIL / { fail("module unload failed (a leaked reference?): " substr($0, 18)); next }
	/^@@XH END$/ { ended = 1; next }
	/^@@XH DMESG-BEGIN/ { indmesg = 1 }
	/^@@XH DMESG-END/ { indmesg = 0 }
	/^@@XH KMEMLEAK-FAIL / { fail("kmemleak: " substr($0, 20)); next }
	/^@@XH KMEMLEAK-BEGIN/ { inleak = 1; next }
	/^@@XH KMEMLEAK-END/ { leak_object(); inleak = 0; next }
	inleak {
		if ($0 ~ /^unreferenced object /) { leak_object(); obj = $0; objmod = ""; nobj++ }
		else if (obj != "" && objmod == "" && $0 ~ leakmods) { objmod = $0; sub(/^ *\[<[0-9a-f]+>\] */, "", objmod) }
		next
	}
	/^@@XH TEST-BEGIN / {
		cur = $4; inb = 1; started[cur] = 1
		plan = -1; res = 0; bf = 0; bail = 0; skipplan = 0
		print pfx "# ---- " cur
		next
	}
	/^@@XH TEST-END / {
		finish(substr($5, 4) + 0, $6 ~ /^guest_secs=/ ? substr($6, 12) : ""); inb = 0; cur = ""
		next
	}
	# A report while the kernel boots, before /init loaded anything,
	# comes from the test kernel or the emulator: shown, not counted.
	!begun { if ($0 ~ splat && bootsplat == "") bootsplat = $0; next }
	!inb { if ($0 ~ splat && splatline == "") splatline = $0; next }
	{ print pfx $0 }
	/^\[ *[0-9]+\.[0-9]+\]/ {	# a kernel message, not test output
		if ($0 ~ splat && splatline == "") splatline = $0
		next
	}
	/^ok [0-9]+/ {
		res++
		if (toupper($0) ~ /# *SKIP/) s++; else p++
		next
	}
	/^not ok [0-9]+/ {
		res++
		if (toupper($0) ~ /# *SKIP/) s++; else { f++; bf++ }
		next
	}
	/^1\.\.[0-9]+/ {
		plan = substr($1, 4) + 0
		if (plan == 0 && toupper($0) ~ /SKIP/) skipplan = 1
		next
	}
	/^Bail out!/ { bail = 1 }
	END {
		if (inb) fail("binary " cur " did not finish (guest crash, panic or hang)")
		if (!begun) fail("the guest never reached /init")
		if (modfail != "") fail("module load failed: " modfail)
		else if (begun)
			for (i = 1; i <= ntests; i++)
				if (!(order[i] in started) && !inb)
					fail("binary " order[i] " was not run")
		if (refused != "")
			fail(ENVIRON["XH_VARIANT"] ": the console shows \"" refused "\", which must not appear here (/" refuse "/)")
		else if (expect != "" && !expected && ended && modfail == "")
			fail(ENVIRON["XH_VARIANT"] ": no console line matches /" expect "/")
		if (bootsplat != "") print pfx "# note: kernel report during boot, before /init (not counted): " bootsplat
		if (splatline != "") fail("kernel oops/warning in the console log: " splatline)
		if (nleak) fail("kmemleak: " nleak " unreferenced object(s) allocated through xkvm/KVM code, first: " leakline)
		if (nobj > nleak) print pfx "# kmemleak: " nobj - nleak " unreferenced object(s) of the kernel itself, not counted"
		if (bootrc == 124 || bootrc == 137) fail("boot timed out")
		else if (!ended && !inb && begun) fail("the guest did not finish")
		else if (bootrc != 0) fail("emulator exit status " bootrc)
		print p + 0, f + 0, s + 0 > counts
	}' "$1"
}

# ---- actions -------------------------------------------------------------
# boot_tests TAG KVER MODE: one test boot of the current machine (or
# variant), its TAP shown and counted under TAG.
boot_tests()
{
	local tag=$1 k=$2 m=$3 p f s cnt=$build/.counts-$machine
	echo
	echo "==== $tag"
	if ! boot "tests:$m" "$k" "$m" 0; then
		total_fail=$((total_fail + 1))
		summary+=("$tag: initramfs build FAILED")
		return
	fi
	parse_tests "$boot_log" "[$tag] " "$boot_rc" "$cnt" "$m"
	read -r p f s < "$cnt"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary+=("$tag: $p passed, $f failed, $s skipped (boot ${boot_secs} s)")
	echo "==== $tag: $p passed, $f failed, $s skipped; boot took ${boot_secs} s; log $boot_log"
	if [ "$f" -gt 0 ]; then
		show_console "$boot_log"
	fi
}

# boot_kernels NAME KVER...: boot_tests on each KVER in every mode of the
# run, tagged NAME/<kernel>/<mode>, but for the modes the machine leaves
# out there (ref_last_only, MACHINE_DEBUG_MODES).
boot_kernels()
{
	local name=$1 k m
	shift
	for k in "$@"; do
		for m in "${modes[@]}"; do
			if [ "$m" = xkvm ] && [ -z "${mod_ok[$k]:-}" ]; then
				continue	# build failure already counted
			fi
			if [ "$m" = reference ] && [ "$k" != "$last" ] &&
			   [ "$ref_last_only" = 1 ]; then
				continue
			fi
			if [ "$k" = "$debug_kver" ] && [ -z "$mode_given" ] &&
			   [ -n "$MACHINE_DEBUG_MODES" ] &&
			   [[ " $MACHINE_DEBUG_MODES " != *" $m "* ]]; then
				echo "== $m mode not run on the debug kernel here (--mode $m to run it)"
				continue
			fi
			boot_tests "$name/$k/$m" "$k" "$m"
		done
	done
}

# variant_plan: "VARIANT KVER..." lines, the variants of the current
# machine to boot after its regular boots and their kernels: by default
# its MACHINE_VARIANTS on the newest kernel of the run other than the
# debug kernel; those NESTED_VARIANTS names that it has on every kernel.
variant_plan()
{
	local v newest
	if [ -n "$variants_given" ]; then
		for v in "${variant_args[@]}"; do
			if [[ " $MACHINE_VARIANTS $MACHINE_VARIANTS_ON_REQUEST " == *" $v "* ]]; then
				echo "$v ${kernels[*]}"
			else
				echo "== machine $machine has no variant '$v' (its variants: ${MACHINE_VARIANTS:-none}; on request: ${MACHINE_VARIANTS_ON_REQUEST:-none})" >&2
			fi
		done
		return
	fi
	newest=$(printf '%s\n' "${kernels[@]}" | grep -vxF -e "${debug_kver:-/}" |
		sort -V | tail -n 1) || true
	[ -n "$newest" ] || return 0
	for v in $MACHINE_VARIANTS; do
		echo "$v $newest"
	done
}

run_machine_tests()
{
	local last=${kernels[${#kernels[@]} - 1]} ref_last_only=0 line v vk plan=()
	echo "== machine $machine: $MACHINE_DESC"
	echo "== kernels: ${kernels[*]}; modes: ${modes[*]}"
	if [ "${MACHINE_REFERENCE_NEWEST_ONLY:-0}" = 1 ] && [ -z "$mode_given" ] &&
	   [ ${#kernels[@]} -gt 1 ]; then
		ref_last_only=1
		echo "== reference mode on $last only (--mode both for every kernel)"
	fi
	if [ "${NESTED_VARIANTS_ONLY:-0}" = 1 ]; then
		echo "== regular boots left out (NESTED_VARIANTS_ONLY=1)"
	else
		boot_kernels "$machine" "${kernels[@]}"
	fi

	# The variants, one after the other in this stream (one emulator).
	mapfile -t plan < <(variant_plan)
	for line in "${plan[@]}"; do
		read -r v vk <<< "$line"
		use_machine "$machine" "$v"
		echo
		echo "== machine $machine-$v: $MACHINE_DESC"
		echo "== kernels: $vk; modes: ${modes[*]}"
		# shellcheck disable=SC2086 # the kernels are words
		boot_kernels "$machine-$v" $vk
	done
	use_machine "$machine"
}

# run_one_machine M: M's boots, in a subshell; totals and summary lines
# go to files.
run_one_machine()
(
	use_machine "$1"
	total_pass=0 total_fail=0 total_skip=0 summary=()
	run_machine_tests
	echo "$total_pass $total_fail $total_skip" > "$build/.totals-$1"
	printf '%s\n' "${summary[@]}" > "$build/.summary-$1"
)

# run_tests: every machine's boots, the machines in parallel (one emulator
# process each); totals and summary lines come back through files.
run_tests()
{
	local m i pids=() p f s
	if [ "$vmm_test" != 0 ]; then
		build_l2_initrd || die "cannot build the VMM test's L2 initramfs and disk"
	fi
	for m in "${machines[@]}"; do
		rm -f "$build/.totals-$m" "$build/.summary-$m"
	done
	for ((i = 0; i < ${#machines[@]}; i++)); do
		m=${machines[i]}
		# The first machine writes to this stdout as it goes (on the
		# same open file: reopening /dev/stdout would truncate a log
		# file), the others to files shown when they end.
		if [ "$i" -gt 0 ]; then
			run_one_machine "$m" > "$logs/run-$m.out" 2>&1 &
		else
			run_one_machine "$m" 2>&1 &
		fi
		pids+=($!)
	done
	for ((i = 0; i < ${#machines[@]}; i++)); do
		m=${machines[i]}
		wait "${pids[i]}" || true
		[ "$i" -gt 0 ] && cat "$logs/run-$m.out"
		if [ ! -s "$build/.totals-$m" ]; then
			total_fail=$((total_fail + 1))
			summary+=("$m: the test run ended early")
			continue
		fi
		read -r p f s < "$build/.totals-$m"
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		total_skip=$((total_skip + s))
		mapfile -t -O "${#summary[@]}" summary < "$build/.summary-$m"
	done
}

# block LOG SET NAME: the output of one binary in LOG.
block()
{
	awk -v set="$2" -v name="$3" '
	{ gsub(/\r/, "") }
	$0 == "@@XH TEST-BEGIN " set " " name { on = 1; next }
	on && index($0, "@@XH TEST-END " set " " name " ") == 1 { print; exit }
	on' "$1"
}

run_demo()
{
	local k=${kernels[0]} set=${modes[0]} out rc
	[ -f "$seldir/demo" ] || die "the selftests did not build a 'demo' program"
	echo "== demo: machine $machine ($MACHINE_DESC), kernel $k, $set modules"
	boot "demo:$set" "$k" "demo-$set" 0 || die "initramfs build failed"
	out=$(block "$boot_log" "$set" demo)
	grep '^@@XH MODLOAD' "$boot_log" | tr -d '\r' | sed 's/^@@XH /   /'
	printf '%s\n' "$out" | sed '$d'
	rc=$(printf '%s\n' "$out" | sed -n '$s/.* rc=\([0-9]*\).*/\1/p')
	echo "== demo exit status ${rc:-none}; boot took ${boot_secs} s; log $boot_log"
	if [ "${rc:-1}" != 0 ] || [ "$boot_rc" != 0 ]; then
		show_console "$boot_log"
		return 1
	fi
}

# The kernel's kvm_stat (from linux-source-6.1), which the boot benchmark
# runs with -d where the machine has the host's root (python3).
fetch_kvm_stat()
{
	local t=/usr/src/linux-source-6.1.tar.xz
	[ -f "$build/kvm_stat" ] || [ ! -f "$t" ] && return 0
	tar -xJOf "$t" linux-source-6.1/tools/kvm/kvm_stat/kvm_stat \
		> "$build/kvm_stat.tmp" 2>/dev/null &&
		mv "$build/kvm_stat.tmp" "$build/kvm_stat"
	rm -f "$build/kvm_stat.tmp"
}

run_bench()
{
	local k=${kernels[0]} rc=0 set
	[ -f "$seldir/exit_bench" ] || die "the selftests did not build 'exit_bench'"
	[ -f "$seldir/dirty_bench" ] || die "the selftests did not build 'dirty_bench'"
	[ -f "$seldir/shadow_bench" ] || die "the selftests did not build 'shadow_bench'"
	echo "== bench: machine $machine ($MACHINE_DESC), kernel $k, guest time counting instructions"
	fetch_kvm_stat
	[ "$vmm_test" = 0 ] || build_l2_initrd ||
		die "cannot build the VMM test's L2 initramfs and disk"
	boot bench "$k" bench 1 || die "initramfs build failed"
	for set in xkvm reference; do
		echo "-- exit_bench on $set"
		block "$boot_log" "$set" exit_bench | sed 's/^@@XH //;s/^/   /'
		echo "-- dirty_bench on $set"
		block "$boot_log" "$set" dirty_bench | sed 's/^@@XH //;s/^/   /'
		echo "-- boot benchmark on $set"
		block "$boot_log" "$set" vmm_qemu_test | grep -v '^stat \|^kvm_stat ' |
			sed 's/^@@XH //;s/^/   /' | tail -n 8
		echo "-- migration benchmark on $set"
		block "$boot_log" "$set" vmm_migrate_test | sed 's/^@@XH //;s/^/   /' |
			grep -v '^   #' | tail -n 6
		# AMD-V only: guest-init.sh reloads the vendor module with npt=0
		[[ $MACHINE_XKVM_VENDOR == *_amd ]] || continue
		echo "-- shadow_bench on $set (vendor module reloaded with npt=0)"
		block "$boot_log" "$set" shadow_bench | sed 's/^@@XH //;s/^/   /'
	done
	# Guest time counts instructions in bench mode: a TSC tick is
	# ips / (tsc_khz * 1000) emulated instructions, a second of guest
	# time ips instructions.
	awk -v ips="$MACHINE_BENCH_IPS" -v machine="$machine" '
	{ gsub(/\r/, "") }
	/^@@XH TEST-BEGIN / { set = $3; next }
	/^@@XH TEST-END / { set = ""; next }
	set != "" && $1 == "bench-tsc-khz" { khz[set] = $2 }
	set != "" && $1 == "bench" && NF == 3 && $3 ~ /^[0-9.]+$/ {
		if (!($2 in seen)) { seen[$2] = 1; names[++n] = $2 }
		v[set, $2] = $3
	}
	set != "" && $1 == "bench-boot" { boot[set] = $2 }
	set != "" && $1 == "bench-l2-uptime" { l2up[set] = $2 }
	set != "" && $1 == "bench-migrate" && NF == 6 {
		if (!($2 in mseen)) { mseen[$2] = 1; mnames[++nm] = $2 }
		mtot[set, $2] = $4; mdown[set, $2] = $6
	}
	set != "" && $1 == "stat" && $2 == "vcpu0" {
		if (!(($3) in sseen)) { sseen[$3] = 1; snames[++ns] = $3 }
		st[set, $3] = $4
	}
	set != "" && $1 == "stat" && $2 == "vm" {
		if (!(($3) in vseen)) { vseen[$3] = 1; vnames[++nv] = $3 }
		vst[set, $3] = $4
	}
	set != "" && $1 == "kvm_stat" && NF == 4 {
		ksfields[set]++
		if ($2 == "exits") ksexits[set] = $3
	}
	function insns(set, name) {
		if (v[set, name] == "" || !khz[set]) return ""
		return sprintf("%.0f", v[set, name] * ips / (khz[set] * 1000))
	}
	function row(name, x, r) {
		if (x == "" || r == "" || r == 0)
			printf "%-24s %16s %16s %10s\n", name, x == "" ? "-" : x, r == "" ? "-" : r, "-"
		else
			printf "%-24s %16s %16s %10.3f\n", name, x, r, x / r
	}
	END {
		printf "\n%s: emulated instructions per round trip (dirty_*: per round, entry or write;\n", machine
		printf "shadow_*: per page, CR3 switch or PTE update, both hypervisors on npt=0)\n"
		printf "(guest TSC ticks x %s instr/s / TSC kHz);\n", ips
		printf "the L1 kernel, xkvm or stock KVM and the L2 guest all count: not host cycles\n"
		printf "%-24s %16s %16s %10s\n", "benchmark", "xkvm instr", "KVM instr", "xkvm/KVM"
		bad = (n == 0)
		for (i = 1; i <= n; i++) {
			x = insns("xkvm", names[i]); r = insns("reference", names[i])
			if (x == "" || r == "" || r == 0) bad = 1
			row(names[i], x, r)
		}
		if (nm) {
			printf "\n%s: QEMU live migration of a 64 MiB memory-checking guest (kernel-irqchip=off,\n", machine
			printf "1 vCPU, on both): QEMU'"'"'s total time and downtime in emulated instructions (ms x %s / 1000)\n", ips
			printf "%-24s %16s %16s %10s\n", "migration", "xkvm", "KVM", "xkvm/KVM"
		}
		for (i = 1; i <= nm; i++) {
			x = mtot["xkvm", mnames[i]]; r = mtot["reference", mnames[i]]
			row("migrate_" mnames[i] "_total", x == "" ? "" : sprintf("%.0f", x * ips / 1000),
			    r == "" ? "" : sprintf("%.0f", r * ips / 1000))
			x = mdown["xkvm", mnames[i]]; r = mdown["reference", mnames[i]]
			row("migrate_" mnames[i] "_downtime", x == "" ? "" : sprintf("%.0f", x * ips / 1000),
			    r == "" ? "" : sprintf("%.0f", r * ips / 1000))
		}
		if (boot["xkvm"] == "" && boot["reference"] == "")
			exit bad
		printf "\n%s: QEMU (kernel-irqchip=off) boots Linux to its init: emulated instructions\n", machine
		printf "of the test machine from QEMU start to the marker (guest seconds x %s)\n", ips
		printf "%-24s %16s %16s %10s\n", "boot", "xkvm", "KVM", "xkvm/KVM"
		row("boot_to_marker", boot["xkvm"] == "" ? "" : sprintf("%.0f", boot["xkvm"] * ips),
		    boot["reference"] == "" ? "" : sprintf("%.0f", boot["reference"] * ips))
		row("l2_uptime_at_marker", l2up["xkvm"] == "" ? "" : sprintf("%.0f", l2up["xkvm"] * ips),
		    l2up["reference"] == "" ? "" : sprintf("%.0f", l2up["reference"] * ips))
		if (boot["xkvm"] == "" || boot["reference"] == "") bad = 1
		printf "\nstatistics of the L2 vCPU at the marker (KVM_GET_STATS_FD, KVM names both have)\n"
		printf "%-24s %16s %16s %10s\n", "statistic", "xkvm", "KVM", "xkvm/KVM"
		for (i = 1; i <= ns; i++)
			if ((("reference", snames[i]) in st) && (("xkvm", snames[i]) in st))
				row(snames[i], st["xkvm", snames[i]], st["reference", snames[i]])
		printf "\nstatistics of the VM at the marker\n"
		for (i = 1; i <= nv; i++)
			if ((("reference", vnames[i]) in vst) && (("xkvm", vnames[i]) in vst))
				row(vnames[i], vst["xkvm", vnames[i]], vst["reference", vnames[i]])
		if (ksfields["xkvm"] || ksfields["reference"])
			printf "\nkvm_stat -d -1 (debugfs, the second after the marker): xkvm %d fields, exits %s; KVM %d fields, exits %s\n",
			    ksfields["xkvm"], ksexits["xkvm"] == "" ? "-" : ksexits["xkvm"],
			    ksfields["reference"], ksexits["reference"] == "" ? "-" : ksexits["reference"]
		printf "\nxkvm: VM exits of the boot by kind\n"
		for (i = 1; i <= ns; i++)
			if (snames[i] ~ /^exits_/ && st["xkvm", snames[i]] > 0)
				printf "%-24s %16s\n", snames[i], st["xkvm", snames[i]]
		exit bad
	}' "$boot_log" || rc=1
	echo "== boot took ${boot_secs} s; log $boot_log"
	if [ $rc != 0 ] || [ "$boot_rc" != 0 ]; then
		echo "run.sh: benchmark incomplete" >&2
		show_console "$boot_log"
		return 1
	fi
}

case $action in
tests) run_tests; final ;;
demo) run_demo ;;
bench)
	rc=0
	for m in "${machines[@]}"; do
		use_machine "$m"
		run_bench || rc=1
	done
	exit $rc ;;
esac
