/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_irqfd.h - irqfds (KVM_IRQFD, virt/xkvm_irqfd.c): an eventfd whose
 * signal raises a GSI through the current routing table, and for a
 * level-triggered line a resamplefd the kernel signals when the guest
 * acknowledges it; plus the architecture's side of them.
 */
#ifndef XKVM_IRQFD_H
#define XKVM_IRQFD_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct kvm_irqfd;
struct kvm_irq_routing_entry;
struct workqueue_struct;
struct xkvm;

/* A VM's irqfds; the rules are in virt/xkvm_irqfd.c's header. */
struct xkvm_irqfds {
	struct mutex lock;		/* assign, deassign, resampler writers */
	spinlock_t items_lock;		/* items; taken in eventfd wakeups */
	struct list_head items;		/* the active irqfds (items_lock) */
	struct list_head resamplers;	/* RCU; changed under lock */
	struct workqueue_struct *wq;	/* made by the first assign (lock) */
};

void xkvm_irqfds_init(struct xkvm *vm);
/* KVM_IRQFD: assign or deassign as args->flags say. */
int xkvm_irqfd_ioctl(struct xkvm *vm, const struct kvm_irqfd *args);
/* VM destroy: detach every irqfd; no irqfd work runs after it returns. */
void xkvm_irqfds_release(struct xkvm *vm);
/*
 * The guest acknowledged input @pin of interrupt controller @irqchip
 * (KVM_IRQCHIP_*, pin as in a routing entry): lower the GSIs of the
 * resampling irqfds routed there and signal their resamplefds.  Process
 * context or interrupts off, no device lock held.
 */
void xkvm_irqfd_ack(struct xkvm *vm, u32 irqchip, u32 pin);

/*
 * The architecture's side.  allowed: may the VM have an irqfd (@resample:
 * a resampling one)?  route_atomic: may route @e be raised from atomic
 * context (an eventfd wakeup, maybe in hard IRQ) without sleeping or
 * taking a lock that such a context could find held?
 */
bool xkvm_arch_irqfd_allowed(struct xkvm *vm, bool resample);
bool xkvm_arch_irq_route_atomic(struct xkvm *vm,
				const struct kvm_irq_routing_entry *e);

#endif /* XKVM_IRQFD_H */
