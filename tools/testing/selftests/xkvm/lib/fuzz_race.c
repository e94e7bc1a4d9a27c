// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_race.c - threads racing KVM_RUN (the "races" test of fuzz_test.c).
 *
 * A round builds a VM whose guest memory lies in one reserved host range,
 * with one or two runner threads looping in KVM_RUN (a guest that writes
 * to every page of its slots, then a random program), while two racer
 * threads change the world under them:
 *   memory racer: mmap(MAP_FIXED) over guest memory, munmap and map again,
 *     mremap within the range, madvise(MADV_DONTNEED), mprotect to
 *     read-only or none and back, fork (copy-on-write of guest memory; the
 *     child's ioctls must fail), rewriting the guest's code and tables;
 *   fd racer: memory-slot delete/move/re-add/alias, closing vCPU and VM
 *     fds, new vCPUs and new VMs, KVM_CREATE_VCPU under a low
 *     RLIMIT_NOFILE, pthread_kill bursts, state ioctls and random ioctls
 *     on the running vCPU.
 *
 * Locking: race->lock protects the fd table (vm_fd, vcpu[]) and the list
 * of kvm_run mappings to unmap; runners copy an entry under the lock and
 * run without it, so a racer may close the fd under a KVM_RUN (the kernel
 * keeps the file) or see it reused.  kvm_run mappings stay mapped until
 * the round ends, so a runner never reads unmapped memory.  Only the
 * memory racer changes the reserved range's mappings.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"
#include "xkvm_util.h"

#define R_VCPUS			4
#define R_OLD_RUNS		64
#define R_RES_SIZE		(8ULL << 20)	/* slot 0, slot 1, slots 2-4 */
#define R_SLOT_MEM		(4ULL << 20)	/* slots 2-4: 1 MiB each, from here */
#define R_SLOT_GPA		0x400000ULL

struct r_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

struct race {
	const struct fz_config *cfg;
	const char *test;
	uint64_t round;
	enum fz_mode mode;
	pthread_mutex_t lock;
	int sys_fd, vm_fd, mmap_size;
	struct r_vcpu vcpu[R_VCPUS];
	struct kvm_run *old_run[R_OLD_RUNS];
	size_t old_size[R_OLD_RUNS];
	unsigned int nold, next_id;
	uint8_t *res;		/* the reserved guest memory */
	uint8_t code[512];	/* the guest program, to restore */
	size_t code_len;
	bool tainted;		/* a hole in res went to another mapping */
	bool stop;
	unsigned int nops;
};

struct r_thread {
	struct race *race;
	struct fz_ctx c;
	pthread_t tid;
	unsigned int idx;
};

/* The guest: write every page of slots 2-4, then a random program. */
static void race_code(struct race *rc, struct fz_rng *r)
{
	unsigned int flags = rc->cfg->qemu_tcg ? FZ_CODE_QEMU_TCG : 0;
	static const uint8_t toucher[] = {
		0xbb, 0x00, 0x00, 0x40, 0x00,		/* mov ebx, 0x400000 */
		0x89, 0x03,				/* 1: mov [ebx], eax */
		0x81, 0xc3, 0x00, 0x10, 0x00, 0x00,	/* add ebx, 0x1000 */
		0x81, 0xfb, 0x00, 0x00, 0x70, 0x00,	/* cmp ebx, 0x700000 */
		0x72, 0xf0,				/* jb 1b */
	};

	memcpy(rc->code, toucher, sizeof(toucher));
	rc->code_len = sizeof(toucher) +
		       fz_code_gen(r, rc->mode, rc->code + sizeof(toucher),
				   sizeof(rc->code) - sizeof(toucher), flags);
}

static void restore_guest(struct race *rc, struct fz_rng *r)
{
	fz_guest_layout(r, rc->res, !rc->cfg->qemu_tcg);
	memcpy(rc->res + FZ_G_CODE, rc->code, rc->code_len);
}

/* Slots 0-4 of @vm_fd over the reserved range; errors are fine. */
static void add_slots(struct race *rc, int vm_fd)
{
	struct kvm_userspace_memory_region reg = { 0 };
	int i;

	reg.memory_size = FZ_G_RAM_SIZE;
	reg.userspace_addr = (uintptr_t)rc->res;
	ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &reg);
	reg.slot = 1;
	reg.guest_phys_addr = FZ_G_EXTRA;
	reg.memory_size = FZ_G_EXTRA_SIZE;
	reg.userspace_addr = (uintptr_t)rc->res + FZ_G_RAM_SIZE;
	ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &reg);
	for (i = 0; i < 3; i++) {
		reg.slot = 2 + i;
		reg.guest_phys_addr = R_SLOT_GPA + (i << 20);
		reg.memory_size = 1 << 20;
		reg.userspace_addr = (uintptr_t)rc->res + R_SLOT_MEM + (i << 20);
		ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &reg);
	}
}

/* A new vCPU of the current VM in table entry @i (closed first). */
static void new_vcpu(struct fz_ctx *c, struct race *rc, int i, unsigned long id)
{
	struct r_vcpu *v = &rc->vcpu[i];
	struct kvm_run *run = NULL;
	int fd;

	pthread_mutex_lock(&rc->lock);
	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
	}
	fd = rc->vm_fd >= 0 ? ioctl(rc->vm_fd, KVM_CREATE_VCPU, id) : -1;
	if (fd >= 0) {
		FZ_CHECK(c, fz_is_kvm_fd(fd), "KVM_CREATE_VCPU returned %d", fd);
		fz_count(FZ_ST_VCPU);
		run = mmap(NULL, rc->mmap_size, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		if (run == MAP_FAILED)
			run = NULL;
		if (run && rc->nold < R_OLD_RUNS) {
			rc->old_run[rc->nold] = run;
			rc->old_size[rc->nold++] = rc->mmap_size;
		} else if (run) {
			munmap(run, rc->mmap_size);	/* no room to keep it */
			run = NULL;
		}
		fz_guest_set_mode(c, &c->rng, fd, rc->mode);
	}
	v->fd = fd;
	v->run = run;
	v->run_size = rc->mmap_size;
	pthread_mutex_unlock(&rc->lock);
}

/* ---- runners ---- */

static void *runner_fn(void *arg)
{
	struct r_thread *t = arg;
	struct race *rc = t->race;
	struct fz_kicker kick = { 0 };
	enum fz_run_result res;
	struct r_vcpu v;
	int i;

	fz_watchdog_register(&t->c);
	fz_kicker_start(&kick, 3000);
	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&rc->lock);
		v.fd = -1;
		for (i = 0; i < R_VCPUS && v.fd < 0; i++)
			v = rc->vcpu[(t->idx + i) % R_VCPUS];
		pthread_mutex_unlock(&rc->lock);
		if (v.fd < 0) {
			usleep(200);
			continue;
		}
		fz_op(&t->c, "KVM_RUN fd %d", v.fd);
		res = fz_run_once(&t->c, v.fd, v.run, v.run_size);
		if (res == FZ_RUN_END || res == FZ_RUN_RESET)
			fz_guest_set_mode(&t->c, &t->c.rng, v.fd, rc->mode);
	}
	fz_kicker_stop(&kick);
	fz_watchdog_unregister(&t->c);
	return NULL;
}

/* ---- the memory racer ---- */

/* A page-aligned range of the reservation, mostly in slots 2-4. */
static void pick_range(struct fz_rng *r, size_t *off, size_t *len)
{
	size_t base = fz_chance(r, 80) ? R_SLOT_MEM : 0;
	size_t pages = (R_RES_SIZE - base) / PAGE_SIZE;

	*off = base + fz_below(r, pages) * PAGE_SIZE;
	*len = (1 + fz_below(r, fz_chance(r, 70) ? 16 : 512)) * PAGE_SIZE;
	if (*off + *len > R_RES_SIZE)
		*len = R_RES_SIZE - *off;
}

static void fork_child(struct race *rc)
{
	struct kvm_regs regs;
	pid_t pid;
	int i;

	pid = fork();
	if (pid == 0) {
		/* Another mm: KVM refuses (EIO); nothing here may crash. */
		ioctl(rc->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
		for (i = 0; i < R_VCPUS; i++)
			if (rc->vcpu[i].fd >= 0)
				ioctl(rc->vcpu[i].fd, i & 1 ? KVM_RUN : KVM_GET_REGS,
				      &regs);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Fresh anonymous memory over [p, p + len), which is the fuzzer's. */
static void map_over(uint8_t *p, size_t len)
{
	mmap(p, len, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/*
 * Memory again in the hole [p, p + len) the racer just made; if another
 * thread's mmap() took part of it meanwhile, the range is tainted.
 */
static void fill_hole(struct race *rc, uint8_t *p, size_t len)
{
	if (mmap(p, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0) != p)
		rc->tainted = true;
}

static void mem_op(struct fz_ctx *c, struct race *rc)
{
	struct fz_rng *r = &c->rng;
	uint8_t *p;
	size_t off, len, off2;

	pick_range(r, &off, &len);
	p = rc->res + off;
	if (rc->tainted) {
		/* Another mapping may sit in the range: only harmless ops. */
		fz_op(c, "madvise DONTNEED res+0x%zx+0x%zx", off, len);
		madvise(p, len, MADV_DONTNEED);
		return;
	}
	switch (fz_below(r, 8)) {
	case 0:
		fz_op(c, "mmap MAP_FIXED res+0x%zx+0x%zx", off, len);
		map_over(p, len);
		break;
	case 1:
		fz_op(c, "munmap res+0x%zx+0x%zx", off, len);
		munmap(p, len);
		usleep(fz_below(r, 300));
		fill_hole(rc, p, len);
		break;
	case 2:
		fz_op(c, "madvise DONTNEED res+0x%zx+0x%zx", off, len);
		madvise(p, len, MADV_DONTNEED);
		break;
	case 3:
		fz_op(c, "mprotect res+0x%zx+0x%zx", off, len);
		mprotect(p, len, fz_chance(r, 50) ? PROT_READ : PROT_NONE);
		usleep(fz_below(r, 500));
		mprotect(p, len, PROT_READ | PROT_WRITE);
		break;
	case 4:
		/* Move pages within the range: the old place is a hole. */
		off2 = R_SLOT_MEM + fz_below(r, (R_RES_SIZE - R_SLOT_MEM - len) /
						PAGE_SIZE + 1) * PAGE_SIZE;
		if (off2 + len > R_RES_SIZE || (off2 < off + len && off < off2 + len))
			break;
		fz_op(c, "mremap res+0x%zx -> res+0x%zx, 0x%zx", off, off2, len);
		/* one mapping: mremap() refuses a range over two */
		map_over(p, len);
		if (mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   rc->res + off2) == MAP_FAILED) {
			/*
			 * Linux may have unmapped the destination before it
			 * failed, and another thread's mmap() may sit in that
			 * hole by now.
			 */
			rc->tainted = true;
			break;
		}
		fill_hole(rc, p, len);
		break;
	case 5:
		fz_op(c, "fork");
		fork_child(rc);
		break;
	case 6:
		fz_op(c, "rewrite the guest's code and tables");
		restore_guest(rc, r);
		break;
	default:
		fz_op(c, "dirty res+0x%zx+0x%zx", off, len);
		memset(p, fz_rand32(r), len);
		break;
	}
}

static void *mem_racer_fn(void *arg)
{
	struct r_thread *t = arg;
	struct race *rc = t->race;
	unsigned int i;

	fz_watchdog_register(&t->c);
	for (i = 0; i < rc->nops / 2; i++) {
		fz_count(FZ_ST_RACE_OP);
		mem_op(&t->c, rc);
		usleep(fz_below(&t->c.rng, 400));
	}
	fz_watchdog_unregister(&t->c);
	return NULL;
}

/* ---- the fd racer ---- */

/* KVM_CREATE_VCPU when no fd is left: KVM must undo the vCPU. */
static void create_vcpu_low_nofile(struct fz_ctx *c, struct race *rc)
{
	struct rlimit old, low;
	int fd, lowest = fz_lowest_free_fd();

	if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &old))
		return;
	low = old;
	low.rlim_cur = lowest + fz_below(&c->rng, 2);
	pthread_mutex_lock(&rc->lock);
	fz_op(c, "KVM_CREATE_VCPU with RLIMIT_NOFILE %llu",
	      (unsigned long long)low.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &low);
	fd = rc->vm_fd >= 0 ? ioctl(rc->vm_fd, KVM_CREATE_VCPU, rc->next_id++) : -1;
	setrlimit(RLIMIT_NOFILE, &old);
	pthread_mutex_unlock(&rc->lock);
	if (fd >= 0) {
		FZ_CHECK(c, fz_is_kvm_fd(fd), "KVM_CREATE_VCPU returned %d", fd);
		close(fd);
	}
}

static void slot_op(struct fz_ctx *c, struct race *rc)
{
	struct fz_rng *r = &c->rng;
	struct kvm_userspace_memory_region reg = { 0 };
	unsigned int i = fz_chance(r, 85) ? fz_below(r, 3) : 3 + fz_below(r, 2);

	if (i < 3) {			/* slots 2-4 */
		reg.slot = 2 + i;
		reg.guest_phys_addr = R_SLOT_GPA + (i << 20);
		reg.memory_size = 1 << 20;
		reg.userspace_addr = (uintptr_t)rc->res + R_SLOT_MEM + (i << 20);
	} else {			/* slot 0 or 1 */
		reg.slot = i - 3;
		reg.guest_phys_addr = reg.slot ? FZ_G_EXTRA : 0;
		reg.memory_size = reg.slot ? FZ_G_EXTRA_SIZE : FZ_G_RAM_SIZE;
		reg.userspace_addr = (uintptr_t)rc->res + (reg.slot ? FZ_G_RAM_SIZE : 0);
	}
	switch (fz_below(r, 5)) {
	case 0:
		reg.memory_size = 0;		/* delete */
		break;
	case 1:
		reg.guest_phys_addr += (fz_below(r, 16) + 1) << 20; /* move */
		break;
	case 2:
		reg.flags = KVM_MEM_READONLY;
		break;
	case 3:
		/* Alias another slot's host memory. */
		reg.userspace_addr = (uintptr_t)rc->res + R_SLOT_MEM +
				     (fz_below(r, 3) << 20);
		break;
	default:
		break;			/* re-add as it was */
	}
	fz_op(c, "slot %u gpa 0x%llx size 0x%llx flags %u", reg.slot,
	      (unsigned long long)reg.guest_phys_addr,
	      (unsigned long long)reg.memory_size, reg.flags);
	pthread_mutex_lock(&rc->lock);
	if (rc->vm_fd >= 0) {
		/* A change in place is refused: delete first, at times. */
		if (reg.memory_size && fz_chance(r, 60)) {
			struct kvm_userspace_memory_region del = reg;

			del.memory_size = 0;
			ioctl(rc->vm_fd, KVM_SET_USER_MEMORY_REGION, &del);
		}
		if (!ioctl(rc->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg))
			fz_count(FZ_ST_SLOT);
	}
	pthread_mutex_unlock(&rc->lock);
}

/* A fresh VM with the same memory; old vCPUs keep the old one alive. */
static void new_vm(struct fz_ctx *c, struct race *rc)
{
	int fd;

	fz_op(c, "close the VM fd, create a new VM");
	pthread_mutex_lock(&rc->lock);
	if (rc->vm_fd >= 0)
		close(rc->vm_fd);
	fd = ioctl(rc->sys_fd, KVM_CREATE_VM, 0);
	if (fd >= 0) {
		FZ_CHECK(c, fz_is_kvm_fd(fd), "KVM_CREATE_VM returned %d", fd);
		fz_count(FZ_ST_VM);
		add_slots(rc, fd);
	}
	rc->vm_fd = fd;
	rc->next_id = 0;
	pthread_mutex_unlock(&rc->lock);
	if (fd >= 0)
		new_vcpu(c, rc, fz_below(&c->rng, R_VCPUS), rc->next_id++);
}

static void fd_op(struct fz_ctx *c, struct race *rc, pthread_t *runners,
		  unsigned int nrunners)
{
	struct fz_rng *r = &c->rng;
	int i = fz_below(r, R_VCPUS), n, fd;

	switch (fz_below(r, 12)) {
	case 0:
		fz_op(c, "close vCPU fd %d", rc->vcpu[i].fd);
		pthread_mutex_lock(&rc->lock);
		if (rc->vcpu[i].fd >= 0)
			close(rc->vcpu[i].fd);
		rc->vcpu[i].fd = -1;
		pthread_mutex_unlock(&rc->lock);
		break;
	case 1:
		fz_op(c, "new vCPU in entry %d", i);
		new_vcpu(c, rc, i, fz_chance(r, 80) ? rc->next_id++ : fz_below(r, 8));
		break;
	case 2:
		create_vcpu_low_nofile(c, rc);
		break;
	case 3:
		if (fz_chance(r, 30))
			new_vm(c, rc);
		break;
	case 4:
	case 5:
		slot_op(c, rc);
		break;
	case 6:
		fz_op(c, "pthread_kill bursts");
		for (n = 1 + fz_below(r, 8); n; n--)
			pthread_kill(runners[fz_below(r, nrunners)], FZ_KICK_SIG);
		break;
	case 7:
	case 8:
	case 9:
		fd = __atomic_load_n(&rc->vcpu[i].fd, __ATOMIC_RELAXED);
		if (fd >= 0)
			fz_vcpu_state_ioctl(c, fd, rc->sys_fd);
		break;
	case 10:
		fd = __atomic_load_n(&rc->vcpu[i].fd, __ATOMIC_RELAXED);
		if (fd >= 0)
			fz_random_ioctl(c, fd);
		break;
	default:
		fd = __atomic_load_n(&rc->vm_fd, __ATOMIC_RELAXED);
		if (fd >= 0)
			fz_random_ioctl(c, fd);
		break;
	}
}

struct fd_racer_arg {
	struct r_thread t;
	pthread_t runners[2];
	unsigned int nrunners;
};

static void *fd_racer_fn(void *arg)
{
	struct fd_racer_arg *a = arg;
	struct race *rc = a->t.race;
	unsigned int i;

	fz_watchdog_register(&a->t.c);
	for (i = 0; i < rc->nops / 2; i++) {
		fz_count(FZ_ST_RACE_OP);
		fd_op(&a->t.c, rc, a->runners, a->nrunners);
		usleep(fz_below(&a->t.c.rng, 400));
	}
	fz_watchdog_unregister(&a->t.c);
	return NULL;
}

/* ---- a round ---- */

static void race_setup(struct fz_ctx *c, struct race *rc, unsigned int nops)
{
	static const enum fz_mode modes[] = {
		FZ_MODE_LONG, FZ_MODE_LONG, FZ_MODE_PROT32, FZ_MODE_PAGED32,
		FZ_MODE_COMPAT,
	};
	int i;

	memset(rc, 0, sizeof(*rc));
	rc->cfg = c->cfg;
	rc->test = c->test;
	rc->round = c->round;
	rc->nops = nops;
	rc->mode = modes[fz_below(&c->rng, ARRAY_SIZE(modes))];
	pthread_mutex_init(&rc->lock, NULL);
	for (i = 0; i < R_VCPUS; i++)
		rc->vcpu[i].fd = -1;
	rc->res = mmap(NULL, R_RES_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(rc->res != MAP_FAILED, "mmap of %llu bytes failed", R_RES_SIZE);
	race_code(rc, &c->rng);
	restore_guest(rc, &c->rng);
	rc->sys_fd = kvm_open_dev();
	rc->mmap_size = ioctl(rc->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(rc->mmap_size >= 4096, "KVM_GET_VCPU_MMAP_SIZE failed");
	rc->vm_fd = ioctl(rc->sys_fd, KVM_CREATE_VM, 0);
	TEST_ASSERT(rc->vm_fd >= 0, "KVM_CREATE_VM failed");
	fz_count(FZ_ST_VM);
	add_slots(rc, rc->vm_fd);
	new_vcpu(c, rc, 0, rc->next_id++);
	if (fz_chance(&c->rng, 40))
		new_vcpu(c, rc, 1, rc->next_id++);
}

static void race_teardown(struct race *rc)
{
	unsigned int i;

	for (i = 0; i < R_VCPUS; i++)
		if (rc->vcpu[i].fd >= 0)
			close(rc->vcpu[i].fd);
	if (rc->vm_fd >= 0)
		close(rc->vm_fd);
	close(rc->sys_fd);
	for (i = 0; i < rc->nold; i++)
		munmap(rc->old_run[i], rc->old_size[i]);
	munmap(rc->res, R_RES_SIZE);
	pthread_mutex_destroy(&rc->lock);
}

void fz_race_round(struct fz_ctx *c, unsigned int nops)
{
	struct r_thread runners[2], mem;
	struct fd_racer_arg fdr;
	struct fz_fdset fds;
	struct race rc;
	unsigned int i, nrunners;

	fz_fdset_snap(&fds);
	fz_op(c, "race setup");
	race_setup(c, &rc, nops);
	nrunners = 1 + fz_chance(&c->rng, 40);
	for (i = 0; i < nrunners; i++) {
		runners[i].race = &rc;
		runners[i].idx = i;
		fz_ctx_init(&runners[i].c, c->cfg, c->test, c->round, 1 + i);
		TEST_ASSERT(!pthread_create(&runners[i].tid, NULL, runner_fn,
					    &runners[i]), "pthread_create failed");
	}
	mem.race = &rc;
	fz_ctx_init(&mem.c, c->cfg, c->test, c->round, 3);
	memset(&fdr, 0, sizeof(fdr));
	fdr.t.race = &rc;
	fz_ctx_init(&fdr.t.c, c->cfg, c->test, c->round, 4);
	for (i = 0; i < nrunners; i++)
		fdr.runners[i] = runners[i].tid;
	fdr.nrunners = nrunners;
	TEST_ASSERT(!pthread_create(&mem.tid, NULL, mem_racer_fn, &mem),
		    "pthread_create failed");
	TEST_ASSERT(!pthread_create(&fdr.t.tid, NULL, fd_racer_fn, &fdr),
		    "pthread_create failed");

	pthread_join(mem.tid, NULL);
	pthread_join(fdr.t.tid, NULL);
	fz_op(c, "race: stopping the runners");
	__atomic_store_n(&rc.stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < nrunners; i++) {
		/* Their kick timers end any KVM_RUN; a signal hurries it. */
		pthread_kill(runners[i].tid, FZ_KICK_SIG);
		pthread_join(runners[i].tid, NULL);
		fz_ctx_fini(&runners[i].c);
	}
	fz_ctx_fini(&mem.c);
	fz_ctx_fini(&fdr.t.c);
	fz_op(c, "race teardown");
	race_teardown(&rc);
	fz_fdset_close_new(&fds);
}
