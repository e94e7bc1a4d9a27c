// SPDX-License-Identifier: GPL-2.0
/*
 * multi_vm_test.c - two VMs alive at once: run alternately from one thread,
 * and concurrently from two threads, each guest writing its own copy of the
 * same global at the same guest address.  Neither may see the other's
 * memory or registers.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

#define ROUNDS		50

static uint64_t guest_value;

static void guest_tagged(uint64_t tag)
{
	uint64_t i;

	for (i = 0; i < ROUNDS; i++) {
		guest_value = tag + i;
		GUEST_SYNC(tag + i);
		/* Nobody else wrote our copy meanwhile. */
		GUEST_ASSERT_EQ(guest_value, tag + i);
	}
	GUEST_DONE();
}

TEST(two_vms_interleaved)
{
	static const uint64_t tags[2] = { 0x1000000, 0x2000000 };
	struct kvm_vcpu *vcpu[2];
	struct kvm_vm *vm[2];
	uint64_t i;
	int v;

	for (v = 0; v < 2; v++) {
		vm[v] = vm_create_with_one_vcpu(&vcpu[v], guest_tagged);
		vcpu_args_set(vcpu[v], 1, tags[v]);
	}
	ASSERT_NE(vm[0]->fd, vm[1]->fd);
	for (i = 0; i < ROUNDS; i++) {
		for (v = 0; v < 2; v++) {
			vcpu_expect_sync(vcpu[v], tags[v] + i);
			sync_global_from_guest(vm[v], guest_value);
			ASSERT_EQ(tags[v] + i, guest_value);
		}
	}
	for (v = 0; v < 2; v++) {
		vcpu_expect_done(vcpu[v]);
		kvm_vm_free(vm[v]);
	}
}

struct runner {
	uint64_t tag;
	uint64_t synced;
	uint64_t last_seen;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
};

static void *run_vm(void *arg)
{
	struct runner *r = arg;
	struct ucall uc;
	uint64_t cmd;

	while ((cmd = vcpu_run_ucall(r->vcpu, &uc)) == UCALL_SYNC) {
		TEST_ASSERT(uc.args[0] == r->tag + r->synced,
			    "VM tag 0x%llx: sync 0x%llx",
			    (unsigned long long)r->tag,
			    (unsigned long long)uc.args[0]);
		r->synced++;
		sched_yield();
	}
	TEST_ASSERT(cmd == UCALL_DONE, "ucall %llu", (unsigned long long)cmd);
	sync_global_from_guest(r->vm, guest_value);
	r->last_seen = guest_value;
	return NULL;
}

TEST(two_vms_concurrent)
{
	struct runner r[2] = { { .tag = 0xa0000000 }, { .tag = 0xb0000000 } };
	pthread_t t[2];
	int v;

	/* Both VMs exist before either runs. */
	for (v = 0; v < 2; v++) {
		r[v].vm = vm_create_with_one_vcpu(&r[v].vcpu, guest_tagged);
		vcpu_args_set(r[v].vcpu, 1, r[v].tag);
	}
	for (v = 0; v < 2; v++)
		ASSERT_EQ(0, pthread_create(&t[v], NULL, run_vm, &r[v]));
	for (v = 0; v < 2; v++) {
		ASSERT_EQ(0, pthread_join(t[v], NULL));
		EXPECT_EQ(ROUNDS, r[v].synced);
		EXPECT_EQ(r[v].tag + ROUNDS - 1, r[v].last_seen);
		kvm_vm_free(r[v].vm);
	}
}

TEST_HARNESS_MAIN
