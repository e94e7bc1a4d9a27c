# SPDX-License-Identifier: GPL-2.0
#
# machines/amd.sh - the "amd" test machine of the nested harness: QEMU TCG
# emulating an AMD EPYC with SVM and nested paging (NPT; without it in the
# variant "nonpt"), booting Debian's kernel with -kernel/-initrd. Sourced
# by run.sh; owns only the machine description and how to boot it.
#
# A machine file defines:
#   MACHINE_DESC          one line shown in the output
#   MACHINE_XKVM_MODULES  xkvm modules to load, in order (built at the top of
#                         the module tree, without .ko)
#   MACHINE_XKVM_UNLOAD   module names to rmmod, in order
#   MACHINE_XKVM_VENDOR   xkvm vendor module name (XKVM_VENDOR_MODULE)
#   MACHINE_STOCK_MODULE  stock vendor module; its dependencies come from
#                         the test kernel's modules.dep
#   MACHINE_STOCK_UNLOAD  stock module names to rmmod, in order
#   MACHINE_STOCK_VENDOR  stock vendor module name (XKVM_VENDOR_MODULE)
#   MACHINE_VMM_TEST      1 if the machine can run vmm_qemu_test.sh (it needs
#                         the host's root over virtio-9p), else 0
#   MACHINE_REFERENCE_NEWEST_ONLY  1: unless a mode is asked for, reference
#                         mode runs on the newest test kernel only (optional)
#   MACHINE_BENCH_IPS     emulated instructions per second of guest time in
#                         bench mode (guest time counts instructions there)
#   MACHINE_DEFAULT_SKIP  test binaries left out of a run on this machine
#                         unless NESTED_TESTS names them (optional; for a
#                         slow machine: their command is in testing.md)
#   MACHINE_OLDER_KERNEL_TESTS  the only test binaries run on a kernel other
#                         than the newest of the run, unless NESTED_TESTS is
#                         set (optional; for a slow machine)
#   MACHINE_VARIANTS      other ways to run the same machine, space separated
#                         (optional): after the machine's regular boots, the
#                         test run boots each variant in every mode, by
#                         default on the newest kernel of the run only,
#                         tagged <machine>-<variant> (NESTED_VARIANTS in
#                         run.sh chooses). run.sh sets machine_variant
#                         (empty: the regular machine) before it sources
#                         the file: the variables here and machine_boot
#                         may depend on it
#   MACHINE_VARIANTS_ON_REQUEST  variants booted only when NESTED_VARIANTS
#                         names them (optional; for a slow machine)
#   MACHINE_VENDOR_PARAMS parameters for the vendor module of both modes
#                         unless NESTED_VENDOR_PARAMS is set (optional)
#   MACHINE_EXPECT_XKVM, MACHINE_EXPECT_REFERENCE  an extended regular
#                         expression that some console line of a test boot
#                         in xkvm / reference mode must match, e.g. the proof
#                         that a variant took effect (optional)
#   MACHINE_REFUSE_XKVM, MACHINE_REFUSE_REFERENCE  one that no console line
#                         of such a boot may match (optional)
#   MACHINE_TIME_FACTOR   the boot and per-binary time limits of a test boot
#                         are multiplied by it (optional, default 1)
#   machine_boot KERNEL INITRD APPEND CONSOLE_LOG TIMEOUT BENCH
#       boots KERNEL with INITRD and the extra kernel command line APPEND,
#       writes the guest console to CONSOLE_LOG (emulator messages to
#       CONSOLE_LOG.emu), stops after TIMEOUT seconds; BENCH=1 asks for
#       deterministic timing. Returns 124 on timeout, the emulator's
#       status otherwise.
#
# The host's root is exported read-only over virtio-9p (tag "host") so that
# tests can run the host's own programs (QEMU) inside the machine.
#
# The CPU has protection keys (+pku: the kernel uses PKRU, so the tests can
# check that a guest's PKRU never reaches its VMM), and the kernel runs with
# full preemption (preempt=full): a vCPU thread can then be preempted at
# any point of the run loop, which the tests of the world switch rely on
# to hit its races (the guest FPU, requests) instead of hiding them.
#
# Variant "nonpt": the same CPU without nested paging (-npt). Stock kvm_amd
# then uses shadow paging (its parameter npt reads N, which guest-init.sh
# prints in its "@@XH PARAMS" line), and so does xkvm-amd, whose load
# message says "AMD-V with shadow paging enabled" instead of "AMD-V with
# NPT enabled": a test boot must show that.
#
# Tunables (environment): NESTED_SMP (default 2), NESTED_MEM (default 1G),
# NESTED_TCG_THREAD (default single). Multi-threaded TCG (QEMU 7.2) was seen
# to crash the guest kernel ("Oops: int3" in __schedule, most likely a stale
# translation of text patched with text_poke_bp) or hang it, in 3 of 6 boots
# running the selftests on stock KVM; single-threaded TCG round-robins the
# vCPUs and was clean in every run, at about the same speed.

MACHINE_VARIANTS=nonpt
case ${machine_variant:-} in
nonpt)
	amd_cpu=EPYC,+svm,-npt,+pku
	MACHINE_DESC="QEMU TCG, -cpu $amd_cpu (AMD-V without NPT: shadow paging), preempt=full"
	MACHINE_EXPECT_XKVM='xkvm-amd: AMD-V with shadow paging enabled'
	MACHINE_REFUSE_XKVM='xkvm-amd: AMD-V with NPT enabled'
	MACHINE_EXPECT_REFERENCE='^@@XH PARAMS reference kvm_amd .* npt=N( |$)'
	# every guest page fault and CR3 write exits: the VMM tests take
	# about twice as long (vmm_qemu_test: 261 s of the usual 300)
	MACHINE_TIME_FACTOR=2
	# make check's time budget: vmm_migrate_test (about 4 minutes a mode
	# here) runs on request, NESTED_VARIANTS=nonpt
	# NESTED_TESTS=vmm_migrate_test (Documentation/testing.md)
	MACHINE_DEFAULT_SKIP="vmm_migrate_test"
	;;
*)
	amd_cpu=EPYC,+svm,+npt,+pku
	MACHINE_DESC="QEMU TCG, -cpu $amd_cpu (AMD-V with NPT), preempt=full"
	;;
esac
MACHINE_XKVM_MODULES=(xkvm xkvm-amd)
MACHINE_XKVM_UNLOAD=(xkvm_amd xkvm)
MACHINE_XKVM_VENDOR=xkvm_amd
MACHINE_STOCK_MODULE=kvm-amd
MACHINE_STOCK_UNLOAD=(kvm_amd kvm)
MACHINE_STOCK_VENDOR=kvm_amd
MACHINE_VMM_TEST=1
# Emulated instructions per second of guest time in bench mode: with
# -icount shift=0 every instruction takes 1 ns.
MACHINE_BENCH_IPS=1000000000

machine_boot()
{
	local kernel=$1 initrd=$2 append=$3 log=$4 tmo=$5 bench=$6
	local -a opts=(-smp "${NESTED_SMP:-2}")

	# -icount shift=0: guest time counts instructions, so TSC deltas
	# repeat run to run; it needs single-threaded TCG.
	[ "$bench" = 1 ] && opts=(-smp 1 -icount shift=0)

	timeout --kill-after=10 "$tmo" \
		qemu-system-x86_64 -accel "tcg,thread=${NESTED_TCG_THREAD:-single}" -cpu "$amd_cpu" \
		-m "${NESTED_MEM:-1G}" "${opts[@]}" \
		-nodefaults -display none -no-reboot -monitor none \
		-serial "file:$log" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=5 panic=-1 preempt=full $append" \
		</dev/null 2>"$log.emu"
}
