// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_state_test.c - KVM_GET/SET_MP_STATE without an in-kernel irqchip
 * (a new vCPU is RUNNABLE, which is the only state userspace may set; a
 * guest HLT exits to userspace and leaves it RUNNABLE), and the VM-wide
 * real-mode helpers KVM_SET_TSS_ADDR (the three pages must end below
 * 4 GiB) and KVM_SET_IDENTITY_MAP_ADDR (only before the first vCPU), with
 * their capabilities.
 */
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "x86_util.h"

static int __get_mp_state(struct kvm_vcpu *vcpu, struct kvm_mp_state *mp)
{
	return ioctl(vcpu->fd, KVM_GET_MP_STATE, mp);
}

static uint32_t get_mp_state(struct kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = 0xdead };

	TEST_ASSERT(!__get_mp_state(vcpu, &mp), "KVM_GET_MP_STATE failed");
	return mp.mp_state;
}

static int set_mp_state(struct kvm_vcpu *vcpu, uint32_t state)
{
	struct kvm_mp_state mp = { .mp_state = state };

	return ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
}

TEST(mp_state_without_irqchip)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *bsp = vm_vcpu_add_raw(vm, 0);
	struct kvm_vcpu *ap = vm_vcpu_add_raw(vm, 1);
	static const uint32_t refused[] = {
		KVM_MP_STATE_UNINITIALIZED, KVM_MP_STATE_INIT_RECEIVED,
		KVM_MP_STATE_HALTED, KVM_MP_STATE_SIPI_RECEIVED,
		KVM_MP_STATE_STOPPED, KVM_MP_STATE_CHECK_STOP,
		KVM_MP_STATE_OPERATING, KVM_MP_STATE_LOAD,
		KVM_MP_STATE_AP_RESET_HOLD, 10, 11, 1000, 0xffffffff,
	};
	unsigned int i;

	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_MP_STATE));
	/* Without an in-kernel LAPIC every vCPU starts RUNNABLE. */
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(bsp));
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(ap));
	EXPECT_EQ(0, set_mp_state(ap, KVM_MP_STATE_RUNNABLE));

	/* ... and RUNNABLE is the only state userspace may set. */
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		EXPECT_EQ(-1, set_mp_state(ap, refused[i]))
			TH_LOG("mp_state %u accepted", refused[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(ap));

	EXPECT_EQ(-1, ioctl(ap->fd, KVM_SET_MP_STATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, __get_mp_state(ap, NULL));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

static void guest_halt(void)
{
	GUEST_SYNC(1);
	hlt();
	GUEST_SYNC(2);
}

/* HLT exits to userspace (KVM_EXIT_HLT), and the vCPU stays RUNNABLE. */
TEST(halt_without_irqchip)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_halt);
	struct kvm_regs regs;
	uint64_t rip;

	vcpu_expect_sync(vcpu, 1);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(vcpu));
	/* RIP is past the HLT: running again continues. */
	vcpu_regs_get(vcpu, &regs);
	rip = regs.rip;
	EXPECT_EQ(0, set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE));
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(rip, regs.rip);
	vcpu_expect_sync(vcpu, 2);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(tss_addr)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vm *vm2 = vm_create_barebones();

	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_SET_TSS_ADDR));
	/* What QEMU uses, and the highest address that fits 3 pages. */
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL));
	EXPECT_EQ(0, ioctl(vm2->fd, KVM_SET_TSS_ADDR, 0xffffd000UL));
	/* The three pages must end at or below 4 GiB. */
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xffffd001UL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffff000UL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_TSS_ADDR, 0x100000000UL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_TSS_ADDR, ~0UL));
	EXPECT_EQ(EINVAL, errno);
	/* Not a system or vCPU ioctl. */
	EXPECT_EQ(-1, ioctl(vm->kvm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL));
	kvm_vm_free(vm2);
	kvm_vm_free(vm);
}

static void guest_done(void)
{
	GUEST_DONE();
}

TEST(identity_map_addr)
{
	struct kvm_vm *vm = vm_create_long_mode();
	struct kvm_vcpu *vcpu;
	uint64_t addr = 0xfeffc000;

	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_SET_IDENTITY_MAP_ADDR));
	/* Before the first vCPU: accepted (repeatedly); a bad pointer faults. */
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &addr));
	addr = 0xfffbc000;
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &addr));
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* Once a vCPU exists: EINVAL, checked before the argument is read. */
	vcpu = vm_vcpu_add(vm, 0, guest_done);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &addr));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, NULL));
	EXPECT_EQ(EINVAL, errno);
	/* KVM_SET_TSS_ADDR has no such rule. */
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL));

	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
