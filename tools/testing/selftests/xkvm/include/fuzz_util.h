/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz_util.h - helpers of xkvm's fuzzer (fuzz_test.c).
 *
 * Owns: the fuzzer's PRNG (xoshiro256**, seeded through splitmix64) and
 * its random-value helpers, the run configuration read from XKVM_FUZZ_*
 * (Documentation/fuzzing.md), the memory that ioctl arguments are placed in
 * (a read-write area ending at a guard page, a read-only page, a hole) and
 * the pointers, good and bad, handed to the kernel, and the views of
 * kernel state the leak check compares: /proc/meminfo counters, module
 * reference counts, the process' KVM file descriptors.  Host side only:
 * nothing here runs in a guest.
 */
#ifndef XKVM_SELFTEST_FUZZ_UTIL_H
#define XKVM_SELFTEST_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- PRNG ---- */

struct fz_rng {
	uint64_t s[4];
};

/* A seed for a sub-stream: depends on both values, well mixed. */
uint64_t fz_mix(uint64_t a, uint64_t b);
void fz_rng_seed(struct fz_rng *r, uint64_t seed);
uint64_t fz_rand64(struct fz_rng *r);

static inline uint32_t fz_rand32(struct fz_rng *r)
{
	return fz_rand64(r) >> 32;
}

/* Uniform in [0, n); 0 when n is 0. */
uint64_t fz_below(struct fz_rng *r, uint64_t n);

/* True with a probability of @pct percent. */
static inline bool fz_chance(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

/* Index into a table of @n weights, drawn in proportion to them. */
unsigned int fz_weighted(struct fz_rng *r, const unsigned int *weights,
			 unsigned int n);
/* Boundary values (0, -1, sign bits, page and address-space limits ...). */
uint64_t fz_interesting(struct fz_rng *r);
void fz_fill(struct fz_rng *r, void *buf, size_t len);
/*
 * Is @v an address of this process' own memory?  Random data handed to
 * the kernel must not be: the kernel may write where a pointer in it says
 * (KVM_GET_REGS with an integer argument, KVM_GET_DIRTY_LOG's bitmap),
 * which would corrupt the fuzzer, not find a kernel bug.
 */
bool fz_is_own_memory(uint64_t v);
/* Zeroes every aligned 64-bit word of @buf that is fz_is_own_memory(). */
void fz_unpoint(void *buf, size_t len);
/* @n small random changes: bit flips, bytes, boundary values. */
void fz_mutate(struct fz_rng *r, void *buf, size_t len, unsigned int n);

/* ---- configuration (XKVM_FUZZ_*, XKVM_MACHINE) ---- */

struct fz_config {
	uint64_t seed;		/* XKVM_FUZZ_SEED */
	uint64_t iters;		/* XKVM_FUZZ_ITERS: rounds per test */
	uint64_t secs;		/* XKVM_FUZZ_SECS: time for the whole run */
	int64_t round;		/* XKVM_FUZZ_ROUND: only this round; -1 all */
	bool iters_set, secs_set;
	unsigned int scale_div;	/* default rounds are divided by this */
	const char *machine;	/* XKVM_MACHINE or "unknown" */
	/*
	 * Machine "amd" is QEMU TCG, whose SVM emulation aborts the whole
	 * emulator on two guest states a real CPU takes in its stride:
	 * - "qemu: fatal: invalid tss type": a legacy-mode interrupt that
	 *   switches stacks while the cached TR type is a busy TSS, which
	 *   is what VMRUN loads from a VMCB (and what hardware keeps);
	 * - "tcg_handle_interrupt: assertion failed": a guest MOV to CR8
	 *   while a virtual interrupt (V_IRQ) is pending (the helper calls
	 *   cpu_interrupt() without the big lock; QEMU 7.2);
	 * and it corrupts the host on a third one:
	 * - a #VMEXIT from a guest with EFER.LME=1, CR0.PG=0 and CR4.PAE=0:
	 *   restoring the host's CR0 takes cpu_x86_update_cr0()'s "enter
	 *   long mode without PAE" early return, so the host goes on with
	 *   the guest's CR0, paging off, and the emulated CPU is lost.
	 * With this set, every TR the fuzzer gives a vCPU is an available
	 * TSS, EFER.LME is only ever set with CR4.PAE, and guest programs
	 * leave task switches, CR8 and EFER alone and keep CR4.PAE.
	 */
	bool qemu_tcg;
	bool force;		/* XKVM_FUZZ_FORCE: run where it is skipped */
	int trace_fd;		/* XKVM_FUZZ_TRACE opened, or -1 */
	bool trace_kmsg;	/* ... and it is /dev/kmsg */
};

/* Reads the environment; a malformed value ends the process. */
void fz_config_read(struct fz_config *c, uint64_t default_seed);
/* One line to the trace file, if XKVM_FUZZ_TRACE names one. */
void fz_trace(const struct fz_config *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t fz_now_ms(void);

/* ---- argument memory and pointers ---- */

#define FZ_ARG_AREA		(64 * 1024)

struct fz_argmem {
	uint8_t *area;		/* FZ_ARG_AREA bytes, read-write */
	uint8_t *guard;		/* the page after it: PROT_NONE */
	uint8_t *ro;		/* a read-only page of random bytes */
	uint8_t *hole;		/* nothing is mapped here */
	size_t map_size;
};

enum fz_ptr_kind {
	FZ_PTR_GOOD,		/* inside the area, 8-byte aligned */
	FZ_PTR_GOOD_END,	/* ends exactly at the guard page */
	FZ_PTR_MISALIGNED,	/* inside the area, not aligned */
	FZ_PTR_RO,		/* the read-only page */
	FZ_PTR_STRADDLE,	/* half in the area, half in the guard page */
	FZ_PTR_NULL,
	FZ_PTR_LOW,		/* below mmap_min_addr */
	FZ_PTR_GUARD,		/* the PROT_NONE page */
	FZ_PTR_HOLE,		/* unmapped user address */
	FZ_PTR_KERNEL,		/* kernel half of the address space */
	FZ_PTR_NONCANONICAL,
	FZ_PTR_NR,
};

/* Pointer kinds through which the kernel can read / write a whole argument. */
static inline bool fz_ptr_readable(enum fz_ptr_kind k)
{
	return k <= FZ_PTR_RO;
}

static inline bool fz_ptr_writable(enum fz_ptr_kind k)
{
	return k <= FZ_PTR_MISALIGNED;
}

void fz_argmem_init(struct fz_argmem *m, struct fz_rng *r);
void fz_argmem_free(struct fz_argmem *m);
/*
 * Where to pass an argument of @size bytes whose contents are @data: with
 * a probability of @bad_pct percent a pointer the kernel cannot fully use
 * (of the kinds in @bad_mask, a bit per enum fz_ptr_kind; 0: all), else a
 * good one.  @data is copied to the chosen place as far as it is writable
 * by us.  Returns the pointer and sets *@kind.
 */
void *fz_arg_place(struct fz_rng *r, struct fz_argmem *m, const void *data,
		   size_t size, unsigned int bad_pct, unsigned int bad_mask,
		   enum fz_ptr_kind *kind);
/* A good, aligned pointer to @size bytes of the area (contents as they are). */
void *fz_arg_area(struct fz_rng *r, struct fz_argmem *m, size_t size);
const char *fz_ptr_kind_name(enum fz_ptr_kind k);

/* ---- process and kernel state ---- */

/* The fd number the next open() would get. */
int fz_lowest_free_fd(void);
/*
 * Open fds of this process that are KVM objects (anon inodes whose name
 * holds "kvm": kvm-vm, kvm-vcpu:N, xkvm-vm, ...); the first one's target
 * is copied to @first.
 */
int fz_count_kvm_fds(char *first, size_t len);

enum fz_kmem_item {
	FZ_KMEM_MEMFREE,
	FZ_KMEM_SUNRECLAIM,
	FZ_KMEM_KERNELSTACK,
	FZ_KMEM_PAGETABLES,
	FZ_KMEM_SECPAGETABLES,
	FZ_KMEM_VMALLOC,
	FZ_KMEM_PERCPU,
	FZ_KMEM_NR,
};

struct fz_kmem {
	long kb[FZ_KMEM_NR];	/* -1: not in this kernel's /proc/meminfo */
	long refcnt[2];		/* core / vendor module; -1: unknown */
};

extern const char * const fz_kmem_names[FZ_KMEM_NR];
/*
 * Let the kernel give back what it only caches: drop the page cache,
 * dentries and inodes, shrink every slab cache, drain the per-CPU page
 * lists (compaction).  False if the caller may not (not root).
 */
bool fz_kmem_settle(void);
/* /proc/meminfo and the reference counts of modules @core and @vendor. */
void fz_kmem_read(struct fz_kmem *k, const char *core, const char *vendor);
/* /sys/module/@name/refcnt, or -1. */
long fz_module_refcnt(const char *name);

#endif /* XKVM_SELFTEST_FUZZ_UTIL_H */
