// SPDX-License-Identifier: GPL-2.0
/*
 * fd_close_test.c - the system, VM and vCPU file descriptors closed in
 * every order.  Whatever is still open keeps working as KVM allows it: a
 * vCPU runs on after its VM fd and the system fd are gone (it holds the VM),
 * a VM fd still takes ioctls without the system fd, the kvm_run mapping
 * stays readable after every fd is closed, and a later VM works normally.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

enum fd_kind { FD_SYS, FD_VM, FD_VCPU };

static const char * const fd_names[] = { "system", "VM", "vCPU" };

/* Counts on port 0x10 forever: al = 0, 1, 2, ... */
extern const uint8_t rm_counter[], rm_counter_end[];
__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"rm_counter:\n"
	"	xor %al, %al\n"
	"1:	out %al, $0x10\n"
	"	inc %al\n"
	"	jmp 1b\n"
	"rm_counter_end:\n"
	".code64\n"
	".popsection\n");

FIXTURE(close_order) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint8_t next;		/* next value the guest outputs */
};

FIXTURE_VARIANT(close_order) {
	enum fd_kind order[3];
};

FIXTURE_VARIANT_ADD(close_order, sys_vm_vcpu) { .order = { FD_SYS, FD_VM, FD_VCPU } };
FIXTURE_VARIANT_ADD(close_order, sys_vcpu_vm) { .order = { FD_SYS, FD_VCPU, FD_VM } };
FIXTURE_VARIANT_ADD(close_order, vm_sys_vcpu) { .order = { FD_VM, FD_SYS, FD_VCPU } };
FIXTURE_VARIANT_ADD(close_order, vm_vcpu_sys) { .order = { FD_VM, FD_VCPU, FD_SYS } };
FIXTURE_VARIANT_ADD(close_order, vcpu_sys_vm) { .order = { FD_VCPU, FD_SYS, FD_VM } };
FIXTURE_VARIANT_ADD(close_order, vcpu_vm_sys) { .order = { FD_VCPU, FD_VM, FD_SYS } };

FIXTURE_SETUP(close_order)
{
	self->vm = vm_create_realmode(&self->vcpu, rm_counter,
				      rm_counter_end - rm_counter);
	self->next = 0;
}

FIXTURE_TEARDOWN(close_order)
{
	/* Frees what is left (memory, the mapping) without double closes. */
	kvm_vm_free(self->vm);
}

static void exercise_open_fds(struct __test_metadata *_metadata,
			      FIXTURE_DATA(close_order) *self)
{
	struct kvm_vm *vm = self->vm;
	struct kvm_vcpu *vcpu = self->vcpu;
	int i;

	if (vm->kvm_fd >= 0) {
		int fd;

		EXPECT_EQ(KVM_API_VERSION,
			  ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0));
		fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
		EXPECT_LE(0, fd);
		if (fd >= 0)
			close(fd);
	}
	if (vm->fd >= 0) {
		EXPECT_LE(32, ioctl(vm->fd, KVM_CHECK_EXTENSION,
				    KVM_CAP_NR_MEMSLOTS));
		/* Memory can still be added, and removed again. */
		EXPECT_EQ(0, __vm_set_user_memory_region(vm, 7, 0, 0x200000,
							 PAGE_SIZE,
							 vm->regions[0].host_mem));
		EXPECT_EQ(0, __vm_set_user_memory_region(vm, 7, 0, 0x200000, 0,
							 NULL));
	}
	if (vcpu->fd >= 0) {
		/* The guest continues where it was. */
		for (i = 0; i < 3; i++) {
			vcpu_run(vcpu);
			TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
			EXPECT_EQ(self->next,
				  *(uint8_t *)vcpu_io_data(vcpu));
			self->next++;
		}
	}
}

TEST_F(close_order, all_orders)
{
	int *fds[3] = {
		[FD_SYS] = &self->vm->kvm_fd,
		[FD_VM] = &self->vm->fd,
		[FD_VCPU] = &self->vcpu->fd,
	};
	struct kvm_vm *vm2;
	struct kvm_vcpu *vcpu2;
	int i;

	exercise_open_fds(_metadata, self);
	for (i = 0; i < 3; i++) {
		enum fd_kind k = variant->order[i];

		TH_LOG("closing the %s fd", fd_names[k]);
		ASSERT_EQ(0, close(*fds[k]));
		*fds[k] = -1;
		exercise_open_fds(_metadata, self);
	}

	/* All fds closed: the mapping still shows the last exit. */
	EXPECT_EQ(KVM_EXIT_IO, self->vcpu->run->exit_reason);
	EXPECT_EQ(0x10, self->vcpu->run->io.port);

	/* A new VM is unaffected. */
	vm2 = vm_create_realmode(&vcpu2, rm_counter,
				 rm_counter_end - rm_counter);
	vcpu_run(vcpu2);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu2, KVM_EXIT_IO);
	EXPECT_EQ(0, *(uint8_t *)vcpu_io_data(vcpu2));
	kvm_vm_free(vm2);
}

/* Unmapping kvm_run first, then the fds, and the reverse. */
TEST(unmap_run_first)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_realmode(&vcpu, rm_counter,
					       rm_counter_end - rm_counter);
	struct kvm_run *run;

	vcpu_run(vcpu);
	ASSERT_EQ(0, munmap(vcpu->run, vcpu->run_size));
	vcpu->run = NULL;
	/* Running without a mapping is fine; map again to look. */
	ASSERT_EQ(0, __vcpu_run(vcpu));
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	ASSERT_NE(MAP_FAILED, run);
	EXPECT_EQ(KVM_EXIT_IO, run->exit_reason);
	EXPECT_EQ(1, *((uint8_t *)run + run->io.data_offset));
	vcpu->run = run;
	kvm_vm_free(vm);
}

/* Closing the VM fd while vCPUs and memory live on, many times over. */
TEST(vm_fd_closed_early_repeatedly)
{
	int i;

	for (i = 0; i < 20; i++) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_realmode(&vcpu, rm_counter,
						       rm_counter_end - rm_counter);

		ASSERT_EQ(0, close(vm->fd));
		vm->fd = -1;
		ASSERT_EQ(0, close(vm->kvm_fd));
		vm->kvm_fd = -1;
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		kvm_vm_free(vm);
	}
}

TEST_HARNESS_MAIN
