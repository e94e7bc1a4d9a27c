// SPDX-License-Identifier: GPL-2.0
/*
 * cr.c - control registers as the guest changes them: MOV to and from
 * CR0, CR3, CR4 and CR8, CLTS and LMSW, with the architectural checks
 * (#GP), the CR4 bits the guest's CPUID allows, EFER.LMA on paging
 * changes, and the TLB flush a change of paging controls implies.
 *
 * The vendor decides which accesses exit (VT-x: the bits in its CR0/CR4
 * guest/host masks; AMD-V: CR4 writes, and CR0 while the guest's CD/NW
 * are kept out of the hardware), decodes the access into struct
 * xkvm_x86_cr_access (from its exit information, or with
 * xkvm_x86_decode_cr_access() when the hardware gives none) and calls
 * xkvm_x86_exit_cr().  The new values go back through state_set.
 *
 * vCPU thread only; no locks.
 */
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/cpufeature.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>
#include "dev/lapic.h"

/* CR4 bits that exist only if both the guest's CPUID and the host have them. */
static const struct {
	u32 leaf;
	u8 reg;		/* 1: EBX, 2: ECX */
	u8 bit;
	u16 feature;	/* X86_FEATURE_* of the host */
	u64 cr4;
} xkvm_cr4_features[] = {
	{ 1, 2, 26, X86_FEATURE_XSAVE,	  X86_CR4_OSXSAVE },
	{ 1, 2, 17, X86_FEATURE_PCID,	  X86_CR4_PCIDE },
	{ 7, 1,  0, X86_FEATURE_FSGSBASE, X86_CR4_FSGSBASE },
	{ 7, 1,  7, X86_FEATURE_SMEP,	  X86_CR4_SMEP },
	{ 7, 1, 20, X86_FEATURE_SMAP,	  X86_CR4_SMAP },
	{ 7, 2,  2, X86_FEATURE_UMIP,	  X86_CR4_UMIP },
	{ 7, 2,  3, X86_FEATURE_PKU,	  X86_CR4_PKE },
	{ 7, 2, 16, X86_FEATURE_LA57,	  X86_CR4_LA57 },
};

/* CR4 bits the guest may not set: anything its CPUID (or the host) lacks. */
u64 xkvm_x86_cr4_reserved(struct xkvm_vcpu *vcpu)
{
	u64 valid = X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE |
		    X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
		    X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	u32 r[3];
	int i;

	for (i = 0; i < ARRAY_SIZE(xkvm_cr4_features); i++) {
		u32 unused;

		xkvm_x86_guest_cpuid(vcpu, xkvm_cr4_features[i].leaf, 0,
				     &r[0], &r[1], &r[2], &unused);
		if ((r[xkvm_cr4_features[i].reg] & BIT(xkvm_cr4_features[i].bit)) &&
		    boot_cpu_has(xkvm_cr4_features[i].feature))
			valid |= xkvm_cr4_features[i].cr4;
	}
	/* the shadow MMU builds 4-level tables only */
	if (xkvm_x86_shadow_mmu())
		valid &= ~(u64)X86_CR4_LA57;
	return ~valid;
}

bool xkvm_x86_cr0_valid(u64 cr0)
{
	if (cr0 >> 32)
		return false;
	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return false;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return false;
	return true;
}

#define XKVM_CR0_BITS	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | \
			 X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | \
			 X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

/* Changing these invalidates the guest's TLB (the CPU does it natively). */
#define XKVM_CR0_FLUSH	(X86_CR0_PG | X86_CR0_WP)
#define XKVM_CR4_FLUSH	(X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE | \
			 X86_CR4_PCIDE | X86_CR4_SMEP | X86_CR4_SMAP | \
			 X86_CR4_PKE | X86_CR4_LA57)

static bool xkvm_x86_long_mode(struct xkvm_vcpu *vcpu)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	return (st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l;
}

/* MOV to CR0 (also CLTS, LMSW).  false: #GP, nothing changed. */
static bool xkvm_x86_set_cr0(struct xkvm_vcpu *vcpu, u64 val)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	u64 old = st->cr0, efer = st->efer;

	if (!xkvm_x86_cr0_valid(val))
		return false;
	val = (val & XKVM_CR0_BITS) | X86_CR0_ET;
	if (!(old & X86_CR0_PG) && (val & X86_CR0_PG) && (efer & EFER_LME)) {
		/* entering IA-32e mode: with PAE, from compatibility code */
		if (!(st->cr4 & X86_CR4_PAE) || st->segs[XKVM_SEG_CS].l)
			return false;
		efer |= EFER_LMA;
	}
	if ((old & X86_CR0_PG) && !(val & X86_CR0_PG)) {
		/* leaving paging: not from 64-bit code, not with PCIDs on */
		if (xkvm_x86_long_mode(vcpu) || (st->cr4 & X86_CR4_PCIDE))
			return false;
		efer &= ~EFER_LMA;
	}
	st->cr0 = val;
	st->efer = efer;
	if ((old ^ val) & XKVM_CR0_FLUSH)
		vcpu->arch.tlb_flush_pending = true;
	return true;
}

/* MOV to CR4.  false: #GP, nothing changed. */
static bool xkvm_x86_set_cr4(struct xkvm_vcpu *vcpu, u64 val)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	u64 old = st->cr4;

	if (val & xkvm_x86_cr4_reserved(vcpu))
		return false;
	if (st->efer & EFER_LMA) {
		if (!(val & X86_CR4_PAE) || ((val ^ old) & X86_CR4_LA57))
			return false;
	}
	/* PCIDs come on only in IA-32e mode, with PCID 0 current */
	if ((val & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!(st->efer & EFER_LMA) || (st->cr3 & 0xfff)))
		return false;
	st->cr4 = val;
	if ((old ^ val) & XKVM_CR4_FLUSH)
		vcpu->arch.tlb_flush_pending = true;
	return true;
}

static bool xkvm_x86_mov_to_cr(struct xkvm_vcpu *vcpu, int cr, u64 val)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;

	switch (cr) {
	case 0:
		return xkvm_x86_set_cr0(vcpu, val);
	case 3:
		/* bit 63 with PCIDs: keep the TLB (nothing cached here) */
		if (st->cr4 & X86_CR4_PCIDE)
			val &= ~BIT_ULL(63);
		if (val >> xkvm_x86_guest_maxphyaddr(vcpu))
			return false;
		st->cr3 = val;
		/* the guest's TLB keeps its global translations (CR4.PGE) */
		vcpu->arch.tlb_flush_guest = true;
		return true;
	case 4:
		return xkvm_x86_set_cr4(vcpu, val);
	default:	/* 8: the TPR */
		if (val & ~0xfULL)
			return false;
		xkvm_x86_set_cr8(vcpu, val);
		return true;
	}
}

/* CR8: the in-kernel LAPIC's TPR[7:4], or kvm_run's without one. */
u64 xkvm_x86_get_cr8(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.apic ? xkvm_lapic_get_cr8(vcpu) : vcpu->arch.cr8;
}
EXPORT_SYMBOL_GPL(xkvm_x86_get_cr8);

void xkvm_x86_set_cr8(struct xkvm_vcpu *vcpu, u64 cr8)
{
	if (vcpu->arch.apic)
		xkvm_lapic_set_cr8(vcpu, cr8);
	else
		vcpu->arch.cr8 = cr8;
}
EXPORT_SYMBOL_GPL(xkvm_x86_set_cr8);

/*
 * For vendors that let the guest write CR8 without an exit: must CR8
 * writes exit now, because the LAPIC holds a request that only the TPR
 * keeps back (lowering the TPR must deliver it at once)?
 */
bool xkvm_x86_cr8_write_exit_wanted(struct xkvm_vcpu *vcpu)
{
	int irr;

	if (!vcpu->arch.apic)
		return false;
	irr = xkvm_lapic_highest_irr(vcpu);
	return irr >= 0 && (irr >> 4) <= xkvm_lapic_get_cr8(vcpu);
}
EXPORT_SYMBOL_GPL(xkvm_x86_cr8_write_exit_wanted);

/* LMSW: PE, MP, EM, TS from @src; PE cannot be cleared.  False: #GP. */
bool xkvm_x86_lmsw(struct xkvm_vcpu *vcpu, u16 src)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	if (!xkvm_x86_set_cr0(vcpu, (st->cr0 & ~0xeULL) | (src & 0xf)))
		return false;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_CRS);
	return true;
}

static u64 xkvm_x86_mov_from_cr(struct xkvm_vcpu *vcpu, int cr)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	switch (cr) {
	case 0:
		return st->cr0;
	case 3:
		return st->cr3;
	case 4:
		return st->cr4;
	default:
		return xkvm_x86_get_cr8(vcpu);
	}
}

int xkvm_x86_exit_cr(struct xkvm_vcpu *vcpu, const struct xkvm_x86_cr_access *a)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	u64 *reg = &vcpu->arch.regs[a->gpr & 15];
	bool ok = true, mode64;

	xkvm_x86_stat_inc(vcpu, exits_cr);
	if (a->cr != 0 && a->cr != 3 && a->cr != 4 && a->cr != 8) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return 1;
	}
	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	mode64 = xkvm_x86_long_mode(vcpu);

	switch (a->kind) {
	case XKVM_CR_MOV_TO:
		ok = xkvm_x86_mov_to_cr(vcpu, a->cr, mode64 ? *reg : (u32)*reg);
		break;
	case XKVM_CR_MOV_FROM:
		*reg = xkvm_x86_mov_from_cr(vcpu, a->cr);
		if (!mode64)
			*reg = (u32)*reg;
		break;
	case XKVM_CR_CLTS:
		ok = xkvm_x86_set_cr0(vcpu, st->cr0 & ~(u64)X86_CR0_TS);
		break;
	default:
		ok = xkvm_x86_lmsw(vcpu, a->lmsw);
		break;
	}
	if (!ok) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	if (a->kind != XKVM_CR_MOV_FROM && a->cr != 8)
		xkvm_x86_state_dirty(vcpu, XKVM_STATE_CRS);
	vcpu->arch.rip = a->next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_cr);
