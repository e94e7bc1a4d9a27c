// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_run.c - what the fuzzer's engines share at run time: contexts,
 * statistics, bug reports, kick timers, the hang watchdog, fd hygiene
 * between rounds and the kernel log.  See include/fuzz.h.
 *
 * Global state: the statistics and progress counters (atomics), the
 * watchdog's thread and its table of registered contexts (wd_lock).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "xkvm_util.h"

uint64_t fz_stats[FZ_ST_NR];
uint64_t fz_progress;

/* ---- context ---- */

void fz_ctx_init(struct fz_ctx *c, const struct fz_config *cfg,
		 const char *test, uint64_t round, unsigned int thread)
{
	uint64_t h = 0;
	const char *p;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->test = test;
	c->round = round;
	for (p = test; *p; p++)
		h = h * 131 + (uint8_t)*p;
	c->sub_seed = fz_mix(fz_mix(cfg->seed, h), round * 64 + thread);
	fz_rng_seed(&c->rng, c->sub_seed);
	fz_argmem_init(&c->arg, &c->rng);
	snprintf(c->op, sizeof(c->op), "start");
}

void fz_substream(struct fz_ctx *c, struct fz_rng *r)
{
	fz_rng_seed(r, fz_mix(c->sub_seed, ++c->nsub));
}

void fz_ctx_fini(struct fz_ctx *c)
{
	fz_argmem_free(&c->arg);
}

/* The context whose operation this thread last named, for crash reports. */
static __thread struct fz_ctx *cur_ctx;

void fz_op(struct fz_ctx *c, const char *fmt, ...)
{
	va_list ap;

	cur_ctx = c;
	va_start(ap, fmt);
	vsnprintf(c->op, sizeof(c->op), fmt, ap);
	va_end(ap);
	if (c->cfg->trace_fd >= 0)
		fz_trace(c->cfg, "%s r%llu: %s", c->test,
			 (unsigned long long)c->round, c->op);
}

void fz_bug(struct fz_ctx *c, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fz_kmsg("xkvm_fuzz: %s round %llu: kernel bug evidence: %s", c->test,
		(unsigned long long)c->round, msg);
	__test_assert(file, line, "fuzzer check",
		      "%s\n#   seed 0x%llx, test %s, round %llu, during: %s\n"
		      "#   replay: XKVM_FUZZ_SEED=0x%llx XKVM_FUZZ_ROUND=%llu",
		      msg, (unsigned long long)c->cfg->seed, c->test,
		      (unsigned long long)c->round, c->op,
		      (unsigned long long)c->cfg->seed,
		      (unsigned long long)c->round);
}

static void crash_handler(int sig, siginfo_t *si, void *uc_arg)
{
	ucontext_t *uc = uc_arg;
	struct fz_ctx *c = cur_ctx;
	char line[512];
	int n;

	n = snprintf(line, sizeof(line),
		     "# ==== fuzzer crashed: signal %d at rip 0x%llx, address %p ====\n"
		     "#   seed 0x%llx test %s round %llu, during: %s\n",
		     sig, (unsigned long long)uc->uc_mcontext.gregs[REG_RIP],
		     si->si_addr, c ? (unsigned long long)c->cfg->seed : 0ULL,
		     c ? c->test : "?", c ? (unsigned long long)c->round : 0ULL,
		     c ? c->op : "?");
	if (n > 0 && write(STDERR_FILENO, line, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

void fz_crash_handler_install(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- statistics ---- */

static const char * const stat_names[FZ_ST_NR] = {
	"ioctls", "ok", "vms", "vcpus", "slots", "programs", "runs",
	"run-errors", "io", "mmio", "hlt", "shutdown", "fail-entry",
	"internal-error", "kicks", "other-exits", "guest-exceptions",
	"race-ops",
};

void fz_stats_reset(void)
{
	memset(fz_stats, 0, sizeof(fz_stats));
}

void fz_stats_print(const char *test)
{
	char line[512];
	int i, n;

	n = snprintf(line, sizeof(line), "# %s:", test);
	for (i = 0; i < FZ_ST_NR && n < (int)sizeof(line) - 40; i++) {
		uint64_t v = __atomic_load_n(&fz_stats[i], __ATOMIC_RELAXED);

		if (v)
			n += snprintf(line + n, sizeof(line) - n, " %s %llu",
				      stat_names[i], (unsigned long long)v);
	}
	printf("%s\n", line);
	fflush(stdout);
}

/* ---- kicks ---- */

static void kick_handler(int sig)
{
}

void fz_kick_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(FZ_KICK_SIG, &sa, NULL), "sigaction failed");
}

void fz_kicker_start(struct fz_kicker *k, unsigned int usec)
{
	struct itimerspec its;
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = FZ_KICK_SIG;
	sev._sigev_un._tid = gettid();
	TEST_ASSERT(!timer_create(CLOCK_MONOTONIC, &sev, &k->timer),
		    "timer_create failed");
	its.it_value.tv_sec = usec / 1000000;
	its.it_value.tv_nsec = (usec % 1000000) * 1000;
	its.it_interval = its.it_value;
	TEST_ASSERT(!timer_settime(k->timer, 0, &its, NULL),
		    "timer_settime failed");
	k->armed = true;
}

void fz_kicker_stop(struct fz_kicker *k)
{
	if (!k->armed)
		return;
	timer_delete(k->timer);
	k->armed = false;
}

/* ---- hang watchdog ---- */

#define WD_MAX_CTX		8

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fz_ctx *wd_ctx[WD_MAX_CTX];
static pthread_t wd_thread;
static unsigned int wd_secs;
static bool wd_running, wd_stop;

void fz_watchdog_register(struct fz_ctx *c)
{
	int i;

	pthread_mutex_lock(&wd_lock);
	for (i = 0; i < WD_MAX_CTX; i++) {
		if (!wd_ctx[i]) {
			wd_ctx[i] = c;
			break;
		}
	}
	pthread_mutex_unlock(&wd_lock);
}

void fz_watchdog_unregister(struct fz_ctx *c)
{
	int i;

	pthread_mutex_lock(&wd_lock);
	for (i = 0; i < WD_MAX_CTX; i++)
		if (wd_ctx[i] == c)
			wd_ctx[i] = NULL;
	pthread_mutex_unlock(&wd_lock);
}

/* The kernel stacks of this process' threads, as root may read them. */
static void dump_kernel_stacks(void)
{
	char path[300], buf[2048];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	ssize_t n;
	int fd;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stack",
			 de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)	/* a running task has no stack to show */
			n = snprintf(buf, sizeof(buf), "[<0>] (running)\n");
		buf[n] = 0;
		fprintf(stderr, "# thread %s kernel stack:\n%s", de->d_name, buf);
		fz_kmsg("xkvm_fuzz: thread %s kernel stack:\n%s", de->d_name, buf);
	}
	closedir(d);
	/*
	 * A running thread shows no stack above: have every CPU print its
	 * backtrace into the kernel log (sysrq l), where a spin in the
	 * kernel shows up.
	 */
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "l", 1) != 1)
			fprintf(stderr, "# sysrq-trigger: %s\n", strerror(errno));
		close(fd);
	}
}

static void *watchdog_fn(void *arg)
{
	uint64_t last = ~0ULL, now;
	unsigned int still = 0;
	int i;

	while (!__atomic_load_n(&wd_stop, __ATOMIC_ACQUIRE)) {
		usleep(250 * 1000);
		now = __atomic_load_n(&fz_progress, __ATOMIC_RELAXED);
		if (now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still < wd_secs * 4)
			continue;
		fflush(stdout);
		fprintf(stderr, "# ==== fuzzer: no progress for %u s: hang ====\n",
			wd_secs);
		fz_kmsg("xkvm_fuzz: no progress for %u s: hang", wd_secs);
		pthread_mutex_lock(&wd_lock);
		for (i = 0; i < WD_MAX_CTX; i++) {
			struct fz_ctx *c = wd_ctx[i];

			if (!c)
				continue;
			fprintf(stderr, "#   seed 0x%llx test %s round %llu: %s\n",
				(unsigned long long)c->cfg->seed, c->test,
				(unsigned long long)c->round, c->op);
			fz_kmsg("xkvm_fuzz: seed 0x%llx test %s round %llu: %s",
				(unsigned long long)c->cfg->seed, c->test,
				(unsigned long long)c->round, c->op);
		}
		pthread_mutex_unlock(&wd_lock);
		dump_kernel_stacks();
		fflush(stderr);
		_exit(1);
	}
	return NULL;
}

void fz_watchdog_start(unsigned int secs)
{
	wd_secs = secs;
	wd_stop = false;
	TEST_ASSERT(!pthread_create(&wd_thread, NULL, watchdog_fn, NULL),
		    "pthread_create failed");
	wd_running = true;
}

void fz_watchdog_stop(void)
{
	if (!wd_running)
		return;
	__atomic_store_n(&wd_stop, true, __ATOMIC_RELEASE);
	pthread_join(wd_thread, NULL);
	wd_running = false;
}

/* ---- fds ---- */

void fz_fdset_snap(struct fz_fdset *s)
{
	int fd;

	memset(s, 0, sizeof(*s));
	for (fd = 0; fd < FZ_MAX_FD; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			s->bits[fd / 64] |= 1ULL << (fd % 64);
}

int fz_fdset_close_new(const struct fz_fdset *s)
{
	int fd, n = 0;

	for (fd = 0; fd < FZ_MAX_FD; fd++) {
		if (s->bits[fd / 64] & (1ULL << (fd % 64)))
			continue;
		if (!close(fd))
			n++;
	}
	return n;
}

bool fz_is_kvm_fd(int fd)
{
	char path[64], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	return !strncmp(target, "anon_inode:", 11) && strstr(target, "kvm");
}

/* ---- kernel log ---- */

void fz_kmsg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int fd, n;

	/* warning level: the console (loglevel=5) shows it */
	n = snprintf(line, sizeof(line), "<4>");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, line, n) < 0)
		n = 0;
	close(fd);
}

int fz_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* The same patterns as the harness' console scanner (run.sh). */
static bool is_splat(const char *msg)
{
	static const char * const pats[] = {
		"Oops", "BUG:", "kernel BUG at", "general protection fault",
		"Kernel panic", "WARNING:", "Call Trace:", "UBSAN:",
		"soft lockup", "blocked for more than", "rcu: INFO:",
		"INFO: trying to register non-static key",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pats); i++)
		if (strstr(msg, pats[i]))
			return true;
	return false;
}

int fz_kmsg_scan(int fd, char *first, size_t len)
{
	char rec[4096];
	int n = 0;
	ssize_t l;

	if (first && len)
		first[0] = 0;
	if (fd < 0)
		return 0;
	for (;;) {
		char *msg;

		l = read(fd, rec, sizeof(rec) - 1);
		if (l < 0 && errno == EPIPE)
			continue;	/* records were overwritten: go on */
		if (l <= 0)
			break;
		rec[l] = 0;
		/* "prio,seq,usec,flags;message\n continuation lines" */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (!is_splat(msg))
			continue;
		if (!n && first && len) {
			snprintf(first, len, "%s", msg);
			first[strcspn(first, "\n")] = 0;
		}
		n++;
	}
	return n;
}

/* ---- ioctl arguments ---- */

#define CANARY_LEN		64
#define CANARY_BYTE		0xc5

void *fz_arg_prep(struct fz_ctx *c, struct fz_arg *a, const void *data,
		  size_t size, size_t extent, unsigned int bad_pct)
{
	uint8_t *p;

	if (extent < size)
		extent = size;
	p = fz_arg_place(&c->rng, &c->arg, data, size, bad_pct, 0, &a->kind);
	a->p = p;
	a->extent = extent;
	a->canary = (a->kind == FZ_PTR_GOOD || a->kind == FZ_PTR_MISALIGNED) &&
		    p + extent + CANARY_LEN <= c->arg.guard;
	if (a->canary)
		memset(p + extent, CANARY_BYTE, CANARY_LEN);
	return p;
}

void fz_arg_check(struct fz_ctx *c, const struct fz_arg *a, const char *name)
{
	const uint8_t *p = a->p;
	unsigned int i;

	if (!a->canary)
		return;
	for (i = 0; i < CANARY_LEN; i++)
		FZ_CHECK(c, p[a->extent + i] == CANARY_BYTE,
			 "%s wrote byte %u past the %zu bytes of its argument",
			 name, i, a->extent);
}

void *fz_arg_result(const struct fz_arg *a)
{
	return fz_ptr_writable(a->kind) ? a->p : NULL;
}
