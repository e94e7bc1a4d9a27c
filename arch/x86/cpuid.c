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
#include <asm/fpu/types.h>
#include <asm/cpufeature.h>

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

/* The vendor string of the guest's CPUID leaf 0 (EBX, EDX, ECX). */
static bool xkvm_x86_guest_vendor_is(struct xkvm_vcpu *vcpu, const char *v)
{
	const struct kvm_cpuid_entry2 *e = xkvm_x86_find_cpuid(vcpu, 0, 0);

	return e && !memcmp(&e->ebx, v, 4) && !memcmp(&e->edx, v + 4, 4) &&
	       !memcmp(&e->ecx, v + 8, 4);
}

bool xkvm_x86_guest_vendor_intel(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_guest_vendor_is(vcpu, "GenuineIntel");
}
EXPORT_SYMBOL_GPL(xkvm_x86_guest_vendor_intel);

bool xkvm_x86_guest_vendor_amd(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_guest_vendor_is(vcpu, "AuthenticAMD") ||
	       xkvm_x86_guest_vendor_is(vcpu, "HygonGenuine");
}
EXPORT_SYMBOL_GPL(xkvm_x86_guest_vendor_amd);

/*
 * A leaf beyond the maximum of its range, on an Intel-vendor CPUID,
 * reads as the highest basic leaf (as Intel CPUs and KVM do); elsewhere
 * a missing leaf reads as zeros.
 */
static const struct kvm_cpuid_entry2 *
xkvm_x86_out_of_range_cpuid(struct xkvm_vcpu *vcpu, u32 leaf, u32 subleaf)
{
	const struct kvm_cpuid_entry2 *basic, *class;

	if (!xkvm_x86_guest_vendor_intel(vcpu))
		return NULL;
	basic = xkvm_x86_find_cpuid(vcpu, 0, 0);
	if (leaf >= 0x40000000 && leaf <= 0x4fffffff)
		class = xkvm_x86_find_cpuid(vcpu, leaf & 0xffffff00, 0);
	else if (leaf >= 0xc0000000)
		class = xkvm_x86_find_cpuid(vcpu, 0xc0000000, 0);
	else
		class = xkvm_x86_find_cpuid(vcpu, leaf & 0x80000000, 0);
	if (class && leaf <= class->eax)
		return NULL;
	return xkvm_x86_find_cpuid(vcpu, basic->eax, subleaf);
}

void xkvm_x86_guest_cpuid(struct xkvm_vcpu *vcpu, u32 leaf, u32 subleaf,
			  u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	const struct kvm_cpuid_entry2 *e;

	e = xkvm_x86_find_cpuid(vcpu, leaf, subleaf);
	if (!e)
		e = xkvm_x86_out_of_range_cpuid(vcpu, leaf, subleaf);
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
 * CPUs: OSXSAVE mirrors CR4.OSXSAVE, OSPKE mirrors CR4.PKE, APIC mirrors
 * the APIC-base enable, and leaf 0xD reports the XSAVE size of the XCR0
 * the guest enabled.
 */
static void xkvm_x86_cpuid_runtime(struct xkvm_vcpu *vcpu, u32 leaf, u32 sub,
				   u32 *b, u32 *c, u32 *d)
{
	if (leaf == 1) {
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		if (boot_cpu_has(X86_FEATURE_XSAVE))
			*c = (*c & ~BIT(27)) |
			     ((vcpu->arch.state.cr4 & X86_CR4_OSXSAVE) ? BIT(27) : 0);
		*d = (*d & ~BIT(9)) |
		     ((vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE) ? BIT(9) : 0);
	} else if (leaf == 7 && sub == 0) {
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		*c = (*c & ~BIT(4)) |
		     ((vcpu->arch.state.cr4 & X86_CR4_PKE) ? BIT(4) : 0);
	} else if (leaf == 0xd && sub == 0) {
		*b = xkvm_x86_xsave_size(vcpu->arch.xcr0);
	}
}

/* XCR0 bits the guest's CPUID offers (leaf 0xD), x87 always. */
u64 xkvm_x86_guest_supported_xcr0(struct xkvm_vcpu *vcpu)
{
	const struct kvm_cpuid_entry2 *e = xkvm_x86_find_cpuid(vcpu, 0xd, 0);
	u64 xcr0 = XFEATURE_MASK_FP;

	if (e)
		xcr0 |= (e->eax | ((u64)e->edx << 32)) &
			xkvm_x86_supported_xcr0();
	return xcr0;
}

int xkvm_x86_exit_cpuid(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs;
	u32 a, b, c, d;

	u32 leaf = r[XKVM_REG_RAX], sub = r[XKVM_REG_RCX];

	xkvm_x86_stat_inc(vcpu, exits_cpuid);
	xkvm_x86_guest_cpuid(vcpu, leaf, sub, &a, &b, &c, &d);
	/* the state-dependent bits live in the table's own entries */
	if (xkvm_x86_find_cpuid(vcpu, leaf, sub))
		xkvm_x86_cpuid_runtime(vcpu, leaf, sub, &b, &c, &d);
	r[XKVM_REG_RAX] = a;
	r[XKVM_REG_RBX] = b;
	r[XKVM_REG_RCX] = c;
	r[XKVM_REG_RDX] = d;
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_cpuid);

/* KVM's checks of a new table: the virtual-address width is 48 or 57. */
static int xkvm_x86_cpuid_check(struct kvm_cpuid_entry2 *e, int n)
{
	int i, vaddr;

	for (i = 0; i < n; i++) {
		if (e[i].function != 0x80000008)
			continue;
		vaddr = (e[i].eax >> 8) & 0xff;
		if (vaddr && vaddr != 48 && vaddr != 57)
			return -EINVAL;
	}
	return 0;
}

/* After the first KVM_RUN only an identical table is accepted, as on KVM. */
static bool xkvm_x86_cpuid_same(struct xkvm_vcpu *vcpu,
				struct kvm_cpuid_entry2 *e, int n)
{
	int i;

	if (n != vcpu->arch.cpuid_nent)
		return false;
	for (i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *o = &vcpu->arch.cpuid[i];

		if (e[i].function != o->function || e[i].index != o->index ||
		    e[i].flags != o->flags || e[i].eax != o->eax ||
		    e[i].ebx != o->ebx || e[i].ecx != o->ecx ||
		    e[i].edx != o->edx)
			return false;
	}
	return true;
}

static int xkvm_x86_set_cpuid2(struct xkvm_vcpu *vcpu,
			       struct kvm_cpuid2 __user *uarg)
{
	struct kvm_cpuid_entry2 *e = NULL;
	struct kvm_cpuid2 hdr;
	int r;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent > XKVM_MAX_CPUID_ENTRIES)
		return -E2BIG;
	if (hdr.nent) {
		e = vmemdup_user(uarg->entries, array_size(sizeof(*e), hdr.nent));
		if (IS_ERR(e))
			return PTR_ERR(e);
	}
	r = xkvm_x86_cpuid_check(e, hdr.nent);
	if (!r && vcpu->arch.has_run && !xkvm_x86_cpuid_same(vcpu, e, hdr.nent))
		r = -EINVAL;
	if (r) {
		kvfree(e);
		return r;
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
	int i;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent < vcpu->arch.cpuid_nent)
		return -E2BIG;
	for (i = 0; i < vcpu->arch.cpuid_nent; i++) {
		struct kvm_cpuid_entry2 e = vcpu->arch.cpuid[i];

		/* the table as the guest sees it now */
		xkvm_x86_cpuid_runtime(vcpu, e.function, e.index, &e.ebx,
				       &e.ecx, &e.edx);
		if (copy_to_user(&uarg->entries[i], &e, sizeof(e)))
			return -EFAULT;
	}
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
