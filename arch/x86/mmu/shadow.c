// SPDX-License-Identifier: GPL-2.0
/*
 * shadow.c - the shadow MMU, for CPUs without two-dimensional paging or
 * with it turned off (npt=0): the guest runs on page tables the host
 * builds from the guest's own, mapping guest-virtual addresses straight
 * to host pages.  Vendor-neutral: the vendor intercepts CR0/CR3/CR4
 * accesses, #PF and INVLPG, loads the hardware control registers that
 * xkvm_shadow_hw_regs() computes and CR3 = xkvm_shadow_root_pa(), and
 * reports page faults to xkvm_x86_exit_shadow_pf().
 *
 * Design: the shadow tables are each vCPU's own virtual TLB.  A #PF exit
 * walks the guest's tables (guest_walk.c: permissions, accessed and dirty
 * bits set in the guest's entries as the CPU would), reflects the fault
 * to the guest when its own tables forbid the access, and otherwise maps
 * that one 4 KiB page: guest large pages get small shadows.  A leaf is
 * writable only once the guest's dirty bit is set (a read maps it
 * read-only; the first write faults and sets it), user-accessible and
 * executable as the guest's tables say.  Like a TLB, the shadow may keep
 * a translation after the guest changed its entry until the guest flushes
 * it: INVLPG drops one page; MOV to CR3 drops the non-global leaves
 * (tlb_flush_guest), while those of global guest pages (G with CR4.PGE)
 * stay, as they do in the CPU's TLB; changes of the paging controls
 * (CR4.PGE toggled among them) drop the vCPU's whole tree
 * (tlb_flush_pending).  That is what the architecture lets the guest rely
 * on.  Keeping the global leaves matters: a guest kernel that switches
 * address spaces often (Linux's text_poke() switches to a temporary mm
 * and back for every patched instruction) would otherwise fault its whole
 * working set in again after each switch.  Entries the guest makes more
 * permissive (not present to present, read-only to writable) fault once
 * more and are found by the new walk.  Guest page-table writes are
 * therefore not tracked; see Documentation/mmu.md for what this costs and
 * what is left (a shared, write-protected shadow with a root cache).
 *
 * Non-global leaves: the vCPU notes the addresses of the first
 * XKVM_SHADOW_LOCAL_LOG it makes (shadow_local), so that a MOV to CR3
 * drops them without a walk of the tree; past that, the flush walks the
 * tree and also frees the tables it empties.
 *
 * Formats: a guest in IA-32e mode gets 4-level tables (5-level guests are
 * not offered: CR4.LA57 is reserved in shadow mode); every other mode
 * (paging off, 32-bit, PAE) runs on PAE tables, the hardware in PAE
 * paging with CR0.PG=1 (AMD-V's paged real mode for a guest with PE=0).
 * The PAE root is a page below 4 GiB, its first four entries the PDPTEs.
 * CR0.WP is always on in the hardware: a guest with WP=0 gets supervisor-
 * only writable leaves for what only its supervisor may write.
 *
 * Host pages: each present leaf holds one reference on its page, as in
 * tdp.c.  Removal of host pages (MMU notifiers, memslot changes) and the
 * start of dirty logging zap every vCPU's tree through the zap primitive
 * (virt/xkvm_mmu.c), which flushes every vCPU before releasing pages and
 * table pages.  A vCPU dropping its own tree needs no other CPU: it is
 * not in guest mode, and its entry flushes its TLB tag.
 *
 * Locks: every tree is changed only under xkvm.mmu_lock; vcpu->arch.
 * shadow_root changes under it too, in the vCPU's thread, before entry.
 * The note of non-global leaves (shadow_local, shadow_nr_local) is the
 * vCPU thread's own: a zap from another thread leaves it naming leaves
 * that are gone, which the flush then does not find.
 */
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/trap_pf.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>

#define SPT_P		_PAGE_PRESENT
#define SPT_W		_PAGE_RW
#define SPT_U		_PAGE_USER
#define SPT_A		_PAGE_ACCESSED
#define SPT_D		_PAGE_DIRTY
#define SPT_NX		_PAGE_NX
#define SPT_PKEY_SHIFT	59
/*
 * Available bits 9-10 of a leaf: the size of the guest page it is part of
 * (INVLPG of any address in a guest large page drops all of its leaves).
 */
#define SPT_ORIGIN_SHIFT	9
#define SPT_ORIGIN_MASK		(3ULL << SPT_ORIGIN_SHIFT)
enum { SPT_ORIGIN_4K, SPT_ORIGIN_2M, SPT_ORIGIN_4M, SPT_ORIGIN_1G };
/* Available bit 11 of a leaf: made from a global guest translation. */
#define SPT_GLOBAL	BIT_ULL(11)
#define SPT_ADDR	GENMASK_ULL(51, 12)
#define SPT_TABLE	(SPT_P | SPT_W | SPT_U | SPT_A)
#define SPT_ENTRIES	512
#define SPT_PAE_ROOTS	4

/* A vCPU whose tree grows past this many table pages starts over. */
#define SHADOW_MAX_TABLES	4096

static inline u64 *spt_child(u64 pte)
{
	return __va(pte & SPT_ADDR);
}

/* Levels of the tree the guest's current mode runs on: 4 or 3 (PAE). */
static int shadow_levels(const struct xkvm_x86_state *st)
{
	/* as xkvm_shadow_hw_regs(): no IA-32e mode while paging is off */
	return (st->efer & EFER_LMA) && (st->cr0 & X86_CR0_PG) ? 4 : 3;
}

/*
 * The hardware's CR0, CR4 and EFER for the guest's (in place): paging
 * always on, on PAE tables outside IA-32e mode, with write protection and
 * NX; LME off while the guest's paging is off, so that a guest between
 * setting LME and CR0.PG does not run in IA-32e mode.
 */
void xkvm_shadow_hw_regs(u64 *cr0, u64 *cr4, u64 *efer)
{
	bool paging = *cr0 & X86_CR0_PG;

	*cr0 |= X86_CR0_PG | X86_CR0_WP;
	*cr4 = (*cr4 | X86_CR4_PAE) & ~(u64)X86_CR4_PSE;
	*efer |= EFER_NX;
	if (!paging)
		*efer &= ~(u64)(EFER_LME | EFER_LMA);
}
EXPORT_SYMBOL_GPL(xkvm_shadow_hw_regs);

phys_addr_t xkvm_shadow_root_pa(struct xkvm_vcpu *vcpu)
{
	return __pa(vcpu->arch.shadow_root);
}
EXPORT_SYMBOL_GPL(xkvm_shadow_root_pa);

/*
 * Clear the entries below @table (at @level, 1 = leaves; @n entries) into
 * @b: leaves hand their page reference over, emptied tables their own
 * page.  Returns false when @b filled up first (call again after it is
 * released: what is cleared stays cleared).
 */
static bool shadow_zap_table(u64 *table, int level, int n,
			     struct xkvm_zap_batch *b, unsigned long *tables)
{
	int i;

	for (i = 0; i < n; i++) {
		u64 pte = READ_ONCE(table[i]);

		if (!(pte & SPT_P))
			continue;
		if (level > 1 &&
		    !shadow_zap_table(spt_child(pte), level - 1, SPT_ENTRIES,
				      b, tables))
			return false;
		if (b->nr == XKVM_ZAP_BATCH)
			return false;
		WRITE_ONCE(table[i], 0);
		if (level > 1) {
			xkvm_zap_batch_add(b, virt_to_page(spt_child(pte)), false);
			(*tables)--;
		} else {
			xkvm_zap_batch_add(b, pfn_to_page((pte & SPT_ADDR) >>
							  PAGE_SHIFT),
					   pte & SPT_W);
		}
	}
	return true;
}

static bool shadow_zap_vcpu(struct xkvm_vcpu *vcpu, struct xkvm_zap_batch *b)
{
	u64 *root = vcpu->arch.shadow_root;
	int levels = vcpu->arch.shadow_levels;

	if (!root)
		return true;
	return shadow_zap_table(root, levels,
				levels == 3 ? SPT_PAE_ROOTS : SPT_ENTRIES, b,
				&vcpu->arch.shadow_tables);
}

/*
 * The zap primitive's walk (xkvm_arch_zap_gfn_range) in shadow mode: a
 * shadow leaf does not say which guest frame it maps, so every vCPU's
 * tree goes, whatever the range.  mmu_lock held.
 */
xkvm_gfn_t xkvm_shadow_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				     xkvm_gfn_t end, struct xkvm_zap_batch *b)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;

	xkvm_for_each_vcpu(i, vcpu, vm)
		if (!shadow_zap_vcpu(vcpu, b))
			return start;
	return end;
}

/* Release what a zap of the vCPU's own tree took (no other CPU uses it). */
static void shadow_batch_put(struct xkvm_zap_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->nr; i++) {
		if (test_bit(i, b->dirty) && !PageReserved(b->pages[i]))
			SetPageDirty(b->pages[i]);
		put_page(b->pages[i]);
	}
	bitmap_zero(b->dirty, XKVM_ZAP_BATCH);
	b->nr = 0;
}

/* Drop the vCPU's whole tree; its TLB tag is flushed at the next entry. */
static void shadow_reset(struct xkvm_vcpu *vcpu)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_zap_batch b;
	bool done;

	b.nr = 0;
	bitmap_zero(b.dirty, XKVM_ZAP_BATCH);
	do {
		spin_lock(&vm->mmu_lock);
		done = shadow_zap_vcpu(vcpu, &b);
		spin_unlock(&vm->mmu_lock);
		shadow_batch_put(&b);
	} while (!done);
	vcpu->arch.tlb_flush_pending = true;
	vcpu->arch.tlb_flush_guest = false;
	vcpu->arch.shadow_1g_leaves = false;
	vcpu->arch.shadow_nr_local = 0;
	xkvm_x86_stat_inc(vcpu, shadow_resets);
}

/*
 * The vendor's copy of the guest's CR0, CR3, CR4 and EFER was @cr0, @cr3,
 * @cr4, @efer and vcpu->arch.state holds the new ones (from the guest or
 * from userspace): what the guest's TLB loses.  New paging controls drop
 * the tree; a new CR3 alone, the non-global translations.
 */
void xkvm_shadow_crs_changed(struct xkvm_vcpu *vcpu, u64 cr0, u64 cr3,
			     u64 cr4, u64 efer)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	if (cr4 != st->cr4 || efer != st->efer ||
	    ((cr0 ^ st->cr0) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)))
		vcpu->arch.tlb_flush_pending = true;
	else if (cr3 != st->cr3)
		vcpu->arch.tlb_flush_guest = true;
}
EXPORT_SYMBOL_GPL(xkvm_shadow_crs_changed);

/* A root page for @levels; a PAE root must lie below 4 GiB. */
static u64 *shadow_alloc_root(int levels)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO;

	if (levels == 3)
		gfp |= __GFP_DMA32;
	return (u64 *)__get_free_page(gfp);
}

static void shadow_flush_local(struct xkvm_vcpu *vcpu);

/*
 * Before each entry, interrupts on: a guest TLB flush drops the tree (a
 * change of the paging controls, a request) or its non-global leaves
 * (MOV to CR3); a change between IA-32e and the other modes changes the
 * root's format.  -ENOMEM if no root page can be had.
 */
int xkvm_shadow_prepare(struct xkvm_vcpu *vcpu)
{
	int levels;
	u64 *root, *old;

	if (!xkvm_x86_shadow_mmu())
		return 0;
	xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
	levels = shadow_levels(&vcpu->arch.state);
	if (vcpu->arch.tlb_flush_pending ||
	    vcpu->arch.shadow_tables > SHADOW_MAX_TABLES ||
	    (vcpu->arch.shadow_root && vcpu->arch.shadow_levels != levels))
		shadow_reset(vcpu);
	if (vcpu->arch.shadow_root && vcpu->arch.shadow_levels == levels) {
		if (vcpu->arch.tlb_flush_guest)
			shadow_flush_local(vcpu);
		return 0;
	}

	root = shadow_alloc_root(levels);
	if (!root)
		return -ENOMEM;
	spin_lock(&vcpu->vm->mmu_lock);
	old = vcpu->arch.shadow_root;
	vcpu->arch.shadow_root = root;
	vcpu->arch.shadow_levels = levels;
	spin_unlock(&vcpu->vm->mmu_lock);
	free_page((unsigned long)old);	/* empty: reset above */
	vcpu->arch.tlb_flush_pending = true;
	return 0;
}

void xkvm_shadow_vcpu_free(struct xkvm_vcpu *vcpu)
{
	if (!vcpu->arch.shadow_root)
		return;
	shadow_reset(vcpu);
	free_page((unsigned long)vcpu->arch.shadow_root);
	vcpu->arch.shadow_root = NULL;
}

/* Index of @gva at @level (1 = the 4 KiB leaves) of a tree of @levels. */
static int shadow_index(u64 gva, int level, int levels)
{
	if (levels == 3 && level == 3)
		return (gva >> 30) & 3;
	return (gva >> (12 + 9 * (level - 1))) & (SPT_ENTRIES - 1);
}

/*
 * The leaf entry of @gva, building the tables above it from @c; NULL
 * when there is no root.  mmu_lock held.
 */
static u64 *shadow_walk_build(struct xkvm_vcpu *vcpu,
			      struct xkvm_x86_page_cache *c, u64 gva)
{
	int levels = vcpu->arch.shadow_levels, level;
	u64 *table = vcpu->arch.shadow_root;

	if (!table)
		return NULL;
	for (level = levels; level > 1; level--) {
		u64 *pte = &table[shadow_index(gva, level, levels)];

		if (!(*pte & SPT_P)) {
			u64 *child = c->pages[--c->nr];
			/* PAE PDPTEs have no permission bits */
			u64 bits = (levels == 3 && level == 3) ? SPT_P : SPT_TABLE;

			WRITE_ONCE(*pte, __pa(child) | bits);
			vcpu->arch.shadow_tables++;
		}
		table = spt_child(*pte);
	}
	return &table[shadow_index(gva, 1, levels)];
}

/* The leaf table covering the 2 MiB of @gva, or NULL.  mmu_lock held. */
static u64 *shadow_leaf_table(struct xkvm_vcpu *vcpu, u64 gva)
{
	int levels = vcpu->arch.shadow_levels, level;
	u64 *table = vcpu->arch.shadow_root;

	if (!table)
		return NULL;
	for (level = levels; level > 1; level--) {
		u64 pte = table[shadow_index(gva, level, levels)];

		if (!(pte & SPT_P))
			return NULL;
		table = spt_child(pte);
	}
	return table;
}

/* The leaf entry of @gva, or NULL if no table holds it.  mmu_lock held. */
static u64 *shadow_leaf(struct xkvm_vcpu *vcpu, u64 gva)
{
	u64 *table = shadow_leaf_table(vcpu, gva);

	return table ? &table[shadow_index(gva, 1, vcpu->arch.shadow_levels)] :
		       NULL;
}

static void shadow_put_leaf(u64 pte)
{
	struct page *page = pfn_to_page((pte & SPT_ADDR) >> PAGE_SHIFT);

	if ((pte & SPT_W) && !PageReserved(page))
		SetPageDirty(page);
	put_page(page);
}

/*
 * Clear the non-global leaves below @table (at @level, 1 = leaves; @n
 * entries) and release their pages; the leaf and directory tables this
 * empties are freed (the vCPU is out of guest mode and flushes its TLB
 * tag before it enters again).  Returns whether @table is empty now.
 * mmu_lock held.
 */
static bool shadow_drop_local_table(struct xkvm_vcpu *vcpu, u64 *table,
				    int level, int n)
{
	bool empty = true, keep;
	int i;

	for (i = 0; i < n; i++) {
		u64 pte = table[i];

		if (!(pte & SPT_P))
			continue;
		if (level > 1)
			keep = !shadow_drop_local_table(vcpu, spt_child(pte),
							level - 1, SPT_ENTRIES);
		else
			keep = pte & SPT_GLOBAL;
		if (keep) {
			empty = false;
			continue;
		}
		WRITE_ONCE(table[i], 0);
		if (level == 1) {
			shadow_put_leaf(pte);
		} else {
			free_page((unsigned long)spt_child(pte));
			vcpu->arch.shadow_tables--;
		}
	}
	return empty;
}

/*
 * The guest's MOV to CR3: drop the non-global leaves, those the vCPU
 * noted or, past the note's size, all of them; the TLB tag is flushed at
 * the entry.
 */
static void shadow_flush_local(struct xkvm_vcpu *vcpu)
{
	unsigned int i, n = vcpu->arch.shadow_nr_local;
	int levels = vcpu->arch.shadow_levels;
	u64 *sptep, pte;

	spin_lock(&vcpu->vm->mmu_lock);
	if (n > XKVM_SHADOW_LOCAL_LOG) {
		shadow_drop_local_table(vcpu, vcpu->arch.shadow_root, levels,
					levels == 3 ? SPT_PAE_ROOTS : SPT_ENTRIES);
	} else {
		for (i = 0; i < n; i++) {
			sptep = shadow_leaf(vcpu, vcpu->arch.shadow_local[i]);
			pte = sptep ? *sptep : 0;
			if ((pte & SPT_P) && !(pte & SPT_GLOBAL)) {
				WRITE_ONCE(*sptep, 0);
				shadow_put_leaf(pte);
			}
		}
	}
	spin_unlock(&vcpu->vm->mmu_lock);
	vcpu->arch.shadow_nr_local = 0;
	vcpu->arch.tlb_flush_guest = false;
	vcpu->arch.tlb_flush_hw = true;
}

/* A non-global leaf was made at @gva: note where (vCPU thread). */
static void shadow_note_local(struct xkvm_vcpu *vcpu, u64 gva)
{
	unsigned int n = vcpu->arch.shadow_nr_local;

	gva &= PAGE_MASK;
	if (n > XKVM_SHADOW_LOCAL_LOG ||
	    (n && vcpu->arch.shadow_local[n - 1] == gva))
		return;
	if (n < XKVM_SHADOW_LOCAL_LOG)
		vcpu->arch.shadow_local[n] = gva;
	vcpu->arch.shadow_nr_local = n + 1;	/* one past the end: anywhere */
}

/* The leaf for a translation the guest's tables allow. */
static u64 shadow_leaf_bits(const struct xkvm_x86_translation *t,
			    u32 access, bool host_writable)
{
	bool user_access = access & XKVM_FAULT_USER;
	u64 leaf = SPT_P | SPT_A;
	bool write_ok;

	if (t->user)
		leaf |= SPT_U;
	if (t->nx)
		leaf |= SPT_NX;
	if (t->global)
		leaf |= SPT_GLOBAL;
	leaf |= (u64)t->pkey << SPT_PKEY_SHIFT;
	switch (t->page_shift) {
	case 21:
		leaf |= (u64)SPT_ORIGIN_2M << SPT_ORIGIN_SHIFT;
		break;
	case 22:
		leaf |= (u64)SPT_ORIGIN_4M << SPT_ORIGIN_SHIFT;
		break;
	case 30:
		leaf |= (u64)SPT_ORIGIN_1G << SPT_ORIGIN_SHIFT;
		break;
	}
	/* what the guest lets this access write */
	write_ok = t->writable || (!user_access && !t->wp);
	if (write_ok && t->dirty && host_writable) {
		leaf |= SPT_W | SPT_D;
		/*
		 * CR0.WP=0 lets the supervisor write a page its tables keep
		 * read-only; the hardware runs with WP=1, so such a leaf is
		 * the supervisor's alone (a user access faults and is
		 * walked again).
		 */
		if (!t->writable)
			leaf &= ~SPT_U;
	}
	return leaf;
}

static int shadow_map(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
		      u64 gva, const struct xkvm_x86_translation *t,
		      u32 access)
{
	bool logging = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
	struct xkvm_x86_page_cache *cache = &vcpu->arch.tdp_cache;
	xkvm_gfn_t gfn = t->gpa >> PAGE_SHIFT;
	struct xkvm *vm = vcpu->vm;
	bool installed = false;
	struct xkvm_mmu_fault mf;
	u64 leaf, *sptep, old;
	int r;

	r = xkvm_mmu_fault_begin(vcpu, slot, gfn, access & XKVM_FAULT_WRITE, &mf);
	if (r)
		return r;
	leaf = page_to_phys(mf.page) | shadow_leaf_bits(t, access, mf.writable);

	spin_lock(&vm->mmu_lock);
	if (t->page_shift == 30)
		vcpu->arch.shadow_1g_leaves = true;
	if (xkvm_mmu_fault_raced(vm, &mf))
		goto unlock;		/* raced: the guest faults again */
	sptep = shadow_walk_build(vcpu, cache, gva);
	if (!sptep)
		goto unlock;
	old = *sptep;
	WRITE_ONCE(*sptep, leaf);
	installed = true;
	if (!(leaf & SPT_GLOBAL))
		shadow_note_local(vcpu, gva);
	if (old & SPT_P) {
		/* a stale translation (or fewer rights) may be cached */
		if ((old ^ leaf) & ~(SPT_W | SPT_D))
			vcpu->arch.tlb_flush_hw = true;
		shadow_put_leaf(old);
	}
	if (logging && (leaf & SPT_W))
		xkvm_mark_page_dirty_in_slot(vcpu, slot, gfn);
unlock:
	spin_unlock(&vm->mmu_lock);
	if (!installed)
		put_page(mf.page);
	xkvm_x86_stat_inc(vcpu, pf_fixed);
	return 1;
}

/*
 * Map @page of the vendor's own at @gva, read-only, for the CPU's
 * supervisor accesses only (VT-x: the virtual-8086 TSS that runs a real-mode guest,
 * which never makes supervisor accesses of its own).  Not guest memory:
 * no memslot, no dirty log; the leaf holds a page reference like any
 * other, so zaps release it and the next access maps it again.
 */
int xkvm_shadow_map_private(struct xkvm_vcpu *vcpu, u64 gva, struct page *page)
{
	struct xkvm_x86_page_cache *cache = &vcpu->arch.tdp_cache;
	struct xkvm *vm = vcpu->vm;
	u64 *sptep, old;

	if (xkvm_mmu_cache_fill(cache))
		return -ENOMEM;
	get_page(page);
	spin_lock(&vm->mmu_lock);
	sptep = shadow_walk_build(vcpu, cache, gva);
	if (!sptep) {
		spin_unlock(&vm->mmu_lock);
		put_page(page);
		return 1;
	}
	old = *sptep;
	/* read-only: the CPU reads a vm86 TSS's bitmaps, writes nothing */
	WRITE_ONCE(*sptep, page_to_phys(page) | SPT_P | SPT_A | SPT_NX);
	shadow_note_local(vcpu, gva);
	if (old & SPT_P) {
		vcpu->arch.tlb_flush_hw = true;
		shadow_put_leaf(old);
	}
	spin_unlock(&vm->mmu_lock);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_shadow_map_private);

/* Reflect the guest's own page fault: CR2 and the error code. */
static void shadow_inject_pf(struct xkvm_vcpu *vcpu, u64 gva, u32 error)
{
	vcpu->arch.state.cr2 = gva;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_CRS);
	xkvm_x86_queue_exception(vcpu, X86_TRAP_PF, true, error);
	xkvm_x86_stat_inc(vcpu, pf_guest);
}

/*
 * A #PF exit in shadow mode: @gva faulted with the hardware's @error
 * code.  The guest's tables decide: its own fault goes back to it, an
 * allowed access to RAM is mapped, anything else is MMIO.
 */
int xkvm_x86_exit_shadow_pf(struct xkvm_vcpu *vcpu, u64 gva, u32 error)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_x86_translation t;
	struct xkvm_memslot *slot;
	u32 access = 0;
	int idx, r;

	vcpu->arch.l1d_flush = true;	/* host memory was walked */
	xkvm_x86_stat_inc(vcpu, pf_taken);
	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	if (error & X86_PF_WRITE)
		access |= XKVM_FAULT_WRITE;
	if (error & X86_PF_INSTR)
		access |= XKVM_FAULT_FETCH;
	if (error & X86_PF_USER)
		access |= XKVM_FAULT_USER;

	if (xkvm_x86_walk_gva(vcpu, gva, access, &t)) {
		shadow_inject_pf(vcpu, gva, t.error);
		return 1;
	}
	idx = srcu_read_lock(&vm->srcu);
	slot = xkvm_gfn_to_memslot(vm, t.gpa >> PAGE_SHIFT);
	if (slot && !((access & XKVM_FAULT_WRITE) &&
		      (slot->flags & KVM_MEM_READONLY))) {
		r = shadow_map(vcpu, slot, gva, &t, access);
	} else {
		xkvm_x86_stat_inc(vcpu, pf_emulate);
		r = xkvm_x86_emulate_mmio(vcpu, t.gpa, true, NULL, 0);
	}
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_shadow_pf);

/*
 * Clear the leaves of one leaf table that came from a guest page of
 * @origin or larger (all of them for SPT_ORIGIN_4K) and release their
 * pages.  Returns the largest origin seen among those cleared.
 */
static int shadow_clear_leaves(u64 *table, int first, int n, int origin)
{
	int i, seen = SPT_ORIGIN_4K;

	for (i = first; i < first + n; i++) {
		u64 pte = table[i];
		int o = (pte & SPT_ORIGIN_MASK) >> SPT_ORIGIN_SHIFT;

		if (!(pte & SPT_P) || o < origin)
			continue;
		WRITE_ONCE(table[i], 0);
		shadow_put_leaf(pte);
		seen = max(seen, o);
	}
	return seen;
}

/* The leaves of the 1 GiB guest pages in the 1 GiB region of @gva. */
static void shadow_clear_1g(struct xkvm_vcpu *vcpu, u64 gva)
{
	u64 base = gva & ~(u64)(SZ_1G - 1), a;

	for (a = base; a < base + SZ_1G; a += SZ_2M) {
		u64 *table = shadow_leaf_table(vcpu, a);

		if (table)
			shadow_clear_leaves(table, 0, SPT_ENTRIES,
					    SPT_ORIGIN_1G);
	}
}

/*
 * INVLPG (and the like) of @gva: drop its leaf and, when it lies in a
 * guest large page, every leaf of that page (the guest's TLB would hold
 * one entry for all of it); then flush the TLB tag.
 */
void xkvm_shadow_invlpg(struct xkvm_vcpu *vcpu, u64 gva)
{
	struct xkvm *vm = vcpu->vm;
	int origin;
	u64 *table;

	if (!xkvm_x86_shadow_mmu())
		return;
	xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
	if (!(vcpu->arch.state.efer & EFER_LMA))
		gva = (u32)gva;
	spin_lock(&vm->mmu_lock);
	table = shadow_leaf_table(vcpu, gva);
	if (table) {
		shadow_clear_leaves(table, shadow_index(gva, 1, 4), 1,
				    SPT_ORIGIN_4K);
		origin = shadow_clear_leaves(table, 0, SPT_ENTRIES,
					     SPT_ORIGIN_2M);
		/* a 4 MiB page (32-bit paging) spans two leaf tables */
		if (origin == SPT_ORIGIN_4M) {
			table = shadow_leaf_table(vcpu, gva ^ SZ_2M);
			if (table)
				shadow_clear_leaves(table, 0, SPT_ENTRIES,
						    SPT_ORIGIN_4M);
		}
	}
	if (vcpu->arch.shadow_1g_leaves)
		shadow_clear_1g(vcpu, gva);
	spin_unlock(&vm->mmu_lock);
	vcpu->arch.tlb_flush_hw = true;
	xkvm_x86_stat_inc(vcpu, invlpg);
}
EXPORT_SYMBOL_GPL(xkvm_shadow_invlpg);
