// SPDX-License-Identifier: GPL-2.0
/*
 * interrupt_test.c - leaving KVM_RUN without a guest exit: a signal
 * interrupting a spinning guest (-EINTR, KVM_EXIT_INTR, the guest resumes
 * intact), and kvm_run->immediate_exit, both before any guest instruction
 * ran and to complete a pending port-I/O read without running further
 * (the use api.rst documents for it).
 */
#include <signal.h>
#include <time.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

#define FLAG_GPA	0x10000000ULL

static volatile sig_atomic_t nr_signals;

static void on_sigusr1(int sig)
{
	nr_signals++;
}

static void guest_spin(void)
{
	volatile uint64_t *stop = (volatile uint64_t *)FLAG_GPA;
	uint64_t n = 0;

	/*
	 * RFLAGS.IF=1 changes nothing for the host (its interrupts exit
	 * either way and none is injected), but Bochs' VT-x misses the
	 * external-interrupt exits of a guest entered with IF=0 that never
	 * changes IF, and its CPU would spin here for good.
	 */
	__asm__ __volatile__("sti" : : : "memory");
	while (!*stop)
		n++;
	GUEST_SYNC(n);
	GUEST_DONE();
}

TEST(signal_interrupts_run)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct sigevent sev = {
		.sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = SIGUSR1,
	};
	/* First shot after 50 ms, then every 20 ms until disarmed. */
	struct itimerspec its = {
		.it_value = { .tv_nsec = 50 * 1000 * 1000 },
		.it_interval = { .tv_nsec = 20 * 1000 * 1000 },
	};
	struct itimerspec off = { 0 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_spin);
	uint64_t *flag;
	struct ucall uc;
	timer_t timer;
	int r, i;

	flag = vm_mem_region_add_mapped(vm, 1, FLAG_GPA, PAGE_SIZE, 0);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, timer_create(CLOCK_MONOTONIC, &sev, &timer));
	ASSERT_EQ(0, timer_settime(timer, 0, &its, NULL));

	/* Interrupt the spinning guest a few times; it must keep its state. */
	for (i = 0; i < 3; i++) {
		vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;
		r = __vcpu_run(vcpu);
		ASSERT_EQ(-1, r);
		ASSERT_EQ(EINTR, errno);
		EXPECT_EQ(KVM_EXIT_INTR, vcpu->run->exit_reason)
			TH_LOG("exit reason %u (%s)", vcpu->run->exit_reason,
			       exit_reason_str(vcpu->run->exit_reason));
	}
	ASSERT_EQ(0, timer_settime(timer, 0, &off, NULL));
	EXPECT_LE(3, nr_signals);

	/* Signals handled, none pending: the guest now runs to its end. */
	*flag = 1;
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_LT(0, uc.args[0]) TH_LOG("the guest never ran");
	vcpu_expect_done(vcpu);
	timer_delete(timer);
	kvm_vm_free(vm);
}

extern const uint8_t rm_out_hlt[], rm_out_hlt_end[];
extern const uint8_t rm_in_out[], rm_in_out_after_in[], rm_in_out_end[];

__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"rm_out_hlt:\n"
	"	out %al, $0x10\n"
	"	hlt\n"
	"rm_out_hlt_end:\n"
	"rm_in_out:\n"
	"	in $0x10, %al\n"
	"rm_in_out_after_in:\n"
	"	out %al, $0x11\n"
	"	hlt\n"
	"rm_in_out_end:\n"
	".code64\n"
	".popsection\n");

TEST(immediate_exit_before_run)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_realmode(&vcpu, rm_out_hlt,
					       rm_out_hlt_end - rm_out_hlt);
	struct kvm_regs regs;
	int i;

	/* KVM_RUN returns at once, every time, until the flag is cleared. */
	vcpu->run->immediate_exit = 1;
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-1, __vcpu_run(vcpu));
		EXPECT_EQ(EINTR, errno);
	}
	/* Not a single guest instruction ran. */
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(REALMODE_CODE_GPA, regs.rip);

	vcpu->run->immediate_exit = 0;
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0x10, vcpu->run->io.port);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	kvm_vm_free(vm);
}

TEST(immediate_exit_completes_pio_in)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_realmode(&vcpu, rm_in_out,
					       rm_in_out_end - rm_in_out);
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	ASSERT_EQ(KVM_EXIT_IO_IN, run->io.direction);
	ASSERT_EQ(0x10, run->io.port);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x5a;

	/* Re-entering with immediate_exit finishes the IN and stops. */
	run->immediate_exit = 1;
	EXPECT_EQ(-1, __vcpu_run(vcpu));
	EXPECT_EQ(EINTR, errno);
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(0x5a, regs.rax & 0xff);
	EXPECT_EQ(REALMODE_CODE_GPA + (rm_in_out_after_in - rm_in_out), regs.rip);

	run->immediate_exit = 0;
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(KVM_EXIT_IO_OUT, run->io.direction);
	EXPECT_EQ(0x11, run->io.port);
	EXPECT_EQ(0x5a, *(uint8_t *)vcpu_io_data(vcpu));
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
