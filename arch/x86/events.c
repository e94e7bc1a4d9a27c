// SPDX-License-Identifier: GPL-2.0
/*
 * events.c - the event-injection policy, vendor-neutral: which pending
 * event goes into the guest at the next entry, in which order, and when
 * to ask the hardware for an interrupt or NMI window.  Vendors supply only
 * primitives (xkvm_x86_ops: inject_event, set_irq_window, set_nmi_window,
 * the interrupt shadow) and report an event whose delivery an exit
 * interrupted (xkvm_x86_event_interrupted).
 *
 * Also the ABI of events from a userspace interrupt controller:
 * KVM_INTERRUPT, kvm_run's request_interrupt_window and
 * ready_for_interrupt_injection, KVM_EXIT_IRQ_WINDOW_OPEN, KVM_NMI, and the
 * pending-event state as KVM_GET/SET_VCPU_EVENTS sees it.
 *
 * The order at each entry, as on KVM:
 *   1. an event whose delivery an exit interrupted (vcpu->arch.injected);
 *   2. a queued exception;
 *   3. the interrupt userspace queued with KVM_INTERRUPT: committed, so it
 *      goes in whatever RFLAGS.IF says (userspace was told by
 *      ready_for_interrupt_injection whether it should queue one);
 *   4. an NMI, unless NMIs are blocked (the guest has not yet run the IRET
 *      of the last NMI handler) or an interrupt shadow holds.
 * One event per entry; what is left waits for a window exit.  Without an
 * in-kernel irqchip a second KVM_INTERRUPT before the entry replaces the
 * first, and no SIPI vector is kept.
 *
 * With an in-kernel LAPIC, the interrupt of step 3 comes from the
 * controllers (xkvm_x86_irqchip_prepare, interrupts still on): the PIC's
 * ExtINT first, then the LAPIC's highest request above its priority, taken
 * (INTA / IRR to ISR) only when the guest can accept it now; otherwise the
 * interrupt window is armed.  A request another thread raises after that
 * (XKVM_REQ_EVENT) cancels the entry, and the choice is made again.
 *
 * vCPU thread only (xkvm_vcpu.mutex); the injection itself runs with
 * interrupts off right before the vendor's enter_guest.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>
#include "dev/lapic.h"

#define XKVM_NR_INTERRUPTS	256

/* Exception classes for double faults (SDM vol. 3, "Double Fault"). */
static int xkvm_x86_exception_class(u8 vector)
{
	switch (vector) {
	case X86_TRAP_PF:
		return 2;
	case X86_TRAP_DE: case X86_TRAP_TS: case X86_TRAP_NP:
	case X86_TRAP_SS: case X86_TRAP_GP:
		return 1;	/* contributory */
	default:
		return 0;	/* benign */
	}
}

/*
 * Queue exception @vector.  If another exception is already queued or
 * being re-delivered, the two combine as on the CPU: a contributory one
 * on a contributory one or on a #PF, or a #PF on a #PF, make #DF; a #DF
 * then stays #DF (a triple fault is not emulated); anything else replaces
 * the earlier one, which the instruction regenerates when it runs again.
 */
void xkvm_x86_queue_exception(struct xkvm_vcpu *vcpu, u8 vector,
			      bool has_error_code, u32 error_code)
{
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	const struct xkvm_x86_event *inj = &vcpu->arch.injected;
	int prev = -1, c1, c2;

	if (ex->pending)
		prev = ex->vector;
	else if (vcpu->arch.injected_valid && inj->type == XKVM_EVENT_HW_EXC)
		prev = inj->vector;
	if (prev >= 0) {
		c1 = xkvm_x86_exception_class(prev);
		c2 = xkvm_x86_exception_class(vector);
		if (prev == X86_TRAP_DF || (c1 && c2 && !(c1 == 1 && c2 == 2))) {
			vector = X86_TRAP_DF;
			has_error_code = true;
			error_code = 0;
		}
		if (!ex->pending)
			vcpu->arch.injected_valid = false;
	}
	ex->pending = true;
	ex->vector = vector;
	ex->has_error_code = has_error_code;
	ex->error_code = error_code;
}
EXPORT_SYMBOL_GPL(xkvm_x86_queue_exception);

/*
 * The vendor found, after an exit (or when an entry did not happen), that
 * the delivery of @ev did not complete: it goes in again first.
 */
void xkvm_x86_event_interrupted(struct xkvm_vcpu *vcpu,
				const struct xkvm_x86_event *ev)
{
	vcpu->arch.injected = *ev;
	vcpu->arch.injected_valid = true;
	if (ev->type == XKVM_EVENT_NMI)
		vcpu->arch.nmi.masked = true;
}
EXPORT_SYMBOL_GPL(xkvm_x86_event_interrupted);

/* An exception pushes its error code only in protected mode, and only some. */
static bool xkvm_x86_protected_mode(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
	return vcpu->arch.state.cr0 & X86_CR0_PE;
}

static bool xkvm_x86_pushes_error_code(struct xkvm_vcpu *vcpu, u8 vector)
{
	if (!xkvm_x86_protected_mode(vcpu))
		return false;
	switch (vector) {
	case X86_TRAP_DF: case X86_TRAP_TS: case X86_TRAP_NP:
	case X86_TRAP_SS: case X86_TRAP_GP: case X86_TRAP_PF:
	case X86_TRAP_AC:
		return true;
	default:
		return false;
	}
}

static bool xkvm_x86_in_shadow(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_ops->get_interrupt_shadow(vcpu) != 0;
}

/*
 * Can the guest take an external interrupt now: RFLAGS.IF set, no
 * interrupt shadow, nothing being re-delivered.
 */
static bool xkvm_x86_interrupt_allowed(struct xkvm_vcpu *vcpu)
{
	return (vcpu->arch.rflags & X86_EFLAGS_IF) && !vcpu->arch.injected_valid &&
	       !xkvm_x86_in_shadow(vcpu);
}

static bool xkvm_x86_nmi_allowed(struct xkvm_vcpu *vcpu)
{
	return !vcpu->arch.nmi.masked && !vcpu->arch.injected_valid &&
	       !xkvm_x86_in_shadow(vcpu);
}

/*
 * Does userspace's interrupt controller deliver through KVM_INTERRUPT, and
 * can this vCPU take it: no irqchip, or a split one whose LAPIC takes
 * ExtINT (LINT0 unmasked, or the APIC off), as on KVM.
 */
static bool xkvm_x86_user_extint_ok(struct xkvm_vcpu *vcpu)
{
	return !vcpu->arch.apic ||
	       (!vcpu->vm->arch.pic && vcpu->arch.user_extint < 0 &&
		xkvm_lapic_accepts_extint(vcpu));
}

/*
 * Right before the entry, interrupts off: hand at most one event to the
 * vendor, in KVM's order, and arm the windows for what still waits.
 */
void xkvm_x86_inject_events(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	struct xkvm_x86_interrupt *irq = &vcpu->arch.interrupt;
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;
	struct xkvm_x86_event ev = { 0 };
	bool irq_window;

	/*
	 * userspace asked to hear when an interrupt could go in, and one it
	 * queued could reach the vCPU (else the window would open at once
	 * and keep the guest from running)
	 */
	irq_window = vcpu->arch.request_irq_window && !irq->pending &&
		     xkvm_x86_user_extint_ok(vcpu);

	if (vcpu->arch.injected_valid) {
		ev = vcpu->arch.injected;
		vcpu->arch.injected_valid = false;
		/*
		 * real mode pushes no error code, and VT-x refuses an entry
		 * that would (the guest or KVM_SET_VCPU_EVENTS may have left
		 * protected mode since the event was taken)
		 */
		if (ev.type == XKVM_EVENT_HW_EXC && ev.has_error_code &&
		    !xkvm_x86_protected_mode(vcpu))
			ev.has_error_code = false;
		xkvm_x86_ops->inject_event(vcpu, &ev);
	} else if (ex->pending) {
		ev.type = XKVM_EVENT_HW_EXC;
		ev.vector = ex->vector;
		ev.has_error_code = ex->has_error_code &&
				    xkvm_x86_pushes_error_code(vcpu, ex->vector);
		ev.error_code = ex->error_code;
		ex->pending = false;
		xkvm_x86_ops->inject_event(vcpu, &ev);
	} else if (irq->pending) {
		ev.type = XKVM_EVENT_EXT_INTR;
		ev.vector = irq->vector;
		irq->pending = false;
		xkvm_x86_stat_inc(vcpu, irq_injections);
		xkvm_x86_ops->inject_event(vcpu, &ev);
	} else if (nmi->pending && xkvm_x86_nmi_allowed(vcpu)) {
		ev.type = XKVM_EVENT_NMI;
		ev.vector = X86_TRAP_NMI;
		nmi->pending--;
		nmi->masked = true;
		xkvm_x86_stat_inc(vcpu, nmi_injections);
		xkvm_x86_ops->inject_event(vcpu, &ev);
	}
	xkvm_x86_ops->set_irq_window(vcpu, irq_window || irq->pending ||
				     vcpu->arch.irq_window_wanted);
	xkvm_x86_ops->set_nmi_window(vcpu, nmi->pending);
}

/*
 * In-kernel irqchip: choose the interrupt for the next entry, before
 * interrupts go off (the PIC's lock is taken for its INTA).
 */
void xkvm_x86_irqchip_prepare(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_interrupt *irq = &vcpu->arch.interrupt;
	int vec;

	vcpu->arch.irq_window_wanted = false;
	if (!vcpu->arch.apic || irq->pending)
		return;
	if (xkvm_x86_irqchip_extint(vcpu, false) < 0 &&
	    xkvm_lapic_pending_vector(vcpu) < 0)
		return;
	if (vcpu->arch.exception.pending || !xkvm_x86_interrupt_allowed(vcpu)) {
		vcpu->arch.irq_window_wanted = true;
		return;
	}
	vec = xkvm_x86_irqchip_extint(vcpu, true);
	if (vec < 0) {
		vec = xkvm_lapic_pending_vector(vcpu);
		if (vec < 0)
			return;
		xkvm_lapic_ack(vcpu, vec);
	}
	irq->vector = vec;
	irq->pending = true;
}

/*
 * kvm_run's ready_for_interrupt_injection: userspace may queue an
 * interrupt now.  With the PIC in the kernel userspace never does, and
 * KVM reports 1.
 */
bool xkvm_x86_ready_for_interrupt(struct xkvm_vcpu *vcpu)
{
	if (vcpu->vm->arch.pic && vcpu->arch.apic)
		return true;
	return xkvm_x86_user_extint_ok(vcpu) && !vcpu->arch.interrupt.pending &&
	       !vcpu->arch.exception.pending && xkvm_x86_interrupt_allowed(vcpu);
}

/* Something the halted vCPU must wake up for. */
static bool xkvm_x86_halt_wakeup(struct xkvm_vcpu *vcpu)
{
	if (vcpu->arch.nmi.pending || atomic_read(&vcpu->arch.nmi_queued) ||
	    vcpu->arch.exception.pending || vcpu->arch.interrupt.pending ||
	    vcpu->arch.injected_valid)
		return true;
	if (!(vcpu->arch.rflags & X86_EFLAGS_IF))
		return false;
	return xkvm_lapic_pending_vector(vcpu) >= 0 ||
	       xkvm_x86_irqchip_extint(vcpu, false) >= 0;
}

/*
 * May the vCPU run: it is RUNNABLE, or a halted one has something to
 * take, or an INIT/SIPI waits.  The vCPU thread, also as the condition
 * it blocks on.
 */
bool xkvm_arch_vcpu_runnable(struct xkvm_vcpu *vcpu)
{
	if (xkvm_lapic_has_init_events(vcpu))
		return true;
	switch (vcpu->arch.mp_state) {
	case KVM_MP_STATE_RUNNABLE:
		return true;
	case KVM_MP_STATE_HALTED:
		return xkvm_x86_halt_wakeup(vcpu);
	default:	/* waiting for INIT or SIPI */
		return false;
	}
}

/* NMIs other vCPUs sent (XKVM_REQ_NMI): at most two wait, as on the CPU. */
void xkvm_x86_take_queued_nmis(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;
	unsigned int n = atomic_xchg(&vcpu->arch.nmi_queued, 0);

	nmi->pending = min_t(unsigned int, nmi->pending + n, nmi->masked ? 1 : 2);
}

/* After an exit: is the window userspace asked for open now? */
bool xkvm_x86_irq_window_open(struct xkvm_vcpu *vcpu)
{
	if (!vcpu->arch.request_irq_window || vcpu->vm->arch.pic ||
	    !xkvm_x86_ready_for_interrupt(vcpu))
		return false;
	xkvm_x86_stat_inc(vcpu, request_irq_exits);
	vcpu->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
	return true;
}

/* Forget every event (RESET, INIT, shutdown). */
void xkvm_x86_events_reset(struct xkvm_vcpu *vcpu)
{
	vcpu->arch.exception.pending = false;
	vcpu->arch.interrupt.pending = false;
	vcpu->arch.user_extint = -1;
	vcpu->arch.injected_valid = false;
	vcpu->arch.nmi.pending = 0;
	vcpu->arch.nmi.masked = false;
	vcpu->arch.nmi.iret_pending = false;
}

static long xkvm_x86_interrupt(struct xkvm_vcpu *vcpu,
			       struct kvm_interrupt __user *argp)
{
	struct kvm_interrupt irq;

	if (copy_from_user(&irq, argp, sizeof(irq)))
		return -EFAULT;
	if (irq.irq >= XKVM_NR_INTERRUPTS)
		return -EINVAL;
	if (vcpu->arch.apic) {
		/* the in-kernel PIC is the only source of ExtINT then */
		if (vcpu->vm->arch.pic)
			return -ENXIO;
		/*
		 * split irqchip: the PIC's INTR line, taken when the guest
		 * can (and its LAPIC takes ExtINT); one vector at a time
		 */
		if (vcpu->arch.user_extint >= 0)
			return -EEXIST;
		vcpu->arch.user_extint = irq.irq;
		xkvm_make_request(XKVM_REQ_EVENT, vcpu);
		return 0;
	}
	/* without an in-kernel irqchip a second one replaces the first */
	vcpu->arch.interrupt.vector = irq.irq;
	vcpu->arch.interrupt.pending = true;
	return 0;
}

/* KVM_NMI: one NMI more; at most two wait, one if NMIs are blocked. */
static long xkvm_x86_queue_nmi(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	if (nmi->pending < (nmi->masked ? 1 : 2))
		nmi->pending++;
	return 0;
}

static long xkvm_x86_get_events(struct xkvm_vcpu *vcpu,
				struct kvm_vcpu_events __user *argp)
{
	const struct xkvm_x86_event *inj = &vcpu->arch.injected;
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	bool injected = vcpu->arch.injected_valid;
	struct kvm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	/* without exception payloads KVM reports a queued one as injected */
	if (injected && (inj->type == XKVM_EVENT_HW_EXC ||
			 inj->type == XKVM_EVENT_SW_EXC ||
			 inj->type == XKVM_EVENT_PRIV_SW_EXC)) {
		ev.exception.injected = 1;
		ev.exception.nr = inj->vector;
		ev.exception.has_error_code = inj->has_error_code;
		ev.exception.error_code = inj->error_code;
	} else if (ex->pending) {
		ev.exception.injected = 1;
		ev.exception.nr = ex->vector;
		ev.exception.has_error_code = ex->has_error_code;
		ev.exception.error_code = ex->error_code;
	}
	if (injected && (inj->type == XKVM_EVENT_EXT_INTR ||
			 inj->type == XKVM_EVENT_SW_INT)) {
		ev.interrupt.injected = 1;
		ev.interrupt.nr = inj->vector;
		ev.interrupt.soft = inj->type == XKVM_EVENT_SW_INT;
	} else if (vcpu->arch.interrupt.pending) {
		ev.interrupt.injected = 1;
		ev.interrupt.nr = vcpu->arch.interrupt.vector;
	}
	ev.interrupt.shadow = xkvm_x86_ops->get_interrupt_shadow(vcpu);
	ev.nmi.injected = injected && inj->type == XKVM_EVENT_NMI;
	ev.nmi.pending = vcpu->arch.nmi.pending != 0;
	ev.nmi.masked = vcpu->arch.nmi.masked;
	ev.sipi_vector = vcpu->arch.apic ? vcpu->arch.apic->sipi_vector : 0;
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
	struct xkvm_x86_event *inj = &vcpu->arch.injected;
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
	vcpu->arch.injected_valid = false;
	memset(inj, 0, sizeof(*inj));
	vcpu->arch.interrupt.pending = false;
	if (ev.interrupt.injected && ev.interrupt.soft) {
		inj->type = XKVM_EVENT_SW_INT;
		inj->vector = ev.interrupt.nr;
		vcpu->arch.injected_valid = true;
	} else if (ev.interrupt.injected) {
		vcpu->arch.interrupt.pending = true;
		vcpu->arch.interrupt.vector = ev.interrupt.nr;
	}
	if (ev.nmi.injected && !vcpu->arch.injected_valid) {
		inj->type = XKVM_EVENT_NMI;
		inj->vector = X86_TRAP_NMI;
		vcpu->arch.injected_valid = true;
	}
	if (ev.flags & KVM_VCPUEVENT_VALID_SHADOW)
		xkvm_x86_ops->set_interrupt_shadow(vcpu, ev.interrupt.shadow);
	if ((ev.flags & KVM_VCPUEVENT_VALID_SIPI_VECTOR) && vcpu->arch.apic)
		vcpu->arch.apic->sipi_vector = ev.sipi_vector;
	if (ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
		vcpu->arch.nmi.pending = !!ev.nmi.pending;
	vcpu->arch.nmi.masked = ev.nmi.masked;
	vcpu->arch.nmi.iret_pending = false;
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
		return xkvm_x86_get_events(vcpu, argp);
	case KVM_SET_VCPU_EVENTS:
		return xkvm_x86_set_events(vcpu, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
