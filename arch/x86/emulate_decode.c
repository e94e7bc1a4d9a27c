// SPDX-License-Identifier: GPL-2.0
/*
 * emulate_decode.c - the instruction decoder of the x86 emulator: legacy
 * and REX prefixes, the one- and two-byte opcode tables (with group tables
 * selected by ModRM.reg), ModRM/SIB/displacement in 16-, 32- and 64-bit
 * addressing, immediates and memory offsets, and the effective address of
 * the memory operand.
 *
 * The tables list exactly the instructions that can touch memory the
 * emulator serves (MMIO, string port I/O): MOV forms, MOVZX/MOVSX, the ALU
 * operations, TEST, INC/DEC/NOT/NEG, XCHG, XADD, CMPXCHG, BT*, PUSH/POP
 * with a memory operand, the string instructions, INVLPG (whose exit
 * says nothing of its operand without decode assists), LGDT/LIDT and
 * LMSW (which fault in the virtual-8086 mode that runs real mode on VT-x
 * without unrestricted guest), SMSW and LMSW (whose CR0 intercept on
 * AMD-V says nothing of their operand).  Anything else is
 * EMU_FAIL.  Pure computation on struct xkvm_emu; no guest access.
 */
#include "emulate.h"

enum emu_group { GRP_ALU, GRP_POP, GRP_MOV, GRP_UNARY, GRP_INCDEC, GRP_FF,
		 GRP_BT, GRP_0F01, NR_GRP };

/* ALU forms: memory <- register, register <- memory; byte or full size */
#define ALU_M8(op)	{ OP_MODRM | OP_BYTE, op, emu_exec_alu }
#define ALU_M(op)	{ OP_MODRM, op, emu_exec_alu }
#define ALU_R8(op)	{ OP_MODRM | OP_BYTE | OP_TO_REG, op, emu_exec_alu }
#define ALU_R(op)	{ OP_MODRM | OP_TO_REG, op, emu_exec_alu }
#define GROUP(f, g)	{ OP_MODRM | OP_GROUP | (f), g, NULL }
#define STR8(f, fn)	{ OP_STRING | OP_BYTE | (f), 0, fn }
#define STR(f, fn)	{ OP_STRING | (f), 0, fn }

static const struct emu_opcode emu_onebyte[256] = {
	[0x00] = ALU_M8(ALU_ADD), [0x01] = ALU_M(ALU_ADD),
	[0x02] = ALU_R8(ALU_ADD), [0x03] = ALU_R(ALU_ADD),
	[0x08] = ALU_M8(ALU_OR), [0x09] = ALU_M(ALU_OR),
	[0x0a] = ALU_R8(ALU_OR), [0x0b] = ALU_R(ALU_OR),
	[0x10] = ALU_M8(ALU_ADC), [0x11] = ALU_M(ALU_ADC),
	[0x12] = ALU_R8(ALU_ADC), [0x13] = ALU_R(ALU_ADC),
	[0x18] = ALU_M8(ALU_SBB), [0x19] = ALU_M(ALU_SBB),
	[0x1a] = ALU_R8(ALU_SBB), [0x1b] = ALU_R(ALU_SBB),
	[0x20] = ALU_M8(ALU_AND), [0x21] = ALU_M(ALU_AND),
	[0x22] = ALU_R8(ALU_AND), [0x23] = ALU_R(ALU_AND),
	[0x28] = ALU_M8(ALU_SUB), [0x29] = ALU_M(ALU_SUB),
	[0x2a] = ALU_R8(ALU_SUB), [0x2b] = ALU_R(ALU_SUB),
	[0x30] = ALU_M8(ALU_XOR), [0x31] = ALU_M(ALU_XOR),
	[0x32] = ALU_R8(ALU_XOR), [0x33] = ALU_R(ALU_XOR),
	[0x38] = ALU_M8(ALU_CMP), [0x39] = ALU_M(ALU_CMP),
	[0x3a] = ALU_R8(ALU_CMP), [0x3b] = ALU_R(ALU_CMP),
	[0x6c] = STR8(0, emu_exec_ins), [0x6d] = STR(0, emu_exec_ins),
	[0x6e] = STR8(0, emu_exec_outs), [0x6f] = STR(0, emu_exec_outs),
	[0x80] = GROUP(OP_BYTE | OP_IMM, GRP_ALU),
	[0x81] = GROUP(OP_IMM, GRP_ALU),
	[0x82] = GROUP(OP_BYTE | OP_IMM | OP_NO64, GRP_ALU),
	[0x83] = GROUP(OP_IMM8, GRP_ALU),
	[0x84] = { OP_MODRM | OP_BYTE, ALU_TEST, emu_exec_alu },
	[0x85] = { OP_MODRM, ALU_TEST, emu_exec_alu },
	[0x86] = { OP_MODRM | OP_BYTE, 0, emu_exec_xchg },
	[0x87] = { OP_MODRM, 0, emu_exec_xchg },
	[0x88] = { OP_MODRM | OP_BYTE, 0, emu_exec_mov },
	[0x89] = { OP_MODRM, 0, emu_exec_mov },
	[0x8a] = { OP_MODRM | OP_BYTE | OP_TO_REG, 0, emu_exec_mov },
	[0x8b] = { OP_MODRM | OP_TO_REG, 0, emu_exec_mov },
	[0x8f] = GROUP(OP_STACK | OP_TWOMEM, GRP_POP),
	[0xa0] = { OP_MOFFS | OP_BYTE | OP_TO_REG, 0, emu_exec_mov },
	[0xa1] = { OP_MOFFS | OP_TO_REG, 0, emu_exec_mov },
	[0xa2] = { OP_MOFFS | OP_BYTE, 0, emu_exec_mov },
	[0xa3] = { OP_MOFFS, 0, emu_exec_mov },
	[0xa4] = STR8(OP_TWOMEM, emu_exec_movs),
	[0xa5] = STR(OP_TWOMEM, emu_exec_movs),
	[0xa6] = STR8(OP_TWOMEM, emu_exec_cmps),
	[0xa7] = STR(OP_TWOMEM, emu_exec_cmps),
	[0xaa] = STR8(0, emu_exec_stos),
	[0xab] = STR(0, emu_exec_stos),
	[0xac] = STR8(0, emu_exec_lods),
	[0xad] = STR(0, emu_exec_lods),
	[0xae] = STR8(0, emu_exec_scas),
	[0xaf] = STR(0, emu_exec_scas),
	[0xc6] = GROUP(OP_BYTE | OP_IMM, GRP_MOV),
	[0xc7] = GROUP(OP_IMM, GRP_MOV),
	[0xf6] = GROUP(OP_BYTE, GRP_UNARY),
	[0xf7] = GROUP(0, GRP_UNARY),
	[0xfe] = GROUP(OP_BYTE, GRP_INCDEC),
	[0xff] = GROUP(0, GRP_FF),
};

static const struct emu_opcode emu_twobyte[256] = {
	[0x01] = GROUP(0, GRP_0F01),
	[0xa3] = { OP_MODRM, BIT_TEST, emu_exec_bt },
	[0xab] = { OP_MODRM, BIT_SET, emu_exec_bt },
	[0xb0] = { OP_MODRM | OP_BYTE, 0, emu_exec_cmpxchg },
	[0xb1] = { OP_MODRM, 0, emu_exec_cmpxchg },
	[0xb3] = { OP_MODRM, BIT_RESET, emu_exec_bt },
	[0xb6] = { OP_MODRM | OP_TO_REG | OP_SRC8, 0, emu_exec_movx },
	[0xb7] = { OP_MODRM | OP_TO_REG | OP_SRC16, 0, emu_exec_movx },
	[0xba] = GROUP(OP_IMM8, GRP_BT),
	[0xbb] = { OP_MODRM, BIT_COMPLEMENT, emu_exec_bt },
	[0xbe] = { OP_MODRM | OP_TO_REG | OP_SRC8 | OP_SIGN, 0, emu_exec_movx },
	[0xbf] = { OP_MODRM | OP_TO_REG | OP_SRC16 | OP_SIGN, 0, emu_exec_movx },
	[0xc0] = { OP_MODRM | OP_BYTE, 0, emu_exec_xadd },
	[0xc1] = { OP_MODRM, 0, emu_exec_xadd },
};

/* Entries selected by ModRM.reg; flags add to the opcode's. */
static const struct emu_opcode emu_groups[NR_GRP][8] = {
	[GRP_ALU] = {
		{ 0, ALU_ADD, emu_exec_alu }, { 0, ALU_OR, emu_exec_alu },
		{ 0, ALU_ADC, emu_exec_alu }, { 0, ALU_SBB, emu_exec_alu },
		{ 0, ALU_AND, emu_exec_alu }, { 0, ALU_SUB, emu_exec_alu },
		{ 0, ALU_XOR, emu_exec_alu }, { 0, ALU_CMP, emu_exec_alu },
	},
	[GRP_POP] = { [0] = { 0, 0, emu_exec_pop } },
	[GRP_MOV] = { [0] = { 0, 0, emu_exec_mov } },
	[GRP_UNARY] = {
		[0] = { OP_IMM, ALU_TEST, emu_exec_alu },
		[2] = { 0, ALU_NOT, emu_exec_unary },
		[3] = { 0, ALU_NEG, emu_exec_unary },
	},
	[GRP_INCDEC] = {
		[0] = { 0, ALU_INC, emu_exec_unary },
		[1] = { 0, ALU_DEC, emu_exec_unary },
	},
	[GRP_FF] = {
		[0] = { 0, ALU_INC, emu_exec_unary },
		[1] = { 0, ALU_DEC, emu_exec_unary },
		[6] = { OP_STACK | OP_TWOMEM, 0, emu_exec_push },
	},
	/* INVLPG, for the shadow MMU on CPUs that do not decode it */
	[GRP_0F01] = {
		[2] = { 0, 0, emu_exec_lgdt_lidt },
		[3] = { 0, 1, emu_exec_lgdt_lidt },
		[4] = { OP_RM_REG, 0, emu_exec_smsw },
		[6] = { OP_RM_REG, 0, emu_exec_lmsw },
		[7] = { 0, 0, emu_exec_invlpg },
	},
	[GRP_BT] = {
		[4] = { 0, BIT_TEST, emu_exec_bt },
		[5] = { 0, BIT_SET, emu_exec_bt },
		[6] = { 0, BIT_RESET, emu_exec_bt },
		[7] = { 0, BIT_COMPLEMENT, emu_exec_bt },
	},
};

/* Registers of the eight 16-bit ModRM addressing forms. */
static const s8 emu_rm16_base[8] = {
	XKVM_REG_RBX, XKVM_REG_RBX, XKVM_REG_RBP, XKVM_REG_RBP,
	XKVM_REG_RSI, XKVM_REG_RDI, XKVM_REG_RBP, XKVM_REG_RBX,
};
static const s8 emu_rm16_index[8] = {
	XKVM_REG_RSI, XKVM_REG_RDI, XKVM_REG_RSI, XKVM_REG_RDI, -1, -1, -1, -1,
};

/* Next @n (<= 8) bytes, little endian. */
static int emu_fetch(struct emu_insn *in, int n, u64 *val)
{
	int i;

	if (in->pos + n > in->len || in->pos + n > XKVM_EMU_INSN_MAX)
		return EMU_FAIL;
	*val = 0;
	for (i = n - 1; i >= 0; i--)
		*val = (*val << 8) | in->bytes[in->pos + i];
	in->pos += n;
	return EMU_OK;
}

static int emu_fetch8(struct emu_insn *in, u8 *b)
{
	u64 v;

	if (emu_fetch(in, 1, &v))
		return EMU_FAIL;
	*b = v;
	return EMU_OK;
}

/* Prefixes up to the opcode byte; REX counts only right before it. */
static int emu_prefixes(struct xkvm_emu *e, u8 *op, bool *opsize,
			bool *adsize)
{
	struct emu_insn *in = &e->in;

	for (;;) {
		if (emu_fetch8(in, op))
			return EMU_FAIL;
		if (e->long64 && (*op & 0xf0) == 0x40) {
			in->rex = *op;
			continue;
		}
		switch (*op) {
		case 0x66:
			*opsize = true;
			break;
		case 0x67:
			*adsize = true;
			break;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			in->seg = (*op >> 3) & 3;	/* ES, CS, SS, DS */
			break;
		case 0x64:
			in->seg = XKVM_SEG_FS;
			break;
		case 0x65:
			in->seg = XKVM_SEG_GS;
			break;
		case 0xf2: case 0xf3:
			in->rep = *op;
			break;
		case 0xf0:
			break;
		default:
			return EMU_OK;
		}
		in->rex = 0;	/* a REX followed by a prefix is ignored */
	}
}

static void emu_sizes(struct xkvm_emu *e, bool opsize, bool adsize)
{
	struct emu_insn *in = &e->in;
	int def;

	if (e->long64) {
		in->op_size = (in->flags & OP_STACK) ? 8 : 4;
		if (opsize)
			in->op_size = 2;
		if (in->rex & 8)
			in->op_size = 8;
		in->addr_size = adsize ? 4 : 8;
	} else {
		def = e->vcpu->arch.state.segs[XKVM_SEG_CS].db ? 4 : 2;
		if (e->rflags & X86_EFLAGS_VM)
			def = 2;
		in->op_size = opsize ? 6 - def : def;
		in->addr_size = adsize ? 6 - def : def;
	}
	if (in->flags & OP_BYTE)
		in->op_size = 1;
}

static int emu_modrm16(struct emu_insn *in, int mod, int rm)
{
	u64 disp = 0;

	in->base = emu_rm16_base[rm];
	in->index = emu_rm16_index[rm];
	if (mod == 0 && rm == 6) {
		in->base = -1;
		if (emu_fetch(in, 2, &disp))
			return EMU_FAIL;
	} else if (mod == 1) {
		if (emu_fetch(in, 1, &disp))
			return EMU_FAIL;
		disp = (u64)(s64)(s8)disp;
	} else if (mod == 2) {
		if (emu_fetch(in, 2, &disp))
			return EMU_FAIL;
	}
	in->disp = disp;
	if (in->seg < 0 && (rm == 2 || rm == 3 || (rm == 6 && mod != 0)))
		in->seg = XKVM_SEG_SS;
	return EMU_OK;
}

static int emu_modrm32(struct xkvm_emu *e, int mod, int rm)
{
	struct emu_insn *in = &e->in;
	u64 disp = 0;
	u8 sib;

	in->base = rm | ((in->rex & 1) << 3);
	if (rm == 4) {
		if (emu_fetch8(in, &sib))
			return EMU_FAIL;
		in->scale = sib >> 6;
		in->index = ((sib >> 3) & 7) | ((in->rex & 2) << 2);
		if (in->index == XKVM_REG_RSP)
			in->index = -1;
		in->base = (sib & 7) | ((in->rex & 1) << 3);
		if ((sib & 7) == 5 && mod == 0) {
			in->base = -1;
			mod = 2;	/* disp32 follows */
		}
	} else if (rm == 5 && mod == 0) {
		in->base = -1;
		in->rip_rel = e->long64;
		mod = 2;
	}
	if (mod == 1) {
		if (emu_fetch(in, 1, &disp))
			return EMU_FAIL;
		disp = (u64)(s64)(s8)disp;
	} else if (mod == 2) {
		if (emu_fetch(in, 4, &disp))
			return EMU_FAIL;
		disp = (u64)(s64)(s32)disp;
	}
	in->disp = disp;
	if (in->seg < 0 &&
	    (in->base == XKVM_REG_RSP || in->base == XKVM_REG_RBP))
		in->seg = XKVM_SEG_SS;
	return EMU_OK;
}

/* SIB and displacement; the operand must be in memory (but OP_RM_REG). */
static int emu_decode_modrm(struct xkvm_emu *e)
{
	struct emu_insn *in = &e->in;
	int mod = in->modrm >> 6, rm = in->modrm & 7, r;

	if (mod == 3)	/* a register: emulated only for SMSW/LMSW */
		return (in->flags & OP_RM_REG) ? EMU_OK : EMU_FAIL;
	in->base = in->index = -1;
	if (in->addr_size == 2)
		r = emu_modrm16(in, mod, rm);
	else
		r = emu_modrm32(e, mod, rm);
	if (in->seg < 0)
		in->seg = XKVM_SEG_DS;
	return r;
}

/* Opcode, its table entry and group entry. */
static int emu_opcode(struct xkvm_emu *e, u8 op)
{
	struct emu_insn *in = &e->in;
	const struct emu_opcode *d;

	if (op == 0x0f) {
		in->twobyte = true;
		if (emu_fetch8(in, &op))
			return EMU_FAIL;
	}
	in->opcode = op;
	d = in->twobyte ? &emu_twobyte[op] : &emu_onebyte[op];
	in->flags = d->flags;
	in->aux = d->aux;
	in->exec = d->exec;
	if (in->flags & OP_MODRM) {
		if (emu_fetch8(in, &in->modrm))
			return EMU_FAIL;
	}
	if (in->flags & OP_GROUP) {
		d = &emu_groups[d->aux][(in->modrm >> 3) & 7];
		in->flags |= d->flags;
		in->aux = d->aux;
		in->exec = d->exec;
	}
	if (!in->exec || ((in->flags & OP_NO64) && e->long64))
		return EMU_FAIL;
	return EMU_OK;
}

static int emu_operands(struct xkvm_emu *e)
{
	struct emu_insn *in = &e->in;
	int n;

	if ((in->flags & OP_MODRM) && emu_decode_modrm(e))
		return EMU_FAIL;
	if (in->flags & OP_MOFFS) {
		in->base = in->index = -1;
		if (emu_fetch(in, in->addr_size, &in->disp))
			return EMU_FAIL;
		if (in->seg < 0)
			in->seg = XKVM_SEG_DS;
	}
	if (in->flags & (OP_IMM | OP_IMM8)) {
		n = (in->flags & OP_IMM8) ? 1 : min_t(int, in->op_size, 4);
		if (emu_fetch(in, n, &in->imm))
			return EMU_FAIL;
		in->imm = (u64)sign_extend64(in->imm, n * 8 - 1);
	}
	return EMU_OK;
}

/* Decode e->in.bytes; e->long64 and e->prot must be set. */
int emu_decode(struct xkvm_emu *e)
{
	struct emu_insn *in = &e->in;
	bool opsize = false, adsize = false;
	u8 op;

	in->pos = 0;
	in->rex = 0;
	in->rep = 0;
	in->seg = -1;
	in->twobyte = false;
	in->rip_rel = false;
	in->base = in->index = -1;
	in->scale = 0;
	in->disp = in->imm = 0;
	if (emu_prefixes(e, &op, &opsize, &adsize) || emu_opcode(e, op))
		return EMU_FAIL;
	emu_sizes(e, opsize, adsize);
	return emu_operands(e);
}

/* e->ea from the registers of this execution (after e->next_rip is set). */
void emu_modrm_ea(struct xkvm_emu *e)
{
	const struct emu_insn *in = &e->in;
	u64 ea = in->disp;

	if (in->base >= 0)
		ea += e->regs[in->base];
	if (in->index >= 0)
		ea += e->regs[in->index] << in->scale;
	if (in->rip_rel)
		ea += e->next_rip;
	e->ea = ea & emu_addr_mask(in->addr_size);
}
