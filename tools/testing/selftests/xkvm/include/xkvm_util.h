/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_util.h - host side of the xkvm selftest library.
 *
 * Owns: opening the device under test (XKVM_DEV), the test-mode environment
 * (XKVM_MODE, XKVM_CORE_MODULE, XKVM_VENDOR_MODULE), VM and vCPU objects,
 * memory slots and their host mappings, the guest page tables, running a
 * vCPU and checking why it exited, and reading ucalls.  It uses nothing but
 * KVM's ABI from the system's <linux/kvm.h>, so every test runs unchanged
 * against /dev/xkvm and against the stock /dev/kvm (reference mode).
 *
 * Library functions never return an error for a request a test did not
 * mean to fail: they print what went wrong (file, line, errno) and end the
 * test process with a failure status.  The __-prefixed variants return the
 * raw ioctl result for tests that check error paths.
 */
#ifndef XKVM_SELFTEST_UTIL_H
#define XKVM_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <linux/kvm.h>

#include "processor.h"
#include "ucall.h"

/* ---- assertions usable outside TEST() bodies (library, helpers) ---- */

void __test_assert(const char *file, int line, const char *expr,
		   const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#define TEST_ASSERT(cond, fmt, ...)					\
do {									\
	if (!(cond))							\
		__test_assert(__FILE__, __LINE__, #cond, fmt, ##__VA_ARGS__); \
} while (0)

#define TEST_FAIL(fmt, ...)						\
	__test_assert(__FILE__, __LINE__, "failure", fmt, ##__VA_ARGS__)

/* ---- environment ---- */

/* Device to open: $XKVM_DEV, default /dev/xkvm. */
const char *xkvm_dev_path(void);
/* True when XKVM_MODE=reference (the stock KVM modules are under test). */
bool xkvm_reference_mode(void);
/* $XKVM_CORE_MODULE / $XKVM_VENDOR_MODULE, or NULL when unset. */
const char *xkvm_core_module(void);
const char *xkvm_vendor_module(void);
/* True when the vendor module is an AMD-V one (name ends in "_amd"). */
bool xkvm_vendor_is_amd(void);
/* The vendor module's boolean parameter @param exists and reads N (or 0). */
bool xkvm_vendor_param_off(const char *param);
/*
 * True when guests run on shadow page tables: the vendor module's npt
 * (AMD) or ept (Intel) parameter reads N, as on KVM and xkvm alike.
 */
bool xkvm_shadow_paging(void);

/* ---- system fd ---- */

int kvm_open_dev(void);			/* asserts success */
int kvm_check_cap(long cap);		/* on a fresh system fd */

/* ---- objects ---- */

#define XKVM_MAX_MEM_REGIONS	64
#define XKVM_MAX_VCPUS		1024
#define XKVM_MAX_LM_VCPUS	16	/* long-mode vCPUs (one stack each) */

enum vm_mode {
	VM_MODE_NONE,		/* no memory, no guest state set up */
	VM_MODE_REAL,		/* 1 MiB at GPA 0, raw real-mode code */
	VM_MODE_LONG,		/* the test binary in 64-bit long mode */
};

struct userspace_mem_region {
	bool in_use;
	struct kvm_userspace_memory_region region;
	void *host_mem;
	size_t mmap_size;
};

struct kvm_vcpu {
	struct kvm_vm *vm;
	uint32_t id;
	int fd;				/* -1 once a test closed it */
	struct kvm_run *run;		/* NULL once unmapped */
	size_t run_size;
};

struct kvm_vm {
	int kvm_fd;			/* system fd; -1 once closed */
	int fd;				/* VM fd; -1 once closed */
	enum vm_mode mode;
	struct userspace_mem_region regions[XKVM_MAX_MEM_REGIONS];
	uint64_t pml4_gpa;
	uint64_t pt_next;		/* page-table pool allocator */
	unsigned int nr_lm_vcpus;
	unsigned int nr_vcpus;
	struct kvm_vcpu *vcpus[XKVM_MAX_VCPUS];
};

typedef void (*guest_code_t)(void);

/* A VM with no memory and no vCPU: just the VM fd (and its system fd). */
struct kvm_vm *vm_create_barebones(void);
/*
 * A long-mode VM: slot 0 at GPA 0 holding the GDT, IDT, TSS, page tables,
 * stacks and a copy of this binary's ELF segments at their link addresses,
 * identity mapped.  No vCPU yet.
 */
struct kvm_vm *vm_create_long_mode(void);
/* vm_create_long_mode() plus vCPU 0 about to call guest_code(). */
struct kvm_vm *vm_create_with_one_vcpu(struct kvm_vcpu **vcpu,
				       void *guest_code);
/* A long-mode vCPU with its own stack, about to call guest_code(). */
struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, uint32_t id, void *guest_code);
/*
 * A real-mode VM: 1 MiB at GPA 0, the code bytes copied to
 * REALMODE_CODE_GPA, one vCPU with CS.base = 0 and IP at the code.
 */
struct kvm_vm *vm_create_realmode(struct kvm_vcpu **vcpu, const void *code,
				  size_t len);
/* Point an existing vCPU at real-mode code at @gpa (CS = 0). */
void vcpu_setup_realmode(struct kvm_vcpu *vcpu, uint64_t gpa);
/* A flat 4 GiB 32-bit segment (code: type 0xb, data: 0x3) at @base. */
void seg_flat32(struct kvm_segment *s, uint16_t sel, uint8_t type,
		uint64_t base);
/* KVM_CREATE_VCPU + mmap of kvm_run, no state set up (asserts). */
struct kvm_vcpu *vm_vcpu_add_raw(struct kvm_vm *vm, uint32_t id);
/* Raw KVM_CREATE_VCPU: returns the fd or -1 with errno. */
int __vm_create_vcpu(struct kvm_vm *vm, unsigned long id);

/* Closes and frees whatever the test has not closed itself. */
void vcpu_free(struct kvm_vcpu *vcpu);
void kvm_vm_free(struct kvm_vm *vm);

int vm_check_cap(struct kvm_vm *vm, long cap);

/* ---- memory ---- */

/* Raw KVM_SET_USER_MEMORY_REGION: returns 0 or -1 with errno. */
int __vm_set_user_memory_region(struct kvm_vm *vm, uint32_t slot,
				uint32_t flags, uint64_t gpa, uint64_t size,
				void *hva);
/* Map anonymous memory and register it as @slot; returns the host address. */
void *vm_mem_region_add(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			uint64_t size, uint32_t flags);
/* As vm_mem_region_add(), and identity map it in the guest page tables. */
void *vm_mem_region_add_mapped(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			       uint64_t size, uint32_t flags);
void vm_mem_region_move(struct kvm_vm *vm, uint32_t slot, uint64_t new_gpa);
void vm_mem_region_delete(struct kvm_vm *vm, uint32_t slot);
struct userspace_mem_region *vm_mem_region_find(struct kvm_vm *vm,
						uint32_t slot);

/* Map [gva, gva + size) to [gpa, gpa + size) with 4 KiB pages. */
void virt_map(struct kvm_vm *vm, uint64_t gva, uint64_t gpa, uint64_t size);
uint64_t addr_gva2gpa(struct kvm_vm *vm, uint64_t gva);
void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa);
void *addr_gva2hva(struct kvm_vm *vm, uint64_t gva);

/* Copy a global of this binary into / out of the guest's copy of it. */
#define sync_global_to_guest(vm, g)					\
	memcpy(addr_gva2hva(vm, (uint64_t)(uintptr_t)&(g)), &(g), sizeof(g))
#define sync_global_from_guest(vm, g)					\
	memcpy(&(g), addr_gva2hva(vm, (uint64_t)(uintptr_t)&(g)), sizeof(g))

/* Guest exception handlers: called with the interrupted state, may edit it. */
typedef void (*guest_exception_handler_t)(struct ex_regs *regs);
void vm_install_exception_handler(struct kvm_vm *vm, int vector,
				  guest_exception_handler_t handler);

/* ---- vCPU state and running ---- */

void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
void vcpu_regs_set(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
void vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
/* Raw KVM_SET_SREGS: returns 0 or -1 with errno. */
int __vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
/* Set the first @n integer arguments (rdi, rsi, rdx, rcx) of guest_code. */
void vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n, ...);

/* Raw KVM_RUN: returns the ioctl result (errno set on -1). */
int __vcpu_run(struct kvm_vcpu *vcpu);
/* KVM_RUN that must return 0. */
void vcpu_run(struct kvm_vcpu *vcpu);
/*
 * Raw KVM_RUN with a watchdog: after @ms, signal @signo (whose handler the
 * caller installed) ends it with -1/EINTR.
 */
int vcpu_run_timed(struct kvm_vcpu *vcpu, unsigned int ms, int signo);
/*
 * KVM_RUN that must end with an exit within @ms (SIGUSR1 as the watchdog):
 * otherwise the test fails with the guest's RIP and control registers.
 */
void vcpu_run_watchdog(struct kvm_vcpu *vcpu, unsigned int ms);

const char *exit_reason_str(uint32_t reason);

#define TEST_ASSERT_KVM_EXIT_REASON(vcpu, expected)			\
do {									\
	uint32_t __er = (vcpu)->run->exit_reason;			\
	TEST_ASSERT(__er == (uint32_t)(expected),			\
		    "vCPU %u: wanted exit reason %u (%s), got %u (%s)%s",	\
		    (vcpu)->id, (uint32_t)(expected),			\
		    exit_reason_str(expected), __er, exit_reason_str(__er), \
		    exit_details((vcpu)));				\
} while (0)

/* A description of the last exit (port, address, ...) for messages. */
const char *exit_details(struct kvm_vcpu *vcpu);

/* Pointer to the data of a KVM_EXIT_IO exit. */
static inline void *vcpu_io_data(struct kvm_vcpu *vcpu)
{
	return (uint8_t *)vcpu->run + vcpu->run->io.data_offset;
}

/* ---- ucalls (host side) ---- */

/*
 * If the last exit is a ucall, copy it into @uc and return its command,
 * else return UCALL_NONE.
 */
uint64_t get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc);
/* Text describing a UCALL_ABORT / UCALL_EXCEPTION (static buffer). */
const char *ucall_describe(struct ucall *uc);
/*
 * Run once and require a ucall exit.  A guest assertion or unhandled guest
 * exception fails the test with its file/line or vector and RIP.  Returns
 * UCALL_SYNC, UCALL_DONE or UCALL_PRINT (a PRINT is also printed).
 */
uint64_t vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc);
/* Run, require GUEST_SYNC(val). */
void vcpu_expect_sync(struct kvm_vcpu *vcpu, uint64_t val);
/* The same, keeping the ucall (its other arguments) in @uc. */
void vcpu_run_sync(struct kvm_vcpu *vcpu, struct ucall *uc, uint64_t val);
/* Run, require GUEST_DONE(). */
void vcpu_expect_done(struct kvm_vcpu *vcpu);

/* ---- guest-side helpers provided by the library ---- */

/* Entry stubs of the IDT (lib/guest_entry.S), 16 bytes apart. */
extern char guest_idt_stubs[];
/* Where a guest function returns to: issues GUEST_DONE(). */
extern char guest_return_trap[];
/* Per-vector handlers; the guest's copy is written by the host. */
extern guest_exception_handler_t guest_exception_handlers[256];

#endif /* XKVM_SELFTEST_UTIL_H */
