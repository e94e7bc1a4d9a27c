/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86_util.h - helpers for the tests of the x86 vCPU-state ioctl groups:
 * CPUID tables (KVM_GET_SUPPORTED_CPUID, KVM_SET/GET_CPUID2), MSRs
 * (KVM_GET_MSR_INDEX_LIST, KVM_GET/SET_MSRS), and guest code that may
 * fault on purpose (RDMSR, WRMSR, XSETBV, MOV to CR4, ...).
 *
 * Owns: the architectural MSR numbers and CPUID bits these tests use, the
 * host helpers of lib/x86_util.c, and the guest-side "safe" instruction
 * wrappers.  A safe wrapper returns the vector of the exception the
 * instruction raised (GUEST_NO_FAULT if none); it needs the fault handler
 * that vm_install_fault_skipper() installs for #GP, #UD and #DE, which
 * records the vector and error code and resumes after the instruction.
 */
#ifndef XKVM_SELFTEST_X86_UTIL_H
#define XKVM_SELFTEST_X86_UTIL_H

#include <stdint.h>
#include <linux/kvm.h>

#include "xkvm_util.h"

/* ---- MSRs ---- */

#define MSR_IA32_TSC			0x00000010
#define MSR_KVM_WALL_CLOCK		0x00000011
#define MSR_KVM_SYSTEM_TIME		0x00000012
#define MSR_IA32_APICBASE		0x0000001b
#define MSR_IA32_TSC_ADJUST		0x0000003b
#define MSR_IA32_UCODE_REV		0x0000008b
#define MSR_MTRRcap			0x000000fe
#define MSR_IA32_SYSENTER_CS		0x00000174
#define MSR_IA32_SYSENTER_ESP		0x00000175
#define MSR_IA32_SYSENTER_EIP		0x00000176
#define MSR_IA32_MCG_CAP		0x00000179
#define MSR_IA32_MCG_STATUS		0x0000017a
#define MSR_IA32_MCG_CTL		0x0000017b
#define MSR_IA32_MISC_ENABLE		0x000001a0
#define MSR_MTRR_PHYSBASE(n)		(0x00000200 + 2 * (n))
#define MSR_MTRR_PHYSMASK(n)		(0x00000201 + 2 * (n))
#define MSR_MTRRfix64K_00000		0x00000250
#define MSR_MTRRfix16K_80000		0x00000258
#define MSR_MTRRfix4K_F8000		0x0000026f
#define MSR_IA32_CR_PAT			0x00000277
#define MSR_MTRRdefType			0x000002ff
#define MSR_IA32_MC0_CTL		0x00000400
#define MSR_IA32_MCx_CTL(x)		(MSR_IA32_MC0_CTL + 4 * (x))
#define MSR_IA32_MCx_STATUS(x)		(MSR_IA32_MC0_CTL + 4 * (x) + 1)
#define MSR_IA32_MCx_ADDR(x)		(MSR_IA32_MC0_CTL + 4 * (x) + 2)
#define MSR_IA32_MCx_MISC(x)		(MSR_IA32_MC0_CTL + 4 * (x) + 3)
#define MSR_EFER			0xc0000080
#define MSR_STAR			0xc0000081
#define MSR_LSTAR			0xc0000082
#define MSR_CSTAR			0xc0000083
#define MSR_SYSCALL_MASK		0xc0000084
#define MSR_FS_BASE			0xc0000100
#define MSR_GS_BASE			0xc0000101
#define MSR_KERNEL_GS_BASE		0xc0000102
#define MSR_TSC_AUX			0xc0000103
#define MSR_K7_HWCR			0xc0010015
#define HV_X64_MSR_VP_RUNTIME		0x40000010
#define HV_X64_MSR_TIME_REF_COUNT	0x40000020
#define MSR_KVM_ASYNC_PF_INT		0x4b564d06

#define MSR_IA32_APICBASE_BSP		(1ULL << 8)
#define MSR_IA32_APICBASE_X2APIC	(1ULL << 10)
#define MSR_IA32_APICBASE_ENABLE	(1ULL << 11)
#define APIC_DEFAULT_PHYS_BASE		0xfee00000ULL

#define MISC_ENABLE_EMON		(1ULL << 7)
#define MISC_ENABLE_BTS_UNAVAIL		(1ULL << 11)
#define MISC_ENABLE_PEBS_UNAVAIL	(1ULL << 12)

#define MCG_CTL_P			(1ULL << 8)
#define HWCR_MCSTATUSWREN		(1ULL << 18)

/* An MSR index no x86 CPU or KVM defines. */
#define MSR_UNKNOWN			0xdeadbeef

/* ---- CR4 / XCR0 / CPUID bits ---- */

#define X86_CR4_OSXSAVE			(1ULL << 18)

#define XFEATURE_MASK_FP		(1ULL << 0)
#define XFEATURE_MASK_SSE		(1ULL << 1)
#define XFEATURE_MASK_YMM		(1ULL << 2)

/* CPUID.1 */
#define CPUID1_ECX_VMX			(1U << 5)
#define CPUID1_ECX_X2APIC		(1U << 21)
#define CPUID1_ECX_XSAVE		(1U << 26)
#define CPUID1_ECX_OSXSAVE		(1U << 27)
#define CPUID1_ECX_HYPERVISOR		(1U << 31)
#define CPUID1_EDX_APIC			(1U << 9)
/* CPUID.7.0 */
#define CPUID7_EBX_TSC_ADJUST		(1U << 1)
/* CPUID.0x80000001 */
#define CPUID_EXT1_ECX_SVM		(1U << 2)
#define CPUID_EXT1_EDX_SYSCALL		(1U << 11)
#define CPUID_EXT1_EDX_RDTSCP		(1U << 27)
#define CPUID_EXT1_EDX_LM		(1U << 29)

/* Vendor strings as CPUID.0 returns them in EBX, EDX, ECX. */
#define VENDOR_AMD_EBX			0x68747541	/* "Auth" */
#define VENDOR_AMD_EDX			0x69746e65	/* "enti" */
#define VENDOR_AMD_ECX			0x444d4163	/* "cAMD" */
#define VENDOR_INTEL_EBX		0x756e6547	/* "Genu" */
#define VENDOR_INTEL_EDX		0x49656e69	/* "ineI" */
#define VENDOR_INTEL_ECX		0x6c65746e	/* "ntel" */

/* KVM's limits (arch/x86/include/asm/kvm_host.h, part of the ABI). */
#define KVM_MAX_CPUID_ENTRIES		256
#define KVM_MAX_IO_MSRS			256	/* KVM_GET/SET_MSRS: nmsrs < this */
#define KVM_MAX_MCE_BANKS		32
#define KVM_MAX_XCRS			16

/* ---- host side: CPUID tables ---- */

struct kvm_cpuid2 *cpuid2_alloc(unsigned int nent);
/* KVM_GET_SUPPORTED_CPUID with a large enough buffer (asserts). */
struct kvm_cpuid2 *kvm_get_supported_cpuid(void);
/* Raw KVM_GET_SUPPORTED_CPUID on a fresh system fd: 0 or -1 with errno. */
int __kvm_get_supported_cpuid(struct kvm_cpuid2 *cpuid);
/*
 * The entry CPUID (@function, @index) selects: an entry whose index is
 * significant must match @index, any other matches every index.
 */
struct kvm_cpuid_entry2 *cpuid2_find(struct kvm_cpuid2 *cpuid,
				     uint32_t function, uint32_t index);
/* Append an entry (the table must have room: see cpuid2_alloc). */
struct kvm_cpuid_entry2 *cpuid2_add(struct kvm_cpuid2 *cpuid,
				   uint32_t function, uint32_t index,
				   uint32_t flags, uint32_t eax, uint32_t ebx,
				   uint32_t ecx, uint32_t edx);
/* A copy with room for @extra more entries. */
struct kvm_cpuid2 *cpuid2_dup(const struct kvm_cpuid2 *cpuid,
			      unsigned int extra);

int __vcpu_set_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid);
void vcpu_set_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid);
/* KVM_GET_CPUID2 into a buffer of @nent entries: 0 or -1 with errno. */
int __vcpu_get_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid);
/* The vCPU's table (asserts; buffer of KVM_MAX_CPUID_ENTRIES). */
struct kvm_cpuid2 *vcpu_get_cpuid2(struct kvm_vcpu *vcpu);
/* KVM_SET_CPUID2 with the supported table; returns that table. */
struct kvm_cpuid2 *vcpu_set_supported_cpuid(struct kvm_vcpu *vcpu);

/* ---- host side: MSRs ---- */

/* KVM_GET_MSR_INDEX_LIST or KVM_GET_MSR_FEATURE_INDEX_LIST (asserts). */
struct kvm_msr_list *kvm_get_msr_list(unsigned long ioctl_nr);
bool msr_list_has(const struct kvm_msr_list *list, uint32_t index);

/* One MSR through KVM_GET_MSRS / KVM_SET_MSRS: returns the ioctl result
 * (the number of MSRs processed, 0 or 1, or -1 with errno). */
int __vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data);
int __vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);
/* The same, asserting that the MSR was processed. */
uint64_t vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t index);
void vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);

/* A struct kvm_msrs with room for @n entries, nmsrs = @n. */
struct kvm_msrs *msrs_alloc(unsigned int n);

/* ---- guest side ---- */

#define GUEST_NO_FAULT			0xff

/* Install the guest fault handler the *_safe() wrappers rely on. */
void vm_install_fault_skipper(struct kvm_vm *vm);

/* Set by the guest fault handler (the guest's copies). */
extern volatile uint64_t guest_fault_vector;
extern volatile uint64_t guest_fault_error;
extern volatile uint64_t guest_fault_count;

uint8_t rdmsr_safe(uint32_t msr, uint64_t *val);
uint8_t wrmsr_safe(uint32_t msr, uint64_t val);
uint8_t xsetbv_safe(uint32_t xcr, uint64_t val);
uint8_t xgetbv_safe(uint32_t xcr, uint64_t *val);
uint8_t write_cr4_safe(uint64_t val);
uint8_t write_cr0_safe(uint64_t val);
uint8_t rdpmc_safe(uint32_t counter, uint64_t *val);
uint8_t rdtscp_safe(uint64_t *tsc, uint32_t *aux);
uint8_t rdpid_safe(uint64_t *val);

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ __volatile__("wrmsr"
			     : : "c"(msr), "a"((uint32_t)val),
				 "d"((uint32_t)(val >> 32))
			     : "memory");
}

static inline uint64_t xgetbv(uint32_t xcr)
{
	uint32_t lo, hi;

	__asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr) : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void write_cr4(uint64_t val)
{
	__asm__ __volatile__("mov %0, %%cr4" : : "r"(val) : "memory");
}

/* The pvclock ABI (the kernel's asm/pvclock-abi.h is not exported). */
struct pvti {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

/* The pvclock protocol: retry while the version is odd or changed. */
static inline uint64_t pvclock_read(volatile struct pvti *p,
					   uint8_t *flags, uint32_t *version)
{
	uint64_t delta, t;
	uint32_t v;
	uint8_t f;

	do {
		v = p->version;
		__asm__ __volatile__("" ::: "memory");
		delta = rdtsc() - p->tsc_timestamp;
		if (p->tsc_shift < 0)
			delta >>= -p->tsc_shift;
		else
			delta <<= p->tsc_shift;
		t = p->system_time +
		    (uint64_t)(((unsigned __int128)delta *
				p->tsc_to_system_mul) >> 32);
		f = p->flags;
		__asm__ __volatile__("" ::: "memory");
	} while ((v & 1) || v != p->version);
	if (flags)
		*flags = f;
	if (version)
		*version = v;
	return t;
}

#endif /* XKVM_SELFTEST_X86_UTIL_H */
