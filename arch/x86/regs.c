// SPDX-License-Identifier: GPL-2.0
/*
 * regs.c - vCPU register state: the cache of vendor-held state, the reset
 * state, and KVM_GET/SET_REGS and KVM_GET/SET_SREGS with KVM's checks.
 *
 * Runs in the vCPU's own thread under xkvm_vcpu.mutex; no other lock.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/cpufeature.h>

#include <xkvm_x86.h>
#include "dev/lapic.h"

void xkvm_x86_state_need(struct xkvm_vcpu *vcpu, u32 which)
{
	u32 missing = which & ~vcpu->arch.state_valid;

	if (missing) {
		xkvm_x86_ops->state_get(vcpu, missing);
		vcpu->arch.state_valid |= missing;
	}
}

/* The copy in vcpu->arch.state of @which was changed: write it back. */
void xkvm_x86_state_dirty(struct xkvm_vcpu *vcpu, u32 which)
{
	xkvm_x86_ops->state_set(vcpu, which);
	vcpu->arch.state_valid |= which;
}

int xkvm_x86_cpl(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	if (!(vcpu->arch.state.cr0 & X86_CR0_PE))
		return 0;
	if (vcpu->arch.rflags & X86_EFLAGS_VM)
		return 3;
	return vcpu->arch.state.segs[XKVM_SEG_SS].dpl;
}

static void xkvm_x86_reset_seg(struct kvm_segment *s, u8 type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
}

/* The architectural state after RESET (and after a shutdown). */
void xkvm_x86_reset_regs(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	u32 eax = 0x600, ebx, ecx, edx;
	int i;

	if (vcpu->arch.cpuid_nent)
		xkvm_x86_guest_cpuid(vcpu, 1, 0, &eax, &ebx, &ecx, &edx);
	memset(vcpu->arch.regs, 0, sizeof(vcpu->arch.regs));
	vcpu->arch.regs[XKVM_REG_RDX] = eax;
	vcpu->arch.rip = 0xfff0;
	vcpu->arch.rflags = X86_EFLAGS_FIXED;

	for (i = 0; i < XKVM_NR_SEGS; i++)
		xkvm_x86_reset_seg(&st->segs[i], 3);
	st->segs[XKVM_SEG_CS].type = 0xb;
	st->segs[XKVM_SEG_CS].selector = 0xf000;
	st->segs[XKVM_SEG_CS].base = 0xffff0000;
	st->segs[XKVM_SEG_TR].type = 0xb;
	st->segs[XKVM_SEG_TR].s = 0;
	st->segs[XKVM_SEG_LDTR].type = 2;
	st->segs[XKVM_SEG_LDTR].s = 0;
	st->gdt.base = 0;
	st->gdt.limit = 0xffff;
	st->idt = st->gdt;
	st->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
	st->cr2 = st->cr3 = st->cr4 = st->efer = 0;
	vcpu->arch.cr8 = 0;
	vcpu->arch.apic_base = 0xfee00000 | MSR_IA32_APICBASE_ENABLE |
			       (vcpu->vcpu_id == vcpu->vm->arch.bsp_vcpu_id ?
				MSR_IA32_APICBASE_BSP : 0);
	xkvm_x86_events_reset(vcpu);
	vcpu->arch.pending.kind = XKVM_COMPLETE_NONE;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_ALL);
}

static void xkvm_x86_get_regs(struct xkvm_vcpu *vcpu, struct kvm_regs *r)
{
	const u64 *g = vcpu->arch.regs;

	r->rax = g[XKVM_REG_RAX]; r->rbx = g[XKVM_REG_RBX];
	r->rcx = g[XKVM_REG_RCX]; r->rdx = g[XKVM_REG_RDX];
	r->rsi = g[XKVM_REG_RSI]; r->rdi = g[XKVM_REG_RDI];
	r->rsp = g[XKVM_REG_RSP]; r->rbp = g[XKVM_REG_RBP];
	r->r8 = g[XKVM_REG_R8];   r->r9 = g[XKVM_REG_R9];
	r->r10 = g[XKVM_REG_R10]; r->r11 = g[XKVM_REG_R11];
	r->r12 = g[XKVM_REG_R12]; r->r13 = g[XKVM_REG_R13];
	r->r14 = g[XKVM_REG_R14]; r->r15 = g[XKVM_REG_R15];
	r->rip = vcpu->arch.rip;
	r->rflags = vcpu->arch.rflags;
}

static void xkvm_x86_set_regs(struct xkvm_vcpu *vcpu, const struct kvm_regs *r)
{
	u64 *g = vcpu->arch.regs;

	g[XKVM_REG_RAX] = r->rax; g[XKVM_REG_RBX] = r->rbx;
	g[XKVM_REG_RCX] = r->rcx; g[XKVM_REG_RDX] = r->rdx;
	g[XKVM_REG_RSI] = r->rsi; g[XKVM_REG_RDI] = r->rdi;
	g[XKVM_REG_RSP] = r->rsp; g[XKVM_REG_RBP] = r->rbp;
	g[XKVM_REG_R8] = r->r8;   g[XKVM_REG_R9] = r->r9;
	g[XKVM_REG_R10] = r->r10; g[XKVM_REG_R11] = r->r11;
	g[XKVM_REG_R12] = r->r12; g[XKVM_REG_R13] = r->r13;
	g[XKVM_REG_R14] = r->r14; g[XKVM_REG_R15] = r->r15;
	vcpu->arch.rip = r->rip;
	vcpu->arch.rflags = r->rflags | X86_EFLAGS_FIXED;
	vcpu->arch.exception.pending = false;
}

/* kvm_sregs lists the segments in this order. */
static const u8 xkvm_sregs_order[XKVM_NR_SEGS] = {
	XKVM_SEG_CS, XKVM_SEG_DS, XKVM_SEG_ES, XKVM_SEG_FS,
	XKVM_SEG_GS, XKVM_SEG_SS, XKVM_SEG_TR, XKVM_SEG_LDTR,
};

static void xkvm_x86_get_sregs(struct xkvm_vcpu *vcpu, struct kvm_sregs *s)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	struct kvm_segment *out = &s->cs;
	int i;

	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	memset(s, 0, sizeof(*s));
	for (i = 0; i < XKVM_NR_SEGS; i++)
		out[i] = st->segs[xkvm_sregs_order[i]];
	s->gdt = st->gdt;
	s->idt = st->idt;
	s->cr0 = st->cr0;
	s->cr2 = st->cr2;
	s->cr3 = st->cr3;
	s->cr4 = st->cr4;
	s->cr8 = vcpu->arch.apic ? xkvm_lapic_get_cr8(vcpu) : vcpu->arch.cr8;
	s->efer = st->efer;
	s->apic_base = vcpu->arch.apic_base;
}

bool xkvm_x86_apic_base_valid(struct xkvm_vcpu *vcpu, u64 data)
{
	u64 reserved = ~GENMASK_ULL(xkvm_x86_guest_maxphyaddr(vcpu) - 1, 0) |
		       0x2ff;
	u32 a, b, c, d;

	xkvm_x86_guest_cpuid(vcpu, 1, 0, &a, &b, &c, &d);
	if (!(c & BIT(21)))		/* x2APIC */
		reserved |= X2APIC_ENABLE;
	if (data & reserved)
		return false;
	/* x2APIC enabled with xAPIC disabled is an invalid mode */
	return !((data & X2APIC_ENABLE) && !(data & MSR_IA32_APICBASE_ENABLE));
}

static bool xkvm_x86_sregs_valid(struct xkvm_vcpu *vcpu,
				 const struct kvm_sregs *s)
{
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
		if (s->cr3 >> xkvm_x86_guest_maxphyaddr(vcpu))
			return false;
	} else if ((s->efer & EFER_LMA) || s->cs.l) {
		return false;
	}
	if (s->cr4 & xkvm_x86_cr4_reserved(vcpu))
		return false;
	return xkvm_x86_cr0_valid(s->cr0);
}

static int xkvm_x86_set_sregs(struct xkvm_vcpu *vcpu, const struct kvm_sregs *s)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	const struct kvm_segment *in = &s->cs;
	int i;

	if (!xkvm_x86_sregs_valid(vcpu, s) || s->cr8 > 15 ||
	    !xkvm_x86_apic_base_valid(vcpu, s->apic_base))
		return -EINVAL;

	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	/*
	 * A new CR3 from userspace resets the MMU as on KVM: every guest
	 * translation goes, the global ones too (the shadow MMU keeps those
	 * on the guest's own MOV to CR3).
	 */
	if (st->cr3 != s->cr3)
		vcpu->arch.tlb_flush_pending = true;
	for (i = 0; i < XKVM_NR_SEGS; i++)
		st->segs[xkvm_sregs_order[i]] = in[i];
	st->gdt = s->gdt;
	st->idt = s->idt;
	st->cr0 = s->cr0;
	st->cr2 = s->cr2;
	st->cr3 = s->cr3;
	st->cr4 = s->cr4;
	st->efer = s->efer;
	if (vcpu->arch.apic) {
		xkvm_lapic_set_cr8(vcpu, s->cr8);
		xkvm_lapic_set_base(vcpu, s->apic_base);
	} else {
		vcpu->arch.cr8 = s->cr8;
		vcpu->arch.apic_base = s->apic_base;
	}
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_ALL);
	return 0;
}

long xkvm_x86_regs_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			 void __user *argp)
{
	switch (ioctl) {
	case KVM_GET_REGS: {
		struct kvm_regs regs;

		xkvm_x86_get_regs(vcpu, &regs);
		return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
	}
	case KVM_SET_REGS: {
		struct kvm_regs regs;

		if (copy_from_user(&regs, argp, sizeof(regs)))
			return -EFAULT;
		xkvm_x86_set_regs(vcpu, &regs);
		return 0;
	}
	case KVM_GET_SREGS: {
		struct kvm_sregs sregs;

		xkvm_x86_get_sregs(vcpu, &sregs);
		return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
	}
	case KVM_SET_SREGS: {
		struct kvm_sregs sregs;

		if (copy_from_user(&sregs, argp, sizeof(sregs)))
			return -EFAULT;
		return xkvm_x86_set_sregs(vcpu, &sregs);
	}
	default:
		return -ENOIOCTLCMD;
	}
}
