// SPDX-License-Identifier: GPL-2.0
/*
 * fault_core.c - what the two MMUs (tdp.c: EPT/NPT; shadow.c: shadow page
 * tables) share on their fault paths: the per-vCPU cache of table pages,
 * topped up before mmu_lock is taken (a spinlock: no allocation under
 * it), and the lookup of the host page behind a guest frame.
 *
 * The notifier-sequence protocol around them is the callers': read
 * vm->mmu_invalidate_seq, look the page up without locks, then install
 * under mmu_lock only if no invalidation ran or is running meanwhile.
 * vCPU thread only.
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
