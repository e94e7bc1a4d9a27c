// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_dirty_log.c - dirty-page logging in bitmap mode: the per-slot
 * bitmap of KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG (fetch and reset),
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and KVM_CLEAR_DIRTY_LOG; and what the
 * ring mode (virt/xkvm_dirty_ring.c) shares with it: marking a page dirty,
 * and write-protecting a slot that starts logging.
 *
 * Tracking is by write protection of the second-level tables: a logging
 * slot's pages are mapped writable only by a write fault, which sets the
 * page's bit (arch/x86/mmu/tdp.c); writes the kernel makes for the guest
 * set it through xkvm_mark_page_dirty_in_slot() after the write.  Taking
 * bits out of the log and protecting their pages again happen together
 * under mmu_lock, and every vCPU is flushed before the ioctl returns, so a
 * write after the reset always faults and sets its bit again: no write is
 * lost, at worst reported in the next round.
 *
 * Locks: the ioctls hold xkvm.slots_lock (the slot and its scratch half
 * stay put), then mmu_lock around the bitmap-and-protect loop.  Setting a
 * bit needs only the SRCU read side the writer already holds (the bitmap
 * is freed after synchronize_srcu).  manual_dirty_log_protect is written
 * under slots_lock and read under it.
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <xkvm/xkvm_host.h>

/* Bytes of one half of the bitmap, and of the user's buffer: KVM's size. */
static unsigned long xkvm_dirty_bitmap_bytes(const struct xkvm_memslot *slot)
{
	return ALIGN(slot->npages, BITS_PER_LONG) / 8;
}

static unsigned long *xkvm_dirty_scratch(const struct xkvm_memslot *slot)
{
	return slot->dirty_bitmap + xkvm_dirty_bitmap_bytes(slot) / sizeof(long);
}

/*
 * @vcpu wrote (or is about to be allowed to write) @gfn of @slot: set its
 * bit, or push it onto @vcpu's ring.  The caller holds the SRCU read side
 * that keeps @slot alive, and runs in @vcpu's thread.
 */
void xkvm_mark_page_dirty_in_slot(struct xkvm_vcpu *vcpu,
				  const struct xkvm_memslot *slot,
				  xkvm_gfn_t gfn)
{
	if (!slot || !(slot->flags & KVM_MEM_LOG_DIRTY_PAGES) ||
	    WARN_ON_ONCE(gfn - slot->base_gfn >= slot->npages))
		return;
	if (vcpu->dirty_ring.gfns)
		xkvm_dirty_ring_push(vcpu, slot->id, gfn - slot->base_gfn);
	else if (slot->dirty_bitmap)
		set_bit(gfn - slot->base_gfn, slot->dirty_bitmap);
}
EXPORT_SYMBOL_GPL(xkvm_mark_page_dirty_in_slot);

/* The same for a frame a hardware log named; @vcpu's thread. */
void xkvm_vcpu_mark_gfn_dirty(struct xkvm_vcpu *vcpu, xkvm_gfn_t gfn)
{
	struct xkvm *vm = vcpu->vm;
	int idx;

	idx = srcu_read_lock(&vm->srcu);
	xkvm_mark_page_dirty_in_slot(vcpu, xkvm_gfn_to_memslot(vm, gfn), gfn);
	srcu_read_unlock(&vm->srcu, idx);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_mark_gfn_dirty);

/*
 * Before a collection: vCPUs in the guest hand over what a hardware log
 * (PML) holds when they exit, so make them exit, as KVM does.
 */
static void xkvm_dirty_log_sync(struct xkvm *vm)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;

	if (!xkvm_arch_cpu_dirty_log_size())
		return;
	xkvm_for_each_vcpu(i, vcpu, vm)
		xkvm_vcpu_kick(vcpu);
}

void xkvm_dirty_bitmap_free(struct xkvm_memslot *slot)
{
	kvfree(slot->dirty_bitmap);
	slot->dirty_bitmap = NULL;
}

/*
 * Before @new (NULL: deletion) replaces @old: give @new the bitmap it
 * needs, @old's if it logged already.  slots_lock held.
 */
int xkvm_dirty_log_slot_prepare(struct xkvm *vm, struct xkvm_memslot *old,
				struct xkvm_memslot *new)
{
	if (!new || !(new->flags & KVM_MEM_LOG_DIRTY_PAGES) ||
	    vm->dirty_ring_size)
		return 0;	/* the ring needs no bitmap */
	if (old && old->dirty_bitmap) {
		new->dirty_bitmap = old->dirty_bitmap;
		return 0;
	}
	new->dirty_bitmap = kvcalloc(2, xkvm_dirty_bitmap_bytes(new),
				     GFP_KERNEL_ACCOUNT);
	if (!new->dirty_bitmap)
		return -ENOMEM;
	if (vm->manual_dirty_log_protect & KVM_DIRTY_LOG_INITIALLY_SET)
		bitmap_set(new->dirty_bitmap, 0, new->npages);
	return 0;
}

/* @new was never published: drop what prepare gave it. */
void xkvm_dirty_log_slot_abort(struct xkvm_memslot *old,
			       struct xkvm_memslot *new)
{
	if (new && new->dirty_bitmap &&
	    (!old || old->dirty_bitmap != new->dirty_bitmap))
		xkvm_dirty_bitmap_free(new);
}

/*
 * @new is published and no reader sees @old any more: free a bitmap that
 * is not passed on; a slot that starts logging in place loses write
 * permission on its mappings (unless the bitmap starts all set, as KVM:
 * then KVM_CLEAR_DIRTY_LOG protects what it clears).  slots_lock held.
 */
void xkvm_dirty_log_slot_commit(struct xkvm *vm, struct xkvm_memslot *old,
				struct xkvm_memslot *new)
{
	if (old && old->dirty_bitmap &&
	    (!new || new->dirty_bitmap != old->dirty_bitmap))
		xkvm_dirty_bitmap_free(old);
	if (!old || !new || old->base_gfn != new->base_gfn ||
	    !(new->flags & KVM_MEM_LOG_DIRTY_PAGES) ||
	    (old->flags & KVM_MEM_LOG_DIRTY_PAGES))
		return;
	if (!vm->dirty_ring_size &&
	    (vm->manual_dirty_log_protect & KVM_DIRTY_LOG_INITIALLY_SET))
		return;
	spin_lock(&vm->mmu_lock);
	xkvm_dirty_log_flush(vm, xkvm_arch_write_protect_gfn_range(vm,
				new->base_gfn, new->base_gfn + new->npages));
	spin_unlock(&vm->mmu_lock);
}

/*
 * Protect the pages of @mask, the word of the log at page @offset of
 * @slot (bitmap and ring alike).  mmu_lock held; true: flush owed.
 */
bool xkvm_dirty_protect_mask(struct xkvm *vm,
				    const struct xkvm_memslot *slot,
				    unsigned long offset, unsigned long mask)
{
	xkvm_gfn_t gfn = slot->base_gfn + offset;
	bool flush = false;
	unsigned long bit;

	for_each_set_bit(bit, &mask, BITS_PER_LONG)
		flush |= xkvm_arch_write_protect_gfn_range(vm, gfn + bit,
							   gfn + bit + 1);
	return flush;
}

/* The logging slot @id names, or KVM's errno.  slots_lock held. */
static struct xkvm_memslot *xkvm_dirty_log_slot(struct xkvm *vm, u32 id)
{
	struct xkvm_memslot *slot;

	if ((id >> 16) >= 1 || (u16)id >= XKVM_MAX_MEMSLOTS)
		return ERR_PTR(-EINVAL);
	slot = xkvm_id_to_memslot_locked(vm, (u16)id);
	return slot && slot->dirty_bitmap ? slot : ERR_PTR(-ENOENT);
}

/* Flush every vCPU if protecting pages asked for it; mmu_lock held. */
void xkvm_dirty_log_flush(struct xkvm *vm, bool flush)
{
	if (!flush)
		return;
	xkvm_make_all_vcpus_request(vm, XKVM_REQ_TLB_FLUSH);
	xkvm_arch_remote_tlb_flushed(vm);
}

/*
 * KVM_GET_DIRTY_LOG.  Legacy mode: the log is taken (each word swapped
 * with zero) and its pages protected again; manual-protect mode: a copy,
 * nothing changes until KVM_CLEAR_DIRTY_LOG.
 */
int xkvm_get_dirty_log(struct xkvm *vm, struct kvm_dirty_log *log)
{
	struct xkvm_memslot *slot;
	unsigned long *bitmap, *buf, i, n;
	bool flush = false;
	int r = 0;

	if (vm->dirty_ring_size)
		return -ENXIO;		/* the ring replaces the bitmap */
	xkvm_dirty_log_sync(vm);
	mutex_lock(&vm->slots_lock);
	slot = xkvm_dirty_log_slot(vm, log->slot);
	if (IS_ERR(slot)) {
		r = PTR_ERR(slot);
		goto out;
	}
	n = xkvm_dirty_bitmap_bytes(slot);
	bitmap = slot->dirty_bitmap;
	buf = bitmap;
	if (!(vm->manual_dirty_log_protect &
	      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		buf = xkvm_dirty_scratch(slot);
		memset(buf, 0, n);
		spin_lock(&vm->mmu_lock);
		for (i = 0; i < n / sizeof(long); i++) {
			if (!READ_ONCE(bitmap[i]))
				continue;
			buf[i] = xchg(&bitmap[i], 0);
			flush |= xkvm_dirty_protect_mask(vm, slot,
							 i * BITS_PER_LONG,
							 buf[i]);
		}
		xkvm_dirty_log_flush(vm, flush);
		spin_unlock(&vm->mmu_lock);
	}
	if (copy_to_user(log->dirty_bitmap, buf, n))
		r = -EFAULT;
out:
	mutex_unlock(&vm->slots_lock);
	return r;
}

/*
 * KVM_CLEAR_DIRTY_LOG: clear the bits set in the user's bitmap, which
 * starts at first_page (a multiple of 64) and covers num_pages (a multiple
 * of 64 unless it reaches the end of the slot), and protect the pages
 * whose bit was set.  As KVM, it works in legacy mode too.
 */
int xkvm_clear_dirty_log(struct xkvm *vm, struct kvm_clear_dirty_log *log)
{
	struct xkvm_memslot *slot;
	unsigned long *bitmap, *buf, i, words;
	bool flush = false;
	int r = 0;

	if (vm->dirty_ring_size)
		return -ENXIO;
	if ((log->slot >> 16) >= 1 || (u16)log->slot >= XKVM_MAX_MEMSLOTS ||
	    (log->first_page & 63))
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	slot = xkvm_dirty_log_slot(vm, log->slot);
	if (IS_ERR(slot)) {
		r = PTR_ERR(slot);
		goto out;
	}
	if (log->first_page > slot->npages ||
	    log->num_pages > slot->npages - log->first_page ||
	    (log->num_pages < slot->npages - log->first_page &&
	     (log->num_pages & 63))) {
		r = -EINVAL;
		goto out;
	}
	words = DIV_ROUND_UP(log->num_pages, BITS_PER_LONG);
	buf = xkvm_dirty_scratch(slot);
	if (copy_from_user(buf, log->dirty_bitmap, words * sizeof(long))) {
		r = -EFAULT;
		goto out;
	}
	bitmap = slot->dirty_bitmap + log->first_page / BITS_PER_LONG;
	spin_lock(&vm->mmu_lock);
	for (i = 0; i < words; i++) {
		unsigned long mask = buf[i];

		if (!mask)
			continue;
		/* only bits that were set: none past the end of the slot */
		mask &= atomic_long_fetch_andnot(mask,
						 (atomic_long_t *)&bitmap[i]);
		if (mask)
			flush |= xkvm_dirty_protect_mask(vm, slot,
					log->first_page + i * BITS_PER_LONG,
					mask);
	}
	xkvm_dirty_log_flush(vm, flush);
	spin_unlock(&vm->mmu_lock);
out:
	mutex_unlock(&vm->slots_lock);
	return r;
}

/*
 * KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): args[0] is the new
 * set of KVM_DIRTY_LOG_* flags; INITIALLY_SET only with MANUAL_PROTECT.
 */
int xkvm_enable_manual_dirty_log(struct xkvm *vm, u64 flags)
{
	u64 allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;

	if (flags & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
		allowed = XKVM_DIRTY_LOG_MANUAL_CAPS;
	if (flags & ~allowed)
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	vm->manual_dirty_log_protect = flags;
	mutex_unlock(&vm->slots_lock);
	return 0;
}
