// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_dirty_ring.c - dirty-page logging in ring mode
 * (KVM_CAP_DIRTY_LOG_RING, KVM_CAP_DIRTY_LOG_RING_ACQ_REL): one ring of
 * struct kvm_dirty_gfn per vCPU, mapped by userspace at page
 * KVM_DIRTY_LOG_PAGE_OFFSET of the vCPU fd, and KVM_RESET_DIRTY_RINGS.
 *
 * The ring replaces the bitmap: a logging slot has none, GET/CLEAR_DIRTY_LOG
 * fail with ENXIO.  Tracking is the bitmap mode's write protection
 * (virt/xkvm_dirty_log.c): the first write to a protected page faults and
 * its vCPU pushes {slot, offset} onto its own ring; the page then stays
 * writable until userspace has harvested the entry (flags DIRTY -> RESET)
 * and KVM_RESET_DIRTY_RINGS protects it again.
 *
 * Ownership: dirty_index and the entries from it on are the vCPU thread's
 * (pushes happen only in that thread, under the vCPU mutex); reset_index
 * and the harvested entries are KVM_RESET_DIRTY_RINGS's, under slots_lock.
 * Userspace owns an entry between DIRTY and RESET.  A vCPU whose ring holds
 * soft_limit entries or more does not enter the guest: KVM_RUN returns
 * with KVM_EXIT_DIRTY_RING_FULL.  The entries above soft_limit are the
 * reserve for what one exit can push (the kernel's writes for the guest,
 * a hardware log drained at the exit); a ring that still overflows would
 * lose a dirty page, so the VM is marked dead instead.
 */
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include <xkvm/xkvm_host.h>

#define XKVM_DIRTY_RING_RSVD_ENTRIES	64	/* KVM's reserve */
#define XKVM_DIRTY_RING_MAX_ENTRIES	65536	/* KVM's largest ring */

static u32 xkvm_dirty_ring_rsvd_entries(void)
{
	return XKVM_DIRTY_RING_RSVD_ENTRIES + xkvm_arch_cpu_dirty_log_size();
}

/* KVM_CHECK_EXTENSION(KVM_CAP_DIRTY_LOG_RING{,_ACQ_REL}): the largest size. */
u32 xkvm_dirty_ring_max_bytes(void)
{
	return XKVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn);
}

/* KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING{,_ACQ_REL}) with KVM's rules. */
int xkvm_dirty_ring_enable(struct xkvm *vm, u64 size)
{
	int r = 0;

	if (!size || (size & (size - 1)))
		return -EINVAL;
	if (size < xkvm_dirty_ring_rsvd_entries() *
		   sizeof(struct kvm_dirty_gfn) || size < PAGE_SIZE)
		return -EINVAL;
	if (size > xkvm_dirty_ring_max_bytes())
		return -E2BIG;
	mutex_lock(&vm->lock);
	if (vm->dirty_ring_size || vm->created_vcpus)
		r = -EINVAL;		/* once, and before any vCPU */
	else
		vm->dirty_ring_size = size;
	mutex_unlock(&vm->lock);
	return r;
}

/* At vCPU creation; the ring size is fixed once a vCPU is counted. */
int xkvm_dirty_ring_alloc(struct xkvm_vcpu *vcpu)
{
	struct xkvm_dirty_ring *ring = &vcpu->dirty_ring;
	u32 bytes = vcpu->vm->dirty_ring_size;

	if (!bytes)
		return 0;
	ring->gfns = vmalloc_user(bytes);	/* zeroed, mappable */
	if (!ring->gfns)
		return -ENOMEM;
	ring->size = bytes / sizeof(struct kvm_dirty_gfn);
	ring->soft_limit = ring->size - xkvm_dirty_ring_rsvd_entries();
	return 0;
}

void xkvm_dirty_ring_free(struct xkvm_vcpu *vcpu)
{
	vfree(vcpu->dirty_ring.gfns);
	vcpu->dirty_ring.gfns = NULL;
}

static u32 xkvm_dirty_ring_used(const struct xkvm_dirty_ring *ring)
{
	return READ_ONCE(ring->dirty_index) - READ_ONCE(ring->reset_index);
}

bool xkvm_dirty_ring_soft_full(struct xkvm_vcpu *vcpu)
{
	const struct xkvm_dirty_ring *ring = &vcpu->dirty_ring;

	return ring->gfns && xkvm_dirty_ring_used(ring) >= ring->soft_limit;
}

/* Push gfn @offset of slot @slot_id; @vcpu's own thread only. */
void xkvm_dirty_ring_push(struct xkvm_vcpu *vcpu, u32 slot_id, u64 offset)
{
	struct xkvm_dirty_ring *ring = &vcpu->dirty_ring;
	struct kvm_dirty_gfn *e;

	if (xkvm_dirty_ring_used(ring) >= ring->size) {
		/* the reserve was not enough: never drop a dirty page */
		pr_warn_ratelimited("xkvm: dirty ring of vCPU %u overflowed\n",
				    vcpu->vcpu_id);
		WRITE_ONCE(vcpu->vm->dead, true);
		return;
	}
	e = &ring->gfns[ring->dirty_index & (ring->size - 1)];
	WRITE_ONCE(e->slot, slot_id);
	WRITE_ONCE(e->offset, offset);
	/*
	 * The entry counts as pushed before userspace can see it: a reset
	 * that finds it harvested also finds it below dirty_index, so
	 * KVM_RESET_DIRTY_RINGS returns what userspace harvested.
	 */
	WRITE_ONCE(ring->dirty_index, ring->dirty_index + 1);
	smp_store_release(&e->flags, KVM_DIRTY_GFN_F_DIRTY);
}

/* The page of the ring at mmap page @pgoff, or NULL if it is not one. */
struct page *xkvm_dirty_ring_page(struct xkvm_vcpu *vcpu, unsigned long pgoff)
{
	if (!xkvm_dirty_ring_covers(vcpu->vm, pgoff) || !vcpu->dirty_ring.gfns)
		return NULL;
	pgoff -= KVM_DIRTY_LOG_PAGE_OFFSET;
	return vmalloc_to_page((void *)vcpu->dirty_ring.gfns +
			       pgoff * PAGE_SIZE);
}

bool xkvm_dirty_ring_covers(struct xkvm *vm, unsigned long pgoff)
{
	return pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET &&
	       pgoff < KVM_DIRTY_LOG_PAGE_OFFSET +
		       vm->dirty_ring_size / PAGE_SIZE;
}

/*
 * Protect the pages of @mask (bit i: page @offset + i) of slot @slot_id
 * again, if the slot still exists and still holds them.  slots_lock held.
 */
static bool xkvm_dirty_ring_protect(struct xkvm *vm, u32 slot_id, u64 offset,
				    u64 mask)
{
	struct xkvm_memslot *slot;
	bool flush;

	if (!mask || (slot_id >> 16) || (u16)slot_id >= XKVM_MAX_MEMSLOTS)
		return false;
	slot = xkvm_id_to_memslot_locked(vm, (u16)slot_id);
	if (!slot || offset >= slot->npages ||
	    offset + __fls(mask) >= slot->npages)
		return false;
	spin_lock(&vm->mmu_lock);
	flush = xkvm_dirty_protect_mask(vm, slot, offset, mask);
	spin_unlock(&vm->mmu_lock);
	return flush;
}

/*
 * Take back the harvested entries of @vcpu's ring, in order, stopping at
 * the first one userspace has not marked RESET; neighbouring pages of a
 * slot are protected together.  Returns how many; *flush if a TLB flush
 * is needed.  slots_lock held.
 */
static int xkvm_dirty_ring_reset_one(struct xkvm_vcpu *vcpu, bool *flush)
{
	struct xkvm_dirty_ring *ring = &vcpu->dirty_ring;
	u32 cur_slot = 0, slot_id;
	u64 cur_base = 0, mask = 0, offset;
	struct kvm_dirty_gfn *e;
	int count = 0;

	if (!ring->gfns)
		return 0;
	for (;;) {
		e = &ring->gfns[ring->reset_index & (ring->size - 1)];
		if (!(smp_load_acquire(&e->flags) & KVM_DIRTY_GFN_F_RESET))
			break;
		/* never past what was pushed, whatever userspace wrote */
		if (ring->reset_index == READ_ONCE(ring->dirty_index))
			break;
		slot_id = READ_ONCE(e->slot);
		offset = READ_ONCE(e->offset);
		/* the entry is the vCPU's again once reset_index moves */
		WRITE_ONCE(e->flags, 0);
		smp_store_release(&ring->reset_index, ring->reset_index + 1);
		count++;
		if (mask && slot_id == cur_slot && offset >= cur_base &&
		    offset - cur_base < 64) {
			mask |= BIT_ULL(offset - cur_base);
			continue;
		}
		*flush |= xkvm_dirty_ring_protect(vcpu->vm, cur_slot,
						  cur_base, mask);
		cur_slot = slot_id;
		cur_base = offset;
		mask = 1;
	}
	*flush |= xkvm_dirty_ring_protect(vcpu->vm, cur_slot, cur_base, mask);
	return count;
}

/* KVM_RESET_DIRTY_RINGS: the number of entries taken back. */
int xkvm_dirty_rings_reset(struct xkvm *vm)
{
	struct xkvm_vcpu *vcpu;
	bool flush = false;
	unsigned long i;
	int count = 0;

	if (!vm->dirty_ring_size)
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	xkvm_for_each_vcpu(i, vcpu, vm)
		count += xkvm_dirty_ring_reset_one(vcpu, &flush);
	spin_lock(&vm->mmu_lock);
	xkvm_dirty_log_flush(vm, flush);
	spin_unlock(&vm->mmu_lock);
	mutex_unlock(&vm->slots_lock);
	return count;
}
