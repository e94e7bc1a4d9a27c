#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# vmm_qemu_test.sh - an existing VMM on the hypervisor under test: Debian's
# own, unmodified qemu-system-x86_64 (-accel kvm) boots a Linux kernel +
# initramfs whose /init prints a marker, how many CPUs are online and two
# uptime readings a second apart, and powers off: once with the userspace
# irqchip (one vCPU), then 4 vCPUs with -cpu host in QEMU's default mode
# (the in-kernel irqchip) and with the split irqchip, on pc and q35.
# Runs inside the emulated machine as one of the harness' test binaries and
# prints TAP. QEMU and its firmware come from the host's root, exported by
# the emulator over virtio-9p, or from a copy packed into the initramfs
# (Bochs, and the benchmark), and are entered with chroot.
#
# The pc in-kernel irqchip boot (pc_irqchip) is the real-devices boot: the
# L2 guest also gets a virtio-blk-pci disk (a small ext4 image that run.sh
# builds on the host, read-only) and a virtio-net-pci NIC (user
# networking, no traffic), both with MSI-X and ioeventfd=on. Its /init
# loads the virtio and ext4 modules, prints the SHA-256 of the file on
# the disk, the virtio devices' MSI-X lines in /proc/interrupts and the
# clocksource; three more TAP lines check them: the checksum run.sh
# computed, MSI-X interrupts for both devices (the disk's ones counted),
# and kvm-clock.
#
# If the marker is still missing shortly before the time limit, QEMU's
# monitor (a unix socket) is asked where the guest is: registers, PIC,
# IOAPIC and local APIC, the code at RIP and the stack (qemu_monitor.py,
# run from the host's root: XKVM_HOST_TOOLS is its directory there).
#
# Environment (from the harness' env file): XKVM_MODE, XKVM_CORE_MODULE,
# XKVM_VENDOR_MODULE, XKVM_L2_KERNEL (a path on the host), XKVM_L2_INITRD
# (a path in this machine's initramfs; copied to a tmpfs on the host's
# /mnt, which also serves as QEMU's TMPDIR), XKVM_L2_DISK (the disk image,
# a path on the host) and XKVM_L2_DISK_SHA256 (its file's checksum),
# XKVM_9P_MODULES (directory of the 9p modules, with an "order" file),
# XKVM_QEMU_CONFIGS (the boots, see below), XKVM_QEMU_TIMEOUT (seconds per
# boot). In xkvm mode the modules are reloaded with devkvm=1: that is the
# documented way for a VMM that opens /dev/kvm to reach xkvm.
#
# XKVM_VMM_BENCH=1 (the boot benchmark, run.sh --bench): the L2 guest waits
# after its marker; the time from QEMU's start to the marker (this
# machine's guest time, which counts instructions in bench mode) is printed
# as "bench-boot <seconds>", then the VM's statistics as "stat ..." lines
# (QEMU reads them from the hypervisor's stats fds: qmp_stats asks it over
# QMP), and QEMU is ended.

H=/harness
MARKER=XKVM-L2-MARKER
log=/tmp/qemu-l2.log

fail() { echo "1..1"; echo "# $*"; echo "not ok 1 qemu_boots_linux"; exit 1; }

# mount_pseudo, setup_host_root, reload_with_devkvm, tap_line
. "$H/vmm_lib.sh"

setup_host_root || fail "cannot set up QEMU's root"
if [ "$XKVM_MODE" = xkvm ]; then
	reload_with_devkvm || fail "cannot reload xkvm with devkvm=1"
fi
[ -c /host/dev/kvm ] || fail "no /dev/kvm"
cp "$XKVM_L2_INITRD" /host/mnt/l2-initrd.gz || fail "cannot stage the L2 initrd"

# default: 4/5 of the binary's limit (240 s of the usual 300)
tmo=${XKVM_QEMU_TIMEOUT:-$((${XKVM_TEST_TIMEOUT:-300} * 4 / 5))}
bench=${XKVM_VMM_BENCH:-0}

# The real devices of the "virtio" boots: the L2 guest's disk image (a
# host path, as the kernel's: over virtio-9p, or packed at that path) on
# virtio-blk-pci, and virtio-net-pci on user networking (nothing to set up
# on the host; no traffic), both with MSI-X (QEMU's default) and
# ioeventfd=on. romfile= leaves out the NIC's boot ROM, which -kernel
# does not need and which is not packed.
virtio_args="-drive if=none,id=l2disk,format=raw,readonly=on,file.locking=off,file=$XKVM_L2_DISK
-device virtio-blk-pci,drive=l2disk,ioeventfd=on
-netdev user,id=l2net
-device virtio-net-pci,netdev=l2net,ioeventfd=on,romfile="

# run_qemu NAME MACHINE SMP CPU DEVICES: boot the L2 guest once (DEVICES
# "virtio": with the real devices); sets $rc, $secs and $measured, leaves
# QEMU's output in $log.
run_qemu()
{
	local name=$1 machine=$2 smp=$3 cpu=$4 devices=$5 wait_arg= dumped=0 polls=0 t0
	local dev_args=
	# a second run in the same boot must not see the first's marker
	rm -f "$log" /host/mnt/qmp /host/mnt/qemu-monitor
	[ "$bench" = 1 ] && wait_arg=" xkvm_wait"
	[ "$devices" = virtio ] && dev_args=$virtio_args
	t0=$(date +%s)
	up0=$(cut -d' ' -f1 /proc/uptime)
	measured=0
	# QEMU's output goes through awk, which notes this machine's uptime
	# the moment the marker arrives (the benchmark's end point: no
	# polling delay) and flags a KVM error, so that the loop below polls
	# files only (no process per poll to compete with QEMU); QEMU's exit
	# status goes to a file, as the pipeline's is awk's.
	rm -f /tmp/marker-uptime /tmp/qemu-rc /tmp/qemu-kvm-error
	# shellcheck disable=SC2086 # $dev_args are words (no spaces in paths)
	( TMPDIR=/mnt chroot /host /usr/bin/timeout -k 5 "$tmo" \
		/usr/bin/qemu-system-x86_64 -accel kvm -machine "$machine" \
		-cpu "$cpu" -m 256M -smp "$smp" -nodefaults -nographic -no-reboot \
		-serial stdio -monitor unix:/mnt/qemu-monitor,server,nowait \
		-qmp unix:/mnt/qmp,server,nowait \
		-kernel "$XKVM_L2_KERNEL" -initrd /mnt/l2-initrd.gz $dev_args \
		-append "console=ttyS0 panic=-1 loglevel=4$wait_arg" 2>&1 < /dev/null
	  echo $? > /tmp/qemu-rc ) | awk -v m="$MARKER" '
		{ print; fflush() }
		!seen && index($0, m) {
			seen = 1
			getline up < "/proc/uptime"
			split(up, f, " ")
			print f[1] > "/tmp/marker-uptime"
			close("/tmp/marker-uptime")
		}
		/KVM internal error|KVM: entry failed|KVM: unknown exit/ {
			print > "/tmp/qemu-kvm-error"
			close("/tmp/qemu-kvm-error")
		}' > "$log" &
	qpid=$!
	# QEMU stops the VM but keeps running after a KVM error: end it then.
	while kill -0 "$qpid" 2>/dev/null; do
		polls=$((polls + 1))
		if [ "$bench" = 1 ] && [ "$measured" = 0 ] && [ -s /tmp/marker-uptime ]; then
			measured=1
			bench_report
			kill $(pidof qemu-system-x86_64)
			break
		fi
		if [ -e /tmp/qemu-kvm-error ]; then
			sleep 1
			kill $(pidof qemu-system-x86_64)
			break
		fi
		if [ "$dumped" = 0 ] && [ $((polls % 10)) = 0 ] &&
		   ! grep -q L2-END "$log" &&
		   [ $(($(date +%s) - t0)) -ge $((tmo - 15)) ]; then
			dumped=1
			echo "# $name: the L2 guest looks hung; QEMU's view of it:"
			[ -x /host/usr/bin/python3 ] && chroot /host /usr/bin/python3 "$XKVM_HOST_TOOLS/qemu_monitor.py" \
				/mnt/qemu-monitor "info registers" "info pic" "info lapic" \
				"info irq" 'x/8i $pc' 'x/32gx {RSP}' 2>&1 | sed 's/^/# MON| /'
		fi
		if [ "$bench" = 1 ]; then sleep 0.1; else sleep 1; fi
	done
	wait "$qpid"
	rc=$(cat /tmp/qemu-rc 2>/dev/null || echo 255)
	secs=$(( $(date +%s) - t0 ))
}

# The benchmark's report, the moment the marker arrived.
bench_report()
{
	local up1
	up1=$(cat /tmp/marker-uptime)
	echo "bench-boot $(awk -v a="$up0" -v b="$up1" 'BEGIN { printf "%.2f", b - a }')"
	sleep 1		# the L2 guest's own uptime follows its marker
	sed -n 's/^L2-UPTIME \([0-9.]*\).*/bench-l2-uptime \1/p' "$log" | tr -d '\r'
	$H/tests/qmp_stats /host/mnt/qmp
	# the kernel's kvm_stat reads the same counters from debugfs
	if [ -n "${XKVM_KVM_STAT:-}" ] && mount_9p_root /hostfs &&
	   [ -x /hostfs/usr/bin/python3 ]; then
		mount -t debugfs debugfs /hostfs/sys/kernel/debug 2>/dev/null
		chroot /hostfs /usr/bin/python3 "$XKVM_KVM_STAT" -d -1 2>&1 |
			sed 's/^/kvm_stat /'
	fi
}

# check_boot N NAME SMP: TAP line N for the boot that just ended: the
# marker, SMP CPUs online in the guest, its timer ticking (uptime moved
# across a one-second sleep), a clean exit.
check_boot()
{
	local n=$1 name=$2 smp=$3 cpus ticks why=
	sed 's/^/# L2| /' "$log" | grep -v "doesn't support requested feature" | tail -12
	echo "# $name: qemu exit status $rc after ${secs} s"
	cpus=$(sed -n 's/^L2-CPUS \([0-9]*\).*/\1/p' "$log" | tr -d '\r')
	ticks=$(sed -n 's/^L2-TICKS \([0-9.]*\) \([0-9.]*\).*/\1 \2/p' "$log" |
		awk '{ print ($2 - $1 >= 0.5) ? "yes" : "no" }')
	if ! grep -q "$MARKER" "$log"; then
		why="the L2 guest's marker never appeared"
	elif [ "$bench" = 1 ]; then
		[ "$measured" = 1 ] || why="no measurement"
	elif [ "$cpus" != "$smp" ]; then
		why="$cpus CPUs online in the L2 guest, wanted $smp"
	elif [ "$ticks" != yes ]; then
		why="the L2 guest's clock did not advance across sleep 1"
	elif [ "$rc" != 0 ]; then
		why="QEMU did not exit cleanly"
	fi
	if [ -n "$why" ]; then
		echo "# $name: $why"
		# the first kernel report of the L2 guest, whole
		awk '/(BUG:|Oops|int3:|general protection|WARNING:|Kernel panic)/ && !n { n = 1 }
		     n && n++ <= 45' "$log" | tr -d '\r' | sed 's/^/# L2-REPORT| /'
		echo "not ok $n $name"
		failed=1
	else
		echo "ok $n $name"
	fi
}

# l2_line KEY: the rest of the L2 guest's line "KEY ..." (the first one).
l2_line()
{
	sed -n "s/^$1 //p" "$log" | tr -d '\r' | head -n 1
}

# check_devices N NAME: TAP lines N.. N+2 for the real devices of the
# boot that just ended: the SHA-256 of the file on the virtio disk, MSI-X
# interrupts of both virtio devices, kvm-clock as the clocksource.
check_devices()
{
	local n=$1 name=$2 sum blk net cs why
	sum=$(l2_line L2-DISK-SHA256)
	blk=$(l2_line "L2-VIRTIO-MSIX blk")
	net=$(l2_line "L2-VIRTIO-MSIX net")
	cs=$(l2_line L2-CLOCKSOURCE)
	grep '^L2-MODULE-FAIL' "$log" | tr -d '\r' | sed "s/^/# $name: /"
	echo "# $name: disk sha256 ${sum:-none} (want ${XKVM_L2_DISK_SHA256:-?});" \
		"MSI-X lines/interrupts: blk ${blk:-none}, net ${net:-none};" \
		"clocksource ${cs:-none}"
	why=
	if [ -z "$XKVM_L2_DISK_SHA256" ]; then
		why="no expected checksum (XKVM_L2_DISK_SHA256)"
	elif [ -z "$sum" ]; then
		why="the L2 guest read no checksum from its virtio disk"
	elif [ "$sum" != "$XKVM_L2_DISK_SHA256" ]; then
		why="the file on the virtio disk has the wrong checksum"
	fi
	tap_line "$n" "${name}_virtio_blk_read" "$why"

	# the disk was read, so its queue's vector must have fired
	why=
	if [ "${blk%% *}" -ge 1 ] 2>/dev/null && [ "${blk##* }" -ge 1 ] &&
	   [ "${net%% *}" -ge 1 ] 2>/dev/null; then
		:
	else
		why="virtio-blk or virtio-net without MSI-X interrupts in the L2 guest"
	fi
	tap_line $((n + 1)) "${name}_virtio_msix" "$why"

	why=
	[ "$cs" = kvm-clock ] || why="clocksource '${cs:-none}', wanted kvm-clock"
	tap_line $((n + 2)) "${name}_kvmclock" "$why"
}

# XKVM_QEMU_CONFIGS: "name machine smp cpu [virtio]" per line (or ";").  The userspace
# irqchip (kernel-irqchip=off, deprecated in QEMU), then QEMU's default
# (the in-kernel irqchip) and the split irqchip, on pc and q35.
# "virtio": the real-devices boot (virtio_args), three more TAP lines
# (check_devices).
configs=${XKVM_QEMU_CONFIGS:-"userspace_irqchip pc,kernel-irqchip=off 1 qemu64
pc_irqchip pc 4 host virtio
q35_irqchip q35 4 host
pc_split pc,kernel-irqchip=split 4 host
q35_split q35,kernel-irqchip=split 4 host"}
configs=$(echo "$configs" | tr ';' '\n')
[ "$bench" = 1 ] && configs=$(echo "$configs" | head -1)
echo "1..$(echo "$configs" | awk '{ n += ($5 == "virtio") ? 4 : 1 } END { print n }')"
# Stock kvm_amd under QEMU 7.2's TCG (the amd machine) hangs early in the
# L2 boot with its in-kernel irqchip, even with one vCPU and -cpu qemu64
# (Documentation/testing.md): there reference mode runs the userspace
# irqchip only.  The irqchip ABI is covered on stock KVM by apic_test,
# smp_test, irqchip_test and pit_test.
skip_irqchip=
[ "$XKVM_MODE" = reference ] && [ "$XKVM_VENDOR_MODULE" = kvm_amd ] &&
	skip_irqchip="stock kvm_amd hangs in QEMU TCG's nested SVM with an in-kernel irqchip"
echo "$configs" | {
	failed=0
	n=0
	while read -r name machine smp cpu devices; do
		n=$((n + 1))
		case "$machine" in
		*kernel-irqchip=off*) ;;
		*)	if [ -n "$skip_irqchip" ]; then
				echo "ok $n $name # SKIP $skip_irqchip"
				if [ "$devices" = virtio ]; then
					for t in virtio_blk_read virtio_msix kvmclock; do
						n=$((n + 1))
						echo "ok $n ${name}_$t # SKIP $skip_irqchip"
					done
				fi
				continue
			fi ;;
		esac
		run_qemu "$name" "$machine" "$smp" "$cpu" "$devices"
		check_boot "$n" "$name" "$smp"
		if [ "$devices" = virtio ]; then
			check_devices $((n + 1)) "$name"
			n=$((n + 3))
		fi
	done
	exit "$failed"
}
