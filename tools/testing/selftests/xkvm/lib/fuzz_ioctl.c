// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ioctl.c - random but structured ioctl sequences on system, VM and
 * vCPU fds (the "ioctls" test of fuzz_test.c).
 *
 * A round owns a small world: a few system fds, VMs, vCPUs (with their
 * kvm_run mappings) and anonymous host mappings that memory slots point
 * into.  Each operation picks an object and does something to it, valid or
 * not: creation with odd arguments (VM types, duplicate and huge vCPU ids),
 * memory slots with random slot/flags/gpa/size/hva (overlaps, moves,
 * deletes, unaligned, huge, unmapped or read-only or kernel hva), the
 * vCPU state ioctls, a few bounded KVM_RUNs of whatever state that left,
 * random ioctl numbers on every fd kind, mmaps of the vCPU fd at random
 * offsets, munmap/madvise/mprotect of slot memory, and closes.  The round
 * ends by closing everything in a random order.
 *
 * Single-threaded: the world belongs to the round's thread.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "xkvm_util.h"

#define W_SYS			3
#define W_VMS			3
#define W_VCPUS			8
#define W_MAPS			6
#define W_REGIONS		8	/* accepted slots remembered per VM */

struct w_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

struct w_map {
	uint8_t *p;
	size_t size;
};

struct world {
	int sys[W_SYS];
	int vm[W_VMS];
	struct kvm_userspace_memory_region regions[W_VMS][W_REGIONS];
	struct w_vcpu vcpu[W_VCPUS];
	struct w_map map[W_MAPS];
	uint8_t *ro;			/* a read-only page */
	int pipe[2];			/* probes user addresses */
};

/* An index of a used (@used) or free entry of @fds, or -1. */
static int pick_fd(struct fz_rng *r, const int *fds, int n, bool used)
{
	int i, start = fz_below(r, n);

	for (i = 0; i < n; i++) {
		int j = (start + i) % n;

		if ((fds[j] >= 0) == used)
			return j;
	}
	return -1;
}

static int pick_vcpu(struct fz_rng *r, struct world *w, bool used)
{
	int fds[W_VCPUS], i;

	for (i = 0; i < W_VCPUS; i++)
		fds[i] = w->vcpu[i].fd;
	return pick_fd(r, fds, W_VCPUS, used);
}

/* Any fd of the world (or -1): the kernel must cope with the wrong kind. */
static int any_fd(struct fz_rng *r, struct world *w)
{
	int i;

	switch (fz_below(r, 4)) {
	case 0:
		i = pick_fd(r, w->sys, W_SYS, true);
		return i < 0 ? -1 : w->sys[i];
	case 1:
		i = pick_fd(r, w->vm, W_VMS, true);
		return i < 0 ? -1 : w->vm[i];
	default:
		i = pick_vcpu(r, w, true);
		return i < 0 ? -1 : w->vcpu[i].fd;
	}
}

static int sys_fd(struct fz_ctx *c, struct world *w)
{
	int i = pick_fd(&c->rng, w->sys, W_SYS, true);

	return i < 0 ? -1 : w->sys[i];
}

/* ---- system fd ---- */

static void op_open(struct fz_ctx *c, struct world *w)
{
	int i = pick_fd(&c->rng, w->sys, W_SYS, false);

	if (i < 0)
		return;
	fz_op(c, "open %s", xkvm_dev_path());
	w->sys[i] = open(xkvm_dev_path(), O_RDWR | O_CLOEXEC);
}

static void op_sys_ioctl(struct fz_ctx *c, struct world *w)
{
	int fd = sys_fd(c, w);
	unsigned long arg;
	int r;

	if (fd < 0)
		return;
	switch (fz_below(&c->rng, 8)) {
	case 0:
		arg = fz_chance(&c->rng, 80) ? 0 : fz_interesting(&c->rng);
		fz_op(c, "KVM_GET_API_VERSION arg 0x%lx", arg);
		r = ioctl(fd, KVM_GET_API_VERSION, arg);
		if (!arg)
			FZ_CHECK(c, r == KVM_API_VERSION, "returned %d", r);
		break;
	case 1:
	case 2:
		arg = fz_chance(&c->rng, 70) ? fz_below(&c->rng, 260) :
					       fz_interesting(&c->rng);
		fz_op(c, "KVM_CHECK_EXTENSION %lu", arg);
		r = ioctl(fd, KVM_CHECK_EXTENSION, arg);
		FZ_CHECK(c, r >= 0, "KVM_CHECK_EXTENSION(%lu) returned %d", arg, r);
		break;
	case 3:
		arg = fz_chance(&c->rng, 80) ? 0 : fz_interesting(&c->rng);
		fz_op(c, "KVM_GET_VCPU_MMAP_SIZE arg 0x%lx", arg);
		r = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, arg);
		FZ_CHECK(c, r == -1 || r >= 4096, "returned %d", r);
		break;
	case 4:
		fz_cpuid_get(c, fd, fz_chance(&c->rng, 70) ? KVM_GET_SUPPORTED_CPUID :
			     KVM_GET_EMULATED_CPUID, "KVM_GET_SUPPORTED/EMULATED_CPUID");
		break;
	case 5: {
		struct { struct kvm_msr_list l; uint32_t idx[1024]; } list;
		struct kvm_msr_list *res;
		uint32_t n = fz_chance(&c->rng, 80) ? fz_below(&c->rng, 300) :
						      fz_interesting(&c->rng);
		unsigned long cmd = fz_chance(&c->rng, 50) ? KVM_GET_MSR_INDEX_LIST :
							     KVM_GET_MSR_FEATURE_INDEX_LIST;
		struct fz_arg a;
		void *p;

		list.l.nmsrs = n;
		fz_op(c, "KVM_GET_MSR_(FEATURE_)INDEX_LIST nmsrs %u", n);
		p = fz_arg_prep(c, &a, &list.l, sizeof(list.l),
				sizeof(list.l) + 4 * (n < 1024 ? n : 1024), 8);
		r = ioctl(fd, cmd, p);
		fz_arg_check(c, &a, "KVM_GET_MSR_INDEX_LIST");
		res = fz_arg_result(&a);
		if (!r && res)
			FZ_CHECK(c, res->nmsrs <= n, "nmsrs %u in a list of %u",
				 res->nmsrs, n);
		break;
	}
	case 6:
		fz_msrs_ioctl(c, fd, false);	/* feature MSRs */
		break;
	default:
		fz_random_ioctl(c, fd);
		break;
	}
}

static void op_create_vm(struct fz_ctx *c, struct world *w)
{
	int fd = sys_fd(c, w), i = pick_fd(&c->rng, w->vm, W_VMS, false);
	unsigned long type = 0;
	int r;

	if (fd < 0)
		return;
	if (fz_chance(&c->rng, 15))
		type = fz_chance(&c->rng, 50) ? fz_below(&c->rng, 8) :
						fz_interesting(&c->rng);
	fz_op(c, "KVM_CREATE_VM type 0x%lx", type);
	r = ioctl(fd, KVM_CREATE_VM, type);
	if (r < 0)
		return;
	FZ_CHECK(c, fz_is_kvm_fd(r), "KVM_CREATE_VM returned %d, not a KVM fd", r);
	fz_count(FZ_ST_VM);
	if (i < 0) {
		close(r);
		return;
	}
	w->vm[i] = r;
	memset(w->regions[i], 0, sizeof(w->regions[i]));
}

/* ---- VM fd ---- */

/* A vCPU of VM @v with @id in a free entry, its kvm_run mapped mostly. */
static void create_vcpu(struct fz_ctx *c, struct world *w, int v,
			unsigned long id)
{
	int i = pick_vcpu(&c->rng, w, false);
	int r, size;

	fz_op(c, "KVM_CREATE_VCPU vm fd %d id %lu", w->vm[v], id);
	r = ioctl(w->vm[v], KVM_CREATE_VCPU, id);
	if (r < 0)
		return;
	FZ_CHECK(c, fz_is_kvm_fd(r), "KVM_CREATE_VCPU returned %d, not a KVM fd",
		 r);
	fz_count(FZ_ST_VCPU);
	if (i < 0) {
		close(r);
		return;
	}
	w->vcpu[i].fd = r;
	w->vcpu[i].run = NULL;
	fz_tr_fixup(c->cfg, r);
	size = sys_fd(c, w) >= 0 ? ioctl(sys_fd(c, w), KVM_GET_VCPU_MMAP_SIZE, 0) : -1;
	if (size < 4096 || fz_chance(&c->rng, 10))
		return;
	w->vcpu[i].run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      r, 0);
	if (w->vcpu[i].run == MAP_FAILED)
		w->vcpu[i].run = NULL;
	else
		w->vcpu[i].run_size = size;
}

static void op_create_vcpu(struct fz_ctx *c, struct world *w)
{
	int v = pick_fd(&c->rng, w->vm, W_VMS, true);
	unsigned long id;

	if (v < 0)
		return;
	switch (fz_below(&c->rng, 10)) {
	case 0:
		id = fz_interesting(&c->rng);
		break;
	case 1:
		id = fz_below(&c->rng, 5000);
		break;
	default:
		id = fz_below(&c->rng, 4);	/* duplicates too */
		break;
	}
	create_vcpu(c, w, v, id);
}

/* A guest-physical address for a slot: low, MMIO-ish, high, unaligned. */
static uint64_t slot_gpa(struct fz_rng *r)
{
	uint64_t gpa;

	switch (fz_below(r, 8)) {
	case 0:
		gpa = 0;
		break;
	case 1:
		gpa = fz_below(r, 64) << 20;
		break;
	case 2:
		gpa = 0xfee00000ULL - (fz_below(r, 4) << 20);
		break;
	case 3:
		gpa = 1ULL << (32 + fz_below(r, 20));
		break;
	case 4:
		gpa = fz_interesting(r);
		break;
	default:
		gpa = fz_below(r, 4096) << 12;
		break;
	}
	if (fz_chance(r, 5))
		gpa += 1 + fz_below(r, 4095);
	return gpa;
}

/*
 * A host address for a slot of *@size bytes: mostly inside one of the
 * world's mappings (*@size trimmed to fit, at times), else unmapped,
 * read-only, NULL, kernel or random.
 */
static uint64_t slot_hva(struct fz_ctx *c, struct world *w, __u64 *size)
{
	struct fz_rng *r = &c->rng;
	struct w_map *m = &w->map[fz_below(r, W_MAPS)];
	uint64_t off;

	switch (fz_below(r, 20)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)(uintptr_t)c->arg.hole;
	case 2:
		return (uint64_t)(uintptr_t)w->ro;
	case 3:
		return 0xffff800000000000ULL + (fz_below(r, 256) << 12);
	case 4:
		return fz_interesting(r) & ~0xfffULL;
	default:
		break;
	}
	if (!m->p)
		return (uint64_t)(uintptr_t)c->arg.hole;
	off = fz_below(r, m->size / PAGE_SIZE) * PAGE_SIZE;
	if (fz_chance(r, 80) && *size > m->size - off)
		*size = m->size - off;	/* mostly within the mapping */
	if (fz_chance(r, 5))
		off += 1 + fz_below(r, 4095);
	return (uint64_t)(uintptr_t)m->p + off;
}

/* Guests on shadow page tables (read once: the module does not change). */
static bool fz_shadow_paging(void)
{
	static int shadow = -1;

	if (shadow < 0)
		shadow = xkvm_shadow_paging();
	return shadow;
}

static void op_memslot(struct fz_ctx *c, struct world *w)
{
	struct fz_rng *r = &c->rng;
	int v = pick_fd(r, w->vm, W_VMS, true);
	struct kvm_userspace_memory_region reg, *old;
	struct fz_arg a;
	void *p;
	int ret;

	if (v < 0)
		return;
	old = &w->regions[v][fz_below(r, W_REGIONS)];
	if (old->memory_size && fz_chance(r, 40)) {
		/* Move, delete, or change the flags of an existing slot. */
		reg = *old;
		switch (fz_below(r, 3)) {
		case 0:
			reg.guest_phys_addr = slot_gpa(r);
			break;
		case 1:
			reg.memory_size = 0;
			break;
		default:
			reg.flags ^= 1u << fz_below(r, 3);
			break;
		}
	} else {
		memset(&reg, 0, sizeof(reg));
		reg.slot = fz_below(r, 8);
		if (fz_chance(r, 15))
			reg.slot = fz_chance(r, 50) ? fz_below(r, 600) :
						      fz_interesting(r);
		if (fz_chance(r, 5))
			reg.slot |= 1u << 16;	/* address space 1 (SMM) */
		if (fz_chance(r, 20))
			reg.flags = KVM_MEM_READONLY;
		else if (fz_chance(r, 10))
			reg.flags = KVM_MEM_LOG_DIRTY_PAGES;
		else if (fz_chance(r, 8))
			reg.flags = fz_rand32(r) & (fz_chance(r, 50) ? 0xf : ~0u);
		reg.guest_phys_addr = slot_gpa(r);
		switch (fz_below(r, 10)) {
		case 0:
			reg.memory_size = 0;
			break;
		case 1:
			/* Huge: KVM's per-slot metadata grows with it. */
			reg.memory_size = 1ULL << (30 + fz_below(r, 14));
			break;
		case 2:
			reg.memory_size = fz_interesting(r);
			break;
		default:
			reg.memory_size = (1 + fz_below(r, 512)) * PAGE_SIZE;
			break;
		}
		if (fz_chance(r, 4))
			reg.memory_size += 1 + fz_below(r, 4095);
		reg.userspace_addr = slot_hva(c, w, &reg.memory_size);
	}
	/*
	 * A dirty bitmap is allocated for the whole slot: stay at sizes a
	 * 1 GiB machine can allocate, or the allocator warns (with a
	 * "Call Trace") on stock KVM too.
	 */
	if ((reg.flags & KVM_MEM_LOG_DIRTY_PAGES) && reg.memory_size > (1ULL << 30))
		reg.flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
	/* with shadow paging stock KVM allocates reverse maps as large */
	if (fz_shadow_paging() && reg.memory_size > (16ULL << 30))
		reg.memory_size = (16ULL << 30) | (reg.memory_size & 0xfff);
	fz_op(c, "KVM_SET_USER_MEMORY_REGION vm %d slot 0x%x flags 0x%x gpa 0x%llx size 0x%llx hva 0x%llx",
	      w->vm[v], reg.slot, reg.flags,
	      (unsigned long long)reg.guest_phys_addr,
	      (unsigned long long)reg.memory_size,
	      (unsigned long long)reg.userspace_addr);
	p = fz_arg_prep(c, &a, &reg, sizeof(reg), sizeof(reg), 5);
	ret = ioctl(w->vm[v], KVM_SET_USER_MEMORY_REGION, p);
	if (ret || a.kind != FZ_PTR_GOOD)
		return;
	fz_count(FZ_ST_SLOT);
	if (reg.memory_size)
		*old = reg;
	else
		memset(old, 0, sizeof(*old));
}

/* ---- host memory the slots point into ---- */

static void op_hostmem(struct fz_ctx *c, struct world *w)
{
	struct fz_rng *r = &c->rng;
	struct w_map *m = &w->map[fz_below(r, W_MAPS)];
	size_t off, len;

	if (!m->p) {
		m->size = (1 + fz_below(r, 256)) * PAGE_SIZE;
		fz_op(c, "mmap %zu bytes", m->size);
		m->p = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m->p == MAP_FAILED)
			m->p = NULL;
		return;
	}
	off = fz_below(r, m->size / PAGE_SIZE) * PAGE_SIZE;
	len = (1 + fz_below(r, (m->size - off) / PAGE_SIZE)) * PAGE_SIZE;
	switch (fz_below(r, 4)) {
	case 0:
		/* Slots may still point here: KVM must cope. */
		fz_op(c, "munmap %p+%zu", m->p, m->size);
		munmap(m->p, m->size);
		m->p = NULL;
		break;
	case 1:
		fz_op(c, "madvise DONTNEED %p+%zu", m->p + off, len);
		madvise(m->p + off, len, MADV_DONTNEED);
		break;
	case 2:
		fz_op(c, "mprotect %p+%zu", m->p + off, len);
		mprotect(m->p + off, len, fz_chance(r, 50) ? PROT_READ : PROT_NONE);
		break;
	default:
		fz_op(c, "mprotect rw %p+%zu", m->p, m->size);
		mprotect(m->p, m->size, PROT_READ | PROT_WRITE);
		memset(m->p + off, fz_rand32(r), len);
		break;
	}
}

/* ---- VM fd ioctls other than slots and vCPUs ---- */

static void op_vm_ioctl(struct fz_ctx *c, struct world *w)
{
	int v = pick_fd(&c->rng, w->vm, W_VMS, true);
	unsigned long arg = fz_interesting(&c->rng);
	int fd, r;

	if (v < 0)
		return;
	fd = w->vm[v];
	switch (fz_below(&c->rng, 6)) {
	case 0:
		arg = fz_chance(&c->rng, 70) ? fz_below(&c->rng, 260) : arg;
		fz_op(c, "KVM_CHECK_EXTENSION vm fd %d %lu", fd, arg);
		r = ioctl(fd, KVM_CHECK_EXTENSION, arg);
		FZ_CHECK(c, r >= 0, "KVM_CHECK_EXTENSION(%lu) returned %d", arg, r);
		break;
	case 1:
		if (fz_chance(&c->rng, 50))
			arg = 0xfffbd000 - (fz_below(&c->rng, 16) << 12);
		fz_op(c, "KVM_SET_TSS_ADDR vm fd %d 0x%lx", fd, arg);
		ioctl(fd, KVM_SET_TSS_ADDR, arg);
		break;
	case 2: {
		uint64_t addr = fz_chance(&c->rng, 50) ? 0xfeffc000 : arg;
		struct fz_arg a;
		void *p;

		fz_op(c, "KVM_SET_IDENTITY_MAP_ADDR vm fd %d 0x%llx", fd,
		      (unsigned long long)addr);
		p = fz_arg_prep(c, &a, &addr, sizeof(addr), sizeof(addr), 10);
		ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, p);
		break;
	}
	default:
		fz_random_ioctl(c, fd);
		break;
	}
}

/* ---- vCPU fd ---- */

static void op_vcpu_run(struct fz_ctx *c, struct world *w)
{
	int i = pick_vcpu(&c->rng, w, true), n;

	if (i < 0)
		return;
	for (n = 1 + fz_below(&c->rng, 3); n > 0; n--) {
		enum fz_run_result res;

		fz_op(c, "KVM_RUN vcpu fd %d", w->vcpu[i].fd);
		res = fz_run_once(c, w->vcpu[i].fd, w->vcpu[i].run,
				  w->vcpu[i].run_size);
		if (res == FZ_RUN_RESET)	/* KVM may have reset the vCPU */
			fz_tr_fixup(c->cfg, w->vcpu[i].fd);
		if (res != FZ_RUN_AGAIN)
			break;
	}
}

/*
 * mmap of a vCPU fd at a random offset and size (KVM maps kvm_run, the
 * PIO page, the coalesced-MMIO ring, the dirty ring), read through a pipe
 * write so that a page the kernel refuses is EFAULT, not SIGBUS.
 */
static void op_vcpu_mmap(struct fz_ctx *c, struct world *w)
{
	int i = pick_vcpu(&c->rng, w, true);
	size_t size = (1 + fz_below(&c->rng, 4)) * PAGE_SIZE, off;
	off_t pgoff = fz_chance(&c->rng, 70) ? fz_below(&c->rng, 4) :
					       fz_interesting(&c->rng) & 0xffff;
	uint8_t *p;

	if (i < 0)
		return;
	fz_op(c, "mmap vcpu fd %d pgoff 0x%llx size %zu", w->vcpu[i].fd,
	      (unsigned long long)pgoff, size);
	p = mmap(NULL, size, fz_chance(&c->rng, 80) ? PROT_READ | PROT_WRITE : PROT_READ,
		 fz_chance(&c->rng, 90) ? MAP_SHARED : MAP_PRIVATE,
		 w->vcpu[i].fd, pgoff * PAGE_SIZE);
	if (p == MAP_FAILED)
		return;
	for (off = 0; off < size; off += PAGE_SIZE)
		if (write(w->pipe[1], p + off, 1) == 1 &&
		    read(w->pipe[0], &pgoff, 1) != 1)
			break;
	munmap(p, size);
}

static void op_vcpu_ioctl(struct fz_ctx *c, struct world *w)
{
	int i = pick_vcpu(&c->rng, w, true);

	if (i < 0)
		return;
	if (fz_chance(&c->rng, 85))
		fz_vcpu_state_ioctl(c, w->vcpu[i].fd, sys_fd(c, w));
	else
		fz_random_ioctl(c, w->vcpu[i].fd);
}

/* ---- closing ---- */

static void close_vcpu(struct world *w, int i)
{
	if (w->vcpu[i].run)
		munmap(w->vcpu[i].run, w->vcpu[i].run_size);
	if (w->vcpu[i].fd >= 0)
		close(w->vcpu[i].fd);
	w->vcpu[i].fd = -1;
	w->vcpu[i].run = NULL;
}

static void op_close(struct fz_ctx *c, struct world *w)
{
	int i;

	switch (fz_below(&c->rng, 3)) {
	case 0:
		i = pick_fd(&c->rng, w->sys, W_SYS, true);
		if (i < 0)
			return;
		fz_op(c, "close system fd %d", w->sys[i]);
		close(w->sys[i]);
		w->sys[i] = -1;
		break;
	case 1:
		i = pick_fd(&c->rng, w->vm, W_VMS, true);
		if (i < 0)
			return;
		fz_op(c, "close VM fd %d", w->vm[i]);
		close(w->vm[i]);	/* its vCPUs keep it alive */
		w->vm[i] = -1;
		break;
	default:
		i = pick_vcpu(&c->rng, w, true);
		if (i < 0)
			return;
		fz_op(c, "close vCPU fd %d", w->vcpu[i].fd);
		close_vcpu(w, i);
		break;
	}
}

/* Everything, in a random order of the three kinds. */
static void world_teardown(struct fz_ctx *c, struct world *w)
{
	int order = fz_below(&c->rng, 3), k, i;

	fz_op(c, "teardown");
	for (k = 0; k < 3; k++) {
		switch ((order + k) % 3) {
		case 0:
			for (i = 0; i < W_SYS; i++)
				if (w->sys[i] >= 0)
					close(w->sys[i]);
			break;
		case 1:
			for (i = 0; i < W_VMS; i++)
				if (w->vm[i] >= 0)
					close(w->vm[i]);
			break;
		default:
			for (i = 0; i < W_VCPUS; i++)
				close_vcpu(w, i);
			break;
		}
	}
	for (i = 0; i < W_MAPS; i++)
		if (w->map[i].p)
			munmap(w->map[i].p, w->map[i].size);
	munmap(w->ro, PAGE_SIZE);
	close(w->pipe[0]);
	close(w->pipe[1]);
}

static void world_init(struct fz_ctx *c, struct world *w)
{
	int i;

	memset(w, 0, sizeof(*w));
	for (i = 0; i < W_SYS; i++)
		w->sys[i] = -1;
	for (i = 0; i < W_VMS; i++)
		w->vm[i] = -1;
	for (i = 0; i < W_VCPUS; i++)
		w->vcpu[i].fd = -1;
	w->ro = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	TEST_ASSERT(w->ro != MAP_FAILED, "mmap failed");
	TEST_ASSERT(!pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK), "pipe2 failed");
	/* A VM with a vCPU to start with: most operations need one. */
	w->sys[0] = kvm_open_dev();
	fz_op(c, "KVM_CREATE_VM");
	w->vm[0] = ioctl(w->sys[0], KVM_CREATE_VM, 0);
	if (w->vm[0] >= 0) {
		FZ_CHECK(c, fz_is_kvm_fd(w->vm[0]), "KVM_CREATE_VM returned %d",
			 w->vm[0]);
		fz_count(FZ_ST_VM);
		create_vcpu(c, w, 0, 0);
	}
}

void fz_ioctl_round(struct fz_ctx *c, unsigned int nops)
{
	static const unsigned int weights[] = {
		2,	/* open */
		8,	/* system ioctls */
		5,	/* create VM */
		7,	/* create vCPU */
		12,	/* memory slots */
		5,	/* host memory */
		6,	/* VM ioctls */
		25,	/* vCPU ioctls */
		6,	/* KVM_RUN */
		2,	/* mmap of a vCPU fd */
		3,	/* close */
	};
	struct fz_kicker kick = { 0 };
	struct fz_fdset fds;
	struct world w;
	unsigned int i;

	fz_fdset_snap(&fds);
	world_init(c, &w);
	fz_kicker_start(&kick, 2000);
	for (i = 0; i < nops; i++) {
		fz_count(FZ_ST_IOCTL);
		switch (fz_weighted(&c->rng, weights, ARRAY_SIZE(weights))) {
		case 0:
			op_open(c, &w);
			break;
		case 1:
			op_sys_ioctl(c, &w);
			break;
		case 2:
			op_create_vm(c, &w);
			break;
		case 3:
			op_create_vcpu(c, &w);
			break;
		case 4:
			op_memslot(c, &w);
			break;
		case 5:
			op_hostmem(c, &w);
			break;
		case 6:
			op_vm_ioctl(c, &w);
			break;
		case 7:
			op_vcpu_ioctl(c, &w);
			break;
		case 8:
			op_vcpu_run(c, &w);
			break;
		case 9:
			op_vcpu_mmap(c, &w);
			break;
		default:
			op_close(c, &w);
			break;
		}
		/* Now and then a wrong-kind fd gets any ioctl. */
		if (fz_chance(&c->rng, 3)) {
			int fd = any_fd(&c->rng, &w);

			if (fd >= 0)
				fz_random_ioctl(c, fd);
		}
	}
	fz_kicker_stop(&kick);
	world_teardown(c, &w);
	/* fds that random ioctls created (VMs, vCPUs, devices, stats). */
	fz_fdset_close_new(&fds);
}
