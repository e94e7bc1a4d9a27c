/* SPDX-License-Identifier: GPL-2.0 */
/*
 * emulate.h - private to the x86 instruction emulator: the decoded
 * instruction, the emulation context, and the interfaces between its
 * parts:
 *   emulate.c         entry points, exits to userspace, completion
 *   emulate_decode.c  opcode tables, prefixes, ModRM/SIB, immediates
 *   emulate_mem.c     segmentation, page walk, reads/writes of guest memory
 *                     that turn into KVM_EXIT_MMIO pieces
 *   emulate_exec.c    what each instruction class does, flags
 *
 * An emulation runs the whole instruction on a private copy of the
 * registers.  A read that must go to userspace stops it (EMU_EXIT) with
 * nothing committed; when the data is back the instruction runs again from
 * the start and takes completed reads from the cache in
 * vcpu->arch.pending, in program order.  Memory writes are queued and
 * performed, with the registers, only when the instruction completes.
 */
#ifndef XKVM_EMULATE_H
#define XKVM_EMULATE_H

#include <xkvm_x86.h>

/* Result of every emulator step. */
enum emu_result {
	EMU_OK,
	EMU_EXIT,	/* a read needs userspace: pending->cur describes it */
	EMU_FAULT,	/* an exception for the guest: e->fault */
	EMU_FAIL,	/* cannot emulate: KVM_EXIT_INTERNAL_ERROR */
};

/* Opcode flags. */
#define OP_MODRM	BIT(0)	/* ModRM (SIB, displacement) follows */
#define OP_BYTE		BIT(1)	/* 8-bit operands */
#define OP_GROUP	BIT(2)	/* ModRM.reg selects an entry of group aux */
#define OP_IMM		BIT(3)	/* immediate of the operand size (<= 4 bytes) */
#define OP_IMM8		BIT(4)	/* 8-bit immediate, sign-extended */
#define OP_MOFFS	BIT(5)	/* memory offset of the address size; rAX */
#define OP_TO_REG	BIT(6)	/* register <- memory (else memory <- source) */
#define OP_STACK	BIT(7)	/* 64-bit default operand size in long mode */
#define OP_STRING	BIT(8)	/* string instruction: REP applies */
#define OP_TWOMEM	BIT(9)	/* two memory operands: walk both */
#define OP_SRC8		BIT(10)	/* MOVZX/MOVSX: 8-bit source */
#define OP_SRC16	BIT(11)	/* MOVZX/MOVSX: 16-bit source */
#define OP_SIGN		BIT(12)	/* MOVSX */
#define OP_NO64		BIT(13)	/* invalid in 64-bit mode */
#define OP_RM_REG	BIT(14)	/* ModRM may name a register (mod 3) */

struct xkvm_emu;
typedef int (*emu_exec_t)(struct xkvm_emu *e);

struct emu_opcode {
	u16 flags;
	u8 aux;			/* ALU/bit operation, or group number */
	emu_exec_t exec;
};

/* ALU operations: 0-7 in the order of opcodes 00-3F and group 1. */
enum emu_alu_op {
	ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
	ALU_TEST, ALU_INC, ALU_DEC, ALU_NOT, ALU_NEG,
};

/* Bit operations of BT/BTS/BTR/BTC. */
enum emu_bit_op { BIT_TEST, BIT_SET, BIT_RESET, BIT_COMPLEMENT };

/* The decoded instruction: depends on the bytes and the mode only. */
struct emu_insn {
	u8 bytes[XKVM_EMU_INSN_MAX];
	int len;		/* bytes available */
	int pos;		/* bytes decoded: the length once decoded */
	u8 opcode;
	bool twobyte;
	u16 flags;
	u8 aux;
	emu_exec_t exec;

	u8 op_size, addr_size;	/* bytes */
	u8 rex;
	u8 rep;			/* 0, 0xf2 or 0xf3 */
	u8 modrm;
	int seg;		/* segment of the memory operand */

	/* memory operand: (base + index << scale + disp) */
	s8 base, index;		/* register number, -1 if none */
	u8 scale;
	bool rip_rel;
	u64 disp;
	u64 imm;
};

struct emu_write {
	u64 gpa;
	u8 len;
	u8 data[8];
};

struct xkvm_emu {
	struct xkvm_vcpu *vcpu;
	struct xkvm_x86_pending_io *p;	/* read cache, instruction bytes */
	struct emu_insn in;

	/* mode */
	bool prot;		/* CR0.PE and not virtual-8086 */
	bool long64;		/* 64-bit mode */
	int cpl;

	/* working copy of the state, committed on completion */
	u64 regs[XKVM_NR_REGS];
	u64 rip, rflags;	/* rip: the instruction's */
	u64 next_rip;		/* after the instruction */
	u64 new_rip;		/* committed: next_rip, or rip to repeat */

	u64 ea;			/* effective address of the ModRM/moffs operand */
	int reads;		/* reads done by this execution */
	int nr_writes;
	struct emu_write writes[XKVM_EMU_MAX_WRITES];

	/* port I/O requested by INS/OUTS */
	bool pio;
	bool pio_in;
	u8 pio_size;
	u16 port;
	u32 pio_count;
	u8 pio_data[8];

	struct xkvm_x86_exception fault;
	u64 fault_cr2;
	bool fault_pf;
};

/* emulate_decode.c */
int emu_decode(struct xkvm_emu *e);
void emu_modrm_ea(struct xkvm_emu *e);

/* emulate_mem.c */
u64 emu_addr_mask(int size);
int emu_read(struct xkvm_emu *e, int seg, u64 ea, void *val, int size);
int emu_write(struct xkvm_emu *e, int seg, u64 ea, const void *val,
	      int size);
int emu_store_block(struct xkvm_emu *e, int seg, u64 ea, const void *val,
		    int size);
int emu_check_write(struct xkvm_emu *e, int seg, u64 ea, int size);
int emu_fault(struct xkvm_emu *e, u8 vector, u32 error_code);

/* emulate_exec.c: the exec handlers of the opcode tables */
int emu_exec_mov(struct xkvm_emu *e);
int emu_exec_movx(struct xkvm_emu *e);
int emu_exec_alu(struct xkvm_emu *e);
int emu_exec_unary(struct xkvm_emu *e);
int emu_exec_xchg(struct xkvm_emu *e);
int emu_exec_xadd(struct xkvm_emu *e);
int emu_exec_cmpxchg(struct xkvm_emu *e);
int emu_exec_bt(struct xkvm_emu *e);
int emu_exec_invlpg(struct xkvm_emu *e);
int emu_exec_lgdt_lidt(struct xkvm_emu *e);
int emu_exec_smsw(struct xkvm_emu *e);
int emu_exec_lmsw(struct xkvm_emu *e);
int emu_exec_push(struct xkvm_emu *e);
int emu_exec_pop(struct xkvm_emu *e);
int emu_exec_movs(struct xkvm_emu *e);
int emu_exec_stos(struct xkvm_emu *e);
int emu_exec_lods(struct xkvm_emu *e);
int emu_exec_cmps(struct xkvm_emu *e);
int emu_exec_scas(struct xkvm_emu *e);
int emu_exec_ins(struct xkvm_emu *e);
int emu_exec_outs(struct xkvm_emu *e);
int emu_ins_store(struct xkvm_emu *e, const u8 *data, u32 count);
void emu_assign_reg(u64 *r, int size, bool high8, u64 val);

#endif /* XKVM_EMULATE_H */
