// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test.c - xkvm's own fuzzer: random but structured ioctl sequences
 * on system, VM and vCPU fds, random guest code in every CPU mode, and
 * threads racing KVM_RUN with munmap, memory-slot changes, closes and
 * signals; a kernel-memory and module-reference leak check at the end.
 * Documentation/fuzzing.md describes seeds, replay and long runs.
 *
 * Owns the tests, their budgets (rounds by default, a share of
 * XKVM_FUZZ_SECS on a long run), the warm-up that takes the leak check's
 * baseline, and the leak check.  The engines are lib/fuzz_*.c.
 *
 * Every test runs in its own process (kselftest harness).  A round is
 * replayable alone: its PRNG streams depend only on the seed, the test
 * and the round number (threads make race rounds replay only roughly).
 * Pass means: no result that proves a kernel bug, no kernel splat in the
 * log, no hang (watchdog), and kernel memory and module references back
 * to the baseline; the harness adds the console scanner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "fuzz.h"
#include "xkvm_util.h"

#define FZ_DEFAULT_SEED		0x786b766d2d66757aULL	/* "xkvm-fuz" */
/* The watchdog ends a hang; this only bounds the harness' wait. */
#define FZ_TEST_TIMEOUT		(24 * 3600)

/* State the tests' processes share (a MAP_SHARED page from main's parent). */
struct fz_shared {
	bool base_ok;
	struct fz_kmem base;
	uint64_t base_ms;
};

static struct fz_config cfg;
static struct fz_shared *shared;

static void __attribute__((constructor)) fz_main_init(void)
{
	fz_config_read(&cfg, FZ_DEFAULT_SEED);
	shared = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		shared = NULL;
}

/* How long a hang may look like progress standing still. */
static unsigned int hang_secs(void)
{
	return 60 * cfg.scale_div;
}

/*
 * Random guest code breaks both emulators in ways the fuzzer cannot steer
 * around (Documentation/fuzzing.md, "Emulator limits"):
 * - Bochs 2.7 (intel): a guest entered with RFLAGS.IF=0 takes no
 *   external-interrupt exit until it changes IF itself, so guest code
 *   that spins after a CLI wedges the host CPU (stock kvm_intel too);
 * - QEMU 7.2 (amd) under stock kvm_amd: the default run ended in a QEMU
 *   assertion ("qemu_mutex_lock_iothread_impl") or segfault in most
 *   reference boots, at timing-dependent points; never in xkvm mode.
 * There the tests that run random guest code (guest programs, races)
 * skip; the ioctl sequences run everywhere.  XKVM_FUZZ_FORCE=1 runs all.
 */
static const char *guest_code_unfit(void)
{
	if (cfg.force)
		return NULL;
	if (!strcmp(cfg.machine, "intel"))
		return "Bochs wedges a CPU on guest code that spins with IF=0 (Documentation/fuzzing.md)";
	if (cfg.qemu_tcg && xkvm_reference_mode())
		return "QEMU 7.2 aborts under stock kvm_amd and random guest code (Documentation/fuzzing.md)";
	return NULL;
}

typedef void (*fz_round_fn)(struct fz_ctx *c, const void *arg);

/*
 * Runs the rounds of one test: @rounds of them by default (divided on
 * slow machines), all the time of its share (@pct percent) of
 * XKVM_FUZZ_SECS on a long run, or only XKVM_FUZZ_ROUND.  Reports the
 * seed, counts and kernel splats seen meanwhile.
 */
static void run_rounds(struct __test_metadata *_metadata, const char *test,
		       uint64_t rounds, unsigned int pct, uint64_t cap_ms,
		       fz_round_fn fn, const void *arg)
{
	uint64_t first = 0, last, r, t0 = fz_now_ms(), deadline, done = 0;
	char splat[256];
	int kfd, n;

	if (cfg.round >= 0) {
		first = last = cfg.round;
		deadline = ~0ULL;
	} else if (cfg.secs_set) {
		last = ~0ULL;
		deadline = t0 + cfg.secs * 10 * pct;
	} else {
		rounds = cfg.iters_set ? cfg.iters : rounds / cfg.scale_div;
		last = (rounds ? rounds : 1) - 1;
		/* A safety net for a slow machine, not the budget. */
		deadline = t0 + cap_ms;
	}
	printf("# %s: seed 0x%llx (XKVM_FUZZ_SEED), machine %s, %s mode, rounds %llu..%s\n",
	       test, (unsigned long long)cfg.seed, cfg.machine,
	       xkvm_reference_mode() ? "reference" : "xkvm",
	       (unsigned long long)first,
	       last == ~0ULL ? "(time)" : "");
	fflush(stdout);
	fz_crash_handler_install();
	fz_kick_init();
	fz_stats_reset();
	kfd = fz_kmsg_open();
	fz_kmsg("xkvm_fuzz: %s: seed 0x%llx", test, (unsigned long long)cfg.seed);
	fz_watchdog_start(hang_secs());
	for (r = first; r <= last; r++) {
		struct fz_ctx c;

		if (fz_now_ms() >= deadline) {
			if (!cfg.secs_set)
				printf("# %s: time cap of %llu s reached\n", test,
				       (unsigned long long)cap_ms / 1000);
			break;
		}
		if (r % 16 == 0)
			fz_kmsg("xkvm_fuzz: %s round %llu", test,
				(unsigned long long)r);
		fz_ctx_init(&c, &cfg, test, r, 0);
		fz_watchdog_register(&c);
		fn(&c, arg);
		fz_watchdog_unregister(&c);
		fz_ctx_fini(&c);
		done++;
	}
	fz_watchdog_stop();
	t0 = fz_now_ms() - t0;
	printf("# %s: %llu rounds in %llu.%llu s\n", test,
	       (unsigned long long)done, (unsigned long long)t0 / 1000,
	       (unsigned long long)t0 % 1000 / 100);
	fz_stats_print(test);
	n = fz_kmsg_scan(kfd, splat, sizeof(splat));
	if (kfd >= 0)
		close(kfd);
	EXPECT_EQ(0, n) TH_LOG("the kernel logged %d splat(s), first: %s", n, splat);
	EXPECT_EQ(0, fz_count_kvm_fds(splat, sizeof(splat))) TH_LOG("%s", splat);
}

/* ---- the engines' rounds ---- */

static void ioctl_round(struct fz_ctx *c, const void *arg)
{
	fz_ioctl_round(c, 40 + fz_below(&c->rng, 60));
}

/* A guest VM, programs in mode *@arg (a few in other modes), teardown. */
static void guest_round(struct fz_ctx *c, const void *arg)
{
	enum fz_mode m = *(const enum fz_mode *)arg;
	struct fz_kicker kick = { 0 };
	struct fz_guest g;
	unsigned int i;

	/*
	 * The library asserts that creation succeeds; KVM_CREATE_VM fails
	 * with EINTR when a signal is pending (mm_take_all_locks), so the
	 * kicks start after it.
	 */
	fz_guest_create(c, &g);
	fz_kicker_start(&kick, 3000);
	for (i = 0; i < 8; i++) {
		struct fz_rng prog;
		enum fz_mode pm;

		fz_substream(c, &prog);
		pm = fz_chance(&prog, 10) ? fz_below(&prog, FZ_MODE_NR) : m;
		fz_guest_program(c, &prog, &g, pm, 24);
	}
	fz_kicker_stop(&kick);
	fz_guest_destroy(&g);
}

static void race_round(struct fz_ctx *c, const void *arg)
{
	fz_race_round(c, 40 + fz_below(&c->rng, 40));
}

/* ---- warm-up and baseline (first) ---- */

static void print_kmem(const char *what, const struct fz_kmem *k)
{
	int i;

	printf("# %s:", what);
	for (i = 0; i < FZ_KMEM_NR; i++)
		if (k->kb[i] >= 0)
			printf(" %s %ld kB", fz_kmem_names[i], k->kb[i]);
	printf(", module refs %ld/%ld\n", k->refcnt[0], k->refcnt[1]);
	fflush(stdout);
}

FIXTURE(baseline) {
	int unused;
};

FIXTURE_SETUP(baseline)
{
}

FIXTURE_TEARDOWN(baseline)
{
}

/*
 * One round of every engine first, so that what the kernel allocates once
 * and keeps (slab caches, per-CPU data, lazily built tables) is in the
 * baseline, then the baseline of the leak check, all fds closed.
 */
TEST_F_TIMEOUT(baseline, warm_up, FZ_TEST_TIMEOUT)
{
	struct fz_config wcfg = cfg;
	enum fz_mode m;
	struct fz_ctx c;

	if (!shared)
		SKIP(return, "no shared page for the baseline");
	wcfg.seed = fz_mix(cfg.seed, 0x7761726d);
	fz_crash_handler_install();
	fz_kick_init();
	fz_watchdog_start(hang_secs());
	fz_ctx_init(&c, &wcfg, "warm-up", 0, 0);
	fz_watchdog_register(&c);
	ioctl_round(&c, NULL);
	if (!guest_code_unfit()) {
		for (m = 0; m < FZ_MODE_NR; m++)
			guest_round(&c, &m);
		race_round(&c, NULL);
	}
	fz_watchdog_unregister(&c);
	fz_watchdog_stop();
	fz_ctx_fini(&c);
	ASSERT_EQ(0, fz_count_kvm_fds(NULL, 0));
	if (!fz_kmem_settle())
		SKIP(return, "cannot drop caches (not root?)");
	fz_kmem_read(&shared->base, xkvm_core_module(), xkvm_vendor_module());
	shared->base_ms = fz_now_ms();
	shared->base_ok = true;
	print_kmem("baseline", &shared->base);
}

/* ---- the ioctl sequences ---- */

FIXTURE(ioctls) {
	int unused;
};

FIXTURE_SETUP(ioctls)
{
}

FIXTURE_TEARDOWN(ioctls)
{
}

TEST_F_TIMEOUT(ioctls, sequences, FZ_TEST_TIMEOUT)
{
	run_rounds(_metadata, "ioctls", 120, 25, 40000, ioctl_round, NULL);
}

/* ---- guest code in every CPU mode ---- */

FIXTURE(guest) {
	int unused;
};

FIXTURE_VARIANT(guest) {
	enum fz_mode mode;
};

FIXTURE_VARIANT_ADD(guest, real) { .mode = FZ_MODE_REAL };
FIXTURE_VARIANT_ADD(guest, vm86) { .mode = FZ_MODE_VM86 };
FIXTURE_VARIANT_ADD(guest, prot16) { .mode = FZ_MODE_PROT16 };
FIXTURE_VARIANT_ADD(guest, prot32) { .mode = FZ_MODE_PROT32 };
FIXTURE_VARIANT_ADD(guest, paged32) { .mode = FZ_MODE_PAGED32 };
FIXTURE_VARIANT_ADD(guest, compat) { .mode = FZ_MODE_COMPAT };
FIXTURE_VARIANT_ADD(guest, long) { .mode = FZ_MODE_LONG };

FIXTURE_SETUP(guest)
{
}

FIXTURE_TEARDOWN(guest)
{
}

TEST_F_TIMEOUT(guest, programs, FZ_TEST_TIMEOUT)
{
	const char *unfit = guest_code_unfit();
	char name[32];

	if (unfit)
		SKIP(return, "%s", unfit);

	snprintf(name, sizeof(name), "guest-%s", fz_mode_names[variant->mode]);
	run_rounds(_metadata, name, 12, 45 / FZ_MODE_NR, 10000, guest_round,
		   &variant->mode);
}

/* ---- races ---- */

FIXTURE(races) {
	int unused;
};

FIXTURE_SETUP(races)
{
}

FIXTURE_TEARDOWN(races)
{
}

TEST_F_TIMEOUT(races, run_vs_world, FZ_TEST_TIMEOUT)
{
	const char *unfit = guest_code_unfit();

	if (unfit)
		SKIP(return, "%s", unfit);
	run_rounds(_metadata, "races", 16, 30, 30000, race_round, NULL);
}

/* ---- leaks (last) ---- */

/*
 * Growth over the baseline that is still no leak, in kB: what the kernel
 * keeps by itself between two measurements when nothing leaks (measured
 * on stock KVM, see Documentation/fuzzing.md), with room to spare.  A
 * leak of one page per VM or vCPU the run created exceeds them.
 */
static const long leak_limit_kb[FZ_KMEM_NR] = {
	[FZ_KMEM_MEMFREE] = -1,		/* informational */
	[FZ_KMEM_SUNRECLAIM] = 2048,
	[FZ_KMEM_KERNELSTACK] = 256,
	[FZ_KMEM_PAGETABLES] = 512,
	[FZ_KMEM_SECPAGETABLES] = 256,
	[FZ_KMEM_VMALLOC] = 1024,
	[FZ_KMEM_PERCPU] = 256,
};

static bool kmem_within(const struct fz_kmem *now)
{
	int i;

	for (i = 0; i < FZ_KMEM_NR; i++)
		if (leak_limit_kb[i] >= 0 && now->kb[i] >= 0 && shared->base.kb[i] >= 0 &&
		    now->kb[i] - shared->base.kb[i] > leak_limit_kb[i])
			return false;
	return now->refcnt[0] == shared->base.refcnt[0] &&
	       now->refcnt[1] == shared->base.refcnt[1];
}

FIXTURE(leaks) {
	int unused;
};

FIXTURE_SETUP(leaks)
{
}

FIXTURE_TEARDOWN(leaks)
{
}

/*
 * After every test process has ended (all fds closed), kernel memory and
 * the modules' reference counts are back to the baseline.  Memory the
 * kernel frees late (RCU, workqueues) gets up to ten settle passes.
 */
TEST_F_TIMEOUT(leaks, kernel_memory, FZ_TEST_TIMEOUT)
{
	struct fz_kmem now;
	char first[256];
	int i, pass;

	if (!shared || !shared->base_ok)
		SKIP(return, "no baseline (the warm-up did not take one)");
	ASSERT_EQ(0, fz_count_kvm_fds(first, sizeof(first))) TH_LOG("%s", first);
	for (pass = 0; pass < 10; pass++) {
		if (pass)
			sleep(1);
		fz_kmem_settle();
		fz_kmem_read(&now, xkvm_core_module(), xkvm_vendor_module());
		if (kmem_within(&now))
			break;
	}
	print_kmem("baseline", &shared->base);
	print_kmem("now     ", &now);
	printf("# %llu s after the baseline, %d settle pass(es)\n",
	       (unsigned long long)(fz_now_ms() - shared->base_ms) / 1000,
	       pass + 1);
	for (i = 0; i < FZ_KMEM_NR; i++) {
		long d = now.kb[i] - shared->base.kb[i];

		if (leak_limit_kb[i] < 0 || now.kb[i] < 0 || shared->base.kb[i] < 0)
			continue;
		printf("# %-14s %+7ld kB (limit %ld)\n", fz_kmem_names[i], d,
		       leak_limit_kb[i]);
		EXPECT_GE(leak_limit_kb[i], d)
			TH_LOG("%s grew by %ld kB: leaked kernel memory",
			       fz_kmem_names[i], d);
	}
	EXPECT_EQ(shared->base.refcnt[0], now.refcnt[0])
		TH_LOG("%s holds %ld references more than at the baseline",
		       xkvm_core_module(), now.refcnt[0] - shared->base.refcnt[0]);
	EXPECT_EQ(shared->base.refcnt[1], now.refcnt[1])
		TH_LOG("%s holds %ld references more than at the baseline",
		       xkvm_vendor_module(), now.refcnt[1] - shared->base.refcnt[1]);
}

TEST_HARNESS_MAIN
