// SPDX-License-Identifier: GPL-2.0
/*
 * mmu_test.c - guest memory while the VMM changes things under it:
 *  - vCPU creation that fails (no fd left under RLIMIT_NOFILE) while other
 *    threads keep the MMU notifiers busy (MADV_DONTNEED on guest memory
 *    that a running vCPU keeps faulting back in): a vCPU whose creation
 *    failed must never be reached by the notifiers' TLB-flush requests;
 *  - a large, fully mapped slot unmapped by the host: the guest then
 *    faults (KVM_RUN fails with EFAULT, as on KVM) instead of reaching the
 *    old pages, and sees fresh memory once the host maps some again;
 *  - read accesses do not make the host break copy-on-write: a private
 *    file mapping read by the guest keeps sharing the page cache, and a
 *    guest write goes to a private copy, never to the file;
 *  - memory the host backs with transparent huge pages is mapped for the
 *    guest with 2 MiB pages (the VM's pages_2m statistic, as on KVM; not
 *    with shadow paging, where this guest's 4 KiB pages stay small), and
 *    when the host splits one and replaces a 4 KiB page in it, the guest
 *    sees the new page, never the old, in both directions;
 *  - code run from such memory: with nx_huge_pages in effect (by default
 *    where the CPU has the iTLB-multihit erratum, on KVM and on xkvm) the
 *    2 MiB mapping it runs from is split, elsewhere it stays.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "stats_util.h"
#include "xkvm_util.h"

#define DATA_GPA	0x40000000ULL
#define PAGE		4096ULL

/* Write every page of [base, base + size) again and again. */
static void guest_touch_loop(uint64_t base, uint64_t size)
{
	uint64_t round, off;

	for (round = 1;; round++) {
		for (off = 0; off < size; off += PAGE)
			*(volatile uint64_t *)(base + off) = round;
		GUEST_SYNC(round);
	}
}

struct race {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	void *mem;
	uint64_t size;
	volatile int stop;
	int rounds;
	int creates, emfile;
};

static void *run_vcpu(void *arg)
{
	struct race *r = arg;
	struct ucall uc;

	while (!r->stop) {
		TEST_ASSERT(vcpu_run_ucall(r->vcpu, &uc) == UCALL_SYNC,
			    "guest stopped: %s", ucall_describe(&uc));
		r->rounds++;
	}
	return NULL;
}

static void *drop_pages(void *arg)
{
	struct race *r = arg;

	while (!r->stop)
		TEST_ASSERT(!madvise(r->mem, r->size, MADV_DONTNEED),
			    "madvise failed");
	return NULL;
}

TEST(vcpu_create_fails_during_notifier_flushes)
{
	struct rlimit old, low;
	pthread_t t_run, t_drop;
	struct race r = { 0 };
	int i, fd;

	r.size = 64 * PAGE;
	r.vm = vm_create_with_one_vcpu(&r.vcpu, guest_touch_loop);
	r.mem = vm_mem_region_add_mapped(r.vm, 1, DATA_GPA, r.size, 0);
	vcpu_args_set(r.vcpu, 2, DATA_GPA, r.size);

	ASSERT_EQ(0, pthread_create(&t_run, NULL, run_vcpu, &r));
	ASSERT_EQ(0, pthread_create(&t_drop, NULL, drop_pages, &r));

	/* no fd left: every vCPU is built, published and torn down again */
	fd = dup(0);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	low = old;
	low.rlim_cur = fd;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	/* at least 400 tries, and while the guest ran 20 rounds meanwhile */
	for (i = 0; i < 400 || (r.rounds < 20 && i < 200000); i++) {
		fd = __vm_create_vcpu(r.vm, 1 + i % 8);
		if (fd >= 0) {
			close(fd);	/* only if the limit let it through */
			r.creates++;
		} else if (errno == EMFILE) {
			r.emfile++;
		} else {
			TH_LOG("KVM_CREATE_VCPU: %s", strerror(errno));
		}
	}
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));

	r.stop = 1;
	pthread_join(t_drop, NULL);
	pthread_join(t_run, NULL);
	TH_LOG("%d guest rounds, %d creations refused", r.rounds, r.emfile);
	EXPECT_EQ(i, r.emfile);
	EXPECT_EQ(0, r.creates);
	EXPECT_LT(0, r.rounds);

	/* the VM is intact: a vCPU can still be created and the guest runs */
	fd = __vm_create_vcpu(r.vm, 1);
	EXPECT_LE(0, fd) TH_LOG("KVM_CREATE_VCPU: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	vcpu_expect_sync(r.vcpu, r.rounds + 1);
	kvm_vm_free(r.vm);
}

/* A VM whose guest runs @guest, with [mem, mem + size) at DATA_GPA. */
static struct kvm_vm *vm_with_data_at(struct kvm_vcpu **vcpu, void *guest,
				      void *mem, uint64_t size)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest);

	if (__vm_set_user_memory_region(vm, 1, 0, DATA_GPA, size, mem)) {
		kvm_vm_free(vm);
		return NULL;
	}
	virt_map(vm, DATA_GPA, DATA_GPA, size);
	return vm;
}

/* The sum of the first word of every page of [base, base + size). */
static uint64_t guest_sum(uint64_t base, uint64_t size)
{
	uint64_t off, sum = 0;

	for (off = 0; off < size; off += PAGE)
		sum += *(volatile uint64_t *)(base + off);
	return sum;
}

static void guest_read_all(uint64_t base, uint64_t size)
{
	for (;;)
		GUEST_SYNC(guest_sum(base, size));
}

TEST(large_slot_unmapped_by_host)
{
	uint64_t size = 32ULL << 20, off, *mem, *fresh;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_read_all);
	mem = vm_mem_region_add_mapped(vm, 1, DATA_GPA, size, 0);
	for (off = 0; off < size; off += PAGE)
		mem[off / 8] = 1;
	vcpu_args_set(vcpu, 2, DATA_GPA, size);
	vcpu_expect_sync(vcpu, size / PAGE);

	/* every page is mapped for the guest now; the host takes them away */
	ASSERT_EQ(0, munmap(mem, size));
	r = __vcpu_run(vcpu);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EFAULT, errno);

	/* fresh memory at the same place: the guest sees it, not the old */
	fresh = mmap(mem, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ((void *)mem, (void *)fresh);
	fresh[0] = 7;
	/* the guest goes on with the pass it started: only fresh[0] is set */
	vcpu_expect_sync(vcpu, 7);
	kvm_vm_free(vm);
}

/*
 * The smaps field @field ("Anonymous", "AnonHugePages") of the mapping
 * that contains @addr, in kB (-1: none).
 */
static long smaps_kb(void *addr, const char *field)
{
	unsigned long lo, hi, a = (unsigned long)addr;
	char line[256], name[64];
	long kb = -1;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "%63[^:]: %ld kB", name, &kb) == 2 &&
		    !strcmp(name, field))
			break;
		kb = -1;
	}
	fclose(f);
	return kb;
}

static long anon_kb(void *addr)
{
	return smaps_kb(addr, "Anonymous");
}

static void guest_read_then_write(uint64_t base, uint64_t size)
{
	GUEST_SYNC(guest_sum(base, size));
	*(volatile uint64_t *)base = 0x5a5a;
	GUEST_DONE();
}

TEST(read_faults_keep_copy_on_write)
{
	uint64_t size = 16 * PAGE, off, want = 0, buf[1];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t *mem;
	int fd;

	fd = memfd_create("xkvm-cow", 0);
	ASSERT_LE(0, fd);
	for (off = 0; off < size; off += PAGE) {
		uint64_t v = off / PAGE + 1;

		ASSERT_EQ(8, pwrite(fd, &v, 8, off));
		want += v;
	}
	ASSERT_EQ(0, ftruncate(fd, size));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);

	vm = vm_with_data_at(&vcpu, guest_read_then_write, mem, size);
	ASSERT_NE(NULL, vm);
	vcpu_args_set(vcpu, 2, DATA_GPA, size);

	vcpu_expect_sync(vcpu, want);
	/* reading made no private copies: the pages are still the file's */
	EXPECT_EQ(0, anon_kb(mem));

	vcpu_expect_done(vcpu);
	/* the write went to a private copy the host sees, not to the file */
	EXPECT_EQ(0x5a5a, mem[0]);
	EXPECT_EQ(4, anon_kb(mem));
	ASSERT_EQ(8, pread(fd, buf, 8, 0));
	EXPECT_EQ(1, buf[0]);
	kvm_vm_free(vm);
	munmap(mem, size);
	close(fd);
}

/* Sum every page's first word, then add one to each; again and again. */
static void guest_sum_then_increment(uint64_t base, uint64_t size)
{
	uint64_t off;

	for (;;) {
		GUEST_SYNC(guest_sum(base, size));
		for (off = 0; off < size; off += PAGE)
			(*(volatile uint64_t *)(base + off))++;
		GUEST_SYNC(0);
	}
}

static long anon_huge_kb(void *addr)
{
	return smaps_kb(addr, "AnonHugePages");
}

static int64_t vm_stat(struct __test_metadata *_metadata, struct kvm_vm *vm,
		       const char *name)
{
	struct stats_file s;
	int64_t v;
	int fd = ioctl(vm->fd, KVM_GET_STATS_FD, 0);

	if (fd < 0 || stats_file_open(&s, fd) || stats_file_read(&s))
		return -1;
	v = stats_file_get(&s, name);
	stats_file_close(&s);
	return v;
}

/* 2 MiB-aligned anonymous memory of @size the host backs with huge pages. */
static uint64_t *huge_mem(size_t size, void **raw)
{
	*raw = mmap(NULL, size + (2ULL << 20), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		return NULL;
	return (uint64_t *)(((uintptr_t)*raw + (2ULL << 20) - 1) &
			    ~((2ULL << 20) - 1));
}

TEST(huge_pages_mapped_large_and_split_coherently)
{
	const uint64_t size = 8ULL << 20, npages = size / PAGE;
	const uint64_t victim = (2ULL << 20) + 5 * PAGE;	/* in the 2nd */
	uint64_t off, sum = 0, *mem;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	void *raw;

	mem = huge_mem(size, &raw);
	ASSERT_NE(NULL, mem);
	if (madvise(mem, size, MADV_HUGEPAGE))
		SKIP(return, "no transparent huge pages: %s", strerror(errno));
	for (off = 0; off < size; off += PAGE) {
		mem[off / 8] = off / PAGE + 1;
		sum += off / PAGE + 1;
	}
	if (anon_huge_kb(mem) < 2048)
		SKIP(return, "the host gave no huge page (%ld kB)",
		     anon_huge_kb(mem));

	vm = vm_with_data_at(&vcpu, guest_sum_then_increment, mem, size);
	ASSERT_NE(NULL, vm);
	vcpu_args_set(vcpu, 2, DATA_GPA, size);

	vcpu_expect_sync(vcpu, sum);
	/* shadow paging (KVM's, xkvm's) maps this guest's 4 KiB pages small */
	if (!xkvm_shadow_paging())
		EXPECT_LE(1, vm_stat(_metadata, vm, "pages_2m"));
	vcpu_expect_sync(vcpu, 0);
	for (off = 0; off < size; off += PAGE)
		ASSERT_EQ(off / PAGE + 2, mem[off / 8]) TH_LOG("page %llu",
							       off / PAGE);

	/* the host splits a huge page and puts a new 4 KiB page in it */
	ASSERT_EQ(0, madvise((char *)mem + victim, PAGE, MADV_DONTNEED));
	ASSERT_EQ(0, mem[victim / 8]);
	mem[victim / 8] = 1000;
	vcpu_expect_sync(vcpu, sum + npages - (victim / PAGE + 2) + 1000);
	vcpu_expect_sync(vcpu, 0);
	for (off = 0; off < size; off += PAGE)
		ASSERT_EQ(off == victim ? 1001 : off / PAGE + 3, mem[off / 8])
			TH_LOG("page %llu", off / PAGE);
	kvm_vm_free(vm);
	munmap(raw, size + (2ULL << 20));
}

/* Read every page, then call the code at @code. */
static void guest_read_then_call(uint64_t base, uint64_t size, uint64_t code)
{
	GUEST_SYNC(guest_sum(base, size));
	GUEST_SYNC(((uint64_t (*)(void))code)());
	GUEST_DONE();
}

/*
 * Are 2 MiB mappings kept non-executable?  The core module's nx_huge_pages
 * parameter (KVM's and xkvm's read Y or N: what is in effect), else the
 * kernel's view of the iTLB-multihit erratum.
 */
static bool nx_huge_pages(void)
{
	const char *core = getenv("XKVM_CORE_MODULE");
	char path[128], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/nx_huge_pages",
		 core ? core : "kvm");
	f = fopen(path, "r");
	if (!f)
		f = fopen("/sys/devices/system/cpu/vulnerabilities/itlb_multihit",
			  "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	/* the parameter reads Y or N; the erratum's file a sentence */
	return buf[0] == 'Y' || (buf[0] && buf[1] != '\n' &&
				 strncmp(buf, "Not affected", 12));
}

TEST(huge_page_executed_split_where_itlb_multihit)
{
	static const uint8_t mov_eax_42_ret[] = { 0xb8, 42, 0, 0, 0, 0xc3 };
	const uint64_t size = 4ULL << 20, code = (2ULL << 20) + 8 * PAGE;
	int64_t before, after;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t *mem;
	void *raw;

	mem = huge_mem(size, &raw);
	ASSERT_NE(NULL, mem);
	if (madvise(mem, size, MADV_HUGEPAGE))
		SKIP(return, "no transparent huge pages: %s", strerror(errno));
	memset(mem, 0, size);
	memcpy((char *)mem + code, mov_eax_42_ret, sizeof(mov_eax_42_ret));
	if (anon_huge_kb(mem) < 4096)
		SKIP(return, "the host gave no huge pages (%ld kB)",
		     anon_huge_kb(mem));

	vm = vm_with_data_at(&vcpu, guest_read_then_call, mem, size);
	ASSERT_NE(NULL, vm);
	vcpu_args_set(vcpu, 3, DATA_GPA, size, DATA_GPA + code);

	vcpu_expect_sync(vcpu, 0xc30000002ab8ULL);
	before = vm_stat(_metadata, vm, "pages_2m");
	if (!xkvm_shadow_paging())
		EXPECT_LE(2, before);
	vcpu_expect_sync(vcpu, 42);
	after = vm_stat(_metadata, vm, "pages_2m");
	if (xkvm_shadow_paging()) {
		/* no 2 MiB mappings to split: the code just runs */
		EXPECT_EQ(before, after);
	} else if (nx_huge_pages()) {
		EXPECT_EQ(before - 1, after) TH_LOG("nx_huge_pages: split");
	} else {
		EXPECT_EQ(before, after) TH_LOG("no nx_huge_pages: kept");
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
	munmap(raw, size + (2ULL << 20));
}

TEST_HARNESS_MAIN
