// SPDX-License-Identifier: GPL-2.0
/*
 * api_test.c - the system-level ABI: KVM_GET_API_VERSION, KVM_CREATE_VM,
 * KVM_CHECK_EXTENSION on the system and the VM fd for the capabilities the
 * foundation needs, and KVM_GET_VCPU_MMAP_SIZE.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

TEST(api_version)
{
	int fd = kvm_open_dev();

	EXPECT_EQ(KVM_API_VERSION, ioctl(fd, KVM_GET_API_VERSION, 0));
	/* The argument must be 0. */
	EXPECT_EQ(-1, ioctl(fd, KVM_GET_API_VERSION, 1));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST(create_vm)
{
	int fd = kvm_open_dev();
	int vm1, vm2;

	vm1 = ioctl(fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm1);
	vm2 = ioctl(fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm2);
	EXPECT_NE(vm1, vm2);
	/* An unknown VM type is refused. */
	EXPECT_EQ(-1, ioctl(fd, KVM_CREATE_VM, 0xdead));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, close(vm1));
	EXPECT_EQ(0, close(vm2));
	EXPECT_EQ(0, close(fd));
}

/* Capabilities every KVM user of the foundation relies on. */
static void check_foundation_caps(struct __test_metadata *_metadata, int fd)
{
	int nr_vcpus, max_vcpus, max_vcpu_id, nr_memslots;

	EXPECT_EQ(1, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(1, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT));

	nr_vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	max_vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	max_vcpu_id = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	nr_memslots = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	TH_LOG("NR_VCPUS %d MAX_VCPUS %d MAX_VCPU_ID %d NR_MEMSLOTS %d",
	       nr_vcpus, max_vcpus, max_vcpu_id, nr_memslots);

	/* The recommended count is at most the maximum, both at least 1. */
	EXPECT_LE(1, nr_vcpus);
	EXPECT_LE(nr_vcpus, max_vcpus);
	/* Every possible vCPU must be able to get a distinct id. */
	EXPECT_LE(max_vcpus, max_vcpu_id);
	/* KVM guarantees at least 32 user memory slots. */
	EXPECT_LE(32, nr_memslots);
	/* Slot ids are 16 bits wide. */
	EXPECT_GE(65536, nr_memslots);
}

TEST(caps_system_fd)
{
	int fd = kvm_open_dev();

	check_foundation_caps(_metadata, fd);
	close(fd);
}

TEST(caps_vm_fd)
{
	int fd = kvm_open_dev();
	int vm = ioctl(fd, KVM_CREATE_VM, 0);
	static const long caps[] = {
		KVM_CAP_USER_MEMORY, KVM_CAP_NR_VCPUS, KVM_CAP_MAX_VCPUS,
		KVM_CAP_MAX_VCPU_ID, KVM_CAP_NR_MEMSLOTS,
		KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_READONLY_MEM,
	};
	unsigned int i;

	ASSERT_LE(0, vm);
	check_foundation_caps(_metadata, vm);
	/* The VM fd answers like the system fd for these. */
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		int sys = ioctl(fd, KVM_CHECK_EXTENSION, caps[i]);
		int per_vm = ioctl(vm, KVM_CHECK_EXTENSION, caps[i]);

		EXPECT_EQ(sys, per_vm)
			TH_LOG("capability %ld: system fd %d, VM fd %d",
			       caps[i], sys, per_vm);
	}
	close(vm);
	close(fd);
}

TEST(unknown_cap)
{
	int fd = kvm_open_dev();
	int vm = ioctl(fd, KVM_CREATE_VM, 0);
	static const long unknown[] = { 0x7fffffff, 100000, 4096 };
	unsigned int i;

	ASSERT_LE(0, vm);
	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		EXPECT_EQ(0, ioctl(fd, KVM_CHECK_EXTENSION, unknown[i]));
		EXPECT_EQ(0, ioctl(vm, KVM_CHECK_EXTENSION, unknown[i]));
	}
	close(vm);
	close(fd);
}

TEST(vcpu_mmap_size)
{
	int fd = kvm_open_dev();
	int size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	void *map;

	ASSERT_LE(4096, size);
	EXPECT_EQ(0, size % getpagesize());
	close(fd);

	/* The whole advertised size can be mapped from a vCPU fd. */
	vm = vm_create_barebones();
	vcpu = vm_vcpu_add_raw(vm, 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* Both mappings show the same kvm_run. */
	vcpu->run->immediate_exit = 0x5a;
	EXPECT_EQ(0x5a, ((struct kvm_run *)map)->immediate_exit);
	vcpu->run->immediate_exit = 0;
	EXPECT_EQ(0, munmap(map, size));
	kvm_vm_free(vm);
}

/*
 * KVM_SET_NR_MMU_PAGES: accepted from 64 pages up.  The deprecated
 * KVM_GET_NR_MMU_PAGES reads it back where it still exists (6.1's KVM;
 * 6.12's and xkvm answer ENOTTY), with KVM's default before a request (2%
 * of the guest's pages, at least 64).
 */
TEST(nr_mmu_pages)
{
	struct kvm_vm *vm = vm_create_barebones();
	int r;

	vm_mem_region_add(vm, 0, 0, 64 << 20, 0);
	r = ioctl(vm->fd, KVM_GET_NR_MMU_PAGES, 0);
	if (r < 0) {
		EXPECT_EQ(ENOTTY, errno);
	} else {
		EXPECT_EQ(64 * 256 * 20 / 1000, r);
	}
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 63));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 1000));
	r = ioctl(vm->fd, KVM_GET_NR_MMU_PAGES, 0);
	if (r < 0) {
		EXPECT_EQ(ENOTTY, errno);
	} else {
		EXPECT_EQ(1000, r);
	}
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
