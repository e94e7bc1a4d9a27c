// SPDX-License-Identifier: GPL-2.0
/*
 * events.c - external interrupts from a userspace interrupt controller:
 * KVM_INTERRUPT, kvm_run's request_interrupt_window and
 * ready_for_interrupt_injection, and the KVM_EXIT_IRQ_WINDOW_OPEN exit.
 *
 * As on KVM without an in-kernel irqchip, an interrupt queued with
 * KVM_INTERRUPT is injected at the next entry: userspace queues one only
 * when kvm_run says the vCPU is ready, or asks for an interrupt window
 * first.  vCPU thread only (xkvm_vcpu.mutex).
 */
#include <linux/uaccess.h>

#include <xkvm_x86.h>

#define XKVM_NR_INTERRUPTS	256

bool xkvm_x86_ready_for_interrupt(struct xkvm_vcpu *vcpu)
{
	return !vcpu->arch.interrupt.pending && !vcpu->arch.exception.pending &&
	       xkvm_x86_ops->interrupt_allowed(vcpu);
}

/* Before an entry: does userspace want to hear when IRQs can be taken? */
void xkvm_x86_prepare_events(struct xkvm_vcpu *vcpu)
{
	vcpu->arch.irq_window = vcpu->run->request_interrupt_window &&
				!vcpu->arch.interrupt.pending;
}

/* After an exit: is the window userspace asked for open now? */
bool xkvm_x86_irq_window_open(struct xkvm_vcpu *vcpu)
{
	if (!vcpu->run->request_interrupt_window ||
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
	if (vcpu->arch.interrupt.pending)
		return -EEXIST;
	vcpu->arch.interrupt.vector = irq.irq;
	vcpu->arch.interrupt.pending = true;
	return 0;
}

long xkvm_x86_events_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			   void __user *argp)
{
	switch (ioctl) {
	case KVM_INTERRUPT:
		return xkvm_x86_interrupt(vcpu, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
