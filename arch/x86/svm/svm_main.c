// SPDX-License-Identifier: GPL-2.0
/*
 * svm_main.c - entry of xkvm-amd.ko: probes AMD-V with nested paging,
 * enables it on every CPU, and registers the AMD-V xkvm_x86_ops with the
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

static bool svm_interrupt_allowed(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;

	return svm_intr_open(vcpu) && !(v->exit_int_info & SVM_EVTINJ_VALID);
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

/*
 * An NMI can go in unless NMIs are blocked (an NMI handler has not yet
 * returned: IRET is intercepted to see it) or an interrupt shadow holds.
 */
static bool svm_inject_nmi(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	if (!nmi->pending || nmi->masked || svm_in_shadow(vcpu))
		return false;
	v->event_inj = X86_TRAP_NMI | SVM_EVTINJ_TYPE_NMI | SVM_EVTINJ_VALID;
	nmi->pending--;
	nmi->masked = true;
	return true;
}

#define SVM_INT_CTL_VIRQ_ANY	(SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK | \
				 SVM_INT_CTL_V_IGN_TPR | SVM_INT_CTL_V_INTR_VECTOR_MASK)

/*
 * An external interrupt goes in as a virtual interrupt (V_IRQ, highest
 * priority, TPR ignored: taken at the first instruction boundary) when the
 * guest can take it, else through EVENTINJ, which ignores RFLAGS.IF as on
 * KVM.  To the guest both are the same.  V_IRQ is preferred because QEMU
 * 7.2's TCG, the AMD-V machine of the test harness, delivers an EVENTINJ
 * interrupt a second time (IF=0, nested in its own handler) if its vCPU is
 * kicked before the guest's next exception or #VMEXIT.
 */
static void svm_inject_intr(struct xkvm_vcpu *vcpu, struct svm_vmcb *v,
			    u8 vector)
{
	if (svm_intr_open(vcpu)) {
		v->int_ctl |= SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK |
			      SVM_INT_CTL_V_IGN_TPR |
			      ((u64)vector << SVM_INT_CTL_V_INTR_VECTOR_SHIFT);
		to_svm(vcpu)->virq_injected = true;
	} else {
		v->event_inj = vector | SVM_EVTINJ_TYPE_INTR | SVM_EVTINJ_VALID;
	}
}

/*
 * After the exit: a virtual interrupt not yet taken is queued again.  One
 * whose delivery the #VMEXIT interrupted is in EXITINTINFO, which QEMU's
 * TCG fills in as an exception of that vector (with an error code for
 * vectors that have one; VMRUN would refuse to inject it) and with V_IRQ
 * still set: it is made an external interrupt again, and re-injected.
 */
static void svm_complete_virq(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	struct svm_vcpu *s = to_svm(vcpu);
	u8 vector = (v->int_ctl & SVM_INT_CTL_V_INTR_VECTOR_MASK) >>
		    SVM_INT_CTL_V_INTR_VECTOR_SHIFT;
	u64 info = v->exit_int_info;

	if (!s->virq_injected)
		return;
	s->virq_injected = false;
	if ((info & SVM_EVTINJ_VALID) &&
	    (info & SVM_EVTINJ_VEC_MASK) == vector &&
	    ((info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT ||
	     (info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_INTR)) {
		/* taken, delivery interrupted (TCG leaves V_IRQ set then) */
		v->exit_int_info = vector | SVM_EVTINJ_TYPE_INTR |
				   SVM_EVTINJ_VALID;
	} else if (v->int_ctl & SVM_INT_CTL_V_IRQ) {
		/* not taken yet */
		vcpu->arch.interrupt.vector = vector;
		vcpu->arch.interrupt.pending = true;
	}
	v->int_ctl &= ~SVM_INT_CTL_VIRQ_ANY;
}

/*
 * One event per entry: re-injection, exception, the interrupt userspace
 * queued (committed, as on KVM: it goes before a new NMI, or the NMI
 * handler would run with it still to come), then an NMI.
 */
static void svm_inject_event(struct xkvm_vcpu *vcpu, struct svm_vmcb *v)
{
	struct xkvm_x86_exception *ex = &vcpu->arch.exception;
	struct xkvm_x86_interrupt *irq = &vcpu->arch.interrupt;
	u64 ev, info = v->exit_int_info;

	v->int_ctl &= ~SVM_INT_CTL_VIRQ_ANY;
	v->intercept_misc1 &= ~(SVM_INTERCEPT_VINTR | SVM_INTERCEPT_IRET);

	/* an event whose delivery a #VMEXIT interrupted goes first */
	if (info & SVM_EVTINJ_VALID) {
		if ((info & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_INTR)
			svm_inject_intr(vcpu, v, info & SVM_EVTINJ_VEC_MASK);
		else
			v->event_inj = info;
		v->exit_int_info = 0;
	} else if (ex->pending) {
		ev = ex->vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID;
		if (ex->has_error_code)
			ev |= SVM_EVTINJ_VALID_ERR | ((u64)ex->error_code << 32);
		v->event_inj = ev;
		ex->pending = false;
	} else if (irq->pending) {
		svm_inject_intr(vcpu, v, irq->vector);
		irq->pending = false;
	} else if (svm_inject_nmi(vcpu, v)) {
		/* injected */
	}

	if (vcpu->arch.nmi.masked)
		v->intercept_misc1 |= SVM_INTERCEPT_IRET;
	/* a virtual interrupt makes the CPU exit when the guest can take it */
	if (vcpu->arch.irq_window && !to_svm(vcpu)->virq_injected) {
		v->int_ctl |= SVM_INT_CTL_V_IRQ | SVM_INT_CTL_V_INTR_PRIO_MASK |
			      SVM_INT_CTL_V_IGN_TPR;
		v->intercept_misc1 |= SVM_INTERCEPT_VINTR;
	}
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
	v->tsc_offset = vcpu->arch.msrs.tsc_offset;
	if (!svm_in_shadow(vcpu))
		v->int_state &= ~SVM_INT_STATE_SHADOW;
	svm_inject_event(vcpu, v);

	asm volatile("clgi" ::: "memory");
	raw_local_irq_enable();
	xkvm_svm_vmrun(vcpu->arch.regs, s->vmcb_pa, svm_host_save_pa(cpu));
	raw_local_irq_disable();
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	asm volatile("stgi" ::: "memory");

	v->event_inj = 0;
	svm_complete_virq(vcpu, v);
	vcpu->arch.regs[XKVM_REG_RAX] = v->rax;
	vcpu->arch.regs[XKVM_REG_RSP] = v->rsp;
	vcpu->arch.rip = v->rip;
	s->exit_rip = v->rip;
	vcpu->arch.rflags = v->rflags;
}

static const struct xkvm_x86_ops svm_ops = {
	.name		= "amd-v",
	.owner		= THIS_MODULE,
	.tdp		= &svm_npt_format,
	.vcpu_create	= svm_vcpu_create,
	.vcpu_free	= svm_vcpu_free,
	.state_get	= svm_state_get,
	.state_set	= svm_state_set,
	.get_msr	= svm_get_msr,
	.set_msr	= svm_set_msr,
	.interrupt_allowed = svm_interrupt_allowed,
	.get_interrupt_shadow = svm_get_interrupt_shadow,
	.set_interrupt_shadow = svm_set_interrupt_shadow,
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
	if (!boot_cpu_has(X86_FEATURE_NPT)) {
		pr_err("this CPU has no nested paging (NPT); the shadow MMU is not implemented yet\n");
		return -EOPNOTSUPP;
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
	pr_info("AMD-V with NPT enabled (NRIPS %s, decode assists %s)\n",
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
MODULE_DESCRIPTION("xkvm: AMD-V backend with nested paging");
