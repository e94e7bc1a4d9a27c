// SPDX-License-Identifier: GPL-2.0
/*
 * guest_walk.c - translate a guest-virtual (linear) address through the
 * guest's own page tables: no paging, 32-bit (4 KiB and, with CR4.PSE,
 * 4 MiB pages), PAE, 4- and 5-level, with the architectural checks:
 * present, reserved bits (MAXPHYADDR, NX without EFER.NXE, large-page
 * bits), write (CR0.WP), user, NX, SMEP and SMAP.  A fault gives the #PF
 * error code.  A successful walk sets the accessed bits, and the dirty
 * bit for a write, in the guest's entries with a compare-and-exchange, as
 * the CPU does; an entry that changed meanwhile makes the walk start over.
 * Also fetches instruction bytes at CS:RIP.
 *
 * Protection keys are not checked.  Reads guest memory through the
 * memslots; runs in the vCPU's thread.
 */
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trap_pf.h>

#include <xkvm_x86.h>

#define PTE_P		BIT_ULL(0)
#define PTE_W		BIT_ULL(1)
#define PTE_U		BIT_ULL(2)
#define PTE_A		BIT_ULL(5)
#define PTE_D		BIT_ULL(6)
#define PTE_PS		BIT_ULL(7)
#define PTE_G		BIT_ULL(8)
#define PTE_NX		BIT_ULL(63)

#define WALK_RETRIES	4

struct xkvm_walk_mode {
	int levels;		/* 0: no paging */
	int pte_size;		/* 4 or 8 */
	int maxphyaddr;
	bool nx, pse, pge, wp, smep, smap, ac, user;
};

/* What one walk found. */
struct xkvm_walk {
	int nr;
	u64 pte_gpa[5], pte[5];	/* entries from the top level down */
	int level;		/* level of the leaf */
	bool writable, usr, nx;
	u32 error;
};

static void xkvm_walk_mode(struct xkvm_vcpu *vcpu, struct xkvm_walk_mode *m)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	m->nx = st->efer & EFER_NX;
	m->pse = st->cr4 & X86_CR4_PSE;
	m->pge = st->cr4 & X86_CR4_PGE;
	m->wp = st->cr0 & X86_CR0_WP;
	m->smep = st->cr4 & X86_CR4_SMEP;
	m->smap = st->cr4 & X86_CR4_SMAP;
	m->ac = vcpu->arch.rflags & X86_EFLAGS_AC;
	m->maxphyaddr = xkvm_x86_guest_maxphyaddr(vcpu);
	m->pte_size = 8;
	if (!(st->cr0 & X86_CR0_PG)) {
		m->levels = 0;
	} else if (st->efer & EFER_LMA) {
		m->levels = (st->cr4 & X86_CR4_LA57) ? 5 : 4;
	} else if (st->cr4 & X86_CR4_PAE) {
		m->levels = 3;
	} else {
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

static bool xkvm_walk_large(const struct xkvm_walk_mode *m, u64 pte,
			    int level)
{
	if (!(pte & PTE_PS))
		return false;
	if (m->pte_size == 4)
		return level == 2 && m->pse;
	return level == 2 || (level == 3 && m->levels >= 4);
}

static bool xkvm_walk_rsvd(const struct xkvm_walk_mode *m, u64 pte,
			   int level)
{
	u64 rsvd = 0;

	if (m->maxphyaddr < 52)
		rsvd = GENMASK_ULL(51, m->maxphyaddr);
	if (m->pte_size == 4) {
		/* a 4 MiB PDE: bit 21, and bits 20:13 hold address bits 39:32 */
		if (!xkvm_walk_large(m, pte, level))
			return false;
		rsvd = BIT_ULL(21);
		if (m->maxphyaddr < 40)
			rsvd |= GENMASK_ULL(20, 13 + m->maxphyaddr - 32);
		return pte & rsvd;
	}
	if (!m->nx)
		rsvd |= PTE_NX;
	/*
	 * PAE PDPTE.  Bits 8:5 are not checked here: a CPU checks them when
	 * it loads the PDPTEs (MOV to CR3), and some (QEMU's TCG) set the
	 * accessed bit in them as they walk, which must not make every
	 * later walk fault.
	 */
	if (m->levels == 3 && level == 3)
		return pte & (rsvd | PTE_NX | GENMASK_ULL(2, 1));
	if (level >= 4)
		rsvd |= PTE_PS;
	else if (xkvm_walk_large(m, pte, level))
		rsvd |= GENMASK_ULL(level == 3 ? 29 : 20, 13);
	return pte & rsvd;
}

static u64 xkvm_walk_root(const struct xkvm_vcpu *vcpu,
			  const struct xkvm_walk_mode *m)
{
	u64 cr3 = vcpu->arch.state.cr3;

	if (m->levels == 3)
		return cr3 & GENMASK_ULL(31, 5);
	if (m->pte_size == 4)
		return cr3 & GENMASK_ULL(31, 12);
	return cr3 & GENMASK_ULL(51, 12);
}

/*
 * Read the entries for @gva down to the leaf; 0 or -ENOENT.  An entry
 * outside guest RAM (a page table in MMIO space) reads as not present,
 * as KVM's walker makes it: the access faults with #PF.
 */
static int xkvm_walk_tables(struct xkvm_vcpu *vcpu,
			    const struct xkvm_walk_mode *m, u64 gva,
			    struct xkvm_walk *w)
{
	u64 table = xkvm_walk_root(vcpu, m), pte;
	int level;

	w->nr = 0;
	w->writable = w->usr = true;
	w->nx = false;
	for (level = m->levels; level >= 1; level--) {
		bool pdpte = m->levels == 3 && level == 3;
		u64 idx = (gva >> xkvm_walk_shift(m, level)) &
			  (pdpte ? 3 : (m->pte_size == 4 ? 1023 : 511));

		pte = 0;
		w->pte_gpa[w->nr] = table + idx * m->pte_size;
		if (xkvm_read_guest(vcpu->vm, w->pte_gpa[w->nr], &pte,
				    m->pte_size))
			return -ENOENT;
		w->pte[w->nr++] = pte;
		w->level = level;
		if (!(pte & PTE_P))
			return -ENOENT;
		if (xkvm_walk_rsvd(m, pte, level)) {
			w->error |= X86_PF_PROT | X86_PF_RSVD;
			return -ENOENT;
		}
		if (!pdpte) {
			w->writable &= !!(pte & PTE_W);
			w->usr &= !!(pte & PTE_U);
		}
		w->nx |= m->nx && (pte & PTE_NX);
		if (xkvm_walk_large(m, pte, level))
			break;
		table = pte & (m->pte_size == 4 ? GENMASK_ULL(31, 12) :
					       GENMASK_ULL(51, 12));
	}
	return 0;
}

/* The permission checks of a present translation. */
static bool xkvm_walk_allowed(const struct xkvm_walk_mode *m,
			      const struct xkvm_walk *w, u32 access)
{
	bool write = access & XKVM_FAULT_WRITE;
	bool fetch = access & XKVM_FAULT_FETCH;

	if (write && !w->writable && (m->user || m->wp))
		return false;
	if (m->user && !w->usr)
		return false;
	if (fetch && w->nx)
		return false;
	if (!m->user && w->usr) {
		if (fetch && m->smep)
			return false;
		if (!fetch && m->smap && !m->ac)
			return false;
	}
	return true;
}

/* Compare-and-exchange one guest entry: 0 done, 1 changed, <0 error. */
static int xkvm_walk_cmpxchg(struct xkvm_vcpu *vcpu, u64 gpa, u64 old,
			     u64 new, int size)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_memslot *slot;
	unsigned long hva;
	int idx, r = -EFAULT;

	idx = srcu_read_lock(&vm->srcu);
	slot = xkvm_gfn_to_memslot(vm, gpa >> PAGE_SHIFT);
	if (!slot || (slot->flags & KVM_MEM_READONLY))
		goto out;
	hva = xkvm_memslot_gfn_to_hva(slot, gpa >> PAGE_SHIFT) +
	      offset_in_page(gpa);
	if (size == 8) {
		u64 __user *p = (u64 __user *)hva;

		if (access_ok(p, 8))
			r = __try_cmpxchg_user(p, &old, new, efault64);
	} else {
		u32 __user *p = (u32 __user *)hva;
		u32 o = old;

		if (access_ok(p, 4))
			r = __try_cmpxchg_user(p, &o, (u32)new, efault32);
	}
	if (!r)
		xkvm_mark_page_dirty_in_slot(vcpu, slot, gpa >> PAGE_SHIFT);
out:
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}

/* Accessed bits on the way, dirty on the leaf for a write; 1: retry. */
static int xkvm_walk_set_ad(struct xkvm_vcpu *vcpu,
			    const struct xkvm_walk_mode *m,
			    const struct xkvm_walk *w, u32 access)
{
	int i;

	for (i = 0; i < w->nr; i++) {
		u64 pte = w->pte[i], want = pte | PTE_A;

		if (m->levels == 3 && i == 0)
			continue;	/* PAE PDPTEs have no A bit */
		if (i == w->nr - 1 && (access & XKVM_FAULT_WRITE))
			want |= PTE_D;
		if (want != pte &&
		    xkvm_walk_cmpxchg(vcpu, w->pte_gpa[i], pte, want,
				      m->pte_size) == 1)
			return 1;
	}
	return 0;
}

static u64 xkvm_walk_gpa(const struct xkvm_walk_mode *m,
			 const struct xkvm_walk *w, u64 gva)
{
	u64 pte = w->pte[w->nr - 1];
	int shift = xkvm_walk_shift(m, w->level);

	if (m->pte_size == 4 && w->level == 2)
		/* 4 MiB page: bits 20:13 of the PDE are address bits 39:32 */
		return (pte & GENMASK_ULL(31, 22)) |
		       ((pte & GENMASK_ULL(20, 13)) << 19) |
		       (gva & GENMASK_ULL(21, 0));
	return (pte & GENMASK_ULL(51, shift)) |
	       (gva & GENMASK_ULL(shift - 1, 0));
}

static u32 xkvm_walk_error(const struct xkvm_walk_mode *m,
			   const struct xkvm_walk *w, u32 access)
{
	u32 err = w->error;

	if (access & XKVM_FAULT_WRITE)
		err |= X86_PF_WRITE;
	if (m->user)
		err |= X86_PF_USER;
	/* the I/D bit exists with EFER.NXE or CR4.SMEP only */
	if ((access & XKVM_FAULT_FETCH) && (m->nx || m->smep))
		err |= X86_PF_INSTR;
	return err;
}

/*
 * Translate @gva for @access (XKVM_FAULT_WRITE/FETCH, and XKVM_FAULT_USER
 * for a user-mode access: an implicit supervisor access at CPL 3, such as
 * an IDT read, is not one).  0: @t describes the translation.  -ENOENT: a
 * #PF with error code t->error.
 */
int xkvm_x86_walk_gva(struct xkvm_vcpu *vcpu, u64 gva, u32 access,
		      struct xkvm_x86_translation *t)
{
	struct xkvm_walk_mode m;
	struct xkvm_walk w;
	int r, tries;

	xkvm_walk_mode(vcpu, &m);
	m.user = access & XKVM_FAULT_USER;
	memset(t, 0, sizeof(*t));
	if (!m.levels) {
		t->gpa = (u32)gva;
		t->writable = t->user = t->dirty = true;
		t->page_shift = PAGE_SHIFT;
		return 0;
	}
	if (m.pte_size == 4)
		gva = (u32)gva;
	for (tries = 0; tries < WALK_RETRIES; tries++) {
		w.error = 0;
		r = xkvm_walk_tables(vcpu, &m, gva, &w);
		if (!r && !xkvm_walk_allowed(&m, &w, access)) {
			w.error |= X86_PF_PROT;
			r = -ENOENT;
		}
		if (r) {
			t->error = xkvm_walk_error(&m, &w, access);
			return r;
		}
		if (!xkvm_walk_set_ad(vcpu, &m, &w, access))
			break;
	}
	t->gpa = xkvm_walk_gpa(&m, &w, gva);
	t->writable = w.writable;
	t->user = w.usr;
	t->nx = w.nx;
	t->dirty = (w.pte[w.nr - 1] & PTE_D) || (access & XKVM_FAULT_WRITE);
	t->wp = m.wp;
	/* a global translation outlives MOV to CR3 in the guest's TLB */
	t->global = m.pge && (w.pte[w.nr - 1] & PTE_G);
	t->page_shift = xkvm_walk_shift(&m, w.level);
	/* protection keys exist in IA-32e paging only */
	if (m.levels >= 4)
		t->pkey = (w.pte[w.nr - 1] >> 59) & 0xf;
	return 0;
}

/* Translate @gva for @access (XKVM_FAULT_WRITE/FETCH) at the vCPU's CPL. */
int xkvm_x86_gva_to_gpa(struct xkvm_vcpu *vcpu, u64 gva, u32 access,
			xkvm_gpa_t *gpa, u32 *pf_error)
{
	struct xkvm_x86_translation t;
	int r;

	if (xkvm_x86_cpl(vcpu) == 3)
		access |= XKVM_FAULT_USER;
	r = xkvm_x86_walk_gva(vcpu, gva, access, &t);
	if (r)
		*pf_error = t.error;
	else
		*gpa = t.gpa;
	return r;
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
