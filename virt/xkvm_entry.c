// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_entry.c - the kernel's own rules for entering a guest, in one
 * place: the work the kernel owes a thread before it returns to user
 * mode, and the context-tracking and time-accounting hooks around the
 * world switch.
 *
 * Entry work.  A vCPU thread can stay in KVM_RUN for as long as its guest
 * runs, so what the kernel would do on the way back to user mode is done
 * before every entry instead: a pending signal ends KVM_RUN with
 * KVM_EXIT_INTR, rescheduling happens, and TIF_NOTIFY_RESUME work (task
 * work, rseq, memcg and blkcg throttling) runs.  The kernel exports that
 * last part only as xfer_to_guest_mode_handle_work(), whose one use of its
 * struct kvm_vcpu argument is to report a signal that arrived meanwhile:
 * it writes run->exit_reason = KVM_EXIT_INTR and counts the exit in
 * stat.  xkvm hands it a zeroed stand-in of that type whose run is the
 * vCPU's own kvm_run, so such a signal is reported exactly as ours.
 *
 * Guest context.  guest_state_enter_irqoff()/exit make RCU see the CPU
 * in an extended quiescent state while the guest runs (a guest that never
 * exits cannot stall grace periods) and account guest time; vendors call
 * xkvm_guest_state_enter()/exit() right around the entry instruction,
 * with interrupts off and nothing traced in between.
 *
 * vCPU thread only; no locks.
 */
#include <linux/entry-kvm.h>
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include <xkvm/xkvm_host.h>

int xkvm_vcpu_entry_init(struct xkvm_vcpu *vcpu)
{
	struct kvm_vcpu *standin;

	standin = kzalloc(sizeof(*standin), GFP_KERNEL_ACCOUNT);
	if (!standin)
		return -ENOMEM;
	standin->run = vcpu->run;
	vcpu->entry_standin = standin;
	return 0;
}

void xkvm_vcpu_entry_free(struct xkvm_vcpu *vcpu)
{
	kfree(vcpu->entry_standin);
	vcpu->entry_standin = NULL;
}

/*
 * Interrupts off, right before an entry: is there work that must be done
 * first (signal, rescheduling, notify-resume)?
 */
bool xkvm_vcpu_entry_work_pending(void)
{
	return xfer_to_guest_mode_work_pending();
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_entry_work_pending);

/*
 * Interrupts on: do the work.  Returns -EINTR with KVM_EXIT_INTR in
 * kvm_run if a signal is pending (KVM_RUN then returns to userspace).
 */
int xkvm_vcpu_handle_entry_work(struct xkvm_vcpu *vcpu)
{
	if (signal_pending(current)) {
		vcpu->run->exit_reason = KVM_EXIT_INTR;
		return -EINTR;
	}
	return xfer_to_guest_mode_handle_work(vcpu->entry_standin);
}
EXPORT_SYMBOL_GPL(xkvm_vcpu_handle_entry_work);

/* Guest time starts: interrupts off, before the vendor's entry. */
void xkvm_guest_timing_enter(void)
{
	guest_timing_enter_irqoff();
}
EXPORT_SYMBOL_GPL(xkvm_guest_timing_enter);

/*
 * Guest time ends: interrupts off, after the exit.  A host interrupt that
 * made the exit is taken first, so that a tick it carries is charged to
 * the guest, as the guest was running when it came.
 */
void xkvm_guest_timing_exit(void)
{
	local_irq_enable();
	local_irq_disable();
	guest_timing_exit_irqoff();
}
EXPORT_SYMBOL_GPL(xkvm_guest_timing_exit);

noinstr void xkvm_guest_state_enter(void)
{
	guest_state_enter_irqoff();
}
EXPORT_SYMBOL_GPL(xkvm_guest_state_enter);

noinstr void xkvm_guest_state_exit(void)
{
	guest_state_exit_irqoff();
}
EXPORT_SYMBOL_GPL(xkvm_guest_state_exit);
