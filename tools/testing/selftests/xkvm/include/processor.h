/* SPDX-License-Identifier: GPL-2.0 */
/*
 * processor.h - x86 architectural definitions for xkvm's selftests.
 *
 * Owns: control-register/EFER bits, page-table entry bits, the guest memory
 * layout the library builds (GDT, IDT, TSS, page-table pool, stack), and the
 * small inline-assembly helpers guest code may use (port I/O, CPUID, RDTSC,
 * HLT).  Everything here is architecture, not KVM ABI; it is safe to include
 * from guest code (no libc calls).
 */
#ifndef XKVM_SELFTEST_PROCESSOR_H
#define XKVM_SELFTEST_PROCESSOR_H

#include <stdint.h>

#ifndef ARRAY_SIZE	/* kselftest.h has one too */
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define PAGE_SIZE		4096ULL
#define PAGE_MASK		(~(PAGE_SIZE - 1))

#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_MP		(1ULL << 1)
#define X86_CR0_EM		(1ULL << 2)
#define X86_CR0_TS		(1ULL << 3)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_NE		(1ULL << 5)
#define X86_CR0_WP		(1ULL << 16)
#define X86_CR0_AM		(1ULL << 18)
#define X86_CR0_NW		(1ULL << 29)
#define X86_CR0_CD		(1ULL << 30)
#define X86_CR0_PG		(1ULL << 31)

#define X86_CR4_PAE		(1ULL << 5)
#define X86_CR4_OSFXSR		(1ULL << 9)
#define X86_CR4_OSXMMEXCPT	(1ULL << 10)

#define EFER_SCE		(1ULL << 0)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define EFER_NX			(1ULL << 11)

#define X86_EFLAGS_FIXED	(1ULL << 1)
#define X86_EFLAGS_IF		(1ULL << 9)

/* Page-table entry bits (4-level paging). */
#define PTE_PRESENT		(1ULL << 0)
#define PTE_WRITABLE		(1ULL << 1)
#define PTE_USER		(1ULL << 2)
#define PTE_ACCESSED		(1ULL << 5)
#define PTE_DIRTY		(1ULL << 6)
#define PTE_LARGE		(1ULL << 7)
#define PTE_ADDR_MASK		0x000ffffffffff000ULL

/* Exception vectors. */
#define DE_VECTOR		0
#define DB_VECTOR		1
#define BP_VECTOR		3
#define UD_VECTOR		6
#define DF_VECTOR		8
#define GP_VECTOR		13
#define PF_VECTOR		14

/*
 * Guest-physical (and, identity mapped, guest-virtual) layout of the
 * memory slot the library creates for a long-mode VM.  Page 0 is left
 * unmapped so that a NULL dereference in guest code faults.  The test
 * binary's own ELF segments start at 0x400000 (static, non-PIE) and are
 * loaded at their link addresses above this area.
 */
#define GUEST_GDT_GPA		0x1000ULL
#define GUEST_IDT_GPA		0x2000ULL
#define GUEST_TSS_GPA		0x3000ULL
#define GUEST_PT_POOL_GPA	0x10000ULL
#define GUEST_PT_POOL_END	0x100000ULL
#define GUEST_STACK_GPA		0x100000ULL
#define GUEST_STACK_TOP		0x200000ULL
#define GUEST_SYS_END		0x400000ULL

/* GDT selectors set up by the library. */
#define GUEST_CS_SEL		0x08
#define GUEST_DS_SEL		0x10
#define GUEST_TSS_SEL		0x18

/* Real-mode guests: where vm_create_realmode() puts the code bytes. */
#define REALMODE_MEM_SIZE	0x100000ULL
#define REALMODE_CODE_GPA	0x1000ULL
#define REALMODE_STACK_TOP	0xf000ULL

static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ __volatile__("outw %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t val;

	__asm__ __volatile__("inb %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t val;

	__asm__ __volatile__("inl %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *eax,
			 uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
	__asm__ __volatile__("cpuid"
			     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
			     : "a"(leaf), "c"(subleaf)
			     : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void hlt(void)
{
	__asm__ __volatile__("hlt" : : : "memory");
}

static inline uint64_t read_cr0(void)
{
	uint64_t v;

	__asm__ __volatile__("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ __volatile__("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* Pseudo-descriptor operand of LGDT/LIDT. */
struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* What the library's IDT stubs push before calling the common handler. */
struct ex_regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

#endif /* XKVM_SELFTEST_PROCESSOR_H */
