// SPDX-License-Identifier: GPL-2.0
/*
 * intercept_test.c - what a guest must not get from the hardware behind
 * the hypervisor's back, and instructions the hypervisor must finish
 * correctly for it:
 *  - CR4 bits its CPUID hides (FSGSBASE, SMEP, SMAP, UMIP, PKE, PCIDE,
 *    LA57, VMXE, SMXE, reserved ones) fault with #GP, CR4 stays as it was,
 *    and the bits every guest owns still change;
 *  - CR0.CD/NW read back as the guest wrote them (KVM runs the guest with
 *    caching on, but the guest sees its own value), also in KVM_GET_SREGS;
 *  - RDPMC faults (#GP) unless a virtual PMU is offered: the host's
 *    performance counters are not the guest's;
 *  - RDTSCP and RDPID hidden by CPUID fault (#UD), and never return the
 *    host's TSC_AUX; TSC_AUX itself is refused to such a guest;
 *  - intercepted instructions with prefixes (CS override, operand size,
 *    REX) resume at the next instruction: without NRIP save the
 *    hypervisor must decode them rather than assume a length;
 *  - a port-I/O exit whose RIP userspace moved with KVM_SET_REGS is not
 *    completed (the IN data does not reach RAX), as on KVM, while one
 *    with the RIP unchanged merges the data into the new RAX.
 */
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "x86_util.h"

#define X86_CR4_VME		(1ULL << 0)
#define X86_CR4_DE		(1ULL << 3)
#define X86_CR4_PGE		(1ULL << 7)
#define X86_CR4_PCE		(1ULL << 8)
#define X86_CR4_UMIP		(1ULL << 11)
#define X86_CR4_LA57		(1ULL << 12)
#define X86_CR4_VMXE		(1ULL << 13)
#define X86_CR4_SMXE		(1ULL << 14)
#define X86_CR4_FSGSBASE	(1ULL << 16)
#define X86_CR4_PCIDE		(1ULL << 17)
#define X86_CR4_SMEP		(1ULL << 20)
#define X86_CR4_SMAP		(1ULL << 21)
#define X86_CR4_PKE		(1ULL << 22)
#define X86_CR4_RESERVED_31	(1ULL << 31)

/* ---- CR4 bits the guest's CPUID hides ---- */

/* Features taken out of the guest's CPUID: leaf, register (1=EBX, 2=ECX, 3=EDX), bit. */
static const struct { uint32_t leaf; int reg, bit; } hidden_features[] = {
	{ 7, 1, 0 },	/* FSGSBASE */
	{ 7, 1, 7 },	/* SMEP */
	{ 7, 1, 20 },	/* SMAP */
	{ 7, 2, 2 },	/* UMIP */
	{ 7, 2, 3 },	/* PKU */
	{ 7, 2, 16 },	/* LA57 */
	{ 7, 2, 22 },	/* RDPID */
	{ 1, 2, 5 },	/* VMX */
	{ 1, 2, 17 },	/* PCID */
	{ 0x80000001, 3, 27 },	/* RDTSCP */
};

static struct kvm_cpuid2 *set_cpuid_hiding(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid2 *c = cpuid2_dup(kvm_get_supported_cpuid(), 0);
	unsigned int i;

	for (i = 0; i < sizeof(hidden_features) / sizeof(hidden_features[0]); i++) {
		struct kvm_cpuid_entry2 *e =
			cpuid2_find(c, hidden_features[i].leaf, 0);
		uint32_t *r;

		if (!e)
			continue;
		r = hidden_features[i].reg == 1 ? &e->ebx :
		    hidden_features[i].reg == 2 ? &e->ecx : &e->edx;
		*r &= ~(1U << hidden_features[i].bit);
	}
	vcpu_set_cpuid2(vcpu, c);
	return c;
}

/*
 * Bits 63:32 are left out: stock KVM's instruction emulator keeps the
 * upper half of CR4 and ignores a write to it where the architecture
 * says #GP (xkvm faults), so the outcome depends on the hypervisor's path.
 */
static const uint64_t hidden_cr4[] = {
	X86_CR4_FSGSBASE, X86_CR4_SMEP, X86_CR4_SMAP, X86_CR4_UMIP,
	X86_CR4_PKE, X86_CR4_PCIDE, X86_CR4_LA57, X86_CR4_VMXE,
	X86_CR4_SMXE, X86_CR4_RESERVED_31,
};

static void guest_hidden_cr4(void)
{
	uint64_t cr4 = read_cr4();
	unsigned int i;

	for (i = 0; i < sizeof(hidden_cr4) / sizeof(hidden_cr4[0]); i++) {
		uint8_t v = write_cr4_safe(cr4 | hidden_cr4[i]);

		GUEST_SYNC_ARGS(i, v, read_cr4(), 0);
		write_cr4_safe(cr4);
	}
	/* bits any guest may change still change, without a fault */
	GUEST_ASSERT_EQ(write_cr4_safe(cr4 | X86_CR4_PGE | X86_CR4_PCE |
				       X86_CR4_DE), GUEST_NO_FAULT);
	GUEST_ASSERT_EQ(read_cr4(), cr4 | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_DE);
	GUEST_ASSERT_EQ(write_cr4_safe(cr4), GUEST_NO_FAULT);
	GUEST_ASSERT_EQ(read_cr4(), cr4);
	GUEST_DONE();
}

TEST(hidden_cr4_bits_fault)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_hidden_cr4);
	struct kvm_sregs sregs;
	struct ucall uc;
	unsigned int i;
	uint64_t cr4;

	vm_install_fault_skipper(vm);
	free(set_cpuid_hiding(vcpu));
	vcpu_sregs_get(vcpu, &sregs);
	cr4 = sregs.cr4;
	for (i = 0; i < sizeof(hidden_cr4) / sizeof(hidden_cr4[0]); i++) {
		ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
		ASSERT_EQ(i, uc.args[0]);
		EXPECT_EQ(GP_VECTOR, uc.args[1])
			TH_LOG("CR4 bit 0x%llx: no #GP", (unsigned long long)hidden_cr4[i]);
		EXPECT_EQ(cr4, uc.args[2])
			TH_LOG("CR4 bit 0x%llx: CR4 became 0x%llx",
			       (unsigned long long)hidden_cr4[i],
			       (unsigned long long)uc.args[2]);
	}
	vcpu_expect_done(vcpu);
	/* and userspace cannot set them either */
	vcpu_sregs_get(vcpu, &sregs);
	sregs.cr4 |= X86_CR4_UMIP;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &sregs));
	EXPECT_EQ(EINVAL, errno);
	kvm_vm_free(vm);
}

/* ---- CR0.CD / CR0.NW ---- */

/*
 * The vCPU starts with CD and NW set, as after RESET; the hypervisor may
 * run it with caching on (KVM does on AMD-V), but the guest and
 * KVM_GET_SREGS see what the guest wrote, whichever way it got there.
 */
static void guest_cd_nw(void)
{
	uint64_t cr0 = read_cr0();

	GUEST_ASSERT_EQ(cr0 & (X86_CR0_CD | X86_CR0_NW), X86_CR0_CD | X86_CR0_NW);
	cr0 &= ~(X86_CR0_CD | X86_CR0_NW);
	GUEST_ASSERT_EQ(write_cr0_safe(cr0), GUEST_NO_FAULT);
	GUEST_ASSERT_EQ(read_cr0(), cr0);
	GUEST_SYNC(1);
	GUEST_ASSERT_EQ(write_cr0_safe(cr0 | X86_CR0_CD), GUEST_NO_FAULT);
	GUEST_ASSERT_EQ(read_cr0(), cr0 | X86_CR0_CD);
	GUEST_SYNC(2);
	/* NW without CD is invalid */
	GUEST_ASSERT_EQ(write_cr0_safe(cr0 | X86_CR0_NW), GP_VECTOR);
	GUEST_ASSERT_EQ(read_cr0(), cr0 | X86_CR0_CD);
	GUEST_ASSERT_EQ(write_cr0_safe(cr0), GUEST_NO_FAULT);
	GUEST_ASSERT_EQ(read_cr0(), cr0);
	GUEST_SYNC(3);
	GUEST_DONE();
}

TEST(cr0_cd_nw_read_back)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cd_nw);
	struct kvm_sregs sregs;

	vm_install_fault_skipper(vm);
	vcpu_sregs_get(vcpu, &sregs);
	sregs.cr0 |= X86_CR0_CD | X86_CR0_NW;
	vcpu_sregs_set(vcpu, &sregs);

	vcpu_expect_sync(vcpu, 1);
	vcpu_sregs_get(vcpu, &sregs);
	EXPECT_FALSE(sregs.cr0 & (X86_CR0_CD | X86_CR0_NW));
	vcpu_expect_sync(vcpu, 2);
	vcpu_sregs_get(vcpu, &sregs);
	EXPECT_TRUE(sregs.cr0 & X86_CR0_CD);
	EXPECT_FALSE(sregs.cr0 & X86_CR0_NW);
	vcpu_expect_sync(vcpu, 3);
	vcpu_sregs_get(vcpu, &sregs);
	EXPECT_FALSE(sregs.cr0 & (X86_CR0_CD | X86_CR0_NW));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- RDPMC ---- */

static void guest_rdpmc(void)
{
	uint64_t val;

	GUEST_SYNC(rdpmc_safe(0, &val));
	GUEST_SYNC(rdpmc_safe(0x40000000, &val));	/* fixed counter 0 */
	GUEST_DONE();
}

/* Does this (L1) host run perf on a hardware PMU KVM could virtualize? */
static bool host_has_pmu(void)
{
	return !access("/sys/bus/event_source/devices/cpu", F_OK) ||
	       !access("/sys/bus/event_source/devices/cpu_core", F_OK);
}

TEST(rdpmc_faults_without_vpmu)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_rdpmc);
	struct ucall uc;
	int i;

	vm_install_fault_skipper(vm);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
		if (uc.args[0] != GP_VECTOR && (xkvm_reference_mode() ||
						host_has_pmu())) {
			TH_LOG("RDPMC works: KVM offers a virtual PMU here");
			continue;
		}
		EXPECT_EQ(GP_VECTOR, uc.args[0]) TH_LOG("counter %d", i);
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- RDTSCP, RDPID, TSC_AUX ---- */

#define GUEST_TSC_AUX	0x5a

static void guest_tsc_aux(void)
{
	uint64_t tsc, pid;
	uint32_t aux = 0;
	uint8_t v;

	v = rdtscp_safe(&tsc, &aux);
	GUEST_SYNC_ARGS(v, aux, 0, 0);
	v = rdpid_safe(&pid);
	GUEST_SYNC_ARGS(v, pid, 0, 0);
	GUEST_ASSERT_EQ(rdmsr_safe(MSR_TSC_AUX, &tsc), GP_VECTOR);
	GUEST_ASSERT_EQ(wrmsr_safe(MSR_TSC_AUX, 1), GP_VECTOR);
	GUEST_DONE();
}

/*
 * RDTSCP/RDPID hidden from the guest: #UD, or, where the hardware cannot
 * be made to fault (AMD-V cannot intercept RDPID; QEMU's TCG ignores the
 * RDTSCP intercept), the guest's own TSC_AUX, never the host's.
 */
static void check_tsc_aux_read(struct __test_metadata *_metadata,
			       const char *insn, struct ucall *uc)
{
	if (uc->args[0] == UD_VECTOR)
		return;
	ASSERT_EQ(GUEST_NO_FAULT, uc->args[0]);
	if (uc->args[1] != GUEST_TSC_AUX && xkvm_reference_mode()) {
		TH_LOG("%s did not fault and read 0x%llx: the CPU ignored the intercept and stock KVM left the host's TSC_AUX",
		       insn, (unsigned long long)uc->args[1]);
		return;
	}
	EXPECT_EQ(GUEST_TSC_AUX, uc->args[1]) TH_LOG("%s", insn);
}

TEST(rdtscp_rdpid_hidden)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_tsc_aux);
	uint64_t aux = 0;
	struct ucall uc;
	cpu_set_t cpus;

	vm_install_fault_skipper(vm);
	free(set_cpuid_hiding(vcpu));
	/* the host may always set it (migration), if the CPU has it at all */
	if (__vcpu_set_msr(vcpu, MSR_TSC_AUX, GUEST_TSC_AUX) != 1) {
		kvm_vm_free(vm);
		SKIP(return, "no TSC_AUX on this CPU (neither RDTSCP nor RDPID)");
	}
	ASSERT_EQ(1, __vcpu_get_msr(vcpu, MSR_TSC_AUX, &aux));
	EXPECT_EQ(GUEST_TSC_AUX, aux);
	/* on CPU 1 the host's own TSC_AUX is 1, not the guest's */
	CPU_ZERO(&cpus);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	check_tsc_aux_read(_metadata, "RDTSCP", &uc);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	check_tsc_aux_read(_metadata, "RDPID", &uc);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- intercepted instructions with prefixes ---- */

extern char pfx_hlt[], pfx_after_hlt[];

static void guest_prefixed(void)
{
	uint32_t a, b, c, d, a2, b2, c2, d2;

	cpuid(0, 0, &a, &b, &c, &d);
	/*
	 * CS override, operand size, REX.W: a wrong length would land RIP
	 * on the 0xa2 byte, a MOV to an absolute address that faults.
	 */
	__asm__ __volatile__(".byte 0x2e, 0x0f, 0xa2"
			     : "=a"(a2), "=b"(b2), "=c"(c2), "=d"(d2)
			     : "a"(0), "c"(0));
	GUEST_ASSERT_EQ(b2, b);
	__asm__ __volatile__(".byte 0x66, 0x0f, 0xa2"
			     : "=a"(a2), "=b"(b2), "=c"(c2), "=d"(d2)
			     : "a"(0), "c"(0));
	GUEST_ASSERT_EQ(c2, c);
	__asm__ __volatile__(".byte 0x48, 0x0f, 0xa2"
			     : "=a"(a2), "=b"(b2), "=c"(c2), "=d"(d2)
			     : "a"(0), "c"(0));
	GUEST_ASSERT_EQ(d2, d);
	/* RDMSR of the TSC with a segment prefix */
	__asm__ __volatile__(".byte 0x3e, 0x0f, 0x32"
			     : "=a"(a2), "=d"(d2) : "c"(MSR_IA32_TSC));
	GUEST_ASSERT(a2 | d2);
	/* HLT with a CS override: the host checks where RIP is */
	__asm__ __volatile__("pfx_hlt: .byte 0x2e, 0xf4\npfx_after_hlt: nop");
	GUEST_DONE();
}

TEST(prefixed_intercepts_resume_after_them)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_prefixed);
	struct kvm_regs regs;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ((uint64_t)(uintptr_t)pfx_after_hlt, regs.rip);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- port-I/O completion and KVM_SET_REGS ---- */

extern char pio_in[], pio_moved[];

static void __attribute__((naked)) guest_pio(void)
{
	__asm__ __volatile__(
		"pio_in: inb $0x10, %al\n\t"
		"outb %al, $0x11\n\t"
		"hlt\n"
		"pio_moved: outb %al, $0x12\n\t"
		"hlt\n");
}

TEST(pio_completion_follows_rip)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_pio);
	struct kvm_regs regs;

	/* RIP moved: the IN is not completed, RAX is userspace's */
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	ASSERT_EQ(0x10, vcpu->run->io.port);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x77;
	vcpu_regs_get(vcpu, &regs);
	regs.rip = (uint64_t)(uintptr_t)pio_moved;
	regs.rax = 0x1234;
	vcpu_regs_set(vcpu, &regs);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0x12, vcpu->run->io.port);
	EXPECT_EQ(0x34, *(uint8_t *)vcpu_io_data(vcpu));
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(0x1234, regs.rax);

	/* RIP unchanged: the data lands in the RAX userspace set */
	regs.rip = (uint64_t)(uintptr_t)pio_in;
	vcpu_regs_set(vcpu, &regs);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	ASSERT_EQ(0x10, vcpu->run->io.port);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x77;
	vcpu_regs_get(vcpu, &regs);
	regs.rax = 0xab00;
	vcpu_regs_set(vcpu, &regs);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0x11, vcpu->run->io.port);
	EXPECT_EQ(0x77, *(uint8_t *)vcpu_io_data(vcpu));
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(0xab77, regs.rax);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
