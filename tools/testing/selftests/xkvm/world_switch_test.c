// SPDX-License-Identifier: GPL-2.0
/*
 * world_switch_test.c - the host around a running guest:
 *  - the guest's vector registers survive while the host preempts the
 *    vCPU thread, runs another thread's SSE code on the same CPU and kernel
 *    crypto (which uses the FPU in the kernel): the guest FPU must be loaded
 *    with interrupts off, right before the entry;
 *  - PKRU: a guest's WRPKRU never reaches its VMM thread, the guest keeps
 *    its own value across exits, and KVM_GET_XSAVE reports it;
 *  - the kernel's work for the way back to user mode runs while a guest
 *    keeps KVM_RUN busy: migrating the vCPU thread updates its rseq
 *    area's cpu_id although the thread never left KVM_RUN;
 *  - a guest that makes the CPU deliver an exception forever (#AC pushed
 *    on a misaligned ring-3 stack; #DB from a data breakpoint on its own
 *    IST frame) cannot hang the host: a signal still ends KVM_RUN.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/rseq.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_alg.h>

#include "kselftest_harness.h"
#include "x86_util.h"

static void pin_to(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(tid, sizeof(set), &set),
		    "cannot pin %d to CPU %d", tid, cpu);
}

/* Milliseconds on the monotonic clock (no floating point in this binary). */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ---- guest FPU under preemption and kernel FPU users ---- */

#define FPU_ROUNDS_PER_SYNC	32

/*
 * xmm0-7 := pattern(i); a few exits; xmm0-7 must still hold it.  The
 * binary is built without SSE code, so nothing but these asm statements
 * touches the registers (no clobbers can be named for the same reason).
 */
static void guest_fpu_loop(void)
{
	uint64_t i, got, x;
	uint32_t a, b, c, d;
	int k;

	for (i = 1;; i++) {
		x = i * 0x0101010101010101ULL;
		__asm__ __volatile__("movq %0, %%xmm0\n\tmovq %0, %%xmm1\n\t"
				     "movq %0, %%xmm2\n\tmovq %0, %%xmm3\n\t"
				     "movq %0, %%xmm4\n\tmovq %0, %%xmm5\n\t"
				     "movq %0, %%xmm6\n\tmovq %0, %%xmm7"
				     : : "r"(x));
		for (k = 0; k < 4; k++)
			cpuid(0, 0, &a, &b, &c, &d);	/* exits the kernel handles */
#define CHECK_XMM(n)							\
		__asm__ __volatile__("movq %%xmm" #n ", %0" : "=r"(got));	\
		GUEST_ASSERT_EQ(got, x)
		CHECK_XMM(0); CHECK_XMM(1); CHECK_XMM(2); CHECK_XMM(3);
		CHECK_XMM(4); CHECK_XMM(5); CHECK_XMM(6); CHECK_XMM(7);
#undef CHECK_XMM
		if (!(i % FPU_ROUNDS_PER_SYNC))
			GUEST_SYNC(i);
	}
}

static volatile int noise_stop;

/*
 * Another thread on the vCPU's CPU: it wakes from short sleeps (each wake-up
 * preempts the vCPU thread wherever it is, with preempt=full), loads its
 * own SSE values, and now and then makes the kernel use the FPU (sha256
 * through AF_ALG).
 */
static void *fpu_noise(void *arg)
{
	struct timespec nap = { .tv_nsec = 20000 };
	int alg = -1, op = -1, n = 0;
	struct sockaddr_alg sa = {
		.salg_family = AF_ALG,
		.salg_type = "hash",
		.salg_name = "sha256",
	};
	char buf[4096] = { 1 }, digest[32];

	pin_to(0, (int)(uintptr_t)arg);
	alg = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (alg >= 0 && !bind(alg, (struct sockaddr *)&sa, sizeof(sa)))
		op = accept(alg, NULL, 0);
	while (!noise_stop) {
		uint64_t x = 0xdeadbeefcafef00dULL;

		__asm__ __volatile__("movq %0, %%xmm0\n\tmovq %0, %%xmm3\n\t"
				     "movq %0, %%xmm7" : : "r"(x));
		if (op >= 0 && !(++n % 64) &&
		    write(op, buf, sizeof(buf)) == sizeof(buf) &&
		    read(op, digest, sizeof(digest)) < 0)
			break;
		nanosleep(&nap, NULL);
	}
	if (op >= 0)
		close(op);
	if (alg >= 0)
		close(alg);
	return NULL;
}

TEST(guest_fpu_survives_preemption_and_kernel_fpu)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_fpu_loop);
	bool slow = getenv("XKVM_MACHINE") && !strcmp(getenv("XKVM_MACHINE"), "intel");
	uint64_t end = now_ms() + (slow ? 2000 : 4000);
	pthread_t noise;
	uint64_t want = 0;
	int cpu = 0;

	pin_to(0, cpu);
	noise_stop = 0;
	ASSERT_EQ(0, pthread_create(&noise, NULL, fpu_noise, (void *)(uintptr_t)cpu));
	while (now_ms() < end) {
		want += FPU_ROUNDS_PER_SYNC;
		vcpu_expect_sync(vcpu, want);
	}
	noise_stop = 1;
	pthread_join(noise, NULL);
	TH_LOG("%llu guest rounds", (unsigned long long)want);
	kvm_vm_free(vm);
}

/* ---- PKRU ---- */

#define X86_CR4_PKE	(1ULL << 22)
#define GUEST_PKRU	0x0000000cU	/* key 1: no access, no write */

static inline uint32_t rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ __volatile__(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static inline void wrpkru(uint32_t val)
{
	__asm__ __volatile__(".byte 0x0f, 0x01, 0xef" : : "a"(val), "c"(0), "d"(0));
}

static void guest_pkru(void)
{
	GUEST_ASSERT_EQ(write_cr4_safe(read_cr4() | X86_CR4_PKE), GUEST_NO_FAULT);
	wrpkru(GUEST_PKRU);
	GUEST_SYNC(rdpkru());
	/* an exit to userspace and back: still the guest's */
	GUEST_ASSERT_EQ(rdpkru(), GUEST_PKRU);
	GUEST_DONE();
}

static bool host_uses_pkru(void)
{
	uint32_t a, b, c, d;

	cpuid(7, 0, &a, &b, &c, &d);
	return c & (1U << 4);		/* OSPKE */
}

TEST(guest_pkru_stays_in_guest)
{
	struct kvm_cpuid2 *sup = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e7 = cpuid2_find(sup, 7, 0);
	struct kvm_cpuid_entry2 *ed = cpuid2_find(sup, 0xd, 9);
	struct kvm_xsave xs;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint32_t host;

	if (!host_uses_pkru() || !e7 || !(e7->ecx & (1U << 3)) || !ed)
		SKIP(return, "no PKU for guests here");
	vm = vm_create_with_one_vcpu(&vcpu, guest_pkru);
	vm_install_fault_skipper(vm);
	vcpu_set_cpuid2(vcpu, sup);

	/* key 15 flipped: not the default, and key 0 still usable */
	host = rdpkru() ^ (3U << 30);
	wrpkru(host);
	vcpu_expect_sync(vcpu, GUEST_PKRU);
	EXPECT_EQ(host, rdpkru());

	ASSERT_EQ(0, ioctl(vcpu->fd, KVM_GET_XSAVE, &xs));
	EXPECT_TRUE(((uint64_t *)xs.region)[512 / 8] & (1ULL << 9));
	EXPECT_EQ(GUEST_PKRU, xs.region[ed->ebx / 4]);

	vcpu_expect_done(vcpu);
	EXPECT_EQ(host, rdpkru());
	kvm_vm_free(vm);
}

/* ---- work on the way back to user mode (rseq) ---- */

static void guest_spin_until(volatile uint64_t *flag)
{
	uint32_t a, b, c, d;

	flag[1] = 1;		/* running */
	while (!flag[0])
		cpuid(0, 0, &a, &b, &c, &d);
	GUEST_DONE();
}

static volatile uint64_t spin_flag[2];

struct rseq_run {
	struct kvm_vcpu *vcpu;
	volatile uint32_t *cpu_id;
	pid_t tid;
	volatile int done;
};

static void *run_rseq_vcpu(void *arg)
{
	struct rseq_run *r = arg;

	pin_to(0, 0);
	r->cpu_id = (volatile uint32_t *)((char *)__builtin_thread_pointer() +
					  __rseq_offset + 4);
	r->tid = syscall(SYS_gettid);
	vcpu_expect_done(r->vcpu);
	r->done = 1;
	return NULL;
}

TEST(notify_resume_work_runs_in_kvm_run)
{
	struct rseq_run r = { 0 };
	volatile uint64_t *flag;
	struct kvm_vm *vm;
	pthread_t t;
	uint64_t end;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	if (!__rseq_size)
		SKIP(return, "rseq is not registered by the C library");
	vm = vm_create_with_one_vcpu(&r.vcpu, guest_spin_until);
	vcpu_args_set(r.vcpu, 1, (uint64_t)(uintptr_t)spin_flag);
	flag = addr_gva2hva(vm, (uint64_t)(uintptr_t)spin_flag);

	ASSERT_EQ(0, pthread_create(&t, NULL, run_rseq_vcpu, &r));
	end = now_ms() + 10000;
	while (!flag[1] && now_ms() < end)
		usleep(1000);
	ASSERT_EQ(1, flag[1]);
	ASSERT_EQ(0, *r.cpu_id);

	/* the thread is in KVM_RUN on CPU 0 and stays there; move it */
	pin_to(r.tid, 1);
	end = now_ms() + 5000;
	while (*r.cpu_id != 1 && now_ms() < end)
		usleep(1000);
	EXPECT_EQ(1, *r.cpu_id);
	EXPECT_FALSE(r.done);

	flag[0] = 1;
	pthread_join(t, NULL);
	kvm_vm_free(vm);
}

/* ---- endless exception delivery ---- */

/* Another guest runs to its end. */
static void run_another_guest(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_spin_until);
	volatile uint64_t *flag = addr_gva2hva(vm, (uint64_t)(uintptr_t)spin_flag);

	flag[0] = 1;
	vcpu_args_set(vcpu, 1, (uint64_t)(uintptr_t)spin_flag);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static void alarm_nop(int sig)
{
}

/* Run until something ends KVM_RUN; a SIGALRM after 300 ms must. */
static int run_with_alarm(struct kvm_vcpu *vcpu)
{
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	struct sigaction sa = { .sa_handler = alarm_nop };
	int r;

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	r = __vcpu_run(vcpu);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	return r;
}

/*
 * The guest of @vm loops delivering an exception: KVM_RUN must still end
 * (the alarm's signal, or an exit), and the host goes on: another guest
 * runs to its end.
 */
static void expect_host_responsive(struct __test_metadata *_metadata,
				   struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	int r = run_with_alarm(vcpu);

	TH_LOG("KVM_RUN: %d (%s), exit reason %u", r, r ? strerror(errno) : "ok",
	       vcpu->run->exit_reason);
	if (r)
		EXPECT_EQ(EINTR, errno);
	kvm_vm_free(vm);
	run_another_guest();
}

static uint64_t gdt32(uint32_t base, uint32_t limit, uint8_t access)
{
	return (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       (0xcULL << 52) | ((uint64_t)(base >> 24) << 56);
}

static void seg32(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

/*
 * 32-bit protected mode, ring 3, CR0.AM and EFLAGS.AC set, ESP misaligned;
 * every IDT gate leads to ring-3 code, so an exception is delivered on the
 * same misaligned stack.  A misaligned load raises #AC, whose delivery
 * raises #AC, and so on: without an exit per delivery the CPU never
 * reaches an instruction boundary again.
 */
TEST(ac_delivery_loop_leaves_host_responsive)
{
	static const uint8_t code[] = {
		0x8b, 0x05, 0x01, 0x50, 0x00, 0x00,	/* mov 0x5001, %eax */
		0xeb, 0xfe,				/* jmp . */
	};
	struct kvm_vm *vm = vm_create_barebones();
	uint64_t *gdt, *idt;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_vcpu *vcpu;
	uint8_t *mem;
	int v;

	mem = vm_mem_region_add(vm, 0, 0, 0x100000, 0);
	gdt = (uint64_t *)(mem + 0x1000);
	idt = (uint64_t *)(mem + 0x2000);
	gdt[1] = gdt32(0, 0xfffff, 0x9b);	/* 0x08 ring-0 code */
	gdt[2] = gdt32(0, 0xfffff, 0x93);	/* 0x10 ring-0 data */
	gdt[3] = gdt32(0, 0xfffff, 0xfb);	/* 0x1b ring-3 code */
	gdt[4] = gdt32(0, 0xfffff, 0xf3);	/* 0x23 ring-3 data */
	for (v = 0; v < 32; v++)		/* 32-bit trap gates, DPL 3 */
		idt[v] = 0x9000 | (0x1bULL << 16) | (0xefULL << 40);
	memcpy(mem + 0x8000, code, sizeof(code));
	mem[0x9000] = 0xeb;			/* any handler: jmp . */
	mem[0x9001] = 0xfe;

	vcpu = vm_vcpu_add_raw(vm, 0);
	vcpu_sregs_get(vcpu, &sregs);
	seg32(&sregs.cs, 0x1b, 0xb, 3);
	seg32(&sregs.ss, 0x23, 0x3, 3);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.gdt.base = 0x1000;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0x2000;
	sregs.idt.limit = 32 * 8 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_AM;
	sregs.cr4 = 0;
	sregs.efer = 0;
	vcpu_sregs_set(vcpu, &sregs);
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x8000;
	regs.rsp = 0x7001;
	regs.rflags = X86_EFLAGS_FIXED | X86_EFLAGS_IF | (1ULL << 18);	/* AC */
	vcpu_regs_set(vcpu, &regs);

	expect_host_responsive(_metadata, vm, vcpu);
}

/*
 * 64-bit: #DB goes through IST 1, and a data breakpoint covers the slot
 * of that stack where the delivery pushes SS, so every delivery of #DB
 * raises #DB again on a fresh copy of the same stack.  (xkvm keeps guest
 * breakpoints in software, so there the #DB of the ICEBP arrives once.)
 */
#define DB_IST_TOP	(GUEST_STACK_GPA + 0x2000)

static void guest_db_loop(void)
{
	uint64_t dr7 = 1 | (1ULL << 16) | (2ULL << 18);	/* L0, write, 8 bytes */

	__asm__ __volatile__("mov %0, %%dr0" : : "r"(DB_IST_TOP - 8));
	__asm__ __volatile__("mov %0, %%dr7" : : "r"(dr7));
	__asm__ __volatile__(".byte 0xf1");			/* ICEBP: #DB */
	GUEST_DONE();
}

TEST(db_delivery_loop_leaves_host_responsive)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_db_loop);
	uint8_t *gate = addr_gpa2hva(vm, GUEST_IDT_GPA + 16 * DB_VECTOR);
	uint64_t ist = DB_IST_TOP;

	gate[4] = 1;					/* IST 1 */
	memcpy(addr_gpa2hva(vm, GUEST_TSS_GPA + 0x24), &ist, 8);
	expect_host_responsive(_metadata, vm, vcpu);
}

TEST_HARNESS_MAIN
