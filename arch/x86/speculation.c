// SPDX-License-Identifier: GPL-2.0
/*
 * speculation.c - defences against speculative-execution attacks at the
 * world switch, as the host kernel's own mitigation state asks for them
 * (the X86_FEATURE_* / X86_BUG_* bits it set at boot, its l1tf= and
 * spectre_v2= choices).  Documentation/speculation.md lists every
 * defence, where it runs and why.
 *
 * Vendor-neutral parts, here:
 *  - IBPB when a CPU enters a vCPU of another VM than the last one it ran,
 *    so one guest's branch predictions cannot steer another's;
 *  - VMSCAPE: after a guest ran, IBPB before the next return to user
 *    space, so a guest cannot steer its VMM's branches
 *    (X86_FEATURE_IBPB_EXIT_TO_USER, x86_ibpb_exit_to_user);
 *  - legacy IBRS (X86_FEATURE_KERNEL_IBRS): SPEC_CTRL written again after
 *    the guest ran and before any return instruction — the vendors' asm
 *    calls xkvm_x86_spec_ctrl_restore_host() right after the RSB fill;
 *  - L1TF: whether a VM entry must flush the L1 data cache (VT-x only
 *    can run a guest with L1 data of the host) and when, in the
 *    conditional mode: after anything that may have brought host secrets
 *    into L1D since the last entry (a new KVM_RUN, a fault or emulation,
 *    a host interrupt, the vCPU thread being scheduled).
 * The vendors' world-switch code does the rest with the kernel's own asm
 * macros: VERW before entry (VM_CLEAR_CPU_BUFFERS), RSB filling,
 * UNTRAIN_RET (AMD) and BHB clearing (Intel) after the exit.
 *
 * Per-CPU state is touched with interrupts off.
 */
#include <linux/atomic.h>
#include <linux/percpu.h>
#include <asm/cpufeature.h>
#include <asm/hardirq.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/processor.h>

#include <xkvm_x86.h>

/* The VM whose vCPU this CPU ran last (xkvm.id: never reused). */
static DEFINE_PER_CPU(u64, xkvm_last_vm_id);

/* Interrupts off, right before the entry. */
void xkvm_x86_spec_enter(struct xkvm_vcpu *vcpu)
{
	u64 id = vcpu->vm->id;

	if (this_cpu_read(xkvm_last_vm_id) != id) {
		this_cpu_write(xkvm_last_vm_id, id);
		indirect_branch_prediction_barrier();
	}
}

/* Interrupts off, right after the exit. */
void xkvm_x86_spec_exit(struct xkvm_vcpu *vcpu)
{
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
}

/*
 * Called from the vendors' world-switch asm after the exit, after the RSB
 * is filled, before any RET: legacy IBRS must be written again after
 * less privileged code ran, or it does not protect.
 */
noinstr void xkvm_x86_spec_ctrl_restore_host(void)
{
	if (cpu_feature_enabled(X86_FEATURE_KERNEL_IBRS))
		native_wrmsrl(MSR_IA32_SPEC_CTRL,
			      __this_cpu_read(x86_spec_ctrl_current));
}
EXPORT_SYMBOL_GPL(xkvm_x86_spec_ctrl_restore_host);

/*
 * Does a VM entry need an L1D flush on this host: a CPU with the L1TF
 * bug, the kernel's L1TF mitigation not turned off, and the CPU not
 * saying (ARCH_CAPABILITIES) that a nested hypervisor below flushes.
 */
bool xkvm_x86_l1d_flush_needed(void)
{
	u64 caps = 0;

	if (!boot_cpu_has_bug(X86_BUG_L1TF) ||
	    l1tf_mitigation == L1TF_MITIGATION_OFF)
		return false;
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrl(MSR_IA32_ARCH_CAPABILITIES, caps);
	return !(caps & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH);
}
EXPORT_SYMBOL_GPL(xkvm_x86_l1d_flush_needed);

/*
 * Interrupts off, right before an entry that needs the flush: has L1D
 * possibly taken host data since the last entry of this vCPU?  Consumes
 * the reasons.
 */
bool xkvm_x86_l1d_flush_due(struct xkvm_vcpu *vcpu)
{
	bool due = vcpu->arch.l1d_flush || kvm_get_cpu_l1tf_flush_l1d() ||
		   vcpu->arch.l1d_switches != current->nvcsw + current->nivcsw;

	vcpu->arch.l1d_flush = false;
	vcpu->arch.l1d_switches = current->nvcsw + current->nivcsw;
	kvm_clear_cpu_l1tf_flush_l1d();
	return due;
}
EXPORT_SYMBOL_GPL(xkvm_x86_l1d_flush_due);
