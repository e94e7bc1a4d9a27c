/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_io_bus.h - the per-VM in-kernel I/O buses (virt/xkvm_io_bus.c) and
 * the devices userspace puts on them: ioeventfds (virt/xkvm_ioeventfd.c)
 * and coalesced MMIO/PIO zones (virt/xkvm_coalesced_mmio.c).
 *
 * A guest access that no built-in device (the irqchip hooks of the
 * architecture) takes is offered to the bus of its kind before it becomes
 * an exit to userspace.  A device covers [addr, addr + len); len 0 means
 * "this address, any access length" (ioeventfds without a length).
 *
 * Locks: xkvm.io_lock (a mutex) serialises registration and removal; a
 * bus is an array replaced as a whole, read under the VM's SRCU
 * (xkvm.srcu), so the vCPU paths take no lock to look a device up.  A
 * removed device is destroyed only after an SRCU grace period.
 */
#ifndef XKVM_IO_BUS_H
#define XKVM_IO_BUS_H

#include <xkvm/xkvm_host.h>

enum xkvm_io_bus_idx {
	XKVM_MMIO_BUS,
	XKVM_PIO_BUS,
	/* KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY: accepted, never reached on x86 */
	XKVM_CCW_NOTIFY_BUS,
};

/*
 * KVM's NR_IOBUS_DEVS: a bus holding this many devices other than
 * ioeventfds refuses any new one (an ioeventfd too) with -ENOSPC.
 */
#define XKVM_IO_BUS_MAX_DEVS		1000
/* xkvm's own bound on ioeventfds per bus (KVM has none but memory) */
#define XKVM_IO_BUS_MAX_IOEVENTFDS	8192

struct xkvm_io_device;

/*
 * write/read return 0 when the device took the access, -EOPNOTSUPP when
 * it is not for it (the bus offers it to the next device covering the
 * address).  They run in the vCPU thread under SRCU: no sleeping.
 * destructor runs once the device can no longer be reached (after
 * removal and a grace period, or when the VM is destroyed).
 */
struct xkvm_io_device_ops {
	int (*write)(struct xkvm_vcpu *vcpu, struct xkvm_io_device *dev,
		     u64 addr, int len, const void *val);
	int (*read)(struct xkvm_vcpu *vcpu, struct xkvm_io_device *dev,
		    u64 addr, int len, void *val);		/* optional */
	void (*destructor)(struct xkvm_io_device *dev);		/* mandatory */
};

struct xkvm_io_device {
	const struct xkvm_io_device_ops *ops;
	u64 addr;		/* set by xkvm_io_bus_register() */
	u64 len;
	bool ioeventfd;		/* counted against the ioeventfd limit */
};

/* Called with xkvm.io_lock held; on success the bus owns @dev. */
int xkvm_io_bus_register(struct xkvm *vm, enum xkvm_io_bus_idx idx,
			 u64 addr, u64 len, struct xkvm_io_device *dev);
/*
 * Called with xkvm.io_lock held: take @dev off the bus, wait for the
 * readers and destroy it.  -ENOENT if it is not there, -ENOMEM (and
 * nothing changed) if the smaller bus cannot be allocated.
 */
int xkvm_io_bus_unregister(struct xkvm *vm, enum xkvm_io_bus_idx idx,
			   struct xkvm_io_device *dev);
/*
 * The first device of bus @idx for which @match returns true, or NULL;
 * with xkvm.io_lock held (the device stays valid until it is released).
 */
struct xkvm_io_device *
xkvm_io_bus_find(struct xkvm *vm, enum xkvm_io_bus_idx idx,
		 bool (*match)(struct xkvm_io_device *dev, const void *arg),
		 const void *arg);

/* Guest accesses, vCPU thread: true when a device took it. */
bool xkvm_io_bus_write(struct xkvm_vcpu *vcpu, enum xkvm_io_bus_idx idx,
		       u64 addr, int len, const void *val);
bool xkvm_io_bus_read(struct xkvm_vcpu *vcpu, enum xkvm_io_bus_idx idx,
		      u64 addr, int len, void *val);

/* VM lifetime: the buses and the coalesced MMIO ring page */
int xkvm_io_init(struct xkvm *vm);
void xkvm_io_destroy(struct xkvm *vm);

/* VM ioctls */
int xkvm_ioeventfd(struct xkvm *vm, const struct kvm_ioeventfd *args);
int xkvm_coalesced_mmio_register(struct xkvm *vm,
				 const struct kvm_coalesced_mmio_zone *zone);
int xkvm_coalesced_mmio_unregister(struct xkvm *vm,
				   const struct kvm_coalesced_mmio_zone *zone);

#endif /* XKVM_IO_BUS_H */
