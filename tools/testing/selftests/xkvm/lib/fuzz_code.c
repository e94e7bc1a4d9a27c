// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_code.c - random guest programs for every CPU mode of the fuzzer's
 * guests (real, virtual-8086, 16- and 32-bit protected, paged 32-bit,
 * compatibility and 64-bit mode).
 *
 * A program is a random mix of instruction templates, each emitted with
 * the encodings of the mode it starts in: memory and MMIO accesses of
 * every operand kind (with LOCK, segment, operand- and address-size
 * prefixes at times), port and string I/O, string moves, CPUID, MSRs,
 * control and debug registers, segment loads and far returns into other
 * code segments, descriptor-table loads, software interrupts and system
 * calls, FPU/SSE/XSAVE, SVM/VMX instructions (which must #UD), short
 * jumps and bounded loops, mode-switch sequences, and raw random bytes.
 * The guest layout it targets is in include/fuzz.h.  Nothing here checks
 * what the guest does: the point is to reach the hypervisor's exit,
 * emulation and injection paths with odd states.
 */
#include <string.h>

#include "fuzz.h"
#include "processor.h"

struct emit {
	struct fz_rng *r;
	enum fz_mode mode;
	unsigned int flags;	/* FZ_CODE_* */
	unsigned int bits;	/* default operand/address size: 16, 32, 64 */
	uint8_t *buf;
	size_t len, max;
};

const char * const fz_mode_names[FZ_MODE_NR] = {
	"real", "vm86", "prot16", "prot32", "paged32", "compat", "long",
};

unsigned int fz_mode_bits(enum fz_mode m)
{
	switch (m) {
	case FZ_MODE_REAL:
	case FZ_MODE_VM86:
	case FZ_MODE_PROT16:
		return 16;
	case FZ_MODE_LONG:
		return 64;
	default:
		return 32;
	}
}

/* Registers by number (ModRM encoding). */
enum { AX, CX, DX, BX, SP, BP, SI, DI };

static void b(struct emit *e, uint8_t v)
{
	if (e->len < e->max)
		e->buf[e->len++] = v;
}

static void bs(struct emit *e, const char *s, size_t n)
{
	while (n--)
		b(e, (uint8_t)*s++);
}
#define BS(e, lit)	bs(e, "" lit, sizeof(lit) - 1)	/* literals only */

static void imm(struct emit *e, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		b(e, v);
		v >>= 8;
	}
}

/* Immediate size of a "mov reg, imm" or "push imm" without prefixes. */
static unsigned int opbytes(struct emit *e)
{
	return e->bits == 16 ? 2 : 4;
}

/* mov reg, v: the mode's size; 32-bit (with 66h) or 64-bit if needed. */
static void mov_imm(struct emit *e, int reg, uint64_t v)
{
	if (e->bits == 64 && v > 0xffffffffULL) {
		b(e, 0x48);
		b(e, 0xb8 + reg);
		imm(e, v, 8);
		return;
	}
	if (e->bits == 16 && v > 0xffff)
		b(e, 0x66);
	b(e, 0xb8 + reg);
	imm(e, v, e->bits == 16 && v <= 0xffff ? 2 : 4);
}

/* ModRM for [BX] / [EBX] / [RBX] with @reg in the reg field. */
static void modrm_bx(struct emit *e, int reg)
{
	b(e, (reg << 3) | (e->bits == 16 ? 7 : 3));
}

/*
 * Points BX (and in real and virtual-8086 mode DS) at @addr: real-mode
 * code reaches the first MiB through DS = addr >> 4.
 */
static void point_bx(struct emit *e, uint64_t addr)
{
	if (e->mode == FZ_MODE_REAL || e->mode == FZ_MODE_VM86) {
		addr &= 0x10ffff;
		mov_imm(e, AX, (addr >> 4) & 0xffff);
		BS(e, "\x8e\xd8");		/* mov ds, ax */
		mov_imm(e, BX, addr & 0xf);
		return;
	}
	if (e->bits == 16)
		addr &= 0xffff;
	mov_imm(e, BX, addr);
}

static const uint16_t fz_ports[] = {
	0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80, 0x92,
	0xa0, 0xcf8, 0xcfc, 0x3f8, 0x3fd, 0x1f0, 0x7e8, 0xb2, 0x402, 0x510,
	0xffff, FZ_PORT_EXC,
};

static uint16_t pick_port(struct fz_rng *r)
{
	if (fz_chance(r, 75))
		return fz_ports[fz_below(r, ARRAY_SIZE(fz_ports))];
	return fz_rand32(r);
}

/* A value worth loading: small, boundary, address, random. */
static uint64_t pick_value(struct emit *e)
{
	switch (fz_below(e->r, 4)) {
	case 0:
		return fz_below(e->r, 256);
	case 1:
		return fz_interesting(e->r);
	case 2:
		return fz_guest_addr(e->r, e->mode);
	default:
		return fz_rand64(e->r);
	}
}

static void random_prefixes(struct emit *e)
{
	static const uint8_t pfx[] = {
		0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67,
	};
	int n = fz_below(e->r, 3);

	while (n--)
		b(e, pfx[fz_below(e->r, ARRAY_SIZE(pfx))]);
	if (e->bits == 64 && fz_chance(e->r, 30))
		b(e, 0x40 | fz_below(e->r, 16));	/* REX */
}

/* ---- templates ---- */

/*
 * Opcodes as length-prefixed strings ("\x02\x0f\xb0" is 0f b0), so
 * that a 00h byte is an opcode too.
 */
static void op_bytes(struct emit *e, const char *op)
{
	bs(e, op + 1, (uint8_t)op[0]);
}

/* One instruction with a [BX] operand, BX pointing somewhere. */
static void t_mem(struct emit *e)
{
	static const char *const ops[] = {
		"\x01\x88", "\x01\x89", "\x01\x8a", "\x01\x8b", "\x01\x00",
		"\x01\x01", "\x01\x02", "\x01\x03", "\x01\x08", "\x01\x09",
		"\x01\x20", "\x01\x21", "\x01\x28", "\x01\x29", "\x01\x30",
		"\x01\x31", "\x01\x38", "\x01\x39", "\x01\x84", "\x01\x85",
		"\x01\x86", "\x01\x87", "\x02\x0f\xb0", "\x02\x0f\xb1",
		"\x02\x0f\xc0", "\x02\x0f\xc1", "\x02\x0f\xa3", "\x02\x0f\xab",
		"\x02\x0f\xb3", "\x02\x0f\xbb", "\x02\x0f\xb6", "\x02\x0f\xb7",
		"\x02\x0f\xbe", "\x02\x0f\xbf", "\x01\x8c", "\x01\x8e",
		"\x01\xc4", "\x01\xc5", "\x02\x0f\xb2", "\x02\x0f\xb4",
		"\x02\x0f\xb5", "\x01\x62", "\x02\x0f\x28", "\x02\x0f\x29",
		"\x02\x0f\x10", "\x02\x0f\x11",
	};
	/* Group opcodes: the reg field selects the operation. */
	static const char *const grp[] = {
		"\x01\xf6", "\x01\xf7", "\x01\xfe", "\x01\xff", "\x01\xd0",
		"\x01\xd1", "\x01\xd3", "\x01\x8f", "\x02\x0f\x01",
		"\x02\x0f\x00", "\x02\x0f\xae", "\x02\x0f\xc7", "\x02\x0f\x18",
		"\x02\x0f\xba", "\x01\xd9", "\x01\xdd", "\x01\xdf",
		"\x02\x0f\x0d",
	};
	const char *op;

	point_bx(e, fz_guest_addr(e->r, e->mode));
	if (fz_chance(e->r, 15))
		mov_imm(e, AX, pick_value(e));
	if (fz_chance(e->r, 10))
		b(e, 0xf0);				/* LOCK */
	if (fz_chance(e->r, 10))
		b(e, fz_chance(e->r, 50) ? 0x66 : 0x67);
	if (e->bits == 64 && fz_chance(e->r, 25))
		b(e, 0x48 | fz_below(e->r, 4) << 1);	/* REX.W, .R, .X */
	if (fz_chance(e->r, 60))
		op = ops[fz_below(e->r, ARRAY_SIZE(ops))];
	else
		op = grp[fz_below(e->r, ARRAY_SIZE(grp))];
	op_bytes(e, op);
	modrm_bx(e, fz_below(e->r, 8));
	if (op[0] == 2 && op[2] == '\xba')
		b(e, fz_rand32(e->r));			/* bt* imm8 */
}

static void t_io(struct emit *e)
{
	uint16_t port = pick_port(e->r);

	if (fz_chance(e->r, 30))
		mov_imm(e, AX, pick_value(e));
	if (fz_chance(e->r, 50)) {
		b(e, 0xe4 + fz_below(e->r, 4));		/* in/out imm8 */
		b(e, port);
		return;
	}
	mov_imm(e, DX, port);
	if (fz_chance(e->r, 15))
		b(e, 0x66);
	b(e, 0xec + fz_below(e->r, 4));			/* in/out dx */
}

/* String I/O or moves with REP: the emulator's heaviest paths. */
static void t_string(struct emit *e)
{
	static const uint8_t ops[] = {
		0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab,
		0xac, 0xad, 0xae, 0xaf,
	};
	uint64_t src = fz_guest_addr(e->r, e->mode);
	uint64_t dst = fz_guest_addr(e->r, e->mode);

	if (e->bits == 16) {
		src &= 0xffff;
		dst &= 0xffff;
	}
	mov_imm(e, DX, pick_port(e->r));
	mov_imm(e, SI, src);
	mov_imm(e, DI, dst);
	mov_imm(e, CX, fz_chance(e->r, 80) ? fz_below(e->r, 64) :
					     fz_below(e->r, 0x2000));
	b(e, fz_chance(e->r, 30) ? 0xfd : 0xfc);	/* std / cld */
	if (fz_chance(e->r, 20))
		b(e, 0x26 + 8 * fz_below(e->r, 4));	/* segment override */
	if (fz_chance(e->r, 15))
		b(e, fz_chance(e->r, 50) ? 0x66 : 0x67);
	if (fz_chance(e->r, 80))
		b(e, fz_chance(e->r, 80) ? 0xf3 : 0xf2);
	b(e, ops[fz_below(e->r, ARRAY_SIZE(ops))]);
	b(e, 0xfc);
}

static void t_cpuid(struct emit *e)
{
	static const uint32_t leaves[] = {
		0, 1, 2, 4, 6, 7, 0xa, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x1f,
		0x40000000, 0x40000001, 0x40000010, 0x80000000, 0x80000001,
		0x80000008, 0x8000000a, 0x8000001f, 0x8fffffff, 0xffffffff,
	};

	mov_imm(e, AX, fz_chance(e->r, 85) ? leaves[fz_below(e->r, ARRAY_SIZE(leaves))] :
					     fz_rand32(e->r));
	mov_imm(e, CX, fz_below(e->r, 4));
	BS(e, "\x0f\xa2");
}

static void t_msr(struct emit *e)
{
	uint32_t msr = fz_pick_msr(e->r);

	if (msr == FZ_MSR_EFER && (e->flags & FZ_CODE_NO_LME))
		msr = 0xc0000081;			/* STAR */
	mov_imm(e, CX, msr);
	mov_imm(e, AX, fz_rand32(e->r));
	mov_imm(e, DX, fz_chance(e->r, 50) ? 0 : fz_rand32(e->r));
	b(e, 0x0f);
	b(e, fz_chance(e->r, 50) ? 0x32 : 0x30);	/* rdmsr / wrmsr */
}

/* A control-register value: flips of the bits that change the mode. */
static uint64_t cr_value(struct emit *e, int cr)
{
	static const uint64_t cr0_bits[] = {
		1ULL << 0, 1ULL << 1, 1ULL << 2, 1ULL << 3, 1ULL << 5, 1ULL << 16,
		1ULL << 18, 1ULL << 29, 1ULL << 30, 1ULL << 31,
	};
	static const uint64_t cr4_bits[] = {
		1ULL << 0, 1ULL << 1, 1ULL << 3, 1ULL << 4, 1ULL << 5, 1ULL << 7,
		1ULL << 9, 1ULL << 10, 1ULL << 11, 1ULL << 12, 1ULL << 13,
		1ULL << 16, 1ULL << 17, 1ULL << 18, 1ULL << 20, 1ULL << 21,
		1ULL << 22,
	};
	uint64_t v;

	switch (cr) {
	case 0:
		v = 0x80000011ULL;	/* PG | ET | PE */
		if (e->bits == 16)
			v = 0x10;
		v ^= cr0_bits[fz_below(e->r, ARRAY_SIZE(cr0_bits))];
		break;
	case 3:
		v = fz_chance(e->r, 70) ? FZ_G_PML4 + 0x1000 * fz_below(e->r, 8) :
					  fz_guest_addr(e->r, e->mode);
		break;
	case 4:
		v = (e->mode == FZ_MODE_LONG || e->mode == FZ_MODE_COMPAT) ? 0x20 : 0;
		v ^= cr4_bits[fz_below(e->r, ARRAY_SIZE(cr4_bits))];
		break;
	default:
		v = pick_value(e);
		break;
	}
	if (fz_chance(e->r, 10))
		v = fz_interesting(e->r);
	if (cr == 4 && (e->flags & FZ_CODE_NO_LME))
		v |= X86_CR4_PAE;
	return v;
}

/* mov crN/drN, reg or the reverse. */
static void t_ctrl(struct emit *e)
{
	static const int crs[] = { 0, 0, 3, 4, 4, 8, 2, 1, 5 };
	int cr = crs[fz_below(e->r, ARRAY_SIZE(crs))], dr = fz_below(e->r, 8);
	int reg = fz_below(e->r, 4);

	if (cr == 8 && (e->flags & FZ_CODE_NO_CR8))
		cr = 2;

	switch (fz_below(e->r, 4)) {
	case 0:
	case 1:
		mov_imm(e, reg, cr_value(e, cr));
		if (cr == 8)	/* REX.R in 64-bit mode, AMD's LOCK form else */
			b(e, e->bits == 64 ? 0x44 : 0xf0);
		BS(e, "\x0f\x22");
		b(e, 0xc0 | (cr & 7) << 3 | reg);
		break;
	case 2:
		if (cr == 8)
			b(e, e->bits == 64 ? 0x44 : 0xf0);
		BS(e, "\x0f\x20");
		b(e, 0xc0 | (cr & 7) << 3 | reg);
		break;
	default:
		mov_imm(e, reg, pick_value(e));
		b(e, 0x0f);
		b(e, fz_chance(e->r, 70) ? 0x23 : 0x21);	/* mov dr */
		b(e, 0xc0 | dr << 3 | reg);
		break;
	}
}

static uint16_t pick_selector(struct emit *e)
{
	struct fz_rng *r = e->r;
	uint16_t sel;

	static const uint16_t sels[] = {
		0, FZ_SEL_CS64, FZ_SEL_DS, FZ_SEL_CS32, FZ_SEL_CS16, FZ_SEL_DS16,
		FZ_SEL_TSS64, FZ_SEL_TSS32, FZ_SEL_LDT, FZ_SEL_CS32_U, FZ_SEL_DS_U,
		FZ_SEL_CS64_U, 0x4, 0xc, 0x3,
	};

	if (fz_chance(r, 80))
		sel = sels[fz_below(r, ARRAY_SIZE(sels))];
	else
		sel = fz_chance(r, 50) ? FZ_SEL_RANDOM + 8 * fz_below(r, 19) :
					 fz_rand32(r);
	/* Random descriptors may be TSSs or task gates too. */
	if ((e->flags & FZ_CODE_NO_TASK_SWITCH) &&
	    (sel == FZ_SEL_TSS32 || sel == FZ_SEL_TSS64 ||
	     (sel & ~7) >= FZ_SEL_RANDOM))
		sel = FZ_SEL_DS;
	return sel;
}

/*
 * push sel; push next; retf: continues after the retf in the code segment
 * @sel names, or somewhere else at times.  16-bit code uses the 32-bit
 * form (66h) so that the offset reaches the code area, except for a
 * real-mode far return, which stays 16-bit with CS = FZ_G_CODE >> 4.
 */
static void far_return(struct emit *e, uint16_t sel)
{
	bool o32 = e->bits == 16;
	unsigned int size, len;
	uint64_t target;

	if ((e->mode == FZ_MODE_REAL || e->mode == FZ_MODE_VM86) &&
	    fz_chance(e->r, 50)) {
		target = (e->len + 7) & 0xffff;
		b(e, 0x68);
		imm(e, FZ_G_CODE >> 4, 2);
		b(e, 0x68);
		imm(e, target, 2);
		b(e, 0xcb);
		return;
	}
	size = o32 ? 4 : opbytes(e);
	len = 2 * (o32 + 1 + size) + (o32 || e->bits == 64 ? 2 : 1);
	target = e->len + len;
	if (sel != FZ_SEL_CS16)		/* the only code segment at FZ_G_CODE */
		target += FZ_G_CODE;
	if (fz_chance(e->r, 20))
		target = fz_guest_addr(e->r, e->mode);
	if (o32)
		b(e, 0x66);
	b(e, 0x68);
	imm(e, sel, size);
	if (o32)
		b(e, 0x66);
	b(e, 0x68);
	imm(e, target, size);
	if (o32)
		b(e, 0x66);
	else if (e->bits == 64)
		b(e, 0x48);				/* retfq */
	b(e, 0xcb);
}

/* Segment register loads, and far returns into another code segment. */
static void t_seg(struct emit *e)
{
	uint16_t sel = pick_selector(e);

	switch (fz_below(e->r, 3)) {
	case 0:
		mov_imm(e, AX, sel);
		b(e, 0x8e);
		b(e, 0xc0 | fz_below(e->r, 6) << 3);	/* mov sreg, ax */
		break;
	case 1:
		/* ltr / lldt / verr / verw / lar / lsl with a register. */
		mov_imm(e, AX, sel);
		if (fz_chance(e->r, 60)) {
			BS(e, "\x0f\x00");
			b(e, 0xc0 | fz_below(e->r, 6) << 3);
		} else {
			b(e, 0x0f);
			b(e, fz_chance(e->r, 50) ? 0x02 : 0x03);	/* lar / lsl */
			b(e, 0xc8);
		}
		break;
	default:
		far_return(e, sel);
		break;
	}
}

/* lgdt/lidt from the images fz_guest_layout() leaves in the data area. */
static void t_desc(struct emit *e)
{
	point_bx(e, fz_chance(e->r, 80) ? FZ_G_DATA + 8 * fz_below(e->r, 4) :
					  fz_guest_addr(e->r, e->mode));
	if (e->bits == 64 && fz_chance(e->r, 50))
		b(e, 0x48);
	BS(e, "\x0f\x01");
	modrm_bx(e, fz_below(e->r, 4));		/* sgdt sidt lgdt lidt */
}

/* Exceptions, software interrupts, system calls, IRET. */
static void t_int(struct emit *e)
{
	static const char *const ops[] = {
		"\x01\xcc", "\x01\xce", "\x02\x0f\x0b", "\x01\xf1", "\x02\x0f\x05",
		"\x02\x0f\x07", "\x02\x0f\x34", "\x02\x0f\x35", "\x01\xcf",
		"\x02\x48\xcf", "\x01\xd4", "\x02\xf7\xf1",
	};

	if (fz_chance(e->r, 40)) {
		b(e, 0xcd);
		b(e, fz_chance(e->r, 50) ? fz_below(e->r, 32) : fz_rand32(e->r));
		return;
	}
	/* A random frame for IRET; CX = 0 for DIV. */
	mov_imm(e, CX, 0);
	if (fz_chance(e->r, 50)) {
		int i;

		for (i = 0; i < 5; i++) {
			b(e, 0x68);
			imm(e, i == 3 ? pick_selector(e) : pick_value(e),
			    opbytes(e));
		}
	}
	op_bytes(e, ops[fz_below(e->r, ARRAY_SIZE(ops))]);
}

/* Instructions that exit, fault or change a mode bit, without operands. */
static void t_misc(struct emit *e)
{
	static const char *const ops[] = {
		"\x01\xfa", "\x01\xfb", "\x01\xf4", "\x02\xf3\x90", "\x02\x0f\x09",
		"\x02\x0f\x08", "\x02\x0f\x06", "\x02\x0f\x31", "\x03\x0f\x01\xf9",
		"\x02\x0f\x33", "\x03\x0f\xc7\xf0", "\x03\x0f\xc7\xf8",
		"\x03\x0f\x01\xd0", "\x03\x0f\x01\xd1", "\x03\x0f\x01\xc8",
		"\x03\x0f\x01\xc9", "\x03\x0f\x01\xc1", "\x03\x0f\x01\xd9",
		"\x03\x0f\x01\xd8", "\x03\x0f\x01\xda", "\x03\x0f\x01\xdb",
		"\x03\x0f\x01\xdc", "\x03\x0f\x01\xdd", "\x03\x0f\x01\xde",
		"\x03\x0f\x01\xdf", "\x03\x0f\x01\xf8", "\x03\x0f\x01\xee",
		"\x03\x0f\x01\xef", "\x03\x0f\x01\xe0", "\x03\x0f\x01\xf0",
		"\x01\x9c", "\x01\x9d", "\x01\xfd", "\x01\xf5", "\x03\x0f\x01\xca",
		"\x03\x0f\x01\xcb", "\x02\xdb\xe3", "\x02\xd9\xe8", "\x02\xd9\xfa",
		"\x02\xde\xf9", "\x02\x0f\x77", "\x03\xc5\xf8\x77", "\x02\x0f\x37",
		"\x03\x0f\x01\xd4", "\x03\x0f\x01\xd5", "\x03\x0f\x01\xd6",
		"\x04\xf3\x0f\xae\xd0", "\x04\x66\x0f\x38\x80", "\x02\x0f\x78",
		"\x02\x0f\x79", "\x01\x27", "\x01\xd6", "\x02\xf3\xa6",
	};

	if (fz_chance(e->r, 40)) {
		/* Random inputs for XSETBV, MONITOR, POPF, LMSW, ... */
		mov_imm(e, AX, pick_value(e));
		mov_imm(e, CX, fz_below(e->r, 3));
		mov_imm(e, DX, fz_chance(e->r, 70) ? 0 : pick_value(e));
	}
	if (fz_chance(e->r, 20)) {
		b(e, 0x68);				/* push flags image */
		imm(e, fz_rand32(e->r) & 0x3f7fd7, opbytes(e));
		b(e, 0x9d);				/* popf */
		return;
	}
	op_bytes(e, ops[fz_below(e->r, ARRAY_SIZE(ops))]);
}

/* Short forward jumps, conditional jumps, bounded loops, a spin. */
static void t_flow(struct emit *e)
{
	switch (fz_below(e->r, 6)) {
	case 0:
		b(e, 0xeb);
		b(e, fz_below(e->r, 16));
		break;
	case 1:
		b(e, 0x70 + fz_below(e->r, 16));
		b(e, fz_below(e->r, 16));
		break;
	case 2:
		/* A loop of port or MMIO exits: mov cx, n; 1: op; loop 1b */
		mov_imm(e, CX, 1 + fz_below(e->r, 40));
		if (fz_chance(e->r, 50)) {
			b(e, 0xe6);
			b(e, pick_port(e->r));
			b(e, 0xe2);
			b(e, 0xfc);
		} else {
			point_bx(e, FZ_G_MMIO + fz_below(e->r, 0x1000));
			mov_imm(e, CX, 1 + fz_below(e->r, 40));
			b(e, 0x89);
			modrm_bx(e, AX);
			b(e, 0xe2);
			b(e, 0xfc);
		}
		break;
	case 3:
		/* call next; pop: a return address on the stack */
		b(e, 0xe8);
		imm(e, 0, opbytes(e));
		b(e, 0x58 + fz_below(e->r, 8));
		break;
	case 4:
		b(e, 0xeb);
		b(e, 0xfe);				/* jmp $: kicks end it */
		break;
	default:
		/* The stack somewhere odd: pushes and faults go there. */
		mov_imm(e, SP, fz_chance(e->r, 50) ? fz_guest_addr(e->r, e->mode) :
						     FZ_G_STACK_TOP - 16 * fz_below(e->r, 8));
		break;
	}
}

/*
 * Mode switches the guest does itself: protected mode on from real mode,
 * paging and long mode on, back off; a far return picks the new CS.
 */
static void t_switch(struct emit *e)
{
	if (fz_chance(e->r, 50)) {
		point_bx(e, FZ_G_DATA);
		BS(e, "\x0f\x01");
		modrm_bx(e, 2);				/* lgdt [data] */
	}
	if (fz_chance(e->r, 50)) {
		mov_imm(e, AX, fz_chance(e->r, 50) ? 0x20 : 0x30);
		BS(e, "\x0f\x22\xe0");			/* mov cr4, eax */
		mov_imm(e, AX, FZ_G_PML4);
		BS(e, "\x0f\x22\xd8");			/* mov cr3, eax */
	}
	if (!(e->flags & FZ_CODE_NO_LME) && fz_chance(e->r, 50)) {
		mov_imm(e, CX, FZ_MSR_EFER);
		mov_imm(e, AX, fz_chance(e->r, 70) ? 0x100 : 0x901);
		mov_imm(e, DX, 0);
		BS(e, "\x0f\x30");			/* wrmsr EFER */
	}
	BS(e, "\x0f\x20\xc0");				/* mov eax, cr0 */
	if (e->bits == 16)
		b(e, 0x66);
	b(e, 0x35);					/* xor eax, imm32 */
	imm(e, fz_chance(e->r, 50) ? 0x80000001 : 1 << fz_below(e->r, 32), 4);
	BS(e, "\x0f\x22\xc0");				/* mov cr0, eax */
	t_seg(e);
}

static void t_random(struct emit *e)
{
	int n = 1 + fz_below(e->r, 16);

	while (n--)
		b(e, fz_rand32(e->r));
}

size_t fz_code_gen(struct fz_rng *r, enum fz_mode m, uint8_t *buf, size_t max,
		   unsigned int flags)
{
	static const unsigned int weights[] = {
		30, 12, 6, 4, 5, 8, 8, 3, 6, 10, 10, 3, 4, 4,
	};
	struct emit e = {
		.r = r, .mode = m, .flags = flags, .bits = fz_mode_bits(m),
		.buf = buf, .max = max - 16,
	};
	unsigned int n;

	if (fz_chance(r, 5)) {
		/* Raw random bytes only. */
		for (n = 32 + fz_below(r, 480); n; n--)
			b(&e, fz_rand32(r));
	} else {
		for (n = 1 + fz_below(r, 40); n && e.len < e.max - 64; n--) {
			switch (fz_weighted(r, weights, ARRAY_SIZE(weights))) {
			case 0:
				t_mem(&e);
				break;
			case 1:
				t_io(&e);
				break;
			case 2:
				t_string(&e);
				break;
			case 3:
				t_cpuid(&e);
				break;
			case 4:
				t_msr(&e);
				break;
			case 5:
				t_ctrl(&e);
				break;
			case 6:
				t_seg(&e);
				break;
			case 7:
				t_desc(&e);
				break;
			case 8:
				t_int(&e);
				break;
			case 9:
				t_misc(&e);
				break;
			case 10:
				t_flow(&e);
				break;
			case 11:
				t_switch(&e);
				break;
			case 12:
				t_random(&e);
				break;
			default:
				random_prefixes(&e);
				break;
			}
		}
	}
	/* The end: mov al, 0xd0; out FZ_PORT_DONE, al; hlt; jmp $ */
	e.max = max;
	b(&e, 0xb0);
	b(&e, 0xd0);
	b(&e, 0xe6);
	b(&e, FZ_PORT_DONE);
	b(&e, 0xf4);
	b(&e, 0xeb);
	b(&e, 0xfe);
	return e.len;
}
