// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_util.c - host side of the selftest library: device, VMs, vCPUs,
 * memory slots, running and exit reporting.
 *
 * Owns the struct kvm_vm / struct kvm_vcpu objects and their file
 * descriptors and mappings.  Guest-architecture setup (page tables,
 * descriptor tables, ELF loading, register state) lives in processor.c.
 * Every failure of a request the test did not mean to fail ends the test
 * through TEST_ASSERT() with errno and the ioctl named.
 */
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xkvm_util.h"

void __test_assert(const char *file, int line, const char *expr,
		   const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fflush(stdout);
	fprintf(stderr, "# ==== Test assertion failure ====\n");
	fprintf(stderr, "#   %s:%d: %s\n", file, line, expr);
	fprintf(stderr, "#   errno: %d (%s)\n#   ", err, strerror(err));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	exit(1);
}

/* ---- environment ---- */

const char *xkvm_dev_path(void)
{
	const char *dev = getenv("XKVM_DEV");

	return dev && *dev ? dev : "/dev/xkvm";
}

bool xkvm_reference_mode(void)
{
	const char *mode = getenv("XKVM_MODE");

	return mode && !strcmp(mode, "reference");
}

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *xkvm_core_module(void)
{
	return env_or_null("XKVM_CORE_MODULE");
}

const char *xkvm_vendor_module(void)
{
	return env_or_null("XKVM_VENDOR_MODULE");
}

bool xkvm_vendor_is_amd(void)
{
	const char *m = xkvm_vendor_module();
	size_t len = m ? strlen(m) : 0;

	return len >= 4 && !strcmp(m + len - 4, "_amd");
}

bool xkvm_vendor_param_off(const char *param)
{
	const char *mod = xkvm_vendor_module();
	char path[128], c = 0;
	FILE *f;

	if (!mod)
		return false;
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", mod,
		 param);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == 'N' || c == '0';
}

bool xkvm_shadow_paging(void)
{
	return xkvm_vendor_param_off(xkvm_vendor_is_amd() ? "npt" : "ept");
}

/* ---- system fd ---- */

int kvm_open_dev(void)
{
	const char *path = xkvm_dev_path();
	int fd = open(path, O_RDWR | O_CLOEXEC);

	TEST_ASSERT(fd >= 0, "open(%s) failed (XKVM_DEV selects the device)",
		    path);
	return fd;
}

int kvm_check_cap(long cap)
{
	int fd = kvm_open_dev();
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	TEST_ASSERT(r >= 0, "KVM_CHECK_EXTENSION(%ld) on the system fd failed",
		    cap);
	close(fd);
	return r;
}

int vm_check_cap(struct kvm_vm *vm, long cap)
{
	int r = ioctl(vm->fd, KVM_CHECK_EXTENSION, cap);

	TEST_ASSERT(r >= 0, "KVM_CHECK_EXTENSION(%ld) on the VM fd failed", cap);
	return r;
}

/* ---- VMs ---- */

struct kvm_vm *vm_create_barebones(void)
{
	struct kvm_vm *vm = calloc(1, sizeof(*vm));
	int api;

	TEST_ASSERT(vm, "out of memory");
	vm->kvm_fd = kvm_open_dev();
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	TEST_ASSERT(api == KVM_API_VERSION,
		    "KVM_GET_API_VERSION returned %d, wanted %d", api,
		    KVM_API_VERSION);
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	TEST_ASSERT(vm->fd >= 0, "KVM_CREATE_VM failed");
	vm->mode = VM_MODE_NONE;
	return vm;
}

void vcpu_free(struct kvm_vcpu *vcpu)
{
	struct kvm_vm *vm = vcpu->vm;
	unsigned int i;

	if (vcpu->run) {
		TEST_ASSERT(!munmap(vcpu->run, vcpu->run_size),
			    "munmap of vCPU %u's kvm_run failed", vcpu->id);
		vcpu->run = NULL;
	}
	if (vcpu->fd >= 0) {
		TEST_ASSERT(!close(vcpu->fd), "close of vCPU %u's fd failed",
			    vcpu->id);
		vcpu->fd = -1;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i] == vcpu) {
			vm->vcpus[i] = vm->vcpus[--vm->nr_vcpus];
			break;
		}
	}
	free(vcpu);
}

void kvm_vm_free(struct kvm_vm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	while (vm->nr_vcpus)
		vcpu_free(vm->vcpus[vm->nr_vcpus - 1]);
	if (vm->fd >= 0)
		TEST_ASSERT(!close(vm->fd), "close of the VM fd failed");
	if (vm->kvm_fd >= 0)
		TEST_ASSERT(!close(vm->kvm_fd), "close of the system fd failed");
	/* The VM is gone, so its memory can go too. */
	for (i = 0; i < XKVM_MAX_MEM_REGIONS; i++) {
		struct userspace_mem_region *r = &vm->regions[i];

		if (r->in_use && r->host_mem)
			munmap(r->host_mem, r->mmap_size);
	}
	free(vm);
}

/* ---- vCPUs ---- */

int __vm_create_vcpu(struct kvm_vm *vm, unsigned long id)
{
	return ioctl(vm->fd, KVM_CREATE_VCPU, id);
}

struct kvm_vcpu *vm_vcpu_add_raw(struct kvm_vm *vm, uint32_t id)
{
	struct kvm_vcpu *vcpu;
	int size;

	TEST_ASSERT(vm->nr_vcpus < XKVM_MAX_VCPUS, "too many vCPUs for the library");
	vcpu = calloc(1, sizeof(*vcpu));
	TEST_ASSERT(vcpu, "out of memory");
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = __vm_create_vcpu(vm, id);
	TEST_ASSERT(vcpu->fd >= 0, "KVM_CREATE_VCPU(%u) failed", id);

	if (vm->kvm_fd >= 0) {
		size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	} else {
		/* The test closed the system fd: ask a fresh one. */
		int fd = kvm_open_dev();

		size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
		close(fd);
	}
	TEST_ASSERT(size >= (int)sizeof(struct kvm_run),
		    "KVM_GET_VCPU_MMAP_SIZE returned %d", size);
	vcpu->run_size = size;
	vcpu->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	TEST_ASSERT(vcpu->run != MAP_FAILED, "mmap of vCPU %u's kvm_run failed",
		    id);
	vm->vcpus[vm->nr_vcpus++] = vcpu;
	return vcpu;
}

void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_REGS, regs),
		    "KVM_GET_REGS on vCPU %u failed", vcpu->id);
}

void vcpu_regs_set(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, regs),
		    "KVM_SET_REGS on vCPU %u failed", vcpu->id);
}

void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, sregs),
		    "KVM_GET_SREGS on vCPU %u failed", vcpu->id);
}

int __vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	return ioctl(vcpu->fd, KVM_SET_SREGS, sregs);
}

void vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	TEST_ASSERT(!__vcpu_sregs_set(vcpu, sregs),
		    "KVM_SET_SREGS on vCPU %u failed", vcpu->id);
}

void vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n, ...)
{
	struct kvm_regs regs;
	va_list ap;
	unsigned int i;

	TEST_ASSERT(n <= 4, "at most 4 guest arguments, not %u", n);
	vcpu_regs_get(vcpu, &regs);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		uint64_t v = va_arg(ap, uint64_t);

		switch (i) {
		case 0:
			regs.rdi = v;
			break;
		case 1:
			regs.rsi = v;
			break;
		case 2:
			regs.rdx = v;
			break;
		case 3:
			regs.rcx = v;
			break;
		}
	}
	va_end(ap);
	vcpu_regs_set(vcpu, &regs);
}

int __vcpu_run(struct kvm_vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_RUN, NULL);
}

void vcpu_run(struct kvm_vcpu *vcpu)
{
	int r = __vcpu_run(vcpu);

	TEST_ASSERT(r == 0, "KVM_RUN on vCPU %u returned %d (exit reason %u, %s)",
		    vcpu->id, r, vcpu->run->exit_reason,
		    exit_reason_str(vcpu->run->exit_reason));
}

const char *exit_reason_str(uint32_t reason)
{
	static const char * const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
		[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
		[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "KVM_EXIT_?";
}

const char *exit_details(struct kvm_vcpu *vcpu)
{
	static char buf[512];
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	int n = 0;

	buf[0] = 0;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		n = snprintf(buf, sizeof(buf),
			     ": %s port 0x%x size %u count %u",
			     run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			     run->io.port, run->io.size, run->io.count);
		if (run->io.port == UCALL_PORT) {
			struct ucall uc;

			if (get_ucall(vcpu, &uc) != UCALL_NONE)
				n += snprintf(buf + n, sizeof(buf) - n, " (%s)",
					      ucall_describe(&uc));
		}
		break;
	case KVM_EXIT_MMIO:
		n = snprintf(buf, sizeof(buf), ": %s gpa 0x%llx len %u",
			     run->mmio.is_write ? "write" : "read",
			     (unsigned long long)run->mmio.phys_addr,
			     run->mmio.len);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		n = snprintf(buf, sizeof(buf), ": hardware reason 0x%llx",
			     (unsigned long long)
			     run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		unsigned int i, nd = run->internal.ndata;

		n = snprintf(buf, sizeof(buf), ": suberror %u data",
			     run->internal.suberror);
		if (nd > ARRAY_SIZE(run->internal.data))
			nd = ARRAY_SIZE(run->internal.data);
		for (i = 0; i < nd && n < (int)sizeof(buf) - 24; i++)
			n += snprintf(buf + n, sizeof(buf) - n, " 0x%llx",
				      (unsigned long long)run->internal.data[i]);
		break;
	}
	}
	if (vcpu->fd >= 0 && !ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		snprintf(buf + n, sizeof(buf) - n, "; rip 0x%llx",
			 (unsigned long long)regs.rip);
	return buf;
}

/* ---- memory ---- */

int __vm_set_user_memory_region(struct kvm_vm *vm, uint32_t slot,
				uint32_t flags, uint64_t gpa, uint64_t size,
				void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region);
}

struct userspace_mem_region *vm_mem_region_find(struct kvm_vm *vm,
						uint32_t slot)
{
	unsigned int i;

	for (i = 0; i < XKVM_MAX_MEM_REGIONS; i++)
		if (vm->regions[i].in_use && vm->regions[i].region.slot == slot)
			return &vm->regions[i];
	return NULL;
}

void *vm_mem_region_add(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			uint64_t size, uint32_t flags)
{
	struct userspace_mem_region *r = NULL;
	unsigned int i;
	void *mem;

	TEST_ASSERT(!vm_mem_region_find(vm, slot), "slot %u already in use", slot);
	for (i = 0; i < XKVM_MAX_MEM_REGIONS; i++) {
		if (!vm->regions[i].in_use) {
			r = &vm->regions[i];
			break;
		}
	}
	TEST_ASSERT(r, "too many memory regions for the library");

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap of %llu bytes failed",
		    (unsigned long long)size);
	TEST_ASSERT(!__vm_set_user_memory_region(vm, slot, flags, gpa, size, mem),
		    "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx flags 0x%x failed",
		    slot, (unsigned long long)gpa, (unsigned long long)size,
		    flags);

	r->in_use = true;
	r->host_mem = mem;
	r->mmap_size = size;
	r->region.slot = slot;
	r->region.flags = flags;
	r->region.guest_phys_addr = gpa;
	r->region.memory_size = size;
	r->region.userspace_addr = (uint64_t)(uintptr_t)mem;
	return mem;
}

void *vm_mem_region_add_mapped(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			       uint64_t size, uint32_t flags)
{
	void *mem = vm_mem_region_add(vm, slot, gpa, size, flags);

	virt_map(vm, gpa, gpa, size);
	return mem;
}

void vm_mem_region_move(struct kvm_vm *vm, uint32_t slot, uint64_t new_gpa)
{
	struct userspace_mem_region *r = vm_mem_region_find(vm, slot);

	TEST_ASSERT(r, "no slot %u", slot);
	TEST_ASSERT(!__vm_set_user_memory_region(vm, slot, r->region.flags,
						 new_gpa, r->region.memory_size,
						 r->host_mem),
		    "moving slot %u to gpa 0x%llx failed", slot,
		    (unsigned long long)new_gpa);
	r->region.guest_phys_addr = new_gpa;
}

void vm_mem_region_delete(struct kvm_vm *vm, uint32_t slot)
{
	struct userspace_mem_region *r = vm_mem_region_find(vm, slot);

	TEST_ASSERT(r, "no slot %u", slot);
	TEST_ASSERT(!__vm_set_user_memory_region(vm, slot, r->region.flags,
						 r->region.guest_phys_addr, 0,
						 r->host_mem),
		    "deleting slot %u failed", slot);
	munmap(r->host_mem, r->mmap_size);
	memset(r, 0, sizeof(*r));
}

void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < XKVM_MAX_MEM_REGIONS; i++) {
		struct userspace_mem_region *r = &vm->regions[i];
		uint64_t start = r->region.guest_phys_addr;

		if (r->in_use && gpa >= start &&
		    gpa - start < r->region.memory_size)
			return (uint8_t *)r->host_mem + (gpa - start);
	}
	TEST_FAIL("no memory slot holds gpa 0x%llx", (unsigned long long)gpa);
}

void *addr_gva2hva(struct kvm_vm *vm, uint64_t gva)
{
	return addr_gpa2hva(vm, addr_gva2gpa(vm, gva));
}

/*
 * KVM_RUN with a watchdog: after @ms, signal @signo (the caller installs a
 * handler for it) makes it return -1 with EINTR.  Returns like __vcpu_run.
 */
int vcpu_run_timed(struct kvm_vcpu *vcpu, unsigned int ms, int signo)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L },
	};
	struct sigevent sev;
	timer_t t;
	int r, err;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = signo;
	sev._sigev_un._tid = gettid();
	TEST_ASSERT(!timer_create(CLOCK_MONOTONIC, &sev, &t), "timer_create");
	TEST_ASSERT(!timer_settime(t, 0, &its, NULL), "timer_settime");
	r = __vcpu_run(vcpu);
	err = errno;
	timer_delete(t);
	errno = err;
	return r;
}

static void vcpu_watchdog_signal(int sig)
{
}

void vcpu_run_watchdog(struct kvm_vcpu *vcpu, unsigned int ms)
{
	struct sigaction sa = { .sa_handler = vcpu_watchdog_signal };
	struct kvm_sregs s;
	struct kvm_regs regs;
	int r;

	sigaction(SIGUSR1, &sa, NULL);
	r = vcpu_run_timed(vcpu, ms, SIGUSR1);
	if (r == -1 && errno == EINTR) {
		vcpu_regs_get(vcpu, &regs);
		vcpu_sregs_get(vcpu, &s);
		TEST_FAIL("no exit for %u ms: cs %04x rip 0x%llx rflags 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx cr2 0x%llx",
			  ms, s.cs.selector, (unsigned long long)regs.rip,
			  (unsigned long long)regs.rflags,
			  (unsigned long long)s.cr0, (unsigned long long)s.cr3,
			  (unsigned long long)s.cr4, (unsigned long long)s.cr2);
	}
	TEST_ASSERT(r == 0, "KVM_RUN returned %d (errno %d)", r, errno);
}
