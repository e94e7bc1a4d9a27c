// SPDX-License-Identifier: GPL-2.0
/*
 * ioeventfd_test.c - KVM_IOEVENTFD as stock KVM implements it (every case
 * passes against it in reference mode):
 *
 * - the errors: unknown flags, bad lengths, a range that wraps, no length
 *   with DATAMATCH (EINVAL), a bad fd (EBADF), an fd that is no eventfd
 *   (EINVAL), KVM's collision rule (EEXIST), deassigning one that is not
 *   there (ENOENT);
 * - port I/O and MMIO doorbells of every length complete in the kernel:
 *   the guest reaches its next GUEST_SYNC without an exit and the
 *   eventfd counted each write;
 * - DATAMATCH hits and misses (a miss, or another length, exits to
 *   userspace with the guest's data), length 0 = any length, reads never
 *   served, deassign makes the write exit again;
 * - the eventfd closed by userspace while registered (still signalled,
 *   no exit, no crash) and VMs closed with ioeventfds registered (the
 *   kernel memory comes back).
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"
#include "fuzz_util.h"

#define MMIO_GPA	0xc0000000ULL
#define PORT_BASE	0xe0

static int __ioeventfd(struct kvm_vm *vm, uint64_t addr, uint32_t len,
		       int fd, uint32_t flags, uint64_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = len,
		.fd = fd, .flags = flags,
	};

	return ioctl(vm->fd, KVM_IOEVENTFD, &io);
}

static void ioeventfd(struct kvm_vm *vm, uint64_t addr, uint32_t len, int fd,
		      uint32_t flags, uint64_t datamatch)
{
	int r = __ioeventfd(vm, addr, len, fd, flags, datamatch);

	TEST_ASSERT(!r, "KVM_IOEVENTFD(0x%lx, %u, flags 0x%x): %s",
		    (unsigned long)addr, len, flags, strerror(errno));
}

/* The counter of @fd, reset to 0 (nonblocking eventfds only). */
static uint64_t efd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int efd_new(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd: %s", strerror(errno));
	return fd;
}

#define EXPECT_ERRNO(call, err)						\
do {									\
	errno = 0;							\
	EXPECT_EQ(-1, (call));						\
	EXPECT_EQ((err), errno) TH_LOG("%s", #call);			\
} while (0)

TEST(errnos)
{
	struct kvm_vm *vm = vm_create_barebones();
	int efd = efd_new(), pfd[2];
	const uint32_t DM = KVM_IOEVENTFD_FLAG_DATAMATCH;
	const uint32_t PIO = KVM_IOEVENTFD_FLAG_PIO;
	const uint32_t DE = KVM_IOEVENTFD_FLAG_DEASSIGN;

	ASSERT_EQ(1, kvm_check_cap(KVM_CAP_IOEVENTFD));
	ASSERT_EQ(1, kvm_check_cap(KVM_CAP_IOEVENTFD_ANY_LENGTH));
	ASSERT_EQ(1, kvm_check_cap(KVM_CAP_IOEVENTFD_NO_LENGTH));
	ASSERT_EQ(0, pipe(pfd));

	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 3, efd, 0, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 16, efd, 0, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, ~0ULL - 1, 4, efd, 0, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, 1U << 5, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, 1U << 31, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 0, efd, DM, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, -1, 0, 0), EBADF);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, 100000, 0, 0), EBADF);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, pfd[0], 0, 0), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, vm->fd, 0, 0), EINVAL);

	/* KVM's collision rule: same bus and address ... */
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, DM, 1));
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, DM, 1), EEXIST);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, 0, 0), EEXIST);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 0, efd, 0, 0), EEXIST);
	/* ... another value, another length, another bus or address: fine */
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, DM, 2));
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 2, efd, 0, 0));
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 2, efd, DM, 7), EEXIST);
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, PIO | DM, 1));
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA + 1, 4, efd, DM, 1));
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA + 8, 0, efd, 0, 0));
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA + 8, 8, efd, DM, 3), EEXIST);

	/* deassign: every field must match; the fd is looked up first */
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, -1, DE | DM, 1), EBADF);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, pfd[1], DE | DM, 1), EINVAL);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, DE | DM, 3), ENOENT);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, DE, 0), ENOENT);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 8, efd, DE | DM, 1), ENOENT);
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA + 2, 4, efd, DE | DM, 1), ENOENT);
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, DE | DM, 1));
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA, 4, efd, DE | DM, 1), ENOENT);
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, PIO | DE | DM, 1));
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA + 8, 0, efd, DE, 0));
	/* the place is free again */
	EXPECT_EQ(0, __ioeventfd(vm, MMIO_GPA, 4, efd, DM, 1));

	close(pfd[0]);
	close(pfd[1]);
	close(efd);
	kvm_vm_free(vm);
}

static void mmio_write(uint64_t gpa, uint64_t v, int len)
{
	switch (len) {
	case 1: *(volatile uint8_t *)gpa = v; break;
	case 2: *(volatile uint16_t *)gpa = v; break;
	case 4: *(volatile uint32_t *)gpa = v; break;
	default: *(volatile uint64_t *)gpa = v; break;
	}
}

static void guest_doorbells(void)
{
	int round;

	for (round = 1; round <= 3; round++) {
		outb(PORT_BASE, round);
		outw(PORT_BASE + 2, round);
		outl(PORT_BASE + 4, round);
		mmio_write(MMIO_GPA + 0x10, round, 1);
		mmio_write(MMIO_GPA + 0x20, round, 2);
		mmio_write(MMIO_GPA + 0x30, round, 4);
		mmio_write(MMIO_GPA + 0x40, round, 8);
		GUEST_SYNC(round);
	}
	GUEST_DONE();
}

/* Seven doorbells, each written once per round, none exits. */
TEST(doorbells_complete_in_kernel)
{
	static const struct { uint64_t addr; uint32_t len; uint32_t flags; } bells[] = {
		{ PORT_BASE, 1, KVM_IOEVENTFD_FLAG_PIO },
		{ PORT_BASE + 2, 2, KVM_IOEVENTFD_FLAG_PIO },
		{ PORT_BASE + 4, 4, KVM_IOEVENTFD_FLAG_PIO },
		{ MMIO_GPA + 0x10, 1, 0 },
		{ MMIO_GPA + 0x20, 2, 0 },
		{ MMIO_GPA + 0x30, 4, 0 },
		{ MMIO_GPA + 0x40, 8, 0 },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_doorbells);
	int efd[ARRAY_SIZE(bells)];
	unsigned int i, round;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(bells); i++) {
		efd[i] = efd_new();
		ioeventfd(vm, bells[i].addr, bells[i].len, efd[i],
			  bells[i].flags, 0);
	}
	for (round = 1; round <= 3; round++) {
		vcpu_expect_sync(vcpu, round);
		for (i = 0; i < ARRAY_SIZE(bells); i++)
			EXPECT_EQ(1, efd_take(efd[i]))
				TH_LOG("round %u doorbell %u", round, i);
	}
	vcpu_expect_done(vcpu);
	for (i = 0; i < ARRAY_SIZE(bells); i++)
		close(efd[i]);
	kvm_vm_free(vm);
}

static void guest_datamatch(void)
{
	outb(PORT_BASE, 0x42);			/* hit */
	GUEST_SYNC(1);
	outb(PORT_BASE, 0x43);			/* miss: exit */
	outw(PORT_BASE, 0x42);			/* other length: exit */
	mmio_write(MMIO_GPA, 0x12345678, 4);	/* hit */
	GUEST_SYNC(2);
	mmio_write(MMIO_GPA, 0x12345679, 4);	/* miss: exit */
	mmio_write(MMIO_GPA, 0x5678, 2);	/* other length: exit */
	GUEST_SYNC(3);
	GUEST_DONE();
}

static void expect_io_out(struct __test_metadata *_metadata,
			  struct kvm_vcpu *vcpu, uint16_t port, int size,
			  uint32_t data)
{
	uint32_t v = 0;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(KVM_EXIT_IO_OUT, vcpu->run->io.direction);
	EXPECT_EQ(port, vcpu->run->io.port);
	EXPECT_EQ(size, vcpu->run->io.size);
	memcpy(&v, vcpu_io_data(vcpu), size);
	EXPECT_EQ(data, v);
}

static void expect_mmio_write(struct __test_metadata *_metadata,
			      struct kvm_vcpu *vcpu, uint64_t gpa, int len,
			      uint64_t data)
{
	uint64_t v = 0;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(1, vcpu->run->mmio.is_write);
	EXPECT_EQ(gpa, vcpu->run->mmio.phys_addr);
	EXPECT_EQ(len, vcpu->run->mmio.len);
	memcpy(&v, vcpu->run->mmio.data, len);
	EXPECT_EQ(data, v);
}

TEST(datamatch_hit_and_miss)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_datamatch);
	int pfd = efd_new(), mfd = efd_new();

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	ioeventfd(vm, PORT_BASE, 1, pfd,
		  KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH, 0x42);
	ioeventfd(vm, MMIO_GPA, 4, mfd, KVM_IOEVENTFD_FLAG_DATAMATCH,
		  0x12345678);

	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(1, efd_take(pfd));
	expect_io_out(_metadata, vcpu, PORT_BASE, 1, 0x43);
	expect_io_out(_metadata, vcpu, PORT_BASE, 2, 0x42);
	vcpu_expect_sync(vcpu, 2);
	EXPECT_EQ(0, efd_take(pfd));
	EXPECT_EQ(1, efd_take(mfd));
	expect_mmio_write(_metadata, vcpu, MMIO_GPA, 4, 0x12345679);
	expect_mmio_write(_metadata, vcpu, MMIO_GPA, 2, 0x5678);
	vcpu_expect_sync(vcpu, 3);
	EXPECT_EQ(0, efd_take(mfd));
	vcpu_expect_done(vcpu);
	close(pfd);
	close(mfd);
	kvm_vm_free(vm);
}

static void guest_any_length(void)
{
	outb(PORT_BASE, 1);
	outw(PORT_BASE, 2);
	outl(PORT_BASE, 3);
	mmio_write(MMIO_GPA + 0x80, 1, 1);
	mmio_write(MMIO_GPA + 0x80, 2, 2);
	mmio_write(MMIO_GPA + 0x80, 3, 4);
	mmio_write(MMIO_GPA + 0x80, 4, 8);
	GUEST_SYNC(1);
	outb(PORT_BASE + 1, 5);			/* next port: exit */
	mmio_write(MMIO_GPA + 0x81, 6, 1);	/* next byte: exit */
	GUEST_SYNC(2);
	/* reads are never an ioeventfd's (but see vmx_fast_mmio()) */
	GUEST_ASSERT_EQ(inb(PORT_BASE), 0x99);
	GUEST_SYNC_ARGS(3, *(volatile uint32_t *)(MMIO_GPA + 0x80), 0, 0);
	GUEST_DONE();
}

/*
 * Stock kvm_intel's "fast MMIO" path: an EPT misconfiguration at the
 * address of a length-0 MMIO ioeventfd signals it and skips the
 * instruction without decoding it, so a READ there signals the eventfd
 * too, never exits, and leaves the destination register as it was.
 * kvm_amd and xkvm on both vendors emulate the access: a read exits to
 * userspace (Documentation/api.md, differences).
 */
static bool vmx_fast_mmio(void)
{
	return xkvm_reference_mode() && !xkvm_vendor_is_amd();
}

TEST(no_length_any_access)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_any_length);
	struct kvm_run *run = vcpu->run;
	int pfd = efd_new(), mfd = efd_new();
	uint32_t v = 0xabcd;
	struct ucall uc;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	ioeventfd(vm, PORT_BASE, 0, pfd, KVM_IOEVENTFD_FLAG_PIO, 0);
	ioeventfd(vm, MMIO_GPA + 0x80, 0, mfd, 0, 0);

	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(3, efd_take(pfd));
	EXPECT_EQ(4, efd_take(mfd));
	expect_io_out(_metadata, vcpu, PORT_BASE + 1, 1, 5);
	expect_mmio_write(_metadata, vcpu, MMIO_GPA + 0x81, 1, 6);
	vcpu_expect_sync(vcpu, 2);

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(KVM_EXIT_IO_IN, run->io.direction);
	EXPECT_EQ(PORT_BASE, run->io.port);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x99;
	if (vmx_fast_mmio()) {
		vcpu_run_sync(vcpu, &uc, 3);
		EXPECT_EQ(1, efd_take(mfd));
	} else {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		EXPECT_EQ(0, run->mmio.is_write);
		EXPECT_EQ(MMIO_GPA + 0x80, run->mmio.phys_addr);
		memcpy(run->mmio.data, &v, 4);
		vcpu_run_sync(vcpu, &uc, 3);
		EXPECT_EQ(v, uc.args[1]);
		EXPECT_EQ(0, efd_take(mfd));
	}
	vcpu_expect_done(vcpu);
	EXPECT_EQ(0, efd_take(pfd));
	close(pfd);
	close(mfd);
	kvm_vm_free(vm);
}

static void guest_twice(void)
{
	outl(PORT_BASE + 4, 7);
	mmio_write(MMIO_GPA + 8, 8, 8);
	GUEST_SYNC(1);
	outl(PORT_BASE + 4, 7);
	mmio_write(MMIO_GPA + 8, 8, 8);
	GUEST_SYNC(2);
	outl(PORT_BASE + 4, 7);
	mmio_write(MMIO_GPA + 8, 8, 8);
	GUEST_DONE();
}

/* Deassigned: the write exits again.  Eventfd closed: still signalled. */
TEST(deassign_and_closed_eventfd)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_twice);
	int pfd = efd_new(), mfd = efd_new();

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	ioeventfd(vm, PORT_BASE + 4, 4, pfd, KVM_IOEVENTFD_FLAG_PIO, 0);
	ioeventfd(vm, MMIO_GPA + 8, 8, mfd, 0, 0);
	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(1, efd_take(pfd));
	EXPECT_EQ(1, efd_take(mfd));

	/* the port's is deassigned; the MMIO one's eventfd is closed */
	ioeventfd(vm, PORT_BASE + 4, 4, pfd,
		  KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	close(mfd);
	expect_io_out(_metadata, vcpu, PORT_BASE + 4, 4, 7);
	vcpu_expect_sync(vcpu, 2);	/* the MMIO write did not exit */

	/* the closed fd number no longer names it: it stays */
	EXPECT_ERRNO(__ioeventfd(vm, MMIO_GPA + 8, 8, mfd,
				 KVM_IOEVENTFD_FLAG_DEASSIGN, 0), EBADF);
	expect_io_out(_metadata, vcpu, PORT_BASE + 4, 4, 7);
	vcpu_expect_done(vcpu);
	close(pfd);
	kvm_vm_free(vm);		/* frees the orphaned ioeventfd */
}

/* Many more ioeventfds than KVM's 1000 devices: they are not counted. */
static void register_many(struct kvm_vm *vm, int efd, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		ioeventfd(vm, i, 1, efd, KVM_IOEVENTFD_FLAG_PIO, 0);
		ioeventfd(vm, MMIO_GPA + 8 * i, 0, efd, 0, 0);
	}
}

TEST(vm_closed_with_ioeventfds)
{
	struct fz_kmem before, after;
	int round, efd;
	long grown;

	/* warm up the slab caches, then measure */
	for (round = 0; round < 2; round++) {
		struct kvm_vm *vm = vm_create_barebones();

		efd = efd_new();
		register_many(vm, efd, 500);
		kvm_vm_free(vm);
		close(efd);
	}
	fz_kmem_settle();
	fz_kmem_read(&before, NULL, NULL);
	/*
	 * Small enough for stock KVM in Bochs (it waits for an SRCU grace
	 * period on every registration), large enough to see a leak.
	 */
	for (round = 0; round < 10; round++) {
		struct kvm_vm *vm = vm_create_barebones();

		efd = efd_new();
		register_many(vm, efd, 500);
		close(efd);		/* the VM still holds it */
		kvm_vm_free(vm);
	}
	fz_kmem_settle();
	fz_kmem_read(&after, NULL, NULL);
	grown = after.kb[FZ_KMEM_SUNRECLAIM] - before.kb[FZ_KMEM_SUNRECLAIM];
	/* a leak of 10000 ioeventfds is 1 MiB or more */
	TH_LOG("SUnreclaim grew by %ld kB", grown);
	EXPECT_LT(grown, 512);
}

TEST_HARNESS_MAIN
