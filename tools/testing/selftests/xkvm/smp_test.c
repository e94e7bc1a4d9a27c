// SPDX-License-Identifier: GPL-2.0
/*
 * smp_test.c - several vCPUs on the in-kernel local APIC, as stock KVM
 * implements it (a VM that did KVM_CREATE_IRQCHIP before creating vCPUs):
 *
 * - fixed IPIs between vCPUs, each run from its own host thread: physical
 *   destination, flat logical destination, the all-but-self shorthand, and
 *   an x2APIC physical destination above 255; the receivers wait in
 *   STI;HLT in the kernel and report through ucalls;
 * - KVM_SIGNAL_MSI waking a halted vCPU, and its return values;
 * - INIT/SIPI: an AP starts in KVM_MP_STATE_UNINITIALIZED, KVM_RUN blocks
 *   on it, a lone SIPI is dropped, INIT moves it to INIT_RECEIVED (KVM_RUN
 *   returns EAGAIN), SIPI starts it in real mode at CS = vector << 8, IP 0;
 * - KVM_SET/GET_MP_STATE for every x86 state, bad values, no irqchip;
 * - a halted idle vCPU costs the host no CPU time, and a signal with
 *   immediate_exit gets KVM_RUN out of the halt (EINTR).
 *
 * Every KVM_RUN runs under a watchdog signal, so a vCPU waiting for an
 * interrupt that never comes fails the test instead of hanging it.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "irqchip_util.h"
#include "x86_util.h"

#define WATCHDOG_MS		10000

#define VEC_PHYS		0x41
#define VEC_LOGICAL		0x42
#define VEC_ALLBUT		0x43
#define VEC_X2			0x44
#define VEC_MSI			0x45

#define NR_IPI_VCPUS		3

/* ---------------------------- guest side ---------------------------- */

#define VOL(x)			(*(volatile __typeof__(x) *)&(x))

/* ipi_seen[APIC ID][vector - 0x40], filled by each receiver's handler. */
static uint64_t ipi_seen[NR_IPI_VCPUS][4];
static uint64_t ipi_stray;
static uint64_t x2_count, x2_receiver;
static uint64_t msi_count;
static uint64_t shadow_skips;

static inline void cli(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ __volatile__("sti; nop" : : : "memory");
}

static void xapic_send(uint8_t dest, uint32_t icr)
{
	xapic_write(APIC_ICR2, (uint32_t)dest << 24);
	xapic_write(APIC_ICR, icr);
}

/* Halt (IF=0 check, then STI;HLT) until *@cnt >= @n; returns with IF=0. */
static void wait_count(uint64_t *cnt, uint64_t n)
{
	for (;;) {
		cli();
		if (VOL(*cnt) >= n)
			break;
		__asm__ __volatile__("sti; hlt" : : : "memory");
	}
}

/*
 * STI;HLT waits atomically (STI blocks interrupts for one instruction),
 * but the emulator behind the reference machine sometimes delivers an
 * interrupt between the two; the HLT would then wait for good.  Skip such
 * a HLT and count it (the host reports the artefact).
 */
static void skip_shadowed_hlt(struct ex_regs *regs)
{
	const uint8_t *ip = (const uint8_t *)regs->rip;

	if (ip[0] == 0xf4 && ip[-1] == 0xfb) {
		regs->rip++;
		__atomic_fetch_add(&shadow_skips, 1, __ATOMIC_RELAXED);
	}
}

static void ipi_handler(struct ex_regs *regs)
{
	uint32_t id = xapic_read(APIC_ID) >> 24;
	uint64_t v = regs->vector;

	skip_shadowed_hlt(regs);

	if (id < NR_IPI_VCPUS && v >= 0x40 && v < 0x44)
		VOL(ipi_seen[id][v - 0x40]) = VOL(ipi_seen[id][v - 0x40]) + 1;
	else
		VOL(ipi_stray) = VOL(ipi_stray) + 1;
	xapic_write(APIC_EOI, 0);
}

static uint64_t ipi_total(uint32_t id)
{
	return VOL(ipi_seen[id][1]) + VOL(ipi_seen[id][2]) +
	       VOL(ipi_seen[id][3]);
}

/* An AP of the IPI test: waits for @expected IPIs in STI;HLT. */
static void guest_ipi_ap(uint64_t expected)
{
	uint32_t id = xapic_read(APIC_ID) >> 24;

	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	xapic_write(APIC_DFR, 0xffffffff);		/* flat model */
	xapic_write(APIC_LDR, (1u << id) << 24);
	GUEST_SYNC(1);
	for (;;) {
		cli();
		if (ipi_total(id) >= expected)
			break;
		__asm__ __volatile__("sti; hlt" : : : "memory");
	}
	sti();
	GUEST_SYNC_ARGS(2, VOL(ipi_seen[id][1]), VOL(ipi_seen[id][2]),
			VOL(ipi_seen[id][3]));
	GUEST_DONE();
}

static void guest_ipi_bsp(void)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	/* Physical destination: APIC ID 1. */
	xapic_send(1, VEC_PHYS);
	/* Flat logical destination: LDR bits of vCPUs 1 and 2. */
	xapic_send(0x06, APIC_DEST_LOGICAL | VEC_LOGICAL);
	/* Everybody but the sender. */
	xapic_send(0, APIC_DEST_ALLBUT | VEC_ALLBUT);
	GUEST_DONE();
}

static void x2_handler(struct ex_regs *regs)
{
	skip_shadowed_hlt(regs);
	VOL(x2_receiver) = rdmsr(X2APIC_MSR(APIC_ID));
	VOL(x2_count) = VOL(x2_count) + 1;
	wrmsr(X2APIC_MSR(APIC_EOI), 0);
}

static void x2apic_enable(void)
{
	uint64_t base = rdmsr(MSR_IA32_APICBASE);

	wrmsr(MSR_IA32_APICBASE, base | MSR_IA32_APICBASE_ENABLE |
	      MSR_IA32_APICBASE_X2APIC);
	wrmsr(X2APIC_MSR(APIC_SPIV), APIC_SPIV_ENABLE | 0xff);
}

static void guest_x2_ap(void)
{
	x2apic_enable();
	GUEST_SYNC(1);
	wait_count(&x2_count, 1);
	sti();
	GUEST_SYNC_ARGS(2, VOL(x2_count), VOL(x2_receiver),
			rdmsr(X2APIC_MSR(APIC_ID)));
	GUEST_DONE();
}

static void guest_x2_bsp(uint64_t dest)
{
	x2apic_enable();
	wrmsr(X2APIC_MSR(APIC_ICR), (dest << 32) | VEC_X2);
	GUEST_DONE();
}

static void msi_handler(struct ex_regs *regs)
{
	skip_shadowed_hlt(regs);
	VOL(msi_count) = VOL(msi_count) + 1;
	xapic_write(APIC_EOI, 0);
}

static void guest_msi_target(void)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	GUEST_SYNC(1);
	wait_count(&msi_count, 1);
	sti();
	GUEST_SYNC_ARGS(2, VOL(msi_count), 0, 0);
	GUEST_DONE();
}

/* ---------------------------- host side ----------------------------- */

static void on_kick(int sig)
{
}

static void __attribute__((constructor)) install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = on_kick };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}


static const char *run_failure(int r, int err)
{
	return r == -1 && err == EINTR ? " (watchdog: the vCPU waited for good)" : "";
}

static uint64_t check_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	uint64_t cmd = get_ucall(vcpu, uc);

	TEST_ASSERT(cmd != UCALL_NONE, "vCPU %u: wanted a ucall, got exit %u (%s)%s",
		    vcpu->id, vcpu->run->exit_reason,
		    exit_reason_str(vcpu->run->exit_reason), exit_details(vcpu));
	if (cmd == UCALL_ABORT || cmd == UCALL_EXCEPTION)
		TEST_FAIL("vCPU %u: %s", vcpu->id, ucall_describe(uc));
	if (cmd == UCALL_DONE) {
		sync_global_from_guest(vcpu->vm, shadow_skips);
		if (shadow_skips)
			printf("# note: %llu interrupt(s) arrived in an STI shadow "
			       "(emulator artefact), HLT skipped\n",
			       (unsigned long long)shadow_skips);
	}
	return cmd;
}

static uint64_t run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	int r = vcpu_run_timed(vcpu, WATCHDOG_MS, SIGUSR1);

	TEST_ASSERT(r == 0, "vCPU %u: KVM_RUN returned %d%s", vcpu->id, r,
		    run_failure(r, errno));
	return check_ucall(vcpu, uc);
}

static void run_expect_sync(struct kvm_vcpu *vcpu, uint64_t val)
{
	struct ucall uc;
	uint64_t cmd = run_ucall(vcpu, &uc);

	TEST_ASSERT(cmd == UCALL_SYNC && uc.args[0] == val,
		    "vCPU %u: wanted GUEST_SYNC(%llu), got %s", vcpu->id,
		    (unsigned long long)val, ucall_describe(&uc));
}

static void run_expect_done(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	uint64_t cmd = run_ucall(vcpu, &uc);

	TEST_ASSERT(cmd == UCALL_DONE, "vCPU %u: wanted GUEST_DONE, got %s",
		    vcpu->id, ucall_describe(&uc));
}

/* One KVM_RUN of one vCPU in its own thread. */
struct runner {
	struct kvm_vcpu *vcpu;
	pthread_t tid;
	unsigned int timeout_ms;
	int r, err;
	int done;
};

static void *runner_fn(void *arg)
{
	struct runner *rn = arg;

	rn->r = vcpu_run_timed(rn->vcpu, rn->timeout_ms, SIGUSR1);
	rn->err = errno;
	__atomic_store_n(&rn->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void runner_start(struct runner *rn, struct kvm_vcpu *vcpu)
{
	rn->vcpu = vcpu;
	rn->timeout_ms = WATCHDOG_MS;
	rn->done = 0;
	TEST_ASSERT(!pthread_create(&rn->tid, NULL, runner_fn, rn),
		    "pthread_create");
}

static bool runner_done(struct runner *rn)
{
	return __atomic_load_n(&rn->done, __ATOMIC_ACQUIRE);
}

static void runner_join(struct runner *rn)
{
	TEST_ASSERT(!pthread_join(rn->tid, NULL), "pthread_join");
}

/* Join, and require that the run ended in a ucall of @cmd. */
static void runner_join_ucall(struct runner *rn, uint64_t cmd,
			      struct ucall *uc)
{
	uint64_t got;

	runner_join(rn);
	TEST_ASSERT(rn->r == 0, "vCPU %u: KVM_RUN returned %d, errno %d%s",
		    rn->vcpu->id, rn->r, rn->err, run_failure(rn->r, rn->err));
	got = check_ucall(rn->vcpu, uc);
	TEST_ASSERT(got == cmd, "vCPU %u: wanted ucall %llu, got %s",
		    rn->vcpu->id, (unsigned long long)cmd, ucall_describe(uc));
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int __set_mp_state(struct kvm_vcpu *vcpu, uint32_t state)
{
	struct kvm_mp_state mp = { .mp_state = state };

	return ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
}

static void set_mp_state(struct kvm_vcpu *vcpu, uint32_t state)
{
	TEST_ASSERT(!__set_mp_state(vcpu, state),
		    "KVM_SET_MP_STATE(%u) on vCPU %u failed", state, vcpu->id);
}

static uint32_t get_mp_state(struct kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = 0xffff };

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp),
		    "KVM_GET_MP_STATE on vCPU %u failed", vcpu->id);
	return mp.mp_state;
}

/* A long-mode VM with the in-kernel irqchip and the APIC page mapped. */
static struct kvm_vm *vm_create_apic(void)
{
	struct kvm_vm *vm = vm_create_long_mode();

	TEST_ASSERT(!ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0),
		    "KVM_CREATE_IRQCHIP failed");
	virt_map(vm, APIC_DEFAULT_PHYS_BASE, APIC_DEFAULT_PHYS_BASE, PAGE_SIZE);
	return vm;
}

/* A long-mode vCPU; an AP is made runnable directly (no INIT/SIPI). */
static struct kvm_vcpu *vcpu_add_apic(struct kvm_vm *vm, uint32_t id,
				      void *guest_code)
{
	struct kvm_vcpu *vcpu = vm_vcpu_add(vm, id, guest_code);

	if (id != 0)
		set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE);
	return vcpu;
}

/* ---- fixed IPIs between vCPUs ---- */

TEST(ipi_fixed)
{
	struct runner rn[NR_IPI_VCPUS];
	struct kvm_vcpu *vcpu[NR_IPI_VCPUS];
	struct kvm_vm *vm = vm_create_apic();
	struct ucall uc;
	int i, j;

	vcpu[0] = vcpu_add_apic(vm, 0, guest_ipi_bsp);
	for (i = 1; i < NR_IPI_VCPUS; i++) {
		vcpu[i] = vcpu_add_apic(vm, i, guest_ipi_ap);
		/* vCPU 1 gets all three IPIs, vCPU 2 the logical and all-but. */
		vcpu_args_set(vcpu[i], 1, (uint64_t)(i == 1 ? 3 : 2));
	}
	for (i = VEC_PHYS; i <= VEC_ALLBUT; i++)
		vm_install_exception_handler(vm, i, ipi_handler);

	/* The receivers enable their APICs (a disabled one drops fixed IPIs). */
	for (i = 1; i < NR_IPI_VCPUS; i++)
		run_expect_sync(vcpu[i], 1);
	for (i = 1; i < NR_IPI_VCPUS; i++)
		runner_start(&rn[i], vcpu[i]);
	/* They halt in the kernel: no exit to userspace. */
	msleep(100);
	for (i = 1; i < NR_IPI_VCPUS; i++)
		EXPECT_FALSE(runner_done(&rn[i])) TH_LOG("vCPU %d left HLT", i);

	runner_start(&rn[0], vcpu[0]);
	runner_join_ucall(&rn[0], UCALL_DONE, &uc);
	for (i = 1; i < NR_IPI_VCPUS; i++) {
		runner_join_ucall(&rn[i], UCALL_SYNC, &uc);
		EXPECT_EQ(2, uc.args[0]);
		EXPECT_EQ(i == 1, uc.args[1]) TH_LOG("vCPU %d: physical", i);
		EXPECT_EQ(1, uc.args[2]) TH_LOG("vCPU %d: logical", i);
		EXPECT_EQ(1, uc.args[3]) TH_LOG("vCPU %d: all-but-self", i);
		run_expect_done(vcpu[i]);
	}
	sync_global_from_guest(vm, ipi_seen);
	sync_global_from_guest(vm, ipi_stray);
	for (j = 0; j < 4; j++)
		EXPECT_EQ(0, ipi_seen[0][j]) TH_LOG("the sender got vector 0x%x",
						    0x40 + j);
	EXPECT_EQ(0, ipi_stray);
	kvm_vm_free(vm);
}

/* x2APIC physical destination: a 32-bit APIC ID above 255 when possible. */
TEST(ipi_x2apic)
{
	struct kvm_vcpu *bsp, *ap;
	struct runner rn_ap, rn_bsp;
	struct kvm_vm *vm = vm_create_apic();
	uint32_t ap_id = 1;
	struct ucall uc;

	if (vm_check_cap(vm, KVM_CAP_MAX_VCPU_ID) > 0x100)
		ap_id = 0x100;
	bsp = vcpu_add_apic(vm, 0, guest_x2_bsp);
	ap = vcpu_add_apic(vm, ap_id, guest_x2_ap);
	vcpu_set_supported_cpuid(bsp);
	vcpu_set_supported_cpuid(ap);
	vcpu_args_set(bsp, 1, (uint64_t)ap_id);
	vm_install_exception_handler(vm, VEC_X2, x2_handler);

	run_expect_sync(ap, 1);
	runner_start(&rn_ap, ap);
	msleep(50);
	EXPECT_FALSE(runner_done(&rn_ap));
	runner_start(&rn_bsp, bsp);
	runner_join_ucall(&rn_bsp, UCALL_DONE, &uc);
	runner_join_ucall(&rn_ap, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(ap_id, uc.args[2]);
	EXPECT_EQ(ap_id, uc.args[3]);
	run_expect_done(ap);
	kvm_vm_free(vm);
}

/* ---- KVM_SIGNAL_MSI ---- */

static int signal_msi(struct kvm_vm *vm, uint32_t dest, uint8_t vec,
		      uint32_t flags)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)APIC_DEFAULT_PHYS_BASE | (dest << 12),
		.data = vec,
		.flags = flags,
	};

	return ioctl(vm->fd, KVM_SIGNAL_MSI, &msi);
}

TEST(signal_msi_wakes)
{
	struct kvm_vm *vm = vm_create_apic();
	struct kvm_vcpu *ap;
	struct runner rn;
	struct ucall uc;

	/* vCPU 0 exists but never runs; vCPU 1 is the target. */
	vcpu_add_apic(vm, 0, guest_msi_target);
	ap = vcpu_add_apic(vm, 1, guest_msi_target);
	vm_install_exception_handler(vm, VEC_MSI, msi_handler);

	/* vCPU 1's APIC is still software disabled: nobody accepts it. */
	EXPECT_EQ(0, signal_msi(vm, 1, VEC_MSI, 0));
	/* No APIC with ID 7. */
	EXPECT_EQ(0, signal_msi(vm, 7, VEC_MSI, 0));
	/* Unknown flags. */
	EXPECT_EQ(-1, signal_msi(vm, 1, VEC_MSI, 0x80));
	EXPECT_EQ(EINVAL, errno);

	run_expect_sync(ap, 1);
	runner_start(&rn, ap);
	msleep(50);
	EXPECT_FALSE(runner_done(&rn));
	/* Delivered to one APIC; the halted vCPU wakes up. */
	EXPECT_EQ(1, signal_msi(vm, 1, VEC_MSI, 0));
	runner_join_ucall(&rn, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	run_expect_done(ap);
	kvm_vm_free(vm);

	/* Without an in-kernel irqchip there is nowhere to deliver it. */
	vm = vm_create_barebones();
	EXPECT_EQ(-1, signal_msi(vm, 0, VEC_MSI, 0));
	EXPECT_EQ(EINVAL, errno);
	kvm_vm_free(vm);
}

/* ---- INIT / SIPI ---- */

#define SIPI_VEC		0x08		/* AP code at 0x8000 */
#define SIPI_STALE_VEC		0x09		/* decoy code at 0x9000 */
#define AP_MARKER_GPA		0xa000
#define AP_PORT			0x99
#define AP_DECOY_PORT		0x98

extern const uint8_t ap_code[], ap_code_out[], ap_code_end[];
extern const uint8_t ap_decoy[], ap_decoy_end[];

__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"ap_code:\n"
	"	movw $0xbeef, %ax\n"
	"	movw %ax, 0xa000\n"
	"	movw %cs, %ax\n"
	"ap_code_out:\n"
	"	outw %ax, $0x99\n"
	"1:	jmp 1b\n"
	"ap_code_end:\n"
	"ap_decoy:\n"
	"	outb %al, $0x98\n"
	"	jmp ap_decoy\n"
	"ap_decoy_end:\n"
	".code64\n"
	".popsection\n");

static void guest_init_sipi_bsp(void)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	/* A SIPI to an AP that got no INIT is dropped. */
	xapic_send(1, APIC_DM_STARTUP | SIPI_STALE_VEC);
	GUEST_SYNC(0);
	/* INIT assert, then de-assert, as Linux sends them. */
	xapic_send(1, APIC_INT_LEVELTRIG | APIC_INT_ASSERT | APIC_DM_INIT);
	xapic_send(1, APIC_INT_LEVELTRIG | APIC_DM_INIT);
	GUEST_SYNC(1);
	xapic_send(1, APIC_DM_STARTUP | SIPI_VEC);
	GUEST_SYNC(2);
	GUEST_DONE();
}

TEST(init_sipi)
{
	struct kvm_vcpu *bsp, *ap;
	struct kvm_vm *vm = vm_create_apic();
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct runner rn;
	uint16_t marker, cs;

	bsp = vcpu_add_apic(vm, 0, guest_init_sipi_bsp);
	/* The AP: no state set up at all, as a VMM creates it. */
	ap = vm_vcpu_add_raw(vm, 1);
	memcpy(addr_gpa2hva(vm, SIPI_VEC << 12), ap_code, ap_code_end - ap_code);
	memcpy(addr_gpa2hva(vm, SIPI_STALE_VEC << 12), ap_decoy,
	       ap_decoy_end - ap_decoy);

	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(bsp));
	EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, get_mp_state(ap));

	/* immediate_exit: out at once, still waiting for INIT. */
	ap->run->immediate_exit = 1;
	EXPECT_EQ(-1, __vcpu_run(ap));
	EXPECT_EQ(EINTR, errno);
	ap->run->immediate_exit = 0;
	EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, get_mp_state(ap));

	/* A lone SIPI: dropped (KVM_GET_MP_STATE takes pending events). */
	run_expect_sync(bsp, 0);
	EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, get_mp_state(ap));

	/* KVM_RUN blocks until INIT, then returns EAGAIN in INIT_RECEIVED. */
	runner_start(&rn, ap);
	msleep(200);
	EXPECT_FALSE(runner_done(&rn)) TH_LOG("KVM_RUN of an AP without INIT returned");
	run_expect_sync(bsp, 1);
	runner_join(&rn);
	EXPECT_EQ(-1, rn.r);
	EXPECT_EQ(EAGAIN, rn.err);
	EXPECT_EQ(KVM_MP_STATE_INIT_RECEIVED, get_mp_state(ap));
	/* INIT put it at the reset vector. */
	vcpu_sregs_get(ap, &sregs);
	vcpu_regs_get(ap, &regs);
	EXPECT_EQ(0xf000, sregs.cs.selector);
	EXPECT_EQ(0xffff0000, sregs.cs.base);
	EXPECT_EQ(0xfff0, regs.rip);
	EXPECT_EQ(0, sregs.cr0 & X86_CR0_PE);

	/* In INIT_RECEIVED, KVM_RUN blocks until the SIPI. */
	runner_start(&rn, ap);
	msleep(200);
	EXPECT_FALSE(runner_done(&rn)) TH_LOG("KVM_RUN of an AP in INIT_RECEIVED returned");
	run_expect_sync(bsp, 2);
	runner_join(&rn);
	ASSERT_EQ(0, rn.r) TH_LOG("errno %d%s", rn.err, run_failure(rn.r, rn.err));
	TEST_ASSERT_KVM_EXIT_REASON(ap, KVM_EXIT_IO);
	EXPECT_EQ(AP_PORT, ap->run->io.port);
	EXPECT_EQ(KVM_EXIT_IO_OUT, ap->run->io.direction);
	EXPECT_EQ(2, ap->run->io.size);
	memcpy(&cs, vcpu_io_data(ap), sizeof(cs));
	EXPECT_EQ(SIPI_VEC << 8, cs);
	memcpy(&marker, addr_gpa2hva(vm, AP_MARKER_GPA), sizeof(marker));
	EXPECT_EQ(0xbeef, marker);

	/* Real mode at CS = vector << 8, IP 0. */
	vcpu_sregs_get(ap, &sregs);
	vcpu_regs_get(ap, &regs);
	EXPECT_EQ(SIPI_VEC << 8, sregs.cs.selector);
	EXPECT_EQ(SIPI_VEC << 12, sregs.cs.base);
	EXPECT_EQ(0xffff, sregs.cs.limit);
	EXPECT_EQ(0, sregs.cr0 & (X86_CR0_PE | X86_CR0_PG));
	EXPECT_EQ(0, sregs.efer);
	/* KVM completes an OUT to userspace at the next KVM_RUN: RIP is still at it. */
	EXPECT_EQ(ap_code_out - ap_code, regs.rip);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(ap));
	run_expect_done(bsp);
	kvm_vm_free(vm);
}

/* ---- KVM_SET_MP_STATE / KVM_GET_MP_STATE ---- */

TEST(mp_state)
{
	static const uint32_t states[] = {
		KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED,
		KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_HALTED,
	};
	struct kvm_vcpu_events ev;
	struct kvm_vcpu *bsp, *ap, *vcpu;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_vm *vm = vm_create_barebones();
	unsigned int i;

	TEST_ASSERT(!ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
	bsp = vm_vcpu_add_raw(vm, 0);
	ap = vm_vcpu_add_raw(vm, 1);
	for (i = 0; i < ARRAY_SIZE(states); i++) {
		set_mp_state(ap, states[i]);
		EXPECT_EQ(states[i], get_mp_state(ap));
		set_mp_state(bsp, states[i]);
		EXPECT_EQ(states[i], get_mp_state(bsp));
	}

	/*
	 * SIPI_RECEIVED is INIT_RECEIVED plus a pending SIPI, which KVM
	 * delivers (with the vector KVM_SET_VCPU_EVENTS stored) as soon as
	 * it looks at the vCPU: it reads back RUNNABLE at vector << 8 : 0.
	 */
	if (vm_check_cap(vm, KVM_CAP_VCPU_EVENTS) > 0) {
		TEST_ASSERT(!ioctl(ap->fd, KVM_GET_VCPU_EVENTS, &ev),
			    "KVM_GET_VCPU_EVENTS");
		ev.flags = KVM_VCPUEVENT_VALID_SIPI_VECTOR;
		ev.sipi_vector = 0x12;
		TEST_ASSERT(!ioctl(ap->fd, KVM_SET_VCPU_EVENTS, &ev),
			    "KVM_SET_VCPU_EVENTS");
	}
	set_mp_state(ap, KVM_MP_STATE_SIPI_RECEIVED);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(ap));
	vcpu_sregs_get(ap, &sregs);
	vcpu_regs_get(ap, &regs);
	if (vm_check_cap(vm, KVM_CAP_VCPU_EVENTS) > 0) {
		EXPECT_EQ(0x1200, sregs.cs.selector);
		EXPECT_EQ(0x12000, sregs.cs.base);
	}
	EXPECT_EQ(0, regs.rip);

	/* Values that are no x86 state. */
	EXPECT_EQ(-1, __set_mp_state(ap, 0x1000));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __set_mp_state(ap, KVM_MP_STATE_STOPPED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __set_mp_state(ap, KVM_MP_STATE_SUSPENDED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(ap));
	kvm_vm_free(vm);

	/* No in-kernel LAPIC: only RUNNABLE. */
	vm = vm_create_barebones();
	vcpu = vm_vcpu_add_raw(vm, 0);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(vcpu));
	EXPECT_EQ(0, __set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE));
	for (i = 1; i < ARRAY_SIZE(states); i++) {
		EXPECT_EQ(-1, __set_mp_state(vcpu, states[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, __set_mp_state(vcpu, KVM_MP_STATE_SIPI_RECEIVED));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp_state(vcpu));
	kvm_vm_free(vm);
}

/* ---- an idle halted vCPU ---- */

static void guest_idle(void)
{
	int i;

	GUEST_SYNC(1);
	/* Nothing will ever interrupt this: the host kicks it out. */
	for (i = 0; i < 1000; i++)
		__asm__ __volatile__("sti; hlt" : : : "memory");
	GUEST_DONE();
}

struct idle_run {
	struct kvm_vcpu *vcpu;
	int r, err;
	int done;
};

static void *idle_fn(void *arg)
{
	struct idle_run *ir = arg;

	ir->r = __vcpu_run(ir->vcpu);
	ir->err = errno;
	__atomic_store_n(&ir->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}

TEST(idle_halt_no_cpu)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_apic();
	struct timespec w0, w1, c0, c1;
	struct idle_run ir = { 0 };
	uint64_t wall, cpu;
	clockid_t cid;
	pthread_t t;

	vcpu = vcpu_add_apic(vm, 0, guest_idle);
	run_expect_sync(vcpu, 1);
	ir.vcpu = vcpu;
	ASSERT_EQ(0, pthread_create(&t, NULL, idle_fn, &ir));
	ASSERT_EQ(0, pthread_getcpuclockid(t, &cid));

	msleep(100);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	ASSERT_EQ(0, clock_gettime(cid, &c0));
	msleep(300);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	ASSERT_EQ(0, clock_gettime(cid, &c1));
	wall = ts_ns(&w1) - ts_ns(&w0);
	cpu = ts_ns(&c1) - ts_ns(&c0);
	EXPECT_FALSE(__atomic_load_n(&ir.done, __ATOMIC_ACQUIRE))
		TH_LOG("HLT left KVM_RUN: exit %u", vcpu->run->exit_reason);
	EXPECT_GT(wall * 3 / 10, cpu)
		TH_LOG("halted vCPU thread: %llu us CPU in %llu us",
		       (unsigned long long)cpu / 1000,
		       (unsigned long long)wall / 1000);

	/* A signal gets it out of the halt; immediate_exit covers the race. */
	vcpu->run->immediate_exit = 1;
	ASSERT_EQ(0, pthread_kill(t, SIGUSR1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-1, ir.r);
	EXPECT_EQ(EINTR, ir.err);
	EXPECT_EQ(KVM_EXIT_INTR, vcpu->run->exit_reason);
	vcpu->run->immediate_exit = 0;
	/* Still halted: KVM_RUN left it in the HLT. */
	EXPECT_EQ(KVM_MP_STATE_HALTED, get_mp_state(vcpu));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
