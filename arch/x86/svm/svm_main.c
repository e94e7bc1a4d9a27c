// SPDX-License-Identifier: GPL-2.0
/*
 * svm_main.c - entry of xkvm-amd.ko: probes AMD-V (with nested paging,
 * or the core's shadow MMU with npt=0 or on a CPU without NPT), enables
 * it on every CPU, and registers the AMD-V xkvm_x86_ops with the
 * core.  Also owns vCPU creation and the world switch around VMRUN.
 *
 * World switch (interrupts off, preemption off, guest FPU loaded):
 *   CLGI; IF=1 (interrupts stay held by GIF=0); VMSAVE host; VMLOAD guest;
 *   VMRUN; VMSAVE guest; VMLOAD host; IF=0; STGI.
 * VMLOAD/VMSAVE switch what VMRUN does not: FS/GS/TR/LDTR with their
 * hidden parts, KERNEL_GS_BASE, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*.
 * Host breakpoints are restored if the host has any armed.
 */
#define pr_fmt(fmt) "xkvm-amd: " fmt

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/hw_breakpoint.h>
#include <asm/trapnr.h>

#include "svm.h"

/* NPT entries: the ordinary x86 format, all accesses are user accesses. */
static const struct xkvm_tdp_format svm_npt_format = {
	.present	= _PAGE_PRESENT,
	.table		= _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED,
	.leaf_ro	= _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED,
	.writable	= _PAGE_RW | _PAGE_DIRTY,
	.dirty		= _PAGE_DIRTY,
	.large		= _PAGE_PSE,
	.nx		= _PAGE_NX,
};

static int svm_vcpu_create(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s;
	struct page *page;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		kfree(s);
		return -ENOMEM;
	}
	s->vmcb = page_address(page);
	s->vmcb_pa = page_to_phys(page);
	vcpu->arch.vendor = s;
	svm_vmcb_init(vcpu);
	return 0;
}

static void svm_vcpu_free(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s = to_svm(vcpu);

	if (!s)
		return;
	free_page((unsigned long)s->vmcb);
	kfree(s);
	vcpu->arch.vendor = NULL;
}

static bool svm_in_shadow(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s = to_svm(vcpu);

	return (s->vmcb->int_state & SVM_INT_STATE_SHADOW) &&
	       vcpu->arch.rip == s->exit_rip;
}

/* RFLAGS.IF set and no interrupt shadow: an interrupt would be taken now. */
static bool svm_intr_open(struct xkvm_vcpu *vcpu)
{
	return (vcpu->arch.rflags & X86_EFLAGS_IF) && !svm_in_shadow(vcpu);
}

static u32 svm_get_interrupt_shadow(struct xkvm_vcpu *vcpu)
{
	/* the VMCB does not say which instruction made it: both, as KVM says */
	return svm_in_shadow(vcpu) ?
	       KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI : 0;
}

static void svm_set_interrupt_shadow(struct xkvm_vcpu *vcpu, u32 shadow)
{
	struct svm_vcpu *s = to_svm(vcpu);

	if (shadow)
		s->vmcb->int_state |= SVM_INT_STATE_SHADOW;
	else
		s->vmcb->int_state &= ~SVM_INT_STATE_SHADOW;
	s->exit_rip = vcpu->arch.rip;
}

#define SVM_INT_CTL_VIRQ_ANY	(SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK | \
				 SVM_INT_CTL_V_IGN_TPR | SVM_INT_CTL_V_INTR_VECTOR_MASK)

/* EVENTINJ types of the neutral event kinds. */
static u64 svm_event_type(u8 type)
{
	switch (type) {
	case XKVM_EVENT_EXT_INTR:	return SVM_EVTINJ_TYPE_INTR;
	case XKVM_EVENT_NMI:		return SVM_EVTINJ_TYPE_NMI;
	case XKVM_EVENT_SW_INT:		return SVM_EVTINJ_TYPE_SOFT;
	default:			return SVM_EVTINJ_TYPE_EXEPT;
	}
}

/*
 * The event for this entry.  An external interrupt goes in as a virtual
 * interrupt (V_IRQ, highest priority, TPR ignored: taken at the first
 * instruction boundary) when the guest can take it, else through
 * EVENTINJ, which ignores RFLAGS.IF as KVM's injection does.  To the guest
 * both are the same.  V_IRQ is preferred because of the test machine's
 * CPU: QEMU 7.2's TCG delivers an EVENTINJ interrupt a second time (IF=0,
 * nested in its own handler) if its vCPU is kicked before the guest's
 * next exception or #VMEXIT.
 */
static void svm_inject_event(struct xkvm_vcpu *vcpu,
			     const struct xkvm_x86_event *ev)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;
	u64 inj;

	if (ev->type == XKVM_EVENT_EXT_INTR && svm_intr_open(vcpu)) {
		v->int_ctl |= SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK |
			      SVM_INT_CTL_V_IGN_TPR |
			      ((u64)ev->vector << SVM_INT_CTL_V_INTR_VECTOR_SHIFT);
		s->virq_injected = true;
		return;
	}
	s->soft_injected = ev->type == XKVM_EVENT_SW_INT ||
			   ev->type == XKVM_EVENT_SW_EXC ||
			   ev->type == XKVM_EVENT_PRIV_SW_EXC ||
			   (ev->type == XKVM_EVENT_HW_EXC &&
			    (ev->vector == X86_TRAP_BP || ev->vector == X86_TRAP_OF));
	inj = ev->vector | svm_event_type(ev->type) | SVM_EVTINJ_VALID;
	if (ev->has_error_code)
		inj |= SVM_EVTINJ_VALID_ERR | ((u64)ev->error_code << 32);
	v->event_inj = inj;
}

/*
 * A virtual interrupt with the VINTR intercept makes the CPU exit as soon
 * as the guest could take an interrupt; it cannot serve while V_IRQ
 * carries a real interrupt this entry (the next exit comes later then).
 */
static void svm_set_irq_window(struct xkvm_vcpu *vcpu, bool on)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;

	if (!on || s->virq_injected)
		return;
	v->int_ctl |= SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK |
		      SVM_INT_CTL_V_IGN_TPR;
	v->intercept_misc1 |= SVM_INTERCEPT_VINTR;
}

/*
 * AMD-V has no NMI window.  NMIs blocked by a running handler are seen
 * to open after its IRET (intercepted while vcpu->arch.nmi.masked, then
 * single-stepped if an NMI waits: svm_nmi_step_arm); an NMI
 * held back by an interrupt shadow or by another event waits for the next
 * exit (KVM single-steps the guest there instead).
 */
static void svm_set_nmi_window(struct xkvm_vcpu *vcpu, bool on)
{
}

/*
 * Before an entry at the NMI handler's intercepted IRET with an NMI
 * waiting: single-step it, so that the #DB after it (svm_exit_db) exits
 * and the NMI goes in right after the IRET, as on the CPU.  IRET loads
 * the guest's RFLAGS from its stack; should it fault instead, the TF is
 * taken back at the exit.  Not while this entry delivers an event, whose
 * frame would keep the TF: the NMI then waits for the next exit.
 */
static void svm_nmi_step_arm(struct xkvm_vcpu *vcpu, struct svm_vcpu *s)
{
	const struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	s->nmi_step = nmi->iret_pending && nmi->pending &&
		      vcpu->arch.rip == nmi->iret_rip &&
		      !(s->vmcb->event_inj & SVM_EVTINJ_VALID) &&
		      !s->virq_injected;
	if (s->nmi_step) {
		s->nmi_step_tf = vcpu->arch.rflags & X86_EFLAGS_TF;
		s->vmcb->rflags |= X86_EFLAGS_TF;
	}
}

/*
 * After an exit: RIP has left the intercepted IRET of the NMI handler, so
 * it has run and NMIs are open.
 */
static void svm_nmi_iret_done(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	if (nmi->iret_pending && vcpu->arch.rip != nmi->iret_rip) {
		nmi->iret_pending = false;
		nmi->masked = false;
	}
}

/*
 * QEMU TCG quirk: when a #VMEXIT interrupts the delivery of a virtual
 * interrupt the guest took, TCG reports it in EXITINTINFO as an exception
 * of the interrupt's vector (with an error code for vectors that have
 * one, which VMRUN would refuse to inject) and leaves V_IRQ set.  It is
 * made an external interrupt again.  Correct on real hardware, which
 * reports such a delivery as type INTR: an exception has a vector below
 * 32, and xkvm never uses V_IRQ for one.
 */
static void svm_quirk_tcg_virq_exitintinfo(struct svm_vmcb *v, u8 vector)
{
	u64 info = v->exit_int_info;

	if (vector >= 32 && (info & SVM_EVTINJ_VALID) &&
	    (info & SVM_EVTINJ_VEC_MASK) == vector &&
	    (info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT) {
		v->exit_int_info = vector | SVM_EVTINJ_TYPE_INTR |
				   SVM_EVTINJ_VALID;
		v->int_ctl &= ~SVM_INT_CTL_V_IRQ;
	}
}

/*
 * A software interrupt or exception (INT n, INT3, INTO) the guest executed
 * itself, whose delivery an intercept interrupted (a #PF on the IDT or the
 * stack with the shadow MMU, a nested page fault): RIP still points at the
 * instruction, so the guest runs it again.  Injected anew, it would be
 * delivered with that RIP as its return address (without NRIP save there
 * is no next RIP to give), one instruction early.
 */
static bool svm_guest_soft_event(struct svm_vcpu *s, u64 info)
{
	u8 vector = info & SVM_EVTINJ_VEC_MASK;

	if (s->soft_injected)
		return false;
	if ((info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_SOFT)
		return true;
	return (info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT &&
	       (vector == X86_TRAP_BP || vector == X86_TRAP_OF);
}

/*
 * After the exit: the windows of this entry end; a virtual interrupt not
 * yet taken is queued again; an event whose delivery the #VMEXIT
 * interrupted (EXITINTINFO) goes back to the core, unless the guest's own
 * INT n/INT3/INTO will run again.
 */
static void svm_complete_events(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	struct svm_vcpu *s = to_svm(vcpu);
	u64 info;

	v->event_inj = 0;
	v->intercept_misc1 &= ~SVM_INTERCEPT_VINTR;
	if (s->virq_injected) {
		u8 vector = (v->int_ctl & SVM_INT_CTL_V_INTR_VECTOR_MASK) >>
			    SVM_INT_CTL_V_INTR_VECTOR_SHIFT;

		s->virq_injected = false;
		svm_quirk_tcg_virq_exitintinfo(v, vector);
		if (v->int_ctl & SVM_INT_CTL_V_IRQ) {
			vcpu->arch.interrupt.vector = vector;
			vcpu->arch.interrupt.pending = true;
		}
	}
	v->int_ctl &= ~SVM_INT_CTL_VIRQ_ANY;

	info = v->exit_int_info;
	if ((info & SVM_EVTINJ_VALID) && svm_guest_soft_event(s, info))
		info = 0;
	s->soft_injected = false;
	if (info & SVM_EVTINJ_VALID) {
		struct xkvm_x86_event ev = {
			.vector = info & SVM_EVTINJ_VEC_MASK,
			.has_error_code = info & SVM_EVTINJ_VALID_ERR,
			.error_code = info >> 32,
		};

		switch (info & SVM_EVTINJ_TYPE_MASK) {
		case SVM_EVTINJ_TYPE_INTR:
			ev.type = XKVM_EVENT_EXT_INTR;
			break;
		case SVM_EVTINJ_TYPE_NMI:
			ev.type = XKVM_EVENT_NMI;
			break;
		case SVM_EVTINJ_TYPE_SOFT:
			ev.type = XKVM_EVENT_SW_INT;
			break;
		default:
			ev.type = XKVM_EVENT_HW_EXC;
			break;
		}
		xkvm_x86_event_interrupted(vcpu, &ev);
	}
}

/*
 * MSRs VMRUN does not switch but the guest can read without an exit:
 * TSC_AUX through RDPID (which AMD-V cannot intercept) or RDTSCP (whose
 * intercept QEMU's TCG, the test machine's CPU, ignores), and IA32_XSS
 * through XSAVES (which AMD-V cannot turn off; the guest's XSS is 0,
 * XSAVES is not offered).  Switched with GIF=0, so no host NMI or
 * interrupt runs with the guest's values; TSC_AUX only where it differs
 * (the host's is the CPU number).
 */
static bool svm_switch_tsc_aux(struct xkvm_vcpu *vcpu)
{
	return (boot_cpu_has(X86_FEATURE_RDTSCP) ||
		boot_cpu_has(X86_FEATURE_RDPID)) &&
	       vcpu->arch.msrs.tsc_aux != svm_host_tsc_aux();
}

static void svm_load_guest_msrs(struct xkvm_vcpu *vcpu)
{
	if (svm_host_xss)
		wrmsrl(MSR_IA32_XSS, 0);
	if (svm_switch_tsc_aux(vcpu))
		wrmsrl(MSR_TSC_AUX, vcpu->arch.msrs.tsc_aux);
}

static void svm_put_guest_msrs(struct xkvm_vcpu *vcpu)
{
	if (svm_host_xss)
		wrmsrl(MSR_IA32_XSS, svm_host_xss);
	if (svm_switch_tsc_aux(vcpu))
		wrmsrl(MSR_TSC_AUX, svm_host_tsc_aux());
}

/*
 * The TPR: the guest reads and writes CR8 through V_TPR without exits
 * (V_INTR_MASKING), so it is copied from the core before the entry and
 * back after the exit, as KVM does (TPR bits 3:0 do not survive an exit
 * on AMD-V).  CR8 writes exit while the LAPIC holds a request that only
 * the TPR keeps back, so that lowering the TPR delivers it at once.
 */
static void svm_load_tpr(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	v->int_ctl = (v->int_ctl & ~SVM_INT_CTL_V_TPR_MASK) |
		     (xkvm_x86_get_cr8(vcpu) & SVM_INT_CTL_V_TPR_MASK);
	if (xkvm_x86_cr8_write_exit_wanted(vcpu))
		v->intercept_cr |= SVM_INTERCEPT_CR_WRITE(8);
	else
		v->intercept_cr &= ~SVM_INTERCEPT_CR_WRITE(8);
}

static void svm_save_tpr(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	if (!(v->intercept_cr & SVM_INTERCEPT_CR_WRITE(8)))
		xkvm_x86_set_cr8(vcpu, v->int_ctl & SVM_INT_CTL_V_TPR_MASK);
}

static void svm_enter_guest(struct xkvm_vcpu *vcpu, bool flush_tlb)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;
	int cpu = smp_processor_id();
	u8 tlb;

	tlb = svm_assign_asid(s, cpu);
	if (flush_tlb && !tlb)
		tlb = (svm_features & SVM_FEATURE_FLUSH_BY_ASID) ?
		      SVM_TLB_FLUSH_ASID : SVM_TLB_FLUSH_ALL;
	v->tlb_ctl = tlb;
	v->clean = 0;
	v->rax = vcpu->arch.regs[XKVM_REG_RAX];
	v->rsp = vcpu->arch.regs[XKVM_REG_RSP];
	v->rip = vcpu->arch.rip;
	v->rflags = vcpu->arch.rflags;
	svm_nmi_step_arm(vcpu, s);
	v->tsc_offset = vcpu->arch.msrs.tsc_offset;
	if (!svm_in_shadow(vcpu))
		v->int_state &= ~SVM_INT_STATE_SHADOW;
	/* an NMI handler is running: its IRET opens NMIs again */
	if (vcpu->arch.nmi.masked && !vcpu->arch.nmi.iret_pending)
		v->intercept_misc1 |= SVM_INTERCEPT_IRET;
	else
		v->intercept_misc1 &= ~SVM_INTERCEPT_IRET;

	svm_load_tpr(vcpu, v);
	if (svm_shadow)
		svm_shadow_load(vcpu);

	svm_clgi();
	svm_load_guest_msrs(vcpu);
	xkvm_guest_state_enter();
	raw_local_irq_enable();
	xkvm_svm_vmrun(vcpu->arch.regs, s->vmcb_pa, svm_host_save_pa(cpu));
	raw_local_irq_disable();
	xkvm_guest_state_exit();
	svm_put_guest_msrs(vcpu);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	svm_stgi();

	svm_complete_events(vcpu, v);
	svm_save_tpr(vcpu, v);
	vcpu->arch.regs[XKVM_REG_RAX] = v->rax;
	vcpu->arch.regs[XKVM_REG_RSP] = v->rsp;
	vcpu->arch.rip = v->rip;
	s->exit_rip = v->rip;
	vcpu->arch.rflags = v->rflags;
	if (s->nmi_step && v->rip == vcpu->arch.nmi.iret_rip)
		/* the IRET has not run: the TF is still ours */
		vcpu->arch.rflags = (v->rflags & ~X86_EFLAGS_TF) |
				    (s->nmi_step_tf ? X86_EFLAGS_TF : 0);
	svm_nmi_iret_done(vcpu);
}

/*
 * npt: run guests on nested paging where the CPU has it (default), or on
 * the shadow MMU (npt=0, as KVM's parameter; also without NPT).
 */
static bool npt = true;
module_param(npt, bool, 0444);
MODULE_PARM_DESC(npt, "use nested paging (NPT) where the CPU has it; 0: shadow page tables");

bool svm_shadow __ro_after_init;

static struct xkvm_x86_ops svm_ops __ro_after_init = {
	.name		= "amd-v",
	.owner		= THIS_MODULE,
	.tdp		= &svm_npt_format,
	.vcpu_create	= svm_vcpu_create,
	.vcpu_free	= svm_vcpu_free,
	.state_get	= svm_state_get,
	.state_set	= svm_state_set,
	.get_msr	= svm_get_msr,
	.set_msr	= svm_set_msr,
	.get_interrupt_shadow = svm_get_interrupt_shadow,
	.set_interrupt_shadow = svm_set_interrupt_shadow,
	.inject_event	= svm_inject_event,
	.set_irq_window	= svm_set_irq_window,
	.set_nmi_window	= svm_set_nmi_window,
	.enter_guest	= svm_enter_guest,
	.handle_exit	= svm_handle_exit,
};

static int __init xkvm_svm_init(void)
{
	int r;

	if (!boot_cpu_has(X86_FEATURE_SVM)) {
		pr_err("this CPU has no AMD-V (SVM)\n");
		return -ENODEV;
	}
	if (!npt || !boot_cpu_has(X86_FEATURE_NPT)) {
		npt = false;	/* the parameter reads what is in effect */
		svm_shadow = true;
		svm_ops.tdp = NULL;
	}
	r = svm_vmcb_global_init();
	if (r)
		return r;
	r = svm_enable_init();
	if (r)
		goto free_maps;
	r = xkvm_x86_vendor_register(&svm_ops);
	if (r)
		goto disable;
	pr_info("AMD-V with %s enabled (NRIPS %s, decode assists %s)\n",
		svm_shadow ? "shadow paging" : "NPT",
		svm_features & SVM_FEATURE_NRIPS ? "yes" : "no",
		svm_features & SVM_FEATURE_DECODE_ASSISTS ? "yes" : "no");
	return 0;

disable:
	svm_enable_exit();
free_maps:
	svm_vmcb_global_exit();
	return r;
}

static void __exit xkvm_svm_exit(void)
{
	xkvm_x86_vendor_unregister(&svm_ops);
	svm_enable_exit();
	svm_vmcb_global_exit();
}

module_init(xkvm_svm_init);
module_exit(xkvm_svm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xkvm: AMD-V backend (nested paging or shadow page tables)");
