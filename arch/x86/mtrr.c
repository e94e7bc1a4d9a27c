// SPDX-License-Identifier: GPL-2.0
/*
 * mtrr.c - the guest's memory-type range registers: storage and validity
 * checks.  With nested paging the guest's memory types are not applied
 * to host memory (the host's PAT governs); the MTRRs exist so that guests
 * and VMMs can read back what they wrote.  vCPU thread only.
 */
#include <asm/msr-index.h>

#include <xkvm_x86.h>

#define MTRR_CAP	(XKVM_NR_VAR_MTRR | BIT(8) /* fixed */ | BIT(10) /* WC */)
#define MTRR_DEF_E	BIT_ULL(11)
#define MTRR_DEF_FE	BIT_ULL(10)
#define MTRR_VALID	BIT_ULL(11)
#define MTRR_PHYS_BASE(n)	(0x200 + 2 * (n))	/* IA32_MTRR_PHYSBASEn */

static const u32 xkvm_fixed_mtrrs[XKVM_NR_FIXED_MTRR] = {
	MSR_MTRRfix64K_00000, MSR_MTRRfix16K_80000, MSR_MTRRfix16K_A0000,
	MSR_MTRRfix4K_C0000, MSR_MTRRfix4K_C8000, MSR_MTRRfix4K_D0000,
	MSR_MTRRfix4K_D8000, MSR_MTRRfix4K_E0000, MSR_MTRRfix4K_E8000,
	MSR_MTRRfix4K_F0000, MSR_MTRRfix4K_F8000,
};

/* UC, WC, WT, WP, WB; 7 (UC-) exists only in the PAT */
static bool mtrr_type_valid(u8 t)
{
	return t < 7 && t != 2 && t != 3;
}

void xkvm_x86_mtrr_reset(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;

	m->mtrr_deftype = 0;
	memset(m->mtrr_fixed, 0, sizeof(m->mtrr_fixed));
	memset(m->mtrr_var, 0, sizeof(m->mtrr_var));
}

/* Pointer to the storage of an MTRR MSR, or NULL. */
static u64 *xkvm_mtrr_slot(struct xkvm_vcpu *vcpu, u32 index)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;
	int i;

	if (index == MSR_MTRRdefType)
		return &m->mtrr_deftype;
	if (index >= MTRR_PHYS_BASE(0) &&
	    index < MTRR_PHYS_BASE(XKVM_NR_VAR_MTRR))
		return &m->mtrr_var[index - MTRR_PHYS_BASE(0)];
	for (i = 0; i < XKVM_NR_FIXED_MTRR; i++)
		if (xkvm_fixed_mtrrs[i] == index)
			return &m->mtrr_fixed[i];
	return NULL;
}

static bool xkvm_mtrr_valid(struct xkvm_vcpu *vcpu, u32 index, u64 data)
{
	u64 addr_mask = GENMASK_ULL(xkvm_x86_guest_maxphyaddr(vcpu) - 1, 12);
	int i;

	if (index == MSR_MTRRdefType)
		return !(data & ~(0xffULL | MTRR_DEF_FE | MTRR_DEF_E)) &&
		       mtrr_type_valid(data & 0xff);
	if (index >= MTRR_PHYS_BASE(0) &&
	    index < MTRR_PHYS_BASE(XKVM_NR_VAR_MTRR)) {
		if ((index - MTRR_PHYS_BASE(0)) & 1)	/* mask */
			return !(data & ~(addr_mask | MTRR_VALID));
		return !(data & ~(addr_mask | 0xff)) &&
		       mtrr_type_valid(data & 0xff);
	}
	for (i = 0; i < 8; i++)
		if (!mtrr_type_valid(data >> (i * 8)))
			return false;
	return true;
}

int xkvm_x86_mtrr_get(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	u64 *slot;

	if (index == MSR_MTRRcap) {
		*data = MTRR_CAP;
		return 0;
	}
	slot = xkvm_mtrr_slot(vcpu, index);
	if (!slot)
		return 1;
	*data = *slot;
	return 0;
}

int xkvm_x86_mtrr_set(struct xkvm_vcpu *vcpu, u32 index, u64 data)
{
	u64 *slot;

	if (index == MSR_MTRRcap)
		return -EINVAL;
	slot = xkvm_mtrr_slot(vcpu, index);
	if (!slot)
		return 1;
	if (!xkvm_mtrr_valid(vcpu, index, data))
		return -EINVAL;
	*slot = data;
	return 0;
}
