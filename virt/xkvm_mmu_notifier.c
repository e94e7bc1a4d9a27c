// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_mmu_notifier.c - follow host-side changes to the memory behind the
 * memslots.  When the host unmaps, migrates, reclaims or changes the
 * protection of a range, the second-level mappings of the guest frames it
 * backs are dropped (and their page references released) before the host
 * goes on, so guest memory stays ordinary, reclaimable host memory.
 *
 * Locks: SRCU read side for the memslots, then xkvm.mmu_lock, under which
 * the in-progress counter and sequence tell racing faults to retry.  The
 * zap goes through xkvm_mmu_zap_gfn_range(): every vCPU is flushed before
 * a page reference is dropped, and a large range gives mmu_lock up between
 * batches when the notifier may sleep.
 */
#include <linux/mm.h>

#include <xkvm/xkvm_host.h>

/* Take away every guest frame backed by host addresses [start, end). */
static void xkvm_zap_hva_range(struct xkvm *vm, unsigned long start,
			       unsigned long end, bool may_yield)
{
	struct xkvm_memslots *slots = srcu_dereference(vm->memslots, &vm->srcu);
	int i;

	for (i = 0; i < slots->nr; i++) {
		struct xkvm_memslot *s = slots->slots[i];
		unsigned long s_end = s->userspace_addr + (s->npages << PAGE_SHIFT);
		unsigned long lo = max(start, s->userspace_addr);
		unsigned long hi = min(end, s_end);

		if (lo >= hi)
			continue;
		xkvm_mmu_zap_gfn_range(vm,
			s->base_gfn + ((lo - s->userspace_addr) >> PAGE_SHIFT),
			s->base_gfn + ((hi - s->userspace_addr + PAGE_SIZE - 1) >> PAGE_SHIFT),
			may_yield);
	}
}

static int xkvm_mn_invalidate_range_start(struct mmu_notifier *mn,
					  const struct mmu_notifier_range *range)
{
	struct xkvm *vm = container_of(mn, struct xkvm, mmu_notifier);
	int idx;

	idx = srcu_read_lock(&vm->srcu);
	spin_lock(&vm->mmu_lock);
	vm->mmu_invalidate_in_progress++;
	xkvm_zap_hva_range(vm, range->start, range->end,
			   mmu_notifier_range_blockable(range));
	spin_unlock(&vm->mmu_lock);
	srcu_read_unlock(&vm->srcu, idx);
	return 0;
}

static void xkvm_mn_invalidate_range_end(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	struct xkvm *vm = container_of(mn, struct xkvm, mmu_notifier);

	spin_lock(&vm->mmu_lock);
	vm->mmu_invalidate_seq++;
	vm->mmu_invalidate_in_progress--;
	spin_unlock(&vm->mmu_lock);
}

static void xkvm_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct xkvm *vm = container_of(mn, struct xkvm, mmu_notifier);
	int idx;

	idx = srcu_read_lock(&vm->srcu);
	spin_lock(&vm->mmu_lock);
	vm->mmu_invalidate_seq++;
	xkvm_zap_hva_range(vm, 0, ULONG_MAX, true);
	spin_unlock(&vm->mmu_lock);
	srcu_read_unlock(&vm->srcu, idx);
}

static const struct mmu_notifier_ops xkvm_mmu_notifier_ops = {
	.invalidate_range_start	= xkvm_mn_invalidate_range_start,
	.invalidate_range_end	= xkvm_mn_invalidate_range_end,
	.release		= xkvm_mn_release,
};

int xkvm_mmu_notifier_init(struct xkvm *vm)
{
	vm->mmu_notifier.ops = &xkvm_mmu_notifier_ops;
	return mmu_notifier_register(&vm->mmu_notifier, current->mm);
}

void xkvm_mmu_notifier_exit(struct xkvm *vm)
{
	mmu_notifier_unregister(&vm->mmu_notifier, vm->mm);
}
