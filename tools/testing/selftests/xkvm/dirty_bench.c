// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_bench.c - cost of dirty-page logging (Documentation/dirty_log.md),
 * for `make bench` (tools/testing/nested/run.sh --bench).  Not a selftest.
 *
 * One vCPU writes one word into each page of a fixed pseudo-random set of
 * a logging slot (page (i * golden ratio) mod npages for i < n: distinct
 * pages spread over the whole slot), then stops; while it is stopped this
 * process collects the log the way QEMU does and times that with its own
 * RDTSC (the same ticks as the guest's TSC):
 *
 *   dirty_get_clear_gib_10pct	manual protect: KVM_GET_DIRTY_LOG, then one
 *				KVM_CLEAR_DIRTY_LOG of the whole slot with the
 *				bitmap GET returned (QEMU clears at most 1 GiB
 *				at a time; the slot is smaller);
 *   dirty_get_legacy_gib_10pct	legacy KVM_GET_DIRTY_LOG (takes the log back
 *				and write-protects in one call);
 *	both with 10% of a SLOT_MB MiB slot's pages dirty each round, ticks per
 *	round scaled to a 1 GiB slot (x 1024 / SLOT_MB: the bitmap walk and the
 *	number of dirty pages both grow with the slot);
 *   dirty_ring_harvest_per_entry	ring mode (a 65536-entry ring, or the
 *				largest the hypervisor offers): the guest dirties
 *				half of the ring's entries (below the soft limit,
 *				so it never exits for a full ring); harvesting
 *				them (flags acquired, offsets recorded in a
 *				bitmap, entries marked for reset) plus
 *				KVM_RESET_DIRTY_RINGS, ticks per entry;
 *   dirty_guest_write_logging	the guest's own ticks per write, in the
 *				manual-protect rounds: the first write of a page
 *				since the log was cleared, each a write fault;
 *   dirty_guest_write_nolog	the same loop once the slot stopped logging
 *				and the pages are writable again (no fault).
 *
 * The slot's memory is touched by this process and written once by the
 * guest before the first timed round, so no round pays for populating it.
 * Every round checks that the log (or the ring) holds exactly the pages
 * the guest wrote: a figure of a hypervisor that loses or invents dirty
 * pages is not printed.  Prints "bench-tsc-khz <kHz>" and
 * "bench <name> <ticks>" lines, like exit_bench; exits non-zero on any
 * failure.
 *
 * Usage: dirty_bench [rounds]   (default 10, for each measurement)
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>

#include "x86_util.h"
#include "xkvm_util.h"

#define DATA_SLOT	1
#define DATA_GPA	0x40000000ULL
#define PAGE		4096ULL
#define SLOT_MB		128ULL
#define GIB		(1ULL << 30)
#define RING_ENTRIES	65536ULL	/* KVM's largest ring */
#define GOLDEN		0x9e3779b97f4a7c15ULL

#define SYNC_FILLED	0
#define SYNC_ROUND	1

/* ---------------------------- guest side ---------------------------- */

/* The @i-th page of the set: odd multiplier, so distinct for i < npages. */
static inline uint64_t pick(uint64_t i, uint64_t npages)
{
	return (i * GOLDEN) & (npages - 1);
}

/*
 * Write every page once, then, each time the host runs the vCPU again,
 * write the first @nsel pages of the set and report the ticks it took.
 */
static void guest_dirty(uint64_t base, uint64_t npages, uint64_t nsel)
{
	uint64_t t0, t1, i, round = 0;

	for (i = 0; i < npages; i++)
		*(volatile uint64_t *)(base + i * PAGE) = 0;
	GUEST_SYNC_ARGS(SYNC_FILLED, 0, npages, 0);
	for (;;) {
		round++;
		t0 = rdtsc();
		for (i = 0; i < nsel; i++)
			*(volatile uint64_t *)(base + pick(i, npages) * PAGE) = round;
		t1 = rdtsc();
		GUEST_SYNC_ARGS(SYNC_ROUND, t1 - t0, nsel, 0);
	}
}

/* ---------------------------- host side ----------------------------- */

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint8_t *mem;
	uint64_t npages;
	uint64_t *bitmap;		/* npages bits */
	struct kvm_dirty_gfn *ring;	/* ring mode only */
	uint64_t ring_entries;
	uint64_t ring_next;		/* next entry to harvest */
};

static uint64_t rounds = 10;

/* "bench <name> <num / den>", with one decimal (no FPU in this binary). */
static void print_bench(const char *name, uint64_t num, uint64_t den)
{
	uint64_t tenths = (num * 10 + den / 2) / den;

	printf("bench %s %llu.%llu\n", name, (unsigned long long)(tenths / 10),
	       (unsigned long long)(tenths % 10));
	fflush(stdout);
}

static int enable_cap(struct kvm_vm *vm, uint32_t cap, uint64_t arg)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg } };

	return ioctl(vm->fd, KVM_ENABLE_CAP, &c);
}

/*
 * A VM with one vCPU running guest_dirty() on a logging slot of @npages;
 * with @ring_bytes the dirty ring of that size, else with @manual the
 * manual-protect mode.  The slot's memory is populated in this process.
 */
static void bench_vm_create(struct bench_vm *b, uint64_t npages, bool manual,
			    uint64_t ring_bytes, uint64_t nsel)
{
	uint64_t i;

	memset(b, 0, sizeof(*b));
	b->vm = vm_create_long_mode();
	if (ring_bytes)
		TEST_ASSERT(!enable_cap(b->vm, KVM_CAP_DIRTY_LOG_RING, ring_bytes),
			    "enable a %llu-byte dirty ring: %s",
			    (unsigned long long)ring_bytes, strerror(errno));
	else if (manual)
		TEST_ASSERT(!enable_cap(b->vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
					KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE),
			    "manual protect: %s", strerror(errno));
	b->vcpu = vm_vcpu_add(b->vm, 0, guest_dirty);
	if (ring_bytes) {
		b->ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			       MAP_SHARED, b->vcpu->fd,
			       KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
		TEST_ASSERT(b->ring != MAP_FAILED, "mmap of the dirty ring: %s",
			    strerror(errno));
		b->ring_entries = ring_bytes / sizeof(*b->ring);
	}
	b->npages = npages;
	b->mem = vm_mem_region_add_mapped(b->vm, DATA_SLOT, DATA_GPA,
					  npages * PAGE, KVM_MEM_LOG_DIRTY_PAGES);
	for (i = 0; i < npages; i++)
		b->mem[i * PAGE] = 1;
	b->bitmap = calloc(npages / 64, sizeof(uint64_t));
	TEST_ASSERT(b->bitmap, "calloc");
	vcpu_args_set(b->vcpu, 3, DATA_GPA, npages, nsel);
}

static void bench_vm_free(struct bench_vm *b)
{
	if (b->ring)
		munmap(b->ring, b->ring_entries * sizeof(*b->ring));
	free(b->bitmap);
	kvm_vm_free(b->vm);
}

static uint64_t bitmap_weight(const uint64_t *bm, uint64_t npages)
{
	uint64_t i, n = 0;

	for (i = 0; i < npages / 64; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

/* Bitmap mode: the log into b->bitmap, taken back (manual: one CLEAR). */
static void collect_bitmap(struct bench_vm *b, bool manual)
{
	struct kvm_dirty_log get = { .slot = DATA_SLOT };
	struct kvm_clear_dirty_log clear = {
		.slot = DATA_SLOT, .first_page = 0, .num_pages = b->npages,
	};

	get.dirty_bitmap = b->bitmap;
	TEST_ASSERT(!ioctl(b->vm->fd, KVM_GET_DIRTY_LOG, &get),
		    "KVM_GET_DIRTY_LOG: %s", strerror(errno));
	if (!manual)
		return;
	clear.dirty_bitmap = b->bitmap;
	TEST_ASSERT(!ioctl(b->vm->fd, KVM_CLEAR_DIRTY_LOG, &clear),
		    "KVM_CLEAR_DIRTY_LOG: %s", strerror(errno));
}

/* Run the guest to its next round's end; returns its ticks. */
static uint64_t guest_round(struct bench_vm *b, uint64_t nsel)
{
	struct ucall uc;

	vcpu_run_sync(b->vcpu, &uc, SYNC_ROUND);
	TEST_ASSERT(uc.args[2] == nsel, "the guest wrote %llu pages",
		    (unsigned long long)uc.args[2]);
	return uc.args[1];
}

/*
 * dirty_get_{clear,legacy}_gib_10pct; with @manual also the guest's
 * write figures, logging and not.
 */
static void bench_bitmap(bool manual)
{
	uint64_t npages = SLOT_MB << 8, nsel = npages / 10;
	uint64_t host = 0, guest = 0, t0, r, n;
	struct bench_vm b;
	struct ucall uc;

	bench_vm_create(&b, npages, manual, 0, nsel);
	vcpu_run_sync(b.vcpu, &uc, SYNC_FILLED);
	collect_bitmap(&b, manual);
	n = bitmap_weight(b.bitmap, npages);
	TEST_ASSERT(n == npages, "%llu of %llu pages reported after the fill",
		    (unsigned long long)n, (unsigned long long)npages);

	for (r = 0; r < rounds; r++) {
		guest += guest_round(&b, nsel);
		t0 = rdtsc();
		collect_bitmap(&b, manual);
		host += rdtsc() - t0;
		n = bitmap_weight(b.bitmap, npages);
		TEST_ASSERT(n == nsel, "round %llu: %llu pages reported, %llu written",
			    (unsigned long long)r, (unsigned long long)n,
			    (unsigned long long)nsel);
	}
	print_bench(manual ? "dirty_get_clear_gib_10pct" :
			     "dirty_get_legacy_gib_10pct",
		    host * (GIB / (SLOT_MB << 20)), rounds);
	if (!manual)
		goto out;
	print_bench("dirty_guest_write_logging",
		    guest, rounds * nsel);

	/* Logging off: one round makes the pages writable, then time. */
	TEST_ASSERT(!__vm_set_user_memory_region(b.vm, DATA_SLOT, 0, DATA_GPA,
						 npages * PAGE, b.mem),
		    "logging off: %s", strerror(errno));
	guest_round(&b, nsel);
	guest = 0;
	for (r = 0; r < rounds; r++)
		guest += guest_round(&b, nsel);
	print_bench("dirty_guest_write_nolog", guest, rounds * nsel);
out:
	bench_vm_free(&b);
}

/*
 * Take every entry the kernel published, as QEMU does: acquire the flags,
 * record the page, hand the entry back.  Returns the number taken.
 */
static uint64_t ring_harvest(struct bench_vm *b)
{
	uint64_t n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &b->ring[b->ring_next & (b->ring_entries - 1)];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (e->slot == DATA_SLOT && e->offset < b->npages)
			b->bitmap[e->offset / 64] |= 1ULL << (e->offset % 64);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		b->ring_next++;
		n++;
	}
	return n;
}

/* Harvest and reset; both counts must be @want, and the pages distinct. */
static void ring_collect(struct bench_vm *b, uint64_t want, uint64_t *ticks)
{
	uint64_t t0, n, w;
	int reset;

	memset(b->bitmap, 0, b->npages / 8);
	t0 = rdtsc();
	n = ring_harvest(b);
	reset = ioctl(b->vm->fd, KVM_RESET_DIRTY_RINGS, 0);
	if (ticks)
		*ticks += rdtsc() - t0;
	w = bitmap_weight(b->bitmap, b->npages);
	TEST_ASSERT(reset >= 0 && (uint64_t)reset == n,
		    "KVM_RESET_DIRTY_RINGS returned %d, harvested %llu", reset,
		    (unsigned long long)n);
	TEST_ASSERT(n == want && w == want,
		    "%llu ring entries, %llu distinct pages, %llu written",
		    (unsigned long long)n, (unsigned long long)w,
		    (unsigned long long)want);
}

static void bench_ring(void)
{
	uint64_t entries = RING_ENTRIES, ticks = 0, r;
	struct bench_vm b;
	struct ucall uc;
	int max;

	max = kvm_check_cap(KVM_CAP_DIRTY_LOG_RING);
	TEST_ASSERT(max > 0, "no KVM_CAP_DIRTY_LOG_RING");
	while (entries * sizeof(struct kvm_dirty_gfn) > (uint64_t)max)
		entries /= 2;
	/* half the ring: far below the soft limit (size - 64, or - 576 with PML) */
	bench_vm_create(&b, entries / 2, false,
			entries * sizeof(struct kvm_dirty_gfn), entries / 2);
	vcpu_run_sync(b.vcpu, &uc, SYNC_FILLED);
	ring_collect(&b, b.npages, NULL);
	for (r = 0; r < rounds; r++) {
		guest_round(&b, b.npages);
		ring_collect(&b, b.npages, &ticks);
	}
	print_bench("dirty_ring_harvest_per_entry",
		    ticks, rounds * b.npages);
	bench_vm_free(&b);
}

int main(int argc, char **argv)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (argc > 1)
		rounds = strtoull(argv[1], NULL, 0);
	if (!rounds) {
		fprintf(stderr, "usage: %s [rounds > 0]\n", argv[0]);
		return 2;
	}
	vm = vm_create_with_one_vcpu(&vcpu, guest_dirty);
	printf("bench-tsc-khz %d\n", ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	fflush(stdout);
	kvm_vm_free(vm);

	bench_bitmap(true);
	bench_bitmap(false);
	bench_ring();
	return 0;
}
