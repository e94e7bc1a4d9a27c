// SPDX-License-Identifier: GPL-2.0
/*
 * demo.c - a small guest on the device under test (XKVM_DEV, default
 * /dev/xkvm), for the README's demo command.  The guest, C code of this
 * binary in 64-bit long mode, prints through a console I/O port and
 * computes a few things; the host shows the console output, what the guest
 * reported, and which exits it took.  Exits non-zero if anything is off.
 * Not a selftest (not in TESTS).
 */
#include <stdio.h>
#include <stdlib.h>

#include "xkvm_util.h"

#define CONSOLE_PORT	0xe9
#define SIEVE_SIZE	10000

static uint8_t sieve[SIEVE_SIZE];

static void console_puts(const char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

static void console_putu(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	console_puts(&buf[i]);
}

static uint64_t count_primes(void)
{
	uint64_t i, j, n = 0;

	for (i = 2; i < SIEVE_SIZE; i++) {
		if (sieve[i])
			continue;
		n++;
		for (j = i * i; j < SIEVE_SIZE; j += i)
			sieve[j] = 1;
	}
	return n;
}

static uint64_t fib(unsigned int n)
{
	uint64_t a = 0, b = 1, t;

	while (n--) {
		t = a + b;
		a = b;
		b = t;
	}
	return a;
}

static void guest_main(void)
{
	uint64_t primes, f;

	console_puts("Hello from a 64-bit guest running C code!\n");
	console_puts("CR0 has paging on: ");
	console_puts(read_cr0() & X86_CR0_PG ? "yes\n" : "no\n");
	primes = count_primes();
	console_puts("primes below 10000: ");
	console_putu(primes);
	console_puts("\nfib(90) = ");
	f = fib(90);
	console_putu(f);
	console_puts("\n");
	GUEST_SYNC_ARGS(primes, f, 0, 0);
	console_puts("Goodbye.\n");
	GUEST_DONE();
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned long nr_console = 0, nr_ucalls = 0;
	char line[256];
	size_t len = 0;
	int ok = 1;

	printf("demo: device %s\n", xkvm_dev_path());
	vm = vm_create_with_one_vcpu(&vcpu, guest_main);
	printf("demo: VM created, one vCPU in 64-bit mode at guest_main (0x%llx)\n",
	       (unsigned long long)(uintptr_t)guest_main);

	for (;;) {
		struct kvm_run *run = vcpu->run;

		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.port == CONSOLE_PORT &&
		    run->io.direction == KVM_EXIT_IO_OUT) {
			char c = *(char *)vcpu_io_data(vcpu);

			nr_console++;
			if (c == '\n' || len == sizeof(line) - 1) {
				line[len] = 0;
				printf("guest: %s\n", line);
				len = 0;
			} else {
				line[len++] = c;
			}
			continue;
		}
		nr_ucalls++;
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			printf("demo: guest reported %llu primes below %d (want 1229), ",
			       (unsigned long long)uc.args[0], SIEVE_SIZE);
			printf("fib(90) = %llu (want 2880067194370816120)\n",
			       (unsigned long long)uc.args[1]);
			ok &= uc.args[0] == 1229 &&
			      uc.args[1] == 2880067194370816120ULL;
			continue;
		case UCALL_DONE:
			break;
		case UCALL_NONE:
			fprintf(stderr, "demo: unexpected exit %u (%s)%s\n",
				run->exit_reason, exit_reason_str(run->exit_reason),
				exit_details(vcpu));
			return 1;
		default:
			fprintf(stderr, "demo: %s\n", ucall_describe(&uc));
			return 1;
		}
		break;
	}
	printf("demo: guest done after %lu console exits and %lu ucalls: %s\n",
	       nr_console, nr_ucalls, ok ? "OK" : "WRONG RESULTS");
	kvm_vm_free(vm);
	return ok ? 0 : 1;
}
