// SPDX-License-Identifier: GPL-2.0
/*
 * irqfd.c - the x86 side of irqfds (virt/xkvm_irqfd.c): who may have
 * them, which routes an eventfd wakeup may raise itself, and the glue that
 * tells them when the guest acknowledged a PIC or IOAPIC input.
 *
 * Must not: know about VMX/SVM or the devices' insides.  Locks: none.
 */
#include <xkvm_x86.h>
#include "dev/irqchip.h"

/*
 * As KVM on x86: any in-kernel irqchip (split included: MSI routes) for
 * a plain irqfd, the full one for a resampling irqfd (its ack comes from
 * the in-kernel IOAPIC or PIC).
 */
bool xkvm_arch_irqfd_allowed(struct xkvm *vm, bool resample)
{
	u8 mode = smp_load_acquire(&vm->arch.irqchip_mode);

	return resample ? mode == XKVM_IRQCHIP_KERNEL : mode != XKVM_IRQCHIP_NONE;
}

/*
 * An MSI goes to the LAPICs with atomic bit operations and a kick, as
 * the LAPIC timer's hrtimer does from hard IRQ.  The PIC and IOAPIC take
 * spinlocks that are never taken with interrupts off elsewhere, so a
 * hard IRQ could find them held: their routes go to the inject work.
 */
bool xkvm_arch_irq_route_atomic(struct xkvm *vm,
				const struct kvm_irq_routing_entry *e)
{
	return e->type == KVM_IRQ_ROUTING_MSI;
}

void xkvm_irqchip_ack(struct xkvm *vm, u32 irqchip, u32 pin)
{
	xkvm_irqfd_ack(vm, irqchip, pin);
}
