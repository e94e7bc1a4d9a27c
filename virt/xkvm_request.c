// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_request.c - how others reach a vCPU: requests (work the vCPU must
 * do before it next enters the guest), kicks (make a vCPU in guest mode
 * exit now, or wake it if it is blocked), and blocking (a vCPU thread
 * waiting in the kernel until something makes it runnable).
 *
 * The guest-mode handshake.  The vCPU thread, with interrupts off, sets
 * vcpu->cpu and then mode = IN_GUEST with a full barrier, and only then
 * looks at its requests (xkvm_vcpu_enter_guest_mode); a requester sets the
 * request bit, then (full barrier) moves mode IN_GUEST -> EXITING with
 * cmpxchg and, if that succeeded, sends an IPI to vcpu->cpu.  Either the
 * vCPU sees the request before it enters, or the IPI, held pending while
 * its interrupts are off, forces a VM exit right after the entry.  A
 * requester that asks with XKVM_REQ_WAIT waits for the IPIs: when they are
 * done, every vCPU that was in guest mode has left it.
 *
 * Blocking.  A blocked vCPU waits on vcpu->wait (rcuwait: one waiter, the
 * vCPU thread) with mode OUTSIDE; a kick wakes it.  The architecture says
 * when a blocked vCPU may go on (xkvm_arch_vcpu_runnable).
 *
 * Must not: know about x86.  Locks: none; callable from any context that
 * may send IPIs (interrupts on), including under xkvm.mmu_lock.
 */
#include <linux/cpumask.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <trace/events/ipi.h>	/* smp_send_reschedule() traces on 6.4+ */

#include <xkvm/xkvm_host.h>

/* Scratch CPU mask of one requester; preemption is off while it is used. */
static DEFINE_PER_CPU(cpumask_var_t, xkvm_kick_mask);

static void xkvm_kick_ipi(void *unused)
{
	/* the interrupt itself made the guest exit */
}

/*
 * After setting a request: move the vCPU out of guest mode if it is in
 * it.  Returns the CPU to interrupt, or -1 if the vCPU will see the
 * request by itself.
 */
static int xkvm_vcpu_kick_cpu(struct xkvm_vcpu *vcpu)
{
	int cpu;

	/* the request bit is visible before the mode is read */
	smp_mb__after_atomic();
	if (cmpxchg(&vcpu->mode, XKVM_IN_GUEST_MODE,
		    XKVM_EXITING_GUEST_MODE) != XKVM_IN_GUEST_MODE)
		return -1;
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu < 0 || cpu == raw_smp_processor_id() || !cpu_online(cpu))
		return -1;
	return cpu;
}

void xkvm_make_request(unsigned int req, struct xkvm_vcpu *vcpu)
{
	/* what the requester did before is visible to the vCPU */
	smp_wmb();
	set_bit(req & XKVM_REQ_MASK, &vcpu->requests);
}
EXPORT_SYMBOL_GPL(xkvm_make_request);

/* Wake a blocked vCPU; true if it was blocked. */
bool xkvm_vcpu_wake_up(struct xkvm_vcpu *vcpu)
{
	return rcuwait_wake_up(&vcpu->wait);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_wake_up);

/*
 * Make the vCPU look at its requests soon: IPI it or wake it.  No wait.
 * Any context, hard IRQ included (the LAPIC timer): the IPI is the
 * reschedule one, whose arrival alone makes the guest exit.
 */
void xkvm_vcpu_kick(struct xkvm_vcpu *vcpu)
{
	int cpu;

	if (xkvm_vcpu_wake_up(vcpu))
		return;
	preempt_disable();
	cpu = xkvm_vcpu_kick_cpu(vcpu);
	if (cpu >= 0)
		smp_send_reschedule(cpu);
	preempt_enable();
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_kick);

/*
 * Set @req on every vCPU and kick those in guest mode.  With
 * XKVM_REQ_WAIT, return only when each of them has left guest mode.
 */
void xkvm_make_all_vcpus_request(struct xkvm *vm, unsigned int req)
{
	struct xkvm_vcpu *vcpu;
	struct cpumask *mask;
	unsigned long i;
	int cpu;

	preempt_disable();
	mask = this_cpu_cpumask_var_ptr(xkvm_kick_mask);
	cpumask_clear(mask);
	xkvm_for_each_vcpu(i, vcpu, vm) {
		xkvm_make_request(req, vcpu);
		cpu = xkvm_vcpu_kick_cpu(vcpu);
		if (cpu >= 0)
			__cpumask_set_cpu(cpu, mask);
		else if (!(req & XKVM_REQ_WAIT))
			xkvm_vcpu_wake_up(vcpu);
	}
	if (!cpumask_empty(mask))
		smp_call_function_many(mask, xkvm_kick_ipi, NULL,
				       !!(req & XKVM_REQ_WAIT));
	preempt_enable();
}
EXPORT_SYMBOL_GPL(xkvm_make_all_vcpus_request);

/*
 * The vCPU thread, interrupts off, about to enter the guest: publish the
 * CPU, then the mode, with a full barrier.  The caller then checks its
 * requests: any request made from now on finds IN_GUEST and kicks.
 */
void xkvm_vcpu_enter_guest_mode(struct xkvm_vcpu *vcpu)
{
	lockdep_assert_irqs_disabled();
	WRITE_ONCE(vcpu->cpu, raw_smp_processor_id());
	smp_store_mb(vcpu->mode, XKVM_IN_GUEST_MODE);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_enter_guest_mode);

/* The vCPU thread after the exit, interrupts still off. */
void xkvm_vcpu_exit_guest_mode(struct xkvm_vcpu *vcpu)
{
	/* the guest's accesses are done before a requester sees OUTSIDE */
	smp_store_release(&vcpu->mode, XKVM_OUTSIDE_GUEST_MODE);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_exit_guest_mode);

/*
 * Block the vCPU thread until the architecture says the vCPU can run, a
 * request comes in or a signal is pending.  vCPU thread, vcpu->mutex held.
 */
void xkvm_vcpu_block(struct xkvm_vcpu *vcpu)
{
	rcuwait_wait_event(&vcpu->wait,
			   xkvm_arch_vcpu_runnable(vcpu) ||
			   xkvm_request_pending(vcpu) ||
			   signal_pending(current),
			   TASK_INTERRUPTIBLE);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_block);

int xkvm_request_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (!zalloc_cpumask_var_node(per_cpu_ptr(&xkvm_kick_mask, cpu),
					     GFP_KERNEL, cpu_to_node(cpu))) {
			xkvm_request_exit();
			return -ENOMEM;
		}
	}
	return 0;
}

void xkvm_request_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		free_cpumask_var(per_cpu(xkvm_kick_mask, cpu));
}
