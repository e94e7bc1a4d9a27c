// SPDX-License-Identifier: GPL-2.0
/*
 * guest_walk.c - translate a guest-virtual address through the guest's
 * own page tables (no paging, 32-bit, PAE, 4- and 5-level), with the
 * architectural permission checks, and fetch instruction bytes at RIP.
 *
 * Reads guest memory through the memslots only; never writes it (accessed
 * and dirty bits are not set).  Runs in the vCPU's thread.
 */
#include <linux/mm.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trap_pf.h>

#include <xkvm_x86.h>

#define PTE_P		BIT_ULL(0)
#define PTE_W		BIT_ULL(1)
#define PTE_U		BIT_ULL(2)
#define PTE_PS		BIT_ULL(7)
#define PTE_NX		BIT_ULL(63)

struct xkvm_walk_mode {
	int levels;		/* 0: no paging */
	int pte_size;		/* 4 or 8 */
	bool nx;
};

static void xkvm_walk_mode(struct xkvm_vcpu *vcpu, struct xkvm_walk_mode *m)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	m->nx = st->efer & EFER_NX;
	m->pte_size = 8;
	if (!(st->cr0 & X86_CR0_PG))
		m->levels = 0;
	else if (st->efer & EFER_LMA)
		m->levels = (st->cr4 & X86_CR4_LA57) ? 5 : 4;
	else if (st->cr4 & X86_CR4_PAE)
		m->levels = 3;
	else {
		m->levels = 2;
		m->pte_size = 4;
		m->nx = false;
	}
}

/* Bit position of the index at @level: 4 KiB pages below. */
static int xkvm_walk_shift(const struct xkvm_walk_mode *m, int level)
{
	return 12 + (level - 1) * (m->pte_size == 4 ? 10 : 9);
}

int xkvm_x86_gva_to_gpa(struct xkvm_vcpu *vcpu, u64 gva, u32 access,
			xkvm_gpa_t *gpa, u32 *pf_error)
{
	const struct xkvm_x86_state *st;
	struct xkvm_walk_mode m;
	bool user = xkvm_x86_cpl(vcpu) == 3;
	bool wp, writable = true, usr = true, nx = false;
	u64 table, pte = 0;
	int level, shift;

	st = &vcpu->arch.state;
	xkvm_walk_mode(vcpu, &m);
	wp = st->cr0 & X86_CR0_WP;
	if (!m.levels) {
		*gpa = (u32)gva;
		return 0;
	}

	if (m.levels == 3)
		table = st->cr3 & GENMASK_ULL(31, 5);
	else
		table = st->cr3 & (m.pte_size == 4 ? GENMASK_ULL(31, 12) :
				   GENMASK_ULL(51, 12));
	*pf_error = 0;

	for (level = m.levels; level >= 1; level--) {
		u64 idx_mask = (m.levels == 3 && level == 3) ? 3 :
			       (m.pte_size == 4 ? 1023 : 511);
		u64 idx;

		shift = xkvm_walk_shift(&m, level);
		idx = (gva >> shift) & idx_mask;
		pte = 0;
		if (xkvm_read_guest(vcpu->vm, table + idx * m.pte_size, &pte,
				    m.pte_size))
			return -EFAULT;
		if (!(pte & PTE_P))
			goto fault;
		if (!(m.levels == 3 && level == 3)) {
			writable &= !!(pte & PTE_W);
			usr &= !!(pte & PTE_U);
		}
		if (m.nx)
			nx |= !!(pte & PTE_NX);
		if (level > 1 && (pte & PTE_PS) &&
		    (level == 2 || (level == 3 && m.levels >= 4)))
			break;
		table = pte & (m.pte_size == 4 ? GENMASK_ULL(31, 12) :
			       GENMASK_ULL(51, 12));
	}
	if (level < 1)
		level = 1;
	*pf_error |= X86_PF_PROT;
	if ((access & XKVM_FAULT_WRITE) && !writable && (user || wp))
		goto fault;
	if (user && !usr)
		goto fault;
	if ((access & XKVM_FAULT_FETCH) && nx)
		goto fault;

	shift = xkvm_walk_shift(&m, level);
	if (m.pte_size == 4 && level == 2)
		/* 4 MiB page: bits 20:13 of the PDE are address bits 39:32 */
		*gpa = (pte & GENMASK_ULL(31, 22)) |
		       ((pte & GENMASK_ULL(20, 13)) << 19) |
		       (gva & GENMASK_ULL(21, 0));
	else
		*gpa = (pte & GENMASK_ULL(51, shift)) |
		       (gva & GENMASK_ULL(shift - 1, 0));
	return 0;

fault:
	if (access & XKVM_FAULT_WRITE)
		*pf_error |= X86_PF_WRITE;
	if (user)
		*pf_error |= X86_PF_USER;
	if (access & XKVM_FAULT_FETCH)
		*pf_error |= X86_PF_INSTR;
	return -ENOENT;
}

/* Read up to @len instruction bytes at CS:RIP; returns the count read. */
int xkvm_x86_fetch_insn(struct xkvm_vcpu *vcpu, u8 *buf, int len)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	u64 linear;
	int done = 0;

	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	linear = vcpu->arch.rip;
	if (!((st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l))
		linear = (u32)(linear + st->segs[XKVM_SEG_CS].base);

	while (done < len) {
		int n = min_t(int, len - done,
			      PAGE_SIZE - offset_in_page(linear + done));
		xkvm_gpa_t gpa;
		u32 err;

		if (xkvm_x86_gva_to_gpa(vcpu, linear + done, XKVM_FAULT_FETCH,
					&gpa, &err))
			break;
		if (xkvm_read_guest(vcpu->vm, gpa, buf + done, n))
			break;
		done += n;
	}
	return done;
}
