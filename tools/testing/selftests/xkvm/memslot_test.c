// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_test.c - KVM_SET_USER_MEMORY_REGION: every invalid request with
 * KVM's errno (misalignment, overlap, wraparound, bad slot id, unknown
 * flags, changing an existing slot), and the valid changes seen from a
 * running guest: moving a slot, deleting it, read-only slots.
 *
 * The errnos are KVM's (virt/kvm/kvm_main.c, Documentation/virt/kvm/api.rst):
 * malformed requests are EINVAL, overlapping another slot is EEXIST.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

#define SZ_64K		0x10000ULL
#define BASE_GPA	0x100000ULL

FIXTURE(memslot) {
	struct kvm_vm *vm;
	void *mem;		/* 1 MiB of host memory for the slots */
	int nr_slots;
};

FIXTURE_SETUP(memslot)
{
	self->vm = vm_create_barebones();
	self->mem = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->nr_slots = vm_check_cap(self->vm, KVM_CAP_NR_MEMSLOTS);
	ASSERT_LE(32, self->nr_slots);
}

FIXTURE_TEARDOWN(memslot)
{
	kvm_vm_free(self->vm);
	munmap(self->mem, 0x100000);
}

#define EXPECT_SET_REGION(vm, slot, flags, gpa, size, hva, err)		\
do {									\
	int __r = __vm_set_user_memory_region(vm, slot, flags, gpa, size, \
					      hva);			\
	if (err) {							\
		EXPECT_EQ(-1, __r);					\
		EXPECT_EQ(err, errno)					\
			TH_LOG("slot %u flags 0x%x gpa 0x%llx size 0x%llx: errno %d (%s), wanted %d", \
			       (unsigned int)(slot), (unsigned int)(flags), \
			       (unsigned long long)(gpa),		\
			       (unsigned long long)(size), errno,	\
			       strerror(errno), err);			\
	} else {							\
		EXPECT_EQ(0, __r)					\
			TH_LOG("slot %u flags 0x%x gpa 0x%llx size 0x%llx: errno %d (%s)", \
			       (unsigned int)(slot), (unsigned int)(flags), \
			       (unsigned long long)(gpa),		\
			       (unsigned long long)(size), errno,	\
			       strerror(errno));			\
	}								\
} while (0)

TEST_F(memslot, misaligned)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;

	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA + 1, SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA + 0x800, SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K + 1, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, 0x800, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K, mem + 1, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K, mem + 0x800, EINVAL);
	/* Not a user address at all. */
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K,
			  (void *)0xffff888000000000ULL, EINVAL);
	/* None of them created anything: the aligned request works. */
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K, mem, 0);
}

TEST_F(memslot, overlap)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;

	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K, mem, 0);
	/* Identical range, head, tail, containing, contained. */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, SZ_64K, mem + SZ_64K, EEXIST);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA - 0x8000, SZ_64K, mem + SZ_64K,
			  EEXIST);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA + 0xf000, SZ_64K, mem + SZ_64K,
			  EEXIST);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA - SZ_64K, 3 * SZ_64K,
			  mem + SZ_64K, EEXIST);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA + 0x1000, 0x1000, mem + SZ_64K,
			  EEXIST);
	/* Adjacent on both sides is fine. */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA + SZ_64K, SZ_64K, mem + SZ_64K, 0);
	EXPECT_SET_REGION(vm, 2, 0, BASE_GPA - SZ_64K, SZ_64K,
			  mem + 2 * SZ_64K, 0);
	/* Host memory may be shared between slots: only GPAs must not overlap. */
	EXPECT_SET_REGION(vm, 3, 0, BASE_GPA + 4 * SZ_64K, SZ_64K, mem, 0);
	/* Moving a slot onto another one is refused the same way. */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA + 0x8000, SZ_64K, mem + SZ_64K,
			  EEXIST);
}

TEST_F(memslot, wraparound)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;

	EXPECT_SET_REGION(vm, 0, 0, 0xfffffffffffff000ULL, 0x2000, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, 0xffffffffffff0000ULL, 0x20000, mem, EINVAL);
}

TEST_F(memslot, slot_id)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;
	uint32_t n = self->nr_slots;

	EXPECT_SET_REGION(vm, n, 0, BASE_GPA, SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, n + 1, 0, BASE_GPA, SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, 0xffff, 0, BASE_GPA, SZ_64K, mem, EINVAL);
	/* The highest valid id and the lowest work. */
	EXPECT_SET_REGION(vm, n - 1, 0, BASE_GPA, SZ_64K, mem, 0);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA + SZ_64K, SZ_64K, mem + SZ_64K, 0);
}

TEST_F(memslot, unknown_flags)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;
	int bit;

	/* Bit 0 is KVM_MEM_LOG_DIRTY_PAGES, bit 1 KVM_MEM_READONLY. */
	for (bit = 2; bit < 32; bit++)
		EXPECT_SET_REGION(vm, 0, 1U << bit, BASE_GPA, SZ_64K, mem,
				  EINVAL);
	if (!vm_check_cap(vm, KVM_CAP_READONLY_MEM))
		EXPECT_SET_REGION(vm, 0, KVM_MEM_READONLY, BASE_GPA, SZ_64K,
				  mem, EINVAL);
	EXPECT_SET_REGION(vm, 0, 0, BASE_GPA, SZ_64K, mem, 0);
	/* Unknown bits are refused when modifying a slot, too. */
	EXPECT_SET_REGION(vm, 0, 1U << 31, BASE_GPA, SZ_64K, mem, EINVAL);
}

TEST_F(memslot, modify_existing)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;

	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, 2 * SZ_64K, mem, 0);
	/* Same request again: nothing to change. */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, 2 * SZ_64K, mem, 0);
	/* Size and host address of a live slot cannot change. */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, 3 * SZ_64K, mem, EINVAL);
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA, 2 * SZ_64K, mem + SZ_64K, EINVAL);
	/* Nor can the read-only flag. */
	if (vm_check_cap(vm, KVM_CAP_READONLY_MEM))
		EXPECT_SET_REGION(vm, 1, KVM_MEM_READONLY, BASE_GPA,
				  2 * SZ_64K, mem, EINVAL);
	/* Moving it (same size, same host memory) is allowed ... */
	EXPECT_SET_REGION(vm, 1, 0, BASE_GPA + 0x400000, 2 * SZ_64K, mem, 0);
	/* ... and frees the old range for another slot. */
	EXPECT_SET_REGION(vm, 2, 0, BASE_GPA, 2 * SZ_64K, mem + 2 * SZ_64K, 0);
}

TEST_F(memslot, delete)
{
	struct kvm_vm *vm = self->vm;
	uint8_t *mem = self->mem;

	/* Deleting a slot that never existed. */
	EXPECT_SET_REGION(vm, 5, 0, BASE_GPA, 0, mem, EINVAL);
	EXPECT_SET_REGION(vm, 5, 0, BASE_GPA, SZ_64K, mem, 0);
	/* Size 0 deletes; gpa and host address do not matter then. */
	EXPECT_SET_REGION(vm, 5, 0, 0, 0, NULL, 0);
	/* Already gone. */
	EXPECT_SET_REGION(vm, 5, 0, BASE_GPA, 0, mem, EINVAL);
	/* The id and the range can be reused with another size. */
	EXPECT_SET_REGION(vm, 5, 0, BASE_GPA, 2 * SZ_64K, mem + SZ_64K, 0);
	EXPECT_SET_REGION(vm, 6, 0, BASE_GPA + 2 * SZ_64K, SZ_64K, mem, 0);
}

/* ---- what a running guest sees ---- */

#define SLOT_A_GPA	0x10000000ULL
#define SLOT_B_GPA	0x20000000ULL
#define MMIO_FILL	0x1122334455667788ULL
#define PATTERN		0xfeedfacecafebeefULL

static void guest_move_delete(void)
{
	volatile uint64_t *a = (volatile uint64_t *)SLOT_A_GPA;
	volatile uint64_t *b = (volatile uint64_t *)SLOT_B_GPA;
	uint64_t v;

	GUEST_ASSERT_EQ(a[1], PATTERN);
	a[2] = 1;
	GUEST_SYNC(1);		/* host moves the slot from A to B */
	GUEST_ASSERT_EQ(b[1], PATTERN);
	GUEST_ASSERT_EQ(b[2], 1);
	b[3] = 3;
	v = a[1];		/* nothing at A any more: MMIO */
	GUEST_ASSERT_EQ(v, MMIO_FILL);
	GUEST_SYNC(2);		/* host deletes the slot */
	v = b[1];		/* nothing at B any more: MMIO */
	GUEST_ASSERT_EQ(v, MMIO_FILL);
	GUEST_DONE();
}

static void expect_mmio_read(struct __test_metadata *_metadata,
			     struct kvm_vcpu *vcpu, uint64_t gpa)
{
	struct kvm_run *run = vcpu->run;
	uint64_t fill = MMIO_FILL;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(gpa, run->mmio.phys_addr);
	EXPECT_EQ(8, run->mmio.len);
	EXPECT_EQ(0, run->mmio.is_write);
	memcpy(run->mmio.data, &fill, 8);
}

TEST(guest_sees_move_and_delete)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_move_delete);
	uint64_t *mem;

	mem = vm_mem_region_add_mapped(vm, 1, SLOT_A_GPA, SZ_64K, 0);
	virt_map(vm, SLOT_B_GPA, SLOT_B_GPA, SZ_64K);
	mem[1] = PATTERN;

	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(1, mem[2]);
	vm_mem_region_move(vm, 1, SLOT_B_GPA);
	expect_mmio_read(_metadata, vcpu, SLOT_A_GPA + 8);
	vcpu_expect_sync(vcpu, 2);
	EXPECT_EQ(3, mem[3]);
	vm_mem_region_delete(vm, 1);
	expect_mmio_read(_metadata, vcpu, SLOT_B_GPA + 8);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

#define RO_GPA		0x30000000ULL

static void guest_readonly(void)
{
	volatile uint64_t *p = (volatile uint64_t *)RO_GPA;

	GUEST_ASSERT_EQ(p[0], PATTERN);
	p[0] = 0x5555;		/* refused by the slot: MMIO write exit */
	GUEST_ASSERT_EQ(p[0], PATTERN);
	GUEST_SYNC(1);		/* host changes the memory */
	GUEST_ASSERT_EQ(p[0], PATTERN + 1);
	GUEST_DONE();
}

TEST(readonly_slot)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_run *run;
	uint64_t *mem, data;

	vm = vm_create_with_one_vcpu(&vcpu, guest_readonly);
	if (!vm_check_cap(vm, KVM_CAP_READONLY_MEM)) {
		kvm_vm_free(vm);
		SKIP(return, "KVM_CAP_READONLY_MEM not advertised");
	}
	run = vcpu->run;
	mem = vm_mem_region_add_mapped(vm, 1, RO_GPA, SZ_64K, KVM_MEM_READONLY);
	mem[0] = PATTERN;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(RO_GPA, run->mmio.phys_addr);
	EXPECT_EQ(8, run->mmio.len);
	EXPECT_EQ(1, run->mmio.is_write);
	memcpy(&data, run->mmio.data, 8);
	EXPECT_EQ(0x5555, data);
	EXPECT_EQ(PATTERN, mem[0]);

	vcpu_expect_sync(vcpu, 1);
	mem[0] = PATTERN + 1;
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
