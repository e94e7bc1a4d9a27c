#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-init.sh - /init of the nested harness' initramfs (busybox sh). Runs
# inside the emulated machine: mounts proc/sys/devtmpfs, loads one set of
# modules, runs test binaries with a timeout each, prints their output
# between "@@XH" marker lines that run.sh parses, dumps dmesg and powers
# off. It never decides pass/fail: the host does.
#
# Initramfs layout (written by run.sh):
#   /harness/<set>/modules  module files of <set> to insmod, in order
#   /harness/<set>/params   parameters for xkvm.ko (NESTED_XKVM_PARAMS)
#   /harness/<set>/vendor_params  parameters for the vendor module
#                           (NESTED_VENDOR_PARAMS)
#   /harness/<set>/unload   module names to rmmod, in order
#   /harness/<set>/env      KEY=VALUE lines exported to the tests
#   /harness/<set>/*.ko     the modules
#   /harness/tests/         test binaries, TESTS (the list to run)
# <set> is "xkvm" or "reference". The job comes from the kernel command
# line: xkvm_harness=tests:<set> | demo:<set> | bench, and the per-binary
# timeout from xkvm_test_timeout=<seconds>.

/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
ln -sf /proc/self/fd /dev/fd
cd /

H=/harness
job=
tmo=300
for w in $(cat /proc/cmdline); do
	case $w in
	xkvm_harness=*) job=${w#*=} ;;
	xkvm_test_timeout=*) tmo=${w#*=} ;;
	esac
done

say() { echo "@@XH $*"; }

# say_params SET MODULE: MODULE's parameters as it runs with them (npt=N ...)
say_params()
{
	say "PARAMS $1 $2 $(grep -Hs . /sys/module/"$2"/parameters/* |
		sed 's|^/sys/module/[^/]*/parameters/||;s/:/=/' | tr '\n' ' ')"
}

# load_set SET: insmod the modules of SET, then check its device node.
load_set()
{
	local set=$1 f dev args vm
	while read -r f; do
		[ -n "$f" ] || continue
		args=
		[ "$f" = xkvm.ko ] && args=$(cat "$H/$set/params" 2>/dev/null)
		case "$f" in
		*-intel.ko|*-amd.ko|*_intel.ko|*_amd.ko)
			args=$(cat "$H/$set/vendor_params" 2>/dev/null) ;;
		esac
		# shellcheck disable=SC2086 # the parameters are words
		if ! insmod "$H/$set/$f" $args; then
			say "MODLOAD-FAIL $set $f"
			return 1
		fi
		say "MODLOAD-OK $set $f"
	done < "$H/$set/modules"
	dev=$(sed -n 's/^XKVM_DEV=//p' "$H/$set/env")
	if [ ! -c "$dev" ]; then
		say "MODLOAD-FAIL $set no character device $dev"
		return 1
	fi
	# the vendor module's parameters as it runs with them (e.g. npt=N)
	vm=$(sed -n 's/^XKVM_VENDOR_MODULE=//p' "$H/$set/env")
	say_params "$set" "$vm"
	return 0
}

# unload_set SET: rmmod the modules of SET. A module still in use gets a
# few seconds (a killed test's fds close as it exits) before UNLOAD-FAIL,
# which run.sh counts as a failure: something leaked a reference.
unload_set()
{
	local set=$1 m n
	for m in $(cat "$H/$set/unload"); do
		n=0
		while ! rmmod "$m" 2>/dev/null; do
			n=$((n + 1))
			if [ "$n" -ge 5 ]; then
				rmmod "$m"
				say "UNLOAD-FAIL $set $m refcnt=$(cat "/sys/module/$m/refcnt" 2>/dev/null)"
				return 1
			fi
			sleep 1
		done
	done
	say "UNLOAD-OK $set"
}

# uart_tx: bytes the console UART has sent so far.
uart_tx()
{
	sed -n 's/^0:.* tx:\([0-9]*\).*/\1/p' /proc/tty/driver/serial 2>/dev/null
}

# uart_drain: wait (at most about 60 s) until the console UART has sent
# everything queued for it. Bochs sends at the line's baud rate in guest
# time; kernel messages bypass that queue and would cut into it.
uart_drain()
{
	local a b n=0
	b=$(uart_tx)
	while [ "$n" -lt 300 ]; do
		sleep 0.2
		a=$b
		b=$(uart_tx)
		[ -n "$b" ] && [ "$a" = "$b" ] && return 0
		n=$((n + 1))
	done
}

# run_bin SET NAME: run one binary with SET's environment and a timeout.
# Output goes to a file first, and is printed with kernel messages kept
# off the console (they stay in the log, dumped at the end), so they
# cannot split TAP lines.
run_bin()
{
	local set=$1 name=$2 rc lvl t0 t1
	say "TEST-BEGIN $set $name"
	# Kernel messages of the test must not cut into that line.
	uart_drain
	t0=$(cut -d' ' -f1 /proc/uptime)
	(
		while read -r kv; do
			[ -n "$kv" ] && export "$kv"
		done < "$H/$set/env"
		cd /tmp
		# the VMM tests size their own waits from the binary's limit
		export XKVM_TEST_TIMEOUT="$tmo"
		exec timeout -s KILL "$tmo" "$H/tests/$name"
	) > /tmp/test.out 2>&1 < /dev/null
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	lvl=$(cut -f1 /proc/sys/kernel/printk)
	dmesg -n 1
	cat /tmp/test.out
	say "TEST-END $set $name rc=$rc guest_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
	uart_drain
	dmesg -n "$lvl"
}

# bench_shadow SET (the bench job): on an AMD-V machine only (xkvm-intel
# has no shadow mode), SET's vendor module again with npt=0, the rest of
# SET staying loaded, and shadow_bench on it, which refuses to run unless
# the module reads npt=N. The vendor module is left loaded that way.
bench_shadow()
{
	local set=$1 vm ko n=0
	vm=$(sed -n 's/^XKVM_VENDOR_MODULE=//p' "$H/$set/env")
	case $vm in *_amd) ;; *) return 0 ;; esac
	[ -x "$H/tests/shadow_bench" ] || return 0
	ko=$(grep -E '[-_]amd\.ko$' "$H/$set/modules")
	while ! rmmod "$vm" 2>/dev/null; do
		n=$((n + 1))
		if [ "$n" -ge 5 ]; then
			say "UNLOAD-FAIL $set $vm refcnt=$(cat "/sys/module/$vm/refcnt" 2>/dev/null)"
			return 1
		fi
		sleep 1
	done
	# shellcheck disable=SC2046 # the parameters are words
	if ! insmod "$H/$set/$ko" $(cat "$H/$set/vendor_params" 2>/dev/null) npt=0; then
		say "MODLOAD-FAIL $set $ko npt=0"
		return 1
	fi
	say "MODLOAD-OK $set $ko npt=0"
	say_params "$set" "$vm"
	export XKVM_BENCH_SHADOW=1
	run_bin "$set" shadow_bench
	unset XKVM_BENCH_SHADOW
}

say "BEGIN job=$job kernel=$(uname -r) cpus=$(nproc)"
case $job in
tests:*)
	set=${job#tests:}
	if load_set "$set"; then
		for t in $(cat "$H/tests/TESTS"); do
			run_bin "$set" "$t"
		done
		# Every test has ended and closed its fds: nothing may pin
		# the modules any more.
		unload_set "$set"
	fi
	;;
demo:*)
	set=${job#demo:}
	load_set "$set" && run_bin "$set" demo
	;;
bench)
	# exit round trips, dirty logging, then the boot and migration
	# benchmarks (vmm_qemu_test and vmm_migrate_test in bench mode), on
	# xkvm and then on stock KVM; on AMD-V then the shadow MMU's figures
	# (bench_shadow)
	export XKVM_VMM_BENCH=1
	if load_set xkvm; then
		run_bin xkvm exit_bench
		run_bin xkvm dirty_bench
		[ -x "$H/tests/vmm_qemu_test" ] && run_bin xkvm vmm_qemu_test
		[ -x "$H/tests/vmm_migrate_test" ] && run_bin xkvm vmm_migrate_test
		bench_shadow xkvm
		unload_set xkvm
	fi
	if load_set reference; then
		run_bin reference exit_bench
		run_bin reference dirty_bench
		[ -x "$H/tests/vmm_qemu_test" ] && run_bin reference vmm_qemu_test
		[ -x "$H/tests/vmm_migrate_test" ] && run_bin reference vmm_migrate_test
		bench_shadow reference
	fi
	;;
*)
	say "BAD-JOB '$job'"
	;;
esac

# kmemleak_report: on a kernel with kmemleak (the debug kernel), one scan
# once the job is done, after a pause so that the last test's objects are
# older than kmemleak's minimum age (5 s), and its report between
# KMEMLEAK markers; run.sh decides which objects count. Kernel messages
# stay off the console meanwhile.
kmemleak_report()
{
	local f=/sys/kernel/debug/kmemleak
	[ -e $f ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	[ -e $f ] || return 0
	dmesg -n 1
	sleep 6
	if ! echo scan > $f; then
		say "KMEMLEAK-FAIL scan refused (kmemleak disabled?)"
		return 0
	fi
	say "KMEMLEAK-BEGIN"
	cat $f
	say "KMEMLEAK-END"
	uart_drain
}
kmemleak_report

# The kernel's messages since this script started (the boot's are on the
# console already), then wait for the UART before the power goes.
dmesg -n 1
say "DMESG-BEGIN"
dmesg | sed -n '/Run \/init as init process/,$p'
say "DMESG-END"
say "END"
sync
uart_drain
poweroff -f
while :; do sleep 60; done
