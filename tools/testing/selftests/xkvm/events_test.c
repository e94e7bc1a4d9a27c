// SPDX-License-Identifier: GPL-2.0
/*
 * events_test.c - the event ABI of a userspace interrupt controller, as
 * stock KVM implements it (checked against it in reference mode):
 *
 * - KVM_INTERRUPT: vectors >= 256 refused; the vector reaches the guest's
 *   IDT handler at the next entry, even with IF=0 (it is injected, not held
 *   back: userspace is expected to wait for the interrupt window); without
 *   any in-kernel irqchip a second KVM_INTERRUPT before entry replaces the
 *   first, with a split irqchip (in-kernel LAPIC) it fails with EEXIST until
 *   the first one was delivered;
 * - kvm_run's if_flag and ready_for_interrupt_injection after exits with
 *   IF=0 and IF=1, and request_interrupt_window: KVM_EXIT_IRQ_WINDOW_OPEN
 *   once the guest can take an interrupt (at once with IF=1, after STI and
 *   its one-instruction shadow with IF=0);
 * - KVM_NMI: delivered whatever IF is, blocked from delivery until the
 *   handler's IRET (NMIs queued meanwhile collapse into one), and any IRET
 *   unblocks NMIs;
 * - KVM_GET/SET_VCPU_EVENTS: the flags GET reports, the inputs SET refuses,
 *   nmi.pending (only with KVM_VCPUEVENT_VALID_NMI_PENDING), nmi.masked,
 *   interrupt.injected, interrupt.shadow (only with
 *   KVM_VCPUEVENT_VALID_SHADOW), sipi_vector (accepted, never reported) and
 *   an injected exception with and without an error code.
 *
 * Cases needing a capability the device reports as 0 are skipped.
 */
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "x86_util.h"

#define NMI_VECTOR		2

/* Vectors used for external interrupts: none that pushes an error code. */
#define VEC_A			0x40
#define VEC_B			0x41
#define VEC_WINDOW		0x42
#define VEC_WINDOW_IF1		0x43
#define VEC_IF0			0x50
#define VEC_EVENTS		0x61
#define VEC_SPLIT_A		0x30
#define VEC_SPLIT_B		0x31
#define VEC_HLT			0x62

/* ---------------------------- guest side ---------------------------- */

static volatile uint64_t irq_count, irq_vector, irq_rip, irq_rflags;
static volatile uint64_t nmi_count, nmi_vector, nmi_rip, nmi_rflags;
static volatile uint64_t nmi_depth, nmi_max_depth, nmi_sync_in_handler;
static volatile uint64_t nmi_seen_ud;
static volatile uint64_t ud_count, ud_rip;
static volatile uint64_t gp_count, gp_error, gp_rip;

static inline void guest_cli(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static inline void guest_sti(void)
{
	__asm__ __volatile__("sti; nop" : : : "memory");
}

static inline uint64_t guest_rflags(void)
{
	uint64_t f;

	__asm__ __volatile__("pushfq; popq %0" : "=r"(f) : : "memory");
	return f;
}

static void irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_vector = regs->vector;
	irq_rip = regs->rip;
	irq_rflags = regs->rflags;
}

static void nmi_handler(struct ex_regs *regs)
{
	nmi_depth++;
	if (nmi_depth > nmi_max_depth)
		nmi_max_depth = nmi_depth;
	nmi_count++;
	nmi_vector = regs->vector;
	nmi_rip = regs->rip;
	nmi_rflags = regs->rflags;
	nmi_seen_ud = ud_count;
	/* Exit to the host from inside the handler: NMIs are blocked here. */
	if (nmi_sync_in_handler && nmi_count == 1)
		GUEST_SYNC_ARGS(0x4e, nmi_count, nmi_depth, 0);
	nmi_depth--;
}

/* An injected #UD: the saved RIP is where the guest was, nothing to skip. */
static void ud_record_handler(struct ex_regs *regs)
{
	ud_count++;
	ud_rip = regs->rip;
}

/* A real UD2: resume after it (the handler returns with IRET). */
static void ud_skip_handler(struct ex_regs *regs)
{
	ud_count++;
	ud_rip = regs->rip;
	regs->rip += 2;
}

static void gp_record_handler(struct ex_regs *regs)
{
	gp_count++;
	gp_error = regs->error_code;
	gp_rip = regs->rip;
}

/* IF=1, stop, then report the interrupt taken when re-entered. */
static void guest_irq_if1(void)
{
	guest_sti();
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, irq_count, irq_vector, irq_rip);
	GUEST_ASSERT(guest_rflags() & X86_EFLAGS_IF);
	GUEST_DONE();
}

/* IF=0 throughout: an interrupt injected anyway, IF unchanged afterwards. */
static void guest_irq_if0(void)
{
	guest_cli();
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, irq_count, irq_vector, irq_rflags);
	GUEST_ASSERT(!(guest_rflags() & X86_EFLAGS_IF));
	GUEST_DONE();
}

extern char window_after_sti[], window_after_nop[];

/*
 * IF=0 across two exits, then STI: the window opens after the instruction
 * following STI (the STI shadow), i.e. at window_after_nop.
 */
static void __attribute__((noinline)) guest_window_if0(void)
{
	guest_cli();
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	__asm__ __volatile__("sti\n\t"
			     "window_after_sti: nop\n\t"
			     "window_after_nop: nop\n\t"
			     "nop"
			     : : : "memory");
	GUEST_SYNC_ARGS(3, irq_count, irq_vector, irq_rip);
	GUEST_DONE();
}

extern char hlt_after[];

/* STI; HLT as an idle loop does: HLT sits in STI's shadow. */
static void __attribute__((noinline)) guest_sti_hlt(void)
{
	guest_cli();
	GUEST_SYNC(1);
	__asm__ __volatile__("sti\n\t"
			     "hlt\n\t"
			     "hlt_after: nop"
			     : : : "memory");
	GUEST_SYNC_ARGS(2, irq_count, irq_vector, irq_rip);
	GUEST_DONE();
}

/* IF=0 and an NMI: delivered anyway. */
static void guest_nmi_if0(void)
{
	guest_cli();
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, nmi_count, nmi_vector, nmi_rflags);
	GUEST_DONE();
}

/* The handler of the first NMI exits to the host (see nmi_handler). */
static void guest_nmi_nesting(void)
{
	nmi_sync_in_handler = 1;
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(3, nmi_count, nmi_max_depth, nmi_depth);
	GUEST_SYNC_ARGS(4, nmi_count, 0, 0);
	GUEST_DONE();
}

/* Three stops reporting the NMI count (events: nmi.pending). */
static void guest_nmi_count(void)
{
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, nmi_count, 0, 0);
	GUEST_SYNC_ARGS(3, nmi_count, nmi_vector, 0);
	GUEST_DONE();
}

/* NMIs masked by the host: a UD2 handler's IRET unblocks them. */
static void guest_nmi_masked(void)
{
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, nmi_count, 0, 0);
	__asm__ __volatile__("ud2" : : : "memory");
	GUEST_SYNC_ARGS(3, nmi_count, ud_count, nmi_seen_ud);
	GUEST_DONE();
}

/* Injected exceptions: report what the handlers saw. */
static void guest_exceptions(void)
{
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, ud_count, ud_rip, 0);
	GUEST_SYNC_ARGS(3, gp_count, gp_error, gp_rip);
	GUEST_DONE();
}

/* Just stops: for state round trips. */
static void guest_syncs(void)
{
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	GUEST_SYNC(3);
	GUEST_DONE();
}

/* Split irqchip: IF=0 holds the interrupt back, STI lets it in. */
static void guest_split(void)
{
	guest_cli();
	GUEST_SYNC(1);
	GUEST_SYNC_ARGS(2, irq_count, 0, 0);
	guest_sti();
	GUEST_SYNC_ARGS(3, irq_count, irq_vector, 0);
	GUEST_DONE();
}

/* ----------------------------- host side ----------------------------- */

static int __interrupt(struct kvm_vcpu *vcpu, uint32_t vector)
{
	struct kvm_interrupt irq = { .irq = vector };

	return ioctl(vcpu->fd, KVM_INTERRUPT, &irq);
}

static int __nmi(struct kvm_vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_NMI);
}

static int __get_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	return ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, ev);
}

static int __set_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	return ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, ev);
}

static void get_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	memset(ev, 0x5a, sizeof(*ev));
	TEST_ASSERT(!__get_events(vcpu, ev), "KVM_GET_VCPU_EVENTS failed");
}

static void set_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	TEST_ASSERT(!__set_events(vcpu, ev),
		    "KVM_SET_VCPU_EVENTS (flags 0x%x) failed", ev->flags);
}

static uint64_t vcpu_rip(struct kvm_vcpu *vcpu)
{
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
	return regs.rip;
}

/*
 * Where the guest resumes after the ucall it stopped at.  KVM completes a
 * port-I/O exit (and moves RIP past the OUT) only at the next KVM_RUN, so
 * finish it with immediate_exit (which runs no guest code) and read RIP.
 */
static uint64_t resume_rip(struct kvm_vcpu *vcpu)
{
	int r;

	vcpu->run->immediate_exit = 1;
	r = __vcpu_run(vcpu);
	TEST_ASSERT(r == -1 && errno == EINTR,
		    "KVM_RUN with immediate_exit returned %d", r);
	vcpu->run->immediate_exit = 0;
	return vcpu_rip(vcpu);
}

static bool have_events(void)
{
	return kvm_check_cap(KVM_CAP_VCPU_EVENTS) > 0;
}

static bool host_is_amd(void)
{
	uint32_t a, b, c, d;

	if (xkvm_vendor_module())
		return xkvm_vendor_is_amd();
	cpuid(0, 0, &a, &b, &c, &d);
	return b == VENDOR_AMD_EBX && d == VENDOR_AMD_EDX &&
	       c == VENDOR_AMD_ECX;
}

static struct kvm_vm *vm_with_irq_handlers(struct kvm_vcpu **vcpu,
					   void *guest_code)
{
	static const int vectors[] = {
		VEC_A, VEC_B, VEC_WINDOW, VEC_WINDOW_IF1, VEC_IF0, VEC_EVENTS,
		VEC_SPLIT_A, VEC_SPLIT_B, VEC_HLT,
	};
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vectors); i++)
		vm_install_exception_handler(vm, vectors[i], irq_handler);
	vm_install_exception_handler(vm, NMI_VECTOR, nmi_handler);
	return vm;
}

/* ---- KVM_INTERRUPT ---- */

TEST(interrupt_bad_input)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_irq_if1);
	static const uint32_t bad[] = { 256, 257, 0x1000, 0x10040, 0xffffffff };
	struct kvm_interrupt irq = { .irq = VEC_A };
	struct ucall uc;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, __interrupt(vcpu, bad[i]))
			TH_LOG("vector 0x%x accepted", bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_INTERRUPT, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* Not a VM ioctl. */
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_INTERRUPT, &irq));

	/* Nothing was queued: the guest sees no interrupt. */
	vcpu_run_sync(vcpu, &uc, 1);
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0, uc.args[1]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(interrupt_delivered_with_if1)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_irq_if1);
	struct kvm_run *run = vcpu->run;
	struct kvm_vcpu_events ev;
	struct ucall uc;
	uint64_t rip;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	rip = resume_rip(vcpu);

	ASSERT_EQ(0, __interrupt(vcpu, VEC_A));
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(1, ev.interrupt.injected);
		EXPECT_EQ(VEC_A, ev.interrupt.nr);
	}

	/* Taken at once, before the guest's next instruction. */
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_A, uc.args[2]);
	EXPECT_EQ(rip, uc.args[3]);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(0, ev.interrupt.injected);
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * Without an in-kernel irqchip KVM keeps one injected interrupt and a second
 * KVM_INTERRUPT before the next entry replaces it (no EEXIST: that error
 * belongs to the split irqchip, see below).  The guest sees the second one
 * only.
 */
TEST(interrupt_requeue_replaces)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_irq_if1);
	struct kvm_vcpu_events ev;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, __interrupt(vcpu, VEC_A));
	ASSERT_EQ(0, __interrupt(vcpu, VEC_B));
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(1, ev.interrupt.injected);
		EXPECT_EQ(VEC_B, ev.interrupt.nr);
	}
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_B, uc.args[2]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * IF=0: kvm_run says so and that userspace should not inject; KVM_INTERRUPT
 * is accepted anyway and KVM injects the vector at the next entry without
 * looking at IF.  AMD-V delivers it (the interrupted context keeps IF=0);
 * VT-x refuses such an entry: KVM_EXIT_FAIL_ENTRY, basic exit reason 33
 * (invalid guest state) with the entry-failure bit.
 */
TEST(interrupt_injected_with_if0)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_irq_if0);
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->ready_for_interrupt_injection);

	ASSERT_EQ(0, __interrupt(vcpu, VEC_IF0));
	if (!host_is_amd()) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_FAIL_ENTRY);
		EXPECT_EQ(0x80000021ULL,
			  run->fail_entry.hardware_entry_failure_reason);
		kvm_vm_free(vm);
		return;
	}
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_IF0, uc.args[2]);
	EXPECT_EQ(0, uc.args[3] & X86_EFLAGS_IF);
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->ready_for_interrupt_injection);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * request_interrupt_window with IF=0: exits the guest makes meanwhile are
 * ordinary ones; after STI (and the instruction in its shadow) KVM exits
 * with KVM_EXIT_IRQ_WINDOW_OPEN, and an interrupt queued then is taken
 * right there.
 */
TEST(irq_window_after_sti)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_window_if0);
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	uint64_t rip;

	vcpu_run_sync(vcpu, &uc, 1);
	run->request_interrupt_window = 1;
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->ready_for_interrupt_injection);

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IRQ_WINDOW_OPEN);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	rip = vcpu_rip(vcpu);
	EXPECT_EQ((uint64_t)(uintptr_t)window_after_nop, rip)
		TH_LOG("window exit at rip 0x%llx; STI at 0x%llx",
		       (unsigned long long)rip,
		       (unsigned long long)(uintptr_t)window_after_sti - 1);

	ASSERT_EQ(0, __interrupt(vcpu, VEC_WINDOW));
	run->request_interrupt_window = 0;
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_WINDOW, uc.args[2]);
	EXPECT_EQ(rip, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * STI; HLT: the HLT exit leaves RIP after the HLT, and the STI shadow
 * ended with the HLT, so kvm_run says an interrupt can go in now and
 * KVM_GET_VCPU_EVENTS reports no shadow; the interrupt then arrives right
 * after the HLT.
 */
TEST(hlt_in_sti_shadow_ends_it)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_sti_hlt);
	struct kvm_run *run = vcpu->run;
	struct kvm_vcpu_events ev;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	EXPECT_EQ((uint64_t)(uintptr_t)hlt_after, vcpu_rip(vcpu));
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(0, ev.interrupt.shadow);
	}

	ASSERT_EQ(0, __interrupt(vcpu, VEC_HLT));
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_HLT, uc.args[2]);
	EXPECT_EQ((uint64_t)(uintptr_t)hlt_after, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * request_interrupt_window with IF=1: the next KVM_RUN exits with
 * KVM_EXIT_IRQ_WINDOW_OPEN before the guest executes anything, and keeps
 * doing so while the request stands and nothing is injected.
 */
TEST(irq_window_with_if1)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_with_irq_handlers(&vcpu, guest_irq_if1);
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	uint64_t rip;
	int i;

	vcpu_run_sync(vcpu, &uc, 1);
	rip = resume_rip(vcpu);
	run->request_interrupt_window = 1;
	for (i = 0; i < 2; i++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IRQ_WINDOW_OPEN);
		EXPECT_EQ(1, run->if_flag);
		EXPECT_EQ(1, run->ready_for_interrupt_injection);
		EXPECT_EQ(rip, vcpu_rip(vcpu));
	}
	ASSERT_EQ(0, __interrupt(vcpu, VEC_WINDOW_IF1));
	run->request_interrupt_window = 0;
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_WINDOW_IF1, uc.args[2]);
	EXPECT_EQ(rip, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * With a split irqchip (in-kernel LAPIC, PIC in userspace) KVM_INTERRUPT
 * is the PIC's ExtINT: one vector waits, a second KVM_INTERRUPT fails with
 * EEXIST until the guest took the first, and IF=0 holds it back.
 */
TEST(interrupt_eexist_split_irqchip)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_SPLIT_IRQCHIP,
		.args = { 24 },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create_long_mode();
	if (vm_check_cap(vm, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
		kvm_vm_free(vm);
		SKIP(return,
		     "KVM_CAP_SPLIT_IRQCHIP is 0: EEXIST needs an in-kernel LAPIC");
	}
	ASSERT_EQ(0, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	vcpu = vm_vcpu_add(vm, 0, guest_split);
	vm_install_exception_handler(vm, VEC_SPLIT_A, irq_handler);
	vm_install_exception_handler(vm, VEC_SPLIT_B, irq_handler);

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(-1, __interrupt(vcpu, 256));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, __interrupt(vcpu, VEC_SPLIT_A));
	EXPECT_EQ(-1, __interrupt(vcpu, VEC_SPLIT_B));
	EXPECT_EQ(EEXIST, errno);

	/* IF=0: not delivered, still queued. */
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0, uc.args[1]);
	EXPECT_EQ(-1, __interrupt(vcpu, VEC_SPLIT_B));
	EXPECT_EQ(EEXIST, errno);

	/* STI: the first vector arrives; the slot is free again. */
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_SPLIT_A, uc.args[2]);
	EXPECT_EQ(0, __interrupt(vcpu, VEC_SPLIT_B));
	EXPECT_EQ(-1, __interrupt(vcpu, VEC_SPLIT_A));
	EXPECT_EQ(EEXIST, errno);
	kvm_vm_free(vm);
}

/* ---- KVM_NMI ---- */

TEST(nmi_delivered_with_if0)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;

	if (kvm_check_cap(KVM_CAP_USER_NMI) <= 0)
		SKIP(return, "KVM_CAP_USER_NMI is 0");
	vm = vm_with_irq_handlers(&vcpu, guest_nmi_if0);
	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(0, vcpu->run->if_flag);
	ASSERT_EQ(0, __nmi(vcpu));
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(1, ev.nmi.pending);
		EXPECT_EQ(0, ev.nmi.masked);
	}
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(NMI_VECTOR, uc.args[2]);
	EXPECT_EQ(0, uc.args[3] & X86_EFLAGS_IF);
	if (have_events()) {
		/* The handler returned with IRET: nothing pending or masked. */
		get_events(vcpu, &ev);
		EXPECT_EQ(0, ev.nmi.pending);
		EXPECT_EQ(0, ev.nmi.masked);
		EXPECT_EQ(0, ev.nmi.injected);
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * The first NMI's handler exits to the host, which queues two more NMIs:
 * none nests into the running handler; after its IRET exactly one more is
 * delivered (the NMIs queued meanwhile collapse into one pending NMI).
 */
TEST(nmi_blocked_until_iret)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;

	if (kvm_check_cap(KVM_CAP_USER_NMI) <= 0)
		SKIP(return, "KVM_CAP_USER_NMI is 0");
	vm = vm_with_irq_handlers(&vcpu, guest_nmi_nesting);
	vcpu_run_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, __nmi(vcpu));

	/* Inside the handler. */
	vcpu_run_sync(vcpu, &uc, 0x4e);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(1, ev.nmi.masked);
		EXPECT_EQ(0, ev.nmi.pending);
	}
	ASSERT_EQ(0, __nmi(vcpu));
	ASSERT_EQ(0, __nmi(vcpu));
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(1, ev.nmi.masked);
		EXPECT_EQ(1, ev.nmi.pending);
	}

	/* Handler ends, IRET, the second NMI; never two handlers at once. */
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(2, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
	EXPECT_EQ(0, uc.args[3]);
	if (have_events()) {
		get_events(vcpu, &ev);
		EXPECT_EQ(0, ev.nmi.masked);
		EXPECT_EQ(0, ev.nmi.pending);
	}
	/* And no third one. */
	vcpu_run_sync(vcpu, &uc, 4);
	EXPECT_EQ(2, uc.args[1]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- KVM_GET/SET_VCPU_EVENTS ---- */

TEST(events_get_new_vcpu)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev, again;
	uint32_t must = KVM_VCPUEVENT_VALID_NMI_PENDING |
			KVM_VCPUEVENT_VALID_SHADOW;
	uint32_t may = must | KVM_VCPUEVENT_VALID_SMM;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_syncs);
	get_events(vcpu, &ev);
	TH_LOG("flags 0x%x", ev.flags);
	EXPECT_EQ(must, ev.flags & must);
	/*
	 * Never SIPI_VECTOR, and PAYLOAD / TRIPLE_FAULT only once their
	 * capabilities are enabled on the VM.
	 */
	EXPECT_EQ(0, ev.flags & ~may);
	/* KVM reports VALID_SMM whenever it has SMM. */
	if (kvm_check_cap(KVM_CAP_X86_SMM) > 0) {
		EXPECT_EQ(KVM_VCPUEVENT_VALID_SMM,
			  ev.flags & KVM_VCPUEVENT_VALID_SMM);
	}
	EXPECT_EQ(0, ev.exception.injected);
	EXPECT_EQ(0, ev.exception.pending);
	EXPECT_EQ(0, ev.exception.has_error_code);
	EXPECT_EQ(0, ev.interrupt.injected);
	EXPECT_EQ(0, ev.interrupt.soft);
	EXPECT_EQ(0, ev.interrupt.shadow);
	EXPECT_EQ(0, ev.nmi.injected);
	EXPECT_EQ(0, ev.nmi.pending);
	EXPECT_EQ(0, ev.nmi.masked);
	EXPECT_EQ(0, ev.sipi_vector);
	EXPECT_EQ(0, ev.smi.smm);
	EXPECT_EQ(0, ev.smi.pending);
	EXPECT_EQ(0, ev.exception_has_payload);

	EXPECT_EQ(-1, __get_events(vcpu, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, __set_events(vcpu, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* Writing back what GET returned is accepted and changes nothing. */
	ev.flags &= must;
	set_events(vcpu, &ev);
	get_events(vcpu, &again);
	EXPECT_EQ(0, again.nmi.pending);
	EXPECT_EQ(0, again.interrupt.injected);
	EXPECT_EQ(0, again.exception.injected);
	vcpu_run_sync(vcpu, &(struct ucall){ 0 }, 1);
	kvm_vm_free(vm);
}

TEST(events_set_bad_flags)
{
	static const uint32_t bad[] = {
		0x40, 0x80, 0x100, 0x10000, 0x80000000,
		KVM_VCPUEVENT_VALID_NMI_PENDING | 0x40,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev, base, after;
	unsigned int i;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_syncs);
	get_events(vcpu, &base);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ev = base;
		ev.flags = bad[i];
		ev.nmi.pending = 1;
		EXPECT_EQ(-1, __set_events(vcpu, &ev))
			TH_LOG("flags 0x%x accepted", bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	/* Flags of capabilities the VM has not enabled. */
	ev = base;
	ev.flags = KVM_VCPUEVENT_VALID_PAYLOAD;
	EXPECT_EQ(-1, __set_events(vcpu, &ev));
	EXPECT_EQ(EINVAL, errno);
	ev = base;
	ev.flags = KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	EXPECT_EQ(-1, __set_events(vcpu, &ev));
	EXPECT_EQ(EINVAL, errno);

	/* Nothing changed: no NMI pending. */
	get_events(vcpu, &after);
	EXPECT_EQ(0, after.nmi.pending);
	kvm_vm_free(vm);
}

/*
 * An exception marked injected must be a real exception vector other than
 * NMI; a vector is not checked when nothing is injected (QEMU writes
 * nr = 0xff when it has no exception).
 */
TEST(events_set_bad_exception)
{
	static const uint8_t bad[] = { NMI_VECTOR, 32, 0x40, 0xff };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev, base;
	unsigned int i;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_syncs);
	get_events(vcpu, &base);
	base.flags = 0;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ev = base;
		ev.exception.injected = 1;
		ev.exception.nr = bad[i];
		EXPECT_EQ(-1, __set_events(vcpu, &ev))
			TH_LOG("injected exception %u accepted", bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.exception.injected);

	ev = base;
	ev.exception.injected = 0;
	ev.exception.nr = 0xff;
	EXPECT_EQ(0, __set_events(vcpu, &ev));
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.exception.injected);

	/* The guest runs normally: nothing was injected. */
	vcpu_run_sync(vcpu, &(struct ucall){ 0 }, 1);
	kvm_vm_free(vm);
}

/* nmi.pending is written only with KVM_VCPUEVENT_VALID_NMI_PENDING. */
TEST(events_nmi_pending)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_with_irq_handlers(&vcpu, guest_nmi_count);
	vcpu_run_sync(vcpu, &uc, 1);

	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.nmi.pending = 1;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.nmi.pending);
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0, uc.args[1]);

	get_events(vcpu, &ev);
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.nmi.pending = 1;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.nmi.pending);
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(NMI_VECTOR, uc.args[2]);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.nmi.pending);
	EXPECT_EQ(0, ev.nmi.masked);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * nmi.masked round-trips; a masked pending NMI waits until the guest
 * executes an IRET (here the one ending its #UD handler), then arrives.
 */
TEST(events_nmi_masked)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_with_irq_handlers(&vcpu, guest_nmi_masked);
	vm_install_exception_handler(vm, UD_VECTOR, ud_skip_handler);
	vcpu_run_sync(vcpu, &uc, 1);

	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.nmi.masked = 1;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.nmi.masked);
	ev.flags = 0;
	ev.nmi.masked = 0;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.nmi.masked);

	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.nmi.masked = 1;
	ev.nmi.pending = 1;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.nmi.masked);
	EXPECT_EQ(1, ev.nmi.pending);

	/* Blocked: the guest runs to its next stop without the NMI. */
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0, uc.args[1]);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.nmi.masked);
	EXPECT_EQ(1, ev.nmi.pending);

	/* UD2, its handler's IRET, then the NMI. */
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
	EXPECT_EQ(1, uc.args[3]);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.nmi.masked);
	EXPECT_EQ(0, ev.nmi.pending);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(events_interrupt_injected)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;
	uint64_t rip;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_with_irq_handlers(&vcpu, guest_irq_if1);
	vcpu_run_sync(vcpu, &uc, 1);
	rip = resume_rip(vcpu);

	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.interrupt.injected = 1;
	ev.interrupt.nr = VEC_EVENTS;
	ev.interrupt.soft = 0;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.interrupt.injected);
	EXPECT_EQ(VEC_EVENTS, ev.interrupt.nr);

	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(VEC_EVENTS, uc.args[2]);
	EXPECT_EQ(rip, uc.args[3]);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.interrupt.injected);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/*
 * interrupt.shadow is written only with KVM_VCPUEVENT_VALID_SHADOW, which
 * KVM accepts whenever it has KVM_CAP_VCPU_EVENTS (GET reports the flag;
 * api.rst names KVM_CAP_INTR_SHADOW for it, but KVM never advertises that
 * capability, so it is not what gates this case).  AMD-V
 * has a single shadow bit: KVM reports any shadow as STI | MOV_SS there;
 * VT-x keeps the two apart.  The shadow covers one instruction: it is gone
 * once the guest ran to its next exit.
 */
TEST(events_interrupt_shadow)
{
	static const uint8_t shadows[] = {
		KVM_X86_SHADOW_INT_MOV_SS, KVM_X86_SHADOW_INT_STI,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;
	unsigned int i;
	bool amd = host_is_amd();

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_syncs);
	get_events(vcpu, &ev);
	ASSERT_EQ(KVM_VCPUEVENT_VALID_SHADOW,
		  ev.flags & KVM_VCPUEVENT_VALID_SHADOW);
	vcpu_run_sync(vcpu, &uc, 1);

	for (i = 0; i < ARRAY_SIZE(shadows); i++) {
		get_events(vcpu, &ev);
		ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
		ev.interrupt.shadow = shadows[i];
		set_events(vcpu, &ev);
		get_events(vcpu, &ev);
		EXPECT_EQ(amd ? KVM_X86_SHADOW_INT_STI |
				KVM_X86_SHADOW_INT_MOV_SS : shadows[i],
			  ev.interrupt.shadow);
		ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
		ev.interrupt.shadow = 0;
		set_events(vcpu, &ev);
		get_events(vcpu, &ev);
		EXPECT_EQ(0, ev.interrupt.shadow);
	}

	/* Without the flag the field is ignored. */
	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.interrupt.shadow);

	/* Set, then run to the next exit: the shadow has expired. */
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	set_events(vcpu, &ev);
	vcpu_run_sync(vcpu, &uc, 2);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.interrupt.shadow);
	kvm_vm_free(vm);
}

/*
 * sipi_vector with KVM_VCPUEVENT_VALID_SIPI_VECTOR is accepted, but KVM
 * keeps it only in an in-kernel LAPIC and GET always reports 0 ("never
 * valid when reporting to user space"): it does not round-trip.
 */
TEST(events_sipi_vector)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_syncs);
	get_events(vcpu, &ev);
	ev.flags = KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ev.sipi_vector = 0x12;
	EXPECT_EQ(0, __set_events(vcpu, &ev));
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.sipi_vector);
	EXPECT_EQ(0, ev.flags & KVM_VCPUEVENT_VALID_SIPI_VECTOR);
	vcpu_run_sync(vcpu, &(struct ucall){ 0 }, 1);
	kvm_vm_free(vm);
}

/*
 * exception.injected: #UD reaches the guest's handler at the next entry
 * with RIP where the guest stood; #GP with its error code.
 */
TEST(events_exception_injected)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_vcpu_events ev;
	struct ucall uc;
	uint64_t rip;

	if (!have_events())
		SKIP(return, "KVM_CAP_VCPU_EVENTS is 0");
	vm = vm_create_with_one_vcpu(&vcpu, guest_exceptions);
	vm_install_exception_handler(vm, UD_VECTOR, ud_record_handler);
	vm_install_exception_handler(vm, GP_VECTOR, gp_record_handler);
	vcpu_run_sync(vcpu, &uc, 1);

	rip = resume_rip(vcpu);
	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = UD_VECTOR;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.exception.injected);
	EXPECT_EQ(UD_VECTOR, ev.exception.nr);
	EXPECT_EQ(0, ev.exception.has_error_code);
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(rip, uc.args[2]);
	get_events(vcpu, &ev);
	EXPECT_EQ(0, ev.exception.injected);

	rip = resume_rip(vcpu);
	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = GP_VECTOR;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 0x1234;
	set_events(vcpu, &ev);
	get_events(vcpu, &ev);
	EXPECT_EQ(1, ev.exception.injected);
	EXPECT_EQ(GP_VECTOR, ev.exception.nr);
	EXPECT_EQ(1, ev.exception.has_error_code);
	EXPECT_EQ(0x1234, ev.exception.error_code);
	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(0x1234, uc.args[2]);
	EXPECT_EQ(rip, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
