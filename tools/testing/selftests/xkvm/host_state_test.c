// SPDX-License-Identifier: GPL-2.0
/*
 * host_state_test.c - what the host must get back after the guest ran,
 * and what the guest must see after the host changed its memory:
 *  - guest memory follows host-side changes to the mapping behind a slot
 *    (MADV_DONTNEED, a MAP_FIXED replacement): the hypervisor must drop
 *    its second-level mappings when the host mm changes (MMU notifiers);
 *  - the guest may load every MSR VMRUN/VM entry does not switch (FS/GS
 *    base, KERNEL_GS_BASE, the SYSCALL and SYSENTER MSRs): the host's
 *    TLS and system calls keep working, and the guest's values persist;
 *  - the host's vector registers survive a guest that changes them;
 *  - a vCPU thread that moves between physical CPUs keeps running.
 */
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

#define DATA_GPA	0x10000000ULL
#define DATA_SIZE	0x4000ULL

static void guest_dontneed(void)
{
	volatile uint64_t *p = (volatile uint64_t *)DATA_GPA;

	p[0] = 0x1111;
	p[512] = 0x3333;		/* second page, left alone */
	GUEST_SYNC(1);
	/* the host dropped the first page: it reads as a fresh zero page */
	GUEST_ASSERT_EQ(p[0], 0);
	GUEST_ASSERT_EQ(p[512], 0x3333);
	p[0] = 0x2222;
	GUEST_SYNC(2);
	/* the host put a new mapping with its own contents there */
	GUEST_ASSERT_EQ(p[0], 0xabcdef);
	GUEST_DONE();
}

TEST(guest_follows_host_mapping_changes)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_dontneed);
	uint64_t *mem, *fresh;

	mem = vm_mem_region_add_mapped(vm, 1, DATA_GPA, DATA_SIZE, 0);
	vcpu_expect_sync(vcpu, 1);
	ASSERT_EQ(0x1111, mem[0]);
	ASSERT_EQ(0, madvise(mem, 4096, MADV_DONTNEED));
	ASSERT_EQ(0, mem[0]);

	vcpu_expect_sync(vcpu, 2);
	/* the guest's write after the drop must land in the host's page */
	EXPECT_EQ(0x2222, mem[0]);
	fresh = mmap(mem, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ((void *)mem, (void *)fresh);
	fresh[0] = 0xabcdef;
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static const struct {
	uint32_t index;
	uint64_t value;
} guest_msrs[] = {
	{ 0xc0000100, 0x00007f0000001000ULL },	/* FS_BASE */
	{ 0xc0000101, 0x00007f0000002000ULL },	/* GS_BASE */
	{ 0xc0000102, 0xffff800000003000ULL },	/* KERNEL_GS_BASE */
	{ 0xc0000081, 0x0023001000000000ULL },	/* STAR */
	{ 0xc0000082, 0xffffffff81000000ULL },	/* LSTAR */
	{ 0xc0000083, 0xffffffff82000000ULL },	/* CSTAR */
	{ 0xc0000084, 0x47700ULL },		/* SFMASK */
	/* AMD keeps only 32 bits of SYSENTER_ESP/EIP (and so does KVM) */
	{ 0x174, 0x10 },			/* SYSENTER_CS */
	{ 0x175, 0x80004000ULL },		/* SYSENTER_ESP */
	{ 0x176, 0x83000000ULL },		/* SYSENTER_EIP */
};

static inline void guest_wrmsr(uint32_t index, uint64_t value)
{
	__asm__ __volatile__("wrmsr" : : "c"(index), "a"((uint32_t)value),
			     "d"((uint32_t)(value >> 32)) : "memory");
}

static inline uint64_t guest_rdmsr(uint32_t index)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
	return lo | ((uint64_t)hi << 32);
}

static void guest_load_msrs(void)
{
	unsigned int i, round;

	for (i = 0; i < sizeof(guest_msrs) / sizeof(guest_msrs[0]); i++)
		guest_wrmsr(guest_msrs[i].index, guest_msrs[i].value);
	for (round = 0; round < 3; round++) {
		GUEST_SYNC(round);
		for (i = 0; i < sizeof(guest_msrs) / sizeof(guest_msrs[0]); i++)
			GUEST_ASSERT_EQ(guest_rdmsr(guest_msrs[i].index),
					guest_msrs[i].value);
	}
	GUEST_DONE();
}

static __thread volatile uint64_t host_tls = 0x5151;

TEST(guest_msrs_do_not_leak_to_host)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_load_msrs);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[16];
	} msrs;
	unsigned int i, n = sizeof(guest_msrs) / sizeof(guest_msrs[0]);
	int round;

	for (round = 0; round < 3; round++) {
		vcpu_expect_sync(vcpu, round);
		/* FS base: TLS; LSTAR: every system call */
		EXPECT_EQ(0x5151 + round, host_tls);
		host_tls++;
		EXPECT_EQ(getpid(), syscall(SYS_getpid));
	}
	vcpu_expect_done(vcpu);

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = n;
	for (i = 0; i < n; i++)
		msrs.e[i].index = guest_msrs[i].index;
	ASSERT_EQ((int)n, ioctl(vcpu->fd, KVM_GET_MSRS, &msrs));
	for (i = 0; i < n; i++) {
		uint32_t index = guest_msrs[i].index;

		EXPECT_EQ(guest_msrs[i].value, msrs.e[i].data)
			TH_LOG("MSR 0x%x", index);
	}
	kvm_vm_free(vm);
}

static void guest_vector_regs(void)
{
	__asm__ __volatile__("pcmpeqd %%xmm7, %%xmm7\n\t"
			     "pxor %%xmm6, %%xmm6" : : : "memory");
	GUEST_SYNC(0);
	GUEST_DONE();
}

TEST(host_vector_registers_survive)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_vector_regs);
	struct ucall uc;
	uint64_t x7, x6;
	long r;

	/*
	 * A raw system call, so nothing runs between the loads and KVM_RUN.
	 * No clobber list for the XMM registers: this file is built without
	 * SSE, so the compiler keeps nothing in them.
	 */
	__asm__ __volatile__("movq %[a], %%xmm6\n\t"
			     "movq %[b], %%xmm7\n\t"
			     "syscall\n\t"
			     "movq %%xmm6, %[x6]\n\t"
			     "movq %%xmm7, %[x7]"
			     : "=a"(r), [x6] "=r"(x6), [x7] "=r"(x7)
			     : "0"((long)SYS_ioctl), "D"((long)vcpu->fd),
			       "S"((long)KVM_RUN), "d"(0L),
			       [a] "r"(0x1234567812345678ULL),
			       [b] "r"(0x0fedcba987654321ULL)
			     : "rcx", "r11", "memory");
	ASSERT_EQ(0, r);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0x1234567812345678ULL, x6);
	EXPECT_EQ(0x0fedcba987654321ULL, x7);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	EXPECT_EQ(0, uc.args[0]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

#define MIGRATIONS	200

static void guest_counter(void)
{
	volatile uint64_t *p = (volatile uint64_t *)DATA_GPA;
	uint32_t a, b, c, d;
	uint64_t i;

	for (i = 0; i < MIGRATIONS; i++) {
		p[i % 512] = i;
		cpuid(0, 0, &a, &b, &c, &d);	/* an exit handled in the kernel */
		GUEST_SYNC(i);
		GUEST_ASSERT_EQ(p[i % 512], i);
	}
	GUEST_DONE();
}

TEST(vcpu_moves_between_cpus)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t *mem, i;
	cpu_set_t set;

	if (ncpus < 2)
		SKIP(return, "needs 2 CPUs, has %ld", ncpus);
	vm = vm_create_with_one_vcpu(&vcpu, guest_counter);
	mem = vm_mem_region_add_mapped(vm, 1, DATA_GPA, DATA_SIZE, 0);
	for (i = 0; i < MIGRATIONS; i++) {
		CPU_ZERO(&set);
		CPU_SET(i % ncpus, &set);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
		vcpu_expect_sync(vcpu, i);
		ASSERT_EQ(i, mem[i % 512]);
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
