// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_rmode.c - real mode without unrestricted guest (shadow paging: ept=0
 * or a CPU without EPT).  VM entry refuses a guest with CR0.PE clear, so
 * the guest's real-mode code runs in virtual-8086 mode, as on KVM:
 *
 *  - segments in the vm86 form (selector = base / 16, 64 KiB limit, DPL 3
 *    data), RFLAGS.VM and IOPL 3 (CLI, STI, PUSHF, POPF, INT n and IRET
 *    run natively; the guest sees its own IOPL), CR4.VME, and TR on a TSS
 *    whose interrupt-redirection bitmap sends every INT n through the
 *    guest's vector table at linear 0 and whose I/O bitmap lets every
 *    port through to the VMCS I/O bitmaps (which exit);
 *  - every exception exits: a #GP is a privileged instruction (HLT, MOV
 *    CR, LGDT, ...) or a big-real-mode access past 64 KiB, done by the
 *    core (xkvm_x86_exit_vm86_gp()); a #PF is the shadow MMU's (or the
 *    TSS's, below); the rest go back to the guest;
 *  - events are injected as software interrupts, which the CPU redirects
 *    through the vector table like INT n: an external interrupt, NMI or
 *    exception enters with RIP one byte back and an instruction length
 *    of 1, so the IP pushed is the guest's.
 *  - the redirection only reads a table at linear 0, with no limit: with
 *    any other IDTR (LIDT moved or shrank it) the redirection bitmap is
 *    all ones and the VMCS IDTR limit 0, so every INT n and injected event
 *    faults (#GP with the IDT bit) and the core delivers it in software
 *    (xkvm_x86_realmode_int(): limit, #GP, #DF, shutdown as a real-mode
 *    CPU).  The guest's IDTR is kept in rm_idt meanwhile.
 *
 * The guest's own segments: where the VMCS holds another form (bit in
 * rm_fixed), rm_segs has the guest's.  After each exit a segment whose
 * VMCS selector changed was loaded by the guest: in vm86 the new selector
 * and base are the guest's (a real-mode load keeps limit and attributes,
 * so big real mode survives it); in protected mode the VMCS copy is.
 * Leaving real mode (MOV to CR0 sets PE) puts the guest's segments back,
 * with CS and SS at RPL/DPL 0 and data segments at DPL 3 where VM entry
 * would refuse them, until the guest loads its own (the far jump after
 * the MOV to CR0).  A segment whose base is not a paragraph below 1 MiB
 * cannot run in vm86: it gets the nearest (as KVM without
 * emulate_invalid_guest_state; a warning says so).
 *
 * The TSS is three pages of the vCPU's own, mapped read-only by the shadow
 * MMU at the linear address KVM_SET_TSS_ADDR gave (default above the
 * real-mode megabyte when none, or one real mode could reach, was given):
 * not guest memory, out of the guest's reach.
 *
 * vCPU thread; the VMCS current (preemption off) where noted.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>
#include <asm/traps.h>

#include "vmx.h"

#define VM86_TSS_SIZE		(0x68 + 32 + 8192 + 1)
#define VM86_TSS_IOMAP_FIELD	0x66	/* offset of the I/O map base */
#define VM86_TSS_REDIRECT	0x68	/* the interrupt-redirection bitmap */
#define VM86_TSS_DEFAULT	0xfeffd000ULL
#define VM86_LINEAR_END		0x110000ULL	/* real mode reaches below */

static void vm86_seg(struct kvm_segment *v, const struct kvm_segment *g)
{
	if ((g->base & 0xf) || g->base > 0xffff0)
		pr_warn_once("a real-mode segment base 0x%llx is not a paragraph below 1 MiB: running it at 0x%llx\n",
			     g->base, g->base & 0xffff0);
	memset(v, 0, sizeof(*v));
	v->selector = (g->base >> 4) & 0xffff;
	v->base = (u64)v->selector << 4;
	v->limit = 0xffff;
	v->type = 3;
	v->s = 1;
	v->dpl = 3;
	v->present = 1;
}

/* A protected-mode segment VM entry takes without unrestricted guest. */
static bool pm_seg(struct kvm_segment *v, int i)
{
	bool fixed = false;

	if (v->unusable || !v->present || i == XKVM_SEG_TR)
		return false;
	if (i == XKVM_SEG_CS || i == XKVM_SEG_SS) {
		if ((v->selector & 3) || v->dpl) {
			v->selector &= ~3;
			v->dpl = 0;
			fixed = true;
		}
		if (i == XKVM_SEG_CS && !(v->type & 8)) {
			v->type = 0xb;
			fixed = true;
		}
	} else if ((v->selector & 3) > v->dpl) {
		v->dpl = 3;
		fixed = true;
	}
	if (v->limit > 0xfffff && (v->limit & 0xfff) == 0xfff && !v->g) {
		v->g = 1;
		fixed = true;
	} else if (v->g && (v->limit & 0xfff) != 0xfff) {
		v->g = 0;
		fixed = true;
	}
	return fixed;
}

static void rmode_write_fixed(struct vmx_vcpu *vmx, int i,
			      const struct kvm_segment *v)
{
	vmx_seg_set(i, v);
	vmx->rm_sel[i] = v->selector;
	vmx->rm_fixed |= BIT(i);
}

/* The guest's IDTR covers the whole vector table at linear 0. */
static bool rmode_native_ivt(const struct vmx_vcpu *vmx)
{
	return !vmx->rm_idt.base && vmx->rm_idt.limit >= 0x3ff;
}

/* INT n through the table at linear 0 only where that is the guest's IVT. */
static void rmode_set_redirection(struct vmx_vcpu *vmx)
{
	if (vmx->rm_tss[0])
		memset(page_address(vmx->rm_tss[0]) + VM86_TSS_REDIRECT,
		       rmode_native_ivt(vmx) ? 0 : 0xff, 32);
}

static void rmode_enter(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	u32 tss = READ_ONCE(vcpu->vm->arch.tss_addr);
	struct kvm_segment v;
	int i;

	vmx->rm_tss_base = tss >= VM86_LINEAR_END ? tss : VM86_TSS_DEFAULT;
	for (i = 0; i < XKVM_NR_SEGS; i++) {
		if (i == XKVM_SEG_LDTR)
			continue;
		if (i == XKVM_SEG_TR) {
			memset(&v, 0, sizeof(v));
			v.base = vmx->rm_tss_base;
			v.limit = VM86_TSS_SIZE - 1;
			v.type = 0xb;		/* busy 32-bit TSS */
			v.present = 1;
		} else {
			vm86_seg(&v, &vmx->rm_segs[i]);
		}
		rmode_write_fixed(vmx, i, &v);
	}
	/*
	 * Nothing reaches a protected-mode IDT in vm86 while INT n goes
	 * through the guest's vector table at 0 (exceptions exit, events
	 * are software interrupts): SIDT reads the guest's IDTR.  With any
	 * other table, INT n and events must fault (limit 0), and SIDT
	 * reads the base only.
	 */
	vmcs_write(VMCS_GUEST_IDTR_BASE, vmx->rm_idt.base);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT,
		   rmode_native_ivt(vmx) ? vmx->rm_idt.limit : 0);
	vmx->rm_idt_fixed = true;
	rmode_set_redirection(vmx);
}

static void rmode_leave(struct vmx_vcpu *vmx)
{
	struct kvm_segment v;
	int i;

	vmcs_write(VMCS_GUEST_IDTR_BASE, vmx->rm_idt.base);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, vmx->rm_idt.limit);
	vmx->rm_idt_fixed = false;

	for (i = 0; i < XKVM_NR_SEGS; i++) {
		v = vmx->rm_segs[i];
		if (pm_seg(&v, i))
			rmode_write_fixed(vmx, i, &v);
		else
			vmx_seg_set(i, &v);
	}
}

/*
 * Right before an entry with shadow paging, VMCS current: into or out of
 * virtual-8086 mode when the guest's CR0.PE changed (or its segments were
 * set from outside).
 */
void vmx_rmode_load(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	bool want = !(vmx->cr0 & X86_CR0_PE);
	int i;

	if (want == vmx->vm86 && !vmx->rm_reload)
		return;
	for (i = 0; i < XKVM_NR_SEGS; i++)
		if (!(vmx->rm_fixed & BIT(i)))
			vmx_seg_get(i, &vmx->rm_segs[i]);
	if (!vmx->rm_idt_fixed) {
		vmx->rm_idt.base = vmcs_read(VMCS_GUEST_IDTR_BASE);
		vmx->rm_idt.limit = vmcs_read(VMCS_GUEST_IDTR_LIMIT);
	}
	vmx->rm_fixed = 0;
	if (want)
		rmode_enter(vcpu, vmx);
	else
		rmode_leave(vmx);
	vmx->vm86 = want;
	vmx->rm_reload = false;
	vmcs_write(VMCS_EXCEPTION_BITMAP, want ? ~0U : VMX_EXC_BITMAP_SHADOW);
	vmx->cur_rflags = ~0ULL;	/* VM and IOPL change */
}

/* After an exit, VMCS current: take the segments the guest loaded. */
void vmx_rmode_fold(struct vmx_vcpu *vmx)
{
	unsigned long bits = vmx->rm_fixed & ~BIT(XKVM_SEG_TR);
	int i;

	for_each_set_bit(i, &bits, XKVM_NR_SEGS) {
		u16 sel = vmx_seg_selector(i);

		/*
		 * Unchanged: nothing was loaded, or the value the VMCS held
		 * (which cannot be told apart; the guest's selector stays,
		 * with the same base).
		 */
		if (sel == vmx->rm_sel[i])
			continue;
		if (vmx->vm86) {
			vmx->rm_segs[i].selector = sel;
			vmx->rm_segs[i].base = (u64)sel << 4;
			vmx->rm_sel[i] = sel;
		} else {
			vmx->rm_fixed &= ~BIT(i);
		}
	}
}

/* The guest's own segments where the VMCS holds another form. */
void vmx_rmode_state_get(struct vmx_vcpu *vmx, struct kvm_segment *segs)
{
	unsigned long bits = vmx->rm_fixed;
	int i;

	for_each_set_bit(i, &bits, XKVM_NR_SEGS)
		segs[i] = vmx->rm_segs[i];
}

/* The vm86 TSS page at @gva, allocated and filled at its first use. */
static int rmode_tss_fault(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx,
			   u64 gva)
{
	unsigned int n = (gva - vmx->rm_tss_base) >> PAGE_SHIFT;
	u8 *p;

	if (!vmx->rm_tss[n]) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);

		if (!page)
			return -ENOMEM;
		p = page_address(page);
		/* I/O bitmap right after the redirection bitmap; all zero */
		if (n == 0)
			*(u16 *)(p + VM86_TSS_IOMAP_FIELD) = VM86_TSS_REDIRECT + 32;
		if (n == (VM86_TSS_SIZE - 1) >> PAGE_SHIFT)
			p[(VM86_TSS_SIZE - 1) & ~PAGE_MASK] = 0xff;
		vmx->rm_tss[n] = page;
		rmode_set_redirection(vmx);
	}
	return xkvm_shadow_map_private(vcpu, gva & PAGE_MASK, vmx->rm_tss[n]);
}

/* The event whose delivery faulted, in software (see the top). */
static int rmode_deliver(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_event ev = vcpu->arch.injected;
	u64 ret = vcpu->arch.rip;

	vcpu->arch.injected_valid = false;
	if (ev.type == XKVM_EVENT_SW_INT || ev.type == XKVM_EVENT_SW_EXC ||
	    ev.type == XKVM_EVENT_PRIV_SW_EXC)
		ret += ev.insn_len;
	if (!xkvm_x86_realmode_int(vcpu, ev.vector, ret))
		return vmx_exit_shutdown(vcpu);
	return 1;
}

/* An exception in virtual-8086 mode (every one exits there). */
int vmx_rmode_exception(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	u32 info = vmx->exit_intr_info;
	u8 vector = info & VMX_INTR_VECTOR;
	u64 gva = vmx->exit_qual;

	switch (vector) {
	case X86_TRAP_PF:
		/* the CPU's own reads of the TSS are supervisor accesses */
		if (!(vmx->exit_intr_error & X86_PF_USER) &&
		    gva - vmx->rm_tss_base < 3 * PAGE_SIZE)
			return rmode_tss_fault(vcpu, vmx, gva);
		return xkvm_x86_exit_shadow_pf(vcpu, gva, vmx->exit_intr_error);
	case X86_TRAP_GP:
		/* the IDT bit: an INT n or injected event met the IDTR limit 0 */
		if ((vmx->exit_intr_error & 2) && vcpu->arch.injected_valid)
			return rmode_deliver(vcpu);
		return xkvm_x86_exit_vm86_gp(vcpu);
	case X86_TRAP_SS:
		/* past 64 KiB of a big-real-mode stack segment: the same */
		if (vmx->rm_segs[XKVM_SEG_SS].limit > 0xffff)
			return xkvm_x86_exit_vm86_gp(vcpu);
		break;
	}
	if ((info & VMX_INTR_TYPE_MASK) == VMX_INTR_TYPE_SW_EXC) {
		/* INT3, INTO: the vector table's, past the instruction */
		struct xkvm_x86_event ev = {
			.type = XKVM_EVENT_SW_INT,
			.vector = vector,
			.insn_len = vmx->exit_insn_len,
		};

		xkvm_x86_event_interrupted(vcpu, &ev);
		return 1;
	}
	/* real mode pushes no error code */
	xkvm_x86_queue_exception(vcpu, vector, false, 0);
	return 1;
}

/*
 * The interruption information that injects @ev in virtual-8086 mode,
 * from the @info made for protected mode; VMCS current.  Anything but a
 * software interrupt becomes one entered one byte before RIP.
 */
u32 vmx_rmode_event(struct vmx_vcpu *vmx, const struct xkvm_x86_event *ev,
		    u32 info)
{
	u32 type = info & VMX_INTR_TYPE_MASK;

	info &= ~(VMX_INTR_TYPE_MASK | VMX_INTR_ERROR_CODE);
	info |= VMX_INTR_TYPE_SW_INT;
	if (type == VMX_INTR_TYPE_SW_INT || type == VMX_INTR_TYPE_SW_EXC ||
	    type == VMX_INTR_TYPE_PRIV_SW_EXC) {
		vmcs_write(VMCS_ENTRY_INSN_LEN, ev->insn_len);
	} else {
		vmx->cur_rip = (u32)(vmx->cur_rip - 1);
		vmcs_write(VMCS_GUEST_RIP, vmx->cur_rip);
		vmcs_write(VMCS_ENTRY_INSN_LEN, 1);
	}
	return info;
}

void vmx_rmode_vcpu_free(struct vmx_vcpu *vmx)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vmx->rm_tss); i++)
		if (vmx->rm_tss[i])
			__free_page(vmx->rm_tss[i]);
}
