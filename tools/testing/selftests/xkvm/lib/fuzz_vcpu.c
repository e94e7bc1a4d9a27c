// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_vcpu.c - random contents for the vCPU state ioctls (REGS, SREGS,
 * MSRS, CPUID2, FPU, XSAVE, XCRS, VCPU_EVENTS, DEBUGREGS, MP_STATE,
 * INTERRUPT, NMI, MCE, TSC, TRANSLATE, SIGNAL_MASK, GUEST_DEBUG), and
 * random ioctl numbers in KVMIO's range on any fd.
 *
 * A state is random, or the vCPU's own one (from its GET ioctl) with a few
 * mutations, so that most requests get past the first sanity checks.
 * What the kernel writes back is checked only where KVM promises
 * something: counts within the buffer, nothing past the argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "fuzz.h"
#include "x86_util.h"

#define BAD_PCT			8	/* bad pointers, per argument */

/* MSRs worth hitting: architectural, AMD, KVM's and Hyper-V's own. */
static const uint32_t fz_msrs[] = {
	0x10, 0x11, 0x12, 0x1b, 0x3a, 0x3b, 0x48, 0x49, 0x8b, 0xe7, 0xe8,
	0xfe, 0x10a, 0x174, 0x175, 0x176, 0x179, 0x17a, 0x17b, 0x1a0, 0x1d9,
	0x1db, 0x200, 0x201, 0x20f, 0x250, 0x258, 0x26f, 0x277, 0x2ff, 0x400,
	0x401, 0x402, 0x47f, 0x480, 0x48d, 0x4d0, 0x6e0, 0x800, 0x808, 0x80b,
	0x830, 0x83f, 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083,
	0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
	0xc0000104, 0xc0010000, 0xc0010004, 0xc0010010, 0xc0010015,
	0xc0010114, 0xc0010117, 0xc0010200, 0xc0011029, 0x4b564d00,
	0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05,
	0x4b564d06, 0x40000000, 0x40000001, 0x40000020, 0x40000070,
	0xdeadbeef, 0xffffffff,
};

uint32_t fz_pick_msr(struct fz_rng *r)
{
	if (fz_chance(r, 85))
		return fz_msrs[fz_below(r, ARRAY_SIZE(fz_msrs))];
	if (fz_chance(r, 50))
		return fz_msrs[fz_below(r, ARRAY_SIZE(fz_msrs))] + fz_below(r, 16);
	return fz_rand32(r);
}

/*
 * Fills @buf (@size bytes) for a SET ioctl: the result of @get_cmd with a
 * few mutations, random bytes, zeros or all ones.
 */
static void state_for_set(struct fz_ctx *c, int fd, unsigned long get_cmd,
			  void *buf, size_t size)
{
	switch (fz_below(&c->rng, 10)) {
	case 0:
	case 1:
		fz_fill(&c->rng, buf, size);
		return;
	case 2:
		memset(buf, fz_chance(&c->rng, 50) ? 0 : 0xff, size);
		return;
	default:
		memset(buf, 0, size);
		if (get_cmd && ioctl(fd, get_cmd, buf))
			fz_fill(&c->rng, buf, size);
		if (fz_chance(&c->rng, 85))
			fz_mutate(&c->rng, buf, size, 1 + fz_below(&c->rng, 4));
		return;
	}
}

/* A fixed-size GET or SET: state, placement, call, canary. */
static void fixed_ioctl(struct fz_ctx *c, int fd, unsigned long cmd,
			unsigned long get_cmd, size_t size, const char *name)
{
	uint8_t buf[4096 + 64];
	struct fz_arg a;
	void *p;

	if (size > sizeof(buf))
		size = sizeof(buf);
	if (_IOC_DIR(cmd) & _IOC_WRITE)
		state_for_set(c, fd, get_cmd, buf, size);
	else
		fz_fill(&c->rng, buf, size);
	if (cmd == KVM_SET_SREGS)
		fz_sregs_quirks(c->cfg, (struct kvm_sregs *)buf);
	fz_op(c, "%s fd %d", name, fd);
	p = fz_arg_prep(c, &a, buf, size, size, BAD_PCT);
	ioctl(fd, cmd, p);
	fz_arg_check(c, &a, name);
}

void fz_msrs_ioctl(struct fz_ctx *c, int fd, bool set)
{
	uint32_t n = fz_below(&c->rng, 9), filled, i;
	size_t size;
	struct kvm_msrs *m;
	struct fz_arg a;
	void *p;
	int r;

	if (fz_chance(&c->rng, 5))
		n = fz_chance(&c->rng, 50) ? KVM_MAX_IO_MSRS + fz_below(&c->rng, 3) - 1 :
					     fz_interesting(&c->rng);
	/* a huge count gets a few entries: KVM must not read past them */
	filled = n < 300 ? n : 4;
	size = sizeof(*m) + filled * sizeof(m->entries[0]);
	m = calloc(1, size);
	TEST_ASSERT(m, "out of memory");
	m->nmsrs = n;
	for (i = 0; i < filled; i++) {
		m->entries[i].index = fz_pick_msr(&c->rng);
		m->entries[i].data = fz_chance(&c->rng, 50) ?
				     fz_interesting(&c->rng) : fz_rand64(&c->rng);
		/* See struct fz_config: no EFER.LME without CR4.PAE. */
		if (set && c->cfg->qemu_tcg &&
		    m->entries[i].index == FZ_MSR_EFER)
			m->entries[i].data &= ~EFER_LME;
		if (fz_chance(&c->rng, 5))
			m->entries[i].reserved = fz_rand32(&c->rng);
	}
	fz_op(c, "KVM_%s_MSRS fd %d nmsrs %u first 0x%x", set ? "SET" : "GET",
	      fd, n, n ? m->entries[0].index : 0);
	p = fz_arg_prep(c, &a, m, size, size, BAD_PCT);
	r = ioctl(fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, p);
	fz_arg_check(c, &a, set ? "KVM_SET_MSRS" : "KVM_GET_MSRS");
	FZ_CHECK(c, r == -1 || (r >= 0 && (uint32_t)r <= n),
		 "KVM_%s_MSRS returned %d for %u MSRs", set ? "SET" : "GET",
		 r, n);
	free(m);
}

/* KVM_SET_CPUID2 from the supported table (mutated) or random entries. */
static void cpuid_set(struct fz_ctx *c, int fd, int sys_fd)
{
	struct kvm_cpuid2 *t = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES + 8);
	size_t size;
	uint32_t n, i;
	struct fz_arg a;
	void *p;

	t->nent = KVM_MAX_CPUID_ENTRIES;
	if (sys_fd < 0 || fz_chance(&c->rng, 20) ||
	    ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, t)) {
		t->nent = fz_below(&c->rng, 40);
		for (i = 0; i < t->nent; i++) {
			fz_fill(&c->rng, &t->entries[i], sizeof(t->entries[i]));
			if (fz_chance(&c->rng, 70))
				t->entries[i].function = fz_below(&c->rng, 0x20) |
					(fz_chance(&c->rng, 30) ? 0x80000000 : 0);
		}
	} else {
		fz_mutate(&c->rng, t->entries, t->nent * sizeof(t->entries[0]),
			  fz_below(&c->rng, 6));
	}
	n = t->nent;
	if (fz_chance(&c->rng, 5))
		t->nent = fz_chance(&c->rng, 50) ? KVM_MAX_CPUID_ENTRIES + 1 :
						   fz_interesting(&c->rng);
	size = sizeof(*t) + n * sizeof(t->entries[0]);
	fz_op(c, "KVM_SET_CPUID2 fd %d nent %u", fd, t->nent);
	p = fz_arg_prep(c, &a, t, size, size, BAD_PCT);
	ioctl(fd, KVM_SET_CPUID2, p);
	fz_arg_check(c, &a, "KVM_SET_CPUID2");
	free(t);
}

/* GET_CPUID2 (vCPU fd), or GET_SUPPORTED/EMULATED_CPUID (system fd). */
void fz_cpuid_get(struct fz_ctx *c, int fd, unsigned long cmd,
		  const char *name)
{
	uint32_t n = fz_below(&c->rng, 90);
	struct kvm_cpuid2 hdr, *res;
	size_t extent;
	struct fz_arg a;
	void *p;
	int r;

	if (fz_chance(&c->rng, 10))
		n = fz_interesting(&c->rng);
	hdr.nent = n;
	hdr.padding = fz_chance(&c->rng, 5) ? fz_rand32(&c->rng) : 0;
	extent = sizeof(hdr) + (n <= 1024 ? n : 1024) * sizeof(hdr.entries[0]);
	if (extent > FZ_ARG_AREA / 2)
		extent = FZ_ARG_AREA / 2;
	fz_op(c, "%s fd %d nent %u", name, fd, n);
	p = fz_arg_prep(c, &a, &hdr, sizeof(hdr), extent, BAD_PCT);
	r = ioctl(fd, cmd, p);
	fz_arg_check(c, &a, name);
	res = fz_arg_result(&a);
	if (!r && res)
		FZ_CHECK(c, res->nent <= n, "%s: nent %u in a buffer of %u",
			 name, res->nent, n);
}

static void xcrs_set(struct fz_ctx *c, int fd)
{
	struct kvm_xcrs x;
	struct fz_arg a;
	uint32_t i;
	void *p;

	memset(&x, 0, sizeof(x));
	x.nr_xcrs = fz_below(&c->rng, 3);
	if (fz_chance(&c->rng, 10))
		x.nr_xcrs = fz_chance(&c->rng, 50) ? KVM_MAX_XCRS + 1 :
						     fz_interesting(&c->rng);
	if (fz_chance(&c->rng, 5))
		x.flags = fz_rand32(&c->rng);
	for (i = 0; i < KVM_MAX_XCRS; i++) {
		x.xcrs[i].xcr = fz_chance(&c->rng, 80) ? fz_below(&c->rng, 2) :
							 fz_rand32(&c->rng);
		x.xcrs[i].value = fz_chance(&c->rng, 60) ?
			(1 | (fz_rand64(&c->rng) & 0x2ff)) : fz_interesting(&c->rng);
	}
	fz_op(c, "KVM_SET_XCRS fd %d nr %u xcr0 0x%llx", fd, x.nr_xcrs,
	      (unsigned long long)x.xcrs[0].value);
	p = fz_arg_prep(c, &a, &x, sizeof(x), sizeof(x), BAD_PCT);
	ioctl(fd, KVM_SET_XCRS, p);
	fz_arg_check(c, &a, "KVM_SET_XCRS");
}

static void signal_mask(struct fz_ctx *c, int fd)
{
	/* struct kvm_signal_mask: a u32 length, the sigset right after it. */
	uint8_t m[4 + 8];
	uint32_t len = fz_chance(&c->rng, 85) ? 8 : fz_interesting(&c->rng);
	uint64_t set = fz_chance(&c->rng, 50) ? 0 : fz_rand64(&c->rng);
	struct fz_arg a;
	void *p;

	/* The kick signal must reach KVM_RUN, or a looping guest hangs us. */
	set &= ~(1ULL << (FZ_KICK_SIG - 1));
	memcpy(m, &len, 4);
	memcpy(m + 4, &set, 8);
	fz_op(c, "KVM_SET_SIGNAL_MASK fd %d len %u set 0x%llx", fd, len,
	      (unsigned long long)set);
	if (fz_chance(&c->rng, 20)) {
		ioctl(fd, KVM_SET_SIGNAL_MASK, NULL);
		return;
	}
	/* Never a bad placement: a torn read could block the kick signal. */
	p = fz_arg_prep(c, &a, m, sizeof(m), sizeof(m), 0);
	ioctl(fd, KVM_SET_SIGNAL_MASK, p);
}

static void int_ioctl(struct fz_ctx *c, int fd)
{
	struct kvm_interrupt irq = { .irq = fz_below(&c->rng, 256) };
	struct fz_arg a;
	void *p;

	if (fz_chance(&c->rng, 10))
		irq.irq = fz_interesting(&c->rng);
	fz_op(c, "KVM_INTERRUPT fd %d irq %u", fd, irq.irq);
	p = fz_arg_prep(c, &a, &irq, sizeof(irq), sizeof(irq), BAD_PCT);
	ioctl(fd, KVM_INTERRUPT, p);
}

static void mp_state(struct fz_ctx *c, int fd)
{
	struct kvm_mp_state mp = { .mp_state = fz_below(&c->rng, 11) };
	struct fz_arg a;
	void *p;

	if (fz_chance(&c->rng, 50)) {
		fixed_ioctl(c, fd, KVM_GET_MP_STATE, 0, sizeof(mp),
			    "KVM_GET_MP_STATE");
		return;
	}
	if (fz_chance(&c->rng, 10))
		mp.mp_state = fz_interesting(&c->rng);
	fz_op(c, "KVM_SET_MP_STATE fd %d state %u", fd, mp.mp_state);
	p = fz_arg_prep(c, &a, &mp, sizeof(mp), sizeof(mp), BAD_PCT);
	ioctl(fd, KVM_SET_MP_STATE, p);
}

static void tsc_ioctl(struct fz_ctx *c, int fd)
{
	unsigned long khz = fz_chance(&c->rng, 50) ? 1000000 + fz_below(&c->rng, 3000000) :
						     fz_interesting(&c->rng);

	if (fz_chance(&c->rng, 50)) {
		fz_op(c, "KVM_GET_TSC_KHZ fd %d", fd);
		ioctl(fd, KVM_GET_TSC_KHZ, 0);
		return;
	}
	fz_op(c, "KVM_SET_TSC_KHZ fd %d %lu", fd, khz);
	ioctl(fd, KVM_SET_TSC_KHZ, khz);
}

static void mce_ioctl(struct fz_ctx *c, int fd)
{
	uint64_t cap = fz_below(&c->rng, 40) | (fz_rand64(&c->rng) & 0x1ff00);
	struct kvm_x86_mce mce;
	struct fz_arg a;
	void *p;

	if (fz_chance(&c->rng, 50)) {
		if (fz_chance(&c->rng, 10))
			cap = fz_interesting(&c->rng);
		fz_op(c, "KVM_X86_SETUP_MCE fd %d cap 0x%llx", fd,
		      (unsigned long long)cap);
		p = fz_arg_prep(c, &a, &cap, sizeof(cap), sizeof(cap), BAD_PCT);
		ioctl(fd, KVM_X86_SETUP_MCE, p);
		return;
	}
	fz_fill(&c->rng, &mce, sizeof(mce));
	mce.bank = fz_below(&c->rng, 40);
	if (fz_chance(&c->rng, 70))
		mce.status |= 1ULL << 63;
	fz_op(c, "KVM_X86_SET_MCE fd %d bank %u", fd, mce.bank);
	p = fz_arg_prep(c, &a, &mce, sizeof(mce), sizeof(mce), BAD_PCT);
	ioctl(fd, KVM_X86_SET_MCE, p);
}

static void guest_debug(struct fz_ctx *c, int fd)
{
	struct kvm_guest_debug dbg;
	struct fz_arg a;
	void *p;

	memset(&dbg, 0, sizeof(dbg));
	if (fz_chance(&c->rng, 70)) {
		dbg.control = fz_rand32(&c->rng) & 0x000f0003;
		dbg.arch.debugreg[7] = fz_rand64(&c->rng) & 0xffff03ff;
		dbg.arch.debugreg[0] = fz_below(&c->rng, 0x100000);
	} else {
		fz_fill(&c->rng, &dbg, sizeof(dbg));
	}
	fz_op(c, "KVM_SET_GUEST_DEBUG fd %d control 0x%x", fd, dbg.control);
	p = fz_arg_prep(c, &a, &dbg, sizeof(dbg), sizeof(dbg), BAD_PCT);
	ioctl(fd, KVM_SET_GUEST_DEBUG, p);
}

static void translate(struct fz_ctx *c, int fd)
{
	struct kvm_translation tr;
	struct fz_arg a;
	void *p;

	memset(&tr, 0, sizeof(tr));
	tr.linear_address = fz_chance(&c->rng, 50) ? fz_below(&c->rng, 0x400000) :
						     fz_interesting(&c->rng);
	fz_op(c, "KVM_TRANSLATE fd %d 0x%llx", fd,
	      (unsigned long long)tr.linear_address);
	p = fz_arg_prep(c, &a, &tr, sizeof(tr), sizeof(tr), BAD_PCT);
	ioctl(fd, KVM_TRANSLATE, p);
	fz_arg_check(c, &a, "KVM_TRANSLATE");
}

void fz_vcpu_state_ioctl(struct fz_ctx *c, int fd, int sys_fd)
{
	static const unsigned int weights[] = {
		10, 10, 8, 8, 5, 4, 4, 4, 3, 5, 5, 3, 3, 4, 3, 3, 2, 2, 2, 2, 2, 2,
	};

	switch (fz_weighted(&c->rng, weights, ARRAY_SIZE(weights))) {
	case 0:
		fixed_ioctl(c, fd, KVM_GET_REGS, 0, sizeof(struct kvm_regs),
			    "KVM_GET_REGS");
		break;
	case 1:
		fixed_ioctl(c, fd, KVM_SET_REGS, KVM_GET_REGS,
			    sizeof(struct kvm_regs), "KVM_SET_REGS");
		break;
	case 2:
		fixed_ioctl(c, fd, KVM_GET_SREGS, 0, sizeof(struct kvm_sregs),
			    "KVM_GET_SREGS");
		break;
	case 3:
		fixed_ioctl(c, fd, KVM_SET_SREGS, KVM_GET_SREGS,
			    sizeof(struct kvm_sregs), "KVM_SET_SREGS");
		break;
	case 4:
		fz_msrs_ioctl(c, fd, false);
		break;
	case 5:
		fz_msrs_ioctl(c, fd, true);
		break;
	case 6:
		cpuid_set(c, fd, sys_fd);
		break;
	case 7:
		fz_cpuid_get(c, fd, KVM_GET_CPUID2, "KVM_GET_CPUID2");
		break;
	case 8:
		fixed_ioctl(c, fd, fz_chance(&c->rng, 50) ? KVM_GET_FPU : KVM_SET_FPU,
			    KVM_GET_FPU, sizeof(struct kvm_fpu), "KVM_GET/SET_FPU");
		break;
	case 9:
		fixed_ioctl(c, fd, fz_chance(&c->rng, 40) ? KVM_GET_XSAVE : KVM_SET_XSAVE,
			    KVM_GET_XSAVE, sizeof(struct kvm_xsave),
			    "KVM_GET/SET_XSAVE");
		break;
	case 10:
		if (fz_chance(&c->rng, 40))
			fixed_ioctl(c, fd, KVM_GET_XCRS, 0, sizeof(struct kvm_xcrs),
				    "KVM_GET_XCRS");
		else
			xcrs_set(c, fd);
		break;
	case 11:
		fixed_ioctl(c, fd, KVM_GET_VCPU_EVENTS, 0,
			    sizeof(struct kvm_vcpu_events), "KVM_GET_VCPU_EVENTS");
		break;
	case 12:
		fixed_ioctl(c, fd, KVM_SET_VCPU_EVENTS, KVM_GET_VCPU_EVENTS,
			    sizeof(struct kvm_vcpu_events), "KVM_SET_VCPU_EVENTS");
		break;
	case 13:
		fixed_ioctl(c, fd, fz_chance(&c->rng, 40) ? KVM_GET_DEBUGREGS :
							    KVM_SET_DEBUGREGS,
			    KVM_GET_DEBUGREGS, sizeof(struct kvm_debugregs),
			    "KVM_GET/SET_DEBUGREGS");
		break;
	case 14:
		mp_state(c, fd);
		break;
	case 15:
		int_ioctl(c, fd);
		break;
	case 16:
		fz_op(c, "KVM_NMI fd %d", fd);
		ioctl(fd, KVM_NMI, 0);
		break;
	case 17:
		mce_ioctl(c, fd);
		break;
	case 18:
		tsc_ioctl(c, fd);
		break;
	case 19:
		translate(c, fd);
		break;
	case 20:
		signal_mask(c, fd);
		break;
	default:
		guest_debug(c, fd);
		break;
	}
}

/* ---- random ioctl numbers ---- */

/*
 * Known ioctls of every fd kind (each kind also gets the others': the
 * kernel must refuse them).  Left out: KVM_RUN and KVM_SET_SIGNAL_MASK
 * (their own code bounds them), KVM_SET_USER_MEMORY_REGION (its own
 * code picks host addresses that belong to the fuzzer).
 */
static const unsigned long fz_known_ioctls[] = {
	KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_GET_MSR_INDEX_LIST,
	KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID,
	KVM_GET_EMULATED_CPUID, KVM_GET_MSR_FEATURE_INDEX_LIST,
	KVM_CREATE_VCPU, KVM_GET_DIRTY_LOG, KVM_SET_NR_MMU_PAGES,
	KVM_GET_NR_MMU_PAGES, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR,
	KVM_CREATE_IRQCHIP, KVM_IRQ_LINE, KVM_GET_IRQCHIP, KVM_SET_IRQCHIP,
	KVM_CREATE_PIT, KVM_CREATE_PIT2, KVM_GET_PIT, KVM_SET_PIT,
	KVM_GET_PIT2, KVM_SET_PIT2, KVM_IRQ_LINE_STATUS, KVM_SET_GSI_ROUTING,
	KVM_REINJECT_CONTROL, KVM_IRQFD, KVM_SET_BOOT_CPU_ID, KVM_IOEVENTFD,
	KVM_XEN_HVM_CONFIG, KVM_SET_CLOCK, KVM_GET_CLOCK, KVM_SIGNAL_MSI,
	KVM_SET_PMU_EVENT_FILTER, KVM_REGISTER_COALESCED_MMIO,
	KVM_UNREGISTER_COALESCED_MMIO, KVM_ENABLE_CAP, KVM_CLEAR_DIRTY_LOG,
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
	KVM_TRANSLATE, KVM_INTERRUPT, KVM_GET_MSRS, KVM_SET_MSRS,
	KVM_SET_CPUID, KVM_GET_FPU, KVM_SET_FPU, KVM_GET_LAPIC, KVM_SET_LAPIC,
	KVM_SET_CPUID2, KVM_GET_CPUID2, KVM_TPR_ACCESS_REPORTING,
	KVM_SET_VAPIC_ADDR, KVM_GET_MP_STATE, KVM_SET_MP_STATE, KVM_NMI,
	KVM_SET_GUEST_DEBUG, KVM_X86_SETUP_MCE, KVM_X86_GET_MCE_CAP_SUPPORTED,
	KVM_X86_SET_MCE, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
	KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_XSAVE, KVM_SET_XSAVE,
	KVM_GET_XCRS, KVM_SET_XCRS, KVM_SMI, KVM_KVMCLOCK_CTRL,
	KVM_SET_TSC_KHZ, KVM_GET_TSC_KHZ, KVM_GET_NESTED_STATE,
	KVM_SET_NESTED_STATE, KVM_GET_SUPPORTED_HV_CPUID, KVM_GET_STATS_FD,
	KVM_MEMORY_ENCRYPT_OP, KVM_HYPERV_EVENTFD, KVM_X86_SET_MSR_FILTER,
#ifdef KVM_GET_SREGS2
	KVM_GET_SREGS2, KVM_SET_SREGS2,
#endif
#ifdef KVM_GET_XSAVE2
	KVM_GET_XSAVE2,
#endif
#ifdef KVM_CREATE_GUEST_MEMFD
	KVM_CREATE_GUEST_MEMFD, KVM_SET_MEMORY_ATTRIBUTES,
#endif
#ifdef KVM_XEN_HVM_GET_ATTR
	KVM_XEN_HVM_GET_ATTR, KVM_XEN_HVM_SET_ATTR, KVM_XEN_VCPU_GET_ATTR,
	KVM_XEN_VCPU_SET_ATTR,
#endif
};

/* A random integer argument: small numbers, boundary values, fds. */
static unsigned long random_int_arg(struct fz_rng *r)
{
	switch (fz_below(r, 4)) {
	case 0:
		return fz_below(r, 16);
	case 1:
		return fz_below(r, 300);
	default:
		return fz_interesting(r);
	}
}

void fz_random_ioctl(struct fz_ctx *c, int fd)
{
	uint8_t buf[1024];
	unsigned long cmd;
	struct fz_arg a;
	size_t size;
	void *p;

	cmd = fz_known_ioctls[fz_below(&c->rng, ARRAY_SIZE(fz_known_ioctls))];
	switch (fz_below(&c->rng, 8)) {
	case 0:		/* another direction or size for a known number */
		cmd = _IOC(fz_below(&c->rng, 4), KVMIO, _IOC_NR(cmd),
			   fz_chance(&c->rng, 50) ? _IOC_SIZE(cmd) + 8 :
						    fz_below(&c->rng, 1 << 14));
		break;
	case 1:		/* anything in KVMIO's range */
		cmd = _IOC(fz_below(&c->rng, 4), KVMIO, fz_below(&c->rng, 256),
			   fz_below(&c->rng, 1 << 14));
		break;
	default:
		break;
	}
	if (cmd == KVM_RUN || cmd == KVM_SET_SIGNAL_MASK ||
	    cmd == KVM_SET_USER_MEMORY_REGION)
		return;
	/* Random segment state would break the emulator (struct fz_config). */
	if (c->cfg->qemu_tcg && (cmd == KVM_SET_SREGS
#ifdef KVM_SET_SREGS2
	    || cmd == KVM_SET_SREGS2
#endif
	    || cmd == KVM_SET_MSRS || cmd == KVM_SET_NESTED_STATE))
		return;
#ifdef KVM_SET_USER_MEMORY_REGION2
	if (cmd == KVM_SET_USER_MEMORY_REGION2)
		return;
#endif
	size = _IOC_SIZE(cmd);
	if (!size || fz_chance(&c->rng, 15)) {
		unsigned long v = random_int_arg(&c->rng);

		if (fz_is_own_memory(v))
			v &= 0xfff;

		fz_op(c, "ioctl 0x%lx fd %d arg 0x%lx", cmd, fd, v);
		ioctl(fd, cmd, v);
		return;
	}
	if (size > sizeof(buf) - 64)
		size = sizeof(buf) - 64;
	/* Mostly small values: counts and flags get past the first checks. */
	fz_fill(&c->rng, buf, size);
	if (fz_chance(&c->rng, 60)) {
		size_t i;

		for (i = 0; i + 4 <= size; i += 4)
			if (fz_chance(&c->rng, 70))
				memset(buf + i, 0, fz_chance(&c->rng, 50) ? 4 : 3);
	}
	fz_unpoint(buf, size);
	fz_op(c, "ioctl 0x%lx fd %d size %zu", cmd, fd, size);
	/*
	 * No canary: some ioctls write more than _IOC_SIZE (lists whose
	 * length is in the header).  The argument area takes it.
	 */
	p = fz_arg_prep(c, &a, buf, size, FZ_ARG_AREA / 2, BAD_PCT * 2);
	ioctl(fd, cmd, p);
}
