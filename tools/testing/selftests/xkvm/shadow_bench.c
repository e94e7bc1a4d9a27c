// SPDX-License-Identifier: GPL-2.0
/*
 * shadow_bench.c - cost of the guest paging operations that a shadow MMU
 * (the vendor module loaded with npt=0) turns into VM exits, for `make
 * bench` (tools/testing/nested/run.sh --bench).  Not a selftest.
 *
 * The guest times each operation with RDTSC, over REPS repetitions; the
 * median repetition is printed, in guest TSC ticks per operation:
 *
 *   shadow_fault_4k	first touch (a write) of a page that the guest
 *			maps with a 4 KiB PTE and has never accessed:
 *			512 fresh pages, one page table, per repetition;
 *   shadow_cr3_switch	MOV to CR3 among NR_SPACES address spaces (PML4
 *			roots of their own that share the kernel part, the
 *			library's PML4 entry 0), round robin, reading the
 *			SPACE_PAGES private pages of each after the switch:
 *			ticks per switch, the reads included;
 *   shadow_pte_update	the guest points a PTE at another page, INVLPGs
 *			its address and reads through it: ticks per update.
 *
 * Everything the guest reads or writes is checked (each page carries a
 * mark of its own, the fault pages' writes are checked by this process):
 * a figure from an MMU that maps the wrong page is not printed.  The
 * pages the guest faults on are populated by this process beforehand,
 * so the figures hold the hypervisors' work, not the L1 kernel's page
 * allocation.  The guest's page-table entries are built with the accessed
 * and dirty bits set, as Linux writes them.
 *
 * With two-dimensional paging the same code measures a nested-paging
 * fault, and CR3 writes and INVLPG that the hypervisor does not see.
 * With XKVM_BENCH_SHADOW=1 in the environment (the bench job sets it
 * after loading the vendor module with npt=0) the program refuses to run
 * on anything but shadow paging.
 *
 * Prints "bench-tsc-khz <kHz>" and "bench <name> <ticks>" lines, like
 * exit_bench; exits non-zero on any failure.
 *
 * Usage: shadow_bench [reps]   (default 7, odd: one median repetition)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "xkvm_util.h"

#define TBL_SLOT	1
#define TBL_GPA		0x40000000ULL		/* the benchmark's page tables */
#define TBL_SIZE	(1ULL << 20)
#define DATA_SLOT	2
#define DATA_GPA	0x80000000ULL		/* the pages the guest accesses */
#define SZ_2M		(2ULL << 20)

#define MAX_REPS	63
#define FAULT_PAGES	512			/* one page table per rep */
#define NR_SPACES	16
#define SPACE_PAGES	8
#define CR3_ROUNDS	8			/* NR_SPACES switches each */
#define UPD_COUNT	256			/* PTE updates per rep */
#define UPD_PAGES	2			/* the PTE alternates between */

/* gvas in PML4 slots the library does not use */
#define SPACE_GVA	0x8000000000ULL		/* slot 1, private per space */
#define FAULT_GVA	0x10000000000ULL	/* slot 2 */
#define UPD_GVA		0x18000000000ULL	/* slot 3 */

#define PTE_TABLE	(PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED)
#define PTE_LEAF	(PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED | PTE_DIRTY)

#define MARK(gpa)	(0x5ade000000000000ULL | (gpa))
#define STAMP(gpa)	(0x57a0000000000000ULL | (gpa))

enum { SYNC_FAULT = 1, SYNC_CR3, SYNC_UPD };

/* What the host tells the guest (synced before the first run). */
static struct {
	uint64_t reps;
	uint64_t main_root;			/* the library's PML4 */
	uint64_t root[NR_SPACES];		/* the spaces' PML4s */
	uint64_t fault_gpa;			/* rep r: + r * SZ_2M */
	uint64_t space_gpa;			/* space k, page j: + k * 8 + j */
	uint64_t upd_pte;			/* gva (= gpa) of UPD_GVA's PTE */
	uint64_t upd_page[UPD_PAGES];		/* gpas */
} bp;

/* ---------------------------- guest side ---------------------------- */

static inline void write_cr3(uint64_t v)
{
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void invlpg(uint64_t gva)
{
	__asm__ __volatile__("invlpg (%0)" : : "r"(gva) : "memory");
}

static void guest_fault(uint64_t r)
{
	uint64_t base = FAULT_GVA + r * SZ_2M;
	uint64_t gpa = bp.fault_gpa + r * SZ_2M;
	uint64_t t0, t1, i;

	t0 = rdtsc();
	for (i = 0; i < FAULT_PAGES; i++)
		*(volatile uint64_t *)(base + i * PAGE_SIZE) =
			STAMP(gpa + i * PAGE_SIZE);
	t1 = rdtsc();
	GUEST_SYNC_ARGS(SYNC_FAULT, t1 - t0, r, 0);
}

/* Space @k maps its page @j at SPACE_GVA + @j pages. */
static uint64_t space_page(uint64_t k, uint64_t j)
{
	return bp.space_gpa + (k * SPACE_PAGES + j) * PAGE_SIZE;
}

static void guest_cr3(uint64_t r)
{
	uint64_t t0, t1, n, k, j, bad = 0;

	t0 = rdtsc();
	for (n = 0; n < CR3_ROUNDS; n++) {
		for (k = 0; k < NR_SPACES; k++) {
			write_cr3(bp.root[k]);
			for (j = 0; j < SPACE_PAGES; j++)
				bad += *(volatile uint64_t *)(SPACE_GVA + j * PAGE_SIZE) !=
				       MARK(space_page(k, j));
		}
	}
	t1 = rdtsc();
	write_cr3(bp.main_root);
	GUEST_SYNC_ARGS(SYNC_CR3, t1 - t0, r, bad);
}

static void guest_update(uint64_t r)
{
	volatile uint64_t *pte = (volatile uint64_t *)bp.upd_pte;
	uint64_t t0, t1, i, page, bad = 0;

	t0 = rdtsc();
	for (i = 0; i < UPD_COUNT; i++) {
		page = bp.upd_page[i % UPD_PAGES];
		*pte = page | PTE_LEAF;
		invlpg(UPD_GVA);
		bad += *(volatile uint64_t *)UPD_GVA != MARK(page);
	}
	t1 = rdtsc();
	GUEST_SYNC_ARGS(SYNC_UPD, t1 - t0, r, bad);
}

static void guest_main(void)
{
	uint64_t r;

	for (r = 0; r < bp.reps; r++)
		guest_fault(r);
	guest_cr3(bp.reps);		/* warm-up: every space shadowed once */
	for (r = 0; r < bp.reps; r++)
		guest_cr3(r);
	guest_update(bp.reps);		/* warm-up */
	for (r = 0; r < bp.reps; r++)
		guest_update(r);
	GUEST_DONE();
}

/* ---------------------------- host side ----------------------------- */

static uint64_t tbl_next = TBL_GPA;

/* A zeroed page of the table slot. */
static uint64_t tbl_alloc(struct kvm_vm *vm)
{
	uint64_t gpa = tbl_next;

	TEST_ASSERT(gpa < TBL_GPA + TBL_SIZE, "table slot exhausted");
	tbl_next += PAGE_SIZE;
	memset(addr_gpa2hva(vm, gpa), 0, PAGE_SIZE);
	return gpa;
}

/*
 * The PTE of @gva under the PML4 at @root, tables allocated from the
 * table slot as needed; returns its gpa.
 */
static uint64_t pte_gpa(struct kvm_vm *vm, uint64_t root, uint64_t gva)
{
	uint64_t table = root, *e;
	int shift;

	for (shift = 39; shift > 12; shift -= 9) {
		e = (uint64_t *)addr_gpa2hva(vm, table) + ((gva >> shift) & 0x1ff);
		if (!(*e & PTE_PRESENT))
			*e = tbl_alloc(vm) | PTE_TABLE;
		table = *e & PTE_ADDR_MASK;
	}
	return table + ((gva >> 12) & 0x1ff) * 8;
}

static void map_4k(struct kvm_vm *vm, uint64_t root, uint64_t gva, uint64_t gpa)
{
	*(uint64_t *)addr_gpa2hva(vm, pte_gpa(vm, root, gva)) = gpa | PTE_LEAF;
}

static uint64_t data_next = DATA_GPA;

/* @n pages of the data slot, each starting with MARK(its gpa). */
static uint64_t data_alloc(struct kvm_vm *vm, uint64_t n)
{
	uint64_t gpa = data_next, i;

	data_next += n * PAGE_SIZE;
	for (i = 0; i < n; i++)
		*(uint64_t *)addr_gpa2hva(vm, gpa + i * PAGE_SIZE) =
			MARK(gpa + i * PAGE_SIZE);
	return gpa;
}

static void setup(struct kvm_vm *vm, uint64_t reps)
{
	uint64_t data_size, *main_pml4, k, j, i;

	data_size = reps * SZ_2M + SZ_2M;
	vm_mem_region_add(vm, TBL_SLOT, TBL_GPA, TBL_SIZE, 0);
	vm_mem_region_add(vm, DATA_SLOT, DATA_GPA, data_size, 0);
	/* the guest writes the PTE under test through this mapping */
	virt_map(vm, TBL_GPA, TBL_GPA, TBL_SIZE);

	bp.reps = reps;
	bp.main_root = vm->pml4_gpa;
	main_pml4 = addr_gpa2hva(vm, vm->pml4_gpa);

	/* fault pages: populated here (data_alloc writes each one) */
	bp.fault_gpa = data_alloc(vm, reps * FAULT_PAGES);
	for (i = 0; i < reps * FAULT_PAGES; i++)
		map_4k(vm, bp.main_root, FAULT_GVA + i * PAGE_SIZE,
		       bp.fault_gpa + i * PAGE_SIZE);

	/* the spaces: the kernel part shared, SPACE_GVA private */
	bp.space_gpa = data_alloc(vm, NR_SPACES * SPACE_PAGES);
	for (k = 0; k < NR_SPACES; k++) {
		bp.root[k] = tbl_alloc(vm);
		((uint64_t *)addr_gpa2hva(vm, bp.root[k]))[0] = main_pml4[0];
		for (j = 0; j < SPACE_PAGES; j++)
			map_4k(vm, bp.root[k], SPACE_GVA + j * PAGE_SIZE,
			       space_page(k, j));
	}

	/* the PTE under test */
	for (i = 0; i < UPD_PAGES; i++)
		bp.upd_page[i] = data_alloc(vm, 1);
	bp.upd_pte = pte_gpa(vm, bp.main_root, UPD_GVA);
	map_4k(vm, bp.main_root, UPD_GVA, bp.upd_page[UPD_PAGES - 1]);

	TEST_ASSERT(data_next <= DATA_GPA + data_size, "data slot exhausted");
	sync_global_to_guest(vm, bp);
}

/* "bench <name> <num / den>", with one decimal (no FPU in this binary). */
static void print_bench(const char *name, uint64_t num, uint64_t den)
{
	uint64_t tenths = (num * 10 + den / 2) / den;

	printf("bench %s %llu.%llu\n", name, (unsigned long long)(tenths / 10),
	       (unsigned long long)(tenths % 10));
	fflush(stdout);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, uint64_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/*
 * Run to the guest's next report of @kind; checks its repetition number
 * and that it saw no wrong page, returns its ticks.
 */
static uint64_t next_rep(struct kvm_vcpu *vcpu, uint64_t kind, uint64_t r,
			 const char *name)
{
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, kind);
	TEST_ASSERT(uc.args[2] == r, "%s: repetition %llu reported as %llu",
		    name, (unsigned long long)r,
		    (unsigned long long)uc.args[2]);
	TEST_ASSERT(!uc.args[3], "%s: %llu reads saw the wrong page", name,
		    (unsigned long long)uc.args[3]);
	return uc.args[1];
}

/* The fault pages of rep @r hold the guest's stamps. */
static void check_fault_rep(struct kvm_vm *vm, uint64_t r)
{
	uint64_t gpa = bp.fault_gpa + r * SZ_2M, i, v;

	for (i = 0; i < FAULT_PAGES; i++, gpa += PAGE_SIZE) {
		v = *(uint64_t *)addr_gpa2hva(vm, gpa);
		TEST_ASSERT(v == STAMP(gpa),
			    "shadow_fault_4k: gpa 0x%llx holds 0x%llx, not the guest's write",
			    (unsigned long long)gpa, (unsigned long long)v);
	}
}

int main(int argc, char **argv)
{
	uint64_t ticks[MAX_REPS], reps = 7, r;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool shadow;

	if (argc > 1)
		reps = strtoull(argv[1], NULL, 0);
	if (!reps || reps > MAX_REPS) {
		fprintf(stderr, "usage: %s [reps, 1..%d]\n", argv[0], MAX_REPS);
		return 2;
	}
	shadow = xkvm_shadow_paging();
	printf("# %s paging (vendor module %s)\n",
	       shadow ? "shadow" : "two-dimensional",
	       xkvm_vendor_module() ?: "unknown");
	if (getenv("XKVM_BENCH_SHADOW") && !shadow) {
		printf("# XKVM_BENCH_SHADOW is set, but the vendor module's npt/ept parameter does not read N\n");
		return 1;
	}

	vm = vm_create_with_one_vcpu(&vcpu, guest_main);
	printf("bench-tsc-khz %d\n", ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	fflush(stdout);
	setup(vm, reps);

	for (r = 0; r < reps; r++) {
		ticks[r] = next_rep(vcpu, SYNC_FAULT, r, "shadow_fault_4k");
		check_fault_rep(vm, r);
	}
	print_bench("shadow_fault_4k", median(ticks, reps), FAULT_PAGES);

	next_rep(vcpu, SYNC_CR3, reps, "shadow_cr3_switch");
	for (r = 0; r < reps; r++)
		ticks[r] = next_rep(vcpu, SYNC_CR3, r, "shadow_cr3_switch");
	print_bench("shadow_cr3_switch", median(ticks, reps),
		    CR3_ROUNDS * NR_SPACES);

	next_rep(vcpu, SYNC_UPD, reps, "shadow_pte_update");
	for (r = 0; r < reps; r++)
		ticks[r] = next_rep(vcpu, SYNC_UPD, r, "shadow_pte_update");
	print_bench("shadow_pte_update", median(ticks, reps), UPD_COUNT);

	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
	return 0;
}
