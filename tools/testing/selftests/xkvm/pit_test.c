// SPDX-License-Identifier: GPL-2.0
/*
 * pit_test.c - the in-kernel 8254 PIT (KVM_CREATE_PIT2) as stock KVM
 * implements it (every case passes against it in reference mode):
 *
 * - KVM_CREATE_PIT2's errors (no irqchip, twice, unknown flags),
 *   KVM_GET/SET_PIT2 and KVM_REINJECT_CONTROL with and without a PIT, the
 *   state after creation and round trips;
 * - a guest programming channel 0 in mode 2 at ~1 kHz through ports
 *   0x43/0x40 and counting the ticks it receives through the PIC (IRQ0 ->
 *   LINT0 ExtINT) and through IOAPIC pin 2 (QEMU's routing of GSI 0);
 * - the counter latch command (value frozen until read, as KVM_GET_PIT2
 *   shows) and the read-back command's status byte;
 * - port 0x61 (channel 2 gate in bit 0, OUT in bit 5) with
 *   KVM_PIT_SPEAKER_DUMMY, and which ports exit to userspace without it.
 *
 * Time in the emulated test machine is slow and irregular: tick counts
 * are checked with generous bounds against the guest's TSC, never for
 * precision.  The guest waits for ticks with "sti; hlt", which blocks in
 * the kernel until an interrupt comes: a host-side watchdog turns a
 * missing tick into a failure instead of a hang.
 */
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "irqchip_util.h"
#include "xkvm_util.h"

#define PIC_M_CMD		0x20
#define PIC_M_DATA		0x21
#define PIC_S_CMD		0xa0
#define PIC_S_DATA		0xa1
#define PIC_EOI			0x20
#define PIC_M_BASE		0x30

#define PIT_CH0			0x40
#define PIT_CH2			0x42
#define PIT_MODE		0x43
#define PORT_61			0x61
#define PORT_61_GATE2		BIT(0)
#define PORT_61_SPEAKER		BIT(1)
#define PORT_61_OUT2		BIT(5)

/* Control words: channel, access lo/hi byte, mode, binary. */
#define PIT_CW(ch, mode)	(((ch) << 6) | 0x30 | ((mode) << 1))
#define PIT_LATCH(ch)		((ch) << 6)
/* Read-back: latch count and status of channel @ch. */
#define PIT_READBACK(ch)	(0xc0 | (2 << (ch)))

#define PIT_HZ			1193182
#define PIT_1KHZ		1193	/* ~1 ms */

#define VEC_IOAPIC_PIT		0x60
#define TICKS_WANTED		20
#define TICK_WAIT_MS		3000	/* of guest TSC, at most */
#define WATCHDOG_S		20	/* host side, for a guest stuck in HLT */

/* ---------------------------- guest side ---------------------------- */

static volatile uint64_t ticks, other_irqs;

static void pic_tick(struct ex_regs *regs)
{
	ticks++;
	outb(PIC_M_CMD, PIC_EOI);
}

static void ioapic_tick(struct ex_regs *regs)
{
	ticks++;
	xapic_write(APIC_EOI, 0);
}

static void other_irq(struct ex_regs *regs)
{
	other_irqs++;
}

static void pic_init(uint8_t master_mask)
{
	outb(PIC_M_DATA, 0xff);
	outb(PIC_S_DATA, 0xff);
	outb(PIC_M_CMD, 0x11);
	outb(PIC_M_DATA, PIC_M_BASE);
	outb(PIC_M_DATA, 0x04);
	outb(PIC_M_DATA, 0x01);
	outb(PIC_S_CMD, 0x11);
	outb(PIC_S_DATA, PIC_M_BASE + 8);
	outb(PIC_S_DATA, 0x02);
	outb(PIC_S_DATA, 0x01);
	outb(PIC_M_DATA, master_mask);
	outb(PIC_S_DATA, 0xff);
}

static void pit_program(uint8_t ch, uint8_t mode, uint16_t count)
{
	outb(PIT_MODE, PIT_CW(ch, mode));
	outb(PIT_CH0 + ch, count & 0xff);
	outb(PIT_CH0 + ch, count >> 8);
}

static uint16_t pit_read16(uint8_t ch)
{
	uint8_t lo = inb(PIT_CH0 + ch);

	return lo | (uint16_t)inb(PIT_CH0 + ch) << 8;
}

/*
 * Wait in "sti; hlt" for TICKS_WANTED ticks or TICK_WAIT_MS of TSC, then
 * report the ticks and the TSC cycles it took.
 */
static void wait_ticks(uint64_t tsc_khz)
{
	uint64_t t0 = rdtsc(), deadline = t0 + tsc_khz * TICK_WAIT_MS;
	uint64_t halts = 0;

	while (ticks < TICKS_WANTED && rdtsc() < deadline) {
		__asm__ __volatile__("sti; hlt; cli" : : : "memory");
		halts++;
	}
	GUEST_SYNC_ARGS(1, ticks, rdtsc() - t0, halts);
}

/* IRQ0 through the PIC and LINT0 (ExtINT, KVM's reset value for the BSP). */
static void guest_ticks_pic(uint64_t tsc_khz)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	xapic_write(APIC_LVT0, APIC_DM_EXTINT);
	pic_init((uint8_t)~BIT(0));
	pit_program(0, 2, PIT_1KHZ);
	wait_ticks(tsc_khz);
	outb(PIC_M_DATA, 0xff);
	GUEST_ASSERT_EQ(other_irqs, 0);
	GUEST_DONE();
}

/* GSI 0 routed to IOAPIC pin 2, as QEMU does; the PIC stays masked. */
static void guest_ticks_ioapic(uint64_t tsc_khz)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	xapic_write(APIC_LVT0, APIC_LVT_MASKED | APIC_DM_EXTINT);
	outb(PIC_M_DATA, 0xff);
	outb(PIC_S_DATA, 0xff);
	ioapic_write(IOAPIC_REDTBL_HI(2), 0);
	ioapic_write(IOAPIC_REDTBL_LO(2), VEC_IOAPIC_PIT);
	pit_program(0, 2, PIT_1KHZ);
	wait_ticks(tsc_khz);
	ioapic_write(IOAPIC_REDTBL_LO(2), VEC_IOAPIC_PIT | BIT(16));
	GUEST_ASSERT_EQ(other_irqs, 0);
	GUEST_DONE();
}

/* Latch, read-back status, and a free-running channel 0 counting down. */
static void guest_latch(void)
{
	uint64_t packed[2] = { 0, 0 };
	uint16_t v;
	int i;

	outb(PIC_M_DATA, 0xff);		/* no IRQ0, whatever LINT0 says */
	pit_program(0, 2, 0xffff);
	outb(PIT_MODE, PIT_LATCH(0));
	GUEST_SYNC(1);			/* host: latched_count, waits */
	GUEST_SYNC_ARGS(2, pit_read16(0), 0, 0);
	/* Eight latched reads in a row: a counter going down. */
	for (i = 0; i < 8; i++) {
		outb(PIT_MODE, PIT_LATCH(0));
		v = pit_read16(0);
		packed[i / 4] |= (uint64_t)v << (16 * (i % 4));
	}
	GUEST_SYNC_ARGS(3, packed[0], packed[1], 0);
	/* Read-back of status and count: status first. */
	outb(PIT_MODE, PIT_READBACK(0));
	v = inb(PIT_CH0);
	GUEST_SYNC_ARGS(4, v, pit_read16(0), 0);
	GUEST_DONE();
}

/* Port 0x61 and channel 2 (PIT created with KVM_PIT_SPEAKER_DUMMY). */
static void guest_port61(uint64_t tsc_khz)
{
	uint64_t t0, elapsed, deadline;
	uint8_t v;

	outb(PORT_61, 0);
	GUEST_ASSERT_EQ(inb(PORT_61) & (PORT_61_GATE2 | PORT_61_SPEAKER), 0);
	GUEST_SYNC(1);			/* host: channel 2 gate off */
	outb(PORT_61, PORT_61_GATE2 | PORT_61_SPEAKER);
	GUEST_ASSERT_EQ(inb(PORT_61) & (PORT_61_GATE2 | PORT_61_SPEAKER),
			PORT_61_GATE2 | PORT_61_SPEAKER);
	outb(PORT_61, PORT_61_GATE2);
	GUEST_ASSERT_EQ(inb(PORT_61) & (PORT_61_GATE2 | PORT_61_SPEAKER),
			PORT_61_GATE2);
	GUEST_SYNC(2);			/* host: channel 2 gate on */

	/* Mode 0 with a long count: OUT low until the count expires. */
	t0 = rdtsc();
	pit_program(2, 0, 0xffff);
	v = inb(PORT_61);
	elapsed = rdtsc() - t0;
	/* ~55 ms; only a stall of the emulator this long excuses OUT high. */
	if (v & PORT_61_OUT2)
		GUEST_ASSERT(elapsed > tsc_khz * 50);

	/* A short count (~84 us): OUT goes high and stays high. */
	pit_program(2, 0, 100);
	deadline = rdtsc() + tsc_khz * 2000;
	do {
		v = inb(PORT_61);
	} while (!(v & PORT_61_OUT2) && rdtsc() < deadline);
	GUEST_ASSERT(v & PORT_61_OUT2);
	GUEST_ASSERT(inb(PORT_61) & PORT_61_OUT2);
	/* Read-back status: OUT (bit 7), lo/hi access, mode 0, binary. */
	outb(PIT_MODE, PIT_READBACK(2));
	GUEST_ASSERT_EQ(inb(PIT_CH2), 0x80 | 0x30);
	pit_read16(2);
	GUEST_DONE();
}

/* Touches the PIT and port 0x61: for the exits to userspace. */
static void guest_ports(void)
{
	GUEST_SYNC_ARGS(1, inb(PORT_61), 0, 0);
	outb(PIT_MODE, PIT_CW(0, 2));
	GUEST_DONE();
}

/* ----------------------------- host side ----------------------------- */

static int __vm_ioctl(struct kvm_vm *vm, unsigned long req, void *arg)
{
	return ioctl(vm->fd, req, arg);
}

static int __create_pit(struct kvm_vm *vm, uint32_t flags)
{
	struct kvm_pit_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = flags;
	return __vm_ioctl(vm, KVM_CREATE_PIT2, &cfg);
}

static int __reinject(struct kvm_vm *vm, uint8_t on)
{
	struct kvm_reinject_control rc;

	memset(&rc, 0, sizeof(rc));
	rc.pit_reinject = on;
	return __vm_ioctl(vm, KVM_REINJECT_CONTROL, &rc);
}

static void get_pit(struct kvm_vm *vm, struct kvm_pit_state2 *ps)
{
	memset(ps, 0x5a, sizeof(*ps));
	TEST_ASSERT(!__vm_ioctl(vm, KVM_GET_PIT2, ps), "KVM_GET_PIT2 failed");
}

static void set_pit(struct kvm_vm *vm, struct kvm_pit_state2 *ps)
{
	TEST_ASSERT(!__vm_ioctl(vm, KVM_SET_PIT2, ps), "KVM_SET_PIT2 failed");
}

static struct kvm_vm *vm_create_irqchip(void)
{
	struct kvm_vm *vm = vm_create_barebones();

	TEST_ASSERT(!__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL),
		    "KVM_CREATE_IRQCHIP failed");
	return vm;
}

/* Long-mode VM, irqchip, optional PIT, vCPU 0, LAPIC/IOAPIC mapped. */
static struct kvm_vm *vm_pit_vcpu(struct kvm_vcpu **vcpu, void *guest,
				  bool pit, uint32_t pit_flags)
{
	struct kvm_vm *vm = vm_create_long_mode();
	int v;

	TEST_ASSERT(!__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL),
		    "KVM_CREATE_IRQCHIP failed");
	if (pit)
		TEST_ASSERT(!__create_pit(vm, pit_flags),
			    "KVM_CREATE_PIT2 failed");
	*vcpu = vm_vcpu_add(vm, 0, guest);
	virt_map(vm, APIC_GVA, APIC_GVA, PAGE_SIZE);
	virt_map(vm, IOAPIC_GPA, IOAPIC_GPA, PAGE_SIZE);
	for (v = 0x20; v < 256; v++)
		vm_install_exception_handler(vm, v, other_irq);
	return vm;
}

static uint64_t vcpu_tsc_khz(struct kvm_vcpu *vcpu)
{
	int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ);

	TEST_ASSERT(khz > 0, "KVM_GET_TSC_KHZ returned %d", khz);
	return khz;
}

static void on_alarm(int sig)
{
}

/*
 * Run to the next ucall with a watchdog: a guest halted forever (no tick
 * ever came) makes KVM_RUN return EINTR, and the test fails.
 */
static uint64_t run_watchdog(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_sec = WATCHDOG_S } };
	struct itimerval off = { 0 };
	int r;

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGALRM, &sa, NULL), "sigaction failed");
	TEST_ASSERT(!setitimer(ITIMER_REAL, &it, NULL), "setitimer failed");
	r = __vcpu_run(vcpu);
	setitimer(ITIMER_REAL, &off, NULL);
	TEST_ASSERT(r == 0, "KVM_RUN returned %d after %d s: no PIT tick woke the guest's HLT?",
		    r, WATCHDOG_S);
	/* Already run: let vcpu_run_ucall's checks see this exit. */
	TEST_ASSERT(get_ucall(vcpu, uc) != UCALL_NONE,
		    "wanted a ucall, got exit %u%s", vcpu->run->exit_reason,
		    exit_details(vcpu));
	if (uc->cmd == UCALL_ABORT || uc->cmd == UCALL_EXCEPTION)
		TEST_FAIL("%s", ucall_describe(uc));
	return uc->cmd;
}

/* Checks the tick report of wait_ticks(). */
static void check_ticks(struct __test_metadata *_metadata, struct ucall *uc,
			uint64_t tsc_khz)
{
	uint64_t n = uc->args[1], ms = uc->args[2] / tsc_khz;

	TH_LOG("%llu ticks in %llu ms of guest TSC, %llu HLTs",
	       (unsigned long long)n, (unsigned long long)ms,
	       (unsigned long long)uc->args[3]);
	/*
	 * At least a few, whatever the emulator's pace (stock kvm_intel in
	 * Bochs, reference mode, once delivered only 4 through the IOAPIC
	 * in 3.5 s of guest TSC)...
	 */
	EXPECT_LE(3, n);
	/* ...and no storm: at most twice the nominal rate, plus slack. */
	EXPECT_GE(2 * ms + 10, n);
}

/* The running kernel is older than @major.@minor. */
static bool kernel_older_than(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	TEST_ASSERT(!uname(&u), "uname failed");
	TEST_ASSERT(sscanf(u.release, "%d.%d", &ma, &mi) == 2,
		    "kernel release %s", u.release);
	return ma < major || (ma == major && mi < minor);
}

TEST(pit_ioctls_without_pit)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_pit_state2 ps;
	int r;

	/*
	 * No irqchip yet.  api.rst: "only valid after enabling in-kernel
	 * irqchip support via KVM_CREATE_IRQCHIP"; KVM 6.12 refuses it with
	 * ENOENT, but 6.1 still created the PIT.  xkvm does what the
	 * documentation and current KVM do.
	 */
	r = __create_pit(vm, 0);
	if (xkvm_reference_mode() && kernel_older_than(6, 2)) {
		EXPECT_EQ(0, r);
	} else if (xkvm_reference_mode() && kernel_older_than(6, 12)) {
		EXPECT_TRUE(r == 0 || errno == ENOENT);
	} else {
		EXPECT_EQ(-1, r);
		EXPECT_EQ(ENOENT, errno);
	}
	kvm_vm_free(vm);

	vm = vm_create_irqchip();
	memset(&ps, 0, sizeof(ps));
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_GET_PIT2, &ps));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_SET_PIT2, &ps));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, __reinject(vm, 1));
	EXPECT_EQ(ENXIO, errno);
	kvm_vm_free(vm);
}

TEST(pit_create)
{
	struct kvm_vm *vm = vm_create_irqchip();

	EXPECT_EQ(0, __create_pit(vm, 0));
	EXPECT_EQ(-1, __create_pit(vm, 0));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, __create_pit(vm, KVM_PIT_SPEAKER_DUMMY));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_CREATE_PIT2, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);

	/*
	 * Unknown flags: stock KVM (6.1 and 6.12) does not check them and
	 * creates the PIT.
	 */
	vm = vm_create_irqchip();
	EXPECT_EQ(0, __create_pit(vm, 2));
	kvm_vm_free(vm);
	vm = vm_create_irqchip();
	EXPECT_EQ(0, __create_pit(vm, 0x80000000));
	kvm_vm_free(vm);

	vm = vm_create_irqchip();
	EXPECT_EQ(0, __create_pit(vm, KVM_PIT_SPEAKER_DUMMY));
	kvm_vm_free(vm);
}

TEST(pit_state)
{
	struct kvm_vm *vm = vm_create_irqchip();
	struct kvm_pit_state2 ps, back;
	int ch;

	ASSERT_EQ(0, __create_pit(vm, 0));
	/*
	 * After creation every channel has count 0x10000 (a count of 0),
	 * KVM's "never programmed" mode 0xff and nothing latched; the gates
	 * of channels 0 and 1 are tied high, channel 2's (port 0x61) is low.
	 */
	get_pit(vm, &ps);
	for (ch = 0; ch < 3; ch++) {
		struct kvm_pit_channel_state *c = &ps.channels[ch];

		EXPECT_EQ(0x10000, c->count) TH_LOG("channel %d", ch);
		EXPECT_EQ(0xff, c->mode) TH_LOG("channel %d", ch);
		EXPECT_EQ(ch != 2, c->gate) TH_LOG("channel %d", ch);
		EXPECT_EQ(0, c->latched_count | c->count_latched |
			  c->status_latched | c->status | c->read_state |
			  c->write_state | c->write_latch | c->rw_mode |
			  c->bcd) TH_LOG("channel %d", ch);
	}
	EXPECT_EQ(0, ps.flags);

	/* Round trip; a count of 0 means 0x10000. */
	ps.channels[1].count = 0;
	ps.channels[1].mode = 3;
	ps.channels[1].rw_mode = 3;
	ps.channels[1].read_state = 3;
	ps.channels[1].write_state = 3;
	ps.channels[2].count = 1234;
	ps.channels[2].mode = 0;
	ps.channels[2].rw_mode = 1;
	ps.channels[2].gate = 1;
	ps.channels[2].bcd = 1;
	ps.channels[2].latched_count = 77;
	ps.channels[2].count_latched = 1;
	ps.channels[2].status = 0x11;
	ps.channels[2].status_latched = 1;
	set_pit(vm, &ps);
	get_pit(vm, &back);
	EXPECT_EQ(0x10000, back.channels[1].count);
	EXPECT_EQ(3, back.channels[1].mode);
	EXPECT_EQ(3, back.channels[1].rw_mode);
	EXPECT_EQ(1234, back.channels[2].count);
	EXPECT_EQ(0, back.channels[2].mode);
	EXPECT_EQ(1, back.channels[2].rw_mode);
	EXPECT_EQ(1, back.channels[2].gate);
	EXPECT_EQ(1, back.channels[2].bcd);
	EXPECT_EQ(77, back.channels[2].latched_count);
	EXPECT_EQ(1, back.channels[2].count_latched);
	EXPECT_EQ(0x11, back.channels[2].status);
	EXPECT_EQ(1, back.channels[2].status_latched);
	EXPECT_EQ(0, back.flags);
	for (ch = 0; ch < 3; ch++)
		EXPECT_EQ(ps.channels[ch].read_state,
			  back.channels[ch].read_state);

	ps.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	set_pit(vm, &ps);
	get_pit(vm, &back);
	EXPECT_EQ(KVM_PIT_FLAGS_SPEAKER_DATA_ON, back.flags);

	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_GET_PIT2, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_SET_PIT2, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

TEST(reinject_control)
{
	struct kvm_vm *vm = vm_create_barebones();

	EXPECT_EQ(-1, __reinject(vm, 0));
	EXPECT_EQ(ENXIO, errno);
	kvm_vm_free(vm);

	vm = vm_create_irqchip();
	EXPECT_EQ(-1, __reinject(vm, 0));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, __create_pit(vm, 0));
	EXPECT_EQ(0, __reinject(vm, 0));
	EXPECT_EQ(0, __reinject(vm, 1));
	EXPECT_EQ(0, __reinject(vm, 0xff));
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_REINJECT_CONTROL, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

TEST(ticks_through_pic)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_pit_vcpu(&vcpu, guest_ticks_pic, true, 0);
	struct kvm_pit_state2 ps;
	uint64_t khz = vcpu_tsc_khz(vcpu);
	struct ucall uc;

	vm_install_exception_handler(vm, PIC_M_BASE, pic_tick);
	vcpu_args_set(vcpu, 1, khz);
	ASSERT_EQ(UCALL_SYNC, run_watchdog(vcpu, &uc));
	check_ticks(_metadata, &uc, khz);
	get_pit(vm, &ps);
	EXPECT_EQ(PIT_1KHZ, ps.channels[0].count);
	EXPECT_EQ(2, ps.channels[0].mode);
	EXPECT_EQ(3, ps.channels[0].rw_mode);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(ticks_through_ioapic_pin2)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_pit_vcpu(&vcpu, guest_ticks_ioapic, true, 0);
	struct kvm_irq_routing *r;
	uint64_t khz = vcpu_tsc_khz(vcpu);
	struct ucall uc;

	/* QEMU's table: GSI 0 goes to IOAPIC pin 2, GSI 2 nowhere. */
	r = irq_routing_isa(IRQ_ROUTING_QEMU, 0);
	ASSERT_EQ(0, __irq_routing_set(vm, r));
	free(r);
	/* Fire at once, as QEMU does. */
	ASSERT_EQ(0, __reinject(vm, 0));

	vm_install_exception_handler(vm, VEC_IOAPIC_PIT, ioapic_tick);
	vcpu_args_set(vcpu, 1, khz);
	ASSERT_EQ(UCALL_SYNC, run_watchdog(vcpu, &uc));
	check_ticks(_metadata, &uc, khz);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(latch_and_readback)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_pit_vcpu(&vcpu, guest_latch, true, 0);
	struct kvm_pit_state2 ps;
	struct ucall uc;
	uint16_t v[8], latched;
	int i, down = 0;

	vcpu_expect_sync(vcpu, 1);
	get_pit(vm, &ps);
	EXPECT_EQ(3, ps.channels[0].count_latched);	/* lo then hi */
	latched = ps.channels[0].latched_count;
	EXPECT_LE(1, latched);
	/* Let the counter run on: the latched value must not. */
	usleep(20 * 1000);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(latched, uc.args[1]);
	get_pit(vm, &ps);
	EXPECT_EQ(0, ps.channels[0].count_latched);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(3, uc.args[0]);
	for (i = 0; i < 8; i++) {
		v[i] = uc.args[1 + i / 4] >> (16 * (i % 4));
		EXPECT_LE(1, v[i]);
		if (i && v[i] < v[i - 1])
			down++;
	}
	TH_LOG("latched reads: %u %u %u %u %u %u %u %u", v[0], v[1], v[2],
	       v[3], v[4], v[5], v[6], v[7]);
	/* Mode 2 counts down from 0xffff: at most one reload in 8 reads. */
	EXPECT_LE(6, down);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(4, uc.args[0]);
	/* Status: lo/hi access, mode 2, binary (OUT in bit 7 aside). */
	EXPECT_EQ(0x34, uc.args[1] & 0x7f);
	EXPECT_LE(1, uc.args[2]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(port61_speaker_dummy)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_pit_vcpu(&vcpu, guest_port61, true,
					KVM_PIT_SPEAKER_DUMMY);
	struct kvm_pit_state2 ps;
	struct ucall uc;

	vcpu_args_set(vcpu, 1, vcpu_tsc_khz(vcpu));
	vcpu_expect_sync(vcpu, 1);
	get_pit(vm, &ps);
	EXPECT_EQ(0, ps.channels[2].gate);
	vcpu_expect_sync(vcpu, 2);
	get_pit(vm, &ps);
	EXPECT_EQ(1, ps.channels[2].gate);
	EXPECT_EQ(UCALL_DONE, vcpu_run_ucall(vcpu, &uc));
	get_pit(vm, &ps);
	EXPECT_EQ(100, ps.channels[2].count);
	EXPECT_EQ(0, ps.channels[2].mode);
	kvm_vm_free(vm);
}

/* Which accesses reach userspace: KVM_EXIT_IO for ports no device owns. */
static void expect_io_exit(struct __test_metadata *_metadata,
			   struct kvm_vcpu *vcpu, uint16_t port, uint8_t dir)
{
	vcpu_run(vcpu);
	ASSERT_EQ(KVM_EXIT_IO, vcpu->run->exit_reason)
		TH_LOG("exit %u%s", vcpu->run->exit_reason, exit_details(vcpu));
	EXPECT_EQ(port, vcpu->run->io.port);
	EXPECT_EQ(dir, vcpu->run->io.direction);
	EXPECT_EQ(1, vcpu->run->io.size);
}

TEST(port_exits)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	/* No PIT: both ports are userspace's. */
	vm = vm_pit_vcpu(&vcpu, guest_ports, false, 0);
	expect_io_exit(_metadata, vcpu, PORT_61, KVM_EXIT_IO_IN);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x20;
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(0x20, uc.args[1]);
	expect_io_exit(_metadata, vcpu, PIT_MODE, KVM_EXIT_IO_OUT);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);

	/* PIT without the speaker stub: only port 0x61 exits. */
	vm = vm_pit_vcpu(&vcpu, guest_ports, true, 0);
	expect_io_exit(_metadata, vcpu, PORT_61, KVM_EXIT_IO_IN);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x20;
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(0x20, uc.args[1]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);

	/* With it, neither. */
	vm = vm_pit_vcpu(&vcpu, guest_ports, true, KVM_PIT_SPEAKER_DUMMY);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
