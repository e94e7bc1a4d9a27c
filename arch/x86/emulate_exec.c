// SPDX-License-Identifier: GPL-2.0
/*
 * emulate_exec.c - what each instruction class of the x86 emulator does,
 * on the working copy of the registers in struct xkvm_emu: MOV, MOVZX/
 * MOVSX, the ALU operations with their arithmetic flags, INC/DEC/NOT/NEG,
 * XCHG, XADD, CMPXCHG, BT/BTS/BTR/BTC, PUSH/POP with a memory operand and
 * the string instructions (MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS) with
 * their REP forms.
 *
 * A handler reads memory through emu_read() (which may stop it with
 * EMU_EXIT, to be run again once userspace answered), queues memory writes
 * with emu_write() and changes registers freely: emulate.c commits them
 * only when the handler returns EMU_OK.  A REP string instruction does one
 * element per execution and sets e->new_rip back to the instruction while
 * elements remain, as the CPU's restartable string instructions do.
 */
#include <linux/mm.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "emulate.h"

#define EFL_ARITH	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

/* Write @val of @size bytes to a register the way the CPU does. */
void emu_assign_reg(u64 *r, int size, bool high8, u64 val)
{
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
		*r = (u32)val;		/* zero-extends in 64-bit mode */
		break;
	default:
		*r = val;
	}
}

/* ---- operands ---- */

/* The register operand: ModRM.reg (REX.R), or rAX for the moffs forms. */
static void emu_reg_operand(const struct xkvm_emu *e, int *reg, bool *high8)
{
	const struct emu_insn *in = &e->in;

	*high8 = false;
	if (in->flags & OP_MOFFS) {
		*reg = XKVM_REG_RAX;
		return;
	}
	*reg = ((in->modrm >> 3) & 7) | ((in->rex & 4) << 1);
	/* AH, CH, DH, BH: byte registers 4-7 without any REX prefix */
	if (in->op_size == 1 && !in->rex && *reg >= 4) {
		*reg -= 4;
		*high8 = true;
	}
}

static u64 emu_get_reg(const struct xkvm_emu *e)
{
	bool high8;
	int reg;

	emu_reg_operand(e, &reg, &high8);
	return (high8 ? e->regs[reg] >> 8 : e->regs[reg]) &
	       emu_addr_mask(e->in.op_size);
}

static void emu_set_reg(struct xkvm_emu *e, int size, u64 val)
{
	bool high8;
	int reg;

	emu_reg_operand(e, &reg, &high8);
	emu_assign_reg(&e->regs[reg], size, high8, val);
}

static int emu_mem_read(struct xkvm_emu *e, int size, u64 *val)
{
	*val = 0;
	return emu_read(e, e->in.seg, e->ea, val, size);
}

static int emu_mem_write(struct xkvm_emu *e, int size, u64 val)
{
	return emu_write(e, e->in.seg, e->ea, &val, size);
}

/* ---- arithmetic flags ---- */

static u64 emu_msb(u64 v, int size)
{
	return (v >> (size * 8 - 1)) & 1;
}

/* SF, ZF and PF of a result. */
static u64 emu_szp(u64 res, int size)
{
	u64 f = 0;

	res &= emu_addr_mask(size);
	if (!res)
		f |= X86_EFLAGS_ZF;
	if (emu_msb(res, size))
		f |= X86_EFLAGS_SF;
	if (!(hweight8(res & 0xff) & 1))
		f |= X86_EFLAGS_PF;
	return f;
}

/* a + b + carry or a - b - borrow, with all six flags in *fl. */
static u64 emu_arith(u64 a, u64 b, bool sub, u64 carry, int size, u64 *fl)
{
	u64 r, cf, of;

	if (sub) {
		r = (a - b - carry) & emu_addr_mask(size);
		cf = emu_msb((~a & b) | (~(a ^ b) & r), size);
		of = emu_msb((a ^ b) & (a ^ r), size);
	} else {
		r = (a + b + carry) & emu_addr_mask(size);
		cf = emu_msb((a & b) | ((a | b) & ~r), size);
		of = emu_msb((a ^ r) & (b ^ r), size);
	}
	*fl = emu_szp(r, size) | ((a ^ b ^ r) & X86_EFLAGS_AF) |
	      (cf ? X86_EFLAGS_CF : 0) | (of ? X86_EFLAGS_OF : 0);
	return r;
}

/* One ALU operation on @size-byte operands; updates *rflags. */
static u64 emu_alu(int op, u64 a, u64 b, int size, u64 *rflags)
{
	u64 m = emu_addr_mask(size), cf = *rflags & X86_EFLAGS_CF, fl, r;

	a &= m;
	b &= m;
	switch (op) {
	case ALU_ADD:
	case ALU_ADC:
		r = emu_arith(a, b, false, op == ALU_ADC ? cf : 0, size, &fl);
		break;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		r = emu_arith(a, b, true, op == ALU_SBB ? cf : 0, size, &fl);
		break;
	case ALU_INC:
	case ALU_DEC:
		r = emu_arith(a, 1, op == ALU_DEC, 0, size, &fl);
		fl = (fl & ~X86_EFLAGS_CF) | cf;	/* CF unchanged */
		break;
	case ALU_NEG:
		r = emu_arith(0, a, true, 0, size, &fl);
		break;
	case ALU_NOT:
		return ~a & m;				/* no flags */
	case ALU_OR:
		r = a | b;
		fl = emu_szp(r, size);
		break;
	case ALU_XOR:
		r = a ^ b;
		fl = emu_szp(r, size);
		break;
	default:	/* AND, TEST: CF = OF = 0, AF cleared as the CPU does */
		r = a & b;
		fl = emu_szp(r, size);
	}
	*rflags = (*rflags & ~EFL_ARITH) | fl;
	return r;
}

/* ---- MOV, ALU, exchange ---- */

int emu_exec_mov(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 val;

	if (e->in.flags & OP_TO_REG) {
		r = emu_mem_read(e, size, &val);
		if (!r)
			emu_set_reg(e, size, val);
		return r;
	}
	val = (e->in.flags & OP_IMM) ? e->in.imm : emu_get_reg(e);
	return emu_mem_write(e, size, val);
}

/* MOVZX, MOVSX: an 8- or 16-bit load extended to the operand size. */
int emu_exec_movx(struct xkvm_emu *e)
{
	int src = (e->in.flags & OP_SRC8) ? 1 : 2, r;
	u64 val;

	r = emu_mem_read(e, src, &val);
	if (r)
		return r;
	if (e->in.flags & OP_SIGN)
		val = (u64)sign_extend64(val, src * 8 - 1);
	emu_set_reg(e, e->in.op_size, val);
	return EMU_OK;
}

/* ADD ... CMP, TEST: memory is the destination unless OP_TO_REG. */
int emu_exec_alu(struct xkvm_emu *e)
{
	int size = e->in.op_size, op = e->in.aux, r;
	u64 m, a, b, res;

	r = emu_mem_read(e, size, &m);
	if (r)
		return r;
	if (e->in.flags & OP_TO_REG) {
		a = emu_get_reg(e);
		b = m;
	} else {
		a = m;
		b = (e->in.flags & (OP_IMM | OP_IMM8)) ? e->in.imm :
							 emu_get_reg(e);
	}
	res = emu_alu(op, a, b, size, &e->rflags);
	if (op == ALU_CMP || op == ALU_TEST)
		return EMU_OK;
	if (e->in.flags & OP_TO_REG) {
		emu_set_reg(e, size, res);
		return EMU_OK;
	}
	return emu_mem_write(e, size, res);
}

/* INC, DEC, NOT, NEG of a memory operand. */
int emu_exec_unary(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 m;

	r = emu_mem_read(e, size, &m);
	if (r)
		return r;
	return emu_mem_write(e, size, emu_alu(e->in.aux, m, 0, size,
					     &e->rflags));
}

int emu_exec_xchg(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 m;

	r = emu_mem_read(e, size, &m);
	if (!r)
		r = emu_mem_write(e, size, emu_get_reg(e));
	if (!r)
		emu_set_reg(e, size, m);
	return r;
}

int emu_exec_xadd(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 m, sum;

	r = emu_mem_read(e, size, &m);
	if (r)
		return r;
	sum = emu_alu(ALU_ADD, m, emu_get_reg(e), size, &e->rflags);
	r = emu_mem_write(e, size, sum);
	if (!r)
		emu_set_reg(e, size, m);
	return r;
}

/*
 * CMPXCHG: compare rAX with the destination.  Equal: the source is
 * stored; else rAX takes the destination, which is written back unchanged
 * (the locked cycle always writes).
 */
int emu_exec_cmpxchg(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 m, acc = e->regs[XKVM_REG_RAX];

	r = emu_mem_read(e, size, &m);
	if (r)
		return r;
	emu_alu(ALU_CMP, acc, m, size, &e->rflags);
	if (e->rflags & X86_EFLAGS_ZF)
		return emu_mem_write(e, size, emu_get_reg(e));
	r = emu_mem_write(e, size, m);
	if (!r)
		emu_assign_reg(&e->regs[XKVM_REG_RAX], size, false, m);
	return r;
}

/*
 * BT, BTS, BTR, BTC.  A register bit offset is signed and may address
 * outside the operand: the operand moves by whole operand sizes.
 */
int emu_exec_bt(struct xkvm_emu *e)
{
	int size = e->in.op_size, bits = size * 8, r;
	u64 m, bit;
	s64 off;

	if (e->in.flags & OP_IMM8) {
		off = e->in.imm & (bits - 1);
	} else {
		off = sign_extend64(emu_get_reg(e), bits - 1);
		e->ea = (e->ea + (off >> ilog2(bits)) * size) &
			emu_addr_mask(e->in.addr_size);
		off &= bits - 1;
	}
	r = emu_mem_read(e, size, &m);
	if (r)
		return r;
	bit = BIT_ULL(off);
	e->rflags = (e->rflags & ~X86_EFLAGS_CF) |
		    ((m & bit) ? X86_EFLAGS_CF : 0);
	switch (e->in.aux) {
	case BIT_SET:
		m |= bit;
		break;
	case BIT_RESET:
		m &= ~bit;
		break;
	case BIT_COMPLEMENT:
		m ^= bit;
		break;
	default:
		return EMU_OK;
	}
	return emu_mem_write(e, size, m);
}

/* ---- stack ---- */

static int emu_stack_size(const struct xkvm_emu *e)
{
	if (e->long64)
		return 8;
	return e->vcpu->arch.state.segs[XKVM_SEG_SS].db ? 4 : 2;
}

/* PUSH r/m: the operand is read, then stored below rSP. */
int emu_exec_push(struct xkvm_emu *e)
{
	int size = e->in.op_size, ss = emu_stack_size(e), r;
	u64 val, sp;

	r = emu_mem_read(e, size, &val);
	if (r)
		return r;
	sp = (e->regs[XKVM_REG_RSP] - size) & emu_addr_mask(ss);
	r = emu_write(e, XKVM_SEG_SS, sp, &val, size);
	if (!r)
		emu_assign_reg(&e->regs[XKVM_REG_RSP], ss, false, sp);
	return r;
}

/* POP r/m: the address is computed with rSP already incremented. */
int emu_exec_pop(struct xkvm_emu *e)
{
	int size = e->in.op_size, ss = emu_stack_size(e), r;
	u64 val = 0, sp;

	sp = e->regs[XKVM_REG_RSP] & emu_addr_mask(ss);
	r = emu_read(e, XKVM_SEG_SS, sp, &val, size);
	if (r)
		return r;
	emu_assign_reg(&e->regs[XKVM_REG_RSP], ss, false, sp + size);
	emu_modrm_ea(e);
	return emu_mem_write(e, size, val);
}

/* ---- string instructions ---- */

static u64 emu_amask(const struct xkvm_emu *e)
{
	return emu_addr_mask(e->in.addr_size);
}

/* False for REP with a zero count: the instruction does nothing. */
static bool emu_rep_active(const struct xkvm_emu *e)
{
	return !e->in.rep || (e->regs[XKVM_REG_RCX] & emu_amask(e));
}

static int emu_src_seg(const struct xkvm_emu *e)
{
	return e->in.seg < 0 ? XKVM_SEG_DS : e->in.seg;
}

/* Move rSI or rDI by @n elements of @size in the direction of DF. */
static void emu_advance(struct xkvm_emu *e, int reg, int size, u32 n)
{
	u64 delta = (u64)size * n;

	if (e->rflags & X86_EFLAGS_DF)
		delta = -delta;
	emu_assign_reg(&e->regs[reg], e->in.addr_size, false,
		       e->regs[reg] + delta);
}

/* @n elements done: count them in rCX and decide whether to repeat. */
static void emu_rep_done(struct xkvm_emu *e, u32 n, bool stop)
{
	u64 *rcx = &e->regs[XKVM_REG_RCX];

	if (!e->in.rep)
		return;
	emu_assign_reg(rcx, e->in.addr_size, false, *rcx - n);
	if ((*rcx & emu_amask(e)) && !stop)
		e->new_rip = e->rip;
}

int emu_exec_movs(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 val = 0;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_read(e, emu_src_seg(e), e->regs[XKVM_REG_RSI] & emu_amask(e),
		     &val, size);
	if (!r)
		r = emu_write(e, XKVM_SEG_ES,
			      e->regs[XKVM_REG_RDI] & emu_amask(e), &val, size);
	if (r)
		return r;
	emu_advance(e, XKVM_REG_RSI, size, 1);
	emu_advance(e, XKVM_REG_RDI, size, 1);
	emu_rep_done(e, 1, false);
	return EMU_OK;
}

int emu_exec_stos(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_write(e, XKVM_SEG_ES, e->regs[XKVM_REG_RDI] & emu_amask(e),
		      &e->regs[XKVM_REG_RAX], size);
	if (r)
		return r;
	emu_advance(e, XKVM_REG_RDI, size, 1);
	emu_rep_done(e, 1, false);
	return EMU_OK;
}

int emu_exec_lods(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 val = 0;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_read(e, emu_src_seg(e), e->regs[XKVM_REG_RSI] & emu_amask(e),
		     &val, size);
	if (r)
		return r;
	emu_assign_reg(&e->regs[XKVM_REG_RAX], size, false, val);
	emu_advance(e, XKVM_REG_RSI, size, 1);
	emu_rep_done(e, 1, false);
	return EMU_OK;
}

/* REPE stops when ZF is clear, REPNE when it is set. */
static bool emu_rep_cond_stop(const struct xkvm_emu *e)
{
	bool zf = e->rflags & X86_EFLAGS_ZF;

	return e->in.rep == 0xf3 ? !zf : zf;
}

int emu_exec_cmps(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 a = 0, b = 0;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_read(e, emu_src_seg(e), e->regs[XKVM_REG_RSI] & emu_amask(e),
		     &a, size);
	if (!r)
		r = emu_read(e, XKVM_SEG_ES,
			     e->regs[XKVM_REG_RDI] & emu_amask(e), &b, size);
	if (r)
		return r;
	emu_alu(ALU_CMP, a, b, size, &e->rflags);
	emu_advance(e, XKVM_REG_RSI, size, 1);
	emu_advance(e, XKVM_REG_RDI, size, 1);
	emu_rep_done(e, 1, emu_rep_cond_stop(e));
	return EMU_OK;
}

int emu_exec_scas(struct xkvm_emu *e)
{
	int size = e->in.op_size, r;
	u64 m = 0;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_read(e, XKVM_SEG_ES, e->regs[XKVM_REG_RDI] & emu_amask(e),
		     &m, size);
	if (r)
		return r;
	emu_alu(ALU_CMP, e->regs[XKVM_REG_RAX], m, size, &e->rflags);
	emu_advance(e, XKVM_REG_RDI, size, 1);
	emu_rep_done(e, 1, emu_rep_cond_stop(e));
	return EMU_OK;
}

/* OUTS: one element per exit, as KVM does; the data may come from MMIO. */
int emu_exec_outs(struct xkvm_emu *e)
{
	int size = min_t(int, e->in.op_size, 4), r;
	u64 val = 0;

	if (!emu_rep_active(e))
		return EMU_OK;
	r = emu_read(e, emu_src_seg(e), e->regs[XKVM_REG_RSI] & emu_amask(e),
		     &val, size);
	if (r)
		return r;
	e->pio = true;
	e->pio_in = false;
	e->pio_size = size;
	e->port = e->regs[XKVM_REG_RDX];
	e->pio_count = 1;
	memcpy(e->pio_data, &val, size);
	emu_advance(e, XKVM_REG_RSI, size, 1);
	emu_rep_done(e, 1, false);
	return EMU_OK;
}

/*
 * INS: the elements one exit reads.  As KVM: up to the rep count, 1 KiB
 * of data, and the distance from rDI to the end of its page (to its
 * start with DF set) counted in elements.
 */
static u32 emu_ins_count(const struct xkvm_emu *e, int size)
{
	u64 rdi = e->regs[XKVM_REG_RDI];
	u32 count = 1, in_page, n;

	if (e->in.rep)
		count = min_t(u64, e->regs[XKVM_REG_RCX] & emu_amask(e), U32_MAX);
	in_page = (e->rflags & X86_EFLAGS_DF) ? offset_in_page(rdi) :
						PAGE_SIZE - offset_in_page(rdi);
	n = min3(in_page, 1024U / size, count);
	return n ? n : 1;
}

/* Lowest effective address the @n elements of INS store to. */
static bool emu_ins_range(const struct xkvm_emu *e, int size, u32 n, u64 *lo)
{
	u64 rdi = e->regs[XKVM_REG_RDI] & emu_amask(e);
	u64 span = (u64)size * n;

	*lo = rdi;
	if (e->rflags & X86_EFLAGS_DF)
		*lo = rdi - span + size;
	/* no wrap around the address size */
	return *lo <= rdi && *lo + span - 1 <= emu_amask(e);
}

/* INS: the destination is checked (#PF, #GP) before the exit. */
int emu_exec_ins(struct xkvm_emu *e)
{
	int size = min_t(int, e->in.op_size, 4), r;
	u32 n;
	u64 lo;

	if (!emu_rep_active(e))
		return EMU_OK;
	n = emu_ins_count(e, size);
	if (!emu_ins_range(e, size, n, &lo)) {
		n = 1;
		lo = e->regs[XKVM_REG_RDI] & emu_amask(e);
	}
	r = emu_check_write(e, XKVM_SEG_ES, lo, size * n);
	if (r)
		return r;
	e->pio = true;
	e->pio_in = true;
	e->pio_size = size;
	e->port = e->regs[XKVM_REG_RDX];
	e->pio_count = n;
	return EMU_OK;
}

/* INS completion: store @count elements from userspace at ES:rDI. */
int emu_ins_store(struct xkvm_emu *e, const u8 *data, u32 count)
{
	int size = min_t(int, e->in.op_size, 4), r = EMU_OK;
	u64 lo, rdi = e->regs[XKVM_REG_RDI];
	u32 i;

	if (!count || !emu_ins_range(e, size, count, &lo))
		return EMU_FAIL;
	if (!(e->rflags & X86_EFLAGS_DF)) {
		r = emu_store_block(e, XKVM_SEG_ES, lo, data, size * count);
	} else {
		r = emu_check_write(e, XKVM_SEG_ES, lo, size * count);
		for (i = 0; !r && i < count; i++)
			r = emu_store_block(e, XKVM_SEG_ES,
					    (rdi - (u64)i * size) & emu_amask(e),
					    data + i * size, size);
	}
	if (r)
		return r;
	emu_advance(e, XKVM_REG_RDI, size, count);
	emu_rep_done(e, count, false);
	return EMU_OK;
}

/*
 * INVLPG m (0F 01 /7 with a memory operand): #GP(0) outside CPL 0;
 * otherwise the shadow MMU drops the page's translation.  No memory is
 * accessed and no segment check is made; a non-canonical address in
 * 64-bit mode invalidates nothing.
 */
int emu_exec_invlpg(struct xkvm_emu *e)
{
	const struct kvm_segment *s = &e->vcpu->arch.state.segs[e->in.seg];
	u64 la;

	if ((e->in.modrm >> 6) == 3)
		return EMU_FAIL;	/* SWAPGS, RDTSCP: not served here */
	if (e->cpl)
		return emu_fault(e, X86_TRAP_GP, 0);
	if (e->long64) {
		la = e->ea;
		if (e->in.seg == XKVM_SEG_FS || e->in.seg == XKVM_SEG_GS)
			la += s->base;
	} else {
		la = (u32)(s->base + e->ea);
	}
	xkvm_shadow_invlpg(e->vcpu, la);
	return EMU_OK;
}

/* The register a ModRM with mod 3 names in its r/m field. */
static u64 *emu_rm_reg(struct xkvm_emu *e)
{
	return &e->regs[(e->in.modrm & 7) | ((e->in.rex & 1) << 3)];
}

/*
 * SMSW (0F 01 /4): CR0 into a register of the operand size, or its low
 * 16 bits into memory; #GP(0) outside CPL 0 with CR4.UMIP.
 */
int emu_exec_smsw(struct xkvm_emu *e)
{
	const struct xkvm_x86_state *st = &e->vcpu->arch.state;

	if ((st->cr4 & X86_CR4_UMIP) && e->cpl)
		return emu_fault(e, X86_TRAP_GP, 0);
	if ((e->in.modrm >> 6) == 3) {
		emu_assign_reg(emu_rm_reg(e), e->in.op_size, false, st->cr0);
		return EMU_OK;
	}
	return emu_write(e, e->in.seg, e->ea, &st->cr0, 2);
}

/*
 * LMSW (0F 01 /6): PE, MP, EM and TS from a 16-bit register or memory
 * operand (PE cannot be cleared); #GP(0) outside CPL 0.
 */
int emu_exec_lmsw(struct xkvm_emu *e)
{
	u16 src;
	int r;

	if (e->cpl)
		return emu_fault(e, X86_TRAP_GP, 0);
	if ((e->in.modrm >> 6) == 3) {
		src = *emu_rm_reg(e);
	} else {
		r = emu_read(e, e->in.seg, e->ea, &src, 2);
		if (r)
			return r;
	}
	if (!xkvm_x86_lmsw(e->vcpu, src))
		return emu_fault(e, X86_TRAP_GP, 0);
	return EMU_OK;
}

/*
 * LGDT, LIDT (0F 01 /2, /3): a 16-bit limit and the base; with a 16-bit
 * operand size only 24 bits of it, in 64-bit mode all 64.  They reach the
 * emulator from real mode run in virtual-8086 mode, where they fault.
 */
int emu_exec_lgdt_lidt(struct xkvm_emu *e)
{
	struct xkvm_x86_state *st = &e->vcpu->arch.state;
	struct kvm_dtable *dt = e->in.aux ? &st->idt : &st->gdt;
	int base_size = e->long64 ? 8 : 4, r;
	u16 limit;
	u64 base = 0;

	if ((e->in.modrm >> 6) == 3)
		return EMU_FAIL;	/* VMCALL, MONITOR, ...: not served here */
	if (e->cpl)
		return emu_fault(e, X86_TRAP_GP, 0);
	r = emu_read(e, e->in.seg, e->ea, &limit, 2);
	if (!r)
		r = emu_read(e, e->in.seg, e->ea + 2, &base, base_size);
	if (r)
		return r;
	if (!e->long64 && e->in.op_size == 2)
		base &= 0xffffff;
	dt->base = base;
	dt->limit = limit;
	xkvm_x86_state_dirty(e->vcpu, XKVM_STATE_SEGS);
	return EMU_OK;
}
