// SPDX-License-Identifier: GPL-2.0
/*
 * guest_test.c - C code of this binary running in a 64-bit long-mode guest:
 * computing and reporting through ucalls, receiving arguments, its own copy
 * of the binary's globals, memory written by the guest and read by the host
 * and the reverse (also while the guest runs), guest assertions and
 * exceptions reported with their location, and SSE register state kept
 * across exits to the host.
 */
#include <stdio.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

/* ---- a C guest computing things ---- */

static uint64_t guest_global = 7;

static uint64_t fib(unsigned int n)
{
	uint64_t a = 0, b = 1;

	while (n--) {
		uint64_t t = a + b;

		a = b;
		b = t;
	}
	return a;
}

static void guest_compute(void)
{
	unsigned int i;

	/* Long mode, paging on, as the library set it up. */
	GUEST_ASSERT(read_cr0() & X86_CR0_PG);
	GUEST_ASSERT(read_cr4() & X86_CR4_PAE);
	for (i = 0; i < 5; i++)
		GUEST_SYNC(fib(10 * i));
	/* The guest's copy of the globals starts from the ELF image. */
	GUEST_ASSERT_EQ(guest_global, 7);
	guest_global = 0x1234;
	GUEST_SYNC(guest_global);
	/* Returning from the guest function is GUEST_DONE. */
}

TEST(c_guest)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_compute);
	static const uint64_t want[] = { 0, 55, 6765, 832040, 102334155 };
	unsigned int i;

	/* The host's copy is separate from the guest's. */
	guest_global = 99;
	for (i = 0; i < 5; i++)
		vcpu_expect_sync(vcpu, want[i]);
	vcpu_expect_sync(vcpu, 0x1234);
	EXPECT_EQ(99, guest_global);
	sync_global_from_guest(vm, guest_global);
	EXPECT_EQ(0x1234, guest_global);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static void guest_args(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	GUEST_SYNC_ARGS(a + b, c ^ d, a * d, b - c);
	GUEST_DONE();
}

TEST(guest_arguments)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_args);
	struct ucall uc;

	vcpu_args_set(vcpu, 4, 10ULL, 20ULL, 0xff00ULL, 0x0ff0ULL);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(30, uc.args[0]);
	EXPECT_EQ(0xf0f0, uc.args[1]);
	EXPECT_EQ(10 * 0x0ff0, uc.args[2]);
	EXPECT_EQ((uint64_t)20 - 0xff00, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- shared memory ---- */

#define DATA_GPA	0x10000000ULL
#define DATA_SIZE	0x200000ULL	/* 512 pages */
#define NR_WORDS	(DATA_SIZE / 8)

static uint64_t pattern(uint64_t i, uint64_t seed)
{
	return (i * 0x9e3779b97f4a7c15ULL) ^ seed;
}

static void guest_writer(void)
{
	volatile uint64_t *p = (volatile uint64_t *)DATA_GPA;
	uint64_t i, round;

	for (round = 1; round <= 3; round++) {
		for (i = 0; i < NR_WORDS; i++)
			p[i] = pattern(i, round);
		GUEST_SYNC(round);
	}
	GUEST_DONE();
}

TEST(guest_writes_host_reads)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_writer);
	uint64_t *mem, i, round, bad;

	mem = vm_mem_region_add_mapped(vm, 1, DATA_GPA, DATA_SIZE, 0);
	for (round = 1; round <= 3; round++) {
		vcpu_expect_sync(vcpu, round);
		for (bad = 0, i = 0; i < NR_WORDS; i++)
			bad += mem[i] != pattern(i, round);
		EXPECT_EQ(0, bad) TH_LOG("round %llu: %llu words differ",
					 (unsigned long long)round,
					 (unsigned long long)bad);
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static void guest_reader(void)
{
	volatile uint64_t *p = (volatile uint64_t *)DATA_GPA;
	uint64_t i, round, bad;

	for (round = 1; round <= 3; round++) {
		for (bad = 0, i = 0; i < NR_WORDS; i++)
			bad += p[i] != pattern(i, round << 8);
		GUEST_ASSERT_EQ(bad, 0);
		/* The host rewrites the memory while the guest is stopped. */
		GUEST_SYNC(round);
	}
	/* Host and guest see the same page: poke each other's words. */
	p[0] = 0xaaaa;
	GUEST_SYNC(0xaaaa);
	GUEST_ASSERT_EQ(p[1], 0xbbbb);
	GUEST_DONE();
}

TEST(host_writes_guest_reads)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_reader);
	uint64_t *mem, i, round;

	mem = vm_mem_region_add_mapped(vm, 1, DATA_GPA, DATA_SIZE, 0);
	for (round = 1; round <= 3; round++) {
		for (i = 0; i < NR_WORDS; i++)
			mem[i] = pattern(i, round << 8);
		vcpu_expect_sync(vcpu, round);
	}
	vcpu_expect_sync(vcpu, 0xaaaa);
	EXPECT_EQ(0xaaaa, mem[0]);
	mem[1] = 0xbbbb;
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- failure reporting ---- */

static const unsigned int assert_line_before = __LINE__;
static void guest_failing_assert(void)
{
	volatile uint64_t v = 41;

	GUEST_ASSERT_EQ(v + 1, 43);
}
static const unsigned int assert_line_after = __LINE__;

TEST(guest_assert_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_failing_assert);
	struct ucall uc;

	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_ABORT, get_ucall(vcpu, &uc));
	EXPECT_STREQ(__FILE__, uc.file);
	EXPECT_LT(assert_line_before, uc.line);
	EXPECT_GT(assert_line_after, uc.line);
	EXPECT_STREQ("v + 1 == 43", uc.expr);
	EXPECT_EQ(42, uc.args[0]);
	EXPECT_EQ(43, uc.args[1]);
	TH_LOG("reported as: %s", ucall_describe(&uc));
	kvm_vm_free(vm);
}

extern char guest_ud2_insn[];

static void guest_ud2(void)
{
	__asm__ __volatile__("guest_ud2_insn: ud2");
}

TEST(guest_exception_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_ud2);
	struct ucall uc;

	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_EXCEPTION, get_ucall(vcpu, &uc));
	EXPECT_EQ(UD_VECTOR, uc.args[0]);
	EXPECT_EQ((uint64_t)(uintptr_t)guest_ud2_insn, uc.args[2]);
	TH_LOG("reported as: %s", ucall_describe(&uc));
	kvm_vm_free(vm);
}

static uint64_t guest_nr_ud;

static void guest_ud_handler(struct ex_regs *regs)
{
	guest_nr_ud++;
	regs->rax = 0x600d;
	regs->rip += 2;		/* skip the ud2 */
}

static void guest_handled_ud(void)
{
	uint64_t rax = 0;
	int i;

	for (i = 0; i < 3; i++)
		__asm__ __volatile__("ud2" : "+a"(rax) : : "memory");
	GUEST_ASSERT_EQ(rax, 0x600d);
	GUEST_SYNC(guest_nr_ud);
}

TEST(guest_exception_handler)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_handled_ud);

	vm_install_exception_handler(vm, UD_VECTOR, guest_ud_handler);
	vcpu_expect_sync(vcpu, 3);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static volatile uintptr_t guest_bad_address = 8;

static void guest_null_deref(void)
{
	GUEST_SYNC(*(volatile uint64_t *)guest_bad_address);
}

TEST(guest_page_fault_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_null_deref);
	struct ucall uc;

	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_EXCEPTION, get_ucall(vcpu, &uc));
	EXPECT_EQ(PF_VECTOR, uc.args[0]);
	/* Not present, read, supervisor. */
	EXPECT_EQ(0, uc.args[1]);
	EXPECT_EQ(8, uc.args[3]);	/* CR2 */
	kvm_vm_free(vm);
}

/* ---- FPU/SSE state across exits ---- */

/*
 * The library compiles everything without SSE; this guest uses XMM
 * registers explicitly (the library sets CR4.OSFXSR) and checks they
 * survive exits to the host, whose own code uses them freely.
 */
static void guest_sse(void)
{
	uint64_t lo = 0, hi = 0;
	int i;

	__asm__ __volatile__("movq %0, %%xmm3\n\t"
			     "movq %1, %%xmm4\n\t"
			     "punpcklqdq %%xmm4, %%xmm3"
			     : : "r"(0x0123456789abcdefULL),
				 "r"(0xfedcba9876543210ULL));
	for (i = 0; i < 3; i++) {
		GUEST_SYNC(i);
		__asm__ __volatile__("movq %%xmm3, %0\n\t"
				     "pshufd $0x4e, %%xmm3, %%xmm5\n\t"
				     "movq %%xmm5, %1"
				     : "=r"(lo), "=r"(hi));
		GUEST_ASSERT_EQ(lo, 0x0123456789abcdefULL);
		GUEST_ASSERT_EQ(hi, 0xfedcba9876543210ULL);
	}
	GUEST_DONE();
}

/*
 * No clobber list: this file is compiled without SSE, so the compiler
 * keeps nothing in XMM registers (and they are caller-saved anyway).
 */
static void host_clobber_xmm(void)
{
	__asm__ __volatile__("pcmpeqd %xmm3, %xmm3\n\t"
			     "pxor %xmm4, %xmm4\n\t"
			     "pcmpeqd %xmm5, %xmm5");
}

TEST(guest_sse_state)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_sse);
	char buf[256], out[300];
	int i;

	for (i = 0; i < 3; i++) {
		vcpu_expect_sync(vcpu, i);
		host_clobber_xmm();
		/* libc's string functions use vector registers too. */
		memset(buf, 0x5a + i, sizeof(buf) - 1);
		buf[sizeof(buf) - 1] = 0;
		snprintf(out, sizeof(out), "%s-%d", buf, i);
		EXPECT_EQ(sizeof(buf) + 1, strlen(out));
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
