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
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/msr.h>
#include <asm/tsc.h>

#include <xkvm_x86.h>
#include "dev/irqchip.h"
#include "dev/lapic.h"

/*
 * Guest-physical address bits a memslot may use: the host's, but no more
 * than the 4-level second-level tables map (48); higher frames would
 * alias lower ones in the tables.
 */
int xkvm_arch_max_phys_bits(void)
{
	return min_t(int, boot_cpu_data.x86_phys_bits, 48);
}

#define XKVM_X2APIC_API_VALID	(KVM_X2APIC_API_USE_32BIT_IDS | \
				 KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK)

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
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_SET_TSS_ADDR:
	case KVM_CAP_SET_IDENTITY_MAP_ADDR:
	case KVM_CAP_MP_STATE:
	case KVM_CAP_GET_MSR_FEATURES:
	case KVM_CAP_DEBUGREGS:
	case KVM_CAP_GET_TSC_KHZ:
	case KVM_CAP_VCPU_EVENTS:
	case KVM_CAP_USER_NMI:
	case KVM_CAP_BINARY_STATS_FD:
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_HLT:
	case KVM_CAP_PIT:
	case KVM_CAP_PIT2:
	case KVM_CAP_PIT_STATE2:
	case KVM_CAP_REINJECT_CONTROL:
	case KVM_CAP_IRQ_INJECT_STATUS:
	case KVM_CAP_SPLIT_IRQCHIP:
	case KVM_CAP_TSC_DEADLINE_TIMER:
	case KVM_CAP_ENABLE_CAP_VM:
	case KVM_CAP_SET_BOOT_CPU_ID:
	case KVM_CAP_SIGNAL_MSI:
	case KVM_CAP_IRQFD:
	case KVM_CAP_IRQFD_RESAMPLE:
	case KVM_CAP_KVMCLOCK_CTRL:
	case KVM_CAP_IOEVENTFD:
	case KVM_CAP_IOEVENTFD_ANY_LENGTH:
	case KVM_CAP_IOEVENTFD_NO_LENGTH:
	case KVM_CAP_COALESCED_PIO:
		return 1;
	case KVM_CAP_COALESCED_MMIO:
		return XKVM_COALESCED_MMIO_PAGE_OFFSET;
	case KVM_CAP_ADJUST_CLOCK:
		return KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME |
		       KVM_CLOCK_HOST_TSC;
	/* no TSC scaling: KVM_CAP_TSC_CONTROL is 0, as on KVM without it */
	case KVM_CAP_X2APIC_API:
		return XKVM_X2APIC_API_VALID;
	case KVM_CAP_IRQ_ROUTING:
		/* routes exist only with an in-kernel irqchip, as on KVM */
		return XKVM_MAX_IRQ_ROUTES;
	case KVM_CAP_XSAVE:
	case KVM_CAP_XCRS:
		return boot_cpu_has(X86_FEATURE_XSAVE);
	case KVM_CAP_XSAVE2:
		/* KVM_GET_XSAVE2's size: no AMX, so struct kvm_xsave's */
		return max_t(u32, sizeof(struct kvm_xsave),
			     xkvm_x86_xsave_size(xkvm_x86_supported_xcr0()));
	case KVM_CAP_MCE:
		return XKVM_MAX_MCE_BANKS;
	case KVM_CAP_NR_VCPUS:
		return min_t(int, num_online_cpus(), XKVM_MAX_VCPUS);
	case KVM_CAP_MAX_VCPUS:
		return XKVM_MAX_VCPUS;
	case KVM_CAP_MAX_VCPU_ID:
		return XKVM_MAX_VCPU_IDS;
	case KVM_CAP_NR_MEMSLOTS:
		return XKVM_MAX_MEMSLOTS;
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		return XKVM_DIRTY_LOG_MANUAL_CAPS;
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:	/* x86 is TSO: the same ring */
		return xkvm_dirty_ring_max_bytes();
	default:
		return 0;
	}
}

long xkvm_arch_dev_ioctl(unsigned int ioctl, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	long r;

	switch (ioctl) {
	case KVM_GET_SUPPORTED_CPUID:
		return xkvm_x86_get_supported_cpuid(argp);
	}
	r = xkvm_x86_msr_dev_ioctl(ioctl, argp);
	return r == -ENOIOCTLCMD ? -EINVAL : r;
}

static long xkvm_x86_set_identity_map_addr(struct xkvm *vm,
					   u64 __user *argp)
{
	u64 addr;
	long r = -EINVAL;

	mutex_lock(&vm->lock);
	if (vm->created_vcpus)
		goto out;	/* checked first, as on KVM */
	r = -EFAULT;
	if (copy_from_user(&addr, argp, sizeof(addr)))
		goto out;
	vm->arch.identity_map_addr = addr;
	r = 0;
out:
	mutex_unlock(&vm->lock);
	return r;
}

static long xkvm_x86_enable_x2apic_api(struct xkvm *vm, u64 flags)
{
	if (flags & ~XKVM_X2APIC_API_VALID)
		return -EINVAL;
	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->arch.x2apic_format,
		   flags & KVM_X2APIC_API_USE_32BIT_IDS);
	WRITE_ONCE(vm->arch.x2apic_broadcast_quirk_disabled,
		   flags & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK);
	mutex_unlock(&vm->lock);
	return 0;
}

/* KVM_CAP_MAX_VCPU_ID: set once (again with the same value is fine). */
static long xkvm_x86_enable_max_vcpu_id(struct xkvm *vm, u64 max)
{
	long r = -EINVAL;

	if (max > XKVM_MAX_VCPU_IDS)
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->arch.max_vcpu_ids == max || !vm->arch.max_vcpu_ids) {
		vm->arch.max_vcpu_ids = max;
		r = 0;
	}
	mutex_unlock(&vm->lock);
	return r;
}

static long xkvm_x86_vm_enable_cap(struct xkvm *vm,
				   struct kvm_enable_cap __user *argp)
{
	struct kvm_enable_cap cap;
	long r;

	if (copy_from_user(&cap, argp, sizeof(cap)))
		return -EFAULT;
	/* a generic cap on KVM, whose flags it does not look at */
	if (cap.cap == KVM_CAP_DIRTY_LOG_RING ||
	    cap.cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL)
		return xkvm_dirty_ring_enable(vm, cap.args[0]);
	if (cap.flags)
		return -EINVAL;
	switch (cap.cap) {
	case KVM_CAP_X2APIC_API:
		return xkvm_x86_enable_x2apic_api(vm, cap.args[0]);
	case KVM_CAP_MAX_VCPU_ID:
		return xkvm_x86_enable_max_vcpu_id(vm, cap.args[0]);
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		return xkvm_enable_manual_dirty_log(vm, cap.args[0]);
	}
	r = xkvm_x86_irqchip_enable_cap(vm, &cap);
	return r == -ENOIOCTLCMD ? -EINVAL : r;
}

#define XKVM_MIN_MMU_PAGES	64	/* KVM's KVM_MIN_ALLOC_MMU_PAGES */

static long xkvm_x86_set_boot_cpu_id(struct xkvm *vm, unsigned long id)
{
	long r = 0;

	mutex_lock(&vm->lock);
	if (vm->created_vcpus)
		r = -EBUSY;
	else
		vm->arch.bsp_vcpu_id = id;
	mutex_unlock(&vm->lock);
	return r;
}

long xkvm_arch_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			unsigned long arg)
{
	long r;

	switch (ioctl) {
	case KVM_SET_TSS_ADDR:
		/* The TSS for real-mode emulation; xkvm runs real mode natively. */
		if (arg > (unsigned int)(-3 * PAGE_SIZE))
			return -EINVAL;
		vm->arch.tss_addr = arg;
		return 0;
	case KVM_SET_IDENTITY_MAP_ADDR:
		return xkvm_x86_set_identity_map_addr(vm, (void __user *)arg);
	case KVM_ENABLE_CAP:
		return xkvm_x86_vm_enable_cap(vm, (void __user *)arg);
	case KVM_SET_BOOT_CPU_ID:
		return xkvm_x86_set_boot_cpu_id(vm, arg);
	case KVM_SET_NR_MMU_PAGES:
		/*
		 * A budget for KVM's shadow page tables, which two-dimensional
		 * paging does not use; the deprecated KVM_GET_NR_MMU_PAGES is
		 * gone from KVM (6.12 answers -ENOTTY), and from xkvm.
		 */
		return arg < XKVM_MIN_MMU_PAGES ? -EINVAL : 0;
	}
	r = xkvm_kvmclock_vm_ioctl(vm, ioctl, (void __user *)arg);
	if (r == -ENOIOCTLCMD)
		r = xkvm_x86_irqchip_vm_ioctl(vm, ioctl, (void __user *)arg);
	return r == -ENOIOCTLCMD ? -ENOTTY : r;
}

/*
 * Without an in-kernel LAPIC only RUNNABLE exists, as on KVM.
 * SIPI_RECEIVED means an INIT was taken and a SIPI waits.
 */
static long xkvm_x86_set_mp_state(struct xkvm_vcpu *vcpu, u32 state)
{
	switch (state) {
	case KVM_MP_STATE_RUNNABLE:
		break;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_HALTED:
	case KVM_MP_STATE_INIT_RECEIVED:
	case KVM_MP_STATE_SIPI_RECEIVED:
	case KVM_MP_STATE_AP_RESET_HOLD:
		if (!vcpu->arch.apic)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (state == KVM_MP_STATE_SIPI_RECEIVED) {
		state = KVM_MP_STATE_INIT_RECEIVED;
		xkvm_lapic_queue_sipi(vcpu);
	}
	vcpu->arch.mp_state = state;
	xkvm_make_request(XKVM_REQ_EVENT, vcpu);
	return 0;
}

/* KVM_GET/SET_MP_STATE */
static long xkvm_x86_misc_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
				void __user *argp)
{
	struct kvm_mp_state mp;

	switch (ioctl) {
	case KVM_GET_MP_STATE:
		xkvm_lapic_accept_events(vcpu);
		mp.mp_state = vcpu->arch.mp_state;
		return copy_to_user(argp, &mp, sizeof(mp)) ? -EFAULT : 0;
	case KVM_SET_MP_STATE:
		if (copy_from_user(&mp, argp, sizeof(mp)))
			return -EFAULT;
		return xkvm_x86_set_mp_state(vcpu, mp.mp_state);
	default:
		return -ENOIOCTLCMD;
	}
}

/* Each group handles its ioctls and answers -ENOIOCTLCMD to the rest. */
static long (*const xkvm_x86_vcpu_ioctl_groups[])(struct xkvm_vcpu *vcpu,
						  unsigned int ioctl,
						  void __user *argp) = {
	xkvm_x86_regs_ioctl,
	xkvm_x86_cpuid_ioctl,
	xkvm_x86_msr_ioctl,
	xkvm_x86_fpu_ioctl,
	xkvm_x86_events_ioctl,
	xkvm_x86_debugreg_ioctl,
	xkvm_x86_misc_ioctl,
	xkvm_x86_irqchip_vcpu_ioctl,
	xkvm_kvmclock_vcpu_ioctl,
};

long xkvm_arch_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	long r;
	int i;

	for (i = 0; i < ARRAY_SIZE(xkvm_x86_vcpu_ioctl_groups); i++) {
		r = xkvm_x86_vcpu_ioctl_groups[i](vcpu, ioctl, argp);
		if (r != -ENOIOCTLCMD)
			return r;
	}
	return -EINVAL;
}

int xkvm_arch_init_vm(struct xkvm *vm, unsigned long type)
{
	int r;

	if (type)
		return -EINVAL;
	vm->arch.tsc_offset0 = -rdtsc();
	xkvm_kvmclock_vm_init(vm);
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
	xkvm_x86_irqchip_destroy(vm);
	if (xkvm_x86_ops->vm_destroy)
		xkvm_x86_ops->vm_destroy(vm);
	xkvm_tdp_destroy(vm);
}

int xkvm_arch_vcpu_create(struct xkvm_vcpu *vcpu)
{
	u32 max_ids = READ_ONCE(vcpu->vm->arch.max_vcpu_ids);
	int r;

	if (max_ids && vcpu->vcpu_id >= max_ids)
		return -EINVAL;
	if (!fpu_alloc_guest_fpstate(&vcpu->arch.guest_fpu))
		return -ENOMEM;
	r = xkvm_x86_ops->vcpu_create(vcpu);
	if (r)
		goto free_fpu;
	vcpu->arch.xcr0 = XFEATURE_MASK_FP;
	vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	xkvm_x86_msrs_reset(vcpu);
	xkvm_kvmclock_vcpu_init(vcpu);
	xkvm_x86_debugreg_reset(vcpu);
	xkvm_x86_reset_regs(vcpu);
	r = xkvm_x86_irqchip_vcpu_create(vcpu);
	if (r)
		goto free_vendor;
	return 0;

free_vendor:
	xkvm_x86_ops->vcpu_free(vcpu);
free_fpu:
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
	return r;
}

void xkvm_arch_vcpu_destroy(struct xkvm_vcpu *vcpu)
{
	xkvm_lapic_destroy(vcpu);
	xkvm_x86_ops->vcpu_free(vcpu);
	xkvm_tdp_vcpu_free(vcpu);
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
	kvfree(vcpu->arch.cpuid);
}
