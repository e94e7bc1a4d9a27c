// SPDX-License-Identifier: GPL-2.0
/*
 * host_xcr0_test.c - the host's XCR0 after a guest changed XCR0.  Under
 * an emulated AMD-V that does not intercept XSETBV (QEMU's TCG), the
 * guest's XSETBV reaches the CPU's XCR0 directly, and it is the
 * hypervisor's exit path that must put the host's value back.  Its own
 * binary because a hypervisor that fails this can take the host down
 * (the test machine may not survive it): listed last.
 */
#include <sched.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "x86_util.h"

/* XCR0 bits the supported CPUID offers (0 without XSAVE). */
static uint64_t supported_xcr0(void)
{
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid2_find(c, 0xd, 0);
	uint64_t x = 0;

	if ((cpuid2_find(c, 1, 0)->ecx & CPUID1_ECX_XSAVE) && e)
		x = e->eax | ((uint64_t)e->edx << 32);
	free(c);
	return x;
}

static void guest_own_xcr0(void)
{
	int i;

	/*
	 * The first pass only exits (and faults in every page it touches),
	 * so that in the second, CR4.OSXSAVE and XCR0 change with no VM exit
	 * in between.
	 */
	for (i = 0; i < 2; i++) {
		if (i) {
			write_cr4(read_cr4() | X86_CR4_OSXSAVE);
			__asm__ __volatile__("xsetbv"
					     : : "c"(0), "a"(3), "d"(0) : "memory");
		}
		GUEST_SYNC(i ? xgetbv(0) : 0);
	}
}

/*
 * The host's XCR0 is back when KVM_RUN returns, whatever the guest did
 * to XCR0 during the run -- even if the CPU let it execute XSETBV without
 * an exit (QEMU's TCG AMD-V does): KVM restores the host's XCR0 on exit
 * whenever the guest has CR4.OSXSAVE at that point.  A hypervisor that
 * does not leaves the guest's XCR0 in the host CPU: the kernel's own
 * XRSTOR then faults ("Bad FPU state detected") and host code using AVX
 * gets #UD, which may end the whole test machine: keep this binary last
 * in TEST_PROGS.
 */
TEST(host_xcr0_after_guest_xsetbv)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t sup = supported_xcr0(), host_xcr0;
	struct ucall uc;
	cpu_set_t cpus;

	/* Stay on the CPU whose XCR0 the guest changes. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	vm = vm_create_with_one_vcpu(&vcpu, guest_own_xcr0);
	if (!(sup & XFEATURE_MASK_SSE))
		SKIP(goto out, "no XSAVE");
	host_xcr0 = xgetbv(0);
	if (host_xcr0 == 3)
		SKIP(goto out, "the host's XCR0 is already x87|SSE");
	free(vcpu_set_supported_cpuid(vcpu));
	vcpu_expect_sync(vcpu, 0);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(host_xcr0, xgetbv(0));
	TH_LOG("guest XCR0 0x%llx, host XCR0 0x%llx after the exit",
	       (unsigned long long)uc.args[0], (unsigned long long)xgetbv(0));
	vcpu_expect_done(vcpu);
out:
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
