// SPDX-License-Identifier: GPL-2.0
/*
 * msr_ioctl.c - the MSR ioctls: KVM_GET_MSR_INDEX_LIST and
 * KVM_GET_MSR_FEATURE_INDEX_LIST (system fd), KVM_GET_MSRS on the system
 * fd (feature MSRs) and KVM_GET_MSRS/KVM_SET_MSRS on a vCPU.
 *
 * As on KVM, a batch is processed in order and stops at the first MSR
 * that fails; the return value is the number of MSRs processed.  Every
 * MSR in the index list is accepted by KVM_SET_MSRS with the value
 * KVM_GET_MSRS returns.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/kvm_para.h>
#include <asm/msr-index.h>
#include <asm/msr.h>

#include <xkvm_x86.h>

#define XKVM_MAX_IO_MSRS	256

/* MSRs userspace saves and restores (KVM_GET_MSR_INDEX_LIST). */
static const u32 xkvm_msrs_to_save[] = {
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR,
	MSR_IA32_TSC, MSR_IA32_CR_PAT, MSR_IA32_TSC_ADJUST,
	MSR_IA32_MISC_ENABLE, MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL,
	/* emulated, in KVM's order */
	MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK,
	MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW,
};

/* MSRs describing what the virtual CPU can offer (feature MSRs). */
static const u32 xkvm_feature_msrs[] = {
	MSR_IA32_UCODE_REV,
};

static long xkvm_msr_list(struct kvm_msr_list __user *uarg, const u32 *list,
			  u32 n)
{
	struct kvm_msr_list hdr;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nmsrs < n) {
		hdr.nmsrs = n;
		if (copy_to_user(uarg, &hdr, sizeof(hdr)))
			return -EFAULT;
		return -E2BIG;
	}
	hdr.nmsrs = n;
	if (copy_to_user(uarg, &hdr, sizeof(hdr)) ||
	    copy_to_user(uarg->indices, list, n * sizeof(u32)))
		return -EFAULT;
	return 0;
}

static int xkvm_get_feature_msr(u32 index, u64 *data)
{
	switch (index) {
	case MSR_IA32_UCODE_REV:
		if (rdmsrl_safe(index, data))
			*data = 0;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Run @fn over the entries of a struct kvm_msrs; return how many
 * succeeded.  @vcpu is NULL for the system fd's feature MSRs.
 */
static long xkvm_msr_io(struct xkvm_vcpu *vcpu, struct kvm_msrs __user *uarg,
			bool write)
{
	struct kvm_msr_entry *e;
	struct kvm_msrs hdr;
	long r;
	u32 i;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nmsrs >= XKVM_MAX_IO_MSRS)
		return -E2BIG;
	e = memdup_user(uarg->entries, array_size(sizeof(*e), hdr.nmsrs));
	if (IS_ERR(e))
		return PTR_ERR(e);

	for (i = 0; i < hdr.nmsrs; i++) {
		int err;

		if (!vcpu)
			err = xkvm_get_feature_msr(e[i].index, &e[i].data);
		else if (write)
			err = xkvm_x86_set_msr(vcpu, e[i].index, e[i].data, true);
		else
			err = xkvm_x86_get_msr(vcpu, e[i].index, &e[i].data, true);
		if (err)
			break;
	}
	r = i;
	if (!write && copy_to_user(uarg->entries, e, array_size(sizeof(*e), i)))
		r = -EFAULT;
	kfree(e);
	return r;
}

long xkvm_x86_msr_dev_ioctl(unsigned int ioctl, void __user *argp)
{
	switch (ioctl) {
	case KVM_GET_MSR_INDEX_LIST:
		return xkvm_msr_list(argp, xkvm_msrs_to_save,
				     ARRAY_SIZE(xkvm_msrs_to_save));
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		return xkvm_msr_list(argp, xkvm_feature_msrs,
				     ARRAY_SIZE(xkvm_feature_msrs));
	case KVM_GET_MSRS:
		return xkvm_msr_io(NULL, argp, false);
	case KVM_X86_GET_MCE_CAP_SUPPORTED:
		return xkvm_x86_get_mce_cap_supported(argp);
	default:
		return -ENOIOCTLCMD;
	}
}

long xkvm_x86_msr_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp)
{
	switch (ioctl) {
	case KVM_GET_MSRS:
		return xkvm_msr_io(vcpu, argp, false);
	case KVM_SET_MSRS:
		return xkvm_msr_io(vcpu, argp, true);
	case KVM_X86_SETUP_MCE:
		return xkvm_x86_setup_mce(vcpu, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
