// SPDX-License-Identifier: GPL-2.0
/*
 * tdp.c - two-dimensional paging (NPT and EPT): the per-VM second-level
 * page table that maps guest-physical frames to the host pages behind the
 * memslots, built lazily on TDP faults, 4 KiB leaves, 4 levels.
 *
 * The entry format comes from the vendor (xkvm_tdp_format), so this file
 * knows neither NPT nor EPT.  Each present leaf holds one reference on its
 * host page; zapping a leaf drops it (marking the page dirty if it was
 * writable).  Table pages live until the VM is destroyed.
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

static void tdp_release_leaf(u64 pte)
{
	struct page *page = pfn_to_page((pte & TDP_ADDR_MASK) >> PAGE_SHIFT);
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;

	if ((pte & f->writable) && !PageReserved(page))
		SetPageDirty(page);
	put_page(page);
}

/* Zap leaves of [start, end) below @table, which maps from gfn @base. */
static bool tdp_zap_level(u64 *table, int level, xkvm_gfn_t base,
			  xkvm_gfn_t start, xkvm_gfn_t end)
{
	xkvm_gfn_t span = 1ULL << (9 * (level - 1));
	bool zapped = false;
	int i;

	for (i = 0; i < TDP_ENTRIES; i++) {
		xkvm_gfn_t lo = base + i * span;

		if (lo + span <= start)
			continue;
		if (lo >= end)
			break;
		if (!tdp_present(table[i]))
			continue;
		if (level == 1) {
			tdp_release_leaf(table[i]);
			WRITE_ONCE(table[i], 0);
			zapped = true;
		} else {
			zapped |= tdp_zap_level(tdp_child(table[i]), level - 1,
						lo, start, end);
		}
	}
	return zapped;
}

/* Caller holds vm->mmu_lock; the caller flushes TLBs if this returns true. */
bool xkvm_arch_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
			     xkvm_gfn_t end)
{
	lockdep_assert_held(&vm->mmu_lock);
	return tdp_zap_level(vm->arch.tdp_root, TDP_LEVELS, 0, start, end);
}

static void tdp_free_level(u64 *table, int level)
{
	int i;

	for (i = 0; level > 1 && i < TDP_ENTRIES; i++)
		if (tdp_present(table[i]))
			tdp_free_level(tdp_child(table[i]), level - 1);
	free_page((unsigned long)table);
}

void xkvm_tdp_destroy(struct xkvm *vm)
{
	if (!vm->arch.tdp_root)
		return;
	spin_lock(&vm->mmu_lock);
	tdp_zap_level(vm->arch.tdp_root, TDP_LEVELS, 0, 0, ~0ULL);
	spin_unlock(&vm->mmu_lock);
	tdp_free_level(vm->arch.tdp_root, TDP_LEVELS);
	vm->arch.tdp_root = NULL;
}

struct tdp_cache {
	int nr;
	u64 *pages[TDP_LEVELS - 1];
};

static int tdp_cache_fill(struct tdp_cache *c)
{
	while (c->nr < ARRAY_SIZE(c->pages)) {
		c->pages[c->nr] = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!c->pages[c->nr])
			return -ENOMEM;
		c->nr++;
	}
	return 0;
}

static void tdp_cache_free(struct tdp_cache *c)
{
	while (c->nr)
		free_page((unsigned long)c->pages[--c->nr]);
}

/* Install the leaf for @gfn; caller holds mmu_lock.  false: already there. */
static bool tdp_install(struct xkvm *vm, struct tdp_cache *c, xkvm_gfn_t gfn,
			u64 leaf)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	u64 *table = vm->arch.tdp_root;
	int level;

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
	if (tdp_present(*table))
		return false;
	WRITE_ONCE(*table, leaf);
	return true;
}

static int xkvm_tdp_map(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
			xkvm_gfn_t gfn)
{
	const struct xkvm_tdp_format *f = xkvm_x86_ops->tdp;
	bool writable = !(slot->flags & KVM_MEM_READONLY);
	struct xkvm *vm = vcpu->vm;
	struct tdp_cache cache = { 0 };
	unsigned long seq;
	struct page *page;
	long got;
	u64 leaf;
	int r;

	r = tdp_cache_fill(&cache);
	if (r)
		goto out;

	seq = READ_ONCE(vm->mmu_invalidate_seq);
	smp_rmb();
	got = get_user_pages_unlocked(xkvm_memslot_gfn_to_hva(slot, gfn), 1,
				      &page, writable ? FOLL_WRITE : 0);
	if (got != 1) {
		r = -EFAULT;
		goto out;
	}

	leaf = page_to_phys(page) | f->leaf_ro | (writable ? f->writable : 0);
	r = 1;
	spin_lock(&vm->mmu_lock);
	if (vm->mmu_invalidate_in_progress ||
	    vm->mmu_invalidate_seq != seq ||
	    !tdp_install(vm, &cache, gfn, leaf))
		put_page(page);		/* raced: the guest faults again */
	spin_unlock(&vm->mmu_lock);
out:
	tdp_cache_free(&cache);
	return r;
}

int xkvm_x86_exit_tdp_fault(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			    u32 fault, const u8 *insn, int insn_len)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_memslot *slot;
	int idx, r;

	idx = srcu_read_lock(&vm->srcu);
	slot = xkvm_gfn_to_memslot(vm, gpa >> PAGE_SHIFT);
	if (slot && !((fault & XKVM_FAULT_WRITE) &&
		      (slot->flags & KVM_MEM_READONLY)))
		r = xkvm_tdp_map(vcpu, slot, gpa >> PAGE_SHIFT);
	else
		r = xkvm_x86_emulate_mmio(vcpu, gpa, insn, insn_len);
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_tdp_fault);
