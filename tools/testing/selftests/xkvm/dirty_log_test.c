// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test.c - dirty-page logging in bitmap and ring mode, as stock
 * KVM implements it (every case passes against it in reference mode):
 *
 * - two vCPUs write pseudo-random pages of a logging slot, each write a
 *   value never written before (iteration stamp + a per-vCPU sequence);
 *   in each of the three ways userspace collects the log (legacy
 *   KVM_GET_DIRTY_LOG; manual protect with KVM_CLEAR_DIRTY_LOG in 64-page
 *   pieces; the per-vCPU dirty rings, harvested and given back with
 *   KVM_RESET_DIRTY_RINGS, whose return must be what was harvested):
 *   - in rounds with the vCPUs stopped while the host collects, the log
 *     is exact: a page is reported if and only if it was written in the
 *     round;
 *   - with the vCPUs running while the host collects, no write is lost: a
 *     page whose content changed between two snapshots taken after two
 *     collections is reported by the second or the next one (a write the
 *     collection overlapped may be reported one round late, never lost);
 * - logging switched on for a live slot the guest has mapped writable
 *   (with transparent huge pages where the host gives them: the 2 MiB
 *   mappings must be split or zapped so that the log is per 4 KiB page)
 *   reports nothing until the guest writes, then exactly what it writes;
 *   switched off, the log is gone (ENOENT); on again, it starts empty;
 * - KVM_DIRTY_LOG_INITIALLY_SET: a new logging slot starts all dirty;
 * - a slot moved while logging keeps its log, a deleted one loses it;
 * - pages the kernel writes for the guest (the kvmclock pages) are logged;
 * - ring mode: a vCPU whose ring fills up exits with
 *   KVM_EXIT_DIRTY_RING_FULL (and not before the reserve KVM keeps is
 *   reached), and runs on once the ring is harvested and reset; entries of
 *   a slot deleted before the reset are dropped harmlessly; the ring is
 *   enabled only before vCPUs exist, sized a power of two between a page
 *   and KVM's maximum, mapped shared and not executable, and the bitmap
 *   ioctls are refused (ENXIO) in ring mode;
 * - bad arguments get KVM's errnos: unknown or non-logging slot ENOENT,
 *   bad slot id or address space EINVAL, CLEAR_DIRTY_LOG unaligned or past
 *   the slot's end EINVAL, bad ENABLE_CAP arguments EINVAL; CLEAR without
 *   manual protect works, as on KVM.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "x86_util.h"
#include "xkvm_util.h"

#define DATA_GPA	0x40000000ULL
#define MOVED_GPA	0x80000000ULL
#define PAGE		4096ULL
#define NPAGES		1024ULL		/* 4 MiB: two 2 MiB ranges */
#define NR_VCPUS	2
#define ROUNDS		12
#define DATA_SLOT	1
#define RING_BYTES	65536ULL	/* 4096 entries: no full exit per round */
#define SMALL_RING	16384ULL	/* 1024 entries: fills up while running */
#define RING_RSVD_MAX	(64 + 512)	/* KVM's reserve, with Intel PML */

#ifndef MSR_KVM_WALL_CLOCK_NEW
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#endif

#define VOL(x)		(*(volatile __typeof__(x) *)&(x))

/* ---------------------------- guest side ---------------------------- */

static uint64_t iteration;	/* the stamp the guest writes */
static uint64_t writes_per_round = 64;
static uint64_t run_on;		/* 1: keep writing without GUEST_SYNC */
static uint64_t stop;		/* end run_on mode: sync */

static void guest_writer(uint64_t base, uint64_t npages, uint64_t id)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (id + 1), seq = 0, i;
	uint32_t a, b, c, d;

	for (;;) {
		uint64_t it = VOL(iteration);

		for (i = 0; i < VOL(writes_per_round); i++) {
			volatile uint64_t *p;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			p = (volatile uint64_t *)(base + (x % npages) * PAGE);
			p[0] = it;
			p[1] = (id << 56) | ++seq;
		}
		if (!VOL(run_on) || VOL(stop))
			GUEST_SYNC(it);
		/*
		 * An exit now and then: once its pages are writable (or the
		 * CPU logs them, PML) a writer need not exit at all, and
		 * Bochs misses the host's interrupts for a guest with IF=0,
		 * so two such vCPUs would keep the collector off both CPUs.
		 */
		cpuid(0, 0, &a, &b, &c, &d);
	}
}

/* Touch every page once (written), then sync; then write what is asked. */
static void guest_fill_then_write(uint64_t base, uint64_t npages)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		*(volatile uint64_t *)(base + i * PAGE) = 1;
	GUEST_SYNC(0);
	for (;;) {
		/* the host names pages in iteration: bit i -> page i * 64 + 3 */
		uint64_t mask = VOL(iteration);

		for (i = 0; i < 64; i++)
			if (mask & (1ULL << i))
				*(volatile uint64_t *)(base + (i * 16 + 3) * PAGE) = 2;
		GUEST_SYNC(1);
	}
}

static void guest_kvmclock(uint64_t sys_gpa, uint64_t wall_gpa)
{
	GUEST_SYNC(0);
	wrmsr(MSR_KVM_WALL_CLOCK_NEW, wall_gpa);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, sys_gpa | 1);
	GUEST_SYNC(1);
	GUEST_DONE();
}

/* ---------------------------- host side ----------------------------- */

enum log_mode { LOG_LEGACY, LOG_MANUAL, LOG_RING };

/* A vCPU's dirty ring as userspace sees it. */
struct ring {
	struct kvm_dirty_gfn *gfn;
	uint32_t n;		/* entries */
	uint32_t next;		/* next entry to harvest */
	bool wait_when_full;	/* KVM_EXIT_DIRTY_RING_FULL: sleep, run on */
};

struct writers {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[NR_VCPUS];
	struct ring ring[NR_VCPUS];
	uint8_t *mem;
};

static int __enable_ring(struct kvm_vm *vm, uint64_t bytes)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING, .args = { bytes },
	};

	return ioctl(vm->fd, KVM_ENABLE_CAP, &cap);
}

static void *ring_mmap(struct kvm_vcpu *vcpu, uint64_t bytes, int prot,
		       int flags)
{
	return mmap(NULL, bytes, prot, flags, vcpu->fd,
		    KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
}

static void ring_map(struct ring *r, struct kvm_vcpu *vcpu, uint64_t bytes)
{
	r->gfn = ring_mmap(vcpu, bytes, PROT_READ | PROT_WRITE, MAP_SHARED);
	TEST_ASSERT(r->gfn != MAP_FAILED, "mmap of the dirty ring: %s",
		    strerror(errno));
	r->n = bytes / sizeof(*r->gfn);
	r->next = 0;
}

/*
 * Take the entries the kernel published, in order, as KVM's users do:
 * acquire the flags, mark each RESET.  Pages of @slot below NPAGES go to
 * @bm; returns the number of entries, *others those of other slots.
 */
static int ring_harvest(struct ring *r, uint32_t slot, uint64_t *bm,
			int *others)
{
	int n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &r->gfn[r->next % r->n];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (e->slot == slot && e->offset < NPAGES)
			bm[e->offset / 64] |= 1ULL << (e->offset % 64);
		else if (others)
			(*others)++;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		r->next++;
		n++;
	}
	return n;
}

static int reset_rings(struct kvm_vm *vm)
{
	return ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0);
}

static int enable_manual(struct kvm_vm *vm, uint64_t flags);

static void writers_create(struct writers *w, uint32_t flags,
			   enum log_mode mode, uint64_t ring_bytes)
{
	int i;

	w->vm = vm_create_long_mode();
	if (mode == LOG_RING)
		TEST_ASSERT(!__enable_ring(w->vm, ring_bytes),
			    "enable the dirty ring: %s", strerror(errno));
	for (i = 0; i < NR_VCPUS; i++) {
		w->vcpu[i] = vm_vcpu_add(w->vm, i, guest_writer);
		memset(&w->ring[i], 0, sizeof(w->ring[i]));
		if (mode == LOG_RING)
			ring_map(&w->ring[i], w->vcpu[i], ring_bytes);
	}
	if (mode == LOG_MANUAL)
		TEST_ASSERT(!enable_manual(w->vm,
					   KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE),
			    "manual protect: %s", strerror(errno));
	w->mem = vm_mem_region_add_mapped(w->vm, DATA_SLOT, DATA_GPA,
					  NPAGES * PAGE, flags);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_args_set(w->vcpu[i], 3, DATA_GPA, NPAGES, (uint64_t)i);
}

struct run_arg {
	struct kvm_vcpu *vcpu;
	struct ring *ring;
};

/* Run to the next GUEST_SYNC; a full ring waits for the host if asked. */
static void *run_one(void *arg)
{
	struct run_arg *a = arg;
	struct ucall uc;

	for (;;) {
		TEST_ASSERT(!__vcpu_run(a->vcpu), "KVM_RUN: %s",
			    strerror(errno));
		if (a->vcpu->run->exit_reason != KVM_EXIT_DIRTY_RING_FULL)
			break;
		TEST_ASSERT(a->ring && a->ring->wait_when_full,
			    "vCPU %u: dirty ring full", a->vcpu->id);
		usleep(1000);
	}
	TEST_ASSERT(get_ucall(a->vcpu, &uc) == UCALL_SYNC,
		    "guest stopped: %s", ucall_describe(&uc));
	return NULL;
}

/* Run every vCPU once, at the same time, until its GUEST_SYNC. */
static void writers_round(struct writers *w)
{
	struct run_arg a[NR_VCPUS];
	pthread_t t[NR_VCPUS];
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		a[i].vcpu = w->vcpu[i];
		a[i].ring = &w->ring[i];
		TEST_ASSERT(!pthread_create(&t[i], NULL, run_one, &a[i]),
			    "pthread_create");
	}
	for (i = 0; i < NR_VCPUS; i++)
		pthread_join(t[i], NULL);
}

static int __get_log(struct kvm_vm *vm, uint32_t slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot };

	log.dirty_bitmap = bitmap;
	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log);
}

static int __clear_log(struct kvm_vm *vm, uint32_t slot, uint64_t first,
		       uint32_t num, void *bitmap)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num,
	};

	log.dirty_bitmap = bitmap;
	return ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &log);
}

static void get_log(struct kvm_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	TEST_ASSERT(!__get_log(vm, slot, bitmap), "KVM_GET_DIRTY_LOG: %s",
		    strerror(errno));
}

/* Manual protect: clear what @bitmap holds, in 64-page pieces. */
static void clear_log(struct kvm_vm *vm, uint32_t slot, uint64_t *bitmap,
		      uint64_t npages)
{
	uint64_t first;

	for (first = 0; first < npages; first += 64)
		TEST_ASSERT(!__clear_log(vm, slot, first,
					 npages - first < 64 ? npages - first : 64,
					 &bitmap[first / 64]),
			    "KVM_CLEAR_DIRTY_LOG at %llu: %s",
			    (unsigned long long)first, strerror(errno));
}

static bool test_bit64(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] & (1ULL << (i % 64));
}

static int enable_manual(struct kvm_vm *vm, uint64_t flags)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { flags },
	};

	return ioctl(vm->fd, KVM_ENABLE_CAP, &cap);
}

/* The log is exact: pages stamped with @it are those reported. */
static int check_exact(const uint8_t *mem, const uint64_t *bm, uint64_t it,
		       int *nr_dirty)
{
	uint64_t i;
	int bad = 0;

	*nr_dirty = 0;
	for (i = 0; i < NPAGES; i++) {
		bool written = ((const uint64_t *)(mem + i * PAGE))[0] == it;

		if (written != test_bit64(bm, i)) {
			if (bad++ < 5)
				fprintf(stderr, "round %llu page %llu: %s\n",
					(unsigned long long)it,
					(unsigned long long)i,
					written ? "written, not reported" :
						  "reported, not written");
		}
		*nr_dirty += written;
	}
	return bad;
}

/*
 * Collect the log of the data slot into @bm the way @mode does, taking
 * it back (re-protecting) as QEMU does before it copies the pages.
 */
static void collect(struct writers *w, enum log_mode mode, uint64_t *bm)
{
	int i, n = 0, others = 0, r;

	if (mode != LOG_RING) {
		get_log(w->vm, DATA_SLOT, bm);
		if (mode == LOG_MANUAL)
			clear_log(w->vm, DATA_SLOT, bm, NPAGES);
		return;
	}
	memset(bm, 0, NPAGES / 8);
	for (i = 0; i < NR_VCPUS; i++)
		n += ring_harvest(&w->ring[i], DATA_SLOT, bm, &others);
	r = reset_rings(w->vm);
	TEST_ASSERT(r == n, "KVM_RESET_DIRTY_RINGS returned %d, harvested %d",
		    r, n);
	TEST_ASSERT(!others, "%d entries of slots that do not log", others);
}

static void exact_rounds(struct __test_metadata *_metadata,
			 enum log_mode mode)
{
	uint64_t bm[NPAGES / 64], again[NPAGES / 64];
	struct writers w;
	int round, nr;

	writers_create(&w, KVM_MEM_LOG_DIRTY_PAGES, mode, RING_BYTES);
	for (round = 1; round <= ROUNDS; round++) {
		iteration = round;
		sync_global_to_guest(w.vm, iteration);
		writers_round(&w);
		if (mode == LOG_MANUAL) {
			/* GET does not reset: the same bits until cleared */
			get_log(w.vm, DATA_SLOT, again);
			get_log(w.vm, DATA_SLOT, bm);
			ASSERT_EQ(0, memcmp(bm, again, sizeof(bm)));
		}
		collect(&w, mode, bm);
		ASSERT_EQ(0, check_exact(w.mem, bm, round, &nr));
		ASSERT_LT(0, nr);
		collect(&w, mode, again);
		for (nr = 0; nr < (int)(NPAGES / 64); nr++)
			ASSERT_EQ(0, again[nr]);
	}
	kvm_vm_free(w.vm);
}

TEST(cap)
{
	char path[128], pml = '-';
	FILE *f;

	/* xkvm-intel and kvm_intel both name their PML switch "pml" */
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/pml",
		 xkvm_vendor_module());
	f = fopen(path, "r");
	if (f) {
		pml = fgetc(f);
		fclose(f);
	}
	TH_LOG("%s: PML %c", xkvm_vendor_module(), pml);
	ASSERT_EQ(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
		  KVM_DIRTY_LOG_INITIALLY_SET,
		  kvm_check_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	/* KVM's largest ring, 65536 entries; x86 orders it either way */
	ASSERT_EQ(65536 * sizeof(struct kvm_dirty_gfn),
		  kvm_check_cap(KVM_CAP_DIRTY_LOG_RING));
	ASSERT_EQ(kvm_check_cap(KVM_CAP_DIRTY_LOG_RING),
		  kvm_check_cap(KVM_CAP_DIRTY_LOG_RING_ACQ_REL));
}

TEST(legacy_exact)
{
	exact_rounds(_metadata, LOG_LEGACY);
}

TEST(manual_clear_exact)
{
	exact_rounds(_metadata, LOG_MANUAL);
}

TEST(ring_exact)
{
	exact_rounds(_metadata, LOG_RING);
}

struct snap {
	uint64_t v[NPAGES];
};

static void snapshot(const uint8_t *mem, struct snap *s)
{
	uint64_t i;

	for (i = 0; i < NPAGES; i++)
		s->v[i] = VOL(((uint64_t *)(mem + i * PAGE))[1]);
}

struct running {
	struct writers w;
	struct run_arg a[NR_VCPUS];
	pthread_t t[NR_VCPUS];
};

static void concurrent(struct __test_metadata *_metadata, enum log_mode mode)
{
	static struct snap s[3];
	uint64_t bm[3][NPAGES / 64], *stopp, *itp;
	struct running r;
	int k, i, lost = 0, changed = 0;

	/* a small ring: the vCPUs fill it and wait for the collector */
	writers_create(&r.w, KVM_MEM_LOG_DIRTY_PAGES, mode, SMALL_RING);
	run_on = 1;
	writes_per_round = 16;
	iteration = 1;
	sync_global_to_guest(r.w.vm, run_on);
	sync_global_to_guest(r.w.vm, writes_per_round);
	sync_global_to_guest(r.w.vm, iteration);
	stopp = addr_gva2hva(r.w.vm, (uint64_t)(uintptr_t)&stop);
	itp = addr_gva2hva(r.w.vm, (uint64_t)(uintptr_t)&iteration);
	for (i = 0; i < NR_VCPUS; i++) {
		r.w.ring[i].wait_when_full = true;
		r.a[i].vcpu = r.w.vcpu[i];
		r.a[i].ring = &r.w.ring[i];
		ASSERT_EQ(0, pthread_create(&r.t[i], NULL, run_one, &r.a[i]));
	}

	/* B_k, then S_k; a change S_{k-1} -> S_k is in B_k or B_{k+1} */
	for (k = 0; k < 2 * ROUNDS; k++) {
		uint64_t *b = bm[k % 3];

		usleep(20000);
		collect(&r.w, mode, b);
		VOL(*itp) = k + 2;
		snapshot(r.w.mem, &s[k % 3]);
		if (k < 2)
			continue;
		/* check round k - 1: S_{k-2} -> S_{k-1} against B_{k-1}, B_k */
		for (i = 0; i < (int)NPAGES; i++) {
			if (s[(k - 2) % 3].v[i] == s[(k - 1) % 3].v[i])
				continue;
			changed++;
			if (!test_bit64(bm[(k - 1) % 3], i) &&
			    !test_bit64(b, i) && lost++ < 5)
				TH_LOG("round %d: page %d changed, never reported",
				       k - 1, i);
		}
	}
	VOL(*stopp) = 1;
	for (i = 0; i < NR_VCPUS; i++) {
		while (mode == LOG_RING && pthread_tryjoin_np(r.t[i], NULL)) {
			collect(&r.w, mode, bm[0]);	/* a full ring waits */
			usleep(1000);
		}
		if (mode != LOG_RING)
			pthread_join(r.t[i], NULL);
	}
	TH_LOG("%d page changes checked", changed);
	ASSERT_EQ(0, lost);
	ASSERT_LT(0, changed);
	run_on = 0;
	stop = 0;
	writes_per_round = 64;
	kvm_vm_free(r.w.vm);
}

TEST(legacy_while_running)
{
	concurrent(_metadata, LOG_LEGACY);
}

TEST(manual_while_running)
{
	concurrent(_metadata, LOG_MANUAL);
}

TEST(ring_while_running)
{
	concurrent(_metadata, LOG_RING);
}

/* 4 MiB at a 2 MiB-aligned host address, transparent huge pages asked. */
static uint8_t *huge_mem(size_t size)
{
	uint8_t *p = mmap(NULL, size + (2 << 20), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap");
	p = (uint8_t *)(((uintptr_t)p + (2 << 20) - 1) & ~((uintptr_t)(2 << 20) - 1));
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

/* The pages guest_fill_then_write writes for @mask. */
static void expect_mask(struct __test_metadata *_metadata, const uint64_t *bm,
			uint64_t mask)
{
	uint64_t i;

	for (i = 0; i < NPAGES; i++) {
		bool want = (i % 16 == 3) && (mask & (1ULL << (i / 16))) &&
			    i / 16 < 64;

		if (want != test_bit64(bm, i))
			TH_LOG("page %llu: wanted %d", (unsigned long long)i,
			       want);
		ASSERT_EQ(want, test_bit64(bm, i));
	}
}

TEST(toggle_on_live_slot)
{
	uint64_t bm[NPAGES / 64], masks[] = { 0x5, 0x8000000000000001ULL,
					      0xffff0000ffff0000ULL };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *mem;
	unsigned int i;

	vm = vm_create_with_one_vcpu(&vcpu, guest_fill_then_write);
	mem = huge_mem(NPAGES * PAGE);
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, DATA_SLOT, 0, DATA_GPA,
						 NPAGES * PAGE, mem));
	virt_map(vm, DATA_GPA, DATA_GPA, NPAGES * PAGE);
	vcpu_args_set(vcpu, 2, DATA_GPA, NPAGES);
	vcpu_expect_sync(vcpu, 0);	/* all written: mapped writable */

	/* not logging: no log */
	ASSERT_EQ(-1, __get_log(vm, DATA_SLOT, bm));
	ASSERT_EQ(ENOENT, errno);

	ASSERT_EQ(0, __vm_set_user_memory_region(vm, DATA_SLOT,
						 KVM_MEM_LOG_DIRTY_PAGES,
						 DATA_GPA, NPAGES * PAGE, mem));
	get_log(vm, DATA_SLOT, bm);
	expect_mask(_metadata, bm, 0);
	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		iteration = masks[i];
		sync_global_to_guest(vm, iteration);
		vcpu_expect_sync(vcpu, 1);
		get_log(vm, DATA_SLOT, bm);
		expect_mask(_metadata, bm, masks[i]);
	}

	/* off: gone; on again: empty, then exact */
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, DATA_SLOT, 0, DATA_GPA,
						 NPAGES * PAGE, mem));
	ASSERT_EQ(-1, __get_log(vm, DATA_SLOT, bm));
	ASSERT_EQ(ENOENT, errno);
	vcpu_expect_sync(vcpu, 1);	/* writes while not logging */
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, DATA_SLOT,
						 KVM_MEM_LOG_DIRTY_PAGES,
						 DATA_GPA, NPAGES * PAGE, mem));
	get_log(vm, DATA_SLOT, bm);
	expect_mask(_metadata, bm, 0);
	iteration = 0x30;
	sync_global_to_guest(vm, iteration);
	vcpu_expect_sync(vcpu, 1);
	get_log(vm, DATA_SLOT, bm);
	expect_mask(_metadata, bm, 0x30);
	kvm_vm_free(vm);
}

TEST(initially_set)
{
	uint64_t bm[NPAGES / 64];
	struct writers w;
	uint64_t i;
	int nr;

	w.vm = vm_create_with_one_vcpu(&w.vcpu[0], guest_writer);
	for (i = 1; i < NR_VCPUS; i++)
		w.vcpu[i] = vm_vcpu_add(w.vm, i, guest_writer);
	ASSERT_EQ(0, enable_manual(w.vm, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
					 KVM_DIRTY_LOG_INITIALLY_SET));
	w.mem = vm_mem_region_add_mapped(w.vm, DATA_SLOT, DATA_GPA,
					 NPAGES * PAGE,
					 KVM_MEM_LOG_DIRTY_PAGES);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_args_set(w.vcpu[i], 3, DATA_GPA, NPAGES, i);

	/* all set, and it stays so until cleared, writes or not */
	get_log(w.vm, DATA_SLOT, bm);
	for (i = 0; i < NPAGES / 64; i++)
		ASSERT_EQ(~0ULL, bm[i]);
	iteration = 1;
	sync_global_to_guest(w.vm, iteration);
	writers_round(&w);
	get_log(w.vm, DATA_SLOT, bm);
	for (i = 0; i < NPAGES / 64; i++)
		ASSERT_EQ(~0ULL, bm[i]);
	clear_log(w.vm, DATA_SLOT, bm, NPAGES);

	iteration = 2;
	sync_global_to_guest(w.vm, iteration);
	writers_round(&w);
	get_log(w.vm, DATA_SLOT, bm);
	ASSERT_EQ(0, check_exact(w.mem, bm, 2, &nr));
	ASSERT_LT(0, nr);
	kvm_vm_free(w.vm);
}

TEST(move_and_delete_while_logging)
{
	uint64_t bm[NPAGES / 64];
	struct kvm_vcpu *vcpu;
	struct writers w;
	int nr;

	writers_create(&w, KVM_MEM_LOG_DIRTY_PAGES, LOG_LEGACY, 0);
	iteration = 1;
	sync_global_to_guest(w.vm, iteration);
	writers_round(&w);

	/* the log moves with the slot */
	vm_mem_region_move(w.vm, DATA_SLOT, MOVED_GPA);
	get_log(w.vm, DATA_SLOT, bm);
	ASSERT_EQ(0, check_exact(w.mem, bm, 1, &nr));

	/* and the guest writing at the new place is logged */
	virt_map(w.vm, MOVED_GPA, MOVED_GPA, NPAGES * PAGE);
	vcpu = vm_vcpu_add(w.vm, NR_VCPUS, guest_writer);
	vcpu_args_set(vcpu, 3, MOVED_GPA, NPAGES, 7ULL);
	iteration = 2;
	sync_global_to_guest(w.vm, iteration);
	vcpu_expect_sync(vcpu, 2);
	get_log(w.vm, DATA_SLOT, bm);
	ASSERT_EQ(0, check_exact(w.mem, bm, 2, &nr));
	ASSERT_LT(0, nr);

	vm_mem_region_delete(w.vm, DATA_SLOT);
	ASSERT_EQ(-1, __get_log(w.vm, DATA_SLOT, bm));
	ASSERT_EQ(ENOENT, errno);
	kvm_vm_free(w.vm);
}

TEST(kernel_writes_logged)
{
	uint64_t bm[NPAGES / 64];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t i;

	vm = vm_create_with_one_vcpu(&vcpu, guest_kvmclock);
	vm_mem_region_add_mapped(vm, DATA_SLOT, DATA_GPA, NPAGES * PAGE,
				 KVM_MEM_LOG_DIRTY_PAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA + 5 * PAGE, DATA_GPA + 700 * PAGE);
	vcpu_expect_sync(vcpu, 0);
	get_log(vm, DATA_SLOT, bm);
	for (i = 0; i < NPAGES / 64; i++)
		ASSERT_EQ(0, bm[i]);
	vcpu_expect_sync(vcpu, 1);
	get_log(vm, DATA_SLOT, bm);
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(i == 5 || i == 700, test_bit64(bm, i));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(bad_arguments)
{
	uint64_t bm[NPAGES / 64 + 1];
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	struct kvm_vm *vm = vm_create_barebones();
	void *mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, 0, 0, 0, NPAGES * PAGE,
						 mem));
	/* 100 pages: the last piece (from 64) is 36 pages */
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, 1,
						 KVM_MEM_LOG_DIRTY_PAGES,
						 DATA_GPA, 100 * PAGE, mem));
	/* logging and read-only together are fine on x86 */
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, 2, KVM_MEM_LOG_DIRTY_PAGES |
						 KVM_MEM_READONLY, MOVED_GPA,
						 64 * PAGE, mem));

	/* GET_DIRTY_LOG */
	ASSERT_EQ(0, __get_log(vm, 1, bm));
	ASSERT_EQ(-1, __get_log(vm, 0, bm));		/* not logging */
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, __get_log(vm, 5, bm));		/* no slot */
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, __get_log(vm, 0xffff, bm));	/* bad id */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __get_log(vm, (7 << 16) | 1, bm));	/* bad space */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __get_log(vm, 1, (void *)8));
	ASSERT_EQ(EFAULT, errno);

	/* CLEAR_DIRTY_LOG: works without manual protect, as on KVM */
	memset(bm, 0xff, sizeof(bm));
	ASSERT_EQ(0, __clear_log(vm, 1, 0, 100, bm));
	ASSERT_EQ(0, __clear_log(vm, 1, 64, 36, bm));	/* reaches the end */
	ASSERT_EQ(0, __clear_log(vm, 1, 64, 0, bm));
	ASSERT_EQ(-1, __clear_log(vm, 1, 1, 63, bm));	/* unaligned start */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 0, 10, bm));	/* unaligned, short */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 64, 64, bm));	/* past the end */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 128, 0, bm));	/* start past it */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 0, 101, bm));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 1ULL << 63, 64, bm));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 0, 0, 64, bm));	/* not logging */
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, __clear_log(vm, 9, 0, 64, bm));	/* no slot */
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, __clear_log(vm, 0xffff, 0, 64, bm));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 0, 64, (void *)8));
	ASSERT_EQ(EFAULT, errno);

	/* ENABLE_CAP */
	cap.args[0] = KVM_DIRTY_LOG_INITIALLY_SET;	/* needs MANUAL */
	ASSERT_EQ(-1, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(EINVAL, errno);
	cap.args[0] = 1ULL << 5;
	ASSERT_EQ(-1, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(EINVAL, errno);
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	cap.flags = 1;
	ASSERT_EQ(-1, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(EINVAL, errno);
	cap.flags = 0;
	ASSERT_EQ(0, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 0;				/* off again */
	ASSERT_EQ(0, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));

	/* unknown memslot flags still refused */
	ASSERT_EQ(-1, __vm_set_user_memory_region(vm, 3, 1u << 7, 1ULL << 32,
						  PAGE, mem));
	ASSERT_EQ(EINVAL, errno);
	kvm_vm_free(vm);
	munmap(mem, NPAGES * PAGE);
}

/* A ring-mode VM with one vCPU running @guest, its ring mapped. */
static struct kvm_vm *ring_vm(struct kvm_vcpu **vcpu, struct ring *r,
			      uint64_t bytes, void *guest)
{
	struct kvm_vm *vm = vm_create_long_mode();

	TEST_ASSERT(!__enable_ring(vm, bytes), "enable the dirty ring: %s",
		    strerror(errno));
	*vcpu = vm_vcpu_add(vm, 0, guest);
	memset(r, 0, sizeof(*r));
	ring_map(r, *vcpu, bytes);
	return vm;
}

TEST(ring_full_exit)
{
	uint64_t bm[NPAGES / 64] = { 0 }, i;
	int n, total = 0, fulls = 0;
	struct kvm_vcpu *vcpu;
	struct ucall uc;
	struct kvm_vm *vm;
	struct ring r;

	/* 1024 entries for 1024 pages written in one go */
	vm = ring_vm(&vcpu, &r, SMALL_RING, guest_fill_then_write);
	vm_mem_region_add_mapped(vm, DATA_SLOT, DATA_GPA, NPAGES * PAGE,
				 KVM_MEM_LOG_DIRTY_PAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA, NPAGES);
	for (;;) {
		ASSERT_EQ(0, __vcpu_run(vcpu));
		if (vcpu->run->exit_reason != KVM_EXIT_DIRTY_RING_FULL)
			break;
		n = ring_harvest(&r, DATA_SLOT, bm, NULL);
		/* soft full: past the reserve, never past the end */
		if (!fulls++) {
			ASSERT_LE(r.n - RING_RSVD_MAX, n);
			ASSERT_GE(r.n, n);
		}
		/* still full without a reset: the guest does not run */
		ASSERT_EQ(0, __vcpu_run(vcpu));
		ASSERT_EQ(KVM_EXIT_DIRTY_RING_FULL, vcpu->run->exit_reason);
		ASSERT_EQ(n, reset_rings(vm));
		total += n;
	}
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	ASSERT_LT(0, fulls);
	total += ring_harvest(&r, DATA_SLOT, bm, NULL);
	ASSERT_LE(NPAGES, total);
	for (i = 0; i < NPAGES; i++)
		ASSERT_TRUE(test_bit64(bm, i));
	kvm_vm_free(vm);
}

TEST(ring_kernel_writes_and_deleted_slot)
{
	uint64_t bm[NPAGES / 64] = { 0 }, i;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ring r;
	int n;

	vm = ring_vm(&vcpu, &r, RING_BYTES, guest_kvmclock);
	vm_mem_region_add_mapped(vm, DATA_SLOT, DATA_GPA, NPAGES * PAGE,
				 KVM_MEM_LOG_DIRTY_PAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA + 5 * PAGE, DATA_GPA + 700 * PAGE);
	vcpu_expect_sync(vcpu, 0);
	ASSERT_EQ(0, ring_harvest(&r, DATA_SLOT, bm, NULL));
	vcpu_expect_sync(vcpu, 1);
	n = ring_harvest(&r, DATA_SLOT, bm, NULL);
	ASSERT_LE(2, n);
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(i == 5 || i == 700, test_bit64(bm, i));
	/* the slot goes before the reset: its entries are dropped */
	vm_mem_region_delete(vm, DATA_SLOT);
	ASSERT_EQ(n, reset_rings(vm));
	ASSERT_EQ(0, reset_rings(vm));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(ring_bad_arguments)
{
	uint64_t bm[NPAGES / 64 + 1];
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL };
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu;
	void *mem, *p;

	/* no ring yet: nothing to reset */
	ASSERT_EQ(-1, reset_rings(vm));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __enable_ring(vm, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __enable_ring(vm, 3 * PAGE));	/* not a power of 2 */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __enable_ring(vm, PAGE / 2));	/* under a page */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, __enable_ring(vm, 2 << 20));	/* over KVM's max */
	ASSERT_EQ(E2BIG, errno);
	cap.args[0] = RING_BYTES;			/* the ACQ_REL cap */
	ASSERT_EQ(0, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(-1, __enable_ring(vm, RING_BYTES));	/* once only */
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, reset_rings(vm));

	/* the bitmap ioctls are refused in ring mode */
	mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, __vm_set_user_memory_region(vm, 1,
						 KVM_MEM_LOG_DIRTY_PAGES,
						 DATA_GPA, NPAGES * PAGE, mem));
	ASSERT_EQ(-1, __get_log(vm, 1, bm));
	ASSERT_EQ(ENXIO, errno);
	ASSERT_EQ(-1, __clear_log(vm, 1, 0, 64, bm));
	ASSERT_EQ(ENXIO, errno);

	/* the ring's mapping: shared, not executable, within the ring */
	vcpu = vm_vcpu_add_raw(vm, 0);
	p = ring_mmap(vcpu, RING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = ring_mmap(vcpu, RING_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = ring_mmap(vcpu, RING_BYTES, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ((volatile struct kvm_dirty_gfn *)p)[0].flags);
	munmap(p, RING_BYTES);
	kvm_vm_free(vm);

	/* not once a vCPU exists */
	vm = vm_create_barebones();
	vm_vcpu_add_raw(vm, 0);
	ASSERT_EQ(-1, __enable_ring(vm, RING_BYTES));
	ASSERT_EQ(EINVAL, errno);
	kvm_vm_free(vm);
	munmap(mem, NPAGES * PAGE);
}

TEST_HARNESS_MAIN
