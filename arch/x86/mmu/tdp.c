// SPDX-License-Identifier: GPL-2.0
/*
 * tdp.c - two-dimensional paging (NPT and EPT): the per-VM second-level
 * page table that maps guest-physical frames to the host pages behind the
 * memslots, built lazily on TDP faults, 4 KiB leaves, 4 levels.
 *
 * The entry format comes from the vendor (xkvm_tdp_format), so this file
 * knows neither NPT nor EPT.  Each present leaf holds one reference on its
 * host page; zapping a leaf hands the reference to the caller's batch
 * (virt/xkvm_mmu.c drops it after the TLB flush, marking the page dirty if
 * it was writable).  A read fault maps the page read-only unless the host
 * maps it writable already; a later write fault adds the permission.
 * Table pages live until the VM is destroyed.
 *
 * Locks: the tables are changed only under xkvm.mmu_lock.  A fault looks
 * the page up without the lock, then installs it under the lock only if
 * no MMU-notifier invalidation ran or is running meanwhile.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/io.h>

#include <xkvm_x86.h>

#define TDP_LEVELS	4
#define TDP_ENTRIES	512
#define TDP_ADDR_MASK	GENMASK_ULL(51, 12)
/* Frames the 4-level tables can map: guest-physical addresses below 2^48. */
#define TDP_MAX_GFN	(1ULL << (9 * TDP_LEVELS))

static inline bool tdp_present(u64 pte)
{
	return pte & xkvm_x86_ops->tdp->present;
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
	vm->arch.tdp_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	return vm->arch.tdp_root ? 0 : -ENOMEM;
}

phys_addr_t xkvm_tdp_root_pa(struct xkvm *vm)
{
	return __pa(vm->arch.tdp_root);
}
EXPORT_SYMBOL_GPL(xkvm_tdp_root_pa);

/*
 * Clear the leaves of [*start, end) below @table, which maps from gfn
 * @base, into @b.  Stops when @b is full; *start is then the first frame
 * not done.  Returns false when it stopped early.
 */
static bool tdp_zap_level(u64 *table, int level, xkvm_gfn_t base,
			  xkvm_gfn_t *start, xkvm_gfn_t end,
			  struct xkvm_zap_batch *b)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	xkvm_gfn_t span = 1ULL << (9 * (level - 1));
	int i = (*start - base) >> (9 * (level - 1));

	for (; i < TDP_ENTRIES; i++) {
		xkvm_gfn_t lo = base + i * span;
		u64 pte = table[i];

		if (lo >= end)
			break;
		if (tdp_present(pte) && level == 1) {
			if (b->nr == XKVM_ZAP_BATCH)
				return false;
			WRITE_ONCE(table[i], 0);
			xkvm_zap_batch_add(b, pfn_to_page((pte & TDP_ADDR_MASK) >>
							  PAGE_SHIFT),
					   pte & f->writable);
		} else if (tdp_present(pte) &&
			   !tdp_zap_level(tdp_child(pte), level - 1, lo, start,
					  end, b)) {
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
	unsigned int before = b->nr;
	bool done;

	lockdep_assert_held(&vm->mmu_lock);
	end = min(end, TDP_MAX_GFN);
	if (start >= end)
		return start;
	done = tdp_zap_level(vm->arch.tdp_root, TDP_LEVELS, 0, &start, end, b);
	vm->arch.stat[XKVM_STAT_pages_4k] -= b->nr - before;
	return done ? end : start;
}

static void tdp_free_level(u64 *table, int level)
{
	int i;

	for (i = 0; level > 1 && i < TDP_ENTRIES; i++)
		if (tdp_present(table[i]))
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

/*
 * Table pages for one fault, kept per vCPU between faults and topped up
 * before mmu_lock is taken (the lock is a spinlock: no allocation under it).
 */
static int tdp_cache_fill(struct xkvm_x86_page_cache *c)
{
	while (c->nr < ARRAY_SIZE(c->pages)) {
		c->pages[c->nr] = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!c->pages[c->nr])
			return -ENOMEM;
		c->nr++;
	}
	return 0;
}

void xkvm_tdp_vcpu_free(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_page_cache *c = &vcpu->arch.tdp_cache;

	while (c->nr)
		free_page((unsigned long)c->pages[--c->nr]);
}

enum tdp_install_result {
	TDP_INSTALLED,		/* new leaf: the page reference is the tables' */
	TDP_UPGRADED,		/* same page, write permission added */
	TDP_PRESENT,		/* nothing to do */
};

/*
 * Install @leaf for @gfn; caller holds mmu_lock.  A present leaf of the
 * same page is only given write permission if @leaf has it.
 */
static enum tdp_install_result tdp_install(struct xkvm *vm,
					   struct xkvm_x86_page_cache *c,
					   xkvm_gfn_t gfn, u64 leaf)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	u64 *table = vm->arch.tdp_root;
	int level;
	u64 old;

	for (level = TDP_LEVELS; level > 1; level--) {
		u64 *pte = &table[tdp_index(gfn, level)];

		if (!tdp_present(*pte)) {
			u64 *child = c->pages[--c->nr];

			WRITE_ONCE(*pte, __pa(child) | f->table);
			vm->arch.tdp_pages++;
		}
		table = tdp_child(*pte);
	}
	table += tdp_index(gfn, 1);
	old = *table;
	if (!tdp_present(old)) {
		WRITE_ONCE(*table, leaf);
		vm->arch.stat[XKVM_STAT_pages_4k]++;
		return TDP_INSTALLED;
	}
	/*
	 * Read-only until now (a read fault came first): the same page gets
	 * write permission.  No flush is needed to add a permission: a stale
	 * read-only translation faults once more and finds this one.
	 */
	if ((old & TDP_ADDR_MASK) == (leaf & TDP_ADDR_MASK) &&
	    (leaf & f->writable) && !(old & f->writable)) {
		WRITE_ONCE(*table, leaf);
		return TDP_UPGRADED;
	}
	return TDP_PRESENT;
}

/*
 * The host page behind @hva.  A read fault does not make the host break
 * copy-on-write or allocate a page for it: it maps what the host maps,
 * writable only if the host's own entry already is.
 */
static struct page *tdp_host_page(unsigned long hva, bool write_fault,
				  bool writable_slot, bool *writable)
{
	struct page *page;

	if (writable_slot && get_user_page_fast_only(hva, FOLL_WRITE, &page)) {
		*writable = true;
		return page;
	}
	if (get_user_pages_unlocked(hva, 1, &page,
				    write_fault ? FOLL_WRITE : 0) != 1)
		return NULL;
	*writable = write_fault;
	return page;
}

static int xkvm_tdp_map(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
			xkvm_gfn_t gfn, bool write_fault)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	struct xkvm_x86_page_cache *cache = &vcpu->arch.tdp_cache;
	struct xkvm *vm = vcpu->vm;
	unsigned long seq;
	struct page *page;
	bool writable;
	u64 leaf;
	int r;

	if (gfn >= TDP_MAX_GFN)		/* memslots never reach this high */
		return -EFAULT;
	if (tdp_cache_fill(cache))
		return -ENOMEM;

	seq = READ_ONCE(vm->mmu_invalidate_seq);
	smp_rmb();
	page = tdp_host_page(xkvm_memslot_gfn_to_hva(slot, gfn), write_fault,
			     !(slot->flags & KVM_MEM_READONLY), &writable);
	if (!page)
		return -EFAULT;

	leaf = page_to_phys(page) | f->leaf_ro | (writable ? f->writable : 0);
	spin_lock(&vm->mmu_lock);
	if (vm->mmu_invalidate_in_progress || vm->mmu_invalidate_seq != seq)
		r = TDP_PRESENT;	/* raced: the guest faults again */
	else
		r = tdp_install(vm, cache, gfn, leaf);
	spin_unlock(&vm->mmu_lock);
	if (r != TDP_INSTALLED)
		put_page(page);
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
		r = xkvm_tdp_map(vcpu, slot, gpa >> PAGE_SHIFT,
				 fault & XKVM_FAULT_WRITE);
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
