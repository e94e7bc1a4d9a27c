// SPDX-License-Identifier: GPL-2.0
/*
 * emulator_test.c - the instruction emulator, table driven: each case is
 * one instruction (assembled here, run from guest RAM and followed by HLT)
 * with its initial registers and memory, the exits it must make in order
 * (KVM_EXIT_MMIO address/length/direction/data, KVM_EXIT_IO port/size/
 * count/data; read data is supplied) and the registers, flags and memory
 * it must leave, or the guest exception it must raise.  Cases cover MOV
 * (register, immediate, moffs, RIP-relative), MOVZX/MOVSX, the ALU
 * operations with their flags, INC/DEC/NOT/NEG, XCHG, XADD, CMPXCHG,
 * BT/BTS/BTR/BTC, PUSH/POP of memory, MOVS/STOS/LODS/CMPS/SCAS with and
 * without REP, accesses crossing pages, addresses reached through the
 * guest's page tables, #PF/#GP raised by the second memory operand, an
 * instruction the emulator does not know, writes to a read-only slot, and
 * INS/OUTS with REP; in 64-bit mode and some in 32-bit (flat, with paging)
 * and 16-bit real mode.
 * The exit sequence is KVM's own, so every case runs unchanged against
 * the stock KVM (reference mode).
 */
#include "kselftest_harness.h"
#include "xkvm_util.h"

#define MMIO		0xc0000000ULL	/* no memslot */
#define RAM		0x80000000ULL	/* slot 1, 64 KiB */
#define CODE		RAM
#define DATA		(RAM + 0x2000)
#define STK		(RAM + 0xf000)
#define ALIAS		0x40000000ULL	/* -> MMIO + 0x5000 */
#define ALIAS2		0x40001000ULL	/* -> MMIO + 0x9000 */
#define SPLIT		0x40002000ULL	/* -> DATA page, then MMIO + 0x6000 */
#define NOPAGE		0x50000000ULL	/* not mapped */
#define ROM		0x90000000ULL	/* slot 2, read-only, one page */
#define ROM_DATA	0x0807060504030201ULL	/* its first 8 bytes */
#define PD32		(RAM + 0x8000)	/* 32-bit paging: page directory */
#define PT32		(RAM + 0x9000)	/* ... and the table of ALIAS.. */

#define CODE16		0x1000ULL	/* real mode: slot 0 is 0-64 KiB */
#define DATA16		0x2000ULL
#define MMIO16		0xa0000ULL	/* DS = ES = 0xa000 */
#define SEG16		0xa000

#define PORT		0x1234

#define CF	0x001ULL
#define PF	0x004ULL
#define AF	0x010ULL
#define ZF	0x040ULL
#define SF	0x080ULL
#define DF	0x400ULL
#define OF	0x800ULL
#define ARITH	(CF | PF | AF | ZF | SF | OF)

enum { M64, M32, M32PG, M16 };
enum {
	R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI,
	R_8, R_9, R_10, R_11, R_12, R_13, R_14, R_15, NR_R
};
#define R(r)	(1U << (r))

enum { X_END, X_MR, X_MW, X_IN, X_OUT, X_FAIL };

struct emu_exit {
	int kind;
	uint64_t addr;		/* guest-physical address or port */
	uint32_t len;		/* MMIO length or I/O element size */
	uint32_t count;		/* I/O elements */
	uint64_t data;		/* supplied (reads, IN) or expected */
};

#define MR(a, l, d)		{ X_MR, a, l, 0, d }
#define MW(a, l, d)		{ X_MW, a, l, 0, d }
#define PIN(s, n, d)		{ X_IN, PORT, s, n, d }
#define POUT(s, n, d)		{ X_OUT, PORT, s, n, d }
#define FAIL			{ X_FAIL, 0, 0, 0, 0 }

struct emu_case {
	const char *name;
	int mode;
	const uint8_t *code, *code_end;
	uint64_t regs[NR_R];	/* rSP 0: the mode's default stack */
	uint64_t rflags;	/* besides bit 1 */
	uint64_t fs_base;	/* 64-bit mode */
	uint64_t ds_base;	/* 32-bit mode: DS base */
	bool es_ram;		/* real mode: ES = 0 instead of SEG16 */
	uint64_t ram_off;	/* the 16 bytes at DATA + ram_off ... */
	uint64_t ram[2];	/* ... before */
	struct emu_exit exits[8];
	uint32_t chg;		/* registers that change, to out[] */
	uint64_t out[NR_R];
	uint64_t fmask, fval;	/* flags the instruction sets */
	uint64_t fign;		/* flags it leaves undefined */
	bool ram_chk;
	uint64_t ram_out[2];
	bool exc;		/* a guest exception instead of HLT */
	int vec;
	uint64_t err, cr2;
};

FIXTURE(emu) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
};

FIXTURE_VARIANT(emu) {
	const struct emu_case *c;
};

#define EMU_CODE(name, bits, text)					\
	extern const uint8_t name[], name##_end[];			\
	__asm__(".pushsection .rodata\n.code" #bits "\n" #name ":\n\t"	\
		text "\n" #name "_end:\n.code64\n.popsection\n")

#define EMU_CASE(cname, bits, text, ...)				\
	EMU_CODE(code_##cname, bits, text);				\
	static const struct emu_case case_##cname = {			\
		.name = #cname, .code = code_##cname,			\
		.code_end = code_##cname##_end, __VA_ARGS__ };		\
	FIXTURE_VARIANT_ADD(emu, cname) { .c = &case_##cname }

/* ---- MOV ---- */
EMU_CASE(mov_store_r32, 64, "mov %ecx, 0x10(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x11223344 },
	 .exits = { MW(MMIO + 0x10, 4, 0x11223344) });
EMU_CASE(mov_store_ah, 64, "mov %ah, 1(%rbx)",
	 .regs = { [R_AX] = 0xbeef, [R_BX] = MMIO },
	 .exits = { MW(MMIO + 1, 1, 0xbe) });
EMU_CASE(mov_store_r16_sib, 64, "mov %dx, (%rbx,%rsi,2)",
	 .regs = { [R_BX] = MMIO, [R_SI] = 8, [R_DX] = 0x5566 },
	 .exits = { MW(MMIO + 0x10, 2, 0x5566) });
EMU_CASE(mov_store_r12, 64, "mov %r12, 0x20(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_12] = 0x0102030405060708ULL },
	 .exits = { MW(MMIO + 0x20, 8, 0x0102030405060708ULL) });
EMU_CASE(mov_store_imm8, 64, "movb $0x7f, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { MW(MMIO, 1, 0x7f) });
EMU_CASE(mov_store_imm16, 64, "movw $0x1234, 2(%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { MW(MMIO + 2, 2, 0x1234) });
EMU_CASE(mov_store_imm64, 64, "movq $-2, 8(%rbx)",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MW(MMIO + 8, 8, 0xfffffffffffffffeULL) });
EMU_CASE(mov_load_r32, 64, "mov 4(%rbx), %eax",
	 .regs = { [R_AX] = ~0ULL, [R_BX] = MMIO },
	 .exits = { MR(MMIO + 4, 4, 0x89abcdef) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x89abcdef });
EMU_CASE(mov_load_r8, 64, "mov (%rbx), %al",
	 .regs = { [R_AX] = 0x1111111111111111ULL, [R_BX] = MMIO },
	 .exits = { MR(MMIO, 1, 0x22) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x1111111111111122ULL });
EMU_CASE(mov_load_bh, 64, "mov 2(%rbx), %bh",
	 .regs = { [R_BX] = MMIO }, .exits = { MR(MMIO + 2, 1, 0x5a) },
	 .chg = R(R_BX), .out = { [R_BX] = MMIO | 0x5a00 });
EMU_CASE(mov_load_r16, 64, "mov (%rbx), %si",
	 .regs = { [R_BX] = MMIO, [R_SI] = 0xaaaaaaaaaaaaaaaaULL },
	 .exits = { MR(MMIO, 2, 0x1234) },
	 .chg = R(R_SI), .out = { [R_SI] = 0xaaaaaaaaaaaa1234ULL });
EMU_CASE(mov_load_r9, 64, "mov 0x18(%rbx), %r9",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO + 0x18, 8, 0x8877665544332211ULL) },
	 .chg = R(R_9), .out = { [R_9] = 0x8877665544332211ULL });
/* mov 0xc0000040(%rip), %eax at CODE: disp = MMIO + 0x40 - (CODE + 6) */
EMU_CASE(mov_load_rip_rel, 64, ".byte 0x8b, 0x05\n\t.long 0x4000003a",
	 .exits = { MR(MMIO + 0x40, 4, 0x31323334) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x31323334 });
/* movl $0x55, 0xc0000040(%rip): the displacement counts the immediate */
EMU_CASE(mov_store_rip_rel_imm, 64,
	 ".byte 0xc7, 0x05\n\t.long 0x40000036\n\t.long 0x55",
	 .exits = { MW(MMIO + 0x40, 4, 0x55) });
EMU_CASE(mov_moffs_load, 64, "movabs 0xc0000050, %eax",
	 .exits = { MR(MMIO + 0x50, 4, 0xa1a2a3a4) },
	 .chg = R(R_AX), .out = { [R_AX] = 0xa1a2a3a4 });
EMU_CASE(mov_moffs_store8, 64, "movabs %al, 0xc0000051",
	 .regs = { [R_AX] = 0x99 }, .exits = { MW(MMIO + 0x51, 1, 0x99) });
EMU_CASE(mov_moffs_store64, 64, "movabs %rax, 0xc0000058",
	 .regs = { [R_AX] = 0x0123456789abcdefULL },
	 .exits = { MW(MMIO + 0x58, 8, 0x0123456789abcdefULL) });
EMU_CASE(movzx_byte, 64, "movzbl (%rbx), %ecx",
	 .regs = { [R_BX] = MMIO, [R_CX] = ~0ULL },
	 .exits = { MR(MMIO, 1, 0x80) },
	 .chg = R(R_CX), .out = { [R_CX] = 0x80 });
EMU_CASE(movzx_word, 64, "movzwq (%rbx), %rcx",
	 .regs = { [R_BX] = MMIO, [R_CX] = ~0ULL },
	 .exits = { MR(MMIO, 2, 0xfffe) },
	 .chg = R(R_CX), .out = { [R_CX] = 0xfffe });
EMU_CASE(movsx_byte, 64, "movsbl (%rbx), %ecx",
	 .regs = { [R_BX] = MMIO, [R_CX] = ~0ULL },
	 .exits = { MR(MMIO, 1, 0x80) },
	 .chg = R(R_CX), .out = { [R_CX] = 0xffffff80 });
EMU_CASE(movsx_word, 64, "movswq (%rbx), %rcx",
	 .regs = { [R_BX] = MMIO }, .exits = { MR(MMIO, 2, 0x8001) },
	 .chg = R(R_CX), .out = { [R_CX] = 0xffffffffffff8001ULL });
EMU_CASE(movsx_byte_to_word, 64, "movsbw (%rbx), %cx",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x1111111111111111ULL },
	 .exits = { MR(MMIO, 1, 0xf0) },
	 .chg = R(R_CX), .out = { [R_CX] = 0x111111111111fff0ULL });

/* ---- ALU: read exit, write exit, flags ---- */
EMU_CASE(add_mem_r32, 64, "add %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 1 },
	 .exits = { MR(MMIO, 4, 0xffffffff), MW(MMIO, 4, 0) },
	 .fmask = ARITH, .fval = CF | PF | AF | ZF);
EMU_CASE(add_r64_mem, 64, "add (%rbx), %rax",
	 .regs = { [R_AX] = 0x7fffffffffffffffULL, [R_BX] = MMIO },
	 .exits = { MR(MMIO, 8, 1) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x8000000000000000ULL },
	 .fmask = ARITH, .fval = PF | AF | SF | OF);
EMU_CASE(or_mem_imm8, 64, "orl $0x10, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .rflags = CF | OF,
	 .exits = { MR(MMIO, 4, 1), MW(MMIO, 4, 0x11) },
	 .fmask = ARITH, .fval = PF);
EMU_CASE(adc_mem_r8, 64, "adc %cl, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x0f }, .rflags = CF,
	 .exits = { MR(MMIO, 1, 0xf0), MW(MMIO, 1, 0) },
	 .fmask = ARITH, .fval = CF | PF | AF | ZF);
EMU_CASE(sbb_r16_mem, 64, "sbb (%rbx), %dx",
	 .regs = { [R_BX] = MMIO, [R_DX] = 5 }, .rflags = CF,
	 .exits = { MR(MMIO, 2, 5) },
	 .chg = R(R_DX), .out = { [R_DX] = 0xffff },
	 .fmask = ARITH, .fval = CF | PF | AF | SF);
EMU_CASE(and_mem_imm32, 64, "andl $0xff00ff00, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .rflags = CF | OF,
	 .exits = { MR(MMIO, 4, 0x12345678), MW(MMIO, 4, 0x12005600) },
	 .fmask = ARITH, .fval = PF);
EMU_CASE(sub_mem_r64, 64, "sub %rax, (%rbx)",
	 .regs = { [R_AX] = 1, [R_BX] = MMIO },
	 .exits = { MR(MMIO, 8, 0), MW(MMIO, 8, ~0ULL) },
	 .fmask = ARITH, .fval = CF | PF | AF | SF);
EMU_CASE(xor_mem_r32, 64, "xor %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0xffffffff },
	 .exits = { MR(MMIO, 4, 0xffff), MW(MMIO, 4, 0xffff0000) },
	 .fmask = ARITH, .fval = PF | SF);
EMU_CASE(cmp_mem_imm8, 64, "cmpb $0x10, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { MR(MMIO, 1, 0x10) },
	 .fmask = ARITH, .fval = PF | ZF);
EMU_CASE(cmp_r32_mem, 64, "cmp (%rbx), %eax",
	 .regs = { [R_AX] = 1, [R_BX] = MMIO }, .exits = { MR(MMIO, 4, 2) },
	 .fmask = ARITH, .fval = CF | PF | AF | SF);
EMU_CASE(test_mem_r32, 64, "test %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x80000000 },
	 .exits = { MR(MMIO, 4, 0x80000001) },
	 .fmask = ARITH, .fval = PF | SF);
EMU_CASE(test_mem_imm8, 64, "testb $1, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { MR(MMIO, 1, 2) },
	 .fmask = ARITH, .fval = PF | ZF);
EMU_CASE(inc_mem32, 64, "incl (%rbx)",
	 .regs = { [R_BX] = MMIO }, .rflags = CF,
	 .exits = { MR(MMIO, 4, 0x7fffffff), MW(MMIO, 4, 0x80000000) },
	 .fmask = ARITH, .fval = CF | PF | AF | SF | OF);
EMU_CASE(dec_mem8, 64, "decb (%rbx)",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO, 1, 0), MW(MMIO, 1, 0xff) },
	 .fmask = ARITH, .fval = PF | AF | SF);
EMU_CASE(neg_mem32, 64, "negl (%rbx)",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO, 4, 5), MW(MMIO, 4, 0xfffffffb) },
	 .fmask = ARITH, .fval = CF | AF | SF);
EMU_CASE(not_mem8, 64, "notb (%rbx)",
	 .regs = { [R_BX] = MMIO }, .rflags = ARITH,
	 .exits = { MR(MMIO, 1, 0x0f), MW(MMIO, 1, 0xf0) });
EMU_CASE(xadd_mem32, 64, "xadd %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 3 },
	 .exits = { MR(MMIO, 4, 5), MW(MMIO, 4, 8) },
	 .chg = R(R_CX), .out = { [R_CX] = 5 }, .fmask = ARITH, .fval = 0);

/* ---- exchange ---- */
EMU_CASE(xchg_mem32, 64, "xchg %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0xaabbccdd },
	 .exits = { MR(MMIO, 4, 0x11223344), MW(MMIO, 4, 0xaabbccdd) },
	 .chg = R(R_CX), .out = { [R_CX] = 0x11223344 });
EMU_CASE(xchg_mem_dh, 64, "xchg %dh, 3(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_DX] = 0x1234 },
	 .exits = { MR(MMIO + 3, 1, 0x56), MW(MMIO + 3, 1, 0x12) },
	 .chg = R(R_DX), .out = { [R_DX] = 0x5634 });
EMU_CASE(cmpxchg_equal, 64, "cmpxchg %ecx, (%rbx)",
	 .regs = { [R_AX] = 0xffffffff00000005ULL, [R_BX] = MMIO, [R_CX] = 9 },
	 .exits = { MR(MMIO, 4, 5), MW(MMIO, 4, 9) },
	 .fmask = ARITH, .fval = PF | ZF);
EMU_CASE(cmpxchg_differ, 64, "cmpxchg %ecx, (%rbx)",
	 .regs = { [R_AX] = 0xffffffff00000005ULL, [R_BX] = MMIO, [R_CX] = 9 },
	 .exits = { MR(MMIO, 4, 7), MW(MMIO, 4, 7) },
	 .chg = R(R_AX), .out = { [R_AX] = 7 },
	 .fmask = ARITH, .fval = CF | AF | SF);
EMU_CASE(lock_cmpxchg64, 64, "lock cmpxchg %rcx, (%rbx)",
	 .regs = { [R_AX] = 0x1122334455667788ULL, [R_BX] = MMIO,
		   [R_CX] = 0x99 },
	 .exits = { MR(MMIO, 8, 0x1122334455667788ULL), MW(MMIO, 8, 0x99) },
	 .fmask = ARITH, .fval = PF | ZF);

/* ---- bit tests: CF defined, OF SF AF PF ZF not ---- */
#define BT_FLAGS	.fmask = CF, .fign = OF | SF | AF | PF | ZF
EMU_CASE(bt_imm, 64, "btl $3, (%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { MR(MMIO, 4, 8) },
	 BT_FLAGS, .fval = CF);
EMU_CASE(bts_reg_far, 64, "bts %ecx, (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 35 }, .rflags = CF,
	 .exits = { MR(MMIO + 4, 4, 0), MW(MMIO + 4, 4, 8) },
	 BT_FLAGS, .fval = 0);
EMU_CASE(btr_reg_negative, 64, "btr %rcx, 0x10(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = ~0ULL },
	 .exits = { MR(MMIO + 8, 8, 0x8000000000000001ULL), MW(MMIO + 8, 8, 1) },
	 BT_FLAGS, .fval = CF);
EMU_CASE(btc_imm16, 64, "btcw $0x21, (%rbx)",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO, 2, 3), MW(MMIO, 2, 1) }, BT_FLAGS, .fval = CF);

/* ---- stack ---- */
EMU_CASE(push_mem64, 64, "pushq (%rbx)",
	 .regs = { [R_BX] = MMIO, [R_SP] = DATA + 0x10 },
	 .exits = { MR(MMIO, 8, 0x1122334455667788ULL) },
	 .chg = R(R_SP), .out = { [R_SP] = DATA + 8 },
	 .ram_chk = true, .ram_out = { 0, 0x1122334455667788ULL });
EMU_CASE(push_mem16, 64, "pushw 2(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_SP] = DATA + 0x10 },
	 .exits = { MR(MMIO + 2, 2, 0xabcd) },
	 .chg = R(R_SP), .out = { [R_SP] = DATA + 0xe },
	 .ram_chk = true, .ram_out = { 0, 0xabcdULL << 48 });
EMU_CASE(pop_mem64, 64, "popq 8(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_SP] = DATA },
	 .ram = { 0xdeadbeefcafef00dULL },
	 .exits = { MW(MMIO + 8, 8, 0xdeadbeefcafef00dULL) },
	 .chg = R(R_SP), .out = { [R_SP] = DATA + 8 });

/* ---- string instructions: one element per exit ---- */
EMU_CASE(stos32, 64, "stosl",
	 .regs = { [R_AX] = 0xcafebabe, [R_DI] = MMIO + 0x20 },
	 .exits = { MW(MMIO + 0x20, 4, 0xcafebabe) },
	 .chg = R(R_DI), .out = { [R_DI] = MMIO + 0x24 });
EMU_CASE(rep_stosb, 64, "rep stosb",
	 .regs = { [R_AX] = 0x5a, [R_CX] = 3, [R_DI] = MMIO },
	 .exits = { MW(MMIO, 1, 0x5a), MW(MMIO + 1, 1, 0x5a),
		    MW(MMIO + 2, 1, 0x5a) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = MMIO + 3 });
EMU_CASE(rep_stosw_down, 64, "rep stosw",
	 .regs = { [R_AX] = 0x1234, [R_CX] = 2, [R_DI] = MMIO + 0x10 },
	 .rflags = DF,
	 .exits = { MW(MMIO + 0x10, 2, 0x1234), MW(MMIO + 0xe, 2, 0x1234) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = MMIO + 0xc });
EMU_CASE(lodsq, 64, "lodsq",
	 .regs = { [R_SI] = MMIO + 8 },
	 .exits = { MR(MMIO + 8, 8, 0x0807060504030201ULL) },
	 .chg = R(R_AX) | R(R_SI),
	 .out = { [R_AX] = 0x0807060504030201ULL, [R_SI] = MMIO + 0x10 });
EMU_CASE(rep_lodsb, 64, "rep lodsb",
	 .regs = { [R_AX] = 0x1111, [R_CX] = 2, [R_SI] = MMIO },
	 .exits = { MR(MMIO, 1, 0x21), MR(MMIO + 1, 1, 0x22) },
	 .chg = R(R_AX) | R(R_CX) | R(R_SI),
	 .out = { [R_AX] = 0x1122, [R_SI] = MMIO + 2 });
EMU_CASE(movs_from_mmio, 64, "movsl",
	 .regs = { [R_SI] = MMIO + 4, [R_DI] = DATA },
	 .exits = { MR(MMIO + 4, 4, 0x44434241) },
	 .chg = R(R_SI) | R(R_DI),
	 .out = { [R_SI] = MMIO + 8, [R_DI] = DATA + 4 },
	 .ram_chk = true, .ram_out = { 0x44434241 });
EMU_CASE(movs_to_mmio, 64, "movsw",
	 .regs = { [R_SI] = DATA, [R_DI] = MMIO + 2 }, .ram = { 0xbeef },
	 .exits = { MW(MMIO + 2, 2, 0xbeef) },
	 .chg = R(R_SI) | R(R_DI),
	 .out = { [R_SI] = DATA + 2, [R_DI] = MMIO + 4 });
/* both operands through the guest page tables, to different pages */
EMU_CASE(rep_movsb_mmio_mmio, 64, "rep movsb",
	 .regs = { [R_CX] = 2, [R_SI] = ALIAS, [R_DI] = ALIAS2 },
	 .exits = { MR(MMIO + 0x5000, 1, 0xa1), MW(MMIO + 0x9000, 1, 0xa1),
		    MR(MMIO + 0x5001, 1, 0xa2), MW(MMIO + 0x9001, 1, 0xa2) },
	 .chg = R(R_CX) | R(R_SI) | R(R_DI),
	 .out = { [R_SI] = ALIAS + 2, [R_DI] = ALIAS2 + 2 });
EMU_CASE(movsq_mmio_mmio, 64, "movsq",
	 .regs = { [R_SI] = MMIO, [R_DI] = MMIO + 0x100 },
	 .exits = { MR(MMIO, 8, 0x1020304050607080ULL),
		    MW(MMIO + 0x100, 8, 0x1020304050607080ULL) },
	 .chg = R(R_SI) | R(R_DI),
	 .out = { [R_SI] = MMIO + 8, [R_DI] = MMIO + 0x108 });
EMU_CASE(repe_cmpsb, 64, "repe cmpsb",
	 .regs = { [R_CX] = 3, [R_SI] = MMIO, [R_DI] = DATA },
	 .ram = { 0x332211 },
	 .exits = { MR(MMIO, 1, 0x11), MR(MMIO + 1, 1, 0x99) },
	 .chg = R(R_CX) | R(R_SI) | R(R_DI),
	 .out = { [R_CX] = 1, [R_SI] = MMIO + 2, [R_DI] = DATA + 2 },
	 .fmask = ARITH, .fval = PF | OF);
EMU_CASE(repne_scasb, 64, "repne scasb",
	 .regs = { [R_AX] = 0x33, [R_CX] = 5, [R_DI] = MMIO },
	 .exits = { MR(MMIO, 1, 0x11), MR(MMIO + 1, 1, 0x33) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_CX] = 3, [R_DI] = MMIO + 2 },
	 .fmask = ARITH, .fval = PF | ZF);

/* ---- accesses crossing a page ---- */
EMU_CASE(cross_store, 64, "mov %ecx, 0xffe(%rbx)",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0xaabbccdd },
	 .exits = { MW(MMIO + 0xffe, 2, 0xccdd), MW(MMIO + 0x1000, 2, 0xaabb) });
EMU_CASE(cross_load, 64, "mov 0xffe(%rbx), %eax",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO + 0xffe, 2, 0x2211), MR(MMIO + 0x1000, 2, 0x4433) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x44332211 });
EMU_CASE(cross_ram_mmio, 64, "mov %ecx, (%rbx)",
	 .regs = { [R_BX] = SPLIT + 0xffe, [R_CX] = 0xaabbccdd },
	 .ram_off = 0xff0,
	 .exits = { MW(MMIO + 0x6000, 2, 0xaabb) },
	 .ram_chk = true, .ram_out = { 0, 0xccddULL << 48 });
EMU_CASE(cross_rmw, 64, "addl $1, 0xffe(%rbx)",
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO + 0xffe, 2, 0xffff), MR(MMIO + 0x1000, 2, 0),
		    MW(MMIO + 0xffe, 2, 0), MW(MMIO + 0x1000, 2, 1) },
	 .fmask = ARITH, .fval = PF | AF);

/* ---- addresses, segments, prefixes, faults ---- */
/* a read-only slot: reads come from it, writes exit */
EMU_CASE(rom_store, 64, "mov %ecx, 4(%rbx)",
	 .regs = { [R_BX] = ROM, [R_CX] = 0x55 },
	 .exits = { MW(ROM + 4, 4, 0x55) });
EMU_CASE(rom_add, 64, "add %ecx, (%rbx)",
	 .regs = { [R_BX] = ROM, [R_CX] = 0x10 },
	 .exits = { MW(ROM, 4, 0x04030211) }, .fmask = ARITH, .fval = PF);
EMU_CASE(paged_alias, 64, "mov %eax, 0x10(%rbx)",
	 .regs = { [R_AX] = 0x77, [R_BX] = ALIAS },
	 .exits = { MW(MMIO + 0x5010, 4, 0x77) });
EMU_CASE(fs_override, 64, "mov %fs:0x10, %eax", .fs_base = MMIO,
	 .exits = { MR(MMIO + 0x10, 4, 0x1234) },
	 .chg = R(R_AX), .out = { [R_AX] = 0x1234 });
/* 66 REX.W 89 0b: REX.W wins, 8 bytes */
EMU_CASE(rexw_after_66, 64, ".byte 0x66, 0x48, 0x89, 0x0b",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x1122334455667788ULL },
	 .exits = { MW(MMIO, 8, 0x1122334455667788ULL) });
/* REX.W 66 89 0b: a REX before a legacy prefix is ignored, 2 bytes */
EMU_CASE(rex_before_66, 64, ".byte 0x48, 0x66, 0x89, 0x0b",
	 .regs = { [R_BX] = MMIO, [R_CX] = 0x1122334455667788ULL },
	 .exits = { MW(MMIO, 2, 0x7788) });
/* 67 89 0b: 32-bit address, the upper half of RBX is ignored */
EMU_CASE(addr32_in_64, 64, ".byte 0x67, 0x89, 0x0b",
	 .regs = { [R_BX] = 0x12345678c0000010ULL, [R_CX] = 0x99 },
	 .exits = { MW(MMIO + 0x10, 4, 0x99) });
EMU_CASE(movs_dest_not_present, 64, "movsb",
	 .regs = { [R_SI] = MMIO, [R_DI] = NOPAGE },
	 .exits = { MR(MMIO, 1, 5) },
	 .exc = true, .vec = PF_VECTOR, .err = 2, .cr2 = NOPAGE);
EMU_CASE(movs_dest_noncanonical, 64, "movsb",
	 .regs = { [R_SI] = MMIO, [R_DI] = 0x8000000000000000ULL },
	 .exits = { MR(MMIO, 1, 5) },
	 .exc = true, .vec = GP_VECTOR, .err = 0);
EMU_CASE(unknown_insn, 64, "fldl (%rbx)",
	 .regs = { [R_BX] = MMIO }, .exits = { FAIL },
	 .exc = true, .vec = UD_VECTOR);

/* ---- string port I/O ---- */
EMU_CASE(outsb, 64, "outsb",
	 .regs = { [R_DX] = PORT, [R_SI] = DATA }, .ram = { 0x41 },
	 .exits = { POUT(1, 1, 0x41) },
	 .chg = R(R_SI), .out = { [R_SI] = DATA + 1 });
EMU_CASE(rep_outsw, 64, "rep outsw",
	 .regs = { [R_CX] = 3, [R_DX] = PORT, [R_SI] = DATA },
	 .ram = { 0x333322221111ULL },
	 .exits = { POUT(2, 1, 0x1111), POUT(2, 1, 0x2222),
		    POUT(2, 1, 0x3333) },
	 .chg = R(R_CX) | R(R_SI), .out = { [R_SI] = DATA + 6 });
EMU_CASE(rep_outsb_from_mmio, 64, "rep outsb",
	 .regs = { [R_CX] = 2, [R_DX] = PORT, [R_SI] = MMIO },
	 .exits = { MR(MMIO, 1, 0x61), POUT(1, 1, 0x61),
		    MR(MMIO + 1, 1, 0x62), POUT(1, 1, 0x62) },
	 .chg = R(R_CX) | R(R_SI), .out = { [R_SI] = MMIO + 2 });
EMU_CASE(rep_insb, 64, "rep insb",
	 .regs = { [R_CX] = 5, [R_DX] = PORT, [R_DI] = DATA },
	 .exits = { PIN(1, 5, 0x0504030201ULL) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = DATA + 5 },
	 .ram_chk = true, .ram_out = { 0x0504030201ULL });
EMU_CASE(insl, 64, "insl",
	 .regs = { [R_DX] = PORT, [R_DI] = DATA },
	 .exits = { PIN(4, 1, 0xdeadbeef) },
	 .chg = R(R_DI), .out = { [R_DI] = DATA + 4 },
	 .ram_chk = true, .ram_out = { 0xdeadbeef });
EMU_CASE(rep_insb_down, 64, "rep insb",
	 .regs = { [R_CX] = 3, [R_DX] = PORT, [R_DI] = DATA + 8 },
	 .rflags = DF,
	 .exits = { PIN(1, 3, 0x333231) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = DATA + 5 },
	 .ram_chk = true, .ram_out = { 0x3233ULL << 48, 0x31 });

/* ---- 32-bit protected mode, flat ---- */
EMU_CASE(m32_store_sib, 32, "mov %ecx, 0x10(%ebx,%esi,4)", .mode = M32,
	 .regs = { [R_BX] = MMIO, [R_SI] = 2, [R_CX] = 0x5a5a },
	 .exits = { MW(MMIO + 0x18, 4, 0x5a5a) });
EMU_CASE(m32_add_imm16, 32, "addw $5, (%ebx)", .mode = M32,
	 .regs = { [R_BX] = MMIO },
	 .exits = { MR(MMIO, 2, 0xfffd), MW(MMIO, 2, 2) },
	 .fmask = ARITH, .fval = CF | AF);
EMU_CASE(m32_rep_movsl, 32, "rep movsl", .mode = M32,
	 .regs = { [R_CX] = 2, [R_SI] = MMIO, [R_DI] = DATA },
	 .exits = { MR(MMIO, 4, 0x11111111), MR(MMIO + 4, 4, 0x22222222) },
	 .chg = R(R_CX) | R(R_SI) | R(R_DI),
	 .out = { [R_SI] = MMIO + 8, [R_DI] = DATA + 8 },
	 .ram_chk = true, .ram_out = { 0x2222222211111111ULL });
/* DS base 0x40000000 + 0x80000010 wraps to 0xc0000010 */
EMU_CASE(m32_ds_base, 32, "mov (%eax), %ecx", .mode = M32,
	 .ds_base = 0x40000000, .regs = { [R_AX] = 0x80000010 },
	 .exits = { MR(MMIO + 0x10, 4, 0x77) },
	 .chg = R(R_CX), .out = { [R_CX] = 0x77 });
EMU_CASE(m32_moffs, 32, "mov 0xc0000020, %eax", .mode = M32,
	 .exits = { MR(MMIO + 0x20, 4, 0xfeed) },
	 .chg = R(R_AX), .out = { [R_AX] = 0xfeed });
EMU_CASE(m32_push, 32, "pushl (%ebx)", .mode = M32,
	 .regs = { [R_BX] = MMIO, [R_SP] = DATA + 0x10 },
	 .exits = { MR(MMIO, 4, 0x12345678) },
	 .chg = R(R_SP), .out = { [R_SP] = DATA + 0xc },
	 .ram_chk = true, .ram_out = { 0, 0x12345678ULL << 32 });
EMU_CASE(m32_rep_outsb, 32, "rep outsb", .mode = M32,
	 .regs = { [R_CX] = 2, [R_DX] = PORT, [R_SI] = DATA },
	 .ram = { 0x5251 },
	 .exits = { POUT(1, 1, 0x51), POUT(1, 1, 0x52) },
	 .chg = R(R_CX) | R(R_SI), .out = { [R_SI] = DATA + 2 });

/* ---- 32-bit paging: 4 KiB tables and 4 MiB pages ---- */
EMU_CASE(pg32_alias, 32, "mov %eax, (%ebx)", .mode = M32PG,
	 .regs = { [R_AX] = 0x42, [R_BX] = ALIAS },
	 .exits = { MW(MMIO + 0x5000, 4, 0x42) });
EMU_CASE(pg32_movsb, 32, "movsb", .mode = M32PG,
	 .regs = { [R_SI] = ALIAS, [R_DI] = ALIAS2 },
	 .exits = { MR(MMIO + 0x5000, 1, 7), MW(MMIO + 0x9000, 1, 7) },
	 .chg = R(R_SI) | R(R_DI),
	 .out = { [R_SI] = ALIAS + 1, [R_DI] = ALIAS2 + 1 });
EMU_CASE(pg32_cross_ram_mmio, 32, "mov %ecx, (%ebx)", .mode = M32PG,
	 .regs = { [R_BX] = SPLIT + 0xffe, [R_CX] = 0xaabbccdd },
	 .ram_off = 0xff0,
	 .exits = { MW(MMIO + 0x6000, 2, 0xaabb) },
	 .ram_chk = true, .ram_out = { 0, 0xccddULL << 48 });
EMU_CASE(pg32_rep_stosb, 32, "rep stosb", .mode = M32PG,
	 .regs = { [R_AX] = 0x33, [R_CX] = 2, [R_DI] = MMIO + 0x10 },
	 .exits = { MW(MMIO + 0x10, 1, 0x33), MW(MMIO + 0x11, 1, 0x33) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = MMIO + 0x12 });
EMU_CASE(pg32_bts, 32, "bts %ecx, (%ebx)", .mode = M32PG,
	 .regs = { [R_BX] = ALIAS, [R_CX] = 33 },
	 .exits = { MR(MMIO + 0x5004, 4, 0), MW(MMIO + 0x5004, 4, 2) },
	 BT_FLAGS, .fval = 0);

/* ---- real mode: DS = ES = 0xa000 unless es_ram ---- */
EMU_CASE(r16_store, 16, "mov %ax, 4(%bx,%si)", .mode = M16,
	 .regs = { [R_AX] = 0x1234, [R_BX] = 0x10, [R_SI] = 0x20 },
	 .exits = { MW(MMIO16 + 0x34, 2, 0x1234) });
EMU_CASE(r16_or_disp16, 16, "orw $0x8000, 0x10", .mode = M16,
	 .exits = { MR(MMIO16 + 0x10, 2, 1), MW(MMIO16 + 0x10, 2, 0x8001) },
	 .fmask = ARITH, .fval = SF);
EMU_CASE(r16_rep_stosw, 16, "rep stosw", .mode = M16,
	 .regs = { [R_AX] = 0x4142, [R_CX] = 2, [R_DI] = 0x100 },
	 .exits = { MW(MMIO16 + 0x100, 2, 0x4142),
		    MW(MMIO16 + 0x102, 2, 0x4142) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = 0x104 });
EMU_CASE(r16_movsb, 16, "movsb", .mode = M16, .es_ram = true,
	 .regs = { [R_SI] = 0x30, [R_DI] = DATA16 },
	 .exits = { MR(MMIO16 + 0x30, 1, 0x99) },
	 .chg = R(R_SI) | R(R_DI),
	 .out = { [R_SI] = 0x31, [R_DI] = DATA16 + 1 },
	 .ram_chk = true, .ram_out = { 0x99 });
EMU_CASE(r16_movzx, 16, "movzbw (%bx), %ax", .mode = M16,
	 .regs = { [R_AX] = 0xffff, [R_BX] = 5 },
	 .exits = { MR(MMIO16 + 5, 1, 0xfe) },
	 .chg = R(R_AX), .out = { [R_AX] = 0xfe });
/* 67 89 08: mov %cx, (%eax) */
EMU_CASE(r16_addr32, 16, ".byte 0x67, 0x89, 0x08", .mode = M16,
	 .regs = { [R_AX] = 0x10, [R_CX] = 0x55aa },
	 .exits = { MW(MMIO16 + 0x10, 2, 0x55aa) });
EMU_CASE(r16_rep_outsb_mmio, 16, "rep outsb", .mode = M16,
	 .regs = { [R_CX] = 1, [R_DX] = PORT, [R_SI] = 0x40 },
	 .exits = { MR(MMIO16 + 0x40, 1, 0x71), POUT(1, 1, 0x71) },
	 .chg = R(R_CX) | R(R_SI), .out = { [R_SI] = 0x41 });
EMU_CASE(r16_rep_insb, 16, "rep insb", .mode = M16, .es_ram = true,
	 .regs = { [R_CX] = 3, [R_DX] = PORT, [R_DI] = DATA16 },
	 .exits = { PIN(1, 3, 0x636261) },
	 .chg = R(R_CX) | R(R_DI), .out = { [R_DI] = DATA16 + 3 },
	 .ram_chk = true, .ram_out = { 0x636261 });

static void guest_unused(void)
{
	GUEST_DONE();
}

/* ---- machines ---- */

static __u64 *reg_ptr(struct kvm_regs *r, int i)
{
	__u64 *map[NR_R] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
		&r->rsi, &r->rdi, &r->r8, &r->r9, &r->r10, &r->r11,
		&r->r12, &r->r13, &r->r14, &r->r15,
	};

	return map[i];
}

static void seg_real(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
}

/* 32-bit paging: 4 MiB identity pages for RAM and MMIO, a table for ALIAS.. */
static void setup_paging32(struct kvm_vm *vm, struct kvm_sregs *sregs)
{
	uint32_t *pd = addr_gpa2hva(vm, PD32), *pt = addr_gpa2hva(vm, PT32);

	memset(pd, 0, 4096);
	memset(pt, 0, 4096);
	pd[RAM >> 22] = RAM | 0x83;
	pd[MMIO >> 22] = MMIO | 0x83;
	pd[ALIAS >> 22] = PT32 | 0x3;
	pt[0] = (MMIO + 0x5000) | 0x3;
	pt[1] = (MMIO + 0x9000) | 0x3;
	pt[2] = DATA | 0x3;
	pt[3] = (MMIO + 0x6000) | 0x3;
	sregs->cr0 |= X86_CR0_PG | X86_CR0_WP;
	sregs->cr3 = PD32;
	sregs->cr4 = 0x10;	/* PSE */
}

static void setup_prot32(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			 const struct emu_case *c)
{
	struct kvm_sregs sregs;

	vcpu_sregs_get(vcpu, &sregs);
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	sregs.cr4 = 0;
	sregs.efer = 0;
	seg_flat32(&sregs.cs, 0x08, 0xb, 0);
	seg_flat32(&sregs.ds, 0x10, 0x3, c->ds_base);
	seg_flat32(&sregs.es, 0x10, 0x3, 0);
	seg_flat32(&sregs.ss, 0x10, 0x3, 0);
	seg_flat32(&sregs.fs, 0x10, 0x3, 0);
	seg_flat32(&sregs.gs, 0x10, 0x3, 0);
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x18;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	if (c->mode == M32PG)
		setup_paging32(vm, &sregs);
	vcpu_sregs_set(vcpu, &sregs);
}

static void setup_real(struct kvm_vcpu *vcpu, const struct emu_case *c)
{
	struct kvm_sregs sregs;

	vcpu_sregs_get(vcpu, &sregs);
	seg_real(&sregs.cs, 0);
	seg_real(&sregs.ss, 0);
	seg_real(&sregs.ds, SEG16);
	seg_real(&sregs.es, c->es_ram ? 0 : SEG16);
	vcpu_sregs_set(vcpu, &sregs);
}

static void setup_long(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
		       const struct emu_case *c)
{
	uint64_t rom_data = ROM_DATA;
	struct kvm_sregs sregs;
	void *rom;

	vm_mem_region_add_mapped(vm, 1, RAM, 0x10000, 0);
	virt_map(vm, MMIO, MMIO, 0x10000);
	virt_map(vm, ALIAS, MMIO + 0x5000, PAGE_SIZE);
	virt_map(vm, ALIAS2, MMIO + 0x9000, PAGE_SIZE);
	virt_map(vm, SPLIT, DATA, PAGE_SIZE);
	virt_map(vm, SPLIT + PAGE_SIZE, MMIO + 0x6000, PAGE_SIZE);
	rom = vm_mem_region_add_mapped(vm, 2, ROM, PAGE_SIZE, KVM_MEM_READONLY);
	memcpy(rom, &rom_data, sizeof(rom_data));
	if (c->fs_base) {
		vcpu_sregs_get(vcpu, &sregs);
		sregs.fs.base = c->fs_base;
		vcpu_sregs_set(vcpu, &sregs);
	}
}

static uint64_t code_base(const struct emu_case *c)
{
	return c->mode == M16 ? CODE16 : CODE;
}

static uint64_t data_base(const struct emu_case *c)
{
	return (c->mode == M16 ? DATA16 : DATA) + c->ram_off;
}

/* A VM for the case's mode; code + HLT at code_base(), registers set. */
static void case_setup(struct kvm_vm **vmp, struct kvm_vcpu **vcpup,
		      const struct emu_case *c)
{
	size_t len = c->code_end - c->code;
	struct kvm_vcpu *vcpu;
	struct kvm_regs regs;
	struct kvm_vm *vm;
	uint8_t *code;
	int i;

	if (c->mode == M64) {
		vm = vm_create_with_one_vcpu(&vcpu, guest_unused);
		setup_long(vm, vcpu, c);
	} else {
		vm = vm_create_barebones();
		if (c->mode == M16)
			vm_mem_region_add(vm, 0, 0, 0x10000, 0);
		else
			vm_mem_region_add(vm, 1, RAM, 0x10000, 0);
		vcpu = vm_vcpu_add_raw(vm, 0);
		if (c->mode == M16)
			setup_real(vcpu, c);
		else
			setup_prot32(vm, vcpu, c);
	}
	code = addr_gpa2hva(vm, code_base(c));
	memcpy(code, c->code, len);
	code[len] = 0xf4;	/* hlt */
	memcpy(addr_gpa2hva(vm, data_base(c)), c->ram, sizeof(c->ram));

	memset(&regs, 0, sizeof(regs));
	for (i = 0; i < NR_R; i++)
		*reg_ptr(&regs, i) = c->regs[i];
	if (!regs.rsp)
		regs.rsp = c->mode == M16 ? 0xf000 : STK;
	regs.rip = code_base(c);
	regs.rflags = c->rflags | X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);
	*vmp = vm;
	*vcpup = vcpu;
}

FIXTURE_SETUP(emu)
{
	case_setup(&self->vm, &self->vcpu, variant->c);
}

FIXTURE_TEARDOWN(emu)
{
	kvm_vm_free(self->vm);
}

/* ---- checks ---- */

static void check_mmio(struct __test_metadata *_metadata,
		       struct kvm_vcpu *vcpu, const struct emu_exit *x, int n)
{
	struct kvm_run *run = vcpu->run;
	uint64_t data = 0;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(x->addr, run->mmio.phys_addr) TH_LOG("exit %d", n);
	EXPECT_EQ(x->len, run->mmio.len) TH_LOG("exit %d", n);
	EXPECT_EQ(x->kind == X_MW, run->mmio.is_write) TH_LOG("exit %d", n);
	if (x->kind == X_MW) {
		memcpy(&data, run->mmio.data, run->mmio.len <= 8 ?
		       run->mmio.len : 8);
		EXPECT_EQ(x->data, data) TH_LOG("exit %d", n);
	} else {
		/* garbage beyond len must not reach the guest */
		memset(run->mmio.data, 0xee, sizeof(run->mmio.data));
		memcpy(run->mmio.data, &x->data, x->len);
	}
}

static void check_pio(struct __test_metadata *_metadata,
		      struct kvm_vcpu *vcpu, const struct emu_exit *x, int n)
{
	struct kvm_run *run = vcpu->run;
	uint64_t data = 0;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	ASSERT_EQ(x->kind == X_IN ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT,
		  run->io.direction) TH_LOG("exit %d", n);
	EXPECT_EQ(x->addr, run->io.port) TH_LOG("exit %d", n);
	ASSERT_EQ(x->len, run->io.size) TH_LOG("exit %d", n);
	ASSERT_EQ(x->count, run->io.count) TH_LOG("exit %d", n);
	ASSERT_LE(sizeof(*run), run->io.data_offset);
	ASSERT_GE(vcpu->run_size, run->io.data_offset + x->len * x->count);
	if (x->kind == X_OUT) {
		memcpy(&data, vcpu_io_data(vcpu), x->len * x->count);
		EXPECT_EQ(x->data, data) TH_LOG("exit %d", n);
	} else {
		memcpy(vcpu_io_data(vcpu), &x->data, x->len * x->count);
	}
}

static void check_failure(struct __test_metadata *_metadata,
			  struct kvm_vcpu *vcpu, const struct emu_case *c)
{
	struct kvm_run *run = vcpu->run;
	size_t len = c->code_end - c->code;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_INTERNAL_ERROR);
	EXPECT_EQ(KVM_INTERNAL_ERROR_EMULATION, run->emulation_failure.suberror);
	ASSERT_TRUE(run->emulation_failure.flags &
		    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES);
	ASSERT_GE(run->emulation_failure.insn_size, len);
	EXPECT_EQ(0, memcmp(run->emulation_failure.insn_bytes, c->code, len));
}

static void check_exception(struct __test_metadata *_metadata,
			    struct kvm_vcpu *vcpu, const struct emu_case *c)
{
	struct ucall uc;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	ASSERT_EQ(UCALL_EXCEPTION, get_ucall(vcpu, &uc));
	EXPECT_EQ(c->vec, uc.args[0]);
	EXPECT_EQ(code_base(c), uc.args[2]);
	if (c->vec == GP_VECTOR || c->vec == PF_VECTOR)
		EXPECT_EQ(c->err, uc.args[1]);
	if (c->vec == PF_VECTOR)
		EXPECT_EQ(c->cr2, uc.args[3]);
}

static void check_final(struct __test_metadata *_metadata,
			struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			const struct emu_case *c)
{
	uint64_t init = c->rflags | X86_EFLAGS_FIXED, want, mask, ram[2];
	struct kvm_regs regs;
	int i;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(code_base(c) + (c->code_end - c->code) + 1, regs.rip);
	for (i = 0; i < NR_R; i++) {
		want = (c->chg & R(i)) ? c->out[i] : c->regs[i];
		if (i == R_SP && !want)
			want = c->mode == M16 ? 0xf000 : STK;
		EXPECT_EQ(want, *reg_ptr(&regs, i)) TH_LOG("register %d", i);
	}
	mask = 0xfffff & ~(uint64_t)X86_EFLAGS_FIXED & ~c->fign;
	want = (init & ~c->fmask) | c->fval;
	EXPECT_EQ(want & mask, regs.rflags & mask);
	if (c->ram_chk) {
		memcpy(ram, addr_gpa2hva(vm, data_base(c)), sizeof(ram));
		EXPECT_EQ(c->ram_out[0], ram[0]);
		EXPECT_EQ(c->ram_out[1], ram[1]);
	}
}

TEST_F(emu, run)
{
	const struct emu_case *c = variant->c;
	struct kvm_vcpu *vcpu = self->vcpu;
	const struct emu_exit *x;
	int n;

	for (n = 0, x = c->exits; x->kind != X_END; x++, n++) {
		vcpu_run(vcpu);
		if (x->kind == X_MR || x->kind == X_MW)
			check_mmio(_metadata, vcpu, x, n);
		else if (x->kind == X_FAIL)
			check_failure(_metadata, vcpu, c);
		else
			check_pio(_metadata, vcpu, x, n);
	}
	vcpu_run(vcpu);
	if (c->exc)
		check_exception(_metadata, vcpu, c);
	else
		check_final(_metadata, self->vm, vcpu, c);
}

/*
 * REP INS takes as many elements per exit as fit before the end of rDI's
 * page, counted in elements (so 2-byte elements may cross it), at most
 * 1 KiB; the data is in memory when KVM_RUN comes back.
 */
EMU_CODE(chunk_insw, 64, "rep insw");
EMU_CODE(chunk_insb, 64, "rep insb");

static void run_ins(struct __test_metadata *_metadata, const uint8_t *code,
		    const uint8_t *end, int size, uint64_t rdi, uint64_t rcx,
		    const uint32_t *counts, int nr)
{
	struct emu_case c = { .code = code, .code_end = end,
			      .regs = { [R_CX] = rcx, [R_DX] = PORT,
					[R_DI] = rdi } };
	struct kvm_vcpu *vcpu;
	struct kvm_regs regs;
	struct kvm_vm *vm;
	uint8_t *mem;
	uint32_t i, k, b = 0;

	case_setup(&vm, &vcpu, &c);
	for (i = 0; i < nr; i++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		ASSERT_EQ(KVM_EXIT_IO_IN, vcpu->run->io.direction);
		ASSERT_EQ(size, vcpu->run->io.size);
		ASSERT_EQ(counts[i], vcpu->run->io.count) TH_LOG("exit %u", i);
		mem = vcpu_io_data(vcpu);
		for (k = 0; k < counts[i] * size; k++)
			mem[k] = (uint8_t)(b + k);
		b += counts[i] * size;
	}
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(0, regs.rcx);
	EXPECT_EQ(rdi + rcx * size, regs.rdi);
	mem = addr_gpa2hva(vm, rdi);
	for (k = 0; k < b; k++)
		ASSERT_EQ((uint8_t)k, mem[k]) TH_LOG("byte %u", k);
	kvm_vm_free(vm);
}

TEST(rep_insw_page_end)
{
	static const uint32_t counts[] = { 4, 6 };

	run_ins(_metadata, chunk_insw, chunk_insw_end, 2, DATA + 0xffc,
		10, counts, 2);
}

TEST(rep_insb_1k_chunks)
{
	static const uint32_t counts[] = { 1024, 1024, 452 };

	run_ins(_metadata, chunk_insb, chunk_insb_end, 1, DATA, 2500,
		counts, 3);
}

TEST_HARNESS_MAIN
