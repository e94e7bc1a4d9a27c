/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - the engines of xkvm's fuzzer (fuzz_test.c) and what they share.
 *
 * Owns: the per-thread fuzzing context (struct fz_ctx), the run-wide
 * statistics and progress counter, reporting a result that proves a kernel
 * bug (FZ_BUG), the kick signal and per-thread kick timers that bound
 * KVM_RUN, the hang watchdog, fd hygiene between rounds, kernel-log
 * markers and the scan for kernel splats, and the interfaces of the
 * engines:
 *   lib/fuzz_run.c    context, statistics, kicks, watchdog, fds, kmsg
 *   lib/fuzz_ioctl.c  random ioctl sequences on system, VM and vCPU fds
 *   lib/fuzz_vcpu.c   random contents for the vCPU state ioctls and
 *                     random ioctl numbers
 *   lib/fuzz_code.c   random guest programs for each CPU mode
 *   lib/fuzz_guest.c  the guest memory layout, CPU modes, the KVM_RUN loop
 *   lib/fuzz_race.c   threads racing KVM_RUN
 * Host side only: no guest ever runs C code of these files.
 *
 * What counts as a failure (FZ_BUG): only results KVM's ABI rules out, so
 * that the same binary passes on stock KVM: a "successful" fd-returning
 * ioctl whose result is not a KVM fd, KVM_RUN returning something other
 * than 0 or -1, exit data outside the kvm_run mapping, a kernel write past
 * the end of an argument, counts larger than the buffer handed in.
 * Everything else (errors, odd exits) is tolerated: robustness is the
 * point, and the console scanner of the harness catches oopses, WARNs,
 * lockdep reports and hangs.
 */
#ifndef XKVM_SELFTEST_FUZZ_H
#define XKVM_SELFTEST_FUZZ_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <linux/kvm.h>

#include "fuzz_util.h"

/* ---- context ---- */

struct fz_ctx {
	const struct fz_config *cfg;
	const char *test;	/* the running test, for reports */
	uint64_t round;
	struct fz_rng rng;
	struct fz_argmem arg;	/* argument memory of this thread */
	char op[112];		/* the operation under way, for reports */
	uint64_t sub_seed;	/* fz_substream(): its streams, and how many */
	uint64_t nsub;
};

/*
 * A context for round @round of @test: its own PRNG stream, derived from
 * the run's seed, the test and the round (and @thread for helper threads),
 * so that one round can be replayed alone (XKVM_FUZZ_ROUND).
 */
void fz_ctx_init(struct fz_ctx *c, const struct fz_config *cfg,
		 const char *test, uint64_t round, unsigned int thread);
void fz_ctx_fini(struct fz_ctx *c);

/*
 * Seeds @r with the next sub-stream of the round: unlike c->rng, whose
 * draws depend on how many KVM_RUNs a guest needed (timing), the n-th
 * sub-stream of a round is always the same, so a guest program can be
 * replayed exactly.
 */
void fz_substream(struct fz_ctx *c, struct fz_rng *r);

/* Names the operation under way (and traces it if XKVM_FUZZ_TRACE is set). */
void fz_op(struct fz_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void fz_bug(struct fz_ctx *c, const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));
#define FZ_BUG(c, fmt, ...) fz_bug(c, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define FZ_CHECK(c, cond, fmt, ...)					\
do {									\
	if (!(cond))							\
		fz_bug(c, __FILE__, __LINE__, "%s: " fmt, #cond,	\
		       ##__VA_ARGS__);					\
} while (0)

/* ---- ioctl arguments ---- */

struct fz_arg {
	void *p;		/* what the ioctl gets */
	enum fz_ptr_kind kind;
	size_t extent;		/* bytes the kernel may write at p */
	bool canary;		/* a canary follows those bytes */
};

/*
 * Places @size bytes of @data (NULL: as the memory is) for an ioctl that
 * may write up to @extent bytes back, through a bad pointer with a
 * probability of @bad_pct percent.  A good placement is followed by a
 * canary that fz_arg_check() verifies.  Returns the pointer to pass.
 */
void *fz_arg_prep(struct fz_ctx *c, struct fz_arg *a, const void *data,
		  size_t size, size_t extent, unsigned int bad_pct);
/* A kernel write past the extent of the argument is a bug. */
void fz_arg_check(struct fz_ctx *c, const struct fz_arg *a, const char *name);
/* The argument's bytes if the kernel could write them all, else NULL. */
void *fz_arg_result(const struct fz_arg *a);

/*
 * A SIGSEGV/SIGBUS/SIGILL/SIGFPE of the fuzzer itself (not of the kernel)
 * prints the thread's operation, the faulting address and RIP (for
 * addr2line), then dies of the signal as before.
 */
void fz_crash_handler_install(void);

/* ---- statistics (process-wide, atomic) ---- */

enum fz_stat {
	FZ_ST_IOCTL,		/* ioctls issued by the ioctl engine */
	FZ_ST_IOCTL_OK,		/* ... that succeeded */
	FZ_ST_VM,		/* VMs created */
	FZ_ST_VCPU,		/* vCPUs created */
	FZ_ST_SLOT,		/* memory-slot changes accepted */
	FZ_ST_PROGRAM,		/* guest programs started */
	FZ_ST_RUN,		/* KVM_RUN calls */
	FZ_ST_RUN_ERR,		/* ... returning -1 other than EINTR */
	FZ_ST_EXIT_IO,
	FZ_ST_EXIT_MMIO,
	FZ_ST_EXIT_HLT,
	FZ_ST_EXIT_SHUTDOWN,
	FZ_ST_EXIT_FAIL_ENTRY,
	FZ_ST_EXIT_INTERNAL,
	FZ_ST_EXIT_INTR,	/* signal kicks (EINTR or KVM_EXIT_INTR) */
	FZ_ST_EXIT_OTHER,
	FZ_ST_GUEST_EXC,	/* guest exceptions that reached our stubs */
	FZ_ST_RACE_OP,		/* racing operations */
	FZ_ST_NR,
};

extern uint64_t fz_stats[FZ_ST_NR];
extern uint64_t fz_progress;

static inline void fz_count(enum fz_stat s)
{
	__atomic_fetch_add(&fz_stats[s], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&fz_progress, 1, __ATOMIC_RELAXED);
}

void fz_stats_reset(void);
/* One "# " line of the non-zero counters. */
void fz_stats_print(const char *test);

/* ---- kicks: a signal that makes KVM_RUN return ---- */

#define FZ_KICK_SIG		SIGUSR1

/* Installs the (empty) handler of FZ_KICK_SIG, SA_RESTART; idempotent. */
void fz_kick_init(void);

struct fz_kicker {
	timer_t timer;
	bool armed;
};

/* A periodic FZ_KICK_SIG to the calling thread every @usec microseconds. */
void fz_kicker_start(struct fz_kicker *k, unsigned int usec);
void fz_kicker_stop(struct fz_kicker *k);

/* ---- hang watchdog ---- */

/*
 * A thread that reports a hang when fz_progress stands still for @secs
 * seconds: the operations of the registered contexts and the kernel
 * stacks of this process' threads, on stderr and in the kernel log, then
 * ends the process.
 */
void fz_watchdog_start(unsigned int secs);
void fz_watchdog_stop(void);
void fz_watchdog_register(struct fz_ctx *c);
void fz_watchdog_unregister(struct fz_ctx *c);

/* ---- fds ---- */

#define FZ_MAX_FD		1024

struct fz_fdset {
	uint64_t bits[FZ_MAX_FD / 64];
};

void fz_fdset_snap(struct fz_fdset *s);
/* Closes every fd that is not in @s; returns how many. */
int fz_fdset_close_new(const struct fz_fdset *s);
/* True if @fd is open and is a KVM object (vm or vcpu anon inode). */
bool fz_is_kvm_fd(int fd);

/* ---- kernel log ---- */

/* A line to the kernel log at KERN_INFO (a marker for the console dump). */
void fz_kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An fd of /dev/kmsg positioned at its end, or -1. */
int fz_kmsg_open(void);
/*
 * Kernel messages since fz_kmsg_open() that look like an oops, BUG, WARN,
 * lockdep or hung-task report; the first is copied to @first.  Returns
 * their number.
 */
int fz_kmsg_scan(int fd, char *first, size_t len);

/* ---- the ioctl engine (fuzz_ioctl.c, fuzz_vcpu.c) ---- */

/* One round: @nops operations on a fresh set of objects, then teardown. */
void fz_ioctl_round(struct fz_ctx *c, unsigned int nops);

/*
 * One random vCPU-state ioctl (REGS, SREGS, MSRS, CPUID2, FPU, XSAVE,
 * XCRS, VCPU_EVENTS, DEBUGREGS, MP_STATE, INTERRUPT, NMI, ...) on @fd,
 * with contents that are random, mutated or valid, through good or bad
 * pointers.  @sys_fd (or -1) serves KVM_GET_SUPPORTED_CPUID.
 */
void fz_vcpu_state_ioctl(struct fz_ctx *c, int fd, int sys_fd);

/* KVM_GET_MSRS / KVM_SET_MSRS with random indices, counts and data. */
void fz_msrs_ioctl(struct fz_ctx *c, int fd, bool set);
/* A CPUID-table GET (@cmd) with a random nent; checks the nent returned. */
void fz_cpuid_get(struct fz_ctx *c, int fd, unsigned long cmd,
		  const char *name);
/* An MSR index worth trying: known ones, their neighbours, random. */
uint32_t fz_pick_msr(struct fz_rng *r);
#define FZ_MSR_EFER		0xc0000080

/*
 * A random ioctl number in KVMIO's range (known ones of every fd kind,
 * with random direction or size, or entirely random) with a random
 * argument; KVM_RUN and KVM_SET_SIGNAL_MASK are left to their own code.
 */
void fz_random_ioctl(struct fz_ctx *c, int fd);

/* ---- guest programs (fuzz_code.c) ---- */

enum fz_mode {
	FZ_MODE_REAL,		/* real mode, CS = 0x1000 */
	FZ_MODE_VM86,		/* virtual-8086 mode */
	FZ_MODE_PROT16,		/* protected mode, 16-bit segments */
	FZ_MODE_PROT32,		/* protected mode, flat 32-bit, no paging */
	FZ_MODE_PAGED32,	/* 32-bit with 4 MiB or PAE paging */
	FZ_MODE_COMPAT,		/* long mode, 32-bit code segment */
	FZ_MODE_LONG,		/* 64-bit mode */
	FZ_MODE_NR,
};

extern const char * const fz_mode_names[FZ_MODE_NR];

/* Bits 16/32/64 of the default operand and address size of a mode. */
unsigned int fz_mode_bits(enum fz_mode m);

/*
 * Writes a random program for mode @m to @buf (at most @max bytes; run at
 * guest address FZ_G_CODE): a mix of instruction templates (memory, MMIO,
 * port and string I/O, CPUID, MSRs, control and segment registers,
 * descriptor tables, interrupts, FPU/SSE, jumps, mode switches) and raw
 * random bytes, ending at the "done" port.  Returns its length.
 */
/* Emulator quirks (struct fz_config's qemu_tcg). */
#define FZ_CODE_NO_TASK_SWITCH	(1u << 0)	/* no TSS or task-gate selectors */
#define FZ_CODE_NO_CR8		(1u << 1)	/* no MOV to CR8 */
#define FZ_CODE_NO_LME		(1u << 2)	/* no WRMSR EFER; CR4.PAE kept */
#define FZ_CODE_QEMU_TCG	(FZ_CODE_NO_TASK_SWITCH | FZ_CODE_NO_CR8 | \
				 FZ_CODE_NO_LME)
size_t fz_code_gen(struct fz_rng *r, enum fz_mode m, uint8_t *buf, size_t max,
		   unsigned int flags);

/* ---- the guest (fuzz_guest.c) ---- */

/* Guest-physical layout of the fuzzer's guests (slot 0 is FZ_G_RAM_SIZE). */
#define FZ_G_GDT		0x0800ULL	/* 32 descriptors */
#define FZ_G_LDT		0x0900ULL
#define FZ_G_IDT32		0x1000ULL
#define FZ_G_IDT64		0x2000ULL
#define FZ_G_TSS64		0x3000ULL
#define FZ_G_TSS32		0x3100ULL
#define FZ_G_STUBS		0x4000ULL	/* 8 bytes per vector */
#define FZ_G_PML4		0x5000ULL
#define FZ_G_PDPT		0x6000ULL
#define FZ_G_PD			0x7000ULL	/* 4 pages: 4 GiB in 2 MiB pages */
#define FZ_G_PD32		0xb000ULL	/* 4 MiB pages */
#define FZ_G_PAE_PDPT		0xc000ULL
#define FZ_G_CODE		0x10000ULL
#define FZ_G_CODE_SIZE		0x10000ULL
#define FZ_G_DATA		0x20000ULL
#define FZ_G_STACK_TOP		0x7f000ULL
#define FZ_G_RAM_SIZE		0x200000ULL
#define FZ_G_EXTRA		0x200000ULL	/* slot 1, read-only at times */
#define FZ_G_EXTRA_SIZE		0x10000ULL
#define FZ_G_MMIO		0x300000ULL	/* no slot: MMIO exits */

/* Ports of the stubs: an exception (AL = vector), the end of a program. */
#define FZ_PORT_EXC		0xf5
#define FZ_PORT_DONE		0xf6

/* GDT selectors. */
#define FZ_SEL_CS64		0x08
#define FZ_SEL_DS		0x10
#define FZ_SEL_CS32		0x18
#define FZ_SEL_CS16		0x20
#define FZ_SEL_DS16		0x28
#define FZ_SEL_TSS64		0x30	/* 16 bytes */
#define FZ_SEL_TSS32		0x40
#define FZ_SEL_LDT		0x48
#define FZ_SEL_CS32_U		0x53	/* DPL 3 */
#define FZ_SEL_DS_U		0x5b
#define FZ_SEL_CS64_U		0x63
#define FZ_SEL_RANDOM		0x68	/* from here: random descriptors */

/* An address a program may touch in mode @m (RAM, tables, MMIO, ...). */
uint64_t fz_guest_addr(struct fz_rng *r, enum fz_mode m);

/*
 * Writes descriptor tables, stubs and page tables into guest RAM @ram, a
 * few bytes of them broken at times if @mutate.
 */
void fz_guest_layout(struct fz_rng *r, uint8_t *ram, bool mutate);

/*
 * The emulator quirks of struct fz_config: on the QEMU machine, TR
 * becomes a present, available 32-bit TSS and EFER.LME goes without
 * CR4.PAE.  fz_tr_fixup() does it to a vCPU.
 */
void fz_sregs_quirks(const struct fz_config *cfg, struct kvm_sregs *s);
void fz_tr_fixup(const struct fz_config *cfg, int fd);

/*
 * Puts vCPU @fd into mode @m about to run FZ_G_CODE, with random general
 * registers and flags (at times CPL 3, at times a mutated state).  Raw
 * ioctls: returns 0, or -1 with errno when KVM refused the state.
 */
int fz_guest_set_mode(struct fz_ctx *c, struct fz_rng *r, int fd,
		      enum fz_mode m);

enum fz_run_result {
	FZ_RUN_AGAIN,		/* keep running */
	FZ_RUN_END,		/* the program ended (done port, HLT, exception) */
	FZ_RUN_RESET,		/* the vCPU needs a fresh state */
	FZ_RUN_GONE,		/* the fd no longer runs (EBADF, ENOTTY, EIO) */
};

/*
 * One KVM_RUN on @fd and its exit: I/O and MMIO reads answered with
 * random data, interrupts and NMIs injected at times, immediate_exit and
 * request_interrupt_window set at times.  Checks what KVM guarantees about
 * the return value and the exit data in @run (@run_size bytes; NULL: not
 * mapped).
 */
enum fz_run_result fz_run_once(struct fz_ctx *c, int fd, struct kvm_run *run,
			       size_t run_size);

/* A VM for guest programs: slot 0 RAM, slot 1, one vCPU. */
struct fz_guest {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint8_t *ram;
	uint8_t *extra;
	bool extra_ro;
};

void fz_guest_create(struct fz_ctx *c, struct fz_guest *g);
void fz_guest_destroy(struct fz_guest *g);
/*
 * Generates one program for mode @m from @r (code, tables, registers) and
 * runs it (at most @max_runs runs).
 */
void fz_guest_program(struct fz_ctx *c, struct fz_rng *r, struct fz_guest *g,
		      enum fz_mode m, unsigned int max_runs);

/* ---- races (fuzz_race.c) ---- */

/* One round: a vCPU thread in KVM_RUN while others change the world. */
void fz_race_round(struct fz_ctx *c, unsigned int nops);

#endif /* XKVM_SELFTEST_FUZZ_H */
