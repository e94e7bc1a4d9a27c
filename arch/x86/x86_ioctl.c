// SPDX-License-Identifier: GPL-2.0
/*
 * x86_ioctl.c - the x86 side of the ioctl ABI: capabilities, VM and vCPU
 * creation hooks, and dispatch of x86 vCPU ioctls to the file that owns
 * each group (regs.c, cpuid.c, msr.c).
 *
 * KVM_CHECK_EXTENSION answers honestly: a capability is listed here only
 * once it works.  Unknown ioctls get KVM's errnos: -EINVAL on the system
 * and vCPU fds, -ENOTTY on the VM fd.
 */
#include <linux/cpumask.h>
#include <linux/slab.h>
#include <asm/fpu/api.h>

#include <xkvm_x86.h>

int xkvm_arch_max_phys_bits(void)
{
	return boot_cpu_data.x86_phys_bits;
}

int xkvm_arch_check_extension(struct xkvm *vm, long cap)
{
	switch (cap) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
	case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_SYNC_MMU:
	case KVM_CAP_READONLY_MEM:
	case KVM_CAP_CHECK_EXTENSION_VM:
	case KVM_CAP_MULTI_ADDRESS_SPACE:
		return 1;
	case KVM_CAP_NR_VCPUS:
		return min_t(int, num_online_cpus(), XKVM_MAX_VCPUS);
	case KVM_CAP_MAX_VCPUS:
		return XKVM_MAX_VCPUS;
	case KVM_CAP_MAX_VCPU_ID:
		return XKVM_MAX_VCPU_IDS;
	case KVM_CAP_NR_MEMSLOTS:
		return XKVM_MAX_MEMSLOTS;
	default:
		return 0;
	}
}

long xkvm_arch_dev_ioctl(unsigned int ioctl, unsigned long arg)
{
	return -EINVAL;
}

long xkvm_arch_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			unsigned long arg)
{
	return -ENOTTY;
}

long xkvm_arch_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	long r;

	r = xkvm_x86_regs_ioctl(vcpu, ioctl, argp);
	if (r != -ENOIOCTLCMD)
		return r;
	r = xkvm_x86_cpuid_ioctl(vcpu, ioctl, argp);
	if (r != -ENOIOCTLCMD)
		return r;
	return -EINVAL;
}

int xkvm_arch_init_vm(struct xkvm *vm, unsigned long type)
{
	int r;

	if (type)
		return -EINVAL;
	r = xkvm_tdp_init(vm);
	if (r)
		return r;
	if (xkvm_x86_ops->vm_init) {
		r = xkvm_x86_ops->vm_init(vm);
		if (r)
			xkvm_tdp_destroy(vm);
	}
	return r;
}

void xkvm_arch_destroy_vm(struct xkvm *vm)
{
	if (xkvm_x86_ops->vm_destroy)
		xkvm_x86_ops->vm_destroy(vm);
	xkvm_tdp_destroy(vm);
}

int xkvm_arch_vcpu_create(struct xkvm_vcpu *vcpu)
{
	int r;

	if (!fpu_alloc_guest_fpstate(&vcpu->arch.guest_fpu))
		return -ENOMEM;
	r = xkvm_x86_ops->vcpu_create(vcpu);
	if (r) {
		fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
		return r;
	}
	vcpu->arch.xcr0 = XFEATURE_MASK_FP;
	xkvm_x86_reset_regs(vcpu);
	return 0;
}

void xkvm_arch_vcpu_destroy(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_ops->vcpu_free(vcpu);
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
	kvfree(vcpu->arch.cpuid);
}
