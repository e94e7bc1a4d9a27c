// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_vmcs.c - the VMCS: the controls computed from the VMX capability
 * MSRs (the TRUE_* ones when the CPU has them), the shared I/O and MSR
 * bitmaps, host-state fields, and copies between the VMCS and the neutral
 * register state (segments, control registers, MSRs held in the VMCS).
 *
 * Every port and every MSR is intercepted: the bitmaps are all ones and
 * shared by all vCPUs (the hardware only reads them).  The CR0 and CR4
 * bits VMX operation fixes (NE, VMXE), CD/NW and SMXE are owned by xkvm
 * through the guest/host masks; the guest sees its own values in the read
 * shadows.  VMCS accesses run in the vCPU's own thread with the VMCS made
 * current and preemption off (vmx_vmcs_load()).
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>
#include <asm/trapnr.h>
#include <asm/tsc.h>

#include "vmx.h"

#define VMX_PAT_DEFAULT		0x0007040600070406ULL
#define VMX_DR7_DEFAULT		0x400

struct vmx_config vmx_cfg;
static struct page *vmx_io_bitmaps, *vmx_msr_bitmap;

/* ---- capabilities ----------------------------------------------------- */

/*
 * Compute a control field: @min must be available, @opt is taken if it
 * is; the MSR's low half says which bits must be 1, its high half which
 * may be 1.
 */
static int vmx_adjust_ctls(u32 min, u32 opt, u32 msr, u32 *out,
			   const char *what)
{
	u32 must, may, ctl;
	u64 v;

	rdmsrl(msr, v);
	must = lower_32_bits(v);
	may = upper_32_bits(v);
	ctl = ((min | opt) & may) | must;
	if (min & ~ctl) {
		pr_err("the CPU lacks required %s controls 0x%x\n", what,
		       min & ~ctl);
		return -EIO;
	}
	*out = ctl;
	return 0;
}

/*
 * The interrupt backstop: while a guest runs with RFLAGS.IF clear, the
 * VMX-preemption timer makes it exit at least every backstop_us of guest
 * time, so the host's own interrupts (a VMCLEAR or TLB-shootdown IPI
 * another CPU waits for) are taken even where the CPU fails to deliver
 * their external-interrupt exits, as Bochs 2.7 does for an IF=0 guest.
 * Real CPUs need none of it; the cost there is one exit per backstop_us
 * of IF=0 guest time, which a guest spends only in short stretches.
 * 0 turns it off.
 */
static unsigned int backstop_us = 1000;
module_param(backstop_us, uint, 0444);
MODULE_PARM_DESC(backstop_us, "VM exit at least this often (us) while the guest runs with interrupts off; 0: never");

static void vmx_setup_backstop(struct vmx_config *c, u64 misc)
{
	u64 ticks;

	c->backstop_ticks = 0;
	if ((c->pin & VMX_PIN_PREEMPTION_TIMER) && backstop_us && tsc_khz) {
		ticks = div_u64((u64)tsc_khz * backstop_us, 1000);
		ticks >>= VMX_MISC_TIMER_RATE(misc);
		c->backstop_ticks = clamp_t(u64, ticks, 1, U32_MAX);
	}
	/* armed per entry, by vmx_write_backstop() */
	c->pin &= ~VMX_PIN_PREEMPTION_TIMER;
}

/* EPT with 4-level tables, write-back memory and INVEPT, and unrestricted guest */
static bool vmx_ept_usable(const struct vmx_config *c)
{
	if ((c->proc2 & (VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED)) !=
	    (VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED))
		return false;
	return (c->ept_cap & VMX_EPT_CAP_WALK4) && (c->ept_cap & VMX_EPT_CAP_WB) &&
	       (c->ept_cap & VMX_EPT_CAP_INVEPT) &&
	       (c->ept_cap & (VMX_EPT_CAP_INVEPT_SINGLE | VMX_EPT_CAP_INVEPT_ALL));
}

/*
 * The controls this CPU and xkvm agree on.  With @want_ept and a CPU that
 * has EPT and unrestricted guest, guests run on EPT; otherwise on shadow
 * page tables (c->shadow): then MOV to/from CR3 and INVLPG exit, and xkvm
 * owns every bit of CR0 and CR4.
 */
int vmx_setup_config(bool want_ept)
{
	struct vmx_config *c = &vmx_cfg;
	u32 proc_msr, shadow_proc = VMX_PROC_INVLPG | VMX_PROC_CR3_LOAD |
				    VMX_PROC_CR3_STORE;
	bool tru;
	u64 basic, misc;
	int r;

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	tru = basic & VMX_BASIC_TRUE;
	c->revision = VMX_BASIC_REVISION(basic);
	if (VMX_BASIC_SIZE(basic) > PAGE_SIZE ||
	    (basic & VMX_BASIC_32BIT_ADDR) ||
	    VMX_BASIC_MEMTYPE(basic) != VMX_MEMTYPE_WB) {
		pr_err("unsupported VMCS layout (IA32_VMX_BASIC 0x%llx)\n", basic);
		return -EIO;
	}

	r = vmx_adjust_ctls(VMX_PIN_EXT_INTR | VMX_PIN_NMI | VMX_PIN_VIRTUAL_NMIS,
			    VMX_PIN_PREEMPTION_TIMER,
			    tru ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
				  MSR_IA32_VMX_PINBASED_CTLS, &c->pin, "pin-based");
	if (r)
		return r;
	proc_msr = tru ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			 MSR_IA32_VMX_PROCBASED_CTLS;
	r = vmx_adjust_ctls(VMX_PROC_INTR_WINDOW | VMX_PROC_NMI_WINDOW |
			    VMX_PROC_TSC_OFFSET | VMX_PROC_HLT |
			    VMX_PROC_MWAIT | VMX_PROC_CR8_LOAD |
			    VMX_PROC_CR8_STORE | VMX_PROC_MOV_DR |
			    VMX_PROC_IO_BITMAPS | VMX_PROC_MSR_BITMAPS |
			    VMX_PROC_MONITOR | VMX_PROC_RDPMC,
			    VMX_PROC_SECONDARY, proc_msr, &c->proc,
			    "processor-based");
	if (r)
		return r;
	c->proc2 = 0;
	c->ept_cap = 0;
	if (c->proc & VMX_PROC_SECONDARY) {
		/* no RDTSCP/RDPID: TSC_AUX is not switched, so they #UD (as in CPUID) */
		r = vmx_adjust_ctls(0, VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED |
				    VMX_PROC2_VPID | VMX_PROC2_WBINVD |
				    VMX_PROC2_INVPCID | VMX_PROC2_PML,
				    MSR_IA32_VMX_PROCBASED_CTLS2, &c->proc2,
				    "secondary processor-based");
		if (r)
			return r;
	}
	if (c->proc2 & (VMX_PROC2_EPT | VMX_PROC2_VPID))
		rdmsrl(MSR_IA32_VMX_EPT_VPID_CAP, c->ept_cap);
	c->shadow = !want_ept || !vmx_ept_usable(c);
	if (c->shadow) {
		/* shadow paging: CR3 and INVLPG exit; INVPCID is not offered */
		c->proc2 &= ~(VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED |
			      VMX_PROC2_PML | VMX_PROC2_INVPCID);
		r = vmx_adjust_ctls(c->proc | shadow_proc, 0, proc_msr, &c->proc,
				    "processor-based (shadow paging)");
		if (r)
			return r;
		c->ept_ad = false;
	} else {
		c->ept_ad = c->ept_cap & VMX_EPT_CAP_AD;
	}
	if (!c->proc2)
		c->proc &= ~VMX_PROC_SECONDARY;
	r = vmx_adjust_ctls(VMX_EXIT_HOST_64, VMX_EXIT_SAVE_DEBUG | VMX_EXIT_PAT_EFER,
			    tru ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
				  MSR_IA32_VMX_EXIT_CTLS, &c->exit, "VM-exit");
	if (r)
		return r;
	r = vmx_adjust_ctls(VMX_ENTRY_LOAD_DEBUG | VMX_ENTRY_IA32E,
			    VMX_ENTRY_PAT_EFER,
			    tru ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
				  MSR_IA32_VMX_ENTRY_CTLS, &c->entry, "VM-entry");
	if (r)
		return r;
	/*
	 * PAT and EFER: the VMCS switches them, or (shadow paging on a CPU
	 * without those controls, e.g. Core 2) the MSR-load lists do, with
	 * the guest's values kept in software: it cannot write either
	 * without an exit there.
	 */
	c->pat_efer_ctls = (c->exit & VMX_EXIT_PAT_EFER) == VMX_EXIT_PAT_EFER &&
			   (c->entry & VMX_ENTRY_PAT_EFER) == VMX_ENTRY_PAT_EFER;
	if (!c->pat_efer_ctls && !c->shadow) {
		pr_err("the CPU cannot switch PAT and EFER at VM entry and exit\n");
		return -EIO;
	}
	if (!c->pat_efer_ctls) {
		c->exit &= ~VMX_EXIT_PAT_EFER;
		c->entry &= ~VMX_ENTRY_PAT_EFER;
	}
	/* set per entry: interrupt/NMI-window exiting, "IA-32e mode guest" */
	c->proc &= ~(VMX_PROC_INTR_WINDOW | VMX_PROC_NMI_WINDOW);
	c->entry &= ~VMX_ENTRY_IA32E;
	/* acknowledging interrupts on exit is never wanted: they stay pending */
	c->exit &= ~VMX_EXIT_ACK_INTR;

	rdmsrl(MSR_IA32_VMX_MISC, misc);
	/* with shadow paging every change of EFER.LMA exits */
	if (!(misc & VMX_MISC_SAVE_LMA) && !c->shadow) {
		pr_err("VM exits do not save EFER.LMA (IA32_VMX_MISC bit 5)\n");
		return -EIO;
	}
	vmx_setup_backstop(c, misc);

	c->vpid = (c->proc2 & VMX_PROC2_VPID) &&
		  (c->ept_cap & VMX_VPID_CAP_INVVPID) &&
		  (c->ept_cap & (VMX_VPID_CAP_INVVPID_SINGLE |
				 VMX_VPID_CAP_INVVPID_ALL));
	if (!c->vpid)
		c->proc2 &= ~VMX_PROC2_VPID;
	vmx_pml_setup(c);

	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, c->cr0_fixed0);
	rdmsrl(MSR_IA32_VMX_CR0_FIXED1, c->cr0_fixed1);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, c->cr4_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED1, c->cr4_fixed1);
	if (c->shadow) {
		/* the hardware's paging controls are not the guest's */
		c->cr0_mask = ~0UL;
		c->cr4_mask = ~0UL;
		return 0;
	}
	/* unrestricted guest: PE and PG are the guest's own */
	c->cr0_mask = (c->cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG)) |
		      X86_CR0_CD | X86_CR0_NW;
	/*
	 * CR4: the guest owns only bits every guest may set and that reach
	 * nothing of the host's; a write to any other bit exits, so the core
	 * checks it against the guest's CPUID (cr.c).
	 */
	c->cr4_mask = ~XKVM_CR4_GUEST_OWNED;
	return 0;
}

int vmx_vmcs_global_init(void)
{
	vmx_io_bitmaps = alloc_pages(GFP_KERNEL, 1);
	vmx_msr_bitmap = alloc_page(GFP_KERNEL);
	if (!vmx_io_bitmaps || !vmx_msr_bitmap) {
		vmx_vmcs_global_exit();
		return -ENOMEM;
	}
	memset(page_address(vmx_io_bitmaps), 0xff, 2 * PAGE_SIZE);
	memset(page_address(vmx_msr_bitmap), 0xff, PAGE_SIZE);
	return 0;
}

void vmx_vmcs_global_exit(void)
{
	if (vmx_io_bitmaps)
		__free_pages(vmx_io_bitmaps, 1);
	if (vmx_msr_bitmap)
		__free_page(vmx_msr_bitmap);
	vmx_io_bitmaps = NULL;
	vmx_msr_bitmap = NULL;
}

/* ---- host state ------------------------------------------------------- */

/*
 * The host fields that differ between CPUs: TSS, GDT and IDT bases, the
 * per-CPU GS base and SYSENTER stack.  Written whenever the VMCS becomes
 * active on a CPU.  Interrupts or preemption off, VMCS current.
 */
void vmx_set_host_cpu_state(void)
{
	struct desc_ptr gdt, idt;
	struct ldttss_desc *tss;
	u16 tr = native_store_tr();
	u64 v;

	native_store_gdt(&gdt);
	store_idt(&idt);
	tss = (struct ldttss_desc *)(gdt.address + (tr & ~7));
	vmcs_write(VMCS_HOST_TR_SEL, tr);
	vmcs_write(VMCS_HOST_TR_BASE, tss->base0 | ((u64)tss->base1 << 16) |
		   ((u64)tss->base2 << 24) | ((u64)tss->base3 << 32));
	vmcs_write(VMCS_HOST_GDTR_BASE, gdt.address);
	vmcs_write(VMCS_HOST_IDTR_BASE, idt.address);
	rdmsrl(MSR_GS_BASE, v);
	vmcs_write(VMCS_HOST_GS_BASE, v);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vmcs_write(VMCS_HOST_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(VMCS_HOST_SYSENTER_ESP, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vmcs_write(VMCS_HOST_SYSENTER_EIP, v);
	if (!vmx_cfg.pat_efer_ctls)
		return;		/* vmx_perf_switch() loads them */
	rdmsrl(MSR_EFER, v);
	vmcs_write(VMCS_HOST_EFER, v);
	rdmsrl(MSR_IA32_CR_PAT, v);
	vmcs_write(VMCS_HOST_PAT, v);
}

/* ---- VMCS set-up ------------------------------------------------------ */

/*
 * The controls and fixed fields of a VMCS, and the guest state that is
 * not in the neutral state (which state_set writes).  Used for a new vCPU
 * and after a triple fault.  VMCS current, preemption off.
 */
void vmx_vmcs_init(struct xkvm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->pin = vmx_cfg.pin;
	vmcs_write(VMCS_PIN_CTLS, vmx->pin);
	vmx->proc = vmx_cfg.proc;
	vmcs_write(VMCS_PROC_CTLS, vmx->proc);
	vmcs_write(VMCS_PROC_CTLS2, vmx->proc2);
	vmcs_write(VMCS_EXIT_CTLS, vmx_cfg.exit);
	vmcs_write(VMCS_ENTRY_CTLS, vmx_cfg.entry);
	if (vmx->vpid)
		vmcs_write(VMCS_VPID, vmx->vpid);
	if (!vmx_cfg.shadow)
		vmcs_write(VMCS_EPT_POINTER, vmx->eptp);
	vmx_pml_vmcs_init(vmx);
	vmcs_write(VMCS_IO_BITMAP_A, page_to_phys(vmx_io_bitmaps));
	vmcs_write(VMCS_IO_BITMAP_B, page_to_phys(vmx_io_bitmaps) + PAGE_SIZE);
	vmcs_write(VMCS_MSR_BITMAP, page_to_phys(vmx_msr_bitmap));
	/*
	 * #DB and #AC exit so a guest cannot loop delivering them; #MC is the
	 * host's; with shadow paging every #PF fills the shadow or is the guest's.
	 */
	vmcs_write(VMCS_EXCEPTION_BITMAP, vmx_cfg.shadow ? VMX_EXC_BITMAP_SHADOW :
						      VMX_EXC_BITMAP);
	/* real mode: vmx_rmode_load() decides at the next entry */
	vmx->vm86 = false;
	vmx->rm_fixed = 0;
	vmx->rm_idt_fixed = false;
	vmx->rm_reload = true;
	vmcs_write(VMCS_PF_ERROR_MASK, 0);
	vmcs_write(VMCS_PF_ERROR_MATCH, 0);
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_ADDR, virt_to_phys(vmx->msr_host));
	vmcs_write(VMCS_ENTRY_MSR_LOAD_ADDR, virt_to_phys(vmx->msr_guest));
	vmx->nr_msr_guest = 0;
	vmx->nr_msr_host = 0;
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	vmcs_write(VMCS_CR0_MASK, vmx_cfg.cr0_mask);
	vmcs_write(VMCS_CR4_MASK, vmx_cfg.cr4_mask);

	/* host state that is the same on every CPU */
	vmcs_write(VMCS_HOST_CR0, read_cr0());
	vmcs_write(VMCS_HOST_CS_SEL, __KERNEL_CS);
	vmcs_write(VMCS_HOST_SS_SEL, __KERNEL_DS);
	vmcs_write(VMCS_HOST_DS_SEL, 0);
	vmcs_write(VMCS_HOST_ES_SEL, 0);
	vmcs_write(VMCS_HOST_FS_SEL, 0);
	vmcs_write(VMCS_HOST_GS_SEL, 0);
	vmcs_write(VMCS_HOST_RIP, (unsigned long)xkvm_vmx_vmexit);
	vmx->cur_host_fs_sel = 0;
	vmx->cur_host_gs_sel = 0;
	vmx->cur_host_cr3 = ~0ULL;	/* written before the next entry */
	vmx->cur_host_cr4 = ~0ULL;
	vmx->cur_host_fs_base = ~0ULL;

	/* guest state outside the neutral groups */
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);
	vmcs_write(VMCS_GUEST_DEBUGCTL, 0);
	vmcs_write(VMCS_GUEST_DR7, VMX_DR7_DEFAULT);
	if (vmx_cfg.pat_efer_ctls)
		vmcs_write(VMCS_GUEST_PAT, VMX_PAT_DEFAULT);
	vmx->pat = VMX_PAT_DEFAULT;
	vmcs_write(VMCS_GUEST_ACTIVITY, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_GUEST_RIP, vcpu->arch.rip);
	vmcs_write(VMCS_GUEST_RSP, vcpu->arch.regs[XKVM_REG_RSP]);
	vmcs_write(VMCS_GUEST_RFLAGS, vcpu->arch.rflags);
	vmcs_write(VMCS_TSC_OFFSET, vcpu->arch.msrs.tsc_offset);
	vmx->cur_rip = vcpu->arch.rip;
	vmx->exit_rip = vcpu->arch.rip;
	vmx->cur_rsp = vcpu->arch.regs[XKVM_REG_RSP];
	vmx->cur_rflags = vcpu->arch.rflags;
	vmx->cur_tsc_offset = vcpu->arch.msrs.tsc_offset;

	vmx->kernel_gs_base = 0;
	vmx->star = 0;
	vmx->lstar = 0;
	vmx->cstar = 0;
	vmx->sfmask = 0;
	vmx->staged_valid = false;
	vmx->interruptibility = 0;
	vmx->cur_interruptibility = 0;
}

/* ---- control registers ------------------------------------------------ */

/*
 * After an exit: with EPT the guest may change CR0, CR3, CR4 and EFER.LMA
 * freely; with shadow paging every change exits and the copies are right.
 */
void vmx_read_crs(struct vmx_vcpu *vmx)
{
	u64 m0 = vmx_cfg.cr0_mask, m4 = vmx_cfg.cr4_mask;

	if (vmx_cfg.shadow)
		return;
	vmx->cr0 = (vmcs_read(VMCS_GUEST_CR0) & ~m0) | (vmx->cr0 & m0);
	vmx->cr3 = vmcs_read(VMCS_GUEST_CR3);
	vmx->cr4 = (vmcs_read(VMCS_GUEST_CR4) & ~m4) | (vmx->cr4 & m4);
	vmx->efer = vmcs_read(VMCS_GUEST_EFER);
}

static void vmx_write_crs(struct vmx_vcpu *vmx)
{
	const struct vmx_config *c = &vmx_cfg;
	u64 cr0, cr4;

	if (c->shadow)
		return;		/* vmx_shadow_load(), at the entry */

	/* KVM's CD_NW_CLEARED quirk: the guest runs with caching on */
	cr0 = vmx->cr0 & ~(u64)(X86_CR0_CD | X86_CR0_NW);
	cr0 |= c->cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG);
	cr4 = vmx->cr4 | c->cr4_fixed0;
	vmcs_write(VMCS_GUEST_CR0, cr0 & c->cr0_fixed1);
	vmcs_write(VMCS_CR0_SHADOW, vmx->cr0);
	vmcs_write(VMCS_GUEST_CR3, vmx->cr3);
	vmcs_write(VMCS_GUEST_CR4, cr4 & c->cr4_fixed1);
	vmcs_write(VMCS_CR4_SHADOW, vmx->cr4);
	vmcs_write(VMCS_GUEST_EFER, vmx->efer);
	vmcs_write(VMCS_ENTRY_CTLS, c->entry |
		   (vmx->efer & EFER_LMA ? VMX_ENTRY_IA32E : 0));
}

/*
 * Shadow paging, right before each entry: the hardware's control
 * registers from the guest's (paging always on, on the vCPU's shadow
 * root; CD/NW kept out as above) and the read shadows the guest sees.
 * Made from the guest's copies only, so no path can run a guest on its
 * own paging controls.
 */
void vmx_shadow_load(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	const struct vmx_config *c = &vmx_cfg;
	u64 cr0 = vmx->cr0 & ~(u64)(X86_CR0_CD | X86_CR0_NW);
	u64 cr4 = vmx->cr4, efer = vmx->efer;

	xkvm_shadow_hw_regs(&cr0, &cr4, &efer);
	if (!(vmx->cr0 & X86_CR0_PE))
		cr4 |= X86_CR4_VME;	/* vmx_rmode.c */
	cr0 |= c->cr0_fixed0;
	cr4 |= c->cr4_fixed0;
	vmcs_write(VMCS_GUEST_CR0, cr0 & c->cr0_fixed1);
	vmcs_write(VMCS_CR0_SHADOW, vmx->cr0);
	vmcs_write(VMCS_GUEST_CR3, xkvm_shadow_root_pa(vcpu));
	vmcs_write(VMCS_GUEST_CR4, cr4 & c->cr4_fixed1);
	vmcs_write(VMCS_CR4_SHADOW, vmx->cr4);
	if (c->pat_efer_ctls)
		vmcs_write(VMCS_GUEST_EFER, efer);
	vmx->hw_efer = efer;
	vmcs_write(VMCS_ENTRY_CTLS, c->entry |
		   (efer & EFER_LMA ? VMX_ENTRY_IA32E : 0));
	vmx_rmode_load(vcpu, vmx);
}

/* ---- segments --------------------------------------------------------- */

static const u8 vmx_seg_index[XKVM_NR_SEGS] = {
	[XKVM_SEG_ES] = VMX_SEG_ES, [XKVM_SEG_CS] = VMX_SEG_CS,
	[XKVM_SEG_SS] = VMX_SEG_SS, [XKVM_SEG_DS] = VMX_SEG_DS,
	[XKVM_SEG_FS] = VMX_SEG_FS, [XKVM_SEG_GS] = VMX_SEG_GS,
	[XKVM_SEG_TR] = VMX_SEG_TR, [XKVM_SEG_LDTR] = VMX_SEG_LDTR,
};

/* access rights: type:4 s:1 dpl:2 p:1 rsvd:4 avl:1 l:1 db:1 g:1 unusable:1 */
void vmx_seg_get(int seg, struct kvm_segment *s)
{
	int n = 2 * vmx_seg_index[seg];
	u32 ar = vmcs_read(VMCS_GUEST_ES_AR + n);

	s->selector = vmcs_read(VMCS_GUEST_ES_SEL + n);
	s->base = vmcs_read(VMCS_GUEST_ES_BASE + n);
	s->limit = vmcs_read(VMCS_GUEST_ES_LIMIT + n);
	s->type = ar & 0xf;
	s->s = (ar >> 4) & 1;
	s->dpl = (ar >> 5) & 3;
	s->avl = (ar >> 12) & 1;
	s->l = (ar >> 13) & 1;
	s->db = (ar >> 14) & 1;
	s->g = (ar >> 15) & 1;
	s->unusable = !!(ar & VMX_AR_UNUSABLE);
	/* a usable segment is present; KVM reports unusable as not present */
	s->present = !s->unusable;
	s->padding = 0;
}

void vmx_seg_set(int seg, const struct kvm_segment *s)
{
	int n = 2 * vmx_seg_index[seg];
	u32 ar;

	if (s->unusable || !s->present) {
		ar = VMX_AR_UNUSABLE;
	} else {
		ar = (s->type & 0xf) | (s->s & 1) << 4 | (s->dpl & 3) << 5 |
		     1 << 7 | (s->avl & 1) << 12 | (s->l & 1) << 13 |
		     (s->db & 1) << 14 | (s->g & 1) << 15;
		/*
		 * VM entry wants usable segments accessed (and TR busy);
		 * KVM sets the bit for every segment but LDTR, as here.
		 */
		if (seg != XKVM_SEG_LDTR)
			ar |= 1;
	}
	vmcs_write(VMCS_GUEST_ES_SEL + n, s->selector);
	vmcs_write(VMCS_GUEST_ES_BASE + n, s->base);
	vmcs_write(VMCS_GUEST_ES_LIMIT + n, s->limit);
	vmcs_write(VMCS_GUEST_ES_AR + n, ar);
}

u16 vmx_seg_selector(int seg)
{
	return vmcs_read(VMCS_GUEST_ES_SEL + 2 * vmx_seg_index[seg]);
}

/* ---- state copies ----------------------------------------------------- */

/* Make the VMCS current for a state copy; false (and a warning) if not. */
static bool vmx_vmcs_begin(struct vmx_vcpu *vmx)
{
	preempt_disable();
	if (!WARN_ON_ONCE(vmx_vmcs_load(vmx)))
		return true;
	preempt_enable();
	return false;
}

static void vmx_vmcs_end(void)
{
	preempt_enable();
}

void vmx_state_get(struct xkvm_vcpu *vcpu, u32 which)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct xkvm_x86_state *st = &vcpu->arch.state;
	int i;

	if (which & XKVM_STATE_CRS) {
		/* mirrored after each exit: no VMCS access, fine with IRQs off */
		st->cr0 = vmx->cr0;
		st->cr2 = vmx->cr2;
		st->cr3 = vmx->cr3;
		st->cr4 = vmx->cr4;
		st->efer = vmx->efer;
	}
	if (!(which & XKVM_STATE_SEGS) || !vmx_vmcs_begin(vmx))
		return;
	for (i = 0; i < XKVM_NR_SEGS; i++)
		vmx_seg_get(i, &st->segs[i]);
	vmx_rmode_state_get(vmx, st->segs);
	st->gdt.base = vmcs_read(VMCS_GUEST_GDTR_BASE);
	st->gdt.limit = vmcs_read(VMCS_GUEST_GDTR_LIMIT);
	st->idt.base = vmcs_read(VMCS_GUEST_IDTR_BASE);
	st->idt.limit = vmcs_read(VMCS_GUEST_IDTR_LIMIT);
	if (vmx->rm_idt_fixed)
		st->idt = vmx->rm_idt;
	memset(st->gdt.padding, 0, sizeof(st->gdt.padding));
	memset(st->idt.padding, 0, sizeof(st->idt.padding));
	vmx_vmcs_end();
}

/*
 * PAE paging (CR0.PG, CR4.PAE, not IA-32e mode): with EPT the CPU takes
 * the four PDPTEs from the VMCS at entry, and loads them from memory
 * itself only when the guest writes CR3, CR0 or CR4 without an exit.
 * Paging controls set from outside the guest (an emulated CR write,
 * KVM_SET_SREGS on a migration destination) load them here, as a MOV to
 * CR3 would: from the 32-byte table at CR3 (not present if it is not in
 * guest RAM).  Returns true if @pdpte is to be written.
 */
static bool vmx_load_pdptes(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx,
			    const struct xkvm_x86_state *st, u64 *pdpte)
{
	if (!(st->cr0 & X86_CR0_PG) || !(st->cr4 & X86_CR4_PAE) ||
	    (st->efer & EFER_LMA) || vmx_cfg.shadow)
		return false;
	if (st->cr0 == vmx->cr0 && st->cr3 == vmx->cr3 &&
	    st->cr4 == vmx->cr4 && st->efer == vmx->efer)
		return false;	/* the guest's own PDPTEs stay */
	if (xkvm_read_guest(vcpu->vm, st->cr3 & GENMASK_ULL(31, 5), pdpte,
			    4 * sizeof(*pdpte)))
		memset(pdpte, 0, 4 * sizeof(*pdpte));
	return true;
}

void vmx_state_set(struct xkvm_vcpu *vcpu, u32 which)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	bool pdptes = false;
	u64 pdpte[4];
	int i;

	/* guest memory is read before the VMCS is made current (may sleep) */
	if (which & XKVM_STATE_CRS)
		pdptes = vmx_load_pdptes(vcpu, vmx, st, pdpte);
	if ((which & XKVM_STATE_CRS) && vmx_cfg.shadow)
		/*
		 * New paging controls or CR3, from anywhere (the guest,
		 * KVM_SET_SREGS): the vCPU's shadow tree, or its non-global
		 * part, is stale.
		 */
		xkvm_shadow_crs_changed(vcpu, vmx->cr0, vmx->cr3, vmx->cr4,
					vmx->efer);
	if (which & XKVM_STATE_CRS) {
		vmx->cr0 = st->cr0;
		vmx->cr2 = st->cr2;
		vmx->cr3 = st->cr3;
		vmx->cr4 = st->cr4;
		vmx->efer = st->efer;
	}
	if (!vmx_vmcs_begin(vmx))
		return;
	if (which & XKVM_STATE_SEGS) {
		for (i = 0; i < XKVM_NR_SEGS; i++)
			vmx_seg_set(i, &st->segs[i]);
		/* the guest's own now: vmx_rmode_load() makes them fit */
		vmx->rm_fixed = 0;
		vmx->rm_idt_fixed = false;
		vmx->rm_reload = vmx_cfg.shadow;
		vmcs_write(VMCS_GUEST_GDTR_BASE, st->gdt.base);
		vmcs_write(VMCS_GUEST_GDTR_LIMIT, st->gdt.limit);
		vmcs_write(VMCS_GUEST_IDTR_BASE, st->idt.base);
		vmcs_write(VMCS_GUEST_IDTR_LIMIT, st->idt.limit);
	}
	if (which & XKVM_STATE_CRS)
		vmx_write_crs(vmx);
	for (i = 0; pdptes && i < 4; i++)
		vmcs_write(VMCS_GUEST_PDPTE0 + 2 * i, pdpte[i]);
	vmx_vmcs_end();
}

/* ---- MSRs held in the VMCS or switched by software -------------------- */

static bool vmx_pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 t = pat >> (i * 8);

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* VMCS field of an MSR the VMCS holds, 0 if none */
static unsigned long vmx_msr_field(u32 index)
{
	switch (index) {
	case MSR_FS_BASE:		return VMCS_GUEST_FS_BASE;
	case MSR_GS_BASE:		return VMCS_GUEST_GS_BASE;
	case MSR_IA32_SYSENTER_CS:	return VMCS_GUEST_SYSENTER_CS;
	case MSR_IA32_SYSENTER_ESP:	return VMCS_GUEST_SYSENTER_ESP;
	case MSR_IA32_SYSENTER_EIP:	return VMCS_GUEST_SYSENTER_EIP;
	case MSR_IA32_CR_PAT:
		return vmx_cfg.pat_efer_ctls ? VMCS_GUEST_PAT : 0;
	default:			return 0;
	}
}

/* Software copy of an MSR the world switch loads, NULL if none */
static u64 *vmx_msr_slot(struct vmx_vcpu *vmx, u32 index)
{
	switch (index) {
	case MSR_STAR:			return &vmx->star;
	case MSR_LSTAR:			return &vmx->lstar;
	case MSR_CSTAR:			return &vmx->cstar;
	case MSR_SYSCALL_MASK:		return &vmx->sfmask;
	case MSR_KERNEL_GS_BASE:	return &vmx->kernel_gs_base;
	case MSR_IA32_CR_PAT:
		return vmx_cfg.pat_efer_ctls ? NULL : &vmx->pat;
	default:			return NULL;
	}
}

int vmx_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long field = vmx_msr_field(index);
	u64 *slot = vmx_msr_slot(vmx, index);

	if (slot) {
		*data = *slot;
		return 0;
	}
	if (!field)
		return 1;
	if (!vmx_vmcs_begin(vmx))
		return -EIO;
	*data = vmcs_read(field);
	vmx_vmcs_end();
	return 0;
}

int vmx_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long field = vmx_msr_field(index);
	u64 *slot = vmx_msr_slot(vmx, index);

	if (!field && !slot)
		return 1;
	if (index == MSR_IA32_CR_PAT && !vmx_pat_valid(data))
		return -EINVAL;
	if ((index == MSR_FS_BASE || index == MSR_GS_BASE ||
	     index == MSR_KERNEL_GS_BASE || index == MSR_LSTAR ||
	     index == MSR_CSTAR) && (s64)data != ((s64)(data << 16) >> 16))
		return -EINVAL;		/* not canonical */
	/*
	 * VM entry wants canonical SYSENTER addresses; like KVM, make them
	 * so rather than refuse what an AMD-minded guest may write.
	 */
	if (index == MSR_IA32_SYSENTER_ESP || index == MSR_IA32_SYSENTER_EIP)
		data = (u64)((s64)(data << 16) >> 16);
	if (slot) {
		*slot = data;
		return 0;
	}
	if (!vmx_vmcs_begin(vmx))
		return -EIO;
	vmcs_write(field, data);
	vmx_vmcs_end();
	return 0;
}
