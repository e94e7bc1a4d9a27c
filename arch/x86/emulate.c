// SPDX-License-Identifier: GPL-2.0
/*
 * emulate.c - the instruction emulator for accesses that must go to
 * userspace: a load or store to a guest-physical address with no memslot
 * (or a store to a read-only slot) becomes KVM_EXIT_MMIO.
 *
 * The decoder is table driven: prefixes, REX, one- and two-byte opcodes,
 * ModRM/SIB/displacement and immediates give the instruction length, the
 * register operand and the access size.  The address itself is the
 * faulting guest-physical address the vendor reported.  Supported now:
 * MOV (88, 89, 8A, 8B, C6, C7, A0-A3), MOVZX and MOVSX (0F B6/B7/BE/BF).
 * Anything else ends in KVM_EXIT_INTERNAL_ERROR with the instruction bytes.
 * Vendor-neutral; runs in the vCPU's thread.
 */
#include <asm/msr-index.h>

#include <xkvm_x86.h>

#define XKVM_MAX_INSN	15

/* Opcode flags */
#define OP_MODRM	BIT(0)
#define OP_BYTE		BIT(1)	/* 8-bit operation */
#define OP_LOAD		BIT(2)	/* register <- memory */
#define OP_STORE_REG	BIT(3)	/* memory <- register */
#define OP_STORE_IMM	BIT(4)	/* memory <- immediate */
#define OP_MOFFS	BIT(5)	/* memory offset operand, register is rAX */
#define OP_SRC8		BIT(6)	/* load of 1 byte, extended (MOVZX/MOVSX) */
#define OP_SRC16	BIT(7)	/* load of 2 bytes, extended */
#define OP_SIGN		BIT(8)	/* sign extension */

struct xkvm_opcode {
	u16 flags;
};

static const struct xkvm_opcode xkvm_onebyte[256] = {
	[0x88] = { OP_MODRM | OP_BYTE | OP_STORE_REG },
	[0x89] = { OP_MODRM | OP_STORE_REG },
	[0x8a] = { OP_MODRM | OP_BYTE | OP_LOAD },
	[0x8b] = { OP_MODRM | OP_LOAD },
	[0xa0] = { OP_MOFFS | OP_BYTE | OP_LOAD },
	[0xa1] = { OP_MOFFS | OP_LOAD },
	[0xa2] = { OP_MOFFS | OP_BYTE | OP_STORE_REG },
	[0xa3] = { OP_MOFFS | OP_STORE_REG },
	[0xc6] = { OP_MODRM | OP_BYTE | OP_STORE_IMM },
	[0xc7] = { OP_MODRM | OP_STORE_IMM },
};

static const struct xkvm_opcode xkvm_twobyte[256] = {
	[0xb6] = { OP_MODRM | OP_LOAD | OP_SRC8 },
	[0xb7] = { OP_MODRM | OP_LOAD | OP_SRC16 },
	[0xbe] = { OP_MODRM | OP_LOAD | OP_SRC8 | OP_SIGN },
	[0xbf] = { OP_MODRM | OP_LOAD | OP_SRC16 | OP_SIGN },
};

struct xkvm_insn {
	const u8 *bytes;
	int len;		/* bytes available */
	int pos;		/* decoded so far */
	bool mode64;
	int op_size, addr_size;
	u8 rex;
	u16 flags;
	u8 modrm;
	u64 imm;
};

static int xkvm_insn_byte(struct xkvm_insn *in, u8 *b)
{
	if (in->pos >= in->len || in->pos >= XKVM_MAX_INSN)
		return -EFAULT;
	*b = in->bytes[in->pos++];
	return 0;
}

static int xkvm_insn_skip(struct xkvm_insn *in, int n)
{
	if (in->pos + n > in->len || in->pos + n > XKVM_MAX_INSN)
		return -EFAULT;
	in->pos += n;
	return 0;
}

static u64 xkvm_insn_le(const u8 *p, int n)
{
	u64 v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static int xkvm_decode_prefixes(struct xkvm_insn *in, u8 *op)
{
	for (;;) {
		if (xkvm_insn_byte(in, op))
			return -EFAULT;
		switch (*op) {
		case 0x66:
			in->op_size = in->op_size == 2 ? 4 : 2;
			continue;
		case 0x67:
			in->addr_size = in->mode64 ? 4 :
					(in->addr_size == 2 ? 4 : 2);
			continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
		case 0x64: case 0x65: case 0xf0: case 0xf2: case 0xf3:
			continue;
		}
		if (in->mode64 && (*op & 0xf0) == 0x40) {
			in->rex = *op;
			if (xkvm_insn_byte(in, op))
				return -EFAULT;
		}
		return 0;
	}
}

/* Length of ModRM's SIB/displacement; the operand must be memory. */
static int xkvm_decode_modrm(struct xkvm_insn *in)
{
	u8 mod, rm, sib;

	if (xkvm_insn_byte(in, &in->modrm))
		return -EFAULT;
	mod = in->modrm >> 6;
	rm = in->modrm & 7;
	if (mod == 3)
		return -EINVAL;		/* register operand: not MMIO */
	if (in->addr_size == 2) {
		if (mod == 0 && rm == 6)
			return xkvm_insn_skip(in, 2);
		return xkvm_insn_skip(in, mod == 1 ? 1 : (mod == 2 ? 2 : 0));
	}
	if (rm == 4) {
		if (xkvm_insn_byte(in, &sib))
			return -EFAULT;
		if (mod == 0 && (sib & 7) == 5)
			return xkvm_insn_skip(in, 4);
	}
	if (mod == 0 && rm == 5)
		return xkvm_insn_skip(in, 4);
	return xkvm_insn_skip(in, mod == 1 ? 1 : (mod == 2 ? 4 : 0));
}

static int xkvm_decode(struct xkvm_insn *in)
{
	const struct xkvm_opcode *table = xkvm_onebyte;
	u8 op;
	int n;

	if (xkvm_decode_prefixes(in, &op))
		return -EFAULT;
	if (op == 0x0f) {
		table = xkvm_twobyte;
		if (xkvm_insn_byte(in, &op))
			return -EFAULT;
	}
	in->flags = table[op].flags;
	if (!in->flags)
		return -EINVAL;
	if (in->rex & 8)
		in->op_size = 8;
	if (in->flags & OP_BYTE)
		in->op_size = 1;

	if (in->flags & OP_MODRM) {
		if (xkvm_decode_modrm(in))
			return -EINVAL;
	} else if (in->flags & OP_MOFFS) {
		if (xkvm_insn_skip(in, in->addr_size))
			return -EFAULT;
	}
	if (in->flags & OP_STORE_IMM) {
		n = min(in->op_size, 4);
		if (in->pos + n > in->len)
			return -EFAULT;
		in->imm = xkvm_insn_le(in->bytes + in->pos, n);
		if (in->op_size == 8)
			in->imm = (u64)(s64)(s32)in->imm;
		in->pos += n;
	}
	return 0;
}

/* The register operand: ModRM.reg (with REX.R) or rAX for moffs forms. */
static void xkvm_insn_reg(const struct xkvm_insn *in, int *reg, bool *high8)
{
	*high8 = false;
	if (in->flags & OP_MOFFS) {
		*reg = XKVM_REG_RAX;
		return;
	}
	*reg = ((in->modrm >> 3) & 7) | ((in->rex & 4) ? 8 : 0);
	if (in->op_size == 1 && !in->rex && *reg >= 4) {
		*reg -= 4;
		*high8 = true;
	}
}

/* Write @val of @size bytes to a register the way the CPU does. */
void xkvm_x86_write_reg(struct xkvm_vcpu *vcpu, int reg, bool high8,
			int size, u64 val)
{
	u64 *r = &vcpu->arch.regs[reg];

	switch (size) {
	case 1:
		if (high8)
			*r = (*r & ~0xff00ULL) | ((val & 0xff) << 8);
		else
			*r = (*r & ~0xffULL) | (val & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffULL) | (val & 0xffff);
		break;
	case 4:
		*r = (u32)val;
		break;
	default:
		*r = val;
	}
}

static u64 xkvm_x86_extend(u64 val, int size, bool sign)
{
	if (size >= 8)
		return val;
	if (sign)
		return (u64)sign_extend64(val, size * 8 - 1);
	return val & GENMASK_ULL(size * 8 - 1, 0);
}

/* Finish an emulated instruction whose exit userspace has serviced. */
void xkvm_x86_emulate_complete(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	u64 val = 0;

	if (p->kind == XKVM_COMPLETE_MMIO_LOAD) {
		memcpy(&val, vcpu->run->mmio.data, p->size);
		val = xkvm_x86_extend(val, p->size, p->sign_extend);
		xkvm_x86_write_reg(vcpu, p->dest_reg, p->dest_high8,
				   p->dest_size, val);
		vcpu->arch.rip = p->next_rip;
	}
	p->kind = XKVM_COMPLETE_NONE;
}

/* INS/OUTS, with or without REP: not emulated yet. */
int xkvm_x86_emulate_string_io(struct xkvm_vcpu *vcpu,
			       const struct xkvm_x86_io *io)
{
	return xkvm_x86_exit_unhandled(vcpu, 0);
}

static int xkvm_emulation_failure(struct xkvm_vcpu *vcpu, const u8 *insn,
				  int len)
{
	struct kvm_run *run = vcpu->run;

	pr_warn_ratelimited("xkvm: vcpu %u: cannot emulate instruction at rip 0x%llx\n",
			    vcpu->vcpu_id, vcpu->arch.rip);
	memset(&run->emulation_failure, 0, sizeof(run->emulation_failure));
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	len = clamp(len, 0, XKVM_MAX_INSN);
	if (len) {
		run->emulation_failure.ndata = 3;
		run->emulation_failure.flags =
			KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		run->emulation_failure.insn_size = len;
		memcpy(run->emulation_failure.insn_bytes, insn, len);
	}
	return 0;
}

int xkvm_x86_emulate_mmio(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			  const u8 *insn, int insn_len)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	struct kvm_run *run = vcpu->run;
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	struct xkvm_insn in = { 0 };
	u8 buf[XKVM_MAX_INSN];
	int reg, size;
	bool high8;
	u64 val;

	if (insn_len <= 0) {
		insn_len = xkvm_x86_fetch_insn(vcpu, buf, sizeof(buf));
		insn = buf;
	}
	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	in.bytes = insn;
	in.len = insn_len;
	in.mode64 = (st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l;
	if (in.mode64) {
		in.op_size = 4;
		in.addr_size = 8;
	} else {
		in.op_size = st->segs[XKVM_SEG_CS].db ? 4 : 2;
		in.addr_size = in.op_size;
	}
	if (xkvm_decode(&in))
		return xkvm_emulation_failure(vcpu, insn, insn_len);

	xkvm_insn_reg(&in, &reg, &high8);
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));

	if (in.flags & OP_LOAD) {
		size = (in.flags & OP_SRC8) ? 1 :
		       (in.flags & OP_SRC16) ? 2 : in.op_size;
		run->mmio.len = size;
		run->mmio.is_write = 0;
		p->kind = XKVM_COMPLETE_MMIO_LOAD;
		p->size = size;
		p->dest_reg = reg;
		p->dest_high8 = high8;
		p->dest_size = in.op_size;
		p->sign_extend = in.flags & OP_SIGN;
		p->next_rip = vcpu->arch.rip + in.pos;
		return 0;
	}

	size = in.op_size;
	if (in.flags & OP_STORE_IMM)
		val = in.imm;
	else
		val = high8 ? vcpu->arch.regs[reg] >> 8 : vcpu->arch.regs[reg];
	run->mmio.len = size;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, &val, size);
	vcpu->arch.rip += in.pos;
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_emulate_mmio);
