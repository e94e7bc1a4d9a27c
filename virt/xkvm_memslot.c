// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_memslot.c - guest memory slots: KVM_SET_USER_MEMORY_REGION with
 * KVM's validation and errnos, gfn lookup, and guest memory copies.
 *
 * Updates are serialised by xkvm.slots_lock and publish a new sorted
 * array (RCU); readers hold xkvm.srcu.  Slot objects never change after
 * publication.  A deleted or moved slot's second-level mappings are taken
 * away (xkvm_mmu_zap_gfn_range: zap, flush every vCPU, release the pages)
 * once no reader can still see the old array: a fault holds xkvm.srcu from
 * the slot lookup until its mapping is installed, so none can install a
 * mapping of the old slot after the zap.  The dirty bitmap of a logging
 * slot (KVM_MEM_LOG_DIRTY_PAGES) is set up and passed on or freed around
 * the same steps by xkvm_dirty_log.c; every write made here for the guest
 * sets the page's bit.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <xkvm/xkvm_host.h>

enum xkvm_mr_change { XKVM_MR_CREATE, XKVM_MR_DELETE, XKVM_MR_MOVE,
		      XKVM_MR_FLAGS_ONLY };

#define XKVM_MEM_VALID_FLAGS	(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)

void xkvm_memslots_free(struct xkvm_memslots *slots)
{
	int i;

	if (!slots)
		return;
	for (i = 0; i < slots->nr; i++) {
		xkvm_dirty_bitmap_free(slots->slots[i]);
		kfree(slots->slots[i]);
	}
	kfree(slots);
}

static struct xkvm_memslots *xkvm_memslots_locked(struct xkvm *vm)
{
	return rcu_dereference_protected(vm->memslots,
					 lockdep_is_held(&vm->slots_lock));
}

static struct xkvm_memslot *xkvm_id_to_memslot(struct xkvm_memslots *slots,
					       u16 id)
{
	int i;

	for (i = 0; i < slots->nr; i++)
		if (slots->slots[i]->id == id)
			return slots->slots[i];
	return NULL;
}

/* Slot @id of the current set, or NULL; slots_lock held. */
struct xkvm_memslot *xkvm_id_to_memslot_locked(struct xkvm *vm, u16 id)
{
	return xkvm_id_to_memslot(xkvm_memslots_locked(vm), id);
}

static bool xkvm_memslot_overlaps(struct xkvm_memslots *slots, u16 id,
				  xkvm_gfn_t start, xkvm_gfn_t end)
{
	int i;

	for (i = 0; i < slots->nr; i++) {
		struct xkvm_memslot *s = slots->slots[i];

		if (s->id == id)
			continue;
		if (start < s->base_gfn + s->npages && s->base_gfn < end)
			return true;
	}
	return false;
}

/* The new array: @slots without @old, plus @new, sorted by base_gfn. */
static struct xkvm_memslots *xkvm_memslots_replace(struct xkvm_memslots *slots,
						   struct xkvm_memslot *old,
						   struct xkvm_memslot *new)
{
	struct xkvm_memslots *n;
	int i, j = 0;

	n = kzalloc(struct_size(n, slots, slots->nr + 1), GFP_KERNEL_ACCOUNT);
	if (!n)
		return NULL;
	for (i = 0; i < slots->nr; i++) {
		struct xkvm_memslot *s = slots->slots[i];

		if (s == old)
			continue;
		if (new && new->base_gfn < s->base_gfn) {
			n->slots[j++] = new;
			new = NULL;
		}
		n->slots[j++] = s;
	}
	if (new)
		n->slots[j++] = new;
	n->nr = j;
	return n;
}

static int xkvm_memslot_check(struct xkvm *vm,
			      const struct kvm_userspace_memory_region *mem)
{
	u16 as_id = mem->slot >> 16, id = (u16)mem->slot;

	if (mem->flags & ~XKVM_MEM_VALID_FLAGS)
		return -EINVAL;
	if (as_id >= 1 || id >= XKVM_MAX_MEMSLOTS)
		return -EINVAL;
	if ((mem->memory_size & (PAGE_SIZE - 1)) ||
	    (mem->guest_phys_addr & (PAGE_SIZE - 1)))
		return -EINVAL;
	if ((mem->userspace_addr & (PAGE_SIZE - 1)) ||
	    mem->userspace_addr != untagged_addr(mem->userspace_addr) ||
	    !access_ok((void __user *)(unsigned long)mem->userspace_addr,
		       mem->memory_size))
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	if ((mem->memory_size >> PAGE_SHIFT) > XKVM_MEM_MAX_NR_PAGES)
		return -EINVAL;
	return 0;
}

static int xkvm_memslot_classify(struct xkvm *vm, struct xkvm_memslot *old,
				 const struct kvm_userspace_memory_region *mem,
				 enum xkvm_mr_change *change)
{
	xkvm_gfn_t base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
	unsigned long npages = mem->memory_size >> PAGE_SHIFT;
	xkvm_gfn_t max_gfn = (1ULL << (xkvm_arch_max_phys_bits() - PAGE_SHIFT)) - 1;

	if (!mem->memory_size) {
		if (!old)
			return -EINVAL;
		*change = XKVM_MR_DELETE;
		return 0;
	}
	if (!old) {
		*change = XKVM_MR_CREATE;
	} else {
		if (mem->userspace_addr != old->userspace_addr ||
		    npages != old->npages ||
		    ((mem->flags ^ old->flags) & KVM_MEM_READONLY))
			return -EINVAL;
		if (base_gfn != old->base_gfn)
			*change = XKVM_MR_MOVE;
		else if (mem->flags != old->flags)
			*change = XKVM_MR_FLAGS_ONLY;
		else
			return 1;	/* nothing to change */
	}
	if ((*change == XKVM_MR_CREATE || *change == XKVM_MR_MOVE) &&
	    base_gfn + npages - 1 > max_gfn)
		return -EINVAL;
	return 0;
}

int xkvm_set_memory_region(struct xkvm *vm,
			   const struct kvm_userspace_memory_region *mem)
{
	struct xkvm_memslot *old, *new = NULL;
	struct xkvm_memslots *slots, *next;
	enum xkvm_mr_change change;
	xkvm_gfn_t base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
	unsigned long npages = mem->memory_size >> PAGE_SHIFT;
	int r;

	r = xkvm_memslot_check(vm, mem);
	if (r)
		return r;

	mutex_lock(&vm->slots_lock);
	slots = xkvm_memslots_locked(vm);
	old = xkvm_id_to_memslot(slots, (u16)mem->slot);
	r = xkvm_memslot_classify(vm, old, mem, &change);
	if (r)
		goto out;	/* r == 1: nothing to do */

	if ((change == XKVM_MR_CREATE || change == XKVM_MR_MOVE) &&
	    xkvm_memslot_overlaps(slots, (u16)mem->slot, base_gfn,
				  base_gfn + npages)) {
		r = -EEXIST;
		goto out;
	}

	if (change != XKVM_MR_DELETE) {
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new) {
			r = -ENOMEM;
			goto out;
		}
		new->base_gfn = base_gfn;
		new->npages = npages;
		new->userspace_addr = mem->userspace_addr;
		new->flags = mem->flags;
		new->id = (u16)mem->slot;
	}
	r = xkvm_dirty_log_slot_prepare(vm, old, new);
	if (r)
		goto free_new;

	next = xkvm_memslots_replace(slots, old, new);
	if (!next) {
		r = -ENOMEM;
		goto free_bitmap;
	}
	rcu_assign_pointer(vm->memslots, next);
	synchronize_srcu_expedited(&vm->srcu);

	if (old && (change == XKVM_MR_DELETE || change == XKVM_MR_MOVE)) {
		spin_lock(&vm->mmu_lock);
		xkvm_mmu_zap_gfn_range(vm, old->base_gfn,
				       old->base_gfn + old->npages, true);
		spin_unlock(&vm->mmu_lock);
	}
	xkvm_dirty_log_slot_commit(vm, old, new);

	kfree(slots);
	kfree(old);
	mutex_unlock(&vm->slots_lock);
	return 0;

free_bitmap:
	xkvm_dirty_log_slot_abort(old, new);
free_new:
	kfree(new);
out:
	mutex_unlock(&vm->slots_lock);
	return r > 0 ? 0 : r;
}

/* Caller holds vm->srcu. */
struct xkvm_memslot *xkvm_gfn_to_memslot(struct xkvm *vm, xkvm_gfn_t gfn)
{
	struct xkvm_memslots *slots = srcu_dereference(vm->memslots, &vm->srcu);
	int lo = 0, hi = slots->nr;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		struct xkvm_memslot *s = slots->slots[mid];

		if (gfn < s->base_gfn)
			hi = mid;
		else if (gfn >= s->base_gfn + s->npages)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

unsigned long xkvm_memslot_gfn_to_hva(const struct xkvm_memslot *slot,
				      xkvm_gfn_t gfn)
{
	return slot->userspace_addr + ((gfn - slot->base_gfn) << PAGE_SHIFT);
}

/* @vcpu: the writer, whose dirty ring records the pages (NULL: a read). */
static int xkvm_guest_copy(struct xkvm *vm, struct xkvm_vcpu *vcpu,
			   xkvm_gpa_t gpa, void *data, unsigned long len)
{
	bool write = vcpu;
	int idx, r = 0;

	idx = srcu_read_lock(&vm->srcu);
	while (len) {
		unsigned long off = offset_in_page(gpa);
		unsigned long n = min(len, PAGE_SIZE - off);
		struct xkvm_memslot *slot;
		void __user *hva;

		slot = xkvm_gfn_to_memslot(vm, gpa >> PAGE_SHIFT);
		if (!slot || (write && (slot->flags & KVM_MEM_READONLY))) {
			r = -EFAULT;
			break;
		}
		hva = (void __user *)(xkvm_memslot_gfn_to_hva(slot,
					gpa >> PAGE_SHIFT) + off);
		if (write ? copy_to_user(hva, data, n) :
			    copy_from_user(data, hva, n)) {
			r = -EFAULT;
			break;
		}
		if (write)
			xkvm_mark_page_dirty_in_slot(vcpu, slot, gpa >> PAGE_SHIFT);
		gpa += n;
		data += n;
		len -= n;
	}
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}

int xkvm_read_guest(struct xkvm *vm, xkvm_gpa_t gpa, void *data,
		    unsigned long len)
{
	return xkvm_guest_copy(vm, NULL, gpa, data, len);
}
EXPORT_SYMBOL_GPL(xkvm_read_guest);

/*
 * Guest memory is written by the kernel only for a vCPU, in its thread:
 * the vCPU's dirty ring records the pages.
 */
int xkvm_vcpu_write_guest(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			  const void *data, unsigned long len)
{
	return xkvm_guest_copy(vcpu->vm, vcpu, gpa, (void *)data, len);
}
