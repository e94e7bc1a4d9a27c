// SPDX-License-Identifier: GPL-2.0
/*
 * fault_core.c - what the two MMUs (tdp.c: EPT/NPT; shadow.c: shadow page
 * tables) share on their fault paths: the per-vCPU cache of table pages,
 * topped up before mmu_lock is taken (a spinlock: no allocation under
 * it), and the lookup of the host page behind a guest frame.
 *
 * The notifier-sequence protocol around them: xkvm_mmu_fault_begin()
 * reads vm->mmu_invalidate_seq and looks the page up without locks; the
 * caller installs under mmu_lock only if xkvm_mmu_fault_raced() says no
 * invalidation ran or is running meanwhile, and drops the page reference
 * if it installed nothing.  vCPU thread only.
 */
#include <linux/mm.h>

#include <xkvm_x86.h>

int xkvm_mmu_cache_fill(struct xkvm_x86_page_cache *c)
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

	xkvm_shadow_vcpu_free(vcpu);
	while (c->nr)
		free_page((unsigned long)c->pages[--c->nr]);
}

/*
 * The host page behind @hva, with a reference.  A read fault does not
 * make the host break copy-on-write or allocate a page for it: it maps
 * what the host maps, writable only if the host's own entry already is.
 */
struct page *xkvm_mmu_host_page(unsigned long hva, bool write_fault,
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

/*
 * Before mapping @gfn of @slot for a fault (@write: a write access): the
 * table pages the install may need, the notifier sequence, and the host
 * page with a reference.  While the slot logs dirty pages a read fault
 * maps read-only, so that the first write faults and is logged.
 */
int xkvm_mmu_fault_begin(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
			 xkvm_gfn_t gfn, bool write, struct xkvm_mmu_fault *f)
{
	if (xkvm_mmu_cache_fill(&vcpu->arch.tdp_cache))
		return -ENOMEM;
	f->seq = READ_ONCE(vcpu->vm->mmu_invalidate_seq);
	smp_rmb();
	f->page = xkvm_mmu_host_page(xkvm_memslot_gfn_to_hva(slot, gfn), write,
				     !(slot->flags & KVM_MEM_READONLY),
				     &f->writable);
	if (!f->page)
		return -EFAULT;
	if ((slot->flags & KVM_MEM_LOG_DIRTY_PAGES) && !write)
		f->writable = false;
	return 0;
}

/* mmu_lock held: did an invalidation run or start since the begin? */
bool xkvm_mmu_fault_raced(struct xkvm *vm, const struct xkvm_mmu_fault *f)
{
	lockdep_assert_held(&vm->mmu_lock);
	return vm->mmu_invalidate_in_progress || vm->mmu_invalidate_seq != f->seq;
}
