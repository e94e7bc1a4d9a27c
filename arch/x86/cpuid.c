// SPDX-License-Identifier: GPL-2.0
/*
 * cpuid.c - the guest's CPUID: the table userspace sets with
 * KVM_SET_CPUID2, its lookup, and the CPUID exit.
 *
 * The table belongs to the vCPU's own thread (xkvm_vcpu.mutex).  A leaf
 * missing from the table reads as zeros.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/util_macros.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include <xkvm_x86.h>

#define XKVM_MAX_CPUID_ENTRIES	256

static const struct kvm_cpuid_entry2 *
xkvm_x86_find_cpuid(struct xkvm_vcpu *vcpu, u32 leaf, u32 subleaf)
{
	int i;

	for (i = 0; i < vcpu->arch.cpuid_nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vcpu->arch.cpuid[i];

		if (e->function != leaf)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != subleaf)
			continue;
		return e;
	}
	return NULL;
}

void xkvm_x86_guest_cpuid(struct xkvm_vcpu *vcpu, u32 leaf, u32 subleaf,
			  u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	const struct kvm_cpuid_entry2 *e;

	e = xkvm_x86_find_cpuid(vcpu, leaf, subleaf);
	*eax = e ? e->eax : 0;
	*ebx = e ? e->ebx : 0;
	*ecx = e ? e->ecx : 0;
	*edx = e ? e->edx : 0;
}

/* MAXPHYADDR the guest sees: CPUID 0x80000008, else 36 as on KVM. */
int xkvm_x86_guest_maxphyaddr(struct xkvm_vcpu *vcpu)
{
	const struct kvm_cpuid_entry2 *e;

	e = xkvm_x86_find_cpuid(vcpu, 0x80000000, 0);
	if (!e || e->eax < 0x80000008)
		return 36;
	e = xkvm_x86_find_cpuid(vcpu, 0x80000008, 0);
	return e ? clamp_t(int, e->eax & 0xff, 32, 52) : 36;
}

/*
 * Bits that follow the guest's state rather than the table, as on real
 * CPUs: OSXSAVE mirrors CR4.OSXSAVE, APIC mirrors the APIC-base enable,
 * and leaf 0xD reports the XSAVE size of the XCR0 the guest enabled.
 */
static void xkvm_x86_cpuid_runtime(struct xkvm_vcpu *vcpu, u32 leaf, u32 sub,
				   u32 *b, u32 *c, u32 *d)
{
	if (leaf == 1) {
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		if (*c & BIT(26))
			*c = (*c & ~BIT(27)) |
			     ((vcpu->arch.state.cr4 & X86_CR4_OSXSAVE) ? BIT(27) : 0);
		if (!(vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE))
			*d &= ~BIT(9);
	} else if (leaf == 0xd && sub == 0 && *b) {
		*b = xkvm_x86_xsave_size(vcpu->arch.xcr0);
	}
}

int xkvm_x86_exit_cpuid(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs;
	u32 a, b, c, d;

	xkvm_x86_guest_cpuid(vcpu, (u32)r[XKVM_REG_RAX], (u32)r[XKVM_REG_RCX],
			     &a, &b, &c, &d);
	xkvm_x86_cpuid_runtime(vcpu, (u32)r[XKVM_REG_RAX],
			       (u32)r[XKVM_REG_RCX], &b, &c, &d);
	r[XKVM_REG_RAX] = a;
	r[XKVM_REG_RBX] = b;
	r[XKVM_REG_RCX] = c;
	r[XKVM_REG_RDX] = d;
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_cpuid);

static int xkvm_x86_set_cpuid2(struct xkvm_vcpu *vcpu,
			       struct kvm_cpuid2 __user *uarg)
{
	struct kvm_cpuid_entry2 *e = NULL;
	struct kvm_cpuid2 hdr;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent > XKVM_MAX_CPUID_ENTRIES)
		return -E2BIG;
	if (hdr.nent) {
		e = vmemdup_user(uarg->entries, array_size(sizeof(*e), hdr.nent));
		if (IS_ERR(e))
			return PTR_ERR(e);
	}
	kvfree(vcpu->arch.cpuid);
	vcpu->arch.cpuid = e;
	vcpu->arch.cpuid_nent = hdr.nent;
	return 0;
}

static int xkvm_x86_get_cpuid2(struct xkvm_vcpu *vcpu,
			       struct kvm_cpuid2 __user *uarg)
{
	struct kvm_cpuid2 hdr;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent < vcpu->arch.cpuid_nent)
		return -E2BIG;
	if (copy_to_user(uarg->entries, vcpu->arch.cpuid,
			 array_size(sizeof(*vcpu->arch.cpuid),
				    vcpu->arch.cpuid_nent)))
		return -EFAULT;
	return 0;
}

long xkvm_x86_cpuid_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  void __user *argp)
{
	switch (ioctl) {
	case KVM_SET_CPUID2:
		return xkvm_x86_set_cpuid2(vcpu, argp);
	case KVM_GET_CPUID2:
		return xkvm_x86_get_cpuid2(vcpu, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
