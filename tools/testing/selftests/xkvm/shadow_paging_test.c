// SPDX-License-Identifier: GPL-2.0
/*
 * shadow_paging_test.c - guest paging as the guest sees it, which any
 * correct MMU must reproduce, two-dimensional (NPT/EPT) or shadow (the
 * vendor module loaded with npt=0 / ept=0):
 *
 *  - a PTE the guest rewrites is seen after INVLPG or a CR3 reload, also
 *    when the write goes through another (4 KiB or 2 MiB) mapping of the
 *    page table, by a locked or a partial store, or edits the alias's own
 *    PTE; a present bit set 0 -> 1 needs no flush;
 *  - accessed and dirty bits: set by reads / writes in the guest's own
 *    entries (leaf and upper levels, 4 KiB and 2 MiB leaves), D only on
 *    write;
 *  - #PF error codes and CR2: write to a read-only page (fixed by the
 *    handler, then retried), CR0.WP toggled back and forth, NX at the PTE
 *    and the PDE level (EFER.NXE toggled), not-present PTE and PDE,
 *    reserved bits (above MAXPHYADDR, NX without EFER.NXE, PS in a PML4E),
 *    CPL3 accesses to supervisor pages, to read-only user pages, through a
 *    PDE without U, and CR0.WP=0 supervisor writes mixed with CPL3 access;
 *  - 2 MiB guest pages over 4 KiB-backed and THP-backed slots hit the
 *    right guest-physical pages (checked from the host too);
 *  - 64 address spaces (CR3 roots) switched round after round, including
 *    edits to the page tables of spaces that are not current;
 *  - global pages (CR4.PGE): a retargeted global 4 KiB or 2 MiB page is
 *    seen after INVLPG and after CR4.PGE is toggled; non-global pages
 *    retargeted while global ones are mapped are seen after MOV to CR3
 *    (a few of them and more than a shadow MMU may note one by one); and
 *    global translations survive MOV to CR3: re-reading 64 global pages
 *    after each of 100 CR3 switches must not exit per page (a shadow MMU
 *    that drops them on every MOV to CR3 made a Linux guest's boot with
 *    one CPU, which patches thousands of instructions with text_poke(),
 *    take minutes);
 *  - 32-bit protected mode from hand-written code: no paging, 2-level
 *    paging (4 KiB and 4 MiB PSE pages), PAE paging (4 KiB and 2 MiB
 *    pages), a #PF through a 32-bit IDT gate in both, the A/D bits the
 *    walks leave, and KVM_SET_SREGS refusing inconsistent paging modes.
 *
 * Guest memory: the library's VM plus a 4 MiB data slot at DATA_GPA,
 * identity mapped, whose every page starts with MARK(its gpa); the guest
 * reaches its own page tables through the identity mapping of the
 * library's page-table pool.  The gvas under test live in PML4 slots the
 * library does not use, so their upper-level entries are theirs alone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "stats_util.h"
#include "x86_util.h"

#define DATA_GPA	0x40000000ULL		/* 1 GiB */
#define DATA_SIZE	(4ULL << 20)
#define SZ_2M		(2ULL << 20)
#define X_GVA		0x10000000000ULL	/* PML4 slot 2 */
#define X2_GVA		0x18000000000ULL	/* PML4 slot 3 */
#define L_GVA		0x20000000000ULL	/* PML4 slot 4 */
#define POISON		0xdeadbeefdeadbeefULL
#define MARK(gpa)	(0x5afe000000000000ULL | (gpa))

#define PTE_GLOBAL	(1ULL << 8)
#define PTE_NX		(1ULL << 63)
#define PTE_BIT51	(1ULL << 51)
#define PTE_PW		(PTE_PRESENT | PTE_WRITABLE)
#define PTE_AD		(PTE_ACCESSED | PTE_DIRTY)

#define PFERR_P		0x1ULL
#define PFERR_W		0x2ULL
#define PFERR_U		0x4ULL
#define PFERR_RSVD	0x8ULL
#define PFERR_FETCH	0x10ULL

/* Ring-3 selectors this test adds to the library's GDT (entries 5, 6). */
#define USER_CS_SEL	(0x28 | 3)
#define USER_DS_SEL	(0x30 | 3)
#define STR(x)		#x
#define XSTR(x)		STR(x)

/* ---------------------------- guest side ---------------------------- */

/* What the host tells the guest (synced before the first run). */
static struct {
	uint64_t x, x2;			/* gvas under test */
	uint64_t ent[5], ent2[5];	/* gva of their entry at level 1..4 */
	uint64_t page[8];		/* gpas of data pages */
	uint64_t arg[8];		/* test specific */
} p;

/* cr3_switch_many: the address spaces (root, gva of x's PTE, x's page). */
#define NR_SPACES	64
static uint64_t roots[NR_SPACES], space_pt[NR_SPACES], space_page[NR_SPACES];

enum { PF_REPORT, PF_SKIP, PF_FIX };

/* The #PF handler's record and orders (guest only). */
static volatile struct {
	uint64_t count, error, cr2;
	uint64_t action;		/* PF_*: what to do with the next one */
	uint64_t fix_ent, fix_set;	/* PF_FIX: *fix_ent |= fix_set */
} pf;

/* CPL3 faults of the last user_run(). */
static volatile struct {
	uint64_t n, err[4], cr2[4];
	uint64_t rax;			/* what the probe read */
} ufault;

/* Used by enter_user (asm): the ring-0 stack to return to, the ring-3 one. */
uint64_t shadow_test_kernel_rsp, shadow_test_user_rsp;

uint64_t g_read(uint64_t gva);
void g_write(uint64_t gva, uint64_t val);
void enter_user(uint64_t rd, uint64_t wr, uint64_t val);
extern char g_read_insn[], g_read_resume[], g_write_insn[], g_write_resume[];
extern char user_code[], user_code_end[], u_read_insn[], u_write_insn[];
extern char u_exit_insn[], user_return[];

/*
 * g_read/g_write: one access at a known RIP, so that the #PF handler can
 * skip it.  user_code: the CPL3 probe, reading (%rdi), writing %rdx to
 * (%rsi) and then leaving through a fault on gva 0 (never mapped);
 * enter_user starts it with IRETQ and user_return is where the #PF
 * handler brings the guest back to ring 0.
 */
__asm__(
	".pushsection .text\n"
	".balign 16\n"
	"g_read:\n"
	"g_read_insn:\n"
	"	movq (%rdi), %rax\n"
	"g_read_resume:\n"
	"	ret\n"
	"g_write:\n"
	"g_write_insn:\n"
	"	movq %rsi, (%rdi)\n"
	"g_write_resume:\n"
	"	ret\n"
	"enter_user:\n"
	"	pushq %rbx\n"
	"	pushq %rbp\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, shadow_test_kernel_rsp(%rip)\n"
	"	pushq $" XSTR(USER_DS_SEL) "\n"
	"	pushq shadow_test_user_rsp(%rip)\n"
	"	pushq $2\n"
	"	pushq $" XSTR(USER_CS_SEL) "\n"
	"	leaq user_code(%rip), %rax\n"
	"	pushq %rax\n"
	"	xorl %ecx, %ecx\n"
	"	iretq\n"
	"user_return:\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbp\n"
	"	popq %rbx\n"
	"	ret\n"
	".popsection\n"
	".pushsection .text.shadow_user, \"ax\", @progbits\n"
	".balign 4096\n"
	"user_code:\n"
	"u_read_insn:\n"
	"	movq (%rdi), %rax\n"
	"u_write_insn:\n"
	"	movq %rdx, (%rsi)\n"
	"u_exit_insn:\n"
	"	movq (%rcx), %rcx\n"
	"	ud2\n"
	".balign 4096\n"
	"user_code_end:\n"
	".popsection\n");

static inline volatile uint64_t *E(uint64_t gva)
{
	return (volatile uint64_t *)(uintptr_t)gva;
}

static inline uint64_t rd(uint64_t gva)
{
	return *E(gva);
}

static inline void wr(uint64_t gva, uint64_t val)
{
	*E(gva) = val;
}

static inline void invlpg(uint64_t gva)
{
	__asm__ __volatile__("invlpg (%0)" : : "r"(gva) : "memory");
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(uint64_t v)
{
	__asm__ __volatile__("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline void write_cr3(uint64_t v)
{
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void reload_cr3(void)
{
	write_cr3(read_cr3());
}

static inline uint64_t call_gva(uint64_t gva)
{
	return ((uint64_t (*)(void))(uintptr_t)gva)();
}

/* Run the access (the trailing arguments): one #PF with @err at @addr. */
#define EXPECT_PF(addr, err, ...)					\
do {									\
	uint64_t __n = pf.count;					\
	__VA_ARGS__;							\
	GUEST_ASSERT_EQ(pf.count, __n + 1);				\
	GUEST_ASSERT_EQ(pf.error, (err));				\
	GUEST_ASSERT_EQ(pf.cr2, (addr));				\
} while (0)

#define EXPECT_NO_PF(...)						\
do {									\
	uint64_t __n = pf.count;					\
	__VA_ARGS__;							\
	GUEST_ASSERT_EQ(pf.count, __n);					\
} while (0)

static bool user_fault(struct ex_regs *regs, uint64_t cr2)
{
	uint64_t n = ufault.n;

	if (n < ARRAY_SIZE(ufault.err)) {
		ufault.err[n] = regs->error_code;
		ufault.cr2[n] = cr2;
	}
	ufault.n = n + 1;
	if (regs->rip == (uintptr_t)u_read_insn) {
		regs->rip = (uintptr_t)u_write_insn;
		regs->rax = POISON;
		return true;
	}
	if (regs->rip == (uintptr_t)u_write_insn) {
		regs->rip = (uintptr_t)u_exit_insn;
		return true;
	}
	if (regs->rip == (uintptr_t)u_exit_insn) {
		ufault.rax = regs->rax;
		regs->rip = (uintptr_t)user_return;
		regs->cs = GUEST_CS_SEL;
		regs->ss = GUEST_DS_SEL;
		regs->rsp = shadow_test_kernel_rsp;
		regs->rflags = X86_EFLAGS_FIXED;
		return true;
	}
	return false;
}

static void guest_pf_handler(struct ex_regs *regs)
{
	uint64_t cr2 = read_cr2();

	pf.count++;
	pf.error = regs->error_code;
	pf.cr2 = cr2;
	if ((regs->cs & 3) == 3) {
		if (user_fault(regs, cr2))
			return;
	} else if (pf.action == PF_FIX) {
		/* one fix, then the retried access must go through */
		*E(pf.fix_ent) |= pf.fix_set;
		invlpg(cr2);
		pf.action = PF_REPORT;
		return;
	} else if (pf.action == PF_SKIP) {
		if (regs->rip == (uintptr_t)g_read_insn) {
			regs->rip = (uintptr_t)g_read_resume;
			regs->rax = POISON;
			return;
		}
		if (regs->rip == (uintptr_t)g_write_insn) {
			regs->rip = (uintptr_t)g_write_resume;
			return;
		}
		if (regs->rip == cr2 && (regs->error_code & PFERR_FETCH)) {
			/* a call into a page it may not run: back to the caller */
			regs->rip = *(uint64_t *)(uintptr_t)regs->rsp;
			regs->rsp += 8;
			regs->rax = POISON;
			return;
		}
	}
	for (;;) {
		ucall(UCALL_EXCEPTION, PF_VECTOR, regs->error_code, regs->rip,
		      cr2);
		hlt();
	}
}

/* ---------------------------- host side ---------------------------- */

struct env {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint8_t *data;			/* host view of the data slot */
	uint64_t next;			/* next free data page (gpa) */
};

static uint64_t pidx(uint64_t gva, int level)
{
	return (gva >> (12 + 9 * (level - 1))) & 0x1ff;
}

/* GPA of @gva's paging entry at @level (1 = PTE ... 4 = PML4E) under @root. */
static uint64_t entry_gpa(struct kvm_vm *vm, uint64_t root, uint64_t gva,
			  int level)
{
	uint64_t table = root, e;
	int l;

	for (l = 4; l > level; l--) {
		e = *(uint64_t *)addr_gpa2hva(vm, table + pidx(gva, l) * 8);
		TEST_ASSERT(e & PTE_PRESENT, "gva 0x%llx: no table below level %d",
			    (unsigned long long)gva, l);
		TEST_ASSERT(!(e & PTE_LARGE), "gva 0x%llx: leaf at level %d",
			    (unsigned long long)gva, l);
		table = e & PTE_ADDR_MASK;
	}
	return table + pidx(gva, level) * 8;
}

/* Host view of @gva's entry at @level in the library's page tables. */
static uint64_t *entry(struct kvm_vm *vm, uint64_t gva, int level)
{
	return addr_gpa2hva(vm, entry_gpa(vm, vm->pml4_gpa, gva, level));
}

static void *hva(struct env *e, uint64_t gpa)
{
	return addr_gpa2hva(e->vm, gpa);
}

/* A data page (it holds MARK(gpa) at offset 0). */
static uint64_t page_alloc(struct env *e)
{
	uint64_t gpa = e->next;

	TEST_ASSERT(gpa < DATA_GPA + DATA_SIZE, "data slot exhausted");
	e->next += PAGE_SIZE;
	return gpa;
}

static uint64_t table_alloc(struct env *e)
{
	uint64_t gpa = page_alloc(e);

	memset(hva(e, gpa), 0, PAGE_SIZE);
	return gpa;
}

/* Map @gva to @gpa with a 4 KiB PTE of exactly @flags. */
static void map_4k(struct env *e, uint64_t gva, uint64_t gpa, uint64_t flags)
{
	virt_map(e->vm, gva, gpa, PAGE_SIZE);
	*entry(e->vm, gva, 1) = gpa | flags;
}

/* Map @gva to @gpa with a 2 MiB PDE leaf (its page table stays unused). */
static void map_2m(struct env *e, uint64_t gva, uint64_t gpa)
{
	virt_map(e->vm, gva, gpa, PAGE_SIZE);
	*entry(e->vm, gva, 2) = gpa | PTE_PW | PTE_LARGE;
}

/* The gvas (identity mapped) of @gva's entries at level 1..4. */
static void entries_of(struct env *e, uint64_t gva, int leaf, uint64_t ent[5])
{
	int l;

	for (l = leaf; l <= 4; l++)
		ent[l] = entry_gpa(e->vm, e->vm->pml4_gpa, gva, l);
}

static void env_create(struct env *e, void *guest_code)
{
	uint64_t off;

	memset(&p, 0, sizeof(p));
	e->vm = vm_create_with_one_vcpu(&e->vcpu, guest_code);
	e->data = vm_mem_region_add_mapped(e->vm, 1, DATA_GPA, DATA_SIZE, 0);
	for (off = 0; off < DATA_SIZE; off += PAGE_SIZE)
		*(uint64_t *)(e->data + off) = MARK(DATA_GPA + off);
	e->next = DATA_GPA;
	/* the guest edits its page tables through their identity mapping */
	virt_map(e->vm, GUEST_PT_POOL_GPA, GUEST_PT_POOL_GPA,
		 GUEST_PT_POOL_END - GUEST_PT_POOL_GPA);
	vm_install_exception_handler(e->vm, PF_VECTOR, guest_pf_handler);
}

static void env_sync(struct env *e)
{
	sync_global_to_guest(e->vm, p);
}

/* --------------------- 1. PTE edits seen after a flush --------------------- */

static void guest_pte_edit(void)
{
	volatile uint64_t *pte = E(p.ent[1]);
	uint64_t i, pg;

	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[0]));
	*pte = p.page[1] | PTE_PW;
	invlpg(p.x);
	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[1]));
	*pte = p.page[2] | PTE_PW;
	reload_cr3();
	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[2]));
	wr(p.x + 8, 0xc);
	GUEST_SYNC(1);

	/* edit after edit, each flushed one way or the other, each used */
	for (i = 0; i < 300; i++) {
		pg = p.page[i % 3];
		*pte = pg | PTE_PW;
		if (i & 1)
			invlpg(p.x);
		else
			reload_cr3();
		GUEST_ASSERT_EQ(rd(p.x), MARK(pg));
		wr(p.x + 16, i);
	}
	GUEST_SYNC(2);
}

TEST(pte_edit_seen)
{
	struct env e;
	int i;

	env_create(&e, guest_pte_edit);
	for (i = 0; i < 3; i++)
		p.page[i] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PW);
	entries_of(&e, X_GVA, 1, p.ent);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	EXPECT_EQ(0, *(uint64_t *)((uint8_t *)hva(&e, p.page[0]) + 8));
	EXPECT_EQ(0, *(uint64_t *)((uint8_t *)hva(&e, p.page[1]) + 8));
	EXPECT_EQ(0xc, *(uint64_t *)((uint8_t *)hva(&e, p.page[2]) + 8));

	vcpu_expect_sync(e.vcpu, 2);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(297 + i, *(uint64_t *)((uint8_t *)hva(&e, p.page[i]) + 16));
	EXPECT_EQ(p.page[2], *entry(e.vm, X_GVA, 1) & PTE_ADDR_MASK);
	kvm_vm_free(e.vm);
}

/* ------------------------- 2. accessed and dirty ------------------------- */

/* @x's leaf is at level @leaf; @off: a page inside it holding @mark. */
static void check_ad(uint64_t x, const uint64_t *ent, int leaf, uint64_t off,
		     uint64_t mark, uint64_t val)
{
	volatile uint64_t *lf = E(ent[leaf]);
	int l;

	for (l = 4; l > leaf; l--)
		*E(ent[l]) &= ~PTE_ACCESSED;
	*lf &= ~PTE_AD;
	invlpg(x);

	/* a read: A at every level, no D */
	GUEST_ASSERT_EQ(rd(x + off), mark);
	for (l = 4; l > leaf; l--)
		GUEST_ASSERT_EQ(*E(ent[l]) & PTE_ACCESSED, PTE_ACCESSED);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_ACCESSED);
	GUEST_ASSERT_EQ(rd(x + off + 8), 0);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_ACCESSED);

	/* a write through the mapping the read left: D */
	wr(x + off + 8, val);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_AD);

	/* D cleared alone: reads keep it clear, a write sets it again */
	*lf &= ~PTE_DIRTY;
	invlpg(x);
	GUEST_ASSERT_EQ(rd(x + off + 8), val);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_ACCESSED);
	wr(x + off + 8, val + 1);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_AD);

	/* both cleared, then a write first: A and D together */
	*lf &= ~PTE_AD;
	invlpg(x);
	wr(x + off + 16, val + 2);
	GUEST_ASSERT_EQ(*lf & PTE_AD, PTE_AD);
}

static void guest_ad(void)
{
	check_ad(p.x, p.ent, 1, 0, MARK(p.page[0]), 0x100);
	GUEST_SYNC(1);
	check_ad(p.x2, p.ent2, 2, p.arg[0], MARK(p.page[1] + p.arg[0]), 0x200);
	GUEST_SYNC(2);
}

TEST(accessed_dirty)
{
	const uint64_t off2m = 0x123000;
	struct env e;
	uint64_t *v;

	env_create(&e, guest_ad);
	p.page[0] = page_alloc(&e);
	p.page[1] = DATA_GPA + SZ_2M;		/* the slot's second 2 MiB */
	p.x = X_GVA;
	p.x2 = X2_GVA;
	p.arg[0] = off2m;
	map_4k(&e, X_GVA, p.page[0], PTE_PW);
	map_2m(&e, X2_GVA, p.page[1]);
	entries_of(&e, X_GVA, 1, p.ent);
	entries_of(&e, X2_GVA, 2, p.ent2);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	v = hva(&e, p.page[0]);
	EXPECT_EQ(0x101, v[1]);
	EXPECT_EQ(0x102, v[2]);
	EXPECT_EQ(PTE_AD, *entry(e.vm, X_GVA, 1) & PTE_AD);

	vcpu_expect_sync(e.vcpu, 2);
	v = hva(&e, p.page[1] + off2m);
	EXPECT_EQ(MARK(p.page[1] + off2m), v[0]);
	EXPECT_EQ(0x201, v[1]);
	EXPECT_EQ(0x202, v[2]);
	EXPECT_EQ(PTE_AD, *entry(e.vm, X2_GVA, 2) & PTE_AD);
	EXPECT_EQ(PTE_ACCESSED, *entry(e.vm, X2_GVA, 3) & PTE_ACCESSED);
	kvm_vm_free(e.vm);
}

/* ---------------- 3. write to a read-only page, fixed, retried ---------------- */

static void guest_wp_fault(void)
{
	volatile uint64_t *pte = E(p.ent[1]);

	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[0]));	/* read-only, cached */

	pf.fix_ent = p.ent[1];
	pf.fix_set = PTE_WRITABLE;
	pf.action = PF_FIX;
	EXPECT_PF(p.x + 0x238, PFERR_P | PFERR_W, wr(p.x + 0x238, 0x1234));
	GUEST_ASSERT_EQ(pf.action, PF_REPORT);
	GUEST_ASSERT_EQ(rd(p.x + 0x238), 0x1234);
	GUEST_ASSERT_EQ(*pte & (PTE_WRITABLE | PTE_DIRTY),
			PTE_WRITABLE | PTE_DIRTY);
	GUEST_SYNC(1);

	/* read-only again, flushed by INVLPG */
	*pte &= ~PTE_WRITABLE;
	invlpg(p.x);
	GUEST_ASSERT_EQ(rd(p.x + 0x238), 0x1234);
	pf.action = PF_FIX;
	EXPECT_PF(p.x + 0x240, PFERR_P | PFERR_W, wr(p.x + 0x240, 0x5678));
	GUEST_ASSERT_EQ(rd(p.x + 0x240), 0x5678);

	/* read-only again, flushed by a CR3 reload */
	*pte &= ~PTE_WRITABLE;
	reload_cr3();
	pf.action = PF_FIX;
	EXPECT_PF(p.x + 0xff8, PFERR_P | PFERR_W, wr(p.x + 0xff8, 0x9abc));
	GUEST_ASSERT_EQ(rd(p.x + 0xff8), 0x9abc);
	GUEST_SYNC(2);
}

TEST(write_protect_fault)
{
	struct env e;
	uint64_t *v;

	env_create(&e, guest_wp_fault);
	p.page[0] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PRESENT);
	entries_of(&e, X_GVA, 1, p.ent);
	env_sync(&e);

	v = hva(&e, p.page[0]);
	vcpu_expect_sync(e.vcpu, 1);
	EXPECT_EQ(0x1234, v[0x238 / 8]);
	vcpu_expect_sync(e.vcpu, 2);
	EXPECT_EQ(0x5678, v[0x240 / 8]);
	EXPECT_EQ(0x9abc, v[0xff8 / 8]);
	EXPECT_EQ(MARK(p.page[0]), v[0]);
	kvm_vm_free(e.vm);
}

/* ------------------------------- 4. CR0.WP ------------------------------- */

static void guest_cr0_wp(void)
{
	uint64_t cr0 = read_cr0(), i;

	GUEST_ASSERT(cr0 & X86_CR0_WP);
	pf.action = PF_SKIP;
	for (i = 0; i < 4; i++) {
		/* WP=1: readable, not writable */
		EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(p.x), MARK(p.page[0])));
		EXPECT_PF(p.x + 8, PFERR_P | PFERR_W, g_write(p.x + 8, 200 + i));
		GUEST_ASSERT_EQ(rd(p.x + 8), i ? 99 + i : 0);

		/* WP=0: a supervisor write goes through */
		write_cr0(cr0 & ~X86_CR0_WP);
		EXPECT_NO_PF(g_write(p.x + 8, 100 + i));
		GUEST_ASSERT_EQ(rd(p.x + 8), 100 + i);
		GUEST_ASSERT_EQ(*E(p.ent[1]) & (PTE_WRITABLE | PTE_DIRTY),
				PTE_DIRTY);
		write_cr0(cr0);
		EXPECT_PF(p.x + 16, PFERR_P | PFERR_W, g_write(p.x + 16, 300 + i));
	}
	GUEST_ASSERT_EQ(rd(p.x + 16), 0);
	GUEST_SYNC(1);
}

TEST(cr0_wp)
{
	struct env e;
	uint64_t *v;

	env_create(&e, guest_cr0_wp);
	p.page[0] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PRESENT);
	entries_of(&e, X_GVA, 1, p.ent);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	v = hva(&e, p.page[0]);
	EXPECT_EQ(103, v[1]);
	EXPECT_EQ(0, v[2]);
	EXPECT_EQ(0, *entry(e.vm, X_GVA, 1) & PTE_WRITABLE);
	kvm_vm_free(e.vm);
}

/* ------------------------------ 5. NX ------------------------------ */

static void guest_nx(void)
{
	volatile uint64_t *pte = E(p.ent[1]), *pde = E(p.ent[2]);
	uint64_t fn = p.x + 0x40, efer;
	uint32_t a, b, c, d;

	cpuid(0x80000001, 0, &a, &b, &c, &d);
	GUEST_ASSERT(d & (1U << 20));
	pf.action = PF_SKIP;
	efer = rdmsr(MSR_EFER);
	wrmsr(MSR_EFER, efer | EFER_NX);

	EXPECT_PF(fn, PFERR_P | PFERR_FETCH, GUEST_ASSERT_EQ(call_gva(fn), POISON));
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(p.x), MARK(p.page[0])));

	*pte &= ~PTE_NX;
	invlpg(p.x);
	EXPECT_NO_PF(GUEST_ASSERT_EQ(call_gva(fn), 42));

	*pte |= PTE_NX;
	invlpg(p.x);
	EXPECT_PF(fn, PFERR_P | PFERR_FETCH, GUEST_ASSERT_EQ(call_gva(fn), POISON));

	/* NX in the PDE alone forbids it as well */
	*pte &= ~PTE_NX;
	*pde |= PTE_NX;
	invlpg(p.x);
	EXPECT_PF(fn, PFERR_P | PFERR_FETCH, GUEST_ASSERT_EQ(call_gva(fn), POISON));
	*pde &= ~PTE_NX;
	invlpg(p.x);
	EXPECT_NO_PF(GUEST_ASSERT_EQ(call_gva(fn), 42));

	/* back without EFER.NXE: runs (no NX bit anywhere) */
	wrmsr(MSR_EFER, efer);
	EXPECT_NO_PF(GUEST_ASSERT_EQ(call_gva(fn), 42));
	GUEST_SYNC(1);
}

TEST(nx)
{
	static const uint8_t mov_eax_42_ret[] = { 0xb8, 42, 0, 0, 0, 0xc3 };
	struct env e;

	env_create(&e, guest_nx);
	vcpu_set_supported_cpuid(e.vcpu);
	p.page[0] = page_alloc(&e);
	memcpy((uint8_t *)hva(&e, p.page[0]) + 0x40, mov_eax_42_ret,
	       sizeof(mov_eax_42_ret));
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PW | PTE_NX);
	entries_of(&e, X_GVA, 1, p.ent);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	kvm_vm_free(e.vm);
}

/* ----------------------- 6. not present, reserved bits ----------------------- */

/*
 * A reserved-bit #PF: RSVD with P (SDM 4.7: RSVD can be set only if P is;
 * AMD and KVM's shadow MMU agree).  QEMU's TCG CPU, the test machine here,
 * leaves P clear, and with NPT/EPT the guest's #PF comes from that CPU, not
 * from the hypervisor: P is required only under shadow paging (p.arg[0]),
 * where the hypervisor builds the error code.  Counted in rsvd_without_p.
 */
static uint64_t rsvd_without_p;

#define EXPECT_PF_RSVD(addr, err, ...)					\
do {									\
	uint64_t __n = pf.count;					\
	__VA_ARGS__;							\
	GUEST_ASSERT_EQ(pf.count, __n + 1);				\
	GUEST_ASSERT_EQ(pf.error | (p.arg[0] ? 0 : PFERR_P), (err));	\
	GUEST_ASSERT_EQ(pf.cr2, (addr));				\
	rsvd_without_p += !(pf.error & PFERR_P);			\
} while (0)

static void guest_not_present(void)
{
	volatile uint64_t *pte = E(p.ent[1]), *pde = E(p.ent[2]);
	volatile uint64_t *pml4e = E(p.ent[4]);
	uint64_t x = p.x, mark = MARK(p.page[0]);
	uint32_t a, b, c, d, maxphy = 36;

	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a >= 0x80000008) {
		cpuid(0x80000008, 0, &a, &b, &c, &d);
		maxphy = a & 0xff;
	}
	pf.action = PF_SKIP;

	EXPECT_PF(x, 0, GUEST_ASSERT_EQ(g_read(x), POISON));
	EXPECT_PF(x + 0x18, PFERR_W, g_write(x + 0x18, 1));

	/* present 0 -> 1 needs no flush */
	*pte |= PTE_PW;
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));
	EXPECT_NO_PF(g_write(x + 0x18, 7));

	/* present 1 -> 0 needs one */
	*pte &= ~PTE_PRESENT;
	invlpg(x);
	EXPECT_PF(x, 0, g_read(x));
	*pte |= PTE_PRESENT;

	/* a not-present PDE, then present again without a flush */
	*pde &= ~PTE_PRESENT;
	invlpg(x);
	EXPECT_PF(x + 8, 0, g_read(x + 8));
	EXPECT_PF(x + 0x20, PFERR_W, g_write(x + 0x20, 2));
	*pde |= PTE_PRESENT;
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));

	/* a physical-address bit above MAXPHYADDR: in the PTE, in the PDE */
	if (maxphy < 52) {
		*pte |= PTE_BIT51;
		invlpg(x);
		EXPECT_PF_RSVD(x, PFERR_P | PFERR_RSVD, g_read(x));
		EXPECT_PF_RSVD(x + 0x20, PFERR_P | PFERR_W | PFERR_RSVD,
			  g_write(x + 0x20, 3));
		*pte &= ~PTE_BIT51;
		invlpg(x);
		EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));

		*pde |= PTE_BIT51;
		invlpg(x);
		EXPECT_PF_RSVD(x, PFERR_P | PFERR_RSVD, g_read(x));
		*pde &= ~PTE_BIT51;
		invlpg(x);
		EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));
	}

	/* NX is reserved while EFER.NXE is clear */
	GUEST_ASSERT(!(rdmsr(MSR_EFER) & EFER_NX));
	*pte |= PTE_NX;
	invlpg(x);
	EXPECT_PF_RSVD(x, PFERR_P | PFERR_RSVD, g_read(x));
	*pte &= ~PTE_NX;
	invlpg(x);
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));

	/* PS is reserved in a PML4 entry */
	*pml4e |= PTE_LARGE;
	invlpg(x);
	EXPECT_PF_RSVD(x, PFERR_P | PFERR_RSVD, g_read(x));
	*pml4e &= ~PTE_LARGE;
	invlpg(x);
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), mark));
	GUEST_SYNC_ARGS(maxphy, rsvd_without_p, 0, 0);
}

TEST(not_present)
{
	struct env e;
	struct ucall uc;
	uint64_t *v;

	env_create(&e, guest_not_present);
	vcpu_set_supported_cpuid(e.vcpu);
	p.page[0] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], 0);		/* address, no P */
	entries_of(&e, X_GVA, 1, p.ent);
	p.arg[0] = xkvm_shadow_paging();
	env_sync(&e);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(e.vcpu, &uc));
	TH_LOG("guest MAXPHYADDR %llu; %s paging; %llu reserved-bit #PFs without P",
	       (unsigned long long)uc.args[0], p.arg[0] ? "shadow" : "2D",
	       (unsigned long long)uc.args[1]);
	v = hva(&e, p.page[0]);
	EXPECT_EQ(7, v[3]);
	EXPECT_EQ(0, v[4]);
	kvm_vm_free(e.vm);
}

/* ------------------------- 7. 2 MiB guest pages ------------------------- */

#define LP_GPA		0x80000000ULL	/* slot 2, 4 KiB-backed */
#define LP_SLOT_SIZE	(4ULL << 20)
#define LP_THP_GPA	(LP_GPA + LP_SLOT_SIZE)	/* slot 3, THP-backed */

static const uint64_t lp_offs[] = { 0, 0x1000, 0x5000, 0x10b000, 0x1ff000 };

static void guest_large_pages(void)
{
	uint64_t m, i, va;

	for (m = 0; m < 4; m++) {
		for (i = 0; i < ARRAY_SIZE(lp_offs); i++) {
			va = p.x + m * SZ_2M + lp_offs[i];
			GUEST_ASSERT_EQ(rd(va), MARK(p.page[m] + lp_offs[i]));
			wr(va + 8, (m << 32) | lp_offs[i]);
		}
		wr(p.x + m * SZ_2M + SZ_2M - 8, m + 1);
	}
	/* a 4 KiB mapping into mapping 0's page at 0x5000 */
	GUEST_ASSERT_EQ(rd(p.x2), MARK(p.page[0] + 0x5000));
	GUEST_ASSERT_EQ(rd(p.x2 + 8), 0x5000);
	wr(p.x2 + 16, 0x77);
	GUEST_ASSERT_EQ(rd(p.x + 0x5000 + 16), 0x77);
	GUEST_SYNC(1);

	/* what the host wrote meanwhile */
	for (m = 0; m < 4; m++)
		GUEST_ASSERT_EQ(rd(p.x + m * SZ_2M + 0x3008), 0xabc0 + m);
	GUEST_SYNC(2);
}

static uint8_t *lp_huge;	/* host view of slot 3 (not the library's) */

static void *lp_hva(struct env *e, uint64_t gpa)
{
	if (gpa >= LP_THP_GPA && gpa < LP_THP_GPA + LP_SLOT_SIZE)
		return lp_huge + (gpa - LP_THP_GPA);
	return hva(e, gpa);
}

TEST(large_pages)
{
	const uint64_t thp_gpa = LP_THP_GPA;
	uint8_t *small, *huge, *raw;
	uint64_t m, i, off, gpa;
	struct env e;

	env_create(&e, guest_large_pages);
	/* slot 2: 4 KiB-backed */
	small = vm_mem_region_add(e.vm, 2, LP_GPA, LP_SLOT_SIZE, 0);
	if (madvise(small, LP_SLOT_SIZE, MADV_NOHUGEPAGE))
		TH_LOG("MADV_NOHUGEPAGE: %s", strerror(errno));
	/* slot 3: 2 MiB-aligned, THP where the host has them */
	raw = mmap(NULL, LP_SLOT_SIZE + SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	huge = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	lp_huge = huge;
	if (madvise(huge, LP_SLOT_SIZE, MADV_HUGEPAGE))
		TH_LOG("MADV_HUGEPAGE: %s", strerror(errno));
	for (off = 0; off < LP_SLOT_SIZE; off += PAGE_SIZE) {
		*(uint64_t *)(small + off) = MARK(LP_GPA + off);
		*(uint64_t *)(huge + off) = MARK(thp_gpa + off);
	}
	ASSERT_EQ(0, __vm_set_user_memory_region(e.vm, 3, 0, thp_gpa,
						 LP_SLOT_SIZE, huge));

	/* gva order differs from gpa order within each slot */
	p.page[0] = LP_GPA + SZ_2M;
	p.page[1] = LP_GPA;
	p.page[2] = thp_gpa + SZ_2M;
	p.page[3] = thp_gpa;
	p.x = L_GVA;
	for (m = 0; m < 4; m++)
		map_2m(&e, L_GVA + m * SZ_2M, p.page[m]);
	p.x2 = L_GVA + 8 * SZ_2M;
	map_4k(&e, p.x2, p.page[0] + 0x5000, PTE_PW);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	for (m = 0; m < 4; m++) {
		for (i = 0; i < ARRAY_SIZE(lp_offs); i++) {
			uint64_t *v = lp_hva(&e, p.page[m] + lp_offs[i]);

			EXPECT_EQ(MARK(p.page[m] + lp_offs[i]), v[0]);
			EXPECT_EQ((m << 32) | lp_offs[i], v[1]);
		}
		EXPECT_EQ(m + 1, *(uint64_t *)lp_hva(&e, p.page[m] + SZ_2M - 8));
		EXPECT_EQ(PTE_AD, *entry(e.vm, L_GVA + m * SZ_2M, 2) & PTE_AD);
	}
	EXPECT_EQ(0x77, *(uint64_t *)lp_hva(&e, p.page[0] + 0x5010));
	/* every page still has its own mark, and only ours were written */
	for (gpa = LP_GPA; gpa < LP_GPA + 2 * LP_SLOT_SIZE; gpa += PAGE_SIZE) {
		uint64_t *v = lp_hva(&e, gpa), o = (gpa - LP_GPA) % SZ_2M;
		bool touched = false;

		for (i = 0; i < ARRAY_SIZE(lp_offs); i++)
			touched |= o == lp_offs[i];
		ASSERT_EQ(MARK(gpa), v[0]) TH_LOG("gpa 0x%llx",
						 (unsigned long long)gpa);
		if (!touched)
			ASSERT_EQ(0, v[1]) TH_LOG("gpa 0x%llx",
						  (unsigned long long)gpa);
	}

	for (m = 0; m < 4; m++)
		*(uint64_t *)lp_hva(&e, p.page[m] + 0x3008) = 0xabc0 + m;
	vcpu_expect_sync(e.vcpu, 2);
	kvm_vm_free(e.vm);
	munmap(raw, LP_SLOT_SIZE + SZ_2M);
}

/* ----------------------- 8. 64 address spaces ----------------------- */

static uint64_t space_order(uint64_t round, uint64_t k)
{
	switch (round % 3) {
	case 0:
		return k;
	case 1:
		return NR_SPACES - 1 - k;
	default:
		return (k * 7) % NR_SPACES;
	}
}

/* @shift: space i maps x to space_page[(i + shift) % NR_SPACES]. */
static uint64_t visit_all(uint64_t rounds, uint64_t shift, uint64_t shared)
{
	uint64_t r, k, i, n = 0;

	for (r = 0; r < rounds; r++) {
		for (k = 0; k < NR_SPACES; k++) {
			i = space_order(r, k);
			write_cr3(roots[i]);
			GUEST_ASSERT_EQ(rd(p.x),
					MARK(space_page[(i + shift) % NR_SPACES]));
			/* the shared page: what the previous space wrote */
			GUEST_ASSERT_EQ(rd(p.x + PAGE_SIZE + 8), shared);
			shared = ++n + shift * 1000;
			wr(p.x + PAGE_SIZE + 8, shared);
			wr(p.x + 8, r * NR_SPACES + i + 1);
		}
	}
	return shared;
}

static void guest_cr3_switch(void)
{
	uint64_t cr3 = read_cr3(), shared, i;

	shared = visit_all(8, 0, 0);
	write_cr3(cr3);
	GUEST_SYNC(1);

	/* retarget every space's x while none of them is current */
	for (i = 0; i < NR_SPACES; i++)
		*E(space_pt[i]) = space_page[(i + 1) % NR_SPACES] | PTE_PW;
	shared = visit_all(3, 1, shared);
	/* and each one while it is current, flushed by the next switch */
	for (i = 0; i < NR_SPACES; i++) {
		write_cr3(roots[i]);
		GUEST_ASSERT_EQ(rd(p.x), MARK(space_page[(i + 1) % NR_SPACES]));
		*E(space_pt[i]) = space_page[i] | PTE_PW;
	}
	visit_all(3, 0, shared);
	write_cr3(cr3);
	GUEST_SYNC(2);
}

TEST(cr3_switch_many)
{
	uint64_t *root0, *t, pdpt, pd, pt, shared, i;
	struct env e;

	env_create(&e, guest_cr3_switch);
	p.x = X_GVA;
	shared = page_alloc(&e);
	root0 = hva(&e, e.vm->pml4_gpa);
	ASSERT_EQ(0, root0[pidx(X_GVA, 4)]);
	for (i = 0; i < NR_SPACES; i++) {
		roots[i] = table_alloc(&e);
		pdpt = table_alloc(&e);
		pd = table_alloc(&e);
		pt = table_alloc(&e);
		space_page[i] = page_alloc(&e);
		/* everything the library mapped is shared */
		memcpy(hva(&e, roots[i]), root0, PAGE_SIZE);
		t = hva(&e, roots[i]);
		t[pidx(X_GVA, 4)] = pdpt | PTE_PW;
		t = hva(&e, pdpt);
		t[pidx(X_GVA, 3)] = pd | PTE_PW;
		t = hva(&e, pd);
		t[pidx(X_GVA, 2)] = pt | PTE_PW;
		t = hva(&e, pt);
		t[pidx(X_GVA, 1)] = space_page[i] | PTE_PW;
		t[pidx(X_GVA, 1) + 1] = shared | PTE_PW;
		space_pt[i] = pt + pidx(X_GVA, 1) * 8;
	}
	sync_global_to_guest(e.vm, roots);
	sync_global_to_guest(e.vm, space_pt);
	sync_global_to_guest(e.vm, space_page);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	EXPECT_EQ(8 * NR_SPACES, ((uint64_t *)hva(&e, shared))[1]);
	for (i = 0; i < NR_SPACES; i++)
		ASSERT_EQ(7 * NR_SPACES + i + 1,
			  ((uint64_t *)hva(&e, space_page[i]))[1])
			TH_LOG("space %llu", (unsigned long long)i);

	vcpu_expect_sync(e.vcpu, 2);
	EXPECT_EQ(3 * NR_SPACES, ((uint64_t *)hva(&e, shared))[1]);
	for (i = 0; i < NR_SPACES; i++)
		ASSERT_EQ(2 * NR_SPACES + i + 1,
			  ((uint64_t *)hva(&e, space_page[i]))[1])
			TH_LOG("space %llu", (unsigned long long)i);
	kvm_vm_free(e.vm);
}

/* ----------------------- 8b. global pages (CR4.PGE) ----------------------- */

#define CR4_PGE		(1ULL << 7)
#define NR_LOCAL	40	/* more non-global pages than xkvm notes singly */
#define NR_GLOBAL	64
#define GLOBAL_ROUNDS	100

/*
 * p.arg: [0] gva of the non-global pages, [1]/[2] the gpas of their even /
 * odd round targets, [3] gva of their first PTE, [4] gva of the global
 * pages of the exit count, [5] the sum of their marks, [6] a second root
 * (a copy of the first).
 */
static uint64_t local_target(uint64_t i, uint64_t r)
{
	return (r & 1 ? p.arg[2] : p.arg[1]) + i * PAGE_SIZE;
}

/* Read @n of the non-global pages mapped for round @r, retarget all for @r + 1. */
static void local_round(uint64_t n, uint64_t r)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		GUEST_ASSERT_EQ(rd(p.arg[0] + i * PAGE_SIZE),
				MARK(local_target(i, r)));
	for (i = 0; i < NR_LOCAL; i++)
		*E(p.arg[3] + 8 * i) = local_target(i, r + 1) | PTE_PW;
}

static void guest_global(void)
{
	uint64_t cr4 = read_cr4(), root0 = read_cr3(), r, i, sum = 0;

	write_cr4(cr4 | CR4_PGE);
	/* retargeted global pages: INVLPG, then CR4.PGE off and on again */
	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[0]));
	GUEST_ASSERT_EQ(rd(p.x2 + 0x5000), MARK(p.page[4] + 0x5000));
	*E(p.ent[1]) = p.page[1] | PTE_PW | PTE_GLOBAL;
	*E(p.ent2[2]) = p.page[5] | PTE_PW | PTE_LARGE | PTE_GLOBAL;
	invlpg(p.x);
	invlpg(p.x2 + 0x1ff000);	/* anywhere in the 2 MiB page */
	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[1]));
	GUEST_ASSERT_EQ(rd(p.x2 + 0x5000), MARK(p.page[5] + 0x5000));
	*E(p.ent[1]) = p.page[2] | PTE_PW | PTE_GLOBAL;
	*E(p.ent2[2]) = p.page[4] | PTE_PW | PTE_LARGE | PTE_GLOBAL;
	write_cr4(cr4);
	write_cr4(cr4 | CR4_PGE);
	GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[2]));
	GUEST_ASSERT_EQ(rd(p.x2 + 0x5000), MARK(p.page[4] + 0x5000));
	GUEST_SYNC(1);

	/*
	 * Non-global pages retargeted while global ones are mapped, then
	 * MOV to CR3 (the two roots map the same): a few, then many, then a
	 * few again.
	 */
	for (r = 0; r < 6; r++) {
		GUEST_ASSERT_EQ(rd(p.x), MARK(p.page[2]));
		local_round(r & 2 ? NR_LOCAL : 3, r);
		write_cr3(r & 1 ? root0 : p.arg[6]);
	}
	GUEST_SYNC(2);

	/* global pages read again after each MOV to CR3: the host counts exits */
	for (i = 0; i < NR_GLOBAL; i++)
		rd(p.arg[4] + i * PAGE_SIZE);
	GUEST_SYNC(3);
	for (r = 0; r < GLOBAL_ROUNDS; r++) {
		write_cr3(r & 1 ? root0 : p.arg[6]);
		for (i = 0; i < NR_GLOBAL; i++)
			sum += rd(p.arg[4] + i * PAGE_SIZE);
	}
	write_cr3(root0);
	GUEST_SYNC(4);
	GUEST_ASSERT_EQ(sum, GLOBAL_ROUNDS * p.arg[5]);
	write_cr4(cr4);
	GUEST_SYNC(5);
}

static int64_t vcpu_exits(struct stats_file *sf)
{
	if (stats_file_read(sf))
		return -1;
	return stats_file_get(sf, "exits");
}

TEST(global_pages)
{
	uint64_t a, b, gp, i, *root1;
	int64_t exits0, exits1;
	struct stats_file sf;
	struct env e;

	env_create(&e, guest_global);
	for (i = 0; i < 3; i++)
		p.page[i] = page_alloc(&e);
	/* 2 MiB targets: the second half of the data slot, and its start */
	p.page[4] = DATA_GPA + SZ_2M;
	p.page[5] = DATA_GPA;
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PW | PTE_GLOBAL);
	entries_of(&e, X_GVA, 1, p.ent);
	p.x2 = X2_GVA;
	map_2m(&e, X2_GVA, p.page[4]);
	*entry(e.vm, X2_GVA, 2) |= PTE_GLOBAL;
	entries_of(&e, X2_GVA, 2, p.ent2);

	a = page_alloc(&e);
	for (i = 1; i < NR_LOCAL; i++)
		page_alloc(&e);
	b = page_alloc(&e);
	for (i = 1; i < NR_LOCAL; i++)
		page_alloc(&e);
	for (i = 0; i < NR_LOCAL; i++)
		map_4k(&e, L_GVA + i * PAGE_SIZE, a + i * PAGE_SIZE, PTE_PW);
	p.arg[0] = L_GVA;
	p.arg[1] = a;
	p.arg[2] = b;
	p.arg[3] = entry_gpa(e.vm, e.vm->pml4_gpa, L_GVA, 1);
	/* the global pages of the exit count, in a page table of their own */
	p.arg[4] = L_GVA + SZ_2M;
	for (i = 0; i < NR_GLOBAL; i++) {
		gp = page_alloc(&e);
		map_4k(&e, p.arg[4] + i * PAGE_SIZE, gp, PTE_PW | PTE_GLOBAL);
		p.arg[5] += MARK(gp);
	}
	root1 = hva(&e, p.arg[6] = table_alloc(&e));
	memcpy(root1, hva(&e, e.vm->pml4_gpa), PAGE_SIZE);
	env_sync(&e);

	ASSERT_EQ(0, stats_file_open(&sf, ioctl(e.vcpu->fd, KVM_GET_STATS_FD, 0)));
	vcpu_expect_sync(e.vcpu, 1);
	vcpu_expect_sync(e.vcpu, 2);
	vcpu_expect_sync(e.vcpu, 3);
	exits0 = vcpu_exits(&sf);
	vcpu_expect_sync(e.vcpu, 4);
	exits1 = vcpu_exits(&sf);
	ASSERT_LE(0, exits0);
	TH_LOG("%d MOV to CR3, each followed by reads of %d global pages: %lld exits",
	       GLOBAL_ROUNDS, NR_GLOBAL, (long long)(exits1 - exits0));
	EXPECT_LT(exits1 - exits0, GLOBAL_ROUNDS * NR_GLOBAL / 2);
	vcpu_expect_sync(e.vcpu, 5);
	stats_file_close(&sf);
	kvm_vm_free(e.vm);
}

/* ---------------- 9. page-table writes through an alias ---------------- */

static inline uint64_t xchg64(volatile uint64_t *ptr, uint64_t v)
{
	__asm__ __volatile__("xchgq %0, %1" : "+r"(v), "+m"(*ptr) : : "memory");
	return v;
}

static inline bool cmpxchg64(volatile uint64_t *ptr, uint64_t old, uint64_t new)
{
	uint64_t prev = old;

	__asm__ __volatile__("lock cmpxchgq %2, %1"
			     : "+a"(prev), "+m"(*ptr) : "r"(new) : "memory");
	return prev == old;
}

static void guest_pt_alias(void)
{
	volatile uint64_t *via4k = E(p.arg[0]), *via2m = E(p.arg[1]);
	volatile uint64_t *alias_pte = E(p.arg[3]);
	uint64_t x = p.x, alias = p.arg[2], i, pg;

	pf.action = PF_SKIP;
	GUEST_ASSERT_EQ(rd(x), MARK(p.page[0]));
	GUEST_ASSERT_EQ(*via4k & PTE_ADDR_MASK, p.page[0]);
	GUEST_ASSERT_EQ(*via2m & PTE_ADDR_MASK, p.page[0]);

	/* a plain store through the 4 KiB alias */
	*via4k = p.page[1] | PTE_PW;
	invlpg(x);
	GUEST_ASSERT_EQ(rd(x), MARK(p.page[1]));

	/* a locked exchange through the 2 MiB alias */
	GUEST_ASSERT_EQ(xchg64(via2m, p.page[2] | PTE_PW) & PTE_ADDR_MASK,
			p.page[1]);
	invlpg(x);
	GUEST_ASSERT_EQ(rd(x), MARK(p.page[2]));

	/* LOCK CMPXCHG through the 4 KiB alias, flushed by a CR3 reload */
	GUEST_ASSERT(cmpxchg64(via4k, *via4k, p.page[3] | PTE_PW));
	reload_cr3();
	GUEST_ASSERT_EQ(rd(x), MARK(p.page[3]));

	/* a 4-byte store of the low half only */
	*(volatile uint32_t *)via2m = (uint32_t)(p.page[0] | PTE_PW);
	invlpg(x);
	GUEST_ASSERT_EQ(rd(x), MARK(p.page[0]));

	/* not present through one alias, present through the other */
	*via2m = 0;
	invlpg(x);
	EXPECT_PF(x, 0, g_read(x));
	*via4k = p.page[1] | PTE_PW;
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(x), MARK(p.page[1])));

	/* the alias's own PTE, written through the alias itself */
	*alias_pte = p.page[2] | PTE_PW;
	invlpg(alias);
	GUEST_ASSERT_EQ(rd(alias), MARK(p.page[2]));
	/* and back through the identity mapping of the pool */
	*E(p.ent2[1]) = p.arg[4] | PTE_PW;
	invlpg(alias);
	GUEST_ASSERT_EQ(*via4k & PTE_ADDR_MASK, p.page[1]);

	/* without flushes in between the alias writes: only the last counts */
	for (i = 0; i < 200; i++) {
		pg = p.page[i & 3];
		if (i & 1)
			*via4k = pg | PTE_PW;
		else
			*via2m = pg | PTE_PW;
		if (i % 3)
			invlpg(x);
		else
			reload_cr3();
		GUEST_ASSERT_EQ(rd(x), MARK(pg));
		wr(x + 8, i);
	}
	GUEST_SYNC(1);
}

TEST(pt_write_while_mapped)
{
	uint64_t pt_gpa, idx, alias, large, i;
	struct env e;

	env_create(&e, guest_pt_alias);
	for (i = 0; i < 4; i++)
		p.page[i] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PW);
	pt_gpa = *entry(e.vm, X_GVA, 2) & PTE_ADDR_MASK;
	idx = pidx(X_GVA, 1);
	ASSERT_GT(GUEST_PT_POOL_END, pt_gpa);

	/* the page table maps itself at alias, in the same table */
	alias = X_GVA + 5 * PAGE_SIZE;
	map_4k(&e, alias, pt_gpa, PTE_PW);
	/* and a 2 MiB mapping of the first 2 MiB (the whole pool) */
	large = X_GVA + 3 * SZ_2M;
	map_2m(&e, large, 0);
	entries_of(&e, alias, 1, p.ent2);

	p.arg[0] = alias + idx * 8;
	p.arg[1] = large + pt_gpa + idx * 8;
	p.arg[2] = alias;
	p.arg[3] = alias + pidx(alias, 1) * 8;
	p.arg[4] = pt_gpa;
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	EXPECT_EQ(p.page[199 & 3], *entry(e.vm, X_GVA, 1) & PTE_ADDR_MASK);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(196 + i, ((uint64_t *)hva(&e, p.page[i]))[1]);
	kvm_vm_free(e.vm);
}

/* ---------------------- 10. user / supervisor ---------------------- */

/* CPL3 reads @r, writes @v to @w; returns the faults before the exit one. */
static uint64_t user_run(uint64_t r, uint64_t w, uint64_t v)
{
	ufault.n = 0;
	ufault.rax = 0;
	enter_user(r, w, v);
	GUEST_ASSERT(ufault.n >= 1 && ufault.n <= ARRAY_SIZE(ufault.err));
	GUEST_ASSERT_EQ(ufault.err[ufault.n - 1], PFERR_U);
	GUEST_ASSERT_EQ(ufault.cr2[ufault.n - 1], 0);
	return ufault.n - 1;
}

static void guest_user(void)
{
	uint64_t sup = p.x, ro = p.x + PAGE_SIZE, rw = p.x + 2 * PAGE_SIZE;
	uint64_t upper = p.x + SZ_2M, cr0 = read_cr0();

	pf.action = PF_SKIP;

	/* a supervisor-only page: read faults, the user write goes on */
	GUEST_ASSERT_EQ(user_run(sup, rw + 8, 0x11), 1);
	GUEST_ASSERT_EQ(ufault.err[0], PFERR_P | PFERR_U);
	GUEST_ASSERT_EQ(ufault.cr2[0], sup);
	GUEST_ASSERT_EQ(ufault.rax, POISON);
	GUEST_ASSERT_EQ(rd(rw + 8), 0x11);

	/* a read-only user page: read, no write */
	GUEST_ASSERT_EQ(user_run(ro, ro + 8, 0x12), 1);
	GUEST_ASSERT_EQ(ufault.rax, MARK(p.page[1]));
	GUEST_ASSERT_EQ(ufault.err[0], PFERR_P | PFERR_W | PFERR_U);
	GUEST_ASSERT_EQ(ufault.cr2[0], ro + 8);

	/* U in the PTE but not the PDE; a write to a supervisor page */
	GUEST_ASSERT_EQ(user_run(upper, sup + 8, 0x13), 2);
	GUEST_ASSERT_EQ(ufault.err[0], PFERR_P | PFERR_U);
	GUEST_ASSERT_EQ(ufault.cr2[0], upper);
	GUEST_ASSERT_EQ(ufault.err[1], PFERR_P | PFERR_W | PFERR_U);
	GUEST_ASSERT_EQ(ufault.cr2[1], sup + 8);

	/* all fine at CPL3 */
	GUEST_ASSERT_EQ(user_run(rw + 8, rw + 16, 0x14), 0);
	GUEST_ASSERT_EQ(ufault.rax, 0x11);

	/* the supervisor reaches all of them, writes only where W (WP=1) */
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(sup), MARK(p.page[0])));
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(upper), MARK(p.page[3])));
	EXPECT_NO_PF(GUEST_ASSERT_EQ(g_read(rw + 16), 0x14));
	EXPECT_PF(ro + 8, PFERR_P | PFERR_W, g_write(ro + 8, 0x15));

	/* CR0.WP=0: supervisor writes to the read-only user page ... */
	write_cr0(cr0 & ~X86_CR0_WP);
	EXPECT_NO_PF(g_write(ro + 8, 0x22));
	/* ... which CPL3 still reads and may still not write */
	GUEST_ASSERT_EQ(user_run(ro + 8, ro + 8, 0x23), 1);
	GUEST_ASSERT_EQ(ufault.rax, 0x22);
	GUEST_ASSERT_EQ(ufault.err[0], PFERR_P | PFERR_W | PFERR_U);
	EXPECT_NO_PF(g_write(ro + 8, 0x33));
	GUEST_ASSERT_EQ(user_run(ro + 8, rw + 24, 0x34), 0);
	GUEST_ASSERT_EQ(ufault.rax, 0x33);
	GUEST_ASSERT_EQ(user_run(sup, rw + 24, 0x35), 1);
	GUEST_ASSERT_EQ(ufault.err[0], PFERR_P | PFERR_U);
	write_cr0(cr0);
	EXPECT_PF(ro + 8, PFERR_P | PFERR_W, g_write(ro + 8, 0x44));
	GUEST_ASSERT_EQ(rd(ro + 8), 0x33);
	GUEST_SYNC(1);
}

static void set_user_path(struct env *e, uint64_t gva, int from_level)
{
	int l;

	for (l = from_level; l <= 4; l++)
		*entry(e->vm, gva, l) |= PTE_USER;
}

TEST(user_supervisor)
{
	uint64_t code, kstack, ustack, i, *gdt, rsp0;
	struct kvm_sregs sregs;
	struct env e;

	env_create(&e, guest_user);
	for (i = 0; i < 4; i++)
		p.page[i] = page_alloc(&e);
	p.x = X_GVA;
	map_4k(&e, X_GVA, p.page[0], PTE_PW);			/* supervisor */
	map_4k(&e, X_GVA + PAGE_SIZE, p.page[1], PTE_PRESENT | PTE_USER);
	map_4k(&e, X_GVA + 2 * PAGE_SIZE, p.page[2], PTE_PW | PTE_USER);
	memset((uint8_t *)hva(&e, p.page[2]) + 8, 0, 32);
	set_user_path(&e, X_GVA, 2);
	/* U in the PTE, the PDE (another one) without */
	map_4k(&e, X_GVA + SZ_2M, p.page[3], PTE_PW | PTE_USER);
	ASSERT_EQ(0, *entry(e.vm, X_GVA + SZ_2M, 2) & PTE_USER);

	/* the CPL3 probe's code and stack */
	for (code = (uintptr_t)user_code; code < (uintptr_t)user_code_end;
	     code += PAGE_SIZE)
		set_user_path(&e, code, 1);
	ustack = table_alloc(&e);
	set_user_path(&e, ustack, 1);
	shadow_test_user_rsp = ustack + PAGE_SIZE;
	sync_global_to_guest(e.vm, shadow_test_user_rsp);

	/* ring-3 descriptors, and a ring-0 stack for faults from ring 3 */
	gdt = hva(&e, GUEST_GDT_GPA);
	gdt[5] = 0x00affb000000ffffULL;		/* 64-bit code, DPL 3 */
	gdt[6] = 0x00cff3000000ffffULL;		/* data, DPL 3 */
	kstack = table_alloc(&e);
	table_alloc(&e);
	rsp0 = kstack + 2 * PAGE_SIZE;
	memcpy((uint8_t *)hva(&e, GUEST_TSS_GPA) + 4, &rsp0, sizeof(rsp0));
	vcpu_sregs_get(e.vcpu, &sregs);
	sregs.gdt.limit = 7 * 8 - 1;
	vcpu_sregs_set(e.vcpu, &sregs);
	env_sync(&e);

	vcpu_expect_sync(e.vcpu, 1);
	EXPECT_EQ(0x33, ((uint64_t *)hva(&e, p.page[1]))[1]);
	EXPECT_EQ(0x11, ((uint64_t *)hva(&e, p.page[2]))[1]);
	EXPECT_EQ(0x14, ((uint64_t *)hva(&e, p.page[2]))[2]);
	EXPECT_EQ(0x35, ((uint64_t *)hva(&e, p.page[2]))[3]);
	EXPECT_EQ(0, ((uint64_t *)hva(&e, p.page[0]))[1]);
	kvm_vm_free(e.vm);
}

/* ------------------ 11. 32-bit protected-mode paging ------------------ */

#define PM_MEM_SIZE	(16ULL << 20)
#define PM_GDT_GPA	0x1000ULL
#define PM_IDT_GPA	0x2000ULL
#define PM_CODE_GPA	0x3000ULL
#define PM_STACK_TOP	0x8000ULL
#define PM_PD_GPA	0x10000ULL	/* 2-level: page directory */
#define PM_PT_GPA	0x11000ULL	/* 2-level: table for 0..4 MiB */
#define PM_PDPT_GPA	0x12000ULL	/* PAE */
#define PM_PAE_PD0_GPA	0x13000ULL
#define PM_PAE_PT_GPA	0x14000ULL
#define PM_PAE_PD2_GPA	0x15000ULL
#define PM_DATA_GPA	0x100000ULL	/* mapped at another gva */
#define PM_RO_GPA	0x101000ULL	/* read-only */
#define PM_PORT		0x90
#define MARK32(gpa)	(0xa5000000U | (uint32_t)((gpa) >> 12))

extern const uint8_t pm_code[], pm_pf_handler[], pm_code_end[];

/*
 * pm_code: reads (%ebx), reports it, writes %ecx there, reads it back,
 * reports it, HLT.  pm_pf_handler (#PF, 32-bit gate): reports CR2 and the
 * error code, HLT.
 */
__asm__(
	".pushsection .rodata\n"
	".code32\n"
	"pm_code:\n"
	"	movl (%ebx), %eax\n"
	"	outl %eax, $0x90\n"
	"	movl %ecx, (%ebx)\n"
	"	movl (%ebx), %eax\n"
	"	outl %eax, $0x90\n"
	"	hlt\n"
	"pm_pf_handler:\n"
	"	movl %cr2, %eax\n"
	"	outl %eax, $0x90\n"
	"	popl %eax\n"
	"	outl %eax, $0x90\n"
	"	hlt\n"
	"pm_code_end:\n"
	".code64\n"
	".popsection\n");

/* A VM with 16 MiB whose every dword holds MARK32 of its page. */
static struct kvm_vm *pm_vm_create(struct kvm_vcpu **vcpu, uint8_t **mem)
{
	struct kvm_vm *vm = vm_create_barebones();
	uint64_t *gdt, *idt, handler, off;
	uint32_t *m;

	*mem = vm_mem_region_add(vm, 0, 0, PM_MEM_SIZE, 0);
	m = (uint32_t *)*mem;
	for (off = 0; off < PM_MEM_SIZE; off += 4)
		m[off / 4] = MARK32(off);
	memset(*mem, 0, PM_STACK_TOP);
	gdt = (uint64_t *)(*mem + PM_GDT_GPA);
	gdt[1] = 0x00cf9b000000ffffULL;		/* 32-bit code */
	gdt[2] = 0x00cf93000000ffffULL;		/* data */
	idt = (uint64_t *)(*mem + PM_IDT_GPA);
	handler = PM_CODE_GPA + (pm_pf_handler - pm_code);
	/* 32-bit interrupt gate: P, DPL 0, type 0xe, selector 0x08 */
	idt[PF_VECTOR] = (handler & 0xffff) | (0x08ULL << 16) |
			 (0x8eULL << 40) | ((handler >> 16) << 48);
	memcpy(*mem + PM_CODE_GPA, pm_code, pm_code_end - pm_code);
	*vcpu = vm_vcpu_add_raw(vm, 0);
	vcpu_set_supported_cpuid(*vcpu);
	return vm;
}

static void pm_set_mode(struct kvm_vcpu *vcpu, uint64_t cr0, uint64_t cr4,
			uint64_t cr3)
{
	struct kvm_sregs s;

	vcpu_sregs_get(vcpu, &s);
	seg_flat32(&s.cs, 0x08, 0xb, 0);
	seg_flat32(&s.ds, 0x10, 0x3, 0);
	s.es = s.ds;
	s.fs = s.ds;
	s.gs = s.ds;
	s.ss = s.ds;
	s.gdt.base = PM_GDT_GPA;
	s.gdt.limit = 3 * 8 - 1;
	s.idt.base = PM_IDT_GPA;
	s.idt.limit = 256 * 8 - 1;
	s.cr0 = cr0;
	s.cr4 = cr4;
	s.cr3 = cr3;
	s.efer = 0;
	vcpu_sregs_set(vcpu, &s);
}

/* KVM_RUN; a guest that makes no exit for 10 s fails with its state. */
static void pm_run(struct kvm_vcpu *vcpu)
{
	vcpu_run_watchdog(vcpu, 10000);
}

static uint32_t pm_expect_out(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t v;

	pm_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(run->io.port == PM_PORT && run->io.size == 4 &&
		    run->io.count == 1 && run->io.direction == KVM_EXIT_IO_OUT,
		    "unexpected I/O exit%s", exit_details(vcpu));
	memcpy(&v, vcpu_io_data(vcpu), sizeof(v));
	return v;
}

static void pm_expect_hlt(struct kvm_vcpu *vcpu)
{
	pm_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
}

/* Run pm_code on @gva: it reads MARK32(@gpa), then writes @val there. */
static void pm_rw(struct kvm_vcpu *vcpu, uint8_t *mem, uint32_t gva,
		  uint64_t gpa, uint32_t val)
{
	struct kvm_regs regs;
	uint32_t v;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_EFLAGS_FIXED;
	regs.rip = PM_CODE_GPA;
	regs.rsp = PM_STACK_TOP;
	regs.rbx = gva;
	regs.rcx = val;
	vcpu_regs_set(vcpu, &regs);
	v = pm_expect_out(vcpu);
	TEST_ASSERT(v == MARK32(gpa), "gva 0x%x read 0x%x, wanted 0x%x (gpa 0x%llx)",
		    gva, v, MARK32(gpa), (unsigned long long)gpa);
	v = pm_expect_out(vcpu);
	TEST_ASSERT(v == val, "gva 0x%x read back 0x%x, wanted 0x%x", gva, v, val);
	pm_expect_hlt(vcpu);
	memcpy(&v, mem + gpa, sizeof(v));
	TEST_ASSERT(v == val, "gpa 0x%llx holds 0x%x, wanted 0x%x",
		    (unsigned long long)gpa, v, val);
}

/* Run pm_code on the read-only @gva: the write faults with P|W. */
static void pm_write_faults(struct kvm_vcpu *vcpu, uint8_t *mem, uint32_t gva,
			    uint64_t gpa)
{
	struct kvm_regs regs;
	uint32_t v;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_EFLAGS_FIXED;
	regs.rip = PM_CODE_GPA;
	regs.rsp = PM_STACK_TOP;
	regs.rbx = gva;
	regs.rcx = 0x12345678;
	vcpu_regs_set(vcpu, &regs);
	v = pm_expect_out(vcpu);
	TEST_ASSERT(v == MARK32(gpa), "gva 0x%x read 0x%x, wanted 0x%x",
		    gva, v, MARK32(gpa));
	v = pm_expect_out(vcpu);
	TEST_ASSERT(v == gva, "CR2 0x%x, wanted 0x%x", v, gva);
	v = pm_expect_out(vcpu);
	TEST_ASSERT(v == (PFERR_P | PFERR_W), "error code 0x%x, wanted 0x3", v);
	pm_expect_hlt(vcpu);
	memcpy(&v, mem + gpa, sizeof(v));
	TEST_ASSERT(v == MARK32(gpa), "gpa 0x%llx written: 0x%x",
		    (unsigned long long)gpa, v);
}

TEST(pm_no_paging)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *mem;

	vm = pm_vm_create(&vcpu, &mem);
	pm_set_mode(vcpu, X86_CR0_PE | X86_CR0_ET, 0, 0);
	pm_rw(vcpu, mem, PM_DATA_GPA, PM_DATA_GPA, 0x11111111);
	pm_rw(vcpu, mem, 0xa00124, 0xa00124, 0x22222222);
	kvm_vm_free(vm);
}

TEST(pm_two_level_paging)
{
	const uint32_t big_gva = 0xc0000000, big_gpa = 0x800000;
	uint32_t *pd, *pt, i;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *mem;

	vm = pm_vm_create(&vcpu, &mem);
	pd = (uint32_t *)(mem + PM_PD_GPA);
	pt = (uint32_t *)(mem + PM_PT_GPA);
	memset(pd, 0, PAGE_SIZE);
	for (i = 0; i < 1024; i++)
		pt[i] = (i << 12) | PTE_PW;
	pt[0] = 0;
	pt[0x3ff] = PM_DATA_GPA | PTE_PW;		/* gva 0x3ff000 */
	pt[0x3fe] = PM_RO_GPA | PTE_PRESENT;		/* gva 0x3fe000 */
	pd[0] = PM_PT_GPA | PTE_PW;
	pd[big_gva >> 22] = big_gpa | PTE_PW | PTE_LARGE;	/* 4 MiB */
	pm_set_mode(vcpu, X86_CR0_PE | X86_CR0_ET | X86_CR0_WP | X86_CR0_PG,
		    1ULL << 4 /* PSE */, PM_PD_GPA);

	pm_rw(vcpu, mem, 0x3ff000 + 0x10, PM_DATA_GPA + 0x10, 0x33333333);
	EXPECT_EQ(MARK32(0x3ff000), *(uint32_t *)(mem + 0x3ff010));
	pm_rw(vcpu, mem, big_gva + 0x2a5004, big_gpa + 0x2a5004, 0x44444444);
	EXPECT_EQ(PTE_AD, pt[0x3ff] & PTE_AD);
	EXPECT_EQ(PTE_AD, pd[big_gva >> 22] & PTE_AD);
	EXPECT_EQ(PTE_ACCESSED, pd[0] & PTE_ACCESSED);
	pm_write_faults(vcpu, mem, 0x3fe084, PM_RO_GPA + 0x84);
	EXPECT_EQ(PTE_ACCESSED, pt[0x3fe] & PTE_AD);
	kvm_vm_free(vm);
}

TEST(pm_pae_paging)
{
	const uint32_t big_gva = 0x80200000, big_gpa = 0x600000;
	uint64_t *pdpt, *pd0, *pt, *pd2, i;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *mem;

	vm = pm_vm_create(&vcpu, &mem);
	pdpt = (uint64_t *)(mem + PM_PDPT_GPA);
	pd0 = (uint64_t *)(mem + PM_PAE_PD0_GPA);
	pt = (uint64_t *)(mem + PM_PAE_PT_GPA);
	pd2 = (uint64_t *)(mem + PM_PAE_PD2_GPA);
	memset(pdpt, 0, PAGE_SIZE);
	memset(pd0, 0, PAGE_SIZE);
	memset(pd2, 0, PAGE_SIZE);
	for (i = 0; i < 512; i++)
		pt[i] = (i << 12) | PTE_PW;
	pt[0] = 0;
	pt[0x1ff] = PM_DATA_GPA | PTE_PW;		/* gva 0x1ff000 */
	pt[0x1fe] = PM_RO_GPA | PTE_PRESENT;		/* gva 0x1fe000 */
	pd0[0] = PM_PAE_PT_GPA | PTE_PW;
	pd2[(big_gva >> 21) & 0x1ff] = big_gpa | PTE_PW | PTE_LARGE;
	/* PAE PDPTEs: no R/W or U/S bits */
	pdpt[0] = PM_PAE_PD0_GPA | PTE_PRESENT;
	pdpt[big_gva >> 30] = PM_PAE_PD2_GPA | PTE_PRESENT;
	pm_set_mode(vcpu, X86_CR0_PE | X86_CR0_ET | X86_CR0_WP | X86_CR0_PG,
		    X86_CR4_PAE, PM_PDPT_GPA);

	pm_rw(vcpu, mem, 0x1ff000 + 0x20, PM_DATA_GPA + 0x20, 0x55555555);
	EXPECT_EQ(MARK32(0x1ff000), *(uint32_t *)(mem + 0x1ff020));
	pm_rw(vcpu, mem, big_gva + 0x1ab004, big_gpa + 0x1ab004, 0x66666666);
	EXPECT_EQ(PTE_AD, pt[0x1ff] & PTE_AD);
	EXPECT_EQ(PTE_AD, pd2[(big_gva >> 21) & 0x1ff] & PTE_AD);
	pm_write_faults(vcpu, mem, 0x1fe010, PM_RO_GPA + 0x10);
	kvm_vm_free(vm);
}

TEST(pm_paging_sregs_invalid)
{
	const uint64_t pe = X86_CR0_PE | X86_CR0_ET;
	struct kvm_sregs s, bad, now;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *mem;

	vm = pm_vm_create(&vcpu, &mem);
	pm_set_mode(vcpu, pe, 0, 0);
	vcpu_sregs_get(vcpu, &s);

	/* PG without PE */
	bad = s;
	bad.cr0 = X86_CR0_ET | X86_CR0_PG;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* LME with PG needs PAE and LMA */
	bad = s;
	bad.cr0 = pe | X86_CR0_PG;
	bad.efer = EFER_LME | EFER_LMA;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad.cr4 = X86_CR4_PAE;
	bad.efer = EFER_LME;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* LMA without paging; a 64-bit code segment outside long mode */
	bad = s;
	bad.efer = EFER_LME | EFER_LMA;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.cr0 = pe | X86_CR0_PG;
	bad.cr4 = X86_CR4_PAE;
	bad.cs.l = 1;
	bad.cs.db = 0;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* CR0 bits above 31 */
	bad = s;
	bad.cr0 = pe | X86_CR0_PG | (1ULL << 32);
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* none of them changed anything */
	vcpu_sregs_get(vcpu, &now);
	EXPECT_EQ(s.cr0, now.cr0);
	EXPECT_EQ(s.cr3, now.cr3);
	EXPECT_EQ(s.cr4, now.cr4);
	EXPECT_EQ(s.efer, now.efer);
	EXPECT_EQ(s.cs.l, now.cs.l);

	/* the consistent long-mode variant of the same is accepted */
	bad = s;
	bad.cr0 = pe | X86_CR0_PG;
	bad.cr4 = X86_CR4_PAE;
	bad.efer = EFER_LME | EFER_LMA;
	bad.cs.l = 1;
	bad.cs.db = 0;
	EXPECT_EQ(0, __vcpu_sregs_set(vcpu, &bad));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
