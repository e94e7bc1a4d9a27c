// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_test.c - KVM_CREATE_VCPU: id validation (negative or >= MAX_VCPU_ID
 * is EINVAL, a duplicate is EEXIST, also after the first one's fd was
 * closed since a vCPU lives as long as its VM), and 64 vCPUs (bounded by
 * KVM_CAP_MAX_VCPUS) created, each run, and destroyed, twice.
 */
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

TEST(id_out_of_range)
{
	struct kvm_vm *vm = vm_create_barebones();
	int max_id = vm_check_cap(vm, KVM_CAP_MAX_VCPU_ID);
	int fd;

	ASSERT_LT(0, max_id);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, (unsigned long)-1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, (unsigned long)-100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, max_id));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, max_id + 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, 0x7fffffff));
	EXPECT_EQ(EINVAL, errno);

	/* The largest id is fine. */
	fd = __vm_create_vcpu(vm, max_id - 1);
	EXPECT_LE(0, fd) TH_LOG("id %d: %s", max_id - 1, strerror(errno));
	if (fd >= 0)
		close(fd);
	kvm_vm_free(vm);
}

TEST(id_duplicate)
{
	struct kvm_vm *vm = vm_create_barebones();
	int fd0, fd1, fd;

	fd0 = __vm_create_vcpu(vm, 0);
	ASSERT_LE(0, fd0);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, 0));
	EXPECT_EQ(EEXIST, errno);
	fd1 = __vm_create_vcpu(vm, 3);
	ASSERT_LE(0, fd1);
	EXPECT_NE(fd0, fd1);
	EXPECT_EQ(-1, __vm_create_vcpu(vm, 3));
	EXPECT_EQ(EEXIST, errno);

	/* Closing the fd does not destroy the vCPU: the id stays taken. */
	ASSERT_EQ(0, close(fd0));
	fd = __vm_create_vcpu(vm, 0);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EEXIST, errno);
	if (fd >= 0)
		close(fd);
	close(fd1);
	kvm_vm_free(vm);
}

/* Real mode: out %ax, $0x10; hlt.  The host puts the vCPU id in AX. */
static const uint8_t id_code[] = { 0xe7, 0x10, 0xf4 };

FIXTURE(many) {};
FIXTURE_SETUP(many) {}
FIXTURE_TEARDOWN(many) {}

TEST_F_TIMEOUT(many, create_run_destroy_64, 300)
{
	int max_vcpus = kvm_check_cap(KVM_CAP_MAX_VCPUS);
	int n = max_vcpus < 64 ? max_vcpus : 64;
	int round, i;

	ASSERT_LT(0, n);
	if (n < 64)
		TH_LOG("KVM_CAP_MAX_VCPUS is %d: using %d vCPUs", max_vcpus, n);

	for (round = 0; round < 2; round++) {
		struct kvm_vcpu *vcpus[64];
		struct kvm_vm *vm;
		uint16_t v;

		vm = vm_create_realmode(&vcpus[0], id_code, sizeof(id_code));
		for (i = 1; i < n; i++) {
			vcpus[i] = vm_vcpu_add_raw(vm, i);
			vcpu_setup_realmode(vcpus[i], REALMODE_CODE_GPA);
		}
		for (i = 0; i < n; i++) {
			struct kvm_regs regs;

			vcpu_regs_get(vcpus[i], &regs);
			regs.rax = 0x100 * round + i;
			vcpu_regs_set(vcpus[i], &regs);
		}
		/* Run them in an order other than creation. */
		for (i = n - 1; i >= 0; i--) {
			struct kvm_vcpu *vcpu = vcpus[i];

			vcpu_run(vcpu);
			TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
			ASSERT_EQ(0x10, vcpu->run->io.port);
			ASSERT_EQ(2, vcpu->run->io.size);
			memcpy(&v, vcpu_io_data(vcpu), 2);
			ASSERT_EQ(0x100 * round + i, v);
		}
		for (i = 0; i < n; i++) {
			vcpu_run(vcpus[i]);
			TEST_ASSERT_KVM_EXIT_REASON(vcpus[i], KVM_EXIT_HLT);
		}
		/* The full set is there: no id can be added twice. */
		EXPECT_EQ(-1, __vm_create_vcpu(vm, n - 1));
		EXPECT_EQ(EEXIST, errno);
		kvm_vm_free(vm);
	}
}

TEST_HARNESS_MAIN
