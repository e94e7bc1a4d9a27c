#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# vmm_migrate_test.sh - live migration with Debian's own QEMU on the
# hypervisor under test. The L2 guest (the VMM test's kernel and
# initramfs, with xkvm_memcheck=<MiB> on its command line) runs memcheck
# (l2/memcheck.c): it rewrites a buffer with a new pattern every round,
# reads it back, re-checks a region written once, and prints "memcheck
# round R ok mono <s>" or XKVM-MEMCHECK-FAIL. A dirty page the hypervisor
# fails to report reaches the destination stale, and the round that
# straddles the switchover fails. TAP lines:
#
#   migrate_bitmap   source and destination QEMU on this hypervisor, live
#                    over a unix socket, QEMU's default dirty tracking
#                    (bitmap with MANUAL_DIRTY_LOG_PROTECT2, INITIALLY_SET)
#   migrate_ring     the same with -accel kvm,dirty-ring-size=4096 (SKIP if
#                    the hypervisor has no KVM_CAP_DIRTY_LOG_RING: QEMU
#                    then warns and falls back to the bitmap)
#   migrate_xkvm_to_stock, migrate_stock_to_xkvm (xkvm mode only, SKIP in
#                    reference mode): live migration to a file (exec:cat),
#                    the source quits, the modules are swapped, and a
#                    destination on the other hypervisor loads the file;
#                    the second source is the first destination.
#   memcheck_catches_corruption  the test can fail: the last running guest
#                    is migrated to a file, one word of memcheck's static
#                    region is flipped in it, and a destination started
#                    from it must report XKVM-MEMCHECK-FAIL.
#
# Each migration must end with the source paused (postmigrate), the
# destination running and printing two more rounds, no FAIL, and the
# round counter and the guest's CLOCK_MONOTONIC moving on across the move.
# The total time and downtime QEMU reports (info migrate) are printed as
# comments and as "bench-migrate <mode> total_ms <n> downtime_ms <n>".
# Migration parameters: max-bandwidth 4G (no throttling in practice),
# downtime-limit 2000 ms (a guest at TCG speed converges).
#
# On xkvm (reloaded with devkvm=1, like vmm_qemu_test) the live runs use
# QEMU's default in-kernel irqchip, 2 vCPUs and -cpu host. Stock kvm_amd
# in QEMU TCG's nested SVM hangs with an in-kernel irqchip
# (Documentation/testing.md), so reference mode on amd and both
# cross-hypervisor runs use kernel-irqchip=off, 1 vCPU and -cpu qemu64.
# QEMU's monitor is a pipe chardev (two FIFOs in /mnt), driven from here.
# The modules are left as guest-init.sh expects them: the mode's own set
# loaded (xkvm with devkvm=1).
#
# XKVM_VMM_BENCH=1 (make bench): only the two live runs, both with
# kernel-irqchip=off, 1 vCPU and -cpu qemu64 on either hypervisor, for the
# benchmark's migration rows.
#
# Environment: that of vmm_qemu_test.sh (XKVM_MODE, XKVM_CORE_MODULE,
# XKVM_VENDOR_MODULE, XKVM_L2_KERNEL, XKVM_L2_INITRD, XKVM_9P_MODULES,
# XKVM_QEMU_TIMEOUT: the limit of each QEMU process; each wait for the
# guest gets a quarter of it).

H=/harness
. "$H/vmm_lib.sh"

MIB=64
PLAN=5
# default: 4/5 of the binary's limit (240 s of the usual 300)
qtmo=${XKVM_QEMU_TIMEOUT:-$((${XKVM_TEST_TIMEOUT:-300} * 4 / 5))}
wtmo=$((qtmo / 4))
M=/host/mnt

fail_all()
{
	local i=0 t
	echo "1..$PLAN"
	echo "# $*"
	for t in migrate_bitmap migrate_ring migrate_xkvm_to_stock \
		 migrate_stock_to_xkvm memcheck_catches_corruption; do
		i=$((i + 1))
		echo "not ok $i $t"
	done
	exit 1
}

# qemu_start TAG MACHINE SMP CPU ACCEL [ARG...]: start QEMU with the
# memcheck guest in the background: serial output in $M/TAG.serial, the
# monitor on the FIFOs $M/TAG.mon.{in,out} (the replies go to
# /tmp/TAG.mon), its pid in $M/TAG.pid, stderr in /tmp/TAG.err, QEMU's
# exit status in /tmp/TAG.rc.
qemu_start()
{
	local tag=$1 machine=$2 smp=$3 cpu=$4 accel=$5
	shift 5
	rm -f "$M/$tag.serial" "$M/$tag.mon.in" "$M/$tag.mon.out" "$M/$tag.pid" \
	      "/tmp/$tag.mon" "/tmp/$tag.err" "/tmp/$tag.rc"
	mkfifo "$M/$tag.mon.in" "$M/$tag.mon.out" || return 1
	( TMPDIR=/mnt chroot /host /usr/bin/timeout -k 5 "$qtmo" \
		/usr/bin/qemu-system-x86_64 -accel "$accel" -machine "$machine" \
		-cpu "$cpu" -m 256M -smp "$smp" -nodefaults -nographic -no-reboot \
		-serial "file:/mnt/$tag.serial" -monitor "pipe:/mnt/$tag.mon" \
		-pidfile "/mnt/$tag.pid" \
		-kernel "$XKVM_L2_KERNEL" -initrd /mnt/l2-initrd.gz \
		-append "console=ttyS0 panic=-1 loglevel=4 xkvm_memcheck=$MIB" \
		"$@" < /dev/null > "/tmp/$tag.err" 2>&1
	  echo $? > "/tmp/$tag.rc" ) &
	eval "qpid_$tag=$!"
	# O_RDWR: neither this reader nor a command's writer blocks on open
	cat <> "$M/$tag.mon.out" >> "/tmp/$tag.mon" &
	eval "cpid_$tag=$!"
}

# running TAG: TAG's QEMU has not exited.
running() { [ ! -e "/tmp/$1.rc" ]; }

# mon TAG CMD: one monitor command; its reply (no CRs) in /tmp/TAG.reply.
# An unknown command after it marks the end of the reply.
mon()
{
	local n=0
	: > "/tmp/$1.mon"
	printf '%s\nxkvm-end\n' "$2" 1<> "$M/$1.mon.in"
	until grep -q "unknown command: 'xkvm-end'" "/tmp/$1.mon"; do
		n=$((n + 1))
		if [ "$n" -ge 50 ] || ! running "$1"; then
			: > "/tmp/$1.reply"
			return 1
		fi
		sleep 0.2
	done
	tr -d '\r' < "/tmp/$1.mon" > "/tmp/$1.reply"
}

# reply TAG KEY: the value of "KEY: value" in TAG's last reply.
reply() { sed -n "s/^$2: //p" "/tmp/$1.reply" | head -n 1; }

# qemu_stop TAG: quit TAG's QEMU (killed if it does not), wait for it.
qemu_stop()
{
	local n=0 q c
	eval "q=\${qpid_$1:-} c=\${cpid_$1:-}"
	[ -n "$q" ] || return 0
	running "$1" && printf 'quit\n' 1<> "$M/$1.mon.in"
	while running "$1" && [ "$n" -lt 20 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	running "$1" && kill "$(cat "$M/$1.pid")" 2>/dev/null
	wait "$q"
	kill "$c" 2>/dev/null
	wait "$c" 2>/dev/null
	eval "qpid_$1= cpid_$1="
}

# rounds TAG: "round ok" lines of TAG's guest as "R MONO", one a line.
rounds()
{
	[ -f "$M/$1.serial" ] || return 0
	tr -d '\r' < "$M/$1.serial" |
		sed -n 's/^memcheck round \([0-9]*\) ok mono \([0-9.]*\).*/\1 \2/p'
}

# wait_rounds TAG N: wait until TAG printed N rounds; sets $why if not.
wait_rounds()
{
	local t0 c
	t0=$(date +%s)
	while :; do
		if grep -q XKVM-MEMCHECK-FAIL "$M/$1.serial" 2>/dev/null; then
			why="$1: $(grep -m1 XKVM-MEMCHECK-FAIL "$M/$1.serial" | tr -d '\r')"
			return 1
		fi
		c=$(rounds "$1" | wc -l)
		[ "$c" -ge "$2" ] && return 0
		if ! running "$1"; then
			why="$1: QEMU exited (status $(cat "/tmp/$1.rc")) after $c rounds"
			return 1
		fi
		if [ $(($(date +%s) - t0)) -ge "$wtmo" ]; then
			why="$1: $c of $2 rounds in ${wtmo} s"
			return 1
		fi
		sleep 1
	done
}

# show TAG: the end of TAG's console and QEMU's messages, as comments.
show()
{
	tr -d '\r' 2>/dev/null < "$M/$1.serial" | grep -v '^memcheck round' |
		tail -n 8 | sed "s/^/# $1| /"
	rounds "$1" | tail -n 2 | sed "s/^/# $1| round /"
	grep -v "doesn't support requested feature" "/tmp/$1.err" 2>/dev/null |
		tail -n 5 | sed "s/^/# $1 qemu: /"
}

# migrate_out TAG URI MODE: live-migrate TAG's guest to URI, wait for the
# end, print QEMU's times, check the source paused; sets $why if not.
migrate_out()
{
	local tag=$1 uri=$2 mode=$3 t0 st= total down
	mon "$tag" "migrate_set_parameter max-bandwidth 4G"
	mon "$tag" "migrate_set_parameter downtime-limit 2000"
	mon "$tag" "migrate -d $uri"
	t0=$(date +%s)
	while :; do
		mon "$tag" "info migrate"
		st=$(reply "$tag" "Migration status")
		case $st in
		completed|failed|cancelled) break ;;
		esac
		if ! running "$tag" || [ $(($(date +%s) - t0)) -ge "$wtmo" ]; then
			why="$tag: migration not done in ${wtmo} s (status '$st')"
			return 1
		fi
		sleep 1
	done
	total=$(reply "$tag" "total time" | sed 's/ ms.*//')
	down=$(reply "$tag" downtime | sed 's/ ms.*//')
	echo "# $mode: migration $st: total time ${total:-?} ms, downtime" \
		"${down:-?} ms, $(reply "$tag" "transferred ram") sent," \
		"$(reply "$tag" "dirty sync count") dirty syncs"
	if [ "$st" != completed ]; then
		grep -i error "/tmp/$tag.reply" | sed "s/^/# $tag: /"
		why="$tag: migration $st"
		return 1
	fi
	echo "bench-migrate $mode total_ms ${total:-0} downtime_ms ${down:-0}"
	mon "$tag" "info status"
	case $(reply "$tag" "VM status") in
	paused*) ;;
	*) why="$tag: source not paused after the migration: $(reply "$tag" "VM status")"; return 1 ;;
	esac
}

# check_dest SRC DST: DST (started with -incoming) runs on from where SRC
# stopped: two more rounds, no FAIL, round and clock moved on.
check_dest()
{
	local a b c
	wait_rounds "$2" 2 || return 1
	mon "$2" "info status"
	[ "$(reply "$2" "VM status")" = running ] ||
		{ why="$2: $(reply "$2" "VM status"), not running"; return 1; }
	a=$(rounds "$1" | tail -n 1)
	b=$(rounds "$2" | head -n 1)
	c=$(rounds "$2" | sed -n 2p)
	echo "# $1 last round ${a:-none}, $2 rounds ${b:-none}, ${c:-none} (round, CLOCK_MONOTONIC s)"
	if ! echo "$a $b $c" | awk '{ exit !($3 > $1 && $4 > $2 && $5 > $3 && $6 > $4) }'; then
		why="$2: round counter or clock did not move on from the source's"
		return 1
	fi
}

# live MODE ACCEL MACHINE SMP CPU: live migration over a unix socket, source
# and destination on this hypervisor; one TAP line.
live()
{
	local mode=$1 accel=$2 machine=$3 smp=$4 cpu=$5 src=${1}_src dst=${1}_dst
	why=
	rm -f "$M/mig.sock"
	echo "# $mode: -accel $accel -machine $machine -smp $smp -cpu $cpu, memcheck $MIB MiB"
	qemu_start "$src" "$machine" "$smp" "$cpu" "$accel" &&
		qemu_start "$dst" "$machine" "$smp" "$cpu" "$accel" \
			-incoming unix:/mnt/mig.sock || why="cannot start QEMU"
	[ -z "$why" ] && wait_rounds "$src" 3 &&
		migrate_out "$src" unix:/mnt/mig.sock "$mode" &&
		check_dest "$src" "$dst"
	# the ring probe said yes: QEMU must not have fallen back
	grep -qs "dirty ring not available" "/tmp/$src.err" &&
		why="QEMU fell back to the dirty bitmap"
	[ -n "$why" ] && show "$src" && show "$dst"
	tap_line "$n" "migrate_$mode" "$why"
	qemu_stop "$src"
	last=$dst last_vm="$machine $smp $cpu"
	[ -n "$why" ] && { qemu_stop "$dst"; last=; }
}

# use_hv xkvm|stock: the loaded hypervisor ($hv) becomes that one (no
# QEMU may be running).
use_hv()
{
	[ "$hv" = "$1" ] && return 0
	if [ "$1" = stock ]; then
		rmmod "$XKVM_VENDOR_MODULE" && rmmod "$XKVM_CORE_MODULE" && stock_load
	else
		stock_unload && xkvm_load_devkvm
	fi || { hv=unknown; why="cannot switch to $1 KVM"; return 1; }
	hv=$1
	[ -c /host/dev/kvm ] || { why="no /dev/kvm on $1"; return 1; }
	echo "# now on $1 KVM:" $(cut -d' ' -f1 /proc/modules |
		grep -x -e kvm -e kvm_amd -e kvm_intel -e xkvm -e "$XKVM_VENDOR_MODULE")
}

# to_file TAG MODE: live-migrate TAG's guest to $M/mig.img and quit it;
# sets $why if that failed.
to_file()
{
	local n=0
	rm -f "$M/mig.img" "$M/mig.done"
	migrate_out "$1" '"exec:cat > /mnt/mig.img && touch /mnt/mig.done"' "$2"
	qemu_stop "$1"
	[ -n "$why" ] && return 1
	# QEMU waits for its exec: child when it closes the migration
	# channel, but it may exit before it does that
	while [ ! -e "$M/mig.done" ] && [ "$n" -lt 20 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	[ -e "$M/mig.done" ] || { why="the migration file was not written"; return 1; }
}

# cross MODE FROM TO: live-migrate the running guest $last (or a new one)
# on FROM to a file, quit, switch to TO, restore the guest there; one TAP
# line.
cross()
{
	local mode=$1 from=$2 to=$3 src=$last dst=${1}_dst
	why=
	if [ -z "$src" ] || [ "$hv" != "$from" ]; then
		qemu_stop "$src"
		src=${mode}_src
		use_hv "$from" &&
			{ qemu_start "$src" $cross_vm kvm || why="cannot start QEMU"; }
	fi
	echo "# $mode: source $src on $from, $cross_vm, memcheck $MIB MiB"
	[ -z "$why" ] && wait_rounds "$src" 3 && to_file "$src" "$mode"
	[ -n "$why" ] && show "$src"
	qemu_stop "$src"
	last=
	[ -z "$why" ] && use_hv "$to" &&
		{ qemu_start "$dst" $cross_vm kvm -incoming 'exec:cat /mnt/mig.img' ||
		  why="cannot start QEMU"; } &&
		check_dest "$src" "$dst"
	[ -n "$why" ] && show "$dst"
	tap_line "$n" "migrate_$mode" "$why"
	last=$dst last_vm=$cross_vm
	[ -n "$why" ] && { qemu_stop "$dst"; last=; }
	return 0
}

# flip_strings IMG: where QEMU's root has no python3 (the copy packed
# into the initramfs), flip bit 0 of static word 0x49 of page 0x4b5
# (0x584b564d004b5049: "IPK\0MVKX" in memory order) with busybox. Its
# three low bytes and the high half of the word before ("MVKX") are the
# only printable run "MVKXIPK" between two NULs, so strings finds it
# without reading the image byte by byte in a shell. Prints the count.
flip_strings()
{
	local o k=0
	for o in $(strings -t d -n 7 "$1" |
		   sed -n 's/^ *\([0-9]*\) MVKXIPK$/\1/p'); do
		printf H | dd of="$1" bs=1 seek=$((o + 4)) conv=notrunc \
			2>/dev/null && k=$((k + 1))
	done
	echo "$k"
}

# corrupt_check TAG: the test can fail. TAG's guest goes to a file, a word
# of memcheck's static region (page 1, word 3) is flipped in it, and the
# guest restored from it must report XKVM-MEMCHECK-FAIL; one TAP line.
corrupt_check()
{
	local tag=$1 dst=corrupt_dst flipped
	why=
	if [ -z "$tag" ]; then
		echo "ok $n memcheck_catches_corruption # SKIP no guest left running"
		return 0
	fi
	to_file "$tag" corrupt >/dev/null
	if [ -z "$why" ] && [ ! -x /host/usr/bin/python3 ]; then
		flipped=$(flip_strings "$M/mig.img")
		echo "# flipped bit 0 of the static word (page 0x4b5, word 0x49) in ${flipped:-0} place(s) of the image"
		[ "${flipped:-0}" -ge 1 ] 2>/dev/null || why="the static word is not in the image"
	elif [ -z "$why" ]; then
		flipped=$(chroot /host /usr/bin/python3 -c '
import mmap, struct
w = struct.pack("<Q", 0x584b564d00000000 ^ (1 << 12) ^ 3)
with open("/mnt/mig.img", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    n, o = 0, m.find(w)
    while o >= 0:
        m[o] ^= 1
        n, o = n + 1, m.find(w, o + 8)
print(n)')
		echo "# flipped bit 0 of the static word (page 1, word 3) in ${flipped:-0} place(s) of the image"
		[ "${flipped:-0}" -ge 1 ] 2>/dev/null || why="the static word is not in the image"
	fi
	if [ -z "$why" ]; then
		# shellcheck disable=SC2086 # $last_vm are words
		qemu_start "$dst" $last_vm kvm -incoming 'exec:cat /mnt/mig.img' &&
			wait_rounds "$dst" 2
		case $why in
		*XKVM-MEMCHECK-FAIL*) echo "# $why"; why= ;;
		"") why="the guest restored from the corrupted image did not notice" ;;
		esac
	fi
	[ -n "$why" ] && show "$dst"
	tap_line "$n" memcheck_catches_corruption "$why"
	qemu_stop "$dst"
}

# ring_unsupported: why the hypervisor has no dirty ring (QEMU warns and
# falls back to the bitmap), or nothing.
ring_unsupported()
{
	local out
	out=$(echo quit | chroot /host /usr/bin/timeout -k 5 60 \
		/usr/bin/qemu-system-x86_64 -accel kvm,dirty-ring-size=4096 \
		-machine none -nodefaults -display none -monitor stdio 2>&1)
	case $out in
	*"dirty ring not available"*)
		echo "no KVM_CAP_DIRTY_LOG_RING (QEMU: KVM dirty ring not available)" ;;
	esac
}

setup_host_root || fail_all "cannot set up QEMU's root"
if [ "$XKVM_MODE" = xkvm ]; then
	reload_with_devkvm || fail_all "cannot reload xkvm with devkvm=1"
fi
[ -c /host/dev/kvm ] || fail_all "no /dev/kvm"
cp "$XKVM_L2_INITRD" "$M/l2-initrd.gz" || fail_all "cannot stage the L2 initrd"
# QEMU's exec: migration runs /bin/sh, cat and touch in its root: the
# packed one (qemuroot) has none of them, this machine's busybox serves.
if [ ! -x /host/bin/sh ] && [ -d /harness/qemuroot ]; then
	mkdir -p /host/bin && cp /bin/busybox /host/bin/ &&
		for a in sh cat touch; do ln -s busybox "/host/bin/$a"; done
fi

failed=0
last=
last_vm=
hv=$XKVM_MODE
[ "$hv" = reference ] && hv=stock
# the cross-hypervisor runs: "MACHINE SMP CPU" (stock kvm_amd's irqchip hang)
cross_vm="pc,kernel-irqchip=off 1 qemu64"
if [ "$XKVM_MODE" = reference ] && [ "$XKVM_VENDOR_MODULE" = kvm_amd ]; then
	live_vm=$cross_vm
	echo "# stock kvm_amd hangs in QEMU TCG's nested SVM with an in-kernel irqchip: kernel-irqchip=off, 1 vCPU, -cpu qemu64"
else
	live_vm="pc 2 host"
fi
if [ -n "${XKVM_VMM_BENCH:-}" ]; then
	# make bench (run.sh --bench): the same VM on both hypervisors, like
	# for like, in both tracking modes; the bench-migrate lines are the
	# figures, the TAP lines only say they are sound
	echo "1..2"
	n=1
	# shellcheck disable=SC2086 # $cross_vm are words
	live bitmap kvm $cross_vm
	qemu_stop "$last"
	n=2
	# shellcheck disable=SC2086
	live ring kvm,dirty-ring-size=4096 $cross_vm
	qemu_stop "$last"
	exit "$failed"
fi
echo "1..$PLAN"
n=1
# shellcheck disable=SC2086 # $live_vm are words
live bitmap kvm $live_vm
n=2
skip=$(ring_unsupported)
if [ -n "$skip" ]; then
	echo "ok $n migrate_ring # SKIP $skip"
else
	qemu_stop "$last"
	# shellcheck disable=SC2086
	live ring kvm,dirty-ring-size=4096 $live_vm
fi
if [ "$XKVM_MODE" = xkvm ]; then
	# the live runs' guests have an in-kernel irqchip: a new source
	qemu_stop "$last"
	last=
	echo "# cross-hypervisor runs: $cross_vm (stock kvm_amd's irqchip hang)"
	n=3
	cross xkvm_to_stock xkvm stock
	n=4
	cross stock_to_xkvm stock xkvm
	n=5
	corrupt_check "$last"
	# leave xkvm loaded (devkvm=1) for guest-init.sh
	if [ "$hv" != xkvm ]; then
		why=
		use_hv xkvm || echo "# cannot reload xkvm: $why"
	fi
else
	echo "ok 3 migrate_xkvm_to_stock # SKIP xkvm mode only"
	echo "ok 4 migrate_stock_to_xkvm # SKIP xkvm mode only"
	n=5
	corrupt_check "$last"
fi
exit "$failed"
