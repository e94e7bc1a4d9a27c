# SPDX-License-Identifier: GPL-2.0
#
# machines/amd.sh - the "amd" test machine of the nested harness: QEMU TCG
# emulating an AMD EPYC with SVM and nested paging (NPT), booting Debian's
# kernel with -kernel/-initrd. Sourced by run.sh; owns only the machine
# description and how to boot it.
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
# Tunables (environment): NESTED_SMP (default 2), NESTED_MEM (default 1G),
# NESTED_TCG_THREAD (default single). Multi-threaded TCG (QEMU 7.2) was seen
# to crash the guest kernel ("Oops: int3" in __schedule, most likely a stale
# translation of text patched with text_poke_bp) or hang it, in 3 of 6 boots
# running the selftests on stock KVM; single-threaded TCG round-robins the
# vCPUs and was clean in every run, at about the same speed.

MACHINE_DESC="QEMU TCG, -cpu EPYC,+svm,+npt,+pku (AMD-V with NPT), preempt=full"
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
		qemu-system-x86_64 -accel "tcg,thread=${NESTED_TCG_THREAD:-single}" -cpu EPYC,+svm,+npt,+pku \
		-m "${NESTED_MEM:-1G}" "${opts[@]}" \
		-nodefaults -display none -no-reboot -monitor none \
		-serial "file:$log" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=5 panic=-1 preempt=full $append" \
		</dev/null 2>"$log.emu"
}
