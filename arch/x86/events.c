// SPDX-License-Identifier: GPL-2.0
/*
 * events.c - events from a userspace interrupt controller: KVM_INTERRUPT,
 * kvm_run's request_interrupt_window and ready_for_interrupt_injection,
 * the KVM_EXIT_IRQ_WINDOW_OPEN exit, KVM_NMI, and the whole pending-event
 * state as KVM_GET/SET_VCPU_EVENTS sees it.
 *
 * As on KVM without an in-kernel irqchip, an interrupt queued with
 * KVM_INTERRUPT is injected at the next entry (a second one replaces it,
 * and no SIPI vector is kept): userspace queues one only
 * when kvm_run says the vCPU is ready, or asks for an interrupt window
 * first.  vCPU thread only (xkvm_vcpu.mutex).
 */
#include <linux/uaccess.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>

#define XKVM_NR_INTERRUPTS	256

bool xkvm_x86_ready_for_interrupt(struct xkvm_vcpu *vcpu)
{
	return !vcpu->arch.interrupt.pending && !vcpu->arch.exception.pending &&
	       xkvm_x86_ops->interrupt_allowed(vcpu);
}

/* An event is waiting that the guest can be woken for. */
bool xkvm_arch_vcpu_runnable(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.exception.pending || vcpu->arch.nmi.pending ||
	       vcpu->arch.interrupt.pending;
}

/* Before an entry: does userspace want to hear when IRQs can be taken? */
void xkvm_x86_prepare_events(struct xkvm_vcpu *vcpu)
{
	vcpu->arch.irq_window = vcpu->arch.request_irq_window &&
				!vcpu->arch.interrupt.pending;
}

/* After an exit: is the window userspace asked for open now? */
bool xkvm_x86_irq_window_open(struct xkvm_vcpu *vcpu)
{
	if (!vcpu->arch.request_irq_window ||
	    !xkvm_x86_ready_for_interrupt(vcpu))
		return false;
	vcpu->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
	return true;
}

static long xkvm_x86_interrupt(struct xkvm_vcpu *vcpu,
			       struct kvm_interrupt __user *argp)
{
	struct kvm_interrupt irq;

	if (copy_from_user(&irq, argp, sizeof(irq)))
		return -EFAULT;
	if (irq.irq >= XKVM_NR_INTERRUPTS)
		return -EINVAL;
	/* without an in-kernel irqchip a second one replaces the first */
	vcpu->arch.interrupt.vector = irq.irq;
	vcpu->arch.interrupt.pending = true;
	return 0;
}

/* The vendor can report and restore the interrupt shadow. */
bool xkvm_x86_has_events(void)
{
	return xkvm_x86_ops->get_interrupt_shadow &&
	       xkvm_x86_ops->set_interrupt_shadow;
}

/* KVM_NMI: one NMI more; at most two wait, one if NMIs are blocked. */
static long xkvm_x86_queue_nmi(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	if (!xkvm_x86_has_events())
		return -EINVAL;
	if (nmi->pending < (nmi->masked ? 1 : 2))
		nmi->pending++;
	return 0;
}

static long xkvm_x86_get_events(struct xkvm_vcpu *vcpu,
				struct kvm_vcpu_events __user *argp)
{
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	struct kvm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.exception.injected = ex->pending;
	ev.exception.nr = ex->vector;
	ev.exception.has_error_code = ex->has_error_code;
	ev.exception.error_code = ex->error_code;
	ev.interrupt.injected = vcpu->arch.interrupt.pending;
	ev.interrupt.nr = vcpu->arch.interrupt.vector;
	ev.interrupt.shadow = xkvm_x86_ops->get_interrupt_shadow(vcpu);
	ev.nmi.pending = vcpu->arch.nmi.pending != 0;
	ev.nmi.masked = vcpu->arch.nmi.masked;
	/* the SIPI vector lives in an in-kernel LAPIC, which xkvm lacks */
	ev.sipi_vector = 0;
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
		   KVM_VCPUEVENT_VALID_SMM;
	return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
}

#define XKVM_VCPUEVENT_VALID	(KVM_VCPUEVENT_VALID_NMI_PENDING | \
				 KVM_VCPUEVENT_VALID_SIPI_VECTOR | \
				 KVM_VCPUEVENT_VALID_SHADOW | \
				 KVM_VCPUEVENT_VALID_SMM)

static int xkvm_x86_events_check(const struct kvm_vcpu_events *ev)
{
	/* no exception payloads, triple-fault events or SMM are offered */
	if (ev->flags & ~XKVM_VCPUEVENT_VALID)
		return -EINVAL;
	if ((ev->flags & KVM_VCPUEVENT_VALID_SMM) &&
	    (ev->smi.smm || ev->smi.pending))
		return -EINVAL;
	if ((ev->exception.injected || ev->exception.pending) &&
	    (ev->exception.nr > 31 || ev->exception.nr == X86_TRAP_NMI))
		return -EINVAL;
	return 0;
}

static long xkvm_x86_set_events(struct xkvm_vcpu *vcpu,
				struct kvm_vcpu_events __user *argp)
{
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	struct kvm_vcpu_events ev;
	int r;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	r = xkvm_x86_events_check(&ev);
	if (r)
		return r;

	ex->pending = ev.exception.injected || ev.exception.pending;
	ex->vector = ev.exception.nr;
	ex->has_error_code = ev.exception.has_error_code;
	ex->error_code = ev.exception.error_code;
	vcpu->arch.interrupt.pending = ev.interrupt.injected;
	vcpu->arch.interrupt.vector = ev.interrupt.nr;
	if (ev.flags & KVM_VCPUEVENT_VALID_SHADOW)
		xkvm_x86_ops->set_interrupt_shadow(vcpu, ev.interrupt.shadow);
	if (ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
		vcpu->arch.nmi.pending = !!ev.nmi.pending;
	if (ev.nmi.injected && !vcpu->arch.nmi.pending)
		vcpu->arch.nmi.pending = 1;
	vcpu->arch.nmi.masked = ev.nmi.masked;
	return 0;
}

long xkvm_x86_events_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			   void __user *argp)
{
	switch (ioctl) {
	case KVM_INTERRUPT:
		return xkvm_x86_interrupt(vcpu, argp);
	case KVM_NMI:
		return xkvm_x86_queue_nmi(vcpu);
	case KVM_GET_VCPU_EVENTS:
		return xkvm_x86_has_events() ?
		       xkvm_x86_get_events(vcpu, argp) : -EINVAL;
	case KVM_SET_VCPU_EVENTS:
		return xkvm_x86_has_events() ?
		       xkvm_x86_set_events(vcpu, argp) : -EINVAL;
	default:
		return -ENOIOCTLCMD;
	}
}
