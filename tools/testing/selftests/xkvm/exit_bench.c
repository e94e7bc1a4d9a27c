// SPDX-License-Identifier: GPL-2.0
/*
 * exit_bench.c - round-trip cost of guest exits, measured in guest TSC
 * ticks by the guest itself (RDTSC around N iterations):
 *   (a) OUT to a port: an exit all the way to this process and back;
 *   (b) CPUID: an exit the hypervisor handles in the kernel.
 * Prints "bench pio_user_exit <ticks>" and "bench cpuid_kernel_exit
 * <ticks>" (TSC ticks per round trip, rounded down), and "bench-tsc-khz
 * <kHz>", the TSC frequency (KVM_GET_TSC_KHZ).  Meant for an emulated
 * machine whose clock counts instructions (QEMU -icount shift=0, Bochs
 * with sync=none): there a tick is a fixed number of emulated
 * instructions, which the harness converts to (tools/testing/nested/
 * run.sh --bench).  Not a selftest.
 *
 * Usage: exit_bench [iterations]   (default 1000, for each measurement)
 */
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>

#include "xkvm_util.h"

#define BENCH_PORT	0x80
#define WARMUP		16

static void guest_bench(uint64_t n)
{
	uint32_t a, b, c, d;
	uint64_t t0, t1, i;

	for (i = 0; i < WARMUP; i++)
		outb(BENCH_PORT, 0);
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		outb(BENCH_PORT, 0);
	t1 = rdtsc();
	GUEST_SYNC_ARGS(1, t1 - t0, n, 0);

	for (i = 0; i < WARMUP; i++)
		cpuid(0, 0, &a, &b, &c, &d);
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		cpuid(0, 0, &a, &b, &c, &d);
	t1 = rdtsc();
	GUEST_SYNC_ARGS(2, t1 - t0, n, 0);
	GUEST_DONE();
}

int main(int argc, char **argv)
{
	static const char * const names[] = {
		[1] = "pio_user_exit",
		[2] = "cpuid_kernel_exit",
	};
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
	unsigned long nr_port_exits = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int results = 0;

	if (!n) {
		fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
		return 2;
	}
	vm = vm_create_with_one_vcpu(&vcpu, guest_bench);
	vcpu_args_set(vcpu, 1, n);
	printf("bench-tsc-khz %d\n", ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	for (;;) {
		struct kvm_run *run = vcpu->run;
		uint64_t cmd;

		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == BENCH_PORT) {
			nr_port_exits++;
			continue;
		}
		cmd = get_ucall(vcpu, &uc);
		if (cmd == UCALL_DONE)
			break;
		if (cmd != UCALL_SYNC || uc.args[0] < 1 || uc.args[0] > 2) {
			fprintf(stderr, "exit_bench: unexpected exit %u (%s)%s\n",
				run->exit_reason,
				exit_reason_str(run->exit_reason),
				exit_details(vcpu));
			return 1;
		}
		printf("bench %s %llu\n", names[uc.args[0]],
		       (unsigned long long)(uc.args[1] / uc.args[2]));
		fflush(stdout);
		results++;
	}
	kvm_vm_free(vm);
	if (results != 2 || nr_port_exits != n + WARMUP) {
		fprintf(stderr, "exit_bench: %d results, %lu port exits (want 2, %llu)\n",
			results, nr_port_exits, (unsigned long long)(n + WARMUP));
		return 1;
	}
	return 0;
}
