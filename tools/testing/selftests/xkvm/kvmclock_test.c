// SPDX-License-Identifier: GPL-2.0
/*
 * kvmclock_test.c - the paravirtual clock and the guest's TSC rate, as
 * stock KVM implements them (every case passes against it in reference
 * mode):
 *
 * - the capabilities (KVM_CAP_ADJUST_CLOCK's flags, KVM_CAP_KVMCLOCK_CTRL),
 *   the kvmclock bits of supported CPUID 0x40000001 and the MSR index list;
 * - a guest enabling MSR_KVM_SYSTEM_TIME_NEW and reading its pvclock page:
 *   an even version, a non-zero multiplier, a time that advances with the
 *   host's CLOCK_MONOTONIC, the stable bit as KVM_GET_CLOCK reports the
 *   master clock, PVCLOCK_GUEST_STOPPED after KVM_KVMCLOCK_CTRL, the time
 *   after KVM_SET_CLOCK, and the wall clock of MSR_KVM_WALL_CLOCK_NEW;
 * - KVM_GET_CLOCK/KVM_SET_CLOCK (values, KVM_CLOCK_REALTIME, bad flags);
 * - KVM_SET/GET_TSC_KHZ without TSC scaling;
 * - odd MSR values (a page crossing a boundary, outside guest memory, on
 *   MMIO): accepted by the guest and the host, nothing breaks;
 * - two vCPUs reading their clocks at once never see time go backwards
 *   when the clock is marked stable.
 *
 * The test machine is emulated and slow: timing checks are loose.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "x86_util.h"
#include "xkvm_util.h"

struct pv_wall_clock {
	uint32_t version;
	uint32_t sec;
	uint32_t nsec;
} __attribute__((packed));

#ifndef KVM_FEATURE_CLOCKSOURCE
#define KVM_FEATURE_CLOCKSOURCE			0
#define KVM_FEATURE_CLOCKSOURCE2		3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT	24
#endif
#ifndef MSR_KVM_WALL_CLOCK_NEW
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#endif
#define PVCLOCK_TSC_STABLE_BIT	(1 << 0)
#define PVCLOCK_GUEST_STOPPED	(1 << 1)
#define CLOCK_FLAGS		(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | \
				 KVM_CLOCK_HOST_TSC)
#define NSEC			1000000000ULL
#define WATCHDOG_MS		120000
#define MONO_LOOPS		20000

/* ---------------------------- guest side ---------------------------- */

static struct pvti pvti[2] __attribute__((aligned(64)));
static struct pv_wall_clock wall __attribute__((aligned(64)));
static uint64_t last_seen;
static uint64_t backwards;

static void guest_pvclock(void)
{
	uint32_t version;
	uint8_t flags;
	uint64_t t;
	int i;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvti[0] | 1);
	GUEST_SYNC(1);
	for (i = 0; i < 3; i++) {
		t = pvclock_read(&pvti[0], &flags, &version);
		GUEST_ASSERT_EQ(0, version & 1);
		GUEST_ASSERT_NE(0, pvti[0].tsc_to_system_mul);
		GUEST_SYNC_ARGS(t, flags, version, 0);
	}
	/* after KVM_KVMCLOCK_CTRL */
	pvclock_read(&pvti[0], &flags, NULL);
	GUEST_SYNC_ARGS(2, flags, 0, 0);
	/* the guest acknowledges it; the next update keeps it clear */
	pvti[0].flags &= ~PVCLOCK_GUEST_STOPPED;
	/* after KVM_SET_CLOCK */
	t = pvclock_read(&pvti[0], &flags, NULL);
	GUEST_SYNC_ARGS(3, t, flags, 0);
	wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)&wall);
	t = pvclock_read(&pvti[0], NULL, NULL);
	GUEST_SYNC_ARGS(4, t, 0, 0);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	GUEST_ASSERT_EQ(0, rdmsr(MSR_KVM_SYSTEM_TIME_NEW));
	GUEST_DONE();
}

static void guest_tsc(void)
{
	for (;;)
		GUEST_SYNC(rdtsc());
}

/* Values that are no page of RAM: the guest gets no #GP for any. */
static void guest_odd_msrs(uint64_t mmio)
{
	static const uint64_t odd[] = {
		0xffdULL | 1,			/* crosses a page boundary */
		(1ULL << 39) | 1,		/* no memslot */
		0x123ULL,			/* enable bit and a misalignment */
	};
	uint64_t v;
	int i;

	for (i = 0; i < 3; i++) {
		GUEST_ASSERT_EQ(GUEST_NO_FAULT,
				wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, odd[i]));
		GUEST_ASSERT_EQ(GUEST_NO_FAULT,
				rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &v));
		GUEST_ASSERT_EQ(odd[i], v);
	}
	GUEST_ASSERT_EQ(GUEST_NO_FAULT,
			wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, mmio | 1));
	GUEST_ASSERT_EQ(GUEST_NO_FAULT,
			wrmsr_safe(MSR_KVM_SYSTEM_TIME, mmio | 1));
	GUEST_ASSERT_EQ(GUEST_NO_FAULT,
			wrmsr_safe(MSR_KVM_WALL_CLOCK_NEW, mmio));
	GUEST_ASSERT_EQ(GUEST_NO_FAULT,
			wrmsr_safe(MSR_KVM_WALL_CLOCK, 1ULL << 39));
	GUEST_SYNC(1);		/* the host asks for updates meanwhile */
	GUEST_SYNC(2);
	GUEST_DONE();
}

/* Each vCPU: its clock never reads below what any vCPU read before. */
static void guest_mono(uint64_t id)
{
	volatile struct pvti *p = &pvti[id];
	uint64_t before, t;
	uint8_t flags;
	int i;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)p | 1);
	GUEST_SYNC(id);
	for (i = 0; i < MONO_LOOPS; i++) {
		before = __atomic_load_n(&last_seen, __ATOMIC_ACQUIRE);
		t = pvclock_read(p, &flags, NULL);
		if (t < before) {
			__atomic_fetch_add(&backwards, 1, __ATOMIC_RELAXED);
			GUEST_ASSERT(!(flags & PVCLOCK_TSC_STABLE_BIT));
		}
		while (before < t &&
		       !__atomic_compare_exchange_n(&last_seen, &before, t, false,
						    __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE))
			;
	}
	GUEST_DONE();
}

/* ---------------------------- host side ----------------------------- */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void get_clock(struct kvm_vm *vm, struct kvm_clock_data *d)
{
	memset(d, 0, sizeof(*d));
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_CLOCK, d), "KVM_GET_CLOCK: %m");
}

static int set_clock(struct kvm_vm *vm, uint64_t clock, uint32_t flags,
		     uint64_t realtime)
{
	struct kvm_clock_data d = {
		.clock = clock, .flags = flags, .realtime = realtime,
	};

	return ioctl(vm->fd, KVM_SET_CLOCK, &d);
}

TEST(caps_cpuid_msr_list)
{
	struct kvm_cpuid_entry2 *e;
	struct kvm_msr_list *list;
	struct kvm_cpuid2 *c;

	EXPECT_EQ(CLOCK_FLAGS, kvm_check_cap(KVM_CAP_ADJUST_CLOCK));
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_KVMCLOCK_CTRL));
	EXPECT_LT(0, kvm_check_cap(KVM_CAP_GET_TSC_KHZ));

	c = kvm_get_supported_cpuid();
	e = cpuid2_find(c, 0x40000001, 0);
	ASSERT_NE(NULL, e);
	EXPECT_TRUE(e->eax & (1U << KVM_FEATURE_CLOCKSOURCE));
	EXPECT_TRUE(e->eax & (1U << KVM_FEATURE_CLOCKSOURCE2));
	EXPECT_TRUE(e->eax & (1U << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT));

	list = kvm_get_msr_list(KVM_GET_MSR_INDEX_LIST);
	EXPECT_TRUE(msr_list_has(list, MSR_KVM_SYSTEM_TIME));
	EXPECT_TRUE(msr_list_has(list, MSR_KVM_WALL_CLOCK));
	EXPECT_TRUE(msr_list_has(list, MSR_KVM_SYSTEM_TIME_NEW));
	EXPECT_TRUE(msr_list_has(list, MSR_KVM_WALL_CLOCK_NEW));
	free(list);
	free(c);
}

/* Guest time advanced as much as host time, within a loose margin. */
static void check_tracks(struct __test_metadata *_metadata, uint64_t g0,
			 uint64_t g1, uint64_t h0, uint64_t h1)
{
	int64_t dg = g1 - g0, dh = h1 - h0, slack = dh / 5 + 100000000;

	TH_LOG("guest %lld ns, host %lld ns", (long long)dg, (long long)dh);
	EXPECT_LT(0, dg);
	EXPECT_LT(dg, dh + slack);
	EXPECT_GT(dg, dh - slack);
}

TEST(pvclock_in_guest)
{
	struct kvm_clock_data d;
	struct kvm_vcpu *vcpu;
	uint64_t g[3], h[3], t, real;
	struct pv_wall_clock wc;
	struct kvm_vm *vm;
	struct ucall uc;
	int i;

	vm = vm_create_with_one_vcpu(&vcpu, guest_pvclock);
	vcpu_set_supported_cpuid(vcpu);
	/* no kvmclock yet */
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0));
	EXPECT_EQ(EINVAL, errno);

	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ((uint64_t)(uintptr_t)&pvti[0] | 1,
		  vcpu_get_msr(vcpu, MSR_KVM_SYSTEM_TIME_NEW));
	for (i = 0; i < 3; i++) {
		if (i)
			usleep(300000);
		ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
		g[i] = uc.args[0];
		h[i] = now_ns(CLOCK_MONOTONIC);
		EXPECT_EQ(0, uc.args[2] & 1);
	}
	check_tracks(_metadata, g[0], g[2], h[0], h[2]);
	get_clock(vm, &d);
	TH_LOG("pvclock flags %#llx, KVM_GET_CLOCK flags %#x",
	       (unsigned long long)uc.args[1], d.flags);
	EXPECT_EQ(0, d.flags & ~CLOCK_FLAGS);
	EXPECT_EQ(!!(d.flags & KVM_CLOCK_TSC_STABLE),
		  !!(uc.args[1] & PVCLOCK_TSC_STABLE_BIT));
	/* the VM's clock and the guest's agree roughly */
	EXPECT_LT(d.clock, g[2] + 5 * NSEC);
	EXPECT_GT(d.clock + 5 * NSEC, g[2]);

	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0));
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_TRUE(uc.args[1] & PVCLOCK_GUEST_STOPPED);

	/* move the clock ahead by an hour: the guest sees it */
	get_clock(vm, &d);
	ASSERT_EQ(0, set_clock(vm, d.clock + 3600 * NSEC, 0, 0));
	vcpu_run_sync(vcpu, &uc, 3);
	t = uc.args[1];
	EXPECT_GE(t, d.clock + 3600 * NSEC);
	EXPECT_LT(t, d.clock + 3700 * NSEC);
	EXPECT_FALSE(uc.args[2] & PVCLOCK_GUEST_STOPPED);

	/* wall clock + kvmclock = host real time */
	vcpu_run_sync(vcpu, &uc, 4);
	real = now_ns(CLOCK_REALTIME);
	sync_global_from_guest(vm, wall);
	wc = wall;
	EXPECT_EQ(0, wc.version & 1);
	EXPECT_NE(0, wc.version);
	EXPECT_EQ((uint64_t)(uintptr_t)&wall,
		  vcpu_get_msr(vcpu, MSR_KVM_WALL_CLOCK_NEW));
	t = (uint64_t)wc.sec * NSEC + wc.nsec + uc.args[1];
	TH_LOG("wall clock %u.%09u, guest says %llu, host %llu", wc.sec,
	       wc.nsec, (unsigned long long)t, (unsigned long long)real);
	EXPECT_LT(t, real + 5 * NSEC);
	EXPECT_GT(t + 5 * NSEC, real);

	vcpu_expect_done(vcpu);
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_KVM_SYSTEM_TIME_NEW));
	kvm_vm_free(vm);
}

TEST(get_set_clock)
{
	struct kvm_clock_data d;
	struct kvm_vm *vm;
	uint64_t real;

	vm = vm_create_barebones();
	get_clock(vm, &d);
	EXPECT_EQ(0, d.flags & ~CLOCK_FLAGS);
	if (d.flags & KVM_CLOCK_REALTIME) {
		real = now_ns(CLOCK_REALTIME);
		EXPECT_LT(d.realtime, real + NSEC);
		EXPECT_GT(d.realtime + 5 * NSEC, real);
	}

	ASSERT_EQ(0, set_clock(vm, 1000 * NSEC, 0, 0));
	get_clock(vm, &d);
	EXPECT_GE(d.clock, 1000 * NSEC);
	EXPECT_LT(d.clock, 1010 * NSEC);

	/* set "2000 s, as of 3 s ago": now it is 2003 s */
	real = now_ns(CLOCK_REALTIME);
	ASSERT_EQ(0, set_clock(vm, 2000 * NSEC, KVM_CLOCK_REALTIME,
			       real - 3 * NSEC));
	get_clock(vm, &d);
	EXPECT_GE(d.clock, 2003 * NSEC);
	EXPECT_LT(d.clock, 2013 * NSEC);

	/* a realtime in the future does not move the clock back */
	ASSERT_EQ(0, set_clock(vm, 3000 * NSEC, KVM_CLOCK_REALTIME,
			       now_ns(CLOCK_REALTIME) + 100 * NSEC));
	get_clock(vm, &d);
	EXPECT_GE(d.clock, 3000 * NSEC);
	EXPECT_LT(d.clock, 3010 * NSEC);

	/* KVM_GET_CLOCK's result is accepted back */
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_CLOCK, &d));

	EXPECT_EQ(-1, set_clock(vm, 0, 1U << 5, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_clock(vm, 0, 0x80000000U, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_SET_CLOCK, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_GET_CLOCK, NULL));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

/* Guest TSC ticks per host ms over @ms of host time. */
static uint64_t guest_tsc_rate(struct kvm_vcpu *vcpu, unsigned int ms)
{
	uint64_t t0, t1, h0, h1;
	struct ucall uc;

	TEST_ASSERT(vcpu_run_ucall(vcpu, &uc) == UCALL_SYNC, "no sync");
	t0 = uc.args[0];
	h0 = now_ns(CLOCK_MONOTONIC);
	usleep(ms * 1000);
	TEST_ASSERT(vcpu_run_ucall(vcpu, &uc) == UCALL_SYNC, "no sync");
	t1 = uc.args[0];
	h1 = now_ns(CLOCK_MONOTONIC);
	return (t1 - t0) * 1000000 / (h1 - h0);
}

TEST(tsc_khz)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int khz, near, fast;
	struct kvm_clock_data d;
	uint64_t rate;

	vm = vm_create_with_one_vcpu(&vcpu, guest_tsc);
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	ASSERT_LT(0, khz);
	TH_LOG("TSC %d kHz, KVM_CAP_TSC_CONTROL %d", khz,
	       kvm_check_cap(KVM_CAP_TSC_CONTROL));
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, khz));
	EXPECT_EQ(khz, ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	/* 100 ppm off: within KVM's tolerance (250 ppm) */
	near = khz - khz / 10000;
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, near));
	EXPECT_EQ(near, ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, 0));	/* the host's */
	EXPECT_EQ(khz, ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
	if (!kvm_check_cap(KVM_CAP_TSC_CONTROL)) {
		/* no scaling: a slower TSC cannot be had */
		EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, khz / 2));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, khz));

		/* a faster one: the TSC catches up at guest entries */
		rate = guest_tsc_rate(vcpu, 500);
		TH_LOG("guest TSC at the host's rate: %llu kHz",
		       (unsigned long long)rate);
		EXPECT_LT(rate * 100, (uint64_t)khz * 105);
		/*
		 * KVM catches up from its master clock's time when it has
		 * one, which stands still: then the TSC keeps the host's
		 * rate.  xkvm leaves the master clock and catches up.
		 */
		get_clock(vm, &d);
		fast = khz + khz / 5;
		EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, fast));
		EXPECT_EQ(fast, ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0));
		rate = guest_tsc_rate(vcpu, 500);
		TH_LOG("guest TSC at %d kHz: %llu kHz (master clock %s)", fast,
		       (unsigned long long)rate,
		       d.flags & KVM_CLOCK_TSC_STABLE ? "on" : "off");
		if (!(d.flags & KVM_CLOCK_TSC_STABLE) || !xkvm_reference_mode())
			EXPECT_GT(rate * 100, (uint64_t)khz * 110);
		EXPECT_LT(rate * 100, (uint64_t)khz * 130);
	}
	kvm_vm_free(vm);
}

TEST(odd_msr_values)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t mmio = 0xd0000000ULL;	/* no memslot: MMIO */
	uint64_t v;

	vm = vm_create_with_one_vcpu(&vcpu, guest_odd_msrs);
	vm_install_fault_skipper(vm);
	vcpu_args_set(vcpu, 1, mmio);

	/* host-initiated: any value, read back as written */
	EXPECT_EQ(1, __vcpu_set_msr(vcpu, MSR_KVM_SYSTEM_TIME_NEW, 0xffd));
	EXPECT_EQ(1, __vcpu_get_msr(vcpu, MSR_KVM_SYSTEM_TIME_NEW, &v));
	EXPECT_EQ(0xffd, v);
	EXPECT_EQ(1, __vcpu_set_msr(vcpu, MSR_KVM_SYSTEM_TIME, 1ULL << 50 | 1));
	EXPECT_EQ(1, __vcpu_get_msr(vcpu, MSR_KVM_SYSTEM_TIME, &v));
	EXPECT_EQ(1ULL << 50 | 1, v);
	EXPECT_EQ(1, __vcpu_set_msr(vcpu, MSR_KVM_WALL_CLOCK_NEW, 1ULL << 45));
	EXPECT_EQ(1, __vcpu_get_msr(vcpu, MSR_KVM_WALL_CLOCK, &v));
	EXPECT_EQ(1ULL << 45, v);
	/* an enabled clock, even nowhere, can be told it was stopped */
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0));

	vcpu_expect_sync(vcpu, 1);
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0));
	EXPECT_EQ(0, set_clock(vm, 5 * NSEC, 0, 0));
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_TSC_KHZ, 0));
	vcpu_expect_sync(vcpu, 2);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

struct runner {
	struct kvm_vcpu *vcpu;
	pthread_t tid;
	int r, err;
};

static void on_watchdog(int sig)
{
}

static void *runner_fn(void *arg)
{
	struct runner *rn = arg;

	rn->r = vcpu_run_timed(rn->vcpu, WATCHDOG_MS, SIGUSR1);
	rn->err = errno;
	return NULL;
}

TEST(two_vcpus_monotonic)
{
	struct sigaction sa = { .sa_handler = on_watchdog };
	struct kvm_vcpu *vcpu[2];
	struct runner rn[2];
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t tsc0, tsc1;
	struct pvti p[2];
	int i, khz;

	sigaction(SIGUSR1, &sa, NULL);
	vm = vm_create_long_mode();
	for (i = 0; i < 2; i++) {
		vcpu[i] = vm_vcpu_add(vm, i, guest_mono);
		vcpu_set_supported_cpuid(vcpu[i]);
		vcpu_args_set(vcpu[i], 1, (uint64_t)i);
		vcpu_expect_sync(vcpu[i], i);
	}
	/* both vCPUs have the same TSC (read 1 s apart at most) */
	tsc0 = vcpu_get_msr(vcpu[0], MSR_IA32_TSC);
	tsc1 = vcpu_get_msr(vcpu[1], MSR_IA32_TSC);
	khz = ioctl(vcpu[0]->fd, KVM_GET_TSC_KHZ, 0);
	EXPECT_GE(tsc1, tsc0);
	EXPECT_LT(tsc1 - tsc0, (uint64_t)khz * 1000);
	for (i = 0; i < 2; i++) {
		rn[i].vcpu = vcpu[i];
		ASSERT_EQ(0, pthread_create(&rn[i].tid, NULL, runner_fn, &rn[i]));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(rn[i].tid, NULL));
		ASSERT_EQ(0, rn[i].r) {
			TH_LOG("vCPU %d: KVM_RUN %d errno %d", i, rn[i].r,
			       rn[i].err);
		}
		ASSERT_EQ(UCALL_DONE, get_ucall(vcpu[i], &uc)) {
			TH_LOG("vCPU %d: %s", i, ucall_describe(&uc));
		}
	}
	sync_global_from_guest(vm, backwards);
	sync_global_from_guest(vm, pvti);
	memcpy(p, pvti, sizeof(p));
	TH_LOG("flags %#x/%#x, %llu backward steps", p[0].flags, p[1].flags,
	       (unsigned long long)backwards);
	EXPECT_EQ(p[0].tsc_to_system_mul, p[1].tsc_to_system_mul);
	EXPECT_EQ(p[0].tsc_shift, p[1].tsc_shift);
	if (p[0].flags & p[1].flags & PVCLOCK_TSC_STABLE_BIT) {
		EXPECT_EQ(0, backwards);
	}
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
