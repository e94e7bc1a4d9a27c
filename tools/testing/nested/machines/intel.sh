# SPDX-License-Identifier: GPL-2.0
#
# machines/intel.sh - the "intel" test machine of the nested harness: Bochs
# emulating a Broadwell with VT-x, EPT, VPID and unrestricted guest,
# booting Debian's kernel from an ISO (Bochs has no -kernel). Sourced by
# run.sh; owns only the machine description and how to boot it. The
# interface is the one machines/amd.sh documents.
#
# Bochs facts this file relies on (checked here; see also Documentation/testing.md):
# - no direct kernel boot: isolinux on an El Torito ISO, built per boot
#   next to the console log;
# - headless only through the rfb display with timeout=0, and its built-in
#   debugger must be told to continue ("c" in a -rc file);
# - "cpu: ... ips=" with "clock: sync=none" makes guest time count
#   instructions, so every boot (and the benchmark) is deterministic;
# - ACPI power-off ends Bochs with status 1 and "soft power off": that is
#   a clean end here and reported as 0;
# - Broadwell, not Skylake-X: on Skylake-X the kernel uses XSAVES
#   (compacted format) and Bochs' XRSTORS faults on the state KVM_SET_XSAVE
#   leaves ("Bad FPU state detected" WARNING, guest AVX state lost, with
#   stock kvm_intel as with xkvm); Broadwell has no XSAVES, so the kernel
#   uses the standard format, which Bochs gets right.  Its VMX has EPT
#   (with A/D bits), VPID and unrestricted guest;
# - it is about ten times slower than QEMU TCG: unless NESTED_BOOT_TIMEOUT
#   is set, a boot gets at least 1800 s;
# - Bochs 2.7 bug: VM entry recomputes its interrupt mask before it marks
#   the CPU as in VMX non-root operation, so a guest entered with
#   RFLAGS.IF=0 never takes an external-interrupt VM exit until it changes
#   IF itself. A guest that spins with IF=0 waiting for the host wedges
#   that CPU (stock kvm_intel and xkvm alike), and the boot times out.
# - two CPUs are given as cores of one package ("count=1:2:1"): as two
#   packages Bochs' CPUID topology makes 6.12 warn at boot (parse_legacy).
#   Two CPUs let the tests move vCPUs between CPUs and take one offline.
# Environment: NESTED_BOCHS_CPU (default broadwell_ult), NESTED_BOCHS_IPS
# (default 200000000), NESTED_BOCHS_SMP (CPUs, default 2), NESTED_MEM (as for
# QEMU, e.g. 1G; default 512M).

# Variants on request only (NESTED_VARIANTS=noept or core2), not in the
# default run: Bochs already sets the length of make check
# (Documentation/testing.md has the commands and the last results).
# - "noept": both modes load the vendor module with ept=0, so stock
#   kvm_intel and xkvm-intel run guests on shadow page tables and, without
#   unrestricted guest, real mode in virtual-8086 mode;
# - "core2": Bochs' core2_penryn_t9600, VT-x without EPT, unrestricted
#   guest, VPID, preemption timer or PAT/EFER switching: both hypervisors
#   choose shadow paging themselves.
# The load message and the PARAMS line prove it.
MACHINE_VARIANTS_ON_REQUEST="noept core2"
intel_cpu=${NESTED_BOCHS_CPU:-broadwell_ult}
case ${machine_variant:-} in
noept|core2)
	if [ "$machine_variant" = core2 ]; then
		intel_cpu=core2_penryn_t9600
	else
		MACHINE_VENDOR_PARAMS=ept=0
	fi
	MACHINE_DESC="Bochs, -cpu $intel_cpu${MACHINE_VENDOR_PARAMS:+, $MACHINE_VENDOR_PARAMS} (shadow paging, real mode in vm86)"
	MACHINE_EXPECT_XKVM='xkvm-intel: VT-x with shadow paging enabled'
	MACHINE_REFUSE_XKVM='xkvm-intel: VT-x with EPT and unrestricted guest enabled'
	MACHINE_EXPECT_REFERENCE='^@@XH PARAMS reference kvm_intel .* ept=N( |$)'
	MACHINE_TIME_FACTOR=2
	;;
*)
	MACHINE_DESC="Bochs, -cpu $intel_cpu (VT-x with EPT)"
	;;
esac
MACHINE_XKVM_MODULES=(xkvm xkvm-intel)
MACHINE_XKVM_UNLOAD=(xkvm_intel xkvm)
MACHINE_XKVM_VENDOR=xkvm_intel
MACHINE_STOCK_MODULE=kvm-intel
MACHINE_STOCK_UNLOAD=(kvm_intel kvm)
MACHINE_STOCK_VENDOR=kvm_intel
# No virtio in Bochs, so no host root over 9p for vmm_qemu_test.sh.
MACHINE_VMM_TEST=0
# Stock kvm_intel creates and destroys VMs slowly under Bochs (a reference
# boot takes about 11 minutes, an xkvm one 7): by default reference mode
# runs on the newest kernel only, which keeps make check near half an hour.
MACHINE_REFERENCE_NEWEST_ONLY=1
# Emulated instructions per second of guest time (the ips= of bochsrc):
# with clock sync=none, guest time advances by instructions.
MACHINE_BENCH_IPS=${NESTED_BOCHS_IPS:-200000000}
# The debug kernel (run.sh --debug-kernel, Documentation/debug-kernel.md)
# is 10 to 100 times slower in the kernel under Bochs: it reaches /init
# after about 17 minutes, and every test binary does not fit in an hour
# (emulator_test alone took 121 s of guest time, 8 minutes). So: xkvm mode
# only unless a mode is asked for (stock kvm_intel already takes 11
# minutes a boot without the checkers), and the binaries that exercise
# the VT-x backend, most specific first (a timeout loses the tail); those
# that test vendor-independent code (the instruction emulator, memslots,
# CPUID, MSR and fd handling, the generic ioctls) run on the amd machine
# in both modes.
MACHINE_DEBUG_MODES=xkvm
# Vendor-neutral core code whose VT-x path firecracker_test covers (an
# ioeventfd doorbell and an irqfd MSI through EPT-violation MMIO): left out
# of the default Bochs run for time; so is dirty_log_test, which stock
# kvm_intel does not finish in Bochs (it passes on xkvm there).
# Documentation/testing.md has the command that runs them here.
MACHINE_DEFAULT_SKIP="ioeventfd_test coalesced_mmio_test irqfd_test dirty_log_test"
# On the older kernel (6.1) only the binaries whose xkvm paths meet host
# kernel code that differs between 6.1 and 6.12 (FPU and entry work, page
# pinning and MMU notifiers, module and fd lifetime, IPIs and kicks,
# clocksource and eventfd APIs, the fuzzer); the rest is the same VT-x
# code, run in full on 6.12 and on both kernels in the amd machine.
MACHINE_OLDER_KERNEL_TESTS="api_test memslot_test vcpu_test guest_test
	mmu_test world_switch_test host_state_test module_test fd_close_test
	events_test intercept_test smp_test kvmclock_test firecracker_test
	fuzz_test"
MACHINE_DEBUG_TESTS="events_test mmu_test intercept_test world_switch_test
	realmode_test mmio_test interrupt_test guest_test vcpu_test
	host_state_test module_test fpu_test vcpu_state_test host_xcr0_test
	hypervisor_test fuzz_test"

# bochs_megs SIZE: "1G", "768M" or a number of MiB -> MiB
bochs_megs()
{
	case $1 in
	*G|*g) echo $((${1%?} * 1024)) ;;
	*M|*m) echo "${1%?}" ;;
	*) echo "$1" ;;
	esac
}

machine_boot()
{
	local kernel=$1 initrd=$2 append=$3 log=$4 tmo=$5 bench=$6
	local dir=${log%.log}.bochs rc=0

	[ -z "${NESTED_BOOT_TIMEOUT:-}" ] && [ "$tmo" -lt 1800 ] && tmo=1800

	rm -rf "$dir"
	mkdir -p "$dir/iso/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin \
	   /usr/lib/syslinux/modules/bios/ldlinux.c32 "$dir/iso/isolinux/" ||
		return 1
	cp "$kernel" "$dir/iso/vmlinuz" && cp "$initrd" "$dir/iso/initrd.gz" ||
		return 1
	cat > "$dir/iso/isolinux/isolinux.cfg" <<-EOF
	SERIAL 0 115200
	DEFAULT linux
	PROMPT 0
	LABEL linux
	  KERNEL /vmlinuz
	  APPEND initrd=/initrd.gz console=ttyS0 loglevel=5 panic=-1 $append
	EOF
	xorriso -as mkisofs -quiet -o "$dir/boot.iso" -b isolinux/isolinux.bin \
		-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
		-boot-info-table "$dir/iso" > "$dir/xorriso.log" 2>&1 || {
		cat "$dir/xorriso.log" > "$log.emu"
		return 1
	}
	rm -rf "$dir/iso"

	# Bochs logs guest-visible oddities (unknown MSRs, EPT violations) as
	# errors; only panics are worth keeping.
	cat > "$dir/bochsrc" <<-EOF
	megs: $(bochs_megs "${NESTED_MEM:-512M}")
	cpu: model=$intel_cpu, count=1:${NESTED_BOCHS_SMP:-2}:1, ips=${NESTED_BOCHS_IPS:-200000000}
	romimage: file=/usr/share/bochs/BIOS-bochs-latest
	vgaromimage: file=/usr/share/vgabios/vgabios.bin
	ata0-master: type=cdrom, path=$dir/boot.iso, status=inserted
	boot: cdrom
	com1: enabled=1, mode=file, dev=$log
	log: $dir/bochs.log
	panic: action=fatal
	error: action=ignore
	info: action=ignore
	debug: action=ignore
	clock: sync=none, time0=local
	speaker: enabled=0
	sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
	display_library: rfb, options="timeout=0"
	EOF
	echo c > "$dir/dbg.rc"

	# Bochs' TSC always counts instructions: BENCH needs nothing more.
	: "$bench"
	timeout --kill-after=10 "$tmo" \
		bochs -q -f "$dir/bochsrc" -rc "$dir/dbg.rc" \
		</dev/null > "$dir/bochs.out" 2>&1 || rc=$?
	if [ "$rc" = 1 ] && grep -q 'soft power off' "$dir/bochs.out"; then
		rc=0
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; then
		tail -n 20 "$dir/bochs.out" > "$log.emu"
		[ -s "$dir/bochs.log" ] && tail -n 20 "$dir/bochs.log" >> "$log.emu"
	fi
	rm -f "$dir/boot.iso"
	return "$rc"
}
