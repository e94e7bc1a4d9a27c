// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_mmu.c - the one primitive that takes guest frames away from the
 * second-level page tables: zap, flush every vCPU, and only then release
 * the host pages.  Memslot deletion and moves, MMU-notifier invalidation
 * and VM teardown all go through xkvm_mmu_zap_gfn_range().
 *
 * The architecture clears leaves in batches (xkvm_arch_zap_gfn_range);
 * after each batch every vCPU that may hold a translation is forced out
 * of guest mode and flushes before it enters again (XKVM_REQ_TLB_FLUSH,
 * waiting for the IPIs), and only then are the page references dropped.
 * Between batches the walk may give mmu_lock up (may_yield), so that a
 * huge munmap or slot deletion cannot hold a CPU for long; a fault that
 * runs meanwhile either does not find the slot any more (deletion) or
 * sees the invalidation in progress (notifier) and retries.
 *
 * Locks: called with xkvm.mmu_lock held; returns with it held.
 */
#include <linux/mm.h>
#include <linux/sched.h>

#include <xkvm/xkvm_host.h>

/* Called by the architecture for every leaf it clears. */
void xkvm_zap_batch_add(struct xkvm_zap_batch *b, struct page *page,
			bool dirty)
{
	if (WARN_ON_ONCE(b->nr >= XKVM_ZAP_BATCH))
		return;
	if (dirty)
		__set_bit(b->nr, b->dirty);
	b->pages[b->nr++] = page;
}
EXPORT_SYMBOL_GPL(xkvm_zap_batch_add);

/* Flush every vCPU, then release what the batch holds. */
static void xkvm_zap_batch_release(struct xkvm *vm, struct xkvm_zap_batch *b)
{
	unsigned int i;

	if (!b->nr)
		return;
	xkvm_make_all_vcpus_request(vm, XKVM_REQ_TLB_FLUSH);
	xkvm_arch_remote_tlb_flushed(vm);
	for (i = 0; i < b->nr; i++) {
		struct page *page = b->pages[i];

		if (test_bit(i, b->dirty) && !PageReserved(page))
			SetPageDirty(page);
		put_page(page);
	}
	bitmap_zero(b->dirty, XKVM_ZAP_BATCH);
	b->nr = 0;
}

void xkvm_mmu_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
			    xkvm_gfn_t end, bool may_yield)
{
	struct xkvm_zap_batch b;

	lockdep_assert_held(&vm->mmu_lock);
	b.nr = 0;
	bitmap_zero(b.dirty, XKVM_ZAP_BATCH);
	while (start < end) {
		start = xkvm_arch_zap_gfn_range(vm, start, end, &b);
		xkvm_zap_batch_release(vm, &b);
		if (may_yield && start < end)
			cond_resched_lock(&vm->mmu_lock);
	}
}
EXPORT_SYMBOL_GPL(xkvm_mmu_zap_gfn_range);
