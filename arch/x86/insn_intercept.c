// SPDX-License-Identifier: GPL-2.0
/*
 * insn_intercept.c - what the instruction at RIP is, for exits whose
 * hardware does not say: AMD-V without NRIP save gives no next RIP, and
 * without decode assists no operands of a control-register access.  As
 * on real CPUs of that kind, the bytes are fetched from guest memory (at
 * CS:RIP, through the guest's page tables) and decoded: legacy prefixes,
 * a REX prefix in 64-bit mode, then the opcode the exit names.
 *
 * Also the instructions that fault in the virtual-8086 mode VT-x runs a
 * real-mode guest in without unrestricted guest: xkvm_x86_exit_vm86_gp().
 *
 * An instruction can be changed by another vCPU between the exit and the
 * fetch; the decoders then return false and the caller resumes the guest
 * without doing anything, so the instruction runs (and exits) again.
 * vCPU thread only.
 */
#include <asm/msr-index.h>
#include <asm/trapnr.h>

#include <xkvm_x86.h>

#define INSN_MAX	15

static bool insn_is_legacy_prefix(u8 b)
{
	switch (b) {
	case 0xf0: case 0xf2: case 0xf3:		/* LOCK, REPNE, REP */
	case 0x2e: case 0x36: case 0x3e: case 0x26:	/* segments */
	case 0x64: case 0x65:
	case 0x66: case 0x67:				/* sizes */
		return true;
	default:
		return false;
	}
}

struct insn_prefixes {
	int len;		/* bytes of prefixes */
	u8 rex;			/* 0 if none */
	bool lock;
};

/* Fetch the bytes at RIP and skip the prefixes; returns the bytes read. */
static int insn_fetch_prefixes(struct xkvm_vcpu *vcpu, u8 *buf,
			       struct insn_prefixes *p)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	int n = xkvm_x86_fetch_insn(vcpu, buf, INSN_MAX);
	bool long64 = (st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l;

	memset(p, 0, sizeof(*p));
	while (p->len < n && insn_is_legacy_prefix(buf[p->len])) {
		if (buf[p->len] == 0xf0)
			p->lock = true;
		p->len++;
	}
	if (long64 && p->len < n && (buf[p->len] & 0xf0) == 0x40)
		p->rex = buf[p->len++];
	return n;
}

/* RIP after an instruction of @len bytes at RIP (wrapping as the mode does). */
static u64 insn_next_rip(struct xkvm_vcpu *vcpu, int len)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	u64 next = vcpu->arch.rip + len;

	if (!((st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l))
		next = (u32)next;
	return next;
}

bool xkvm_x86_insn_next_rip(struct xkvm_vcpu *vcpu, const u8 *opcode, int len,
			    u64 *next_rip)
{
	struct insn_prefixes p;
	u8 buf[INSN_MAX];
	int n;

	n = insn_fetch_prefixes(vcpu, buf, &p);
	if (p.len + len > n || memcmp(buf + p.len, opcode, len))
		return false;
	*next_rip = insn_next_rip(vcpu, p.len + len);
	return true;
}
EXPORT_SYMBOL_GPL(xkvm_x86_insn_next_rip);

/*
 * MOV to/from CRn (0F 22 / 0F 20, register operand only; AMD's LOCK MOV
 * CR0 is CR8), CLTS (0F 06), LMSW r16 (0F 01 /6).  LMSW with a memory
 * operand is not decoded here.
 */
bool xkvm_x86_decode_cr_access(struct xkvm_vcpu *vcpu, int cr, bool write,
			       struct xkvm_x86_cr_access *a)
{
	struct insn_prefixes p;
	u8 buf[INSN_MAX], op, modrm;
	int n, i;

	n = insn_fetch_prefixes(vcpu, buf, &p);
	i = p.len;
	if (i + 2 > n || buf[i] != 0x0f)
		return false;
	op = buf[i + 1];
	memset(a, 0, sizeof(*a));
	a->cr = cr;
	if (op == 0x06 && cr == 0 && write) {
		a->kind = XKVM_CR_CLTS;
		a->next_rip = insn_next_rip(vcpu, i + 2);
		return true;
	}
	if (i + 3 > n)
		return false;
	modrm = buf[i + 2];
	if (op == 0x01 && ((modrm >> 3) & 7) == 6 && cr == 0 && write) {
		if ((modrm >> 6) != 3)
			return false;
		a->kind = XKVM_CR_LMSW;
		a->lmsw = vcpu->arch.regs[(modrm & 7) | ((p.rex & 1) << 3)];
	} else if ((op == 0x22 && write) || (op == 0x20 && !write)) {
		int n_cr = ((modrm >> 3) & 7) | ((p.rex & 4) << 1);

		if (p.lock && n_cr == 0)
			n_cr = 8;
		if (n_cr != cr)
			return false;
		a->kind = write ? XKVM_CR_MOV_TO : XKVM_CR_MOV_FROM;
		a->gpr = (modrm & 7) | ((p.rex & 1) << 3);
	} else {
		return false;
	}
	a->next_rip = insn_next_rip(vcpu, i + 3);
	return true;
}
EXPORT_SYMBOL_GPL(xkvm_x86_decode_cr_access);

/*
 * A #GP in the virtual-8086 mode that runs a real-mode guest (CPL 0 to
 * the guest, CPL 3 to the CPU): a privileged instruction, done as the
 * guest's CPU would, or an access past a segment's 64 KiB that the
 * guest's own (big real mode) limit allows, through the emulator (which
 * also serves LGDT/LIDT and queues #UD for what it does not know).
 */
int xkvm_x86_exit_vm86_gp(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_cr_access a;
	struct insn_prefixes p;
	u8 buf[INSN_MAX], op;
	int n, i;

	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	n = insn_fetch_prefixes(vcpu, buf, &p);
	i = p.len;
	if (i < n && buf[i] == 0xf4)
		return xkvm_x86_exit_hlt(vcpu, insn_next_rip(vcpu, i + 1));
	if (i + 2 > n || buf[i] != 0x0f)
		return xkvm_x86_emulate_mmio(vcpu, 0, false, NULL, 0);
	op = buf[i + 1];
	switch (op) {
	case 0x06:		/* CLTS */
	case 0x01:		/* LMSW r16 (LGDT/LIDT: the emulator) */
		if (op == 0x01 && (i + 3 > n || ((buf[i + 2] >> 3) & 7) != 6 ||
				   (buf[i + 2] >> 6) != 3))
			break;
		if (!xkvm_x86_decode_cr_access(vcpu, 0, true, &a))
			return 1;
		return xkvm_x86_exit_cr(vcpu, &a);
	case 0x20:		/* MOV from/to CRn */
	case 0x22:
		if (i + 3 > n)
			return 1;
		if (!xkvm_x86_decode_cr_access(vcpu, (buf[i + 2] >> 3) & 7,
					       op == 0x22, &a)) {
			xkvm_x86_queue_exception(vcpu, X86_TRAP_UD, false, 0);
			return 1;
		}
		return xkvm_x86_exit_cr(vcpu, &a);
	case 0x08:		/* INVD, WBINVD */
	case 0x09:
		return xkvm_x86_exit_nop(vcpu, insn_next_rip(vcpu, i + 2));
	case 0x30:
		return xkvm_x86_exit_wrmsr(vcpu, insn_next_rip(vcpu, i + 2));
	case 0x32:
		return xkvm_x86_exit_rdmsr(vcpu, insn_next_rip(vcpu, i + 2));
	}
	return xkvm_x86_emulate_mmio(vcpu, 0, false, NULL, 0);
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_vm86_gp);
