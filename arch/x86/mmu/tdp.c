// SPDX-License-Identifier: GPL-2.0
/*
 * tdp.c - two-dimensional paging (NPT and EPT): the per-VM second-level
 * page table that maps guest-physical frames to the host pages behind the
 * memslots, built lazily on TDP faults, 4 levels (guest-physical addresses
 * below 2^48), 4 KiB and 2 MiB leaves.
 *
 * The entry format comes from the vendor (xkvm_tdp_format), so this file
 * knows neither NPT nor EPT.  Each present leaf holds one reference on its
 * host page (a 2 MiB leaf on the huge page's folio); zapping a leaf hands
 * the reference to the caller's batch (virt/xkvm_mmu.c drops it after the
 * TLB flush, marking the page dirty if it was writable).  A read fault
 * maps the page read-only unless the host maps it writable already; a
 * later write fault adds the permission.
 *
 * 2 MiB leaves: where the host maps the backing memory with a huge page
 * (transparent or hugetlbfs: a PMD or PUD leaf in the VMM's page tables)
 * and the guest frame and host address are aligned alike within a 2 MiB
 * range the memslot covers, one 2 MiB leaf maps it, as KVM does: a guest
 * touching its memory takes one fault per 2 MiB instead of 512.  The host
 * mapping is looked at under mmu_lock after the notifier sequence check,
 * so a split of the huge page (which invalidates the range) cannot be
 * missed.  A 2 MiB range that already has 4 KiB leaves keeps them; once
 * they are all gone, a 2 MiB leaf replaces its empty table, which is freed
 * only after every vCPU has flushed (a paging-structure cache may still
 * point at it).  Other table pages live until the VM is destroyed.
 *
 * iTLB multihit (X86_BUG_ITLB_MULTIHIT): on CPUs with that erratum a guest
 * that executes code through a large page while changing its own page
 * sizes can make the CPU raise a machine check.  With nx_huge_pages (by
 * default where the CPU has the erratum, as KVM's parameter of the same
 * name) 2 MiB leaves are not executable; an instruction fetch from one
 * zaps it and maps the page with 4 KiB leaves, and the range stays small
 * until all of it is zapped.
 *
 * Dirty logging (virt/xkvm_dirty_log.c): a logging slot is mapped with
 * 4 KiB leaves only, and writable only by a write fault, which marks the
 * page dirty under mmu_lock; write protection (for the start of logging
 * and for every page taken out of the log) clears the writable bit of
 * 4 KiB leaves (with a hardware dirty log, the vendor's PML, only their
 * dirty flag) and zaps 2 MiB leaves through the zap primitive, the caller
 * flushing every vCPU before it returns.
 *
 * Locks: the tables are changed only under xkvm.mmu_lock.  A fault looks
 * the page up without the lock, then installs it under the lock only if
 * no MMU-notifier invalidation ran or is running meanwhile.
 */
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>
#include <linux/highmem.h>
#include <linux/io.h>

#include <xkvm_x86.h>

#define TDP_LEVELS	4
#define TDP_ENTRIES	512
#define TDP_ADDR_MASK	GENMASK_ULL(51, 12)
#define TDP_2M_PAGES	512		/* 4 KiB frames in a 2 MiB leaf */
/* Frames the 4-level tables can map: guest-physical addresses below 2^48. */
#define TDP_MAX_GFN	(1ULL << (9 * TDP_LEVELS))

static inline bool tdp_present(u64 pte)
{
	return pte & xkvm_x86_ops->tdp->present;
}

static inline bool tdp_large(u64 pte, int level)
{
	return level == 2 && (pte & xkvm_x86_ops->tdp->large);
}

/* nx_huge_pages: -1 auto (the CPU's erratum decides), 0 off, 1 force. */
static int tdp_nx_huge_pages = -1;

static int tdp_nx_huge_pages_set(const char *val,
				 const struct kernel_param *kp)
{
	if (sysfs_streq(val, "auto"))
		tdp_nx_huge_pages = -1;
	else if (sysfs_streq(val, "off"))
		tdp_nx_huge_pages = 0;
	else if (sysfs_streq(val, "force"))
		tdp_nx_huge_pages = 1;
	else
		return -EINVAL;
	return 0;
}

/* The setting in effect: auto follows the CPU's erratum. */
static bool tdp_nx_huge_pages_on(void)
{
	return tdp_nx_huge_pages >= 0 ? tdp_nx_huge_pages :
	       boot_cpu_has_bug(X86_BUG_ITLB_MULTIHIT);
}

/* As KVM's: Y or N, what is in effect. */
static int tdp_nx_huge_pages_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n", tdp_nx_huge_pages_on() ? 'Y' : 'N');
}

static const struct kernel_param_ops tdp_nx_huge_pages_ops = {
	.set = tdp_nx_huge_pages_set,
	.get = tdp_nx_huge_pages_get,
};
module_param_cb(nx_huge_pages, &tdp_nx_huge_pages_ops, NULL, 0444);
MODULE_PARM_DESC(nx_huge_pages,
		 "2 MiB guest mappings not executable (iTLB multihit): auto (where the CPU has the erratum), off, force; reads Y or N");

/* Are 2 MiB leaves made non-executable? */
static bool tdp_nx_huge(void)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;

	if (!f->exec && !f->nx)
		return false;
	return tdp_nx_huge_pages_on();
}

static inline bool tdp_exec(u64 pte)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;

	return f->exec ? pte & f->exec : !(pte & f->nx);
}

static inline u64 *tdp_child(u64 pte)
{
	return __va(pte & TDP_ADDR_MASK);
}

static inline int tdp_index(xkvm_gfn_t gfn, int level)
{
	return (gfn >> (9 * (level - 1))) & (TDP_ENTRIES - 1);
}

int xkvm_tdp_init(struct xkvm *vm)
{
	if (xkvm_x86_shadow_mmu())
		return 0;	/* the shadow MMU's tables are per vCPU */
	vm->arch.tdp_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	return vm->arch.tdp_root ? 0 : -ENOMEM;
}

phys_addr_t xkvm_tdp_root_pa(struct xkvm *vm)
{
	return __pa(vm->arch.tdp_root);
}
EXPORT_SYMBOL_GPL(xkvm_tdp_root_pa);

/* A zap in progress: the batch, and how many leaves of each size it took. */
struct tdp_zap {
	struct xkvm_zap_batch *b;
	unsigned long n4k, n2m;
};

/*
 * Clear the leaves of [*start, end) below @table, which maps from gfn
 * @base, into the batch.  A 2 MiB leaf the range touches goes whole.
 * Stops when the batch is full; *start is then the first frame not done.
 * Returns false when it stopped early.
 */
static bool tdp_zap_level(u64 *table, int level, xkvm_gfn_t base,
			  xkvm_gfn_t *start, xkvm_gfn_t end, struct tdp_zap *z)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	xkvm_gfn_t span = 1ULL << (9 * (level - 1));
	int i = (*start - base) >> (9 * (level - 1));

	for (; i < TDP_ENTRIES; i++) {
		xkvm_gfn_t lo = base + i * span;
		u64 pte = table[i];

		if (lo >= end)
			break;
		if (tdp_present(pte) && (level == 1 || tdp_large(pte, level))) {
			if (z->b->nr == XKVM_ZAP_BATCH)
				return false;
			WRITE_ONCE(table[i], 0);
			xkvm_zap_batch_add(z->b, pfn_to_page((pte & TDP_ADDR_MASK) >>
							     PAGE_SHIFT),
					   pte & f->writable);
			if (level == 1)
				z->n4k++;
			else
				z->n2m++;
		} else if (tdp_present(pte) &&
			   !tdp_zap_level(tdp_child(pte), level - 1, lo, start,
					  end, z)) {
			return false;
		}
		*start = min(lo + span, end);
	}
	return true;
}

/* Caller holds vm->mmu_lock and releases @b's pages after a flush. */
xkvm_gfn_t xkvm_arch_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				   xkvm_gfn_t end, struct xkvm_zap_batch *b)
{
	struct tdp_zap z = { .b = b };
	bool done;

	lockdep_assert_held(&vm->mmu_lock);
	if (xkvm_x86_shadow_mmu())
		return xkvm_shadow_zap_gfn_range(vm, start, end, b);
	end = min(end, TDP_MAX_GFN);
	if (start >= end)
		return start;
	done = tdp_zap_level(vm->arch.tdp_root, TDP_LEVELS, 0, &start, end, &z);
	vm->arch.stat[XKVM_STAT_pages_4k] -= z.n4k;
	vm->arch.stat[XKVM_STAT_pages_2m] -= z.n2m;
	return done ? end : start;
}

/*
 * Take write permission from the leaves of [start, end) below @table,
 * which maps from gfn @base; 2 MiB leaves are zapped.  With a hardware
 * dirty log (PML) a 4 KiB leaf keeps its permission and loses its dirty
 * flag instead: the next write sets the flag again and is logged.
 * Returns true if a 4 KiB leaf changed (the zaps flush by themselves).
 */
static bool tdp_wrprot_level(struct xkvm *vm, u64 *table, int level,
			     xkvm_gfn_t base, xkvm_gfn_t start, xkvm_gfn_t end)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	int shift = 9 * (level - 1);
	xkvm_gfn_t span = 1ULL << shift;
	int i = start > base ? (start - base) >> shift : 0;
	bool flush = false;

	for (; i < TDP_ENTRIES; i++) {
		xkvm_gfn_t lo = base + i * span;
		u64 pte = READ_ONCE(table[i]);

		if (lo >= end)
			break;
		if (!tdp_present(pte))
			continue;
		if (tdp_large(pte, level)) {
			xkvm_mmu_zap_gfn_range(vm, lo, lo + span, false);
		} else if (level == 1) {
			u64 take = f->writable;
			struct page *page;

			if (xkvm_x86_ops->cpu_dirty_log_size && f->dirty)
				take = f->dirty;
			if (!(pte & take))
				continue;
			WRITE_ONCE(table[i], pte & ~take);
			/* the host must write the page back, as after a zap */
			page = pfn_to_page((pte & TDP_ADDR_MASK) >> PAGE_SHIFT);
			if (!PageReserved(page))
				SetPageDirty(page);
			flush = true;
		} else {
			flush |= tdp_wrprot_level(vm, tdp_child(pte), level - 1,
						  lo, start, end);
		}
	}
	return flush;
}

bool xkvm_arch_write_protect_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				       xkvm_gfn_t end)
{
	lockdep_assert_held(&vm->mmu_lock);
	if (xkvm_x86_shadow_mmu()) {
		/* shadow leaves are not found by frame: all of them go */
		xkvm_mmu_zap_gfn_range(vm, start, end, false);
		return false;
	}
	end = min(end, TDP_MAX_GFN);
	if (start >= end)
		return false;
	return tdp_wrprot_level(vm, vm->arch.tdp_root, TDP_LEVELS, 0, start,
				end);
}

u32 xkvm_arch_cpu_dirty_log_size(void)
{
	return xkvm_x86_ops->cpu_dirty_log_size;
}

static void tdp_free_level(u64 *table, int level)
{
	int i;

	for (i = 0; level > 1 && i < TDP_ENTRIES; i++)
		if (tdp_present(table[i]) && !tdp_large(table[i], level))
			tdp_free_level(tdp_child(table[i]), level - 1);
	free_page((unsigned long)table);
}

/* VM teardown: no vCPU runs any more. */
void xkvm_tdp_destroy(struct xkvm *vm)
{
	if (!vm->arch.tdp_root)
		return;
	spin_lock(&vm->mmu_lock);
	xkvm_mmu_zap_gfn_range(vm, 0, TDP_MAX_GFN, true);
	spin_unlock(&vm->mmu_lock);
	tdp_free_level(vm->arch.tdp_root, TDP_LEVELS);
	vm->arch.tdp_root = NULL;
}

enum tdp_install_result {
	TDP_INSTALLED,		/* new leaf: the page reference is the tables' */
	TDP_UPGRADED,		/* same page, write permission added */
	TDP_PRESENT,		/* nothing to do */
};

/* The entry of @gfn at @level, building the tables above it from @c. */
static u64 *tdp_walk_build(struct xkvm *vm, struct xkvm_x86_page_cache *c,
			   xkvm_gfn_t gfn, int target)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	u64 *table = vm->arch.tdp_root;
	int level;

	for (level = TDP_LEVELS; level > target; level--) {
		u64 *pte = &table[tdp_index(gfn, level)];

		if (tdp_large(*pte, level))
			return pte;	/* a 2 MiB leaf covers @gfn */
		if (!tdp_present(*pte)) {
			u64 *child = c->pages[--c->nr];

			WRITE_ONCE(*pte, __pa(child) | f->table);
			vm->arch.tdp_pages++;
		}
		table = tdp_child(*pte);
	}
	return &table[tdp_index(gfn, target)];
}

/*
 * @old maps the frame of @leaf read-only: give it write permission.  No
 * flush is needed to add a permission: a stale read-only translation
 * faults once more and finds this one.
 */
static enum tdp_install_result tdp_upgrade(u64 *pte, u64 old, u64 leaf)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;

	if ((old & TDP_ADDR_MASK) == (leaf & TDP_ADDR_MASK) &&
	    (leaf & f->writable) && !(old & f->writable)) {
		WRITE_ONCE(*pte, old | (leaf & f->writable));
		return TDP_UPGRADED;
	}
	return TDP_PRESENT;
}

static bool tdp_table_empty(const u64 *table)
{
	int i;

	for (i = 0; i < TDP_ENTRIES; i++)
		if (tdp_present(table[i]))
			return false;
	return true;
}

/*
 * Install @leaf2m (0: none) or @leaf for @gfn; caller holds mmu_lock.  A
 * present leaf of the same frame only gains write permission.
 */
static enum tdp_install_result tdp_install(struct xkvm *vm,
					   struct xkvm_x86_page_cache *c,
					   xkvm_gfn_t gfn, u64 leaf, u64 leaf2m)
{
	u64 *pte, old;

	if (leaf2m) {
		pte = tdp_walk_build(vm, c, gfn, 2);
		old = *pte;
		if (tdp_large(old, 2))
			return tdp_upgrade(pte, old, leaf2m);
		if (!tdp_present(old) || tdp_table_empty(tdp_child(old))) {
			WRITE_ONCE(*pte, leaf2m);
			vm->arch.stat[XKVM_STAT_pages_2m]++;
			if (tdp_present(old)) {
				/* no CPU may walk the old table any more */
				xkvm_make_all_vcpus_request(vm,
							    XKVM_REQ_TLB_FLUSH);
				xkvm_arch_remote_tlb_flushed(vm);
				free_page((unsigned long)tdp_child(old));
			}
			return TDP_INSTALLED;
		}
		/* 4 KiB leaves live in this range: map the page small */
	}
	pte = tdp_walk_build(vm, c, gfn, 1);
	old = *pte;
	if (tdp_large(old, 2)) {
		/* the page's 2 MiB frame is mapped already */
		return tdp_upgrade(pte, old, (leaf & ~TDP_ADDR_MASK) |
				   ((old & TDP_ADDR_MASK) & ~(u64)(SZ_2M - 1)));
	}
	if (!tdp_present(old)) {
		WRITE_ONCE(*pte, leaf);
		vm->arch.stat[XKVM_STAT_pages_4k]++;
		return TDP_INSTALLED;
	}
	return tdp_upgrade(pte, old, leaf);
}

/*
 * The first frame of the 2 MiB range around @hva if the host maps it with
 * a huge page (a PMD leaf, or a PUD leaf it is part of), else 0;
 * *writable: the host lets it be written.  The walk is lockless with
 * interrupts off, as GUP-fast does: page tables are not freed meanwhile.
 */
static unsigned long tdp_host_2m_pfn(struct mm_struct *mm, unsigned long hva,
				     bool *writable)
{
	unsigned long flags, pfn = 0;
	pgd_t *pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	local_irq_save(flags);
	pgd = pgd_offset(mm, hva);
	p4d = READ_ONCE(*p4d_offset(pgd, hva));
	if (!p4d_present(p4d))
		goto out;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (!pud_present(pud))
		goto out;
	if (pud_leaf(pud)) {
		pfn = (pud_pfn(pud) + ((hva & ~PUD_MASK) >> PAGE_SHIFT)) &
		      ~(unsigned long)(TDP_2M_PAGES - 1);
		*writable = pud_write(pud);
		goto out;
	}
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (pmd_present(pmd) && pmd_leaf(pmd)) {
		pfn = pmd_pfn(pmd);
		*writable = pmd_write(pmd);
	}
out:
	local_irq_restore(flags);
	return pfn;
}

/*
 * The 2 MiB leaf that can map @gfn, whose 4 KiB page is @page, or 0: the
 * whole 2 MiB range is in the slot, guest frame and host address are
 * aligned alike, and the host maps it with a huge page that @page is part
 * of.  mmu_lock held, after the invalidation check.
 */
static u64 tdp_leaf_2m(struct xkvm *vm, const struct xkvm_memslot *slot,
		       xkvm_gfn_t gfn, struct page *page, bool writable)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	xkvm_gfn_t base = gfn & ~(xkvm_gfn_t)(TDP_2M_PAGES - 1);
	unsigned long hva = xkvm_memslot_gfn_to_hva(slot, gfn), pfn;
	bool host_writable = false;
	u64 leaf;

	if (!f->large || base < slot->base_gfn ||
	    base + TDP_2M_PAGES > slot->base_gfn + slot->npages ||
	    ((hva >> PAGE_SHIFT) ^ gfn) & (TDP_2M_PAGES - 1))
		return 0;
	pfn = tdp_host_2m_pfn(vm->mm, hva, &host_writable);
	if (!pfn || page_to_pfn(page) - pfn != (gfn & (TDP_2M_PAGES - 1)))
		return 0;
	leaf = PFN_PHYS(pfn) | f->leaf_ro | f->large |
	       (writable && host_writable ? f->writable : 0);
	return tdp_nx_huge() ? (leaf & ~f->exec) | f->nx : leaf;
}

/*
 * An instruction fetch from @gfn: if a non-executable 2 MiB leaf maps it
 * (nx_huge_pages), zap that leaf (and flush) so that the page is mapped
 * again with an executable 4 KiB leaf.  mmu_lock held.
 */
static void tdp_split_for_exec(struct xkvm *vm, xkvm_gfn_t gfn)
{
	xkvm_gfn_t base = gfn & ~(xkvm_gfn_t)(TDP_2M_PAGES - 1);
	u64 *table = vm->arch.tdp_root;
	int level;

	for (level = TDP_LEVELS; level > 2; level--) {
		u64 pte = table[tdp_index(gfn, level)];

		if (!tdp_present(pte))
			return;
		table = tdp_child(pte);
	}
	table += tdp_index(gfn, 2);
	if (tdp_large(*table, 2) && !tdp_exec(*table)) {
		xkvm_mmu_zap_gfn_range(vm, base, base + TDP_2M_PAGES, false);
		vm->arch.stat[XKVM_STAT_nx_huge_splits]++;
	}
}

static int xkvm_tdp_map(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
			xkvm_gfn_t gfn, u32 fault)
{
	bool write_fault = fault & XKVM_FAULT_WRITE;
	bool logging = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	struct xkvm_x86_page_cache *cache = &vcpu->arch.tdp_cache;
	struct xkvm *vm = vcpu->vm;
	struct xkvm_mmu_fault mf;
	u64 leaf, leaf2m;
	int r;

	if (gfn >= TDP_MAX_GFN)		/* memslots never reach this high */
		return -EFAULT;
	r = xkvm_mmu_fault_begin(vcpu, slot, gfn, write_fault, &mf);
	if (r)
		return r;

	leaf = page_to_phys(mf.page) | f->leaf_ro |
	       (mf.writable ? f->writable : 0);
	spin_lock(&vm->mmu_lock);
	if (xkvm_mmu_fault_raced(vm, &mf)) {
		r = TDP_PRESENT;	/* raced: the guest faults again */
	} else {
		if ((fault & XKVM_FAULT_FETCH) && tdp_nx_huge()) {
			tdp_split_for_exec(vm, gfn);
			leaf2m = 0;
		} else if (logging) {
			leaf2m = 0;	/* tracked one 4 KiB page at a time */
		} else {
			leaf2m = tdp_leaf_2m(vm, slot, gfn, mf.page, mf.writable);
		}
		r = tdp_install(vm, cache, gfn, leaf, leaf2m);
		if (logging && mf.writable)
			xkvm_mark_page_dirty_in_slot(vcpu, slot, gfn);
	}
	spin_unlock(&vm->mmu_lock);
	if (r != TDP_INSTALLED)
		put_page(mf.page);
	if (r == TDP_PRESENT)
		xkvm_x86_stat_inc(vcpu, pf_spurious);
	else
		xkvm_x86_stat_inc(vcpu, pf_fixed);
	return 1;
}

int xkvm_x86_exit_tdp_fault(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			    u32 fault, const u8 *insn, int insn_len)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_memslot *slot;
	int idx, r;

	vcpu->arch.l1d_flush = true;	/* host memory was walked */
	xkvm_x86_stat_inc(vcpu, exits_tdp_fault);
	xkvm_x86_stat_inc(vcpu, pf_taken);
	idx = srcu_read_lock(&vm->srcu);
	slot = xkvm_gfn_to_memslot(vm, gpa >> PAGE_SHIFT);
	if (slot && !((fault & XKVM_FAULT_WRITE) &&
		      (slot->flags & KVM_MEM_READONLY))) {
		r = xkvm_tdp_map(vcpu, slot, gpa >> PAGE_SHIFT, fault);
	} else {
		/* a fault in the guest's own walk says nothing of the data */
		xkvm_x86_stat_inc(vcpu, pf_emulate);
		r = xkvm_x86_emulate_mmio(vcpu, gpa, !(fault & XKVM_FAULT_IN_WALK),
					  insn, insn_len);
	}
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_tdp_fault);
