// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_ioeventfd.c - KVM_IOEVENTFD: a guest write to a port or an MMIO
 * address (of one length, or any length; of one value, or any value)
 * signals an eventfd and completes in the kernel, without an exit.
 *
 * An ioeventfd is a device on the PIO or MMIO bus (xkvm_io_bus.c) and
 * holds a reference to its eventfd context, so userspace closing the
 * eventfd's file changes nothing: the device stays registered and is
 * signalled (with nobody listening) until it is deassigned or the VM
 * goes away, as on KVM.  Reads are never served by an ioeventfd.
 *
 * Must not: know about x86.
 * Locks: assign and deassign hold xkvm.io_lock, so the collision check
 * and the registration are one step; the write callback runs in the vCPU
 * thread under the bus' SRCU and only signals the eventfd.
 */
#include <linux/eventfd.h>
#include <linux/slab.h>

#include <xkvm/xkvm_compat.h>
#include <xkvm/xkvm_io_bus.h>

struct xkvm_ioeventfd {
	struct xkvm_io_device dev;	/* dev.addr, dev.len: the range */
	struct eventfd_ctx *ctx;
	enum xkvm_io_bus_idx bus;
	u64 datamatch;
	bool wildcard;			/* no KVM_IOEVENTFD_FLAG_DATAMATCH */
};

static struct xkvm_ioeventfd *to_ioeventfd(struct xkvm_io_device *dev)
{
	return container_of(dev, struct xkvm_ioeventfd, dev);
}

/* KVM's rule: a length, then a value, must match if they were given. */
static int xkvm_ioeventfd_write(struct xkvm_vcpu *vcpu,
				struct xkvm_io_device *dev, u64 addr, int len,
				const void *val)
{
	struct xkvm_ioeventfd *p = to_ioeventfd(dev);
	u64 v = 0;

	if (addr != dev->addr)
		return -EOPNOTSUPP;
	if (dev->len) {
		if (len != dev->len)
			return -EOPNOTSUPP;
		if (!p->wildcard) {
			memcpy(&v, val, len);	/* x86: little endian */
			if (v != p->datamatch)
				return -EOPNOTSUPP;
		}
	}
	xkvm_eventfd_signal(p->ctx);
	return 0;
}

static void xkvm_ioeventfd_destroy(struct xkvm_io_device *dev)
{
	struct xkvm_ioeventfd *p = to_ioeventfd(dev);

	eventfd_ctx_put(p->ctx);
	kfree(p);
}

static const struct xkvm_io_device_ops xkvm_ioeventfd_ops = {
	.write		= xkvm_ioeventfd_write,
	.destructor	= xkvm_ioeventfd_destroy,
};

static enum xkvm_io_bus_idx xkvm_ioeventfd_bus(u32 flags)
{
	if (flags & KVM_IOEVENTFD_FLAG_PIO)
		return XKVM_PIO_BUS;
	if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY)
		return XKVM_CCW_NOTIFY_BUS;
	return XKVM_MMIO_BUS;
}

/*
 * KVM's collision rule: two ioeventfds at the same address clash unless
 * both have a length, the same one, and different values to match.
 */
static bool xkvm_ioeventfd_collides(struct xkvm_io_device *dev,
				    const void *arg)
{
	const struct xkvm_ioeventfd *n = arg;
	struct xkvm_ioeventfd *p;

	if (dev->ops != &xkvm_ioeventfd_ops)
		return false;
	p = to_ioeventfd(dev);
	if (p->dev.addr != n->dev.addr)
		return false;
	if (!p->dev.len || !n->dev.len)
		return true;
	return p->dev.len == n->dev.len &&
	       (p->wildcard || n->wildcard || p->datamatch == n->datamatch);
}

/* The one KVM_IOEVENTFD_FLAG_DEASSIGN names: every field equal. */
static bool xkvm_ioeventfd_same(struct xkvm_io_device *dev, const void *arg)
{
	const struct xkvm_ioeventfd *n = arg;
	struct xkvm_ioeventfd *p;

	if (dev->ops != &xkvm_ioeventfd_ops)
		return false;
	p = to_ioeventfd(dev);
	return p->ctx == n->ctx && p->dev.addr == n->dev.addr &&
	       p->dev.len == n->dev.len && p->wildcard == n->wildcard &&
	       (p->wildcard || p->datamatch == n->datamatch);
}

static int xkvm_ioeventfd_assign(struct xkvm *vm,
				 const struct kvm_ioeventfd *args)
{
	struct xkvm_ioeventfd *p;
	int r;

	switch (args->len) {
	case 0: case 1: case 2: case 4: case 8:
		break;
	default:
		return -EINVAL;
	}
	if (args->addr + args->len < args->addr)
		return -EINVAL;
	if (args->flags & ~KVM_IOEVENTFD_VALID_FLAG_MASK)
		return -EINVAL;
	if (!args->len && (args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH))
		return -EINVAL;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	p->ctx = eventfd_ctx_fdget(args->fd);	/* -EBADF, -EINVAL */
	if (IS_ERR(p->ctx)) {
		r = PTR_ERR(p->ctx);
		goto free;
	}
	p->dev.ops = &xkvm_ioeventfd_ops;
	p->dev.ioeventfd = true;
	p->dev.addr = args->addr;
	p->dev.len = args->len;
	p->bus = xkvm_ioeventfd_bus(args->flags);
	p->wildcard = !(args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
	if (!p->wildcard)
		p->datamatch = args->datamatch;

	mutex_lock(&vm->io_lock);
	if (xkvm_io_bus_find(vm, p->bus, xkvm_ioeventfd_collides, p))
		r = -EEXIST;
	else
		r = xkvm_io_bus_register(vm, p->bus, args->addr, args->len,
					 &p->dev);
	mutex_unlock(&vm->io_lock);
	if (!r)
		return 0;
	eventfd_ctx_put(p->ctx);
free:
	kfree(p);
	return r;
}

static int xkvm_ioeventfd_deassign(struct xkvm *vm,
				   const struct kvm_ioeventfd *args)
{
	struct xkvm_ioeventfd key = {
		.dev.addr = args->addr,
		.dev.len = args->len,
		.bus = xkvm_ioeventfd_bus(args->flags),
		.wildcard = !(args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH),
		.datamatch = args->datamatch,
	};
	struct xkvm_io_device *dev;
	int r = -ENOENT;

	key.ctx = eventfd_ctx_fdget(args->fd);
	if (IS_ERR(key.ctx))
		return PTR_ERR(key.ctx);
	mutex_lock(&vm->io_lock);
	dev = xkvm_io_bus_find(vm, key.bus, xkvm_ioeventfd_same, &key);
	if (dev)
		r = xkvm_io_bus_unregister(vm, key.bus, dev);
	mutex_unlock(&vm->io_lock);
	eventfd_ctx_put(key.ctx);
	return r;
}

int xkvm_ioeventfd(struct xkvm *vm, const struct kvm_ioeventfd *args)
{
	if (args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
		return xkvm_ioeventfd_deassign(vm, args);
	return xkvm_ioeventfd_assign(vm, args);
}
