// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_coalesced_mmio.c - KVM_REGISTER/UNREGISTER_COALESCED_MMIO: guest
 * writes into a zone (MMIO, or port I/O with zone.pio = 1) are appended to
 * a ring that userspace drains later, and complete in the kernel.
 *
 * The ring is struct kvm_coalesced_mmio_ring, one page per VM, mapped at
 * page XKVM_COALESCED_MMIO_PAGE_OFFSET of every vCPU fd (xkvm_vcpu.c).
 * As on KVM: the kernel writes entry 'last' and then advances 'last';
 * userspace consumes from 'first' and advances it; the ring is full when
 * last + 1 == first (mod KVM_COALESCED_MMIO_MAX), and a write that finds
 * it full goes to userspace as a normal exit.  Userspace can write the
 * whole page: 'last' is read once and checked before it indexes the ring,
 * a bad 'first' only makes the ring look never full (userspace loses its
 * own entries).
 *
 * Must not: know about x86.
 * Locks: zones are added and removed under xkvm.io_lock; entries are
 * appended under xkvm.ring_lock (vCPUs of the VM race for it).
 */
#include <linux/slab.h>

#include <xkvm/xkvm_io_bus.h>

struct xkvm_coalesced_zone {
	struct xkvm_io_device dev;
	struct xkvm *vm;
	struct kvm_coalesced_mmio_zone zone;
};

static struct xkvm_coalesced_zone *to_zone(struct xkvm_io_device *dev)
{
	return container_of(dev, struct xkvm_coalesced_zone, dev);
}

/* KVM's test: [addr, addr + len) inside the zone, no wrap-around. */
static bool xkvm_zone_contains(const struct kvm_coalesced_mmio_zone *z,
			       u64 addr, u64 len)
{
	if (addr + len < addr || addr < z->addr)
		return false;
	return addr + len <= z->addr + z->size;
}

static int xkvm_coalesced_write(struct xkvm_vcpu *vcpu,
				struct xkvm_io_device *dev, u64 addr, int len,
				const void *val)
{
	struct xkvm_coalesced_zone *z = to_zone(dev);
	struct kvm_coalesced_mmio_ring *ring = z->vm->coalesced_ring;
	struct kvm_coalesced_mmio *e;
	u32 last;

	if (len > sizeof(e->data) || !xkvm_zone_contains(&z->zone, addr, len))
		return -EOPNOTSUPP;

	spin_lock(&z->vm->ring_lock);
	last = READ_ONCE(ring->last);
	if (last >= KVM_COALESCED_MMIO_MAX ||
	    (last + 1) % KVM_COALESCED_MMIO_MAX == READ_ONCE(ring->first)) {
		spin_unlock(&z->vm->ring_lock);
		return -EOPNOTSUPP;
	}
	e = &ring->coalesced_mmio[last];
	e->phys_addr = addr;
	e->len = len;
	e->pio = z->zone.pio;
	memset(e->data, 0, sizeof(e->data));
	memcpy(e->data, val, len);
	/* the entry is complete before userspace can see it */
	smp_wmb();
	WRITE_ONCE(ring->last, (last + 1) % KVM_COALESCED_MMIO_MAX);
	spin_unlock(&z->vm->ring_lock);
	return 0;
}

static void xkvm_coalesced_destroy(struct xkvm_io_device *dev)
{
	kfree(to_zone(dev));
}

static const struct xkvm_io_device_ops xkvm_coalesced_ops = {
	.write		= xkvm_coalesced_write,
	.destructor	= xkvm_coalesced_destroy,
};

static enum xkvm_io_bus_idx xkvm_zone_bus(const struct kvm_coalesced_mmio_zone *z)
{
	return z->pio ? XKVM_PIO_BUS : XKVM_MMIO_BUS;
}

int xkvm_coalesced_mmio_register(struct xkvm *vm,
				 const struct kvm_coalesced_mmio_zone *zone)
{
	struct xkvm_coalesced_zone *z;
	int r;

	if (zone->pio != 0 && zone->pio != 1)
		return -EINVAL;
	z = kzalloc(sizeof(*z), GFP_KERNEL_ACCOUNT);
	if (!z)
		return -ENOMEM;
	z->dev.ops = &xkvm_coalesced_ops;
	z->vm = vm;
	z->zone = *zone;

	mutex_lock(&vm->io_lock);
	r = xkvm_io_bus_register(vm, xkvm_zone_bus(zone), zone->addr,
				 zone->size, &z->dev);
	mutex_unlock(&vm->io_lock);
	if (r)
		kfree(z);
	return r;
}

/* A zone KVM_UNREGISTER_COALESCED_MMIO removes: one containing the range. */
static bool xkvm_zone_within(struct xkvm_io_device *dev, const void *arg)
{
	const struct kvm_coalesced_mmio_zone *range = arg;
	struct xkvm_coalesced_zone *z;

	if (dev->ops != &xkvm_coalesced_ops)
		return false;
	z = to_zone(dev);
	return z->zone.pio == range->pio &&
	       xkvm_zone_contains(&z->zone, range->addr, range->size);
}

/*
 * As KVM: every zone of the same kind that contains [addr, addr + size)
 * goes; none is not an error.
 */
int xkvm_coalesced_mmio_unregister(struct xkvm *vm,
				   const struct kvm_coalesced_mmio_zone *zone)
{
	struct xkvm_io_device *dev;
	int r = 0;

	if (zone->pio != 0 && zone->pio != 1)
		return -EINVAL;
	mutex_lock(&vm->io_lock);
	while (!r && (dev = xkvm_io_bus_find(vm, xkvm_zone_bus(zone),
					     xkvm_zone_within, zone)))
		r = xkvm_io_bus_unregister(vm, xkvm_zone_bus(zone), dev);
	mutex_unlock(&vm->io_lock);
	return r;
}
