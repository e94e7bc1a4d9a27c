// SPDX-License-Identifier: GPL-2.0
/*
 * stats_test.c - KVM's binary statistics (KVM_GET_STATS_FD):
 *  - KVM_CAP_BINARY_STATS_FD is offered; the VM and vCPU fds each give a
 *    stats fd;
 *  - the file's layout: header (flags 0, offsets multiples of 8, blocks
 *    that do not overlap), the id string ("kvm-<pid>", and
 *    "kvm-<pid>/vcpu-<id>" for a vCPU), descriptors with valid types,
 *    units and bases, unique names, values inside the data block; reads
 *    at any offset and length agree with a whole read, and end at the end;
 *  - KVM's counters move as the guest's exits say: exits, io_exits,
 *    mmio_exits, halt_exits, insn_emulation, pf_fixed, request_irq_exits,
 *    signal_exits;
 *  - the stats fd keeps working after the VM and vCPU fds are closed;
 *  - debugfs as KVM lays it out (what kvm_stat -d reads): a file per
 *    statistic summed over all VMs, a "<pid>-<VM fd>" directory per VM
 *    with that VM's sums, gone with the VM.  The directory is the core
 *    module's name ("kvm", or "xkvm" unless it stands in for KVM).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "stats_util.h"
#include "xkvm_util.h"

static void stats_open(struct __test_metadata *_metadata, struct stats_file *s,
		       int owner_fd)
{
	int fd = ioctl(owner_fd, KVM_GET_STATS_FD, 0);

	ASSERT_LE(0, fd) TH_LOG("KVM_GET_STATS_FD: %s", strerror(errno));
	ASSERT_EQ(0, stats_file_open(s, fd));
	ASSERT_LT(0, s->h.name_size);
	ASSERT_LT(0, s->h.num_desc);
}

static void stats_read(struct __test_metadata *_metadata, struct stats_file *s)
{
	ASSERT_EQ(0, stats_file_read(s));
}

static void check_layout(struct __test_metadata *_metadata, struct stats_file *s,
			 const char *want_id)
{
	const struct kvm_stats_header *h = &s->h;
	size_t desc_end = h->desc_offset + h->num_desc * s->desc_size;
	unsigned int i, j;

	EXPECT_EQ(0, h->flags);
	EXPECT_EQ(0, h->id_offset % 8);
	EXPECT_EQ(0, h->desc_offset % 8);
	EXPECT_EQ(0, h->data_offset % 8);
	/* no block overlaps another (any order is allowed) */
	EXPECT_TRUE(h->id_offset >= sizeof(*h));
	EXPECT_TRUE(h->id_offset + h->name_size <= h->desc_offset ||
		    desc_end <= h->id_offset);
	EXPECT_TRUE(desc_end <= h->data_offset ||
		    h->data_offset + s->nvalues * 8 <= h->desc_offset);
	EXPECT_STREQ(want_id, s->id);

	for (i = 0; i < h->num_desc; i++) {
		struct kvm_stats_desc *d = stats_file_desc(s, i);
		uint32_t type = d->flags & KVM_STATS_TYPE_MASK;

		EXPECT_LT(0, strlen(d->name)) TH_LOG("descriptor %u", i);
		EXPECT_LT(strlen(d->name), h->name_size);
		EXPECT_LE(type, KVM_STATS_TYPE_MAX) TH_LOG("%s", d->name);
		EXPECT_LE(d->flags & KVM_STATS_UNIT_MASK, KVM_STATS_UNIT_MAX);
		EXPECT_LE(d->flags & KVM_STATS_BASE_MASK, KVM_STATS_BASE_MAX);
		EXPECT_EQ(0, d->offset % 8) TH_LOG("%s", d->name);
		EXPECT_LT(0, d->size) TH_LOG("%s", d->name);
		if (type == KVM_STATS_TYPE_CUMULATIVE ||
		    type == KVM_STATS_TYPE_INSTANT || type == KVM_STATS_TYPE_PEAK)
			EXPECT_EQ(1, d->size) TH_LOG("%s", d->name);
		for (j = 0; j < i; j++)
			EXPECT_STRNE(stats_file_desc(s, j)->name, d->name);
	}
}

/* Reads of any piece, and past the end, agree with a whole read. */
static void check_partial_reads(struct __test_metadata *_metadata,
				struct stats_file *s)
{
	size_t len = s->h.desc_offset + s->h.num_desc * s->desc_size;
	char *whole = malloc(len), *part = malloc(len);
	size_t off;
	char c;

	ASSERT_EQ(len, pread(s->fd, whole, len, 0));
	for (off = 0; off < len; off += 13) {
		size_t n = off + 29 < len ? 29 : len - off;

		ASSERT_EQ(n, pread(s->fd, part, n, off));
		EXPECT_EQ(0, memcmp(part, whole + off, n)) TH_LOG("offset %zu", off);
	}
	EXPECT_EQ(0, pread(s->fd, &c, 1, s->h.data_offset + s->nvalues * 8 + 64));
	free(whole);
	free(part);
}

TEST(layout)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct stats_file vs, cs;
	char id[64];
	int vcpu_fd;

	ASSERT_LT(0, vm_check_cap(vm, KVM_CAP_BINARY_STATS_FD));
	stats_open(_metadata, &vs, vm->fd);
	snprintf(id, sizeof(id), "kvm-%d", getpid());
	check_layout(_metadata, &vs, id);
	check_partial_reads(_metadata, &vs);
	stats_read(_metadata, &vs);
	EXPECT_LE(0, stats_file_get(&vs, "remote_tlb_flush"));

	vcpu_fd = __vm_create_vcpu(vm, 3);
	ASSERT_LE(0, vcpu_fd);
	stats_open(_metadata, &cs, vcpu_fd);
	snprintf(id, sizeof(id), "kvm-%d/vcpu-3", getpid());
	check_layout(_metadata, &cs, id);
	check_partial_reads(_metadata, &cs);
	stats_read(_metadata, &cs);
	EXPECT_EQ(0, stats_file_get(&cs, "exits"));
	EXPECT_EQ(0, stats_file_get(&cs, "io_exits"));
	EXPECT_EQ(0, stats_file_get(&cs, "halt_exits"));

	/* the stats outlive the VM and vCPU fds */
	close(vcpu_fd);
	kvm_vm_free(vm);
	stats_read(_metadata, &cs);
	EXPECT_EQ(0, stats_file_get(&cs, "exits"));
	stats_read(_metadata, &vs);
	stats_file_close(&cs);
	stats_file_close(&vs);
}

#define MMIO_GPA	0xc0000000ULL
#define NR_IO		5

static void guest_exits(void)
{
	volatile uint32_t *mmio = (volatile uint32_t *)MMIO_GPA;
	int i;

	for (i = 0; i < NR_IO; i++)
		outb(0x80, i);
	(void)*mmio;
	hlt();
	/* interrupts on, then busy until the host gives up */
	__asm__ __volatile__("sti");
	for (;;) {
		uint32_t a, b, c, d;

		cpuid(0, 0, &a, &b, &c, &d);
	}
}

/* How much each counter grew from @a to @b. */
static int64_t grew(struct stats_file *a, struct stats_file *b, const char *name)
{
	return stats_file_get(b, name) - stats_file_get(a, name);
}

static void alarm_nop(int sig)
{
}

TEST(counters_follow_exits)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_exits);
	struct stats_file s0, s1;
	struct sigaction sa = { .sa_handler = alarm_nop };
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };
	int i, r;

	virt_map(vm, MMIO_GPA, MMIO_GPA, 4096);
	stats_open(_metadata, &s0, vcpu->fd);
	stats_open(_metadata, &s1, vcpu->fd);
	stats_read(_metadata, &s0);

	for (i = 0; i < NR_IO; i++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	}
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	stats_read(_metadata, &s1);

	EXPECT_EQ(NR_IO, grew(&s0, &s1, "io_exits"));
	EXPECT_EQ(1, grew(&s0, &s1, "mmio_exits"));
	EXPECT_EQ(1, grew(&s0, &s1, "halt_exits"));
	EXPECT_LE(1, grew(&s0, &s1, "insn_emulation"));
	EXPECT_LE(NR_IO + 2, grew(&s0, &s1, "exits"));
	EXPECT_LT(0, grew(&s0, &s1, "pf_fixed"));	/* the guest's pages */

	/* an interrupt window userspace asked for (the guest has IF=1 now) */
	stats_read(_metadata, &s0);
	vcpu->run->request_interrupt_window = 1;
	vcpu_run(vcpu);
	vcpu->run->request_interrupt_window = 0;
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IRQ_WINDOW_OPEN);
	stats_read(_metadata, &s1);
	EXPECT_EQ(1, grew(&s0, &s1, "request_irq_exits"));

	/* a signal ends KVM_RUN: KVM_EXIT_INTR, counted */
	sigaction(SIGALRM, &sa, NULL);
	stats_read(_metadata, &s0);
	setitimer(ITIMER_REAL, &it, NULL);
	r = __vcpu_run(vcpu);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EINTR, errno);
	stats_read(_metadata, &s1);
	EXPECT_EQ(1, grew(&s0, &s1, "signal_exits"));
	EXPECT_LT(0, grew(&s0, &s1, "exits"));

	stats_file_close(&s0);
	stats_file_close(&s1);
	kvm_vm_free(vm);
}

/* The number in debugfs file @dir/@name, or -1. */
static int64_t debugfs_value(const char *dir, const char *name)
{
	char path[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

TEST(debugfs_as_kvm)
{
	const char *core = getenv("XKVM_CORE_MODULE");
	char top[128], vmdir[192];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct stat st;
	int64_t before;
	int i;

	snprintf(top, sizeof(top), "/sys/kernel/debug/%s", core ? core : "kvm");
	if (stat("/sys/kernel/debug/", &st) || stat(top, &st))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (stat(top, &st))
		SKIP(return, "no %s (debugfs: %s)", top, strerror(errno));

	before = debugfs_value(top, "io_exits");
	ASSERT_LE(0, before);
	vm = vm_create_with_one_vcpu(&vcpu, guest_exits);
	snprintf(vmdir, sizeof(vmdir), "%s/%d-%d", top, getpid(), vm->fd);
	ASSERT_EQ(0, stat(vmdir, &st)) TH_LOG("%s: %s", vmdir, strerror(errno));
	EXPECT_EQ(0, debugfs_value(vmdir, "io_exits"));

	for (i = 0; i < NR_IO; i++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	}
	EXPECT_EQ(NR_IO, debugfs_value(vmdir, "io_exits"));
	EXPECT_LE(NR_IO, debugfs_value(vmdir, "exits"));
	EXPECT_LE(before + NR_IO, debugfs_value(top, "io_exits"));
	EXPECT_LE(0, debugfs_value(vmdir, "remote_tlb_flush"));
	EXPECT_LE(0, debugfs_value(top, "pages_4k"));

	kvm_vm_free(vm);
	EXPECT_NE(0, stat(vmdir, &st)) TH_LOG("%s outlived its VM", vmdir);
}

TEST_HARNESS_MAIN
