// SPDX-License-Identifier: GPL-2.0
/*
 * realmode_int.c - an interrupt or exception delivered in real mode in
 * software, for a vendor whose hardware cannot: VT-x without unrestricted
 * guest runs real mode in virtual-8086 mode, where the CPU redirects
 * INT n only through a vector table at linear 0 with no limit
 * (arch/x86/vmx/vmx_rmode.c sends every other case here).
 *
 * As a real-mode CPU: the vector's 4-byte entry must lie within the IDTR
 * limit, else #GP, then #DF, then shutdown; FLAGS, CS and IP are pushed
 * on SS:SP (16-bit, wrapping), IF, TF and AC cleared, and CS:IP loaded
 * from the entry at IDTR.base.  Guest memory that is not RAM reads as
 * ones and ignores writes, as the bus would.
 *
 * vCPU thread, preemptible (guest memory is touched).
 */
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>

static void realmode_push(struct xkvm_vcpu *vcpu, u16 val)
{
	const struct kvm_segment *ss = &vcpu->arch.state.segs[XKVM_SEG_SS];
	u64 *rsp = &vcpu->arch.regs[XKVM_REG_RSP];
	u16 sp = (u16)*rsp - 2;

	*rsp = (*rsp & ~0xffffULL) | sp;
	xkvm_vcpu_write_guest(vcpu, (u32)(ss->base + sp), &val, sizeof(val));
}

/*
 * Deliver @vector, returning to @return_ip.  false: the guest shut down
 * (no entry of the chain was within the limit); the caller reports it.
 */
bool xkvm_x86_realmode_int(struct xkvm_vcpu *vcpu, u8 vector, u64 return_ip)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;
	struct kvm_segment *cs = &st->segs[XKVM_SEG_CS];
	u32 entry = ~0U;
	int tries;

	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	for (tries = 0; 4 * vector + 3 > st->idt.limit; tries++) {
		if (tries == 2)
			return false;
		vector = tries ? X86_TRAP_DF : X86_TRAP_GP;
	}
	xkvm_read_guest(vcpu->vm, (u32)(st->idt.base + 4 * vector), &entry,
			sizeof(entry));
	realmode_push(vcpu, (u16)vcpu->arch.rflags);
	realmode_push(vcpu, cs->selector);
	realmode_push(vcpu, (u16)return_ip);
	vcpu->arch.rflags &= ~(u64)(X86_EFLAGS_IF | X86_EFLAGS_TF |
				    X86_EFLAGS_AC);
	cs->selector = entry >> 16;
	cs->base = (u64)cs->selector << 4;
	vcpu->arch.rip = entry & 0xffff;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_SEGS);
	return true;
}
EXPORT_SYMBOL_GPL(xkvm_x86_realmode_int);
