// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_guest.c - the fuzzer's guests: their memory layout (descriptor
 * tables, exception stubs, page tables for every paging mode), putting a
 * vCPU into each CPU mode with random registers, and the KVM_RUN loop that
 * answers exits with random data.
 *
 * Layout (include/fuzz.h): slot 0 is 2 MiB of RAM at GPA 0 holding the
 * real-mode IVT, a GDT with 16-, 32- and 64-bit code and data segments
 * of both privilege levels, TSSs, an LDT and random descriptors, a 32-bit
 * and a 64-bit IDT, one stub per vector that reports the vector on port
 * FZ_PORT_EXC and halts (the same bytes work in every mode), 4-level,
 * PAE and 4 MiB page tables identity-mapping 4 GiB (user pages), the code
 * area and the data area.  Slot 1 is 64 KiB above it, read-only at times;
 * everything else is MMIO.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "fuzz.h"
#include "x86_util.h"

/* Pseudo-descriptors at FZ_G_DATA for LGDT/LIDT (16 bytes apart). */
static void desc_image(uint8_t *p, uint16_t limit, uint64_t base)
{
	memcpy(p, &limit, 2);
	memcpy(p + 2, &base, 8);
}

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access,
			 uint8_t flags)
{
	return (limit & 0xffffULL) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

static void gate(uint8_t *idt, int v, bool is64, uint16_t sel, uint64_t off,
		 uint8_t type, uint8_t ist)
{
	uint64_t lo = (off & 0xffff) | ((uint64_t)sel << 16) |
		      ((uint64_t)(ist & 7) << 32) | ((uint64_t)type << 40) |
		      ((off >> 16) & 0xffff) << 48;
	uint64_t hi = off >> 32;

	if (is64) {
		memcpy(idt + 16 * v, &lo, 8);
		memcpy(idt + 16 * v + 8, &hi, 8);
	} else {
		memcpy(idt + 8 * v, &lo, 8);
	}
}

static void layout_gdt(struct fz_rng *r, uint8_t *ram)
{
	uint64_t *gdt = (uint64_t *)(ram + FZ_G_GDT);
	uint64_t *ldt = (uint64_t *)(ram + FZ_G_LDT);
	unsigned int i;

	memset(gdt, 0, 32 * 8);
	gdt[FZ_SEL_CS64 / 8] = seg_desc(0, 0xfffff, 0x9b, 0xa);
	gdt[FZ_SEL_DS / 8] = seg_desc(0, 0xfffff, 0x93, 0xc);
	gdt[FZ_SEL_CS32 / 8] = seg_desc(0, 0xfffff, 0x9b, 0xc);
	gdt[FZ_SEL_CS16 / 8] = seg_desc(FZ_G_CODE, 0xffff, 0x9b, 0);
	gdt[FZ_SEL_DS16 / 8] = seg_desc(0, 0xffff, 0x93, 0);
	gdt[FZ_SEL_TSS64 / 8] = seg_desc(FZ_G_TSS64, 0x67, 0x89, 0);
	gdt[FZ_SEL_TSS64 / 8 + 1] = 0;
	gdt[FZ_SEL_TSS32 / 8] = seg_desc(FZ_G_TSS32, 0x67, 0x89, 0);
	gdt[FZ_SEL_LDT / 8] = seg_desc(FZ_G_LDT, 0x1f, 0x82, 0);
	gdt[FZ_SEL_CS32_U / 8] = seg_desc(0, 0xfffff, 0xfb, 0xc);
	gdt[FZ_SEL_DS_U / 8] = seg_desc(0, 0xfffff, 0xf3, 0xc);
	gdt[FZ_SEL_CS64_U / 8] = seg_desc(0, 0xfffff, 0xfb, 0xa);
	/* The rest: gates, conforming, expand-down, absent, garbage. */
	for (i = FZ_SEL_RANDOM / 8; i < 32; i++) {
		static const uint8_t acc[] = {
			0x8c, 0x85, 0x9f, 0x97, 0x1b, 0xec, 0x8b, 0xff, 0x00,
		};

		gdt[i] = fz_chance(r, 60) ?
			 seg_desc(fz_rand32(r) & 0xfffff000, fz_rand32(r),
				  acc[fz_below(r, ARRAY_SIZE(acc))], fz_below(r, 16)) :
			 fz_rand64(r);
	}
	ldt[0] = seg_desc(0, 0xfffff, 0x9b, 0xc);
	ldt[1] = seg_desc(0, 0xfffff, 0x93, 0xc);
	ldt[2] = fz_rand64(r);
	ldt[3] = seg_desc(FZ_G_DATA, 0xfff, 0xf3, 0x4);
}

static void layout_paging(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + FZ_G_PML4);
	uint64_t *pdpt = (uint64_t *)(ram + FZ_G_PDPT);
	uint64_t *pd = (uint64_t *)(ram + FZ_G_PD);
	uint32_t *pd32 = (uint32_t *)(ram + FZ_G_PD32);
	uint64_t *pae = (uint64_t *)(ram + FZ_G_PAE_PDPT);
	unsigned int i;

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	memset(pae, 0, 4096);
	/* User, writable; the lower half, and two upper-half aliases. */
	pml4[0] = pml4[256] = pml4[511] = FZ_G_PDPT | 7;
	for (i = 0; i < 4; i++) {
		pdpt[i] = (FZ_G_PD + 4096 * i) | 7;
		pae[i] = (FZ_G_PD + 4096 * i) | 1;	/* PDPTEs: P only */
	}
	pdpt[511] = FZ_G_PD | 7;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x87;	/* 2 MiB, user, RW */
	for (i = 0; i < 1024; i++)
		pd32[i] = (i << 22) | 0x87;		/* 4 MiB, user, RW */
}

void fz_guest_layout(struct fz_rng *r, uint8_t *ram, bool mutate)
{
	uint8_t *stub = ram + FZ_G_STUBS;
	uint16_t *ivt = (uint16_t *)ram;
	int v;

	for (v = 0; v < 256; v++) {
		/* mov al, v; out FZ_PORT_EXC, al; hlt; jmp $; nop */
		const uint8_t s[8] = { 0xb0, v, 0xe6, FZ_PORT_EXC, 0xf4, 0xeb,
				       0xfe, 0x90 };
		uint8_t type = (v == 3 || v == 4 || v == 0x80) ? 0xee : 0x8e;

		memcpy(stub + 8 * v, s, 8);
		ivt[2 * v] = FZ_G_STUBS + 8 * v;
		ivt[2 * v + 1] = 0;
		gate(ram + FZ_G_IDT32, v, false, FZ_SEL_CS32,
		     FZ_G_STUBS + 8 * v, type, 0);
		gate(ram + FZ_G_IDT64, v, true, FZ_SEL_CS64,
		     FZ_G_STUBS + 8 * v, type, fz_chance(r, 10));
	}
	layout_gdt(r, ram);
	layout_paging(ram);

	memset(ram + FZ_G_TSS64, 0, 0x100);
	*(uint64_t *)(ram + FZ_G_TSS64 + 4) = FZ_G_STACK_TOP - 0x1000;	/* RSP0 */
	*(uint64_t *)(ram + FZ_G_TSS64 + 0x24) = FZ_G_STACK_TOP - 0x2000; /* IST1 */
	*(uint16_t *)(ram + FZ_G_TSS64 + 0x66) = 0x68;
	memset(ram + FZ_G_TSS32, 0, 0x100);
	*(uint32_t *)(ram + FZ_G_TSS32 + 4) = FZ_G_STACK_TOP - 0x1000;	/* ESP0 */
	*(uint32_t *)(ram + FZ_G_TSS32 + 8) = FZ_SEL_DS;		/* SS0 */
	*(uint16_t *)(ram + FZ_G_TSS32 + 0x66) = 0x68;

	desc_image(ram + FZ_G_DATA, 0xff, FZ_G_GDT);
	desc_image(ram + FZ_G_DATA + 16, 0x7ff, FZ_G_IDT32);
	desc_image(ram + FZ_G_DATA + 32, 0xfff, FZ_G_IDT64);
	desc_image(ram + FZ_G_DATA + 48, 0x3ff, 0);
	fz_fill(r, ram + FZ_G_DATA + 64, 4096 - 64);
	/* Now and then a few broken bytes in the tables. */
	if (mutate && fz_chance(r, 10))
		fz_mutate(r, ram + FZ_G_GDT, FZ_G_CODE - FZ_G_GDT, 1 + fz_below(r, 4));
}

uint64_t fz_guest_addr(struct fz_rng *r, enum fz_mode m)
{
	static const uint64_t mmio[] = {
		FZ_G_MMIO, 0xfee00000ULL, 0xfec00000ULL, 0xc0000000ULL,
		0xfffff000ULL, 0xa0000ULL, 0x80000000ULL,
	};
	static const uint64_t edges[] = {
		FZ_G_RAM_SIZE, FZ_G_EXTRA + FZ_G_EXTRA_SIZE, FZ_G_CODE,
		FZ_G_DATA, 0x100000ULL, 0x10000ULL, 0x100000000ULL,
	};

	switch (fz_below(r, 12)) {
	case 0:
	case 1:
	case 2:
	case 3:
		return FZ_G_DATA + fz_below(r, FZ_G_STACK_TOP - FZ_G_DATA);
	case 4:
		return FZ_G_CODE + fz_below(r, FZ_G_CODE_SIZE);
	case 5:
		return fz_below(r, FZ_G_CODE);		/* the system tables */
	case 6:
		return FZ_G_EXTRA + fz_below(r, FZ_G_EXTRA_SIZE);
	case 7:
	case 8:
		return mmio[fz_below(r, ARRAY_SIZE(mmio))] + fz_below(r, 0x1000);
	case 9:
		return edges[fz_below(r, ARRAY_SIZE(edges))] - 1 - fz_below(r, 8);
	case 10:
		return fz_rand32(r);
	default:
		return m == FZ_MODE_LONG ? fz_interesting(r) : fz_rand32(r);
	}
}

/* ---- CPU modes ---- */

void fz_sregs_quirks(const struct fz_config *cfg, struct kvm_sregs *s)
{
	if (!cfg->qemu_tcg)
		return;
	s->tr.present = 1;
	s->tr.unusable = 0;	/* AMD-V: unusable is not present */
	s->tr.s = 0;
	s->tr.type = 9;		/* available 32-bit TSS, see struct fz_config */
	if (!(s->cr4 & X86_CR4_PAE))
		s->efer &= ~EFER_LME;
}

void fz_tr_fixup(const struct fz_config *cfg, int fd)
{
	struct kvm_sregs s;

	if (!cfg->qemu_tcg || ioctl(fd, KVM_GET_SREGS, &s))
		return;
	fz_sregs_quirks(cfg, &s);
	ioctl(fd, KVM_SET_SREGS, &s);
}

static void seg(struct kvm_segment *s, uint16_t sel, uint64_t base,
		uint32_t limit, uint8_t type, uint8_t dpl, bool db, bool l, bool g)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = type;
	s->s = 1;
	s->present = 1;
	s->dpl = dpl;
	s->db = db;
	s->l = l;
	s->g = g;
}

/* Segment registers of mode @m; CPL 3 (where it exists) if @user. */
static void mode_segments(struct kvm_sregs *s, enum fz_mode m, bool user)
{
	struct kvm_segment data;

	switch (m) {
	case FZ_MODE_REAL:
	case FZ_MODE_VM86: {
		uint8_t dpl = m == FZ_MODE_VM86 ? 3 : 0;

		seg(&s->cs, FZ_G_CODE >> 4, FZ_G_CODE, 0xffff,
		    m == FZ_MODE_VM86 ? 3 : 0xb, dpl, 0, 0, 0);
		seg(&data, 0, 0, 0xffff, 3, dpl, 0, 0, 0);
		s->ds = s->es = s->fs = s->gs = data;
		seg(&s->ss, FZ_G_STACK_TOP >> 4 & 0xf000, FZ_G_STACK_TOP & 0xf0000,
		    0xffff, 3, dpl, 0, 0, 0);
		return;
	}
	case FZ_MODE_PROT16:
		seg(&s->cs, FZ_SEL_CS16, FZ_G_CODE, 0xffff, 0xb, 0, 0, 0, 0);
		seg(&data, FZ_SEL_DS16, 0, 0xffff, 3, 0, 0, 0, 0);
		s->ds = s->es = s->fs = s->gs = data;
		seg(&s->ss, FZ_SEL_DS, 0, 0xffffffff, 3, 0, 1, 0, 1);
		return;
	default:
		break;
	}
	if (user)
		seg(&s->cs, m == FZ_MODE_LONG ? FZ_SEL_CS64_U : FZ_SEL_CS32_U,
		    0, 0xffffffff, 0xb, 3, m != FZ_MODE_LONG, m == FZ_MODE_LONG, 1);
	else
		seg(&s->cs, m == FZ_MODE_LONG ? FZ_SEL_CS64 : FZ_SEL_CS32,
		    0, 0xffffffff, 0xb, 0, m != FZ_MODE_LONG, m == FZ_MODE_LONG, 1);
	seg(&data, user ? FZ_SEL_DS_U : FZ_SEL_DS, 0, 0xffffffff, 3,
	    user ? 3 : 0, 1, 0, 1);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
}

static void mode_sregs(struct fz_rng *r, struct kvm_sregs *s, enum fz_mode m)
{
	bool lm = m == FZ_MODE_LONG || m == FZ_MODE_COMPAT;
	bool user = m >= FZ_MODE_PROT32 && fz_chance(r, 15);

	mode_segments(s, m, user);
	s->cr0 = 0x10;					/* ET */
	if (m != FZ_MODE_REAL)
		s->cr0 |= 1;				/* PE */
	if (fz_chance(r, 30))
		s->cr0 |= (1 << 5) | (1 << 16) | (1 << 1); /* NE, WP, MP */
	s->cr4 = 0;
	s->efer = 0;
	s->cr3 = 0;
	if (m == FZ_MODE_PAGED32) {
		s->cr0 |= 1ULL << 31;
		if (fz_chance(r, 50)) {
			s->cr4 = 0x10;			/* PSE */
			s->cr3 = FZ_G_PD32;
		} else {
			s->cr4 = 0x20;			/* PAE */
			s->cr3 = FZ_G_PAE_PDPT;
		}
	}
	if (lm) {
		s->cr0 |= 1ULL << 31;
		s->cr4 = 0x20;
		s->cr3 = FZ_G_PML4;
		s->efer = EFER_LME | EFER_LMA;
	}
	if (fz_chance(r, 30))
		s->efer |= EFER_SCE | (fz_chance(r, 50) ? EFER_NX : 0);
	if (fz_chance(r, 10))
		s->cr4 |= 0x200 | 0x400;		/* OSFXSR, OSXMMEXCPT */
	s->cr2 = fz_chance(r, 50) ? 0 : fz_rand64(r);
	s->cr8 = fz_chance(r, 80) ? 0 : fz_below(r, 16);

	s->gdt.base = FZ_G_GDT;
	s->gdt.limit = 0xff;
	if (m == FZ_MODE_REAL) {
		s->idt.base = 0;
		s->idt.limit = 0x3ff;
	} else {
		s->idt.base = lm ? FZ_G_IDT64 : FZ_G_IDT32;
		s->idt.limit = lm ? 0xfff : 0x7ff;
	}
	if (fz_chance(r, 10))
		s->idt.limit = 0;		/* any exception: triple fault */
	memset(&s->tr, 0, sizeof(s->tr));
	s->tr.selector = lm ? FZ_SEL_TSS64 : FZ_SEL_TSS32;
	s->tr.base = lm ? FZ_G_TSS64 : FZ_G_TSS32;
	s->tr.limit = 0x67;
	s->tr.type = 0xb;
	s->tr.present = 1;
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.selector = FZ_SEL_LDT;
	s->ldt.base = FZ_G_LDT;
	s->ldt.limit = 0x1f;
	s->ldt.type = 2;
	s->ldt.present = 1;
	memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
}

static uint64_t random_reg(struct fz_rng *r, enum fz_mode m)
{
	switch (fz_below(r, 4)) {
	case 0:
		return 0;
	case 1:
		return fz_below(r, 0x100);
	case 2:
		return fz_guest_addr(r, m);
	default:
		return fz_chance(r, 50) ? fz_interesting(r) : fz_rand64(r);
	}
}

/* The entry state of a program, for the trace. */
static void trace_state(struct fz_ctx *c, const struct kvm_sregs *s,
			const struct kvm_regs *regs)
{
	if (c->cfg->trace_fd < 0)
		return;
	fz_trace(c->cfg, "  cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx cs %x/%llx/%x l%u db%u dpl%u ss %x/%x dpl%u tr %x/%x idt %llx/%x",
		 (unsigned long long)s->cr0, (unsigned long long)s->cr3,
		 (unsigned long long)s->cr4, (unsigned long long)s->efer,
		 s->cs.selector, (unsigned long long)s->cs.base, s->cs.type,
		 s->cs.l, s->cs.db, s->cs.dpl, s->ss.selector, s->ss.type,
		 s->ss.dpl, s->tr.selector, s->tr.type,
		 (unsigned long long)s->idt.base, s->idt.limit);
	fz_trace(c->cfg, "  rip 0x%llx rsp 0x%llx rflags 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx",
		 (unsigned long long)regs->rip, (unsigned long long)regs->rsp,
		 (unsigned long long)regs->rflags, (unsigned long long)regs->rax,
		 (unsigned long long)regs->rbx, (unsigned long long)regs->rcx,
		 (unsigned long long)regs->rdx);
}

/* The program's bytes, 32 a line, for the trace. */
static void trace_code(struct fz_ctx *c, const uint8_t *code, size_t len)
{
	char line[100];
	size_t i, j;

	if (c->cfg->trace_fd < 0)
		return;
	for (i = 0; i < len; i += 32) {
		int n = 0;

		for (j = i; j < len && j < i + 32; j++)
			n += snprintf(line + n, sizeof(line) - n, "%02x", code[j]);
		fz_trace(c->cfg, "  %04zx: %s", i, line);
	}
}

int fz_guest_set_mode(struct fz_ctx *c, struct fz_rng *r, int fd,
		      enum fz_mode m)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	__u64 *gpr = &regs.rax;
	unsigned int i;

	if (ioctl(fd, KVM_GET_SREGS, &s))
		return -1;
	mode_sregs(r, &s, m);
	if (fz_chance(r, 8))
		fz_mutate(r, &s, offsetof(struct kvm_sregs, interrupt_bitmap),
			  1 + fz_below(r, 2));
	fz_sregs_quirks(c->cfg, &s);
	if (ioctl(fd, KVM_SET_SREGS, &s))
		return -1;

	memset(&regs, 0, sizeof(regs));
	for (i = 0; i < 16; i++)
		gpr[i] = random_reg(r, m);
	regs.rflags = 0x2 | (fz_rand32(r) & 0x8d5);	/* arithmetic flags, DF */
	if (fz_chance(r, 50))
		regs.rflags |= 1 << 9;			/* IF */
	if (fz_chance(r, 5))
		regs.rflags |= 1 << 8;			/* TF */
	if (fz_chance(r, 5))
		regs.rflags |= (fz_below(r, 4) << 12) | (fz_chance(r, 50) ? 1 << 14 : 0) |
			       (fz_chance(r, 50) ? 1 << 18 : 0); /* IOPL, NT, AC */
	if (m == FZ_MODE_VM86)
		regs.rflags |= 1 << 17;			/* VM */
	regs.rip = (m <= FZ_MODE_PROT16) ? 0 : FZ_G_CODE;
	regs.rsp = (m == FZ_MODE_REAL || m == FZ_MODE_VM86) ? 0xf000 - 16 :
							      FZ_G_STACK_TOP - 16;
	if (fz_chance(r, 3))
		regs.rsp = random_reg(r, m);
	trace_state(c, &s, &regs);
	return ioctl(fd, KVM_SET_REGS, &regs);
}

/* ---- running ---- */

/* An interrupt or an NMI now and then, as a VMM's device model would. */
static void maybe_inject(struct fz_ctx *c, int fd, struct kvm_run *run)
{
	struct kvm_interrupt irq = { .irq = 32 + fz_below(&c->rng, 224) };

	if (fz_chance(&c->rng, 20) && (!run || run->ready_for_interrupt_injection)) {
		if (fz_chance(&c->rng, 10))
			irq.irq = fz_below(&c->rng, 32);
		ioctl(fd, KVM_INTERRUPT, &irq);
	} else if (fz_chance(&c->rng, 5)) {
		ioctl(fd, KVM_NMI, 0);
	}
}

static enum fz_run_result run_exit(struct fz_ctx *c, int fd,
				   struct kvm_run *run, size_t run_size)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint64_t end = (uint64_t)run->io.data_offset +
			       (uint64_t)run->io.size * run->io.count;

		fz_count(FZ_ST_EXIT_IO);
		FZ_CHECK(c, run->io.size == 1 || run->io.size == 2 ||
			 run->io.size == 4, "KVM_EXIT_IO size %u", run->io.size);
		FZ_CHECK(c, run->io.direction <= 1 && run->io.count >= 1 &&
			 end <= run_size,
			 "KVM_EXIT_IO direction %u count %u data at %llu..%llu of a %zu-byte kvm_run",
			 run->io.direction, run->io.count,
			 (unsigned long long)run->io.data_offset,
			 (unsigned long long)end, run_size);
		if (run->io.direction == KVM_EXIT_IO_IN)
			fz_fill(&c->rng, (uint8_t *)run + run->io.data_offset,
				end - run->io.data_offset);
		if (run->io.port == FZ_PORT_DONE)
			return FZ_RUN_END;
		if (run->io.port == FZ_PORT_EXC) {
			fz_count(FZ_ST_GUEST_EXC);
			if (fz_chance(&c->rng, 80))
				return FZ_RUN_END;
		}
		return FZ_RUN_AGAIN;
	}
	case KVM_EXIT_MMIO:
		fz_count(FZ_ST_EXIT_MMIO);
		FZ_CHECK(c, run->mmio.len <= 8, "KVM_EXIT_MMIO len %u",
			 run->mmio.len);
		if (!run->mmio.is_write)
			fz_fill(&c->rng, run->mmio.data, sizeof(run->mmio.data));
		return FZ_RUN_AGAIN;
	case KVM_EXIT_HLT:
		fz_count(FZ_ST_EXIT_HLT);
		maybe_inject(c, fd, run);
		return fz_chance(&c->rng, 60) ? FZ_RUN_END : FZ_RUN_AGAIN;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		fz_count(FZ_ST_EXIT_OTHER);
		maybe_inject(c, fd, run);
		return FZ_RUN_AGAIN;
	case KVM_EXIT_SHUTDOWN:
		fz_count(FZ_ST_EXIT_SHUTDOWN);
		return FZ_RUN_RESET;
	case KVM_EXIT_FAIL_ENTRY:
		fz_count(FZ_ST_EXIT_FAIL_ENTRY);
		return FZ_RUN_RESET;
	case KVM_EXIT_INTERNAL_ERROR:
		fz_count(FZ_ST_EXIT_INTERNAL);
		FZ_CHECK(c, run->internal.ndata <= ARRAY_SIZE(run->internal.data),
			 "KVM_EXIT_INTERNAL_ERROR ndata %u", run->internal.ndata);
		return FZ_RUN_RESET;
	case KVM_EXIT_INTR:
		fz_count(FZ_ST_EXIT_INTR);
		return FZ_RUN_AGAIN;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		fz_count(FZ_ST_EXIT_OTHER);
		run->msr.error = fz_chance(&c->rng, 50);
		run->msr.data = fz_rand64(&c->rng);
		return FZ_RUN_AGAIN;
	case KVM_EXIT_HYPERCALL:
		fz_count(FZ_ST_EXIT_OTHER);
		run->hypercall.ret = fz_rand64(&c->rng);
		return FZ_RUN_AGAIN;
	case KVM_EXIT_DEBUG:
	case KVM_EXIT_EXCEPTION:
	case KVM_EXIT_TPR_ACCESS:
		fz_count(FZ_ST_EXIT_OTHER);
		return FZ_RUN_AGAIN;
	default:
		/* SYSTEM_EVENT and whatever a random ioctl enabled. */
		fz_count(FZ_ST_EXIT_OTHER);
		return FZ_RUN_RESET;
	}
}

enum fz_run_result fz_run_once(struct fz_ctx *c, int fd, struct kvm_run *run,
			       size_t run_size)
{
	int r, err;

	if (run) {
		run->immediate_exit = fz_chance(&c->rng, 4);
		run->request_interrupt_window = fz_chance(&c->rng, 5);
	}
	fz_count(FZ_ST_RUN);
	r = ioctl(fd, KVM_RUN, 0);
	err = errno;
	if (run)
		run->immediate_exit = 0;
	FZ_CHECK(c, r == 0 || r == -1, "KVM_RUN returned %d", r);
	if (r) {
		switch (err) {
		case EINTR:
			fz_count(FZ_ST_EXIT_INTR);
			return FZ_RUN_AGAIN;
		case EBADF:
		case ENOTTY:
		case EIO:
			fz_count(FZ_ST_RUN_ERR);
			return FZ_RUN_GONE;
		default:	/* EFAULT, EINVAL, ENOEXEC, ... */
			fz_count(FZ_ST_RUN_ERR);
			return FZ_RUN_RESET;
		}
	}
	if (!run)
		return fz_chance(&c->rng, 70) ? FZ_RUN_AGAIN : FZ_RUN_END;
	return run_exit(c, fd, run, run_size);
}

/* ---- a VM for programs ---- */

void fz_guest_create(struct fz_ctx *c, struct fz_guest *g)
{
	uint32_t flags;

	memset(g, 0, sizeof(*g));
	fz_op(c, "create a guest VM");
	g->vm = vm_create_barebones();
	g->ram = vm_mem_region_add(g->vm, 0, 0, FZ_G_RAM_SIZE, 0);
	g->extra_ro = fz_chance(&c->rng, 50);
	flags = g->extra_ro ? KVM_MEM_READONLY : 0;
	g->extra = vm_mem_region_add(g->vm, 1, FZ_G_EXTRA, FZ_G_EXTRA_SIZE, flags);
	fz_fill(&c->rng, g->extra, FZ_G_EXTRA_SIZE);
	fz_guest_layout(&c->rng, g->ram, !c->cfg->qemu_tcg);
	g->vcpu = vm_vcpu_add_raw(g->vm, 0);
	/* Mostly the supported CPUID: XSAVE, NX, ... exist for the guest. */
	if (fz_chance(&c->rng, 85))
		free(vcpu_set_supported_cpuid(g->vcpu));
	fz_count(FZ_ST_VM);
	fz_count(FZ_ST_VCPU);
}

void fz_guest_destroy(struct fz_guest *g)
{
	kvm_vm_free(g->vm);
	memset(g, 0, sizeof(*g));
}

void fz_guest_program(struct fz_ctx *c, struct fz_rng *r, struct fz_guest *g,
		      enum fz_mode m, unsigned int max_runs)
{
	struct kvm_vcpu *v = g->vcpu;
	enum fz_run_result res = FZ_RUN_AGAIN;
	size_t len;
	unsigned int i;

	fz_count(FZ_ST_PROGRAM);
	if (fz_chance(r, 50))
		fz_guest_layout(r, g->ram, !c->cfg->qemu_tcg);
	len = fz_code_gen(r, m, g->ram + FZ_G_CODE, FZ_G_CODE_SIZE - 256,
			  c->cfg->qemu_tcg ? FZ_CODE_QEMU_TCG : 0);
	fz_fill(r, g->ram + FZ_G_CODE + len, 256);
	fz_op(c, "%s program %llu of %zu bytes", fz_mode_names[m],
	      (unsigned long long)c->nsub, len);
	trace_code(c, g->ram + FZ_G_CODE, len);
	if (fz_guest_set_mode(c, r, v->fd, m))
		return;		/* a mutated state KVM refused */
	for (i = 0; i < max_runs && res == FZ_RUN_AGAIN; i++) {
		res = fz_run_once(c, v->fd, v->run, v->run_size);
		if (res == FZ_RUN_AGAIN && fz_chance(&c->rng, 3))
			fz_vcpu_state_ioctl(c, v->fd, v->vm->kvm_fd);
	}
}
