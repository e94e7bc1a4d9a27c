// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_io_bus.c - the per-VM in-kernel I/O buses (MMIO, port I/O): which
 * device takes a guest access that no built-in device took.
 *
 * A bus is an array of ranges sorted by start address (then end), with
 * the longest range it holds, so a lookup is a binary search for the
 * first range that can reach the address followed by a short walk; ranges
 * may overlap (a doorbell inside a coalesced zone) and every device that
 * covers the access is offered it in order until one takes it, as KVM's
 * bus does.
 *
 * Must not: know about x86, eventfds or the coalesced ring (the devices
 * do).
 * Locks: xkvm.io_lock serialises updates; an update builds a new array,
 * publishes it and waits for an SRCU grace period of xkvm.srcu before
 * freeing the old one (and destroying a removed device), so the vCPU
 * paths only hold srcu_read_lock.  Device callbacks run under it.
 */
#include <linux/slab.h>
#include <linux/srcu.h>

#include <xkvm/xkvm_io_bus.h>

struct xkvm_io_range {
	u64 addr;
	u64 len;
	struct xkvm_io_device *dev;
};

struct xkvm_io_bus {
	u32 nr;
	u32 nr_ioeventfds;
	u64 max_len;			/* longest range on the bus */
	struct xkvm_io_range r[];	/* sorted: addr, then addr + len */
};

static struct xkvm_io_bus *xkvm_io_bus_get(struct xkvm *vm,
					   enum xkvm_io_bus_idx idx)
{
	return rcu_dereference_protected(vm->io_bus[idx],
					 lockdep_is_held(&vm->io_lock));
}

static struct xkvm_io_bus *xkvm_io_bus_alloc(u32 nr)
{
	struct xkvm_io_bus *b;

	b = kvzalloc(struct_size(b, r, nr), GFP_KERNEL_ACCOUNT);
	if (b)
		b->nr = nr;
	return b;
}

static bool xkvm_io_range_before(const struct xkvm_io_range *a, u64 addr,
				 u64 len)
{
	if (a->addr != addr)
		return a->addr < addr;
	return a->len < len;
}

/* Recompute the summary fields of @b from its ranges. */
static void xkvm_io_bus_summarise(struct xkvm_io_bus *b)
{
	u32 i;

	b->max_len = 0;
	b->nr_ioeventfds = 0;
	for (i = 0; i < b->nr; i++) {
		b->max_len = max(b->max_len, b->r[i].len);
		b->nr_ioeventfds += b->r[i].dev->ioeventfd;
	}
}

/* Publish @new as bus @idx and free the old array after a grace period. */
static void xkvm_io_bus_replace(struct xkvm *vm, enum xkvm_io_bus_idx idx,
				struct xkvm_io_bus *new)
{
	struct xkvm_io_bus *old = xkvm_io_bus_get(vm, idx);

	rcu_assign_pointer(vm->io_bus[idx], new);
	synchronize_srcu_expedited(&vm->srcu);
	kvfree(old);
}

int xkvm_io_bus_register(struct xkvm *vm, enum xkvm_io_bus_idx idx,
			 u64 addr, u64 len, struct xkvm_io_device *dev)
{
	struct xkvm_io_bus *old, *new;
	u32 nr, nr_ioeventfds, i, at;

	lockdep_assert_held(&vm->io_lock);
	old = xkvm_io_bus_get(vm, idx);
	nr = old ? old->nr : 0;
	nr_ioeventfds = old ? old->nr_ioeventfds : 0;
	/* KVM's rule: full when the other devices fill it, whatever comes */
	if (nr - nr_ioeventfds >= XKVM_IO_BUS_MAX_DEVS ||
	    (dev->ioeventfd && nr_ioeventfds >= XKVM_IO_BUS_MAX_IOEVENTFDS))
		return -ENOSPC;

	new = xkvm_io_bus_alloc(nr + 1);
	if (!new)
		return -ENOMEM;
	dev->addr = addr;
	dev->len = len;
	for (at = 0; at < nr && xkvm_io_range_before(&old->r[at], addr, len); at++)
		;
	for (i = 0; i < at; i++)
		new->r[i] = old->r[i];
	new->r[at] = (struct xkvm_io_range){ addr, len, dev };
	for (i = at; i < nr; i++)
		new->r[i + 1] = old->r[i];
	xkvm_io_bus_summarise(new);
	xkvm_io_bus_replace(vm, idx, new);
	return 0;
}

int xkvm_io_bus_unregister(struct xkvm *vm, enum xkvm_io_bus_idx idx,
			   struct xkvm_io_device *dev)
{
	struct xkvm_io_bus *old, *new = NULL;
	u32 i, j;

	lockdep_assert_held(&vm->io_lock);
	old = xkvm_io_bus_get(vm, idx);
	for (i = 0; old && i < old->nr; i++)
		if (old->r[i].dev == dev)
			break;
	if (!old || i == old->nr)
		return -ENOENT;
	if (old->nr > 1) {
		new = xkvm_io_bus_alloc(old->nr - 1);
		if (!new)
			return -ENOMEM;
		for (i = 0, j = 0; i < old->nr; i++)
			if (old->r[i].dev != dev)
				new->r[j++] = old->r[i];
		xkvm_io_bus_summarise(new);
	}
	xkvm_io_bus_replace(vm, idx, new);
	dev->ops->destructor(dev);
	return 0;
}

struct xkvm_io_device *
xkvm_io_bus_find(struct xkvm *vm, enum xkvm_io_bus_idx idx,
		 bool (*match)(struct xkvm_io_device *dev, const void *arg),
		 const void *arg)
{
	struct xkvm_io_bus *b;
	u32 i;

	lockdep_assert_held(&vm->io_lock);
	b = xkvm_io_bus_get(vm, idx);
	for (i = 0; b && i < b->nr; i++)
		if (match(b->r[i].dev, arg))
			return b->r[i].dev;
	return NULL;
}

/* The first range that can cover @addr: none before it reaches that far. */
static u32 xkvm_io_bus_first(const struct xkvm_io_bus *b, u64 addr)
{
	u64 from = addr > b->max_len ? addr - b->max_len : 0;
	u32 lo = 0, hi = b->nr;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (b->r[mid].addr < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* [addr, addr + len) lies within @r (len 0 ranges: that address only). */
static bool xkvm_io_range_covers(const struct xkvm_io_range *r, u64 addr,
				 int len)
{
	if (addr < r->addr)
		return false;
	if (!r->len)
		return addr == r->addr;
	return addr - r->addr < r->len && len <= r->len - (addr - r->addr);
}

static bool xkvm_io_bus_access(struct xkvm_vcpu *vcpu,
			       enum xkvm_io_bus_idx idx, u64 addr, int len,
			       void *val, bool write)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_io_bus *b;
	bool taken = false;
	u32 i;
	int srcu;

	if (len <= 0 || len > 8)
		return false;
	srcu = srcu_read_lock(&vm->srcu);
	b = srcu_dereference(vm->io_bus[idx], &vm->srcu);
	for (i = b ? xkvm_io_bus_first(b, addr) : 0;
	     b && i < b->nr && b->r[i].addr <= addr && !taken; i++) {
		struct xkvm_io_device *dev = b->r[i].dev;

		if (!xkvm_io_range_covers(&b->r[i], addr, len))
			continue;
		if (write)
			taken = !dev->ops->write(vcpu, dev, addr, len, val);
		else if (dev->ops->read)
			taken = !dev->ops->read(vcpu, dev, addr, len, val);
	}
	srcu_read_unlock(&vm->srcu, srcu);
	return taken;
}

bool xkvm_io_bus_write(struct xkvm_vcpu *vcpu, enum xkvm_io_bus_idx idx,
		       u64 addr, int len, const void *val)
{
	return xkvm_io_bus_access(vcpu, idx, addr, len, (void *)val, true);
}

bool xkvm_io_bus_read(struct xkvm_vcpu *vcpu, enum xkvm_io_bus_idx idx,
		      u64 addr, int len, void *val)
{
	return xkvm_io_bus_access(vcpu, idx, addr, len, val, false);
}

int xkvm_io_init(struct xkvm *vm)
{
	BUILD_BUG_ON(XKVM_CCW_NOTIFY_BUS + 1 != XKVM_NR_IO_BUSES);
	mutex_init(&vm->io_lock);
	spin_lock_init(&vm->ring_lock);
	vm->coalesced_ring = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	return vm->coalesced_ring ? 0 : -ENOMEM;
}

/* The VM is going away: nobody can reach the buses any more. */
void xkvm_io_destroy(struct xkvm *vm)
{
	struct xkvm_io_bus *b;
	int idx;
	u32 i;

	for (idx = 0; idx < XKVM_NR_IO_BUSES; idx++) {
		b = rcu_dereference_protected(vm->io_bus[idx], 1);
		RCU_INIT_POINTER(vm->io_bus[idx], NULL);
		for (i = 0; b && i < b->nr; i++)
			b->r[i].dev->ops->destructor(b->r[i].dev);
		kvfree(b);
	}
	free_page((unsigned long)vm->coalesced_ring);
	vm->coalesced_ring = NULL;
}
