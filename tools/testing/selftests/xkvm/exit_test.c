// SPDX-License-Identifier: GPL-2.0
/*
 * exit_test.c - exits that end a guest: a triple fault (long and real
 * mode) is KVM_EXIT_SHUTDOWN, and guest state the CPU refuses to enter is
 * KVM_EXIT_FAIL_ENTRY; control-register state KVM itself checks is refused
 * earlier, by KVM_SET_SREGS (EINVAL).
 *
 * The invalid state is a 64-bit code segment with both CS.L and CS.D set
 * while EFER.LMA is on.  KVM_SET_SREGS accepts it (KVM checks EFER/CR0/CR4
 * consistency and CS.L outside long mode, not CS.D), and both vendors'
 * VM entry refuse it: AMD's VMRUN consistency checks ("EFER.LME, CR0.PG,
 * CR4.PAE, CS.L and CS.D all set" is illegal, VMEXIT_INVALID) and Intel's
 * guest-state checks (IA-32e mode guest: CS.L = 1 requires CS.D = 0).
 */
#include "kselftest_harness.h"
#include "xkvm_util.h"

static void guest_triple_fault(void)
{
	struct desc_ptr empty_idt = { .limit = 0, .base = 0 };

	GUEST_SYNC(1);
	/* #UD cannot be delivered, nor can #GP, nor #DF: shutdown. */
	__asm__ __volatile__("lidt %0\n\tud2" : : "m"(empty_idt) : "memory");
	GUEST_FAIL("survived a triple fault");
}

TEST(triple_fault_shutdown)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_triple_fault);

	vcpu_expect_sync(vcpu, 1);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_SHUTDOWN);
	kvm_vm_free(vm);
}

extern const uint8_t rm_triple_fault[], rm_triple_fault_end[];

__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"rm_triple_fault:\n"
	"	out %al, $0x10\n"
	"	lidt %cs:(rm_tf_idt - rm_triple_fault + 0x1000)\n"
	"	int $0x21\n"
	"	hlt\n"
	"rm_tf_idt:\n"
	"	.word 0\n"
	"	.long 0\n"
	"rm_triple_fault_end:\n"
	".code64\n"
	".popsection\n");

/* The same from real mode: an IVT with limit 0 cannot deliver anything. */
TEST(triple_fault_shutdown_realmode)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	vm = vm_create_realmode(&vcpu, rm_triple_fault,
				rm_triple_fault_end - rm_triple_fault);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	vcpu_run(vcpu);
	/*
	 * Stock kvm_intel without unrestricted guest (ept=0) runs real mode
	 * in virtual-8086 mode and gives up on a fault while delivering the
	 * INT: KVM_INTERNAL_ERROR_SIMUL_EX.  xkvm delivers real-mode events
	 * it cannot redirect in software and shuts down as the CPU would.
	 */
	if (xkvm_reference_mode() && !xkvm_vendor_is_amd() &&
	    xkvm_shadow_paging() &&
	    vcpu->run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		EXPECT_EQ(KVM_INTERNAL_ERROR_SIMUL_EX,
			  vcpu->run->internal.suberror);
	} else {
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_SHUTDOWN);
	}
	kvm_vm_free(vm);
}

static void guest_never_runs(void)
{
	GUEST_FAIL("entered with an invalid code segment");
}

TEST(invalid_state_fail_entry)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_never_runs);
	struct kvm_sregs sregs;

	vcpu_sregs_get(vcpu, &sregs);
	ASSERT_EQ(1, sregs.cs.l);
	sregs.cs.db = 1;
	/* KVM takes the state; only the CPU refuses it. */
	ASSERT_EQ(0, __vcpu_sregs_set(vcpu, &sregs))
		TH_LOG("KVM_SET_SREGS: %s", strerror(errno));

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_FAIL_ENTRY);
	TH_LOG("hardware_entry_failure_reason 0x%llx",
	       (unsigned long long)
	       vcpu->run->fail_entry.hardware_entry_failure_reason);
	/*
	 * AMD-V: the reason is the VMCB exit code VMEXIT_INVALID (-1), which
	 * KVM reports as the 32-bit value 0xffffffff (not zero-extended -1).
	 */
	if (xkvm_vendor_is_amd())
		EXPECT_EQ(0xffffffffULL,
			  vcpu->run->fail_entry.hardware_entry_failure_reason);
	kvm_vm_free(vm);
}

static void guest_done(void)
{
	GUEST_DONE();
}

/* Inconsistent long-mode control state is refused by KVM_SET_SREGS itself. */
TEST(invalid_sregs_rejected)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_done);
	struct kvm_sregs good, bad;

	vcpu_sregs_get(vcpu, &good);

	/* EFER.LME and CR0.PG without CR4.PAE. */
	bad = good;
	bad.cr4 &= ~X86_CR4_PAE;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* EFER.LME and CR0.PG without EFER.LMA. */
	bad = good;
	bad.efer &= ~EFER_LMA;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* EFER.LMA without paging. */
	bad = good;
	bad.cr0 &= ~X86_CR0_PG;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* CR0.PG without CR0.PE. */
	bad = good;
	bad.cr0 &= ~X86_CR0_PE;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* CR0.NW without CR0.CD. */
	bad = good;
	bad.cr0 |= X86_CR0_NW;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* Bits 63:32 of CR0 are reserved. */
	bad = good;
	bad.cr0 |= 1ULL << 32;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* None of them took: the vCPU still runs its guest. */
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
