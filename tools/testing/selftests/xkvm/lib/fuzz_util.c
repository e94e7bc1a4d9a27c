// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_util.c - helpers of xkvm's fuzzer: PRNG, XKVM_FUZZ_* configuration,
 * argument memory with good and bad pointers, and the kernel-state views
 * of the leak check.  See include/fuzz_util.h.
 *
 * Nothing here takes locks or keeps global state: every thread of the
 * fuzzer owns its struct fz_rng, and the argument memory belongs to one
 * thread at a time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "xkvm_util.h"

/* ---- PRNG: xoshiro256** (Blackman and Vigna), seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t fz_mix(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ rotl64(b, 32) ^ 0x6a09e667f3bcc909ULL;

	splitmix64(&x);
	x ^= b;
	return splitmix64(&x);
}

void fz_rng_seed(struct fz_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t fz_rand64(struct fz_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

uint64_t fz_below(struct fz_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)fz_rand64(r) * n) >> 64);
}

unsigned int fz_weighted(struct fz_rng *r, const unsigned int *weights,
			 unsigned int n)
{
	unsigned int i, total = 0;
	uint64_t x;

	for (i = 0; i < n; i++)
		total += weights[i];
	x = fz_below(r, total);
	for (i = 0; i < n; i++) {
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

uint64_t fz_interesting(struct fz_rng *r)
{
	static const uint64_t values[] = {
		0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0xfff, 0x1000, 0x1001, 0x10000, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 0xfffff000, 0xfee00000,
		0x00007ffffffff000ULL, 0x0000800000000000ULL,
		0xffff800000000000ULL, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, ~0ULL, ~0ULL - 0xfff, ~0ULL - 1,
	};

	switch (fz_below(r, 4)) {
	case 0:
		return 1ULL << fz_below(r, 64);
	case 1:
		return fz_below(r, 64);
	default:
		return values[fz_below(r, ARRAY_SIZE(values))];
	}
}

bool fz_is_own_memory(uint64_t v)
{
	unsigned char vec;

	if (v < 0x10000 || v >= 0x0000800000000000ULL)
		return false;
	/* mincore() fails with ENOMEM where nothing is mapped */
	return mincore((void *)(uintptr_t)(v & ~(uint64_t)(PAGE_SIZE - 1)),
		       PAGE_SIZE, &vec) == 0 || errno != ENOMEM;
}

void fz_unpoint(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, p + i, 8);
		if (fz_is_own_memory(v))
			memset(p + i, 0, 8);
	}
}

void fz_fill(struct fz_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v;

	while (len >= 8) {
		v = fz_rand64(r);
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	v = fz_rand64(r);
	memcpy(p, &v, len);
}

void fz_mutate(struct fz_rng *r, void *buf, size_t len, unsigned int n)
{
	uint8_t *p = buf;
	uint64_t v;
	size_t off;

	if (!len)
		return;
	while (n--) {
		off = fz_below(r, len);
		switch (fz_below(r, 5)) {
		case 0:
		case 1:
			p[off] ^= 1 << fz_below(r, 8);
			break;
		case 2:
			p[off] = fz_rand32(r);
			break;
		case 3:
			/* A boundary value in an aligned field of 1-8 bytes. */
			v = fz_interesting(r);
			off &= ~(size_t)7;
			memcpy(p + off, &v, len - off < 8 ? len - off : 8);
			break;
		default:
			off &= ~(size_t)3;
			v = fz_rand32(r);
			memcpy(p + off, &v, len - off < 4 ? len - off : 4);
			break;
		}
	}
}

/* ---- configuration ---- */

static bool env_u64(const char *name, uint64_t *val)
{
	const char *s = getenv(name);
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*val = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "# %s=%s: not a number\n", name, s);
		exit(1);
	}
	return true;
}

void fz_config_read(struct fz_config *c, uint64_t default_seed)
{
	const char *m = getenv("XKVM_MACHINE");
	const char *trace = getenv("XKVM_FUZZ_TRACE");
	uint64_t v;

	memset(c, 0, sizeof(*c));
	c->seed = default_seed;
	env_u64("XKVM_FUZZ_SEED", &c->seed);
	c->iters_set = env_u64("XKVM_FUZZ_ITERS", &c->iters);
	c->secs_set = env_u64("XKVM_FUZZ_SECS", &c->secs);
	c->round = -1;
	if (env_u64("XKVM_FUZZ_ROUND", &v))
		c->round = v;
	c->machine = m && *m ? m : "unknown";
	/* Bochs runs the same guest work about ten times slower than QEMU. */
	c->scale_div = !strcmp(c->machine, "intel") ? 8 : 1;
	c->qemu_tcg = !strcmp(c->machine, "amd");
	c->force = env_u64("XKVM_FUZZ_FORCE", &v) && v;
	c->trace_fd = -1;
	c->trace_kmsg = trace && !strcmp(trace, "/dev/kmsg");
	if (c->trace_kmsg) {
		/* Writes to /dev/kmsg are rate-limited unless this says on. */
		int fd = open("/proc/sys/kernel/printk_devkmsg", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "on\n", 3) != 3)
				fprintf(stderr, "# printk_devkmsg: %s\n", strerror(errno));
			close(fd);
		}
	}
	if (trace && *trace) {
		c->trace_fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				   0644);
		if (c->trace_fd < 0) {
			fprintf(stderr, "# XKVM_FUZZ_TRACE=%s: %s\n", trace,
				strerror(errno));
			exit(1);
		}
	}
}

void fz_trace(const struct fz_config *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n, p = 0;

	if (c->trace_fd < 0)
		return;
	/* To the console (KERN_WARNING): survives a hang of the machine. */
	if (c->trace_kmsg)
		p = snprintf(line, sizeof(line), "<4>xkvm_fuzz: ");
	va_start(ap, fmt);
	n = vsnprintf(line + p, sizeof(line) - 1 - p, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += p;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: lines of several threads do not mix. */
	if (write(c->trace_fd, line, n) < 0)
		return;
}

uint64_t fz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ---- argument memory ---- */

/*
 * A user address nothing maps: far from the binary (0x400000), the heap
 * and the mmap area (below the stack, near 0x7fxxxxxxxxxx).  Checked at
 * init time.
 */
#define FZ_HOLE_ADDR		0x00003ffff0000000ULL

void fz_argmem_init(struct fz_argmem *m, struct fz_rng *r)
{
	size_t page = PAGE_SIZE;
	uint8_t *p;

	m->map_size = FZ_ARG_AREA + 2 * page;
	p = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap of the argument area failed");
	m->area = p;
	m->guard = p + FZ_ARG_AREA;
	m->ro = m->guard + page;
	fz_fill(r, m->area, FZ_ARG_AREA);
	fz_fill(r, m->ro, page);
	TEST_ASSERT(!mprotect(m->guard, page, PROT_NONE), "mprotect failed");
	TEST_ASSERT(!mprotect(m->ro, page, PROT_READ), "mprotect failed");
	m->hole = (uint8_t *)FZ_HOLE_ADDR;
	TEST_ASSERT(msync(m->hole, page, MS_ASYNC) && errno == ENOMEM,
		    "something is mapped at 0x%llx", FZ_HOLE_ADDR);
}

void fz_argmem_free(struct fz_argmem *m)
{
	if (m->area)
		munmap(m->area, m->map_size);
	memset(m, 0, sizeof(*m));
}

void *fz_arg_area(struct fz_rng *r, struct fz_argmem *m, size_t size)
{
	if (size >= FZ_ARG_AREA)
		return m->area;
	return m->area + (fz_below(r, FZ_ARG_AREA - size + 1) & ~(size_t)7);
}

const char *fz_ptr_kind_name(enum fz_ptr_kind k)
{
	static const char * const names[FZ_PTR_NR] = {
		"good", "good-end", "misaligned", "read-only", "straddle",
		"NULL", "low", "guard", "hole", "kernel", "non-canonical",
	};

	return k < FZ_PTR_NR ? names[k] : "?";
}

static void copy_in(void *dst, const void *src, size_t size)
{
	if (src)
		memcpy(dst, src, size);
}

void *fz_arg_place(struct fz_rng *r, struct fz_argmem *m, const void *data,
		   size_t size, unsigned int bad_pct, unsigned int bad_mask,
		   enum fz_ptr_kind *kind)
{
	static const uint64_t kernel_addrs[] = {
		0xffff800000000000ULL, 0xffff888000000000ULL,
		0xffffffff81000000ULL, 0xffffffffff600000ULL,
		0xfffffffffffff000ULL,
	};
	static const uint64_t noncanonical[] = {
		0x0000800000000000ULL, 0x8000000000000000ULL,
		0xdead000000000000ULL, 0x00ff000000000000ULL,
	};
	enum fz_ptr_kind k;
	uint8_t *p;

	if (size > FZ_ARG_AREA)
		size = FZ_ARG_AREA;
	if (!bad_mask)
		bad_mask = ~0u;
	k = FZ_PTR_GOOD;
	if (fz_chance(r, bad_pct)) {
		unsigned int tries;

		for (tries = 0; tries < 32; tries++) {
			k = FZ_PTR_MISALIGNED + fz_below(r, FZ_PTR_NR - FZ_PTR_MISALIGNED);
			if (bad_mask & (1u << k))
				break;
		}
		if (!(bad_mask & (1u << k)))
			k = FZ_PTR_GOOD;
	} else if (fz_chance(r, 30)) {
		k = FZ_PTR_GOOD_END;
	}

	switch (k) {
	case FZ_PTR_GOOD:
		p = fz_arg_area(r, m, size);
		copy_in(p, data, size);
		break;
	case FZ_PTR_GOOD_END:
		p = m->guard - size;
		copy_in(p, data, size);
		break;
	case FZ_PTR_MISALIGNED:
		p = m->area + 1 + fz_below(r, 7);
		if (size > FZ_ARG_AREA - 8)
			size = FZ_ARG_AREA - 8;
		copy_in(p, data, size);
		break;
	case FZ_PTR_RO:
		p = m->ro;
		break;
	case FZ_PTR_STRADDLE:
		p = m->guard - size / 2;
		copy_in(p, data, size / 2);
		break;
	case FZ_PTR_NULL:
		p = NULL;
		break;
	case FZ_PTR_LOW:
		p = (uint8_t *)(uintptr_t)(0x1000 + (fz_below(r, 8) << 12));
		break;
	case FZ_PTR_GUARD:
		p = m->guard + fz_below(r, 64) * 8;
		break;
	case FZ_PTR_HOLE:
		p = m->hole + fz_below(r, 16) * 8;
		break;
	case FZ_PTR_KERNEL:
		p = (uint8_t *)(uintptr_t)kernel_addrs[fz_below(r, ARRAY_SIZE(kernel_addrs))];
		break;
	default:
		p = (uint8_t *)(uintptr_t)noncanonical[fz_below(r, ARRAY_SIZE(noncanonical))];
		k = FZ_PTR_NONCANONICAL;
		break;
	}
	*kind = k;
	return p;
}

/* ---- process and kernel state ---- */

int fz_lowest_free_fd(void)
{
	int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int fz_count_kvm_fds(char *first, size_t len)
{
	char path[300], target[256];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	ssize_t l;

	if (first && len)
		first[0] = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		if (strncmp(target, "anon_inode:", 11) || !strstr(target, "kvm"))
			continue;
		if (!n && first && len)
			snprintf(first, len, "fd %s -> %s", de->d_name, target);
		n++;
	}
	closedir(d);
	return n;
}

const char * const fz_kmem_names[FZ_KMEM_NR] = {
	[FZ_KMEM_MEMFREE] = "MemFree",
	[FZ_KMEM_SUNRECLAIM] = "SUnreclaim",
	[FZ_KMEM_KERNELSTACK] = "KernelStack",
	[FZ_KMEM_PAGETABLES] = "PageTables",
	[FZ_KMEM_SECPAGETABLES] = "SecPageTables",
	[FZ_KMEM_VMALLOC] = "VmallocUsed",
	[FZ_KMEM_PERCPU] = "Percpu",
};

static bool write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok;
}

bool fz_kmem_settle(void)
{
	char path[320];
	struct dirent *de;
	DIR *d;

	sync();
	if (!write_file("/proc/sys/vm/drop_caches", "3"))
		return false;
	d = opendir("/sys/kernel/slab");
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
				 de->d_name);
			write_file(path, "1");
		}
		closedir(d);
	}
	/* Compaction drains the per-CPU free lists into the buddy allocator. */
	write_file("/proc/sys/vm/compact_memory", "1");
	return true;
}

long fz_module_refcnt(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	if (!name)
		return -1;
	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

void fz_kmem_read(struct fz_kmem *k, const char *core, const char *vendor)
{
	char line[256];
	FILE *f;
	int i;

	for (i = 0; i < FZ_KMEM_NR; i++)
		k->kb[i] = -1;
	f = fopen("/proc/meminfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			for (i = 0; i < FZ_KMEM_NR; i++) {
				size_t l = strlen(fz_kmem_names[i]);

				if (!strncmp(line, fz_kmem_names[i], l) &&
				    line[l] == ':')
					k->kb[i] = strtol(line + l + 1, NULL, 10);
			}
		}
		fclose(f);
	}
	k->refcnt[0] = fz_module_refcnt(core);
	k->refcnt[1] = fz_module_refcnt(vendor);
}
