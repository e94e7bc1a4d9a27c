// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_main.c - entry of xkvm-intel.ko: probes VT-x (with EPT and
 * unrestricted guest, or shadow page tables with ept=0 or without them),
 * enables it on every CPU and registers the VT-x xkvm_x86_ops with the
 * core.  Also owns vCPU creation and the world
 * switch around VMLAUNCH/VMRESUME.
 *
 * World switch (interrupts off, preemption off, guest FPU loaded):
 *   make the VMCS current here (or report VMX_RELOAD, see vmx_enable.c),
 *   flush the guest's TLB tags if owed, write RIP/RSP/RFLAGS/TSC offset
 *   and the event to inject, save the host state the VMCS does not
 *   restore, load guest KERNEL_GS_BASE, CR2 and the SYSCALL MSRs, enter;
 *   after the exit restore the host's DS/ES/FS/GS/LDTR, KERNEL_GS_BASE,
 *   GDT limit, TSS limit, DEBUGCTL and breakpoints, read the exit
 *   information, and hand a host NMI or machine check to the host.
 * External interrupts are not acknowledged on exit: they stay pending in
 * the local APIC and are taken when the run loop enables interrupts.
 * An NMI exit leaves NMIs blocked; "int $2" runs the host's NMI handler,
 * whose IRET unblocks them.
 * STAR/LSTAR/CSTAR/SFMASK are switched lazily: the host's values come
 * back from a user-return notifier, per CPU.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/module.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/user-return-notifier.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/hw_breakpoint.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/special_insns.h>
#include <asm/trapnr.h>

#include "vmx.h"

/* EPT entries; accessed/dirty bits are preset when the CPU has them. */
static struct xkvm_tdp_format vmx_ept_format;

/* ---- SYSCALL MSRs, restored on return to user space ------------------- */

static const u32 vmx_uret_index[] = {
	MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
};

#define VMX_NR_URET	ARRAY_SIZE(vmx_uret_index)

struct vmx_uret {
	struct user_return_notifier urn;
	bool registered;
	bool host_valid;
	u64 host[VMX_NR_URET];		/* the host's values on this CPU */
	u64 cur[VMX_NR_URET];		/* what the MSRs hold now */
};

static DEFINE_PER_CPU(struct vmx_uret, vmx_uret);

static void vmx_uret_restore(struct vmx_uret *u)
{
	int i;

	for (i = 0; i < VMX_NR_URET; i++) {
		if (u->cur[i] != u->host[i]) {
			wrmsrl(vmx_uret_index[i], u->host[i]);
			u->cur[i] = u->host[i];
		}
	}
	if (u->registered) {
		user_return_notifier_unregister(&u->urn);
		u->registered = false;
	}
}

static void vmx_uret_on_user_return(struct user_return_notifier *urn)
{
	struct vmx_uret *u = container_of(urn, struct vmx_uret, urn);
	unsigned long flags;

	local_irq_save(flags);
	vmx_uret_restore(u);
	local_irq_restore(flags);
}

/* CPU going offline or module unload: host values back.  IRQs off. */
void vmx_uret_cpu_down(void)
{
	struct vmx_uret *u = this_cpu_ptr(&vmx_uret);

	if (u->host_valid)
		vmx_uret_restore(u);
}

static void vmx_uret_load(struct vmx_vcpu *vmx)
{
	struct vmx_uret *u = this_cpu_ptr(&vmx_uret);
	const u64 guest[VMX_NR_URET] = {
		vmx->star, vmx->lstar, vmx->cstar, vmx->sfmask,
	};
	int i;

	if (unlikely(!u->host_valid)) {
		for (i = 0; i < VMX_NR_URET; i++) {
			rdmsrl(vmx_uret_index[i], u->host[i]);
			u->cur[i] = u->host[i];
		}
		u->urn.on_user_return = vmx_uret_on_user_return;
		u->host_valid = true;
	}
	for (i = 0; i < VMX_NR_URET; i++) {
		if (guest[i] == u->cur[i])
			continue;
		if (!u->registered) {
			user_return_notifier_register(&u->urn);
			u->registered = true;
		}
		wrmsrl(vmx_uret_index[i], guest[i]);
		u->cur[i] = guest[i];
	}
}

/* ---- vCPUs ------------------------------------------------------------ */

static int vmx_vcpu_create(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx;
	struct page *page;
	int r;

	vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);
	if (!vmx)
		return -ENOMEM;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		kfree(vmx);
		return -ENOMEM;
	}
	vmx->msr_guest = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vmx->msr_guest) {
		__free_page(page);
		kfree(vmx);
		return -ENOMEM;
	}
	vmx->msr_host = vmx->msr_guest + VMX_MAX_SWITCH_MSRS;
	if (vmx_pml_vcpu_create(vmx)) {
		free_page((unsigned long)vmx->msr_guest);
		__free_page(page);
		kfree(vmx);
		return -ENOMEM;
	}
	vmx->vcpu = vcpu;
	vmx->vmcs = page_address(page);
	vmx->vmcs_pa = page_to_phys(page);
	*(u32 *)vmx->vmcs = vmx_cfg.revision;
	vmx->cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded_link);
	vmx->vpid = vmx_vpid_alloc();
	vmx->proc2 = vmx_cfg.proc2;
	if (!vmx->vpid)
		vmx->proc2 &= ~VMX_PROC2_VPID;
	if (!vmx_cfg.shadow)
		vmx->eptp = xkvm_tdp_root_pa(vcpu->vm) | VMX_EPTP_WB |
			    VMX_EPTP_WALK4 | (vmx_cfg.ept_ad ? VMX_EPTP_AD : 0);
	vcpu->arch.vendor = vmx;

	r = -EIO;
	preempt_disable();
	/* VMCLEAR initialises the new VMCS (launch state clear) */
	if (!vmx_vmclear(vmx->vmcs_pa) && !vmx_vmcs_load(vmx)) {
		vmx_vmcs_init(vcpu);
		r = 0;
	}
	preempt_enable();
	if (r) {
		pr_err("cannot set up a VMCS\n");
		vmx_vmcs_clear(vmx);
		vmx_vpid_free(vmx->vpid);
		vmx_pml_vcpu_free(vmx);
		free_page((unsigned long)vmx->vmcs);
		free_page((unsigned long)vmx->msr_guest);
		kfree(vmx);
		vcpu->arch.vendor = NULL;
	}
	return r;
}

static void vmx_vcpu_free(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	if (!vmx)
		return;
	vmx_vmcs_clear(vmx);
	vmx_vpid_free(vmx->vpid);
	vmx_pml_vcpu_free(vmx);
	vmx_rmode_vcpu_free(vmx);
	free_page((unsigned long)vmx->vmcs);
	free_page((unsigned long)vmx->msr_guest);
	kfree(vmx);
	vcpu->arch.vendor = NULL;
}

/* ---- world switch ----------------------------------------------------- */

/* Host state the VMCS does not restore (or restores wrongly). */
struct vmx_host_save {
	u16 ds, es, fs, gs, ldt;
	u64 fs_base;
	u64 kernel_gs_base;
	u64 debugctl;
};

/*
 * EPT: the guest-physical and combined mappings; shadow paging: the
 * linear ones of the VPID (without a VPID, every entry flushes them).
 */
static void vmx_flush_guest_tlb(struct vmx_vcpu *vmx)
{
	if (!vmx_cfg.shadow) {
		if (vmx_cfg.ept_cap & VMX_EPT_CAP_INVEPT_SINGLE)
			vmx_invept(VMX_INVEPT_SINGLE, vmx->eptp);
		else
			vmx_invept(VMX_INVEPT_ALL, 0);
	}
	if (vmx->vpid) {
		if (vmx_cfg.ept_cap & VMX_VPID_CAP_INVVPID_SINGLE)
			vmx_invvpid(VMX_INVVPID_SINGLE, vmx->vpid);
		else
			vmx_invvpid(VMX_INVVPID_ALL, 0);
	}
	vmx->need_flush = false;
}

/* Guest registers the VMCS holds; only what changed since the exit. */
static void vmx_sync_guest(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	u64 rip = vcpu->arch.rip, rsp = vcpu->arch.regs[XKVM_REG_RSP];
	u64 tsc_offset = vcpu->arch.msrs.tsc_offset;
	u64 rflags = vcpu->arch.rflags;

	if (rip != vmx->cur_rip) {
		vmcs_write(VMCS_GUEST_RIP, rip);
		vmx->cur_rip = rip;
	}
	if (rsp != vmx->cur_rsp) {
		vmcs_write(VMCS_GUEST_RSP, rsp);
		vmx->cur_rsp = rsp;
	}
	if (vmx->vm86) {
		/* virtual-8086 mode runs real mode (vmx_rmode.c) */
		vmx->rm_iopl = rflags & X86_EFLAGS_IOPL;
		rflags |= X86_EFLAGS_VM | X86_EFLAGS_IOPL;
	}
	if (rflags != vmx->cur_rflags) {
		vmcs_write(VMCS_GUEST_RFLAGS, rflags);
		vmx->cur_rflags = rflags;
	}
	if (tsc_offset != vmx->cur_tsc_offset) {
		vmcs_write(VMCS_TSC_OFFSET, tsc_offset);
		vmx->cur_tsc_offset = tsc_offset;
	}
}

/*
 * The interruptibility the entry loads: an instruction completed for the
 * guest ends its STI/MOV SS shadow, NMI blocking is what the core says
 * (KVM_SET_VCPU_EVENTS may have changed it), and STI blocking with
 * RFLAGS.IF clear would fail the entry checks.
 */
static void vmx_sync_interruptibility(struct xkvm_vcpu *vcpu,
				      struct vmx_vcpu *vmx)
{
	u32 want = vmx->interruptibility;

	if (vcpu->arch.rip != vmx->exit_rip) {
		want &= ~VMX_INTERRUPTIBILITY_SHADOW;
		vmx->exit_rip = vcpu->arch.rip;
	}
	/* an NMI injected now must find NMIs unblocked (the entry checks) */
	if (vcpu->arch.nmi.masked &&
	    !(vmx->staged_valid && vmx->staged.type == XKVM_EVENT_NMI))
		want |= VMX_INTERRUPTIBILITY_NMI;
	else
		want &= ~VMX_INTERRUPTIBILITY_NMI;
	vmx->interruptibility = want;
	if (!(vcpu->arch.rflags & X86_EFLAGS_IF))
		want &= ~VMX_INTERRUPTIBILITY_STI;
	if (want != vmx->cur_interruptibility) {
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, want);
		vmx->cur_interruptibility = want;
	}
}

static bool vmx_in_shadow(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	return (vmx->interruptibility & VMX_INTERRUPTIBILITY_SHADOW) &&
	       vcpu->arch.rip == vmx->exit_rip;
}

static u32 vmx_get_interrupt_shadow(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u32 shadow = 0;

	if (!vmx_in_shadow(vcpu, vmx))
		return 0;
	if (vmx->interruptibility & VMX_INTERRUPTIBILITY_STI)
		shadow |= KVM_X86_SHADOW_INT_STI;
	if (vmx->interruptibility & VMX_INTERRUPTIBILITY_MOV_SS)
		shadow |= KVM_X86_SHADOW_INT_MOV_SS;
	return shadow;
}

/* Written at the next entry: the VMCS need not be current here. */
static void vmx_set_interrupt_shadow(struct xkvm_vcpu *vcpu, u32 shadow)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->interruptibility &= ~VMX_INTERRUPTIBILITY_SHADOW;
	if (shadow & KVM_X86_SHADOW_INT_MOV_SS)
		vmx->interruptibility |= VMX_INTERRUPTIBILITY_MOV_SS;
	else if (shadow & KVM_X86_SHADOW_INT_STI)
		vmx->interruptibility |= VMX_INTERRUPTIBILITY_STI;
	vmx->exit_rip = vcpu->arch.rip;
}

/* VM-entry interruption types of the neutral event kinds, and back. */
static const u32 vmx_intr_types[] = {
	[XKVM_EVENT_EXT_INTR]		= VMX_INTR_TYPE_EXT,
	[XKVM_EVENT_NMI]		= VMX_INTR_TYPE_NMI,
	[XKVM_EVENT_HW_EXC]		= VMX_INTR_TYPE_HW_EXC,
	[XKVM_EVENT_SW_INT]		= VMX_INTR_TYPE_SW_INT,
	[XKVM_EVENT_PRIV_SW_EXC]	= VMX_INTR_TYPE_PRIV_SW_EXC,
	[XKVM_EVENT_SW_EXC]		= VMX_INTR_TYPE_SW_EXC,
};

static u8 vmx_event_type(u32 info)
{
	u8 t;

	for (t = 0; t < ARRAY_SIZE(vmx_intr_types); t++)
		if (vmx_intr_types[t] == (info & VMX_INTR_TYPE_MASK))
			return t;
	return XKVM_EVENT_HW_EXC;
}

static bool vmx_event_is_soft(u8 type)
{
	return type == XKVM_EVENT_SW_INT || type == XKVM_EVENT_PRIV_SW_EXC ||
	       type == XKVM_EVENT_SW_EXC;
}

/*
 * The event primitives only record what the core decided: the VMCS may
 * not be current before enter_guest.  vmx_write_events() puts it there.
 */
static void vmx_inject_event(struct xkvm_vcpu *vcpu,
			     const struct xkvm_x86_event *ev)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->staged = *ev;
	vmx->staged_valid = true;
}

static void vmx_set_irq_window(struct xkvm_vcpu *vcpu, bool on)
{
	to_vmx(vcpu)->irq_window = on;
}

static void vmx_set_nmi_window(struct xkvm_vcpu *vcpu, bool on)
{
	to_vmx(vcpu)->nmi_window = on;
}

/* An entry that did not happen hands its event back to the core. */
static void vmx_cancel_event(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	if (vmx->staged_valid)
		xkvm_x86_event_interrupted(vcpu, &vmx->staged);
	vmx->staged_valid = false;
}

/* The staged event and the window controls, into the current VMCS. */
static void vmx_write_events(struct vmx_vcpu *vmx)
{
	const struct xkvm_x86_event *ev = &vmx->staged;
	u32 proc = vmx_cfg.proc, info;

	if (vmx->staged_valid) {
		info = ev->vector | vmx_intr_types[ev->type] | VMX_INTR_VALID;
		if (vmx->vm86) {
			info = vmx_rmode_event(vmx, ev, info);
		} else if (ev->has_error_code) {
			info |= VMX_INTR_ERROR_CODE;
			vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR, ev->error_code);
		}
		if (vmx_event_is_soft(ev->type) && !vmx->vm86)
			vmcs_write(VMCS_ENTRY_INSN_LEN, ev->insn_len);
		vmcs_write(VMCS_ENTRY_INTR_INFO, info);
	}
	if (vmx->irq_window)
		proc |= VMX_PROC_INTR_WINDOW;
	if (vmx->nmi_window)
		proc |= VMX_PROC_NMI_WINDOW;
	if (proc != vmx->proc) {
		vmcs_write(VMCS_PROC_CTLS, proc);
		vmx->proc = proc;
	}
}

/* The interrupt backstop (vmx_setup_backstop()): armed while IF is clear. */
static void vmx_write_backstop(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	u32 pin = vmx_cfg.pin;

	if (vmx_cfg.backstop_ticks && !(vcpu->arch.rflags & X86_EFLAGS_IF)) {
		pin |= VMX_PIN_PREEMPTION_TIMER;
		vmcs_write(VMCS_PREEMPTION_TIMER, vmx_cfg.backstop_ticks);
	}
	if (pin != vmx->pin) {
		vmcs_write(VMCS_PIN_CTLS, pin);
		vmx->pin = pin;
	}
}

static u16 vmx_read_ldt(void)
{
	u16 sel;

	asm volatile("sldt %0" : "=g" (sel));
	return sel;
}

static void vmx_load_ldt(u16 sel)
{
	asm volatile("lldt %0" :: "rm" (sel));
}

static void vmx_save_host(struct vmx_vcpu *vmx, struct vmx_host_save *h)
{
	unsigned long cr3 = __read_cr3(), cr4 = __read_cr4();
	u16 fs_sel, gs_sel;

	if (cr3 != vmx->cur_host_cr3) {
		vmcs_write(VMCS_HOST_CR3, cr3);
		vmx->cur_host_cr3 = cr3;
	}
	if (cr4 != vmx->cur_host_cr4) {
		vmcs_write(VMCS_HOST_CR4, cr4);
		vmx->cur_host_cr4 = cr4;
	}

	/* user-mode selectors (RPL 3, or in the LDT) cannot be host state */
	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	h->ldt = vmx_read_ldt();
	fs_sel = (h->fs & 7) ? 0 : h->fs;
	gs_sel = (h->gs & 7) ? 0 : h->gs;
	if (fs_sel != vmx->cur_host_fs_sel) {
		vmcs_write(VMCS_HOST_FS_SEL, fs_sel);
		vmx->cur_host_fs_sel = fs_sel;
	}
	if (gs_sel != vmx->cur_host_gs_sel) {
		vmcs_write(VMCS_HOST_GS_SEL, gs_sel);
		vmx->cur_host_gs_sel = gs_sel;
	}
	rdmsrl(MSR_FS_BASE, h->fs_base);
	if (h->fs_base != vmx->cur_host_fs_base) {
		vmcs_write(VMCS_HOST_FS_BASE, h->fs_base);
		vmx->cur_host_fs_base = h->fs_base;
	}

	rdmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	if (vmx->kernel_gs_base != h->kernel_gs_base)
		wrmsrl(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
	rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	vmx_uret_load(vmx);
}

static void vmx_restore_host(struct vmx_vcpu *vmx,
			     const struct vmx_host_save *h)
{
	/* the guest may have changed it with SWAPGS */
	rdmsrl(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);

	if (h->ldt)
		vmx_load_ldt(h->ldt);
	if (h->gs & 7)
		load_gs_index(h->gs);	/* clobbers KERNEL_GS_BASE */
	if (h->fs & 7) {
		loadsegment(fs, h->fs);
		wrmsrl(MSR_FS_BASE, h->fs_base);
	}
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if ((h->gs & 7) || vmx->kernel_gs_base != h->kernel_gs_base)
		wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);

	/* VM exits set the GDT limit to 0xffff and the TSS limit to 0x67 */
	load_fixmap_gdt(smp_processor_id());
	invalidate_tss_limit();

	/* VM exits clear DEBUGCTL and DR7 */
	if (h->debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	/* legacy IBRS: rewrite it after running less privileged code */
	if (cpu_feature_enabled(X86_FEATURE_KERNEL_IBRS))
		wrmsrl(MSR_IA32_SPEC_CTRL, this_cpu_read(x86_spec_ctrl_current));
}

/* The exit interrupted an IRET that had already unblocked NMIs. */
static bool vmx_iret_unblocked_nmi(struct vmx_vcpu *vmx)
{
	switch (VMX_EXIT_REASON_BASIC(vmx->exit_reason)) {
	case VMX_EXIT_EPT_VIOLATION:
		return vmx->exit_qual & VMX_NMI_UNBLOCKED_BY_IRET;
	case VMX_EXIT_EXCEPTION_NMI:
		return vmx->exit_intr_info & VMX_NMI_UNBLOCKED_BY_IRET;
	default:
		return false;
	}
}

/* The exit information, read while the VMCS is current. */
static void vmx_read_exit(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	u32 reason = vmcs_read(VMCS_EXIT_REASON), idt;

	vmx->exit_reason = reason;
	if (reason & VMX_EXIT_REASON_FAILED_ENTRY) {
		/* nothing ran: the guest state is as it was */
		vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
		if (VMX_EXIT_REASON_BASIC(reason) == VMX_EXIT_MCE_DURING_ENTRY)
			asm volatile("int $0x12");
		return;
	}
	vmx->launched = true;

	vmx->cur_rip = vmcs_read(VMCS_GUEST_RIP);
	vmx->cur_rsp = vmcs_read(VMCS_GUEST_RSP);
	vmx->cur_rflags = vmcs_read(VMCS_GUEST_RFLAGS);
	vmx->exit_rip = vmx->cur_rip;
	vcpu->arch.rip = vmx->cur_rip;
	vcpu->arch.regs[XKVM_REG_RSP] = vmx->cur_rsp;
	vcpu->arch.rflags = vmx->cur_rflags;
	if (vmx->vm86)
		vcpu->arch.rflags = (vmx->cur_rflags &
				     ~(u64)(X86_EFLAGS_VM | X86_EFLAGS_IOPL)) |
				    vmx->rm_iopl;
	vmx->exit_qual = vmcs_read(VMCS_EXIT_QUAL);
	vmx->exit_insn_len = vmcs_read(VMCS_EXIT_INSN_LEN);
	vmx->interruptibility = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);
	vmx->cur_interruptibility = vmx->interruptibility;
	vmx_read_crs(vmx);
	if (vmx->rm_fixed)
		vmx_rmode_fold(vmx);

	switch (VMX_EXIT_REASON_BASIC(reason)) {
	case VMX_EXIT_EXCEPTION_NMI:
		vmx->exit_intr_info = vmcs_read(VMCS_EXIT_INTR_INFO);
		vmx->exit_intr_error = 0;
		if (vmx->exit_intr_info & VMX_INTR_ERROR_CODE)
			vmx->exit_intr_error = vmcs_read(VMCS_EXIT_INTR_ERROR);
		if ((vmx->exit_intr_info & VMX_INTR_TYPE_MASK) == VMX_INTR_TYPE_NMI)
			asm volatile("int $2");
		else if ((vmx->exit_intr_info & VMX_INTR_VECTOR) == X86_TRAP_MC)
			asm volatile("int $0x12");
		break;
	case VMX_EXIT_EPT_VIOLATION:
		vmx->exit_gpa = vmcs_read(VMCS_GUEST_PHYS_ADDR);
		break;
	case VMX_EXIT_TRIPLE_FAULT:
		return;
	}

	idt = vmcs_read(VMCS_IDT_VECTORING_INFO);
	if (vmx_iret_unblocked_nmi(vmx) && !(idt & VMX_INTR_VALID))
		vmx->interruptibility |= VMX_INTERRUPTIBILITY_NMI;
	vcpu->arch.nmi.masked = vmx->interruptibility & VMX_INTERRUPTIBILITY_NMI;
	if (idt & VMX_INTR_VALID) {
		struct xkvm_x86_event ev = {
			.type = vmx_event_type(idt),
			.vector = idt & VMX_INTR_VECTOR,
			.has_error_code = idt & VMX_INTR_ERROR_CODE,
			.insn_len = vmx->exit_insn_len,
		};

		if (ev.has_error_code)
			ev.error_code = vmcs_read(VMCS_IDT_VECTORING_ERROR);
		xkvm_x86_event_interrupted(vcpu, &ev);
	}
}

static void vmx_enter_guest(struct xkvm_vcpu *vcpu, bool flush_tlb)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct vmx_host_save h;
	int r;

	vmx->need_flush |= flush_tlb;
	r = vmx_vmcs_load(vmx);
	if (unlikely(r)) {
		vmx->outcome = r == -EAGAIN ? VMX_RELOAD : VMX_VMFAIL;
		vmx->vm_insn_error = 0;
		vmx_cancel_event(vcpu, vmx);
		return;
	}
	if (vmx->need_flush)
		vmx_flush_guest_tlb(vmx);
	if (vmx_cfg.shadow)
		vmx_shadow_load(vcpu, vmx);
	vmx_sync_guest(vcpu, vmx);
	vmx_sync_interruptibility(vcpu, vmx);
	vmx_write_events(vmx);
	vmx_write_backstop(vcpu, vmx);
	vmx->staged_valid = false;
	vmx_perf_switch(vmx);
	vmx_save_host(vmx, &h);
	if (native_read_cr2() != vmx->cr2)
		native_write_cr2(vmx->cr2);
	vmx_l1d_flush(vcpu);

	xkvm_guest_state_enter();
	r = xkvm_vmx_vmenter(vcpu->arch.regs, vmx->launched);
	xkvm_guest_state_exit();

	vmx->cr2 = native_read_cr2();
	vmx_restore_host(vmx, &h);

	if (unlikely(r)) {
		vmx->outcome = VMX_VMFAIL;
		vmx->vm_insn_error = r == 1 ? vmcs_read(VMCS_VM_INSN_ERROR) : 0;
		if (r == 1)
			vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
		return;
	}
	vmx->outcome = VMX_RAN;
	vmx_read_exit(vcpu, vmx);
	vmx_pml_capture(vmx);
}

/*
 * ept: run guests on EPT where the CPU has it with unrestricted guest
 * (default), or on the shadow MMU (ept=0, as KVM's parameter).
 */
static bool ept = true;
module_param(ept, bool, 0444);
MODULE_PARM_DESC(ept, "use EPT where the CPU has it (with unrestricted guest); 0: shadow page tables");

static struct xkvm_x86_ops vmx_ops __ro_after_init = {
	.name		= "vt-x",
	.owner		= THIS_MODULE,
	.tdp		= &vmx_ept_format,
	.vcpu_create	= vmx_vcpu_create,
	.vcpu_free	= vmx_vcpu_free,
	.state_get	= vmx_state_get,
	.state_set	= vmx_state_set,
	.get_msr	= vmx_get_msr,
	.set_msr	= vmx_set_msr,
	.get_interrupt_shadow = vmx_get_interrupt_shadow,
	.set_interrupt_shadow = vmx_set_interrupt_shadow,
	.inject_event	= vmx_inject_event,
	.set_irq_window	= vmx_set_irq_window,
	.set_nmi_window	= vmx_set_nmi_window,
	.enter_guest	= vmx_enter_guest,
	.handle_exit	= vmx_handle_exit,
};

static int __init xkvm_vmx_init(void)
{
	struct xkvm_tdp_format *f = &vmx_ept_format;
	int r;

	if (!boot_cpu_has(X86_FEATURE_VMX)) {
		pr_err("this CPU has no VT-x (VMX), or the firmware disabled it\n");
		return -ENODEV;
	}
#ifdef X86_FEATURE_FRED
	/* host NMIs are dispatched through the IDT ("int $2") */
	if (cpu_feature_enabled(X86_FEATURE_FRED)) {
		pr_err("FRED is enabled; this backend needs IDT event delivery\n");
		return -EOPNOTSUPP;
	}
#endif
	r = vmx_setup_config(ept);
	if (r)
		return r;
	if (vmx_cfg.shadow) {
		ept = false;	/* the parameter reads what is in effect */
		vmx_ops.tdp = NULL;
	}

	f->present = VMX_EPT_R | VMX_EPT_W | VMX_EPT_X;
	f->table = VMX_EPT_R | VMX_EPT_W | VMX_EPT_X;
	f->leaf_ro = VMX_EPT_R | VMX_EPT_X | VMX_EPT_MT_WB | VMX_EPT_IPAT |
		     (vmx_cfg.ept_ad ? VMX_EPT_A : 0);
	f->writable = VMX_EPT_W | (vmx_cfg.ept_ad ? VMX_EPT_D : 0);
	f->dirty = vmx_cfg.ept_ad ? VMX_EPT_D : 0;
	/* 2 MiB pages (IA32_VMX_EPT_VPID_CAP bit 16) */
	f->large = (vmx_cfg.ept_cap & VMX_EPT_CAP_2M) ? VMX_EPT_LARGE : 0;
	f->exec = VMX_EPT_X;
	vmx_ops.cpu_dirty_log_size = vmx_pml_log_size();

	r = vmx_vmcs_global_init();
	if (r)
		return r;
	r = vmx_isolation_init();
	if (r)
		goto free_maps;
	r = vmx_enable_init();
	if (r)
		goto free_isolation;
	r = xkvm_x86_vendor_register(&vmx_ops);
	if (r)
		goto disable;
	pr_info("VT-x with %s enabled (VPID %s, EPT A/D %s, PML %s)\n",
		vmx_cfg.shadow ? "shadow paging" : "EPT and unrestricted guest",
		vmx_cfg.vpid ? "yes" : "no", vmx_cfg.ept_ad ? "yes" : "no",
		vmx_cfg.pml ? "yes" : "no");
	return 0;

disable:
	vmx_enable_exit();
free_isolation:
	vmx_isolation_exit();
free_maps:
	vmx_vmcs_global_exit();
	return r;
}

static void __exit xkvm_vmx_exit(void)
{
	xkvm_x86_vendor_unregister(&vmx_ops);
	vmx_enable_exit();
	vmx_isolation_exit();
	vmx_vmcs_global_exit();
}

module_init(xkvm_vmx_init);
module_exit(xkvm_vmx_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xkvm: Intel VT-x backend (EPT or shadow page tables)");
