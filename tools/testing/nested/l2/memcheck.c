// SPDX-License-Identifier: GPL-2.0
/*
 * memcheck.c - the L2 guest's memory checker for the live-migration test
 * (vmm_migrate_test.sh). Built static by run.sh into the L2 initramfs;
 * the L2 /init runs it when the kernel command line says
 * xkvm_memcheck=<MiB>.
 *
 * It locks MiB of anonymous memory and splits it in two: a static quarter
 * written once with a pattern derived from each page's index and never
 * rewritten, and a dynamic rest. Round r writes every 8-byte word of the
 * dynamic region with dyn_word(index, r), then reads all of it back and
 * checks it, then checks the static region, and prints
 *
 *   memcheck round <r> ok mono <CLOCK_MONOTONIC s> up <CLOCK_BOOTTIME s>
 *
 * to the console (at most every PRINT_EVERY seconds: every round is
 * checked, not every round is printed). A dirty page the hypervisor failed to report during a
 * live migration reaches the destination with the previous round's value
 * (or the page's content before the migration began), so the round that
 * straddles the switchover finds it:
 *
 *   XKVM-MEMCHECK-FAIL round <r> <region> word <i> got <x> want <y>
 *
 * after which the program stops checking and sleeps (it is the L2 guest's
 * init: it must not exit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WORDS_PER_PAGE	(4096 / sizeof(uint64_t))
/* Seconds between two "round ok" lines (each character is a VM exit). */
#define PRINT_EVERY	0.5

/*
 * Cheap; for one index every round gives another value (the multiplier of
 * r is odd), so a word left from an earlier round never passes.
 */
static inline uint64_t dyn_word(uint64_t i, uint64_t r)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + (r + 1) * 0xc2b2ae3d27d4eb4full;

	return x ^ (x >> 29);
}

/* Static word j of page p: its index is in it, readable in a hexdump. */
static inline uint64_t static_word(uint64_t p, uint64_t j)
{
	return 0x584b564d00000000ull ^ (p << 12) ^ j;	/* "XKVM" */
}

static double clock_secs(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) fail(uint64_t round, const char *region,
					    uint64_t i, uint64_t got, uint64_t want)
{
	printf("XKVM-MEMCHECK-FAIL round %llu %s word %llu got %#llx want %#llx mono %.3f\n",
	       (unsigned long long)round, region, (unsigned long long)i,
	       (unsigned long long)got, (unsigned long long)want,
	       clock_secs(CLOCK_MONOTONIC));
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	uint64_t nwords, nstatic, ndyn, i, r;
	double now, printed = 0;
	/* volatile: the read-back must read memory, not what was written */
	volatile uint64_t *stat, *dyn;
	uint64_t *buf;

	if (mib < 4 || mib > 4096) {
		printf("XKVM-MEMCHECK-FAIL bad size %lu MiB\n", mib);
		return 1;
	}
	nwords = (uint64_t)mib << 20 >> 3;
	nstatic = nwords / 4;
	ndyn = nwords - nstatic;
	buf = mmap(NULL, nwords * 8, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		perror("XKVM-MEMCHECK-FAIL mmap");
		return 1;
	}
	mlock(buf, nwords * 8);	/* best effort: there is no swap anyway */
	stat = buf;
	dyn = buf + nstatic;

	for (i = 0; i < nstatic; i++)
		stat[i] = static_word(i / WORDS_PER_PAGE, i % WORDS_PER_PAGE);
	printf("memcheck start %lu MiB static %llu dynamic %llu words mono %.3f\n",
	       mib, (unsigned long long)nstatic, (unsigned long long)ndyn,
	       clock_secs(CLOCK_MONOTONIC));
	fflush(stdout);

	for (r = 0; ; r++) {
		for (i = 0; i < ndyn; i++)
			dyn[i] = dyn_word(i, r);
		for (i = 0; i < ndyn; i++)
			if (dyn[i] != dyn_word(i, r))
				fail(r, "dynamic", i, dyn[i], dyn_word(i, r));
		for (i = 0; i < nstatic; i++) {
			uint64_t want = static_word(i / WORDS_PER_PAGE,
						    i % WORDS_PER_PAGE);

			if (stat[i] != want)
				fail(r, "static", i, stat[i], want);
		}
		now = clock_secs(CLOCK_MONOTONIC);
		if (now - printed < PRINT_EVERY)
			continue;
		printed = now;
		printf("memcheck round %llu ok mono %.3f up %.3f\n",
		       (unsigned long long)r, now, clock_secs(CLOCK_BOOTTIME));
		fflush(stdout);
	}
}
