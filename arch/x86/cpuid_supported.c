// SPDX-License-Identifier: GPL-2.0
/*
 * cpuid_supported.c - KVM_GET_SUPPORTED_CPUID: the host's CPUID filtered
 * down to what a guest can really use on xkvm, plus the hypervisor bit
 * KVM's signature leaves (0x40000000, 0x40000001), and the sizes of
 * the XSAVE state the guest may enable.
 *
 * The hypervisor bit is left to the VMM, as KVM does.
 * Only features that work go in: no VMX/SVM (no nested virtualisation),
 * x2APIC always (the in-kernel LAPIC has it; VMMs clear it without one),
 * TSC deadline only through KVM_CAP_TSC_DEADLINE_TIMER, no RDTSCP/RDPID (TSC_AUX
 * is not offered), no XSAVES (no XSS), of the paravirtual features only
 * kvmclock (arch/x86/kvmclock.c).  PKU only where the host uses it
 * (OSPKE), so that PKRU can be switched.
 * Stateless; callable from any thread.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/kvm_para.h>
#include <asm/processor.h>

#include <xkvm_x86.h>

#define XKVM_MAX_CPUID_ENTRIES	256

/* Feature bits passed through when the host has them. */
#define LEAF1_ECX	(BIT(0) | BIT(1) | BIT(9) | BIT(12) | BIT(13) | \
			 BIT(17) | BIT(19) | BIT(20) | BIT(22) | BIT(23) | \
			 BIT(25) | BIT(26) | BIT(28) | BIT(29) | BIT(30))
#define LEAF1_EDX	(GENMASK(9, 0) | GENMASK(17, 11) | BIT(19) | \
			 GENMASK(26, 23))
#define LEAF7_EBX	(BIT(0) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | \
			 BIT(9) | BIT(10) | BIT(16) | BIT(17) | BIT(18) | \
			 BIT(19) | BIT(20) | BIT(21) | BIT(23) | BIT(24) | \
			 BIT(28) | BIT(29) | BIT(30) | BIT(31))
#define LEAF7_ECX	(BIT(1) | BIT(2) | BIT(6) | BIT(8) | BIT(9) | \
			 BIT(10) | BIT(11) | BIT(12) | BIT(14))
#define LEAF7_ECX_PKU	BIT(3)	/* PKRU is switched with the guest (run.c) */
#define LEAF7_EDX	BIT(4)
#define LEAFD1_EAX	(BIT(0) | BIT(1) | BIT(2))
#define EXT1_ECX	(BIT(0) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | \
			 BIT(11) | BIT(16) | BIT(21))
#define EXT1_EDX	(GENMASK(9, 0) | BIT(11) | GENMASK(17, 12) | \
			 BIT(20) | BIT(22) | BIT(23) | BIT(24) | BIT(25) | \
			 BIT(26) | BIT(29))

struct xkvm_cpuid_table {
	struct kvm_cpuid_entry2 *e;
	int nent, max;
};

static struct kvm_cpuid_entry2 *xkvm_cpuid_add(struct xkvm_cpuid_table *t,
					       u32 leaf, u32 index, u32 flags)
{
	struct kvm_cpuid_entry2 *e;

	if (t->nent >= t->max)
		return NULL;
	e = &t->e[t->nent++];
	memset(e, 0, sizeof(*e));
	e->function = leaf;
	e->index = index;
	e->flags = flags;
	cpuid_count(leaf, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	return e;
}

/* XCR0 bits a guest may set: the host's, within the process's permission. */
u64 xkvm_x86_supported_xcr0(void)
{
	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		return 0;
	return xgetbv(XCR_XFEATURE_ENABLED_MASK) &
	       xstate_get_guest_group_perm() &
	       (XFEATURE_MASK_FPSSE | XFEATURE_MASK_YMM | XFEATURE_MASK_AVX512 |
		XFEATURE_MASK_PKRU);
}

/* Standard-format XSAVE size for the features in @xcr0. */
u32 xkvm_x86_xsave_size(u64 xcr0)
{
	u32 size = 512 + 64, eax, ebx, ecx, edx;
	int i;

	for (i = 2; i < 64; i++) {
		if (!(xcr0 & BIT_ULL(i)))
			continue;
		cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx);
		size = max(size, eax + ebx);
	}
	return size;
}

static int xkvm_cpuid_basic(struct xkvm_cpuid_table *t)
{
	u64 xcr0 = xkvm_x86_supported_xcr0();
	struct kvm_cpuid_entry2 *e;
	int i;

	e = xkvm_cpuid_add(t, 0, 0, 0);
	if (!e)
		return -E2BIG;
	e->eax = min_t(u32, e->eax, 0xd);

	e = xkvm_cpuid_add(t, 1, 0, 0);
	if (!e)
		return -E2BIG;
	e->ebx &= GENMASK(15, 8);
	e->ecx &= LEAF1_ECX;
	if (!xcr0)
		e->ecx &= ~(BIT(26) | BIT(28) | BIT(29) | BIT(12));
	e->edx &= LEAF1_EDX;
	/* the in-kernel LAPIC implements x2APIC whatever the host has, as KVM's */
	e->ecx |= BIT(21);

	e = xkvm_cpuid_add(t, 7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	if (!e)
		return -E2BIG;
	e->eax = 0;
	e->ebx &= LEAF7_EBX;
	/* INVPCID runs without an exit: the shadow MMU would miss it */
	if (xkvm_x86_shadow_mmu())
		e->ebx &= ~BIT(10);
	if (!(xcr0 & XFEATURE_MASK_AVX512))
		e->ebx &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(28) | BIT(30) |
			    BIT(31));
	e->ecx &= LEAF7_ECX |
		  (cpu_feature_enabled(X86_FEATURE_OSPKE) ? LEAF7_ECX_PKU : 0);
	if (!(xcr0 & XFEATURE_MASK_AVX512))
		e->ecx &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
	e->edx &= LEAF7_EDX;

	if (!xcr0)
		return 0;
	e = xkvm_cpuid_add(t, 0xd, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	if (!e)
		return -E2BIG;
	e->eax = (u32)xcr0;
	e->edx = xcr0 >> 32;
	e->ebx = xkvm_x86_xsave_size(xcr0);
	e->ecx = e->ebx;
	e = xkvm_cpuid_add(t, 0xd, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	if (!e)
		return -E2BIG;
	e->eax &= LEAFD1_EAX;
	e->ebx = e->ecx = e->edx = 0;
	for (i = 2; i < 64; i++) {
		if (!(xcr0 & BIT_ULL(i)))
			continue;
		e = xkvm_cpuid_add(t, 0xd, i, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		if (!e)
			return -E2BIG;
		e->ecx &= BIT(1);	/* alignment bit only; no XSS */
		e->edx = 0;
	}
	return 0;
}

static int xkvm_cpuid_extended(struct xkvm_cpuid_table *t)
{
	struct kvm_cpuid_entry2 *e;
	u32 max, leaf;

	max = min_t(u32, cpuid_eax(0x80000000), 0x80000008);
	e = xkvm_cpuid_add(t, 0x80000000, 0, 0);
	if (!e)
		return -E2BIG;
	e->eax = max;
	for (leaf = 0x80000001; leaf <= max; leaf++) {
		if (leaf == 0x80000007)
			continue;
		e = xkvm_cpuid_add(t, leaf, 0, 0);
		if (!e)
			return -E2BIG;
		if (leaf == 0x80000001) {
			e->eax = e->ebx = 0;
			e->ecx &= EXT1_ECX;
			e->edx &= EXT1_EDX;
		} else if (leaf == 0x80000008) {
			e->eax &= 0xffff;
			e->ebx = e->ecx = e->edx = 0;
		}
	}
	return 0;
}

/* KVM's signature leaves; of the paravirtual features only kvmclock. */
static int xkvm_cpuid_hypervisor(struct xkvm_cpuid_table *t)
{
	static const char sig[12] = "KVMKVMKVM\0\0";
	struct kvm_cpuid_entry2 *e;

	e = xkvm_cpuid_add(t, 0x40000000, 0, 0);
	if (!e)
		return -E2BIG;
	e->eax = 0x40000001;
	memcpy(&e->ebx, sig, 4);
	memcpy(&e->ecx, sig + 4, 4);
	memcpy(&e->edx, sig + 8, 4);
	e = xkvm_cpuid_add(t, 0x40000001, 0, 0);
	if (!e)
		return -E2BIG;
	e->eax = BIT(KVM_FEATURE_CLOCKSOURCE) | BIT(KVM_FEATURE_CLOCKSOURCE2) |
		 BIT(KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
	e->ebx = e->ecx = e->edx = 0;
	return 0;
}

long xkvm_x86_get_supported_cpuid(struct kvm_cpuid2 __user *uarg)
{
	struct xkvm_cpuid_table t = { 0 };
	struct kvm_cpuid2 hdr;
	int r;

	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent < 1)
		return -E2BIG;
	t.max = min_t(u32, hdr.nent, XKVM_MAX_CPUID_ENTRIES);
	t.e = kvcalloc(t.max, sizeof(*t.e), GFP_KERNEL);
	if (!t.e)
		return -ENOMEM;

	r = xkvm_cpuid_basic(&t);
	if (!r)
		r = xkvm_cpuid_extended(&t);
	if (!r)
		r = xkvm_cpuid_hypervisor(&t);
	if (r)
		goto out;

	hdr.nent = t.nent;
	r = -EFAULT;
	if (copy_to_user(uarg, &hdr, sizeof(hdr)) ||
	    copy_to_user(uarg->entries, t.e, t.nent * sizeof(*t.e)))
		goto out;
	r = 0;
out:
	kvfree(t.e);
	return r;
}
