// SPDX-License-Identifier: GPL-2.0
/*
 * debugreg.c - the guest's debug registers.  Every MOV to or from DR0-7
 * exits; the values live here and never reach the hardware, so the
 * host's own breakpoints are never disturbed (guest breakpoints do not
 * fire yet).  Also KVM_GET/SET_DEBUGREGS.  vCPU thread only.
 */
#include <linux/uaccess.h>
#include <asm/debugreg.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>

#define XKVM_DR6_INIT	0xffff0ff0ULL
#define XKVM_DR7_INIT	0x400ULL

void xkvm_x86_debugreg_reset(struct xkvm_vcpu *vcpu)
{
	memset(vcpu->arch.db, 0, sizeof(vcpu->arch.db));
	vcpu->arch.dr6 = XKVM_DR6_INIT;
	vcpu->arch.dr7 = XKVM_DR7_INIT;
}

/*
 * Decode MOV DRn, r64 (0F 23 /r) or MOV r64, DRn (0F 21 /r) at RIP.
 * Returns the instruction length, or 0 if the bytes are something else.
 */
static int xkvm_decode_mov_dr(const u8 *b, int n, bool *write, int *dr,
			      int *gpr)
{
	int i = 0;
	u8 rex = 0;

	while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 ||
			 b[i] == 0xf3 || b[i] == 0x2e || b[i] == 0x3e ||
			 b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 ||
			 b[i] == 0x65))
		i++;
	if (i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 3 > n || b[i] != 0x0f || (b[i + 1] != 0x21 && b[i + 1] != 0x23))
		return 0;
	*write = b[i + 1] == 0x23;
	*dr = (b[i + 2] >> 3) & 7;
	*gpr = (b[i + 2] & 7) | ((rex & 1) ? 8 : 0);
	return i + 3;
}

int xkvm_x86_exit_mov_dr(struct xkvm_vcpu *vcpu)
{
	u64 *regs = vcpu->arch.regs;
	int len, dr, gpr;
	bool write;
	u8 insn[15];
	u64 val;

	xkvm_x86_stat_inc(vcpu, exits_dr);
	len = xkvm_x86_fetch_insn(vcpu, insn, sizeof(insn));
	len = xkvm_decode_mov_dr(insn, len, &write, &dr, &gpr);
	if (!len)
		return xkvm_x86_exit_unhandled(vcpu, 0);
	if (xkvm_x86_cpl(vcpu)) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	if (dr == 4 || dr == 5) {
		if (vcpu->arch.state.cr4 & X86_CR4_DE) {
			xkvm_x86_queue_exception(vcpu, X86_TRAP_UD, false, 0);
			return 1;
		}
		dr += 2;	/* DR4/DR5 alias DR6/DR7 */
	}
	if (!write) {
		val = dr < 4 ? vcpu->arch.db[dr] :
		      dr == 6 ? vcpu->arch.dr6 : vcpu->arch.dr7;
		regs[gpr] = val;
	} else {
		val = regs[gpr];
		if (dr >= 6 && (val >> 32)) {
			xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
			return 1;
		}
		if (dr < 4)
			vcpu->arch.db[dr] = val;
		else if (dr == 6)
			vcpu->arch.dr6 = (val & 0xf00f) | XKVM_DR6_INIT;
		else
			vcpu->arch.dr7 = (val & 0xffff2bff) | XKVM_DR7_INIT;
	}
	vcpu->arch.rip += len;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_mov_dr);

long xkvm_x86_debugreg_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			     void __user *argp)
{
	struct kvm_debugregs d;

	switch (ioctl) {
	case KVM_GET_DEBUGREGS:
		memset(&d, 0, sizeof(d));
		memcpy(d.db, vcpu->arch.db, sizeof(d.db));
		d.dr6 = vcpu->arch.dr6;
		d.dr7 = vcpu->arch.dr7;
		return copy_to_user(argp, &d, sizeof(d)) ? -EFAULT : 0;
	case KVM_SET_DEBUGREGS:
		if (copy_from_user(&d, argp, sizeof(d)))
			return -EFAULT;
		if (d.flags || (d.dr6 >> 32) || (d.dr7 >> 32))
			return -EINVAL;
		memcpy(vcpu->arch.db, d.db, sizeof(d.db));
		vcpu->arch.dr6 = d.dr6;
		vcpu->arch.dr7 = d.dr7;
		return 0;
	default:
		return -ENOIOCTLCMD;
	}
}
