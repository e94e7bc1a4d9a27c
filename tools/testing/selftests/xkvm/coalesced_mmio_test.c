// SPDX-License-Identifier: GPL-2.0
/*
 * coalesced_mmio_test.c - KVM_REGISTER/UNREGISTER_COALESCED_MMIO (MMIO
 * and port I/O zones) as stock KVM implements them (every case passes
 * against it in reference mode):
 *
 * - the capabilities (KVM_CAP_COALESCED_MMIO is the ring's page offset,
 *   2 on x86), the vCPU mmap size (3 pages), the ring's layout;
 * - zone.pio other than 0/1 (EINVAL), KVM's 1000 devices per bus
 *   (ENOSPC for a zone or an ioeventfd; ioeventfds themselves do not
 *   count);
 * - guest writes into a zone land in the ring in order, with address,
 *   length, data and the pio flag, without an exit;
 * - a full ring makes the next write a normal KVM_EXIT_MMIO;
 * - unregister removes the zones that contain the given range, as KVM;
 * - port I/O zones, OUT and REP OUTSB;
 * - a VMM that scribbles over first/last: the host survives, an
 *   out-of-range 'last' makes the write exit.
 *
 * Older KVMs compute "ring full" wrongly once 'last' has passed 'first'
 * (they stop at 85 of 169 entries); the test accepts that in reference
 * mode only.
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

#define MMIO_GPA	0xc0000000ULL
#define ZONE_PORT	0x3f8
#define RING_MAX	KVM_COALESCED_MMIO_MAX

static int __zone(struct kvm_vm *vm, bool reg, uint64_t addr, uint32_t size,
		  uint32_t pio)
{
	struct kvm_coalesced_mmio_zone z = {
		.addr = addr, .size = size, .pio = pio,
	};

	return ioctl(vm->fd, reg ? KVM_REGISTER_COALESCED_MMIO :
				   KVM_UNREGISTER_COALESCED_MMIO, &z);
}

static void zone_add(struct kvm_vm *vm, uint64_t addr, uint32_t size,
		     uint32_t pio)
{
	TEST_ASSERT(!__zone(vm, true, addr, size, pio),
		    "KVM_REGISTER_COALESCED_MMIO: %s", strerror(errno));
}

static struct kvm_coalesced_mmio_ring *ring_map(struct kvm_vcpu *vcpu)
{
	void *p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vcpu->fd, 2 * PAGE_SIZE);

	TEST_ASSERT(p != MAP_FAILED, "mmap of the ring: %s", strerror(errno));
	return p;
}

static uint32_t ring_used(const struct kvm_coalesced_mmio_ring *r)
{
	return (r->last + RING_MAX - r->first) % RING_MAX;
}

/* Entry @i after 'first', compared with what the guest wrote. */
#define EXPECT_ENTRY(r, i, _addr, _len, _data, _pio)			\
do {									\
	const struct kvm_coalesced_mmio *__e =				\
		&(r)->coalesced_mmio[((r)->first + (i)) % RING_MAX];	\
	uint64_t __d = 0;						\
									\
	memcpy(&__d, __e->data, __e->len <= 8 ? __e->len : 8);		\
	EXPECT_EQ((uint64_t)(_addr), __e->phys_addr) TH_LOG("entry %u", (unsigned)(i)); \
	EXPECT_EQ((uint32_t)(_len), __e->len) TH_LOG("entry %u", (unsigned)(i)); \
	EXPECT_EQ((uint64_t)(_data), __d) TH_LOG("entry %u", (unsigned)(i)); \
	EXPECT_EQ((uint32_t)(_pio), __e->pio) TH_LOG("entry %u", (unsigned)(i)); \
} while (0)

static void guest_nothing(void)
{
	GUEST_DONE();
}

TEST(caps_layout_mmap)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_nothing);
	struct kvm_coalesced_mmio_ring *r;
	int kvm = kvm_open_dev();

	EXPECT_EQ(2, kvm_check_cap(KVM_CAP_COALESCED_MMIO));
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_COALESCED_PIO));
	EXPECT_EQ(3 * PAGE_SIZE, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0));
	close(kvm);

	EXPECT_EQ(24, sizeof(struct kvm_coalesced_mmio));
	EXPECT_EQ(0, offsetof(struct kvm_coalesced_mmio, phys_addr));
	EXPECT_EQ(8, offsetof(struct kvm_coalesced_mmio, len));
	EXPECT_EQ(12, offsetof(struct kvm_coalesced_mmio, pio));
	EXPECT_EQ(16, offsetof(struct kvm_coalesced_mmio, data));
	EXPECT_EQ(8, offsetof(struct kvm_coalesced_mmio_ring, coalesced_mmio));
	EXPECT_EQ(170, RING_MAX);

	r = ring_map(vcpu);
	EXPECT_EQ(0, r->first);
	EXPECT_EQ(0, r->last);
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

TEST(errnos)
{
	struct kvm_vm *vm = vm_create_barebones();
	int efd = eventfd(0, EFD_CLOEXEC), i;
	struct kvm_ioeventfd io = { .addr = MMIO_GPA, .len = 4, .fd = efd };

	EXPECT_EQ(-1, __zone(vm, true, MMIO_GPA, 8, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __zone(vm, false, MMIO_GPA, 8, 0x100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA, 8, 0));  /* none: fine */

	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, __zone(vm, true, MMIO_GPA + 16 * i, 8, 0))
			TH_LOG("zone %d: %s", i, strerror(errno));
	EXPECT_EQ(-1, __zone(vm, true, MMIO_GPA + 16 * i, 8, 0));
	EXPECT_EQ(ENOSPC, errno);
	/* a full bus takes no ioeventfd either ... */
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_IOEVENTFD, &io));
	EXPECT_EQ(ENOSPC, errno);
	/* ... the other bus has its own 1000 */
	EXPECT_EQ(0, __zone(vm, true, 0x100, 8, 1));
	io.flags = KVM_IOEVENTFD_FLAG_PIO;
	EXPECT_EQ(0, ioctl(vm->fd, KVM_IOEVENTFD, &io));
	/* one zone gone: an ioeventfd and a zone fit, ioeventfds do not count */
	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA, 8, 0));
	io.flags = 0;
	EXPECT_EQ(0, ioctl(vm->fd, KVM_IOEVENTFD, &io));
	EXPECT_EQ(0, __zone(vm, true, MMIO_GPA + 16 * i, 8, 0));
	EXPECT_EQ(-1, __zone(vm, true, MMIO_GPA + 16 * (i + 1), 8, 0));
	EXPECT_EQ(ENOSPC, errno);
	close(efd);
	kvm_vm_free(vm);
}

static void guest_batch(void)
{
	volatile uint8_t *p = (volatile uint8_t *)MMIO_GPA;

	*(volatile uint8_t *)(p + 0x01) = 0x11;
	*(volatile uint16_t *)(p + 0x02) = 0x2233;
	*(volatile uint32_t *)(p + 0x04) = 0x44556677;
	*(volatile uint64_t *)(p + 0x08) = 0x8899aabbccddeeffULL;
	*(volatile uint32_t *)(p + 0x04) = 0x01020304;
	GUEST_SYNC(1);
	*(volatile uint32_t *)(p + 0x1000) = 0xdead;	/* outside: exit */
	GUEST_DONE();
}

TEST(writes_batched_in_order)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_batch);
	struct kvm_coalesced_mmio_ring *r = ring_map(vcpu);

	virt_map(vm, MMIO_GPA, MMIO_GPA, 2 * PAGE_SIZE);
	zone_add(vm, MMIO_GPA, PAGE_SIZE, 0);
	vcpu_expect_sync(vcpu, 1);
	ASSERT_EQ(5, ring_used(r));
	EXPECT_ENTRY(r, 0, MMIO_GPA + 1, 1, 0x11, 0);
	EXPECT_ENTRY(r, 1, MMIO_GPA + 2, 2, 0x2233, 0);
	EXPECT_ENTRY(r, 2, MMIO_GPA + 4, 4, 0x44556677, 0);
	EXPECT_ENTRY(r, 3, MMIO_GPA + 8, 8, 0x8899aabbccddeeffULL, 0);
	EXPECT_ENTRY(r, 4, MMIO_GPA + 4, 4, 0x01020304, 0);
	r->first = r->last;
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(MMIO_GPA + 0x1000, vcpu->run->mmio.phys_addr);
	vcpu_expect_done(vcpu);
	EXPECT_EQ(0, ring_used(r));
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

#define NR_WRITES	300

static void guest_flood(void)
{
	uint32_t i;

	for (i = 0; i < NR_WRITES; i++)
		*(volatile uint32_t *)(MMIO_GPA + 4 * (i % 16)) = i;
	GUEST_SYNC(1);
	GUEST_DONE();
}

/* A full ring: the write that does not fit is an ordinary exit. */
TEST(ring_full_falls_back_to_exit)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_flood);
	struct kvm_coalesced_mmio_ring *r = ring_map(vcpu);
	struct kvm_run *run = vcpu->run;
	uint32_t next = 0, n, i, exits = 0;
	struct ucall uc;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	zone_add(vm, MMIO_GPA, 64, 0);
	for (;;) {
		vcpu_run(vcpu);
		n = ring_used(r);
		for (i = 0; i < n; i++)
			EXPECT_ENTRY(r, i, MMIO_GPA + 4 * ((next + i) % 16), 4,
				     next + i, 0);
		next += n;
		r->first = r->last;
		if (get_ucall(vcpu, &uc) == UCALL_SYNC)
			break;
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		/* full at RING_MAX - 1 entries (85 on older KVMs) */
		if (xkvm_reference_mode() && n == 85)
			TH_LOG("this KVM stops at 85 entries");
		else
			EXPECT_EQ(RING_MAX - 1, n);
		EXPECT_EQ(MMIO_GPA + 4 * (next % 16), run->mmio.phys_addr);
		EXPECT_EQ(next, *(uint32_t *)run->mmio.data);
		next++;
		exits++;
		ASSERT_LT(exits, NR_WRITES);
	}
	EXPECT_EQ(NR_WRITES, next);
	EXPECT_GE(exits, 1);
	vcpu_expect_done(vcpu);
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

static void guest_unregister(void)
{
	*(volatile uint32_t *)(MMIO_GPA + 0x10) = 1;	/* zone A */
	*(volatile uint32_t *)(MMIO_GPA + 0x210) = 2;	/* zone B */
	GUEST_SYNC(1);
	*(volatile uint32_t *)(MMIO_GPA + 0x10) = 3;	/* A gone: exit */
	*(volatile uint32_t *)(MMIO_GPA + 0x210) = 4;	/* B stays */
	GUEST_SYNC(2);
	*(volatile uint32_t *)(MMIO_GPA + 0x210) = 5;	/* B gone: exit */
	GUEST_DONE();
}

/* KVM removes the zones that contain the range given, not those in it. */
TEST(unregister)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_unregister);
	struct kvm_coalesced_mmio_ring *r = ring_map(vcpu);

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	zone_add(vm, MMIO_GPA, 0x100, 0);
	zone_add(vm, MMIO_GPA + 0x200, 0x100, 0);
	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(2, ring_used(r));
	r->first = r->last;

	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA + 0x10, 4, 0));	/* A */
	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA + 0x180, 0x200, 0)); /* none */
	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA + 0x200, 0x100, 1)); /* pio */
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(MMIO_GPA + 0x10, vcpu->run->mmio.phys_addr);
	vcpu_expect_sync(vcpu, 2);
	EXPECT_EQ(1, ring_used(r));
	EXPECT_ENTRY(r, 0, MMIO_GPA + 0x210, 4, 4, 0);
	r->first = r->last;

	EXPECT_EQ(0, __zone(vm, false, MMIO_GPA + 0x200, 0x100, 0));
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(MMIO_GPA + 0x210, vcpu->run->mmio.phys_addr);
	vcpu_expect_done(vcpu);
	EXPECT_EQ(0, ring_used(r));
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

static void guest_pio(void)
{
	static const uint8_t bytes[4] = { 0xa0, 0xa1, 0xa2, 0xa3 };
	uint64_t cnt = 4;
	const void *src = bytes;

	__asm__ __volatile__("outb %0, %1" : : "a"((uint8_t)0x5a), "Nd"((uint16_t)ZONE_PORT));
	__asm__ __volatile__("outw %0, %1" : : "a"((uint16_t)0x1234), "Nd"((uint16_t)(ZONE_PORT + 2)));
	__asm__ __volatile__("outl %0, %1" : : "a"(0xcafef00dU), "Nd"((uint16_t)(ZONE_PORT + 4)));
	GUEST_SYNC(1);
	__asm__ __volatile__("cld; rep outsb"
			     : "+S"(src), "+c"(cnt)
			     : "d"((uint16_t)(ZONE_PORT + 1)) : "memory");
	GUEST_SYNC(2);
	__asm__ __volatile__("outb %0, %1" : : "a"((uint8_t)0x77), "Nd"((uint16_t)(ZONE_PORT + 8)));
	GUEST_DONE();
}

TEST(pio_zone)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_pio);
	struct kvm_coalesced_mmio_ring *r = ring_map(vcpu);
	unsigned int i;

	zone_add(vm, ZONE_PORT, 8, 1);
	vcpu_expect_sync(vcpu, 1);
	ASSERT_EQ(3, ring_used(r));
	EXPECT_ENTRY(r, 0, ZONE_PORT, 1, 0x5a, 1);
	EXPECT_ENTRY(r, 1, ZONE_PORT + 2, 2, 0x1234, 1);
	EXPECT_ENTRY(r, 2, ZONE_PORT + 4, 4, 0xcafef00d, 1);
	r->first = r->last;
	vcpu_expect_sync(vcpu, 2);
	ASSERT_EQ(4, ring_used(r));
	for (i = 0; i < 4; i++)
		EXPECT_ENTRY(r, i, ZONE_PORT + 1, 1, 0xa0 + i, 1);
	r->first = r->last;
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(ZONE_PORT + 8, vcpu->run->io.port);
	vcpu_expect_done(vcpu);
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

static void guest_hostile(void)
{
	uint32_t i;

	*(volatile uint32_t *)MMIO_GPA = 1;
	GUEST_SYNC(1);
	*(volatile uint32_t *)MMIO_GPA = 2;
	GUEST_SYNC(2);
	for (i = 0; i < 5000; i++)
		*(volatile uint32_t *)(MMIO_GPA + 4 * (i % 16)) = i;
	GUEST_DONE();
}

static volatile bool scribbling;

static void *scribbler(void *arg)
{
	struct kvm_coalesced_mmio_ring *r = arg;
	uint32_t x = 12345;

	while (scribbling) {
		x = x * 1103515245 + 12345;
		r->first = x;
		x = x * 1103515245 + 12345;
		r->last = (x & 1) ? x : x % RING_MAX;
	}
	return NULL;
}

/* The VMM owns the ring page and may write anything into it. */
TEST(hostile_first_last)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_hostile);
	struct kvm_coalesced_mmio_ring *r = ring_map(vcpu);
	struct ucall uc;
	pthread_t t;
	int exits = 0;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	zone_add(vm, MMIO_GPA, 64, 0);

	/* 'last' out of range: nothing is written, the guest write exits */
	r->first = 12345;
	r->last = 0xffffffff;
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(1, *(uint32_t *)vcpu->run->mmio.data);
	EXPECT_EQ(0xffffffff, r->last);
	vcpu_expect_sync(vcpu, 1);

	/* 'first' out of range, 'last' in it: written at 'last' */
	r->first = 500;
	r->last = 5;
	vcpu_expect_sync(vcpu, 2);
	EXPECT_EQ(6, r->last);
	EXPECT_EQ(MMIO_GPA, r->coalesced_mmio[5].phys_addr);
	EXPECT_EQ(2, *(uint32_t *)r->coalesced_mmio[5].data);

	/* anything at all while the guest writes */
	scribbling = true;
	ASSERT_EQ(0, pthread_create(&t, NULL, scribbler, r));
	for (;;) {
		vcpu_run(vcpu);
		if (get_ucall(vcpu, &uc) == UCALL_DONE)
			break;
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		exits++;
	}
	scribbling = false;
	pthread_join(t, NULL);
	TH_LOG("%d of 5000 writes exited", exits);
	munmap(r, PAGE_SIZE);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
