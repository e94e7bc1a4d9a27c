// SPDX-License-Identifier: GPL-2.0
/*
 * mce.c - the guest's machine-check architecture: KVM_CAP_MCE,
 * KVM_X86_GET_MCE_CAP_SUPPORTED, KVM_X86_SETUP_MCE, and the MCG_* and
 * MCi_* MSRs with KVM's rules (MCi_CTL is all zeros or all ones; the
 * guest may only clear MCi_STATUS unless HWCR.McStatusWrEn).  Injecting a
 * machine check (KVM_X86_SET_MCE) is not supported yet.  vCPU thread only.
 */
#include <linux/uaccess.h>
#include <asm/mce.h>
#include <asm/msr-index.h>

#include <xkvm_x86.h>

#define XKVM_MCE_CAP_SUPPORTED	(MCG_CTL_P | MCG_SER_P)
#define HWCR_MCSTATUSWREN	BIT_ULL(18)

long xkvm_x86_get_mce_cap_supported(u64 __user *argp)
{
	u64 cap = XKVM_MCE_CAP_SUPPORTED;

	return copy_to_user(argp, &cap, sizeof(cap)) ? -EFAULT : 0;
}

long xkvm_x86_setup_mce(struct xkvm_vcpu *vcpu, u64 __user *argp)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;
	unsigned int banks, i;
	u64 cap;

	if (copy_from_user(&cap, argp, sizeof(cap)))
		return -EFAULT;
	banks = cap & 0xff;
	if (!banks || banks > XKVM_MAX_MCE_BANKS)
		return -EINVAL;
	if (cap & ~(XKVM_MCE_CAP_SUPPORTED | 0xff | 0xff0000))
		return -EINVAL;
	m->mcg_cap = cap;
	m->mcg_ctl = (cap & MCG_CTL_P) ? ~0ULL : 0;
	for (i = 0; i < banks; i++)
		m->mce_banks[i * 4] = ~0ULL;
	return 0;
}

static u64 *xkvm_mce_bank_slot(struct xkvm_vcpu *vcpu, u32 index)
{
	u32 n = (vcpu->arch.msrs.mcg_cap & 0xff) * 4;

	if (index >= MSR_IA32_MC0_CTL && index < MSR_IA32_MC0_CTL + n)
		return &vcpu->arch.msrs.mce_banks[index - MSR_IA32_MC0_CTL];
	return NULL;
}

void xkvm_x86_mce_reset(struct xkvm_vcpu *vcpu)
{
	/* 32 banks until KVM_X86_SETUP_MCE says otherwise, as on KVM */
	vcpu->arch.msrs.mcg_cap = XKVM_MAX_MCE_BANKS;
}

int xkvm_x86_mce_get(struct xkvm_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;
	u64 *slot;

	switch (index) {
	case MSR_IA32_MCG_CAP:
		*data = m->mcg_cap;
		return 0;
	case MSR_IA32_MCG_STATUS:
		*data = m->mcg_status;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(m->mcg_cap & MCG_CTL_P) && !host)
			return -EINVAL;
		*data = m->mcg_ctl;
		return 0;
	}
	slot = xkvm_mce_bank_slot(vcpu, index);
	if (!slot)
		return 1;
	*data = *slot;
	return 0;
}

int xkvm_x86_mce_set(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;
	u32 off;
	u64 *slot;

	switch (index) {
	case MSR_IA32_MCG_CAP:
		return -EINVAL;	/* read-only, for the host too */
	case MSR_IA32_MCG_STATUS:
		m->mcg_status = data;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(m->mcg_cap & MCG_CTL_P) && (data || !host))
			return -EINVAL;
		if (data && data != ~0ULL)
			return -EINVAL;
		m->mcg_ctl = data;
		return 0;
	}
	slot = xkvm_mce_bank_slot(vcpu, index);
	if (!slot)
		return 1;
	off = (index - MSR_IA32_MC0_CTL) & 3;
	if (off == 0 && data && (data | BIT_ULL(10) | 1) != ~0ULL)
		return -EINVAL;
	if (off == 1 && data && !host &&
	    !((m->hwcr & HWCR_MCSTATUSWREN) && xkvm_x86_guest_vendor_amd(vcpu)))
		return -EINVAL;
	*slot = data;
	return 0;
}
