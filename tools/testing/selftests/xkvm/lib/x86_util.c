// SPDX-License-Identifier: GPL-2.0
/*
 * x86_util.c - CPUID-table and MSR helpers of the selftest library, and
 * the guest fault handler behind the *_safe() instruction wrappers.
 *
 * Owns the host-side helpers declared in include/x86_util.h (tables for
 * KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2 / KVM_GET_CPUID2, single-MSR
 * KVM_GET_MSRS / KVM_SET_MSRS, the MSR index lists) and the guest-side
 * wrappers that execute one instruction which may fault, plus the handler
 * that records the fault and skips the instruction.  The guest functions
 * here run inside the VM: no libc, no TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "x86_util.h"

/* ---- CPUID tables ---- */

struct kvm_cpuid2 *cpuid2_alloc(unsigned int nent)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
	TEST_ASSERT(c, "out of memory");
	c->nent = nent;
	return c;
}

int __kvm_get_supported_cpuid(struct kvm_cpuid2 *cpuid)
{
	int fd = kvm_open_dev();
	int r, err;

	r = ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

struct kvm_cpuid2 *kvm_get_supported_cpuid(void)
{
	struct kvm_cpuid2 *c = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES);

	TEST_ASSERT(!__kvm_get_supported_cpuid(c),
		    "KVM_GET_SUPPORTED_CPUID with %d entries failed",
		    KVM_MAX_CPUID_ENTRIES);
	TEST_ASSERT(c->nent > 0 && c->nent <= KVM_MAX_CPUID_ENTRIES,
		    "KVM_GET_SUPPORTED_CPUID returned nent %u", c->nent);
	return c;
}

struct kvm_cpuid_entry2 *cpuid2_find(struct kvm_cpuid2 *cpuid,
				     uint32_t function, uint32_t index)
{
	unsigned int i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != index)
			continue;
		return e;
	}
	return NULL;
}

struct kvm_cpuid_entry2 *cpuid2_add(struct kvm_cpuid2 *cpuid,
				   uint32_t function, uint32_t index,
				   uint32_t flags, uint32_t eax, uint32_t ebx,
				   uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &cpuid->entries[cpuid->nent++];

	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
	return e;
}

struct kvm_cpuid2 *cpuid2_dup(const struct kvm_cpuid2 *cpuid,
			      unsigned int extra)
{
	struct kvm_cpuid2 *c = cpuid2_alloc(cpuid->nent + extra);

	memcpy(c->entries, cpuid->entries,
	       cpuid->nent * sizeof(cpuid->entries[0]));
	c->nent = cpuid->nent;
	return c;
}

int __vcpu_set_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	return ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
}

void vcpu_set_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	TEST_ASSERT(!__vcpu_set_cpuid2(vcpu, cpuid),
		    "KVM_SET_CPUID2 (%u entries) on vCPU %u failed",
		    cpuid->nent, vcpu->id);
}

int __vcpu_get_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	return ioctl(vcpu->fd, KVM_GET_CPUID2, cpuid);
}

struct kvm_cpuid2 *vcpu_get_cpuid2(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid2 *c = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES);

	TEST_ASSERT(!__vcpu_get_cpuid2(vcpu, c),
		    "KVM_GET_CPUID2 on vCPU %u failed", vcpu->id);
	return c;
}

struct kvm_cpuid2 *vcpu_set_supported_cpuid(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();

	vcpu_set_cpuid2(vcpu, c);
	return c;
}

/* ---- MSRs ---- */

struct kvm_msr_list *kvm_get_msr_list(unsigned long ioctl_nr)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	int fd = kvm_open_dev();
	int r;

	r = ioctl(fd, ioctl_nr, &probe);
	TEST_ASSERT(r == -1 && errno == E2BIG,
		    "MSR list ioctl 0x%lx with nmsrs 0: wanted E2BIG, got %d",
		    ioctl_nr, r);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	TEST_ASSERT(list, "out of memory");
	list->nmsrs = probe.nmsrs;
	r = ioctl(fd, ioctl_nr, list);
	TEST_ASSERT(r == 0, "MSR list ioctl 0x%lx with nmsrs %u failed",
		    ioctl_nr, probe.nmsrs);
	TEST_ASSERT(list->nmsrs == probe.nmsrs,
		    "MSR list ioctl 0x%lx: %u MSRs after announcing %u",
		    ioctl_nr, list->nmsrs, probe.nmsrs);
	close(fd);
	return list;
}

bool msr_list_has(const struct kvm_msr_list *list, uint32_t index)
{
	unsigned int i;

	for (i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return true;
	return false;
}

struct kvm_msrs *msrs_alloc(unsigned int n)
{
	struct kvm_msrs *m;

	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	TEST_ASSERT(m, "out of memory");
	m->nmsrs = n;
	return m;
}

int __vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	m.e.data = 0;
	r = ioctl(vcpu->fd, KVM_GET_MSRS, &m);
	if (r == 1)
		*data = m.e.data;
	return r;
}

int __vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	m.e.data = data;
	return ioctl(vcpu->fd, KVM_SET_MSRS, &m);
}

uint64_t vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t index)
{
	uint64_t data = 0;
	int r = __vcpu_get_msr(vcpu, index, &data);

	TEST_ASSERT(r == 1, "KVM_GET_MSRS of MSR 0x%x on vCPU %u returned %d",
		    index, vcpu->id, r);
	return data;
}

void vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	int r = __vcpu_set_msr(vcpu, index, data);

	TEST_ASSERT(r == 1,
		    "KVM_SET_MSRS of MSR 0x%x = 0x%llx on vCPU %u returned %d",
		    index, (unsigned long long)data, vcpu->id, r);
}

/* ---- guest side ---- */

volatile uint64_t guest_fault_vector = GUEST_NO_FAULT;
volatile uint64_t guest_fault_error;
volatile uint64_t guest_fault_count;

/*
 * Length of the instruction at @rip if it is one the *_safe() wrappers
 * execute: RDMSR, WRMSR, RDTSC(P), RDPMC, RDPID, XGETBV, XSETBV, MOV to
 * CR0/CR4 (with an optional F3 and REX prefix).  0 for anything else.
 */
static unsigned int fault_insn_len(const uint8_t *ip)
{
	unsigned int rep = ip[0] == 0xf3, rex;

	ip += rep;
	rex = (ip[0] & 0xf0) == 0x40;
	ip += rex;
	rex += rep;
	if (ip[0] != 0x0f)
		return 0;
	switch (ip[1]) {
	case 0x30:		/* wrmsr */
	case 0x31:		/* rdtsc */
	case 0x32:		/* rdmsr */
	case 0x33:		/* rdpmc */
		return rex + 2;
	case 0xc7:		/* rdpid: F3 0F C7 /7, register operand */
		return rep && (ip[2] & 0xf8) == 0xf8 ? rex + 3 : 0;
	case 0x01:		/* xgetbv, xsetbv, rdtscp */
		if (ip[2] == 0xd0 || ip[2] == 0xd1 || ip[2] == 0xf9)
			return rex + 3;
		return 0;
	case 0x22:		/* mov to cr: register-direct modrm */
		return (ip[2] & 0xc0) == 0xc0 ? rex + 3 : 0;
	}
	return 0;
}

static void guest_fault_skipper(struct ex_regs *regs)
{
	unsigned int len = fault_insn_len((const uint8_t *)regs->rip);

	if (!len) {
		/* Not one of ours: report it as the library would. */
		for (;;) {
			ucall(UCALL_EXCEPTION, regs->vector, regs->error_code,
			      regs->rip, 0);
			hlt();
		}
	}
	guest_fault_vector = regs->vector;
	guest_fault_error = regs->error_code;
	guest_fault_count++;
	regs->rip += len;
}

void vm_install_fault_skipper(struct kvm_vm *vm)
{
	vm_install_exception_handler(vm, DE_VECTOR, guest_fault_skipper);
	vm_install_exception_handler(vm, UD_VECTOR, guest_fault_skipper);
	vm_install_exception_handler(vm, GP_VECTOR, guest_fault_skipper);
}

static inline uint8_t fault_take(void)
{
	uint8_t v = guest_fault_vector;

	guest_fault_vector = GUEST_NO_FAULT;
	return v;
}

uint8_t rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return fault_take();
}

uint8_t wrmsr_safe(uint32_t msr, uint64_t val)
{
	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("wrmsr"
			     : : "c"(msr), "a"((uint32_t)val),
				 "d"((uint32_t)(val >> 32))
			     : "memory");
	return fault_take();
}

uint8_t xsetbv_safe(uint32_t xcr, uint64_t val)
{
	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("xsetbv"
			     : : "c"(xcr), "a"((uint32_t)val),
				 "d"((uint32_t)(val >> 32))
			     : "memory");
	return fault_take();
}

uint8_t xgetbv_safe(uint32_t xcr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("xgetbv" : "+a"(lo), "+d"(hi) : "c"(xcr) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return fault_take();
}

uint8_t write_cr4_safe(uint64_t val)
{
	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("mov %0, %%cr4" : : "r"(val) : "memory");
	return fault_take();
}

uint8_t write_cr0_safe(uint64_t val)
{
	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("mov %0, %%cr0" : : "r"(val) : "memory");
	return fault_take();
}

uint8_t rdpmc_safe(uint32_t counter, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("rdpmc" : "+a"(lo), "+d"(hi) : "c"(counter) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return fault_take();
}

uint8_t rdtscp_safe(uint64_t *tsc, uint32_t *aux)
{
	uint32_t lo = 0, hi = 0, c = 0;

	guest_fault_vector = GUEST_NO_FAULT;
	__asm__ __volatile__("rdtscp" : "+a"(lo), "+d"(hi), "+c"(c) : : "memory");
	*tsc = ((uint64_t)hi << 32) | lo;
	*aux = c;
	return fault_take();
}

uint8_t rdpid_safe(uint64_t *val)
{
	uint64_t v = 0;

	guest_fault_vector = GUEST_NO_FAULT;
	/* rdpid %rax, spelled out for assemblers that lack it */
	__asm__ __volatile__(".byte 0xf3, 0x0f, 0xc7, 0xf8" : "+a"(v) : : "memory");
	*val = v;
	return fault_take();
}
