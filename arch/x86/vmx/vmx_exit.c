// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_exit.c - the VT-x exit-handler table, indexed by basic exit reason.
 * Each handler decodes one exit from what vmx_enter_guest() read out of
 * the VMCS into one call of the vendor-neutral xkvm_x86_exit_*() helpers,
 * which own the semantics; names follow their AMD-V twins in svm_exit.c.
 *
 * Return contract (as for every exit handler, see xkvm_x86.h):
 *    1 resume the guest, 0 exit to userspace (kvm_run filled), <0 errno.
 * An exit reason without a handler goes to userspace as
 * KVM_EXIT_INTERNAL_ERROR (unexpected exit reason); a failed VM entry as
 * KVM_EXIT_FAIL_ENTRY with the full exit reason (bit 31 set), or with the
 * VM-instruction error if VMLAUNCH/VMRESUME itself failed.
 * Runs in the vCPU's thread, preemptible.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/nospec.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "vmx.h"

typedef int (*vmx_exit_handler)(struct xkvm_vcpu *vcpu);

/* The next RIP: VM exits caused by instructions report their length. */
static u64 vmx_next_rip(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.rip + to_vmx(vcpu)->exit_insn_len;
}

/* host interrupt, INIT, SMI: nothing for the guest */
static int vmx_exit_host_intr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_host_intr(vcpu);
}

static int vmx_exit_exception_nmi(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u32 info = vmx->exit_intr_info;
	u32 type = info & VMX_INTR_TYPE_MASK;
	u8 vector = info & VMX_INTR_VECTOR;

	/* host NMI and machine check: handled right after the exit */
	if (type == VMX_INTR_TYPE_NMI || vector == X86_TRAP_MC)
		return xkvm_x86_exit_host_intr(vcpu);
	xkvm_x86_stat_inc(vcpu, exits_exception);
	if (vmx->vm86 && vector != X86_TRAP_DB && vector != X86_TRAP_AC)
		return vmx_rmode_exception(vcpu, vmx);
	/* shadow paging: the qualification is the linear address */
	if (vector == X86_TRAP_PF && vmx_cfg.shadow)
		return xkvm_x86_exit_shadow_pf(vcpu, vmx->exit_qual,
					       vmx->exit_intr_error);
	if (vector != X86_TRAP_DB && vector != X86_TRAP_AC)
		return xkvm_x86_exit_unhandled(vcpu, vmx->exit_reason);

	/* #DB and #AC exit only so a guest cannot loop on them: give them back */
	if (vector == X86_TRAP_DB)	/* B0-B3, BD, BS: DR6 as the guest reads it */
		vcpu->arch.dr6 = (vcpu->arch.dr6 & ~0xfULL) |
				 (vmx->exit_qual & 0x600f);
	if (type == VMX_INTR_TYPE_HW_EXC) {
		xkvm_x86_queue_exception(vcpu, vector,
					 info & VMX_INTR_ERROR_CODE,
					 vmx->exit_intr_error);
	} else {
		/* ICEBP (INT1): a privileged software exception */
		struct xkvm_x86_event ev = {
			.type = XKVM_EVENT_PRIV_SW_EXC,
			.vector = vector,
			.insn_len = vmx->exit_insn_len,
		};

		xkvm_x86_event_interrupted(vcpu, &ev);
	}
	return 1;
}

static int vmx_exit_irq_window(struct xkvm_vcpu *vcpu)
{
	/* the window is open; the next entry injects or the run loop tells userspace */
	return xkvm_x86_exit_irq_window(vcpu);
}

static int vmx_exit_nmi_window(struct xkvm_vcpu *vcpu)
{
	/* NMIs are unblocked: the next entry injects the waiting one */
	return xkvm_x86_exit_nmi_window(vcpu);
}

static int vmx_exit_dr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_mov_dr(vcpu);
}

int vmx_exit_shutdown(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	/* Start the vCPU again from a fresh VMCS, as after RESET. */
	preempt_disable();
	if (!vmx_vmcs_load(vmx))
		vmx_vmcs_init(vcpu);
	preempt_enable();
	return xkvm_x86_exit_shutdown(vcpu);
}

static int vmx_exit_cpuid(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_cpuid(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_hlt(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_hlt(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_invd(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_nop(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_monitor(struct xkvm_vcpu *vcpu)
{
	/* MONITOR/MWAIT behave as NOPs, as on KVM */
	return xkvm_x86_exit_nop(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_ud(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_ud(vcpu);
}

static int vmx_exit_io(struct xkvm_vcpu *vcpu)
{
	u64 q = to_vmx(vcpu)->exit_qual;
	struct xkvm_x86_io io = {
		.port = VMX_IO_PORT(q),
		.size = VMX_IO_SIZE(q),
		.in = q & VMX_IO_IN,
		.string = q & VMX_IO_STRING,
		.rep = q & VMX_IO_REP,
		.next_rip = vmx_next_rip(vcpu),
	};

	return xkvm_x86_exit_io(vcpu, &io);
}

static int vmx_exit_rdmsr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_rdmsr(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_wrmsr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_wrmsr(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_xsetbv(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_xsetbv(vcpu, vmx_next_rip(vcpu));
}

static int vmx_exit_ept_violation(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 q = vmx->exit_qual;
	u32 fault = 0;

	if (q & VMX_EPT_QUAL_WRITE)
		fault |= XKVM_FAULT_WRITE;
	if (q & VMX_EPT_QUAL_FETCH)
		fault |= XKVM_FAULT_FETCH;
	if (q & VMX_EPT_QUAL_PERM)
		fault |= XKVM_FAULT_PRESENT;
	/* linear address valid, but the access was to a paging structure */
	if ((q & VMX_EPT_QUAL_GLA_VALID) && !(q & VMX_EPT_QUAL_GLA_FINAL))
		fault |= XKVM_FAULT_IN_WALK;
	/* the instruction length is undefined here: the core fetches it */
	return xkvm_x86_exit_tdp_fault(vcpu, vmx->exit_gpa, fault, NULL, 0);
}

static int vmx_exit_ept_misconfig(struct xkvm_vcpu *vcpu)
{
	/* an EPT entry xkvm wrote is invalid: resuming would loop forever */
	pr_warn_ratelimited("vcpu %u: EPT misconfiguration at GPA 0x%llx\n",
			    vcpu->vcpu_id, to_vmx(vcpu)->exit_gpa);
	return xkvm_x86_exit_unhandled(vcpu, to_vmx(vcpu)->exit_reason);
}

/*
 * MOV to a control register that touches a bit xkvm owns (the guest/host
 * masks: CR0.NE/CD/NW and most of CR4), MOV to/from CR8 (the TPR never
 * reaches the local APIC), CLTS, LMSW, and CR3 accesses on CPUs that
 * force them.  The exit qualification says everything; the core does the
 * rest.
 */
static int vmx_exit_cr(struct xkvm_vcpu *vcpu)
{
	u64 q = to_vmx(vcpu)->exit_qual;
	static const u8 kinds[] = {
		[VMX_CR_TYPE_MOV_TO] = XKVM_CR_MOV_TO,
		[VMX_CR_TYPE_MOV_FROM] = XKVM_CR_MOV_FROM,
		[VMX_CR_TYPE_CLTS] = XKVM_CR_CLTS,
		[VMX_CR_TYPE_LMSW] = XKVM_CR_LMSW,
	};
	struct xkvm_x86_cr_access a = {
		.cr = VMX_CR_NUM(q),
		.kind = kinds[VMX_CR_TYPE(q)],
		.gpr = VMX_CR_GPR(q),
		.lmsw = VMX_CR_LMSW_DATA(q),
		.next_rip = vmx_next_rip(vcpu),
	};

	return xkvm_x86_exit_cr(vcpu, &a);
}

/* Shadow paging: INVLPG; the qualification is the linear address. */
static int vmx_exit_invlpg(struct xkvm_vcpu *vcpu)
{
	xkvm_shadow_invlpg(vcpu, to_vmx(vcpu)->exit_qual);
	vcpu->arch.rip = vmx_next_rip(vcpu);
	return 1;
}

static int vmx_exit_rdpmc(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_rdpmc(vcpu, vmx_next_rip(vcpu));
}

static const vmx_exit_handler vmx_exit_handlers[VMX_EXIT_NR] = {
	[VMX_EXIT_EXCEPTION_NMI]	= vmx_exit_exception_nmi,
	[VMX_EXIT_EXT_INTR]		= vmx_exit_host_intr,
	[VMX_EXIT_TRIPLE_FAULT]		= vmx_exit_shutdown,
	[VMX_EXIT_INIT]			= vmx_exit_host_intr,
	[VMX_EXIT_SIPI]			= vmx_exit_host_intr,
	[VMX_EXIT_IO_SMI]		= vmx_exit_host_intr,
	[VMX_EXIT_OTHER_SMI]		= vmx_exit_host_intr,
	[VMX_EXIT_INTR_WINDOW]		= vmx_exit_irq_window,
	[VMX_EXIT_NMI_WINDOW]		= vmx_exit_nmi_window,
	[VMX_EXIT_CPUID]		= vmx_exit_cpuid,
	[VMX_EXIT_RDPMC]		= vmx_exit_rdpmc,
	[VMX_EXIT_GETSEC]		= vmx_exit_ud,
	[VMX_EXIT_HLT]			= vmx_exit_hlt,
	[VMX_EXIT_INVD]			= vmx_exit_invd,
	[VMX_EXIT_INVLPG]		= vmx_exit_invlpg,
	[VMX_EXIT_VMCALL]		= vmx_exit_ud,
	[VMX_EXIT_VMCLEAR]		= vmx_exit_ud,
	[VMX_EXIT_VMLAUNCH]		= vmx_exit_ud,
	[VMX_EXIT_VMPTRLD]		= vmx_exit_ud,
	[VMX_EXIT_VMPTRST]		= vmx_exit_ud,
	[VMX_EXIT_VMREAD]		= vmx_exit_ud,
	[VMX_EXIT_VMRESUME]		= vmx_exit_ud,
	[VMX_EXIT_VMWRITE]		= vmx_exit_ud,
	[VMX_EXIT_VMXOFF]		= vmx_exit_ud,
	[VMX_EXIT_VMXON]		= vmx_exit_ud,
	[VMX_EXIT_CR_ACCESS]		= vmx_exit_cr,
	[VMX_EXIT_DR_ACCESS]		= vmx_exit_dr,
	[VMX_EXIT_IO]			= vmx_exit_io,
	[VMX_EXIT_RDMSR]		= vmx_exit_rdmsr,
	[VMX_EXIT_WRMSR]		= vmx_exit_wrmsr,
	[VMX_EXIT_MWAIT]		= vmx_exit_monitor,
	[VMX_EXIT_MONITOR]		= vmx_exit_monitor,
	[VMX_EXIT_EPT_VIOLATION]	= vmx_exit_ept_violation,
	[VMX_EXIT_EPT_MISCONFIG]	= vmx_exit_ept_misconfig,
	[VMX_EXIT_INVEPT]		= vmx_exit_ud,
	[VMX_EXIT_PREEMPTION_TIMER]	= vmx_exit_host_intr,	/* backstop */
	[VMX_EXIT_INVVPID]		= vmx_exit_ud,
	[VMX_EXIT_WBINVD]		= vmx_exit_invd,
	[VMX_EXIT_XSETBV]		= vmx_exit_xsetbv,
	[VMX_EXIT_PML_FULL]		= vmx_exit_pml_full,
};

int vmx_handle_exit(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u32 reason, basic;
	vmx_exit_handler h;

	switch (vmx->outcome) {
	case VMX_RELOAD:
		/* the VMCS was active on another CPU: clear it there, retry */
		vmx_vmcs_load_sync(vmx);
		return 1;
	case VMX_VMFAIL:
		pr_warn_ratelimited("vcpu %u: VMLAUNCH/VMRESUME failed, VM-instruction error %u\n",
				    vcpu->vcpu_id, vmx->vm_insn_error);
		return xkvm_x86_exit_fail_entry(vcpu, vmx->vm_insn_error);
	case VMX_RAN:
		break;
	}

	/* what the guest dirtied goes to the log before anything else */
	vmx_pml_drain(vcpu, vmx);
	reason = vmx->exit_reason;
	if (reason & VMX_EXIT_REASON_FAILED_ENTRY)
		return xkvm_x86_exit_fail_entry(vcpu, reason);
	basic = VMX_EXIT_REASON_BASIC(reason);
	if (basic >= VMX_EXIT_NR)
		return xkvm_x86_exit_unhandled(vcpu, reason);
	h = vmx_exit_handlers[array_index_nospec(basic, VMX_EXIT_NR)];
	if (!h)
		return xkvm_x86_exit_unhandled(vcpu, reason);
	return h(vcpu);
}
