// SPDX-License-Identifier: GPL-2.0
/*
 * irqfd_test.c - KVM_IRQFD as stock KVM implements it (every case passes
 * against it in reference mode):
 *
 * - the errors: unknown flags, no or a split irqchip, bad and non-eventfd
 *   fds and resamplefds, one eventfd twice, deassigning what is not
 *   assigned;
 * - an edge irqfd on an IOAPIC GSI and on an MSI route reaching the
 *   guest; a signal before the assignment; a route changed under a live
 *   irqfd; deassign stopping delivery;
 * - a level irqfd with a resamplefd: the line stays high (remote IRR, no
 *   second interrupt) until the guest EOIs, then it is lowered and the
 *   resamplefd fires; KVM_IRQ_LINE's level is a separate source;
 * - the eventfd closed while assigned (the irqfd detaches and lowers its
 *   line), the VM closed with irqfds attached and eventfds being
 *   signalled, and racer threads assigning, deassigning, closing,
 *   signalling and rerouting while the guest takes the interrupts.
 *
 * The host waits for an interrupt to reach the LAPIC's IRR (KVM_GET_LAPIC)
 * before it lets the guest look: injection may come from a work item.
 * The guest takes interrupts in bounded "sti; nop; nop; cli" windows.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "irqchip_util.h"
#include "xkvm_util.h"

#define PIC_M_DATA		0x21
#define PIC_S_DATA		0xa1

#define GSI_EDGE		17
#define GSI_LEVEL		18
#define GSI_MSI			40
#define VEC_EDGE		0x61
#define VEC_LEVEL		0x62
#define VEC_MSI			0x63
#define VEC_MSI2		0x64
#define VEC_RACE_BASE		0x80	/* 0x80-0x97: IOAPIC pins 0-23 */
#define VEC_RACE_MSI		0xa0

/* ---------------------------- guest side ---------------------------- */

static uint64_t race_stop;

static bool apic_isr(uint8_t vec)
{
	return mmio_read32(APIC_GVA + APIC_ISR + 0x10 * (vec / 32)) &
	       BIT(vec % 32);
}

/* APIC on, LINT0 masked, the PIC masked: the IOAPIC and MSIs only. */
static void guest_lapic_setup(void)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	xapic_write(APIC_LVT0, APIC_LVT_MASKED | APIC_DM_EXTINT);
	outb(PIC_M_DATA, 0xff);
	outb(PIC_S_DATA, 0xff);
}

/* Edge: IOAPIC pin, then MSI route, route change, deassign. */
static void guest_edge(void)
{
	guest_lapic_setup();
	ioapic_set_rte(GSI_EDGE, VEC_EDGE, 0);
	GUEST_SYNC(1);			/* host: signals the GSI 17 irqfd */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_EDGE);
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT_EQ(irq_window(2), 1);	/* an edge: once */
	GUEST_SYNC(2);			/* host: signal before assignment */
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), VEC_EDGE);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(3);			/* host: MSI route on GSI 40 */
	GUEST_ASSERT_EQ(irq_window(3), 3);
	GUEST_ASSERT_EQ(irq_nth(2), VEC_MSI);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(4);			/* host: route changed, same irqfd */
	GUEST_ASSERT_EQ(irq_window(4), 4);
	GUEST_ASSERT_EQ(irq_nth(3), VEC_MSI2);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(5);			/* host: GSI 40 now to IOAPIC pin 17 */
	GUEST_ASSERT_EQ(irq_window(5), 5);
	GUEST_ASSERT_EQ(irq_nth(4), VEC_EDGE);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(6);			/* host: deassigned, then signals */
	GUEST_ASSERT_EQ(irq_window(6), 5);
	GUEST_DONE();
}

/* Level pin 18 behind a resampling irqfd. */
static void guest_level(void)
{
	guest_lapic_setup();
	ioapic_set_rte(GSI_LEVEL, VEC_LEVEL | RTE_LEVEL, 0);
	GUEST_SYNC(1);			/* host: signals the irqfd twice */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_LEVEL);
	GUEST_ASSERT(ioapic_read(IOAPIC_REDTBL_LO(GSI_LEVEL)) & RTE_REMOTE_IRR);
	GUEST_ASSERT_EQ(irq_window(2), 1);	/* held until the EOI */
	GUEST_SYNC(2);			/* host: line high, no resample yet */
	GUEST_ASSERT_EQ(irq_window(2), 1);
	xapic_write(APIC_EOI, 0);	/* lowers the line, fires resamplefd */
	GUEST_ASSERT(!apic_isr(VEC_LEVEL));
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(GSI_LEVEL)),
			VEC_LEVEL | RTE_LEVEL);
	GUEST_ASSERT_EQ(irq_window(2), 1);	/* not re-delivered */
	GUEST_SYNC(3);			/* host: resampled; device still busy */
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), VEC_LEVEL);
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT_EQ(irq_window(3), 2);
	GUEST_SYNC(4);			/* host: irqfd and KVM_IRQ_LINE high */
	GUEST_ASSERT_EQ(irq_window(3), 3);
	xapic_write(APIC_EOI, 0);	/* irqfd lowered, userspace's not */
	GUEST_ASSERT_EQ(irq_window(4), 4);
	GUEST_ASSERT_EQ(irq_nth(3), VEC_LEVEL);
	GUEST_SYNC(5);			/* host: KVM_IRQ_LINE low */
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT_EQ(irq_window(5), 4);
	GUEST_DONE();
}

/* Every interrupt taken and EOI'd; reports progress until told to stop. */
static void race_irq(struct ex_regs *regs)
{
	irq_count++;
	xapic_write(APIC_EOI, 0);
}

static void guest_race(void)
{
	uint64_t rounds = 0;
	int pin;

	guest_lapic_setup();
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		ioapic_set_rte(pin, (VEC_RACE_BASE + pin) |
				    (pin == GSI_LEVEL ? RTE_LEVEL : 0), 0);
	while (!*(volatile uint64_t *)&race_stop) {
		irq_window(~0ULL);
		GUEST_SYNC_ARGS(1, ++rounds, irq_count, 0);
	}
	GUEST_DONE();
}

/* ----------------------------- host side ----------------------------- */

static int __irqfd(struct kvm_vm *vm, int fd, uint32_t gsi, uint32_t flags,
		   int resamplefd)
{
	struct kvm_irqfd a = {
		.fd = fd, .gsi = gsi, .flags = flags, .resamplefd = resamplefd,
	};

	return ioctl(vm->fd, KVM_IRQFD, &a);
}

static void irqfd_assign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	TEST_ASSERT(!__irqfd(vm, fd, gsi, 0, 0),
		    "KVM_IRQFD(fd %d, gsi %u) failed: %s", fd, gsi,
		    strerror(errno));
}

static void irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	TEST_ASSERT(!__irqfd(vm, fd, gsi, KVM_IRQFD_FLAG_DEASSIGN, 0),
		    "KVM_IRQFD deassign(fd %d, gsi %u) failed: %s", fd, gsi,
		    strerror(errno));
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd: %s", strerror(errno));
	return fd;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	TEST_ASSERT(write(fd, &one, 8) == 8, "eventfd write: %s",
		    strerror(errno));
}

/* The eventfd's count, 0 if it was not signalled. */
static uint64_t read_fd(int fd)
{
	uint64_t v;

	return read(fd, &v, 8) == 8 ? v : 0;
}

static void create_irqchip(struct kvm_vm *vm)
{
	TEST_ASSERT(!ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL),
		    "KVM_CREATE_IRQCHIP failed");
}

static bool lapic_irr(struct kvm_vcpu *vcpu, uint8_t vec)
{
	struct kvm_lapic_state s;
	uint32_t w;

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_LAPIC, &s), "KVM_GET_LAPIC");
	memcpy(&w, &s.regs[APIC_IRR + 0x10 * (vec / 32)], 4);
	return w & BIT(vec % 32);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (2 s at most) for @vec in the vCPU's IRR. */
static bool wait_irr(struct kvm_vcpu *vcpu, uint8_t vec)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (lapic_irr(vcpu, vec))
			return true;
		sleep_ms(1);
	}
	return false;
}

/* Is IOAPIC input @pin high (KVM_GET_IRQCHIP's irr)? */
static bool ioapic_line(struct kvm_vm *vm, int pin)
{
	struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_IOAPIC };

	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_IRQCHIP, &c), "KVM_GET_IRQCHIP");
	return c.chip.ioapic.irr & BIT(pin);
}

/* Wait (2 s at most) for IOAPIC input @pin to be @high. */
static bool wait_line(struct kvm_vm *vm, int pin, bool high)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (ioapic_line(vm, pin) == high)
			return true;
		sleep_ms(1);
	}
	return false;
}

static int irq_line(struct kvm_vm *vm, uint32_t gsi, uint32_t level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	return ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

/* GSI n -> IOAPIC pin n (0-23), plus one more route for @gsi. */
static void set_routing(struct kvm_vm *vm, uint32_t gsi, int vec, int pin)
{
	struct kvm_irq_routing *r = irq_routing_isa(IRQ_ROUTING_NO_PIC, 1);

	if (vec >= 0)	/* an MSI to APIC ID 0: physical, fixed, edge */
		irq_routing_add_msi(r, gsi, 0xfee00000, vec);
	else
		irq_routing_add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, pin);
	irq_routing_set(vm, r);
	free(r);
}

/* ---- ABI ---- */

TEST(capabilities)
{
	struct kvm_vm *vm = vm_create_barebones();

	EXPECT_LT(0, vm_check_cap(vm, KVM_CAP_IRQFD));
	EXPECT_LT(0, vm_check_cap(vm, KVM_CAP_IRQFD_RESAMPLE));
	kvm_vm_free(vm);
}

TEST(errors_without_irqchip)
{
	struct kvm_vm *vm = vm_create_barebones();
	int efd = new_eventfd(), rfd = new_eventfd();

	EXPECT_EQ(-1, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	EXPECT_EQ(EINVAL, errno);
	/* flags are checked first */
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, 4, 0));
	EXPECT_EQ(EINVAL, errno);
	/* deassign needs no irqchip: nothing assigned is no error */
	EXPECT_EQ(0, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(-1, __irqfd(vm, -1, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(EBADF, errno);
	close(efd);
	close(rfd);
	kvm_vm_free(vm);
}

TEST(errors_split_irqchip)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 },
	};
	int efd = new_eventfd(), rfd = new_eventfd();

	ASSERT_EQ(0, ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	/* a plain irqfd is fine (MSI routes), a resampling one is not */
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(0, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	close(efd);
	close(rfd);
	kvm_vm_free(vm);
}

TEST(errors)
{
	struct kvm_vm *vm = vm_create_barebones();
	int efd = new_eventfd(), efd2 = new_eventfd(), rfd = new_eventfd();
	int nullfd = open("/dev/null", O_RDWR);

	ASSERT_LE(0, nullfd);
	create_irqchip(vm);
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, 1U << 2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, ~0U, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __irqfd(vm, -1, 1, 0, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, __irqfd(vm, 100000, 1, 0, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, __irqfd(vm, nullfd, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __irqfd(vm, vm->fd, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_RESAMPLE, -1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_RESAMPLE, nullfd));
	EXPECT_EQ(EINVAL, errno);

	/* one eventfd, one irqfd: whatever the GSI or the kind */
	EXPECT_EQ(0, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 2, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, __irqfd(vm, efd, 3, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	EXPECT_EQ(EBUSY, errno);
	/* a dup of it is the same eventfd */
	int dupfd = dup(efd);

	EXPECT_EQ(-1, __irqfd(vm, dupfd, 5, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	close(dupfd);

	/* the resamplefd may be shared, or be another irqfd's eventfd */
	EXPECT_EQ(0, __irqfd(vm, efd2, 5, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	EXPECT_EQ(0, __irqfd(vm, rfd, 6, KVM_IRQFD_FLAG_RESAMPLE, efd2));
	EXPECT_EQ(0, __irqfd(vm, rfd, 6, KVM_IRQFD_FLAG_DEASSIGN, 0));

	/* deassign: the GSI must match; nothing assigned is no error */
	EXPECT_EQ(0, __irqfd(vm, efd, 2, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(-1, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(0, __irqfd(vm, efd, 1, KVM_IRQFD_FLAG_DEASSIGN |
					 KVM_IRQFD_FLAG_RESAMPLE, 0));
	EXPECT_EQ(0, __irqfd(vm, efd, 1, 0, 0));
	EXPECT_EQ(-1, __irqfd(vm, -1, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, __irqfd(vm, nullfd, 1, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(EINVAL, errno);
	/* no GSI is refused: one without a route raises nothing */
	EXPECT_EQ(0, __irqfd(vm, efd2, 5, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, __irqfd(vm, efd2, 0xffffffff, 0, 0));
	signal_fd(efd2);
	/* a bad pointer */
	EXPECT_EQ(-1, ioctl(vm->fd, KVM_IRQFD, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	close(nullfd);
	kvm_vm_free(vm);	/* with irqfds attached */
	close(efd);
	close(efd2);
	close(rfd);
}

/* ---- delivery ---- */

TEST(edge)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_edge, irq_record);
	int efd = new_eventfd(), mfd = new_eventfd();
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	irqfd_assign(vm, efd, GSI_EDGE);
	signal_fd(efd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_EDGE));
	/* an edge: the line goes low again */
	EXPECT_TRUE(wait_line(vm, GSI_EDGE, false));

	vcpu_run_sync(vcpu, &uc, 2);
	irqfd_deassign(vm, efd, GSI_EDGE);
	signal_fd(efd);			/* while not assigned */
	EXPECT_FALSE(lapic_irr(vcpu, VEC_EDGE));
	irqfd_assign(vm, efd, GSI_EDGE);	/* ... delivered now */
	ASSERT_TRUE(wait_irr(vcpu, VEC_EDGE));

	vcpu_run_sync(vcpu, &uc, 3);
	set_routing(vm, GSI_MSI, VEC_MSI, 0);
	irqfd_assign(vm, mfd, GSI_MSI);
	signal_fd(mfd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_MSI));

	vcpu_run_sync(vcpu, &uc, 4);
	set_routing(vm, GSI_MSI, VEC_MSI2, 0);
	signal_fd(mfd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_MSI2));
	EXPECT_FALSE(lapic_irr(vcpu, VEC_MSI));

	vcpu_run_sync(vcpu, &uc, 5);
	set_routing(vm, GSI_MSI, -1, GSI_EDGE);
	signal_fd(mfd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_EDGE));

	vcpu_run_sync(vcpu, &uc, 6);
	irqfd_deassign(vm, mfd, GSI_MSI);
	irqfd_deassign(vm, efd, GSI_EDGE);
	signal_fd(mfd);
	signal_fd(efd);
	sleep_ms(50);
	EXPECT_FALSE(lapic_irr(vcpu, VEC_EDGE));
	/* nobody read them: the counts are userspace's again */
	EXPECT_EQ(1, read_fd(mfd));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
	close(efd);
	close(mfd);
}

TEST(level_resample)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_level, irq_record);
	int efd = new_eventfd(), rfd = new_eventfd();
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, __irqfd(vm, efd, GSI_LEVEL, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	signal_fd(efd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_LEVEL));
	EXPECT_TRUE(ioapic_line(vm, GSI_LEVEL));
	signal_fd(efd);			/* already high: nothing new */

	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_TRUE(ioapic_line(vm, GSI_LEVEL));
	EXPECT_EQ(0, read_fd(rfd));

	vcpu_run_sync(vcpu, &uc, 3);	/* the guest EOI'd */
	EXPECT_EQ(1, read_fd(rfd));
	EXPECT_FALSE(ioapic_line(vm, GSI_LEVEL));
	signal_fd(efd);			/* the device still wants service */
	ASSERT_TRUE(wait_irr(vcpu, VEC_LEVEL));

	vcpu_run_sync(vcpu, &uc, 4);
	EXPECT_EQ(1, read_fd(rfd));
	EXPECT_FALSE(ioapic_line(vm, GSI_LEVEL));
	/* userspace's KVM_IRQ_LINE is another source of the same line */
	signal_fd(efd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_LEVEL));
	EXPECT_EQ(0, irq_line(vm, GSI_LEVEL, 1));

	vcpu_run_sync(vcpu, &uc, 5);
	EXPECT_EQ(1, read_fd(rfd));
	EXPECT_TRUE(ioapic_line(vm, GSI_LEVEL));
	EXPECT_EQ(0, irq_line(vm, GSI_LEVEL, 0));
	vcpu_expect_done(vcpu);
	EXPECT_EQ(1, read_fd(rfd));

	/* closing the eventfd detaches the irqfd, which lowers its line */
	signal_fd(efd);
	EXPECT_TRUE(wait_line(vm, GSI_LEVEL, true));
	close(efd);
	EXPECT_TRUE(wait_line(vm, GSI_LEVEL, false));
	kvm_vm_free(vm);
	close(rfd);
}

TEST(eventfd_closed)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_edge, irq_record);
	int efd = new_eventfd(), dupfd, i;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	irqfd_assign(vm, efd, GSI_EDGE);
	/* a dup keeps the eventfd alive: still assigned */
	dupfd = dup(efd);
	close(efd);
	signal_fd(dupfd);
	ASSERT_TRUE(wait_irr(vcpu, VEC_EDGE));
	EXPECT_EQ(-1, __irqfd(vm, dupfd, GSI_EDGE, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	close(dupfd);			/* now detached */

	/* many assigned and closed at once, some signalled */
	for (i = 0; i < 64; i++) {
		int fd = new_eventfd();

		irqfd_assign(vm, fd, i % 24);
		if (i & 1)
			signal_fd(fd);
		close(fd);
	}
	/* the fd numbers come back: new eventfds, new irqfds */
	efd = new_eventfd();
	irqfd_assign(vm, efd, GSI_EDGE);
	irqfd_deassign(vm, efd, GSI_EDGE);
	close(efd);
	kvm_vm_free(vm);
}

/* ---- the VM goes first ---- */

struct signaller {
	int fds[8];
	volatile bool stop;
};

static void *signal_loop(void *arg)
{
	struct signaller *s = arg;
	uint64_t one = 1;
	int i;

	while (!s->stop)
		for (i = 0; i < 8; i++)
			if (write(s->fds[i], &one, 8) != 8)
				return (void *)1;
	return NULL;
}

TEST(vm_closed_with_irqfds)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_level, irq_record);
	struct signaller s = { .stop = false };
	int rfd = new_eventfd(), i;
	struct ucall uc;
	pthread_t t;
	void *ret;

	set_routing(vm, GSI_MSI, VEC_MSI, 0);
	for (i = 0; i < 8; i++) {
		s.fds[i] = new_eventfd();
		if (i < 4)
			irqfd_assign(vm, s.fds[i], i == 3 ? GSI_MSI : 16 + i);
		else
			ASSERT_EQ(0, __irqfd(vm, s.fds[i], 16 + i,
					     KVM_IRQFD_FLAG_RESAMPLE, rfd));
	}
	vcpu_run_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, pthread_create(&t, NULL, signal_loop, &s));
	sleep_ms(20);
	kvm_vm_free(vm);		/* eventfds being signalled */
	sleep_ms(20);
	s.stop = true;
	pthread_join(t, &ret);
	EXPECT_EQ(NULL, ret);
	for (i = 0; i < 8; i++)
		close(s.fds[i]);
	close(rfd);
}

/* ---- racers while the guest runs ---- */

struct race_ctx {
	struct kvm_vm *vm;
	volatile bool stop;
	unsigned long errors;
	unsigned long ops;
	int msi_fd;			/* assigned to GSI_MSI throughout */
	int level_fd, resample_fd;	/* resampling, GSI_LEVEL */
	unsigned long resamples;
};

#define NR_RACE_FDS	6

/* Assign, deassign, close while assigned, signal: its own eventfds. */
static void *race_assign(void *arg)
{
	struct race_ctx *ctx = arg;
	int fds[NR_RACE_FDS], gsi[NR_RACE_FDS];
	bool on[NR_RACE_FDS] = { false };
	unsigned int seed = 7, n = 0;
	uint64_t one = 1;
	int i;

	for (i = 0; i < NR_RACE_FDS; i++)
		fds[i] = new_eventfd();
	while (!ctx->stop) {
		i = rand_r(&seed) % NR_RACE_FDS;
		if (on[i] && (++n % 8) == 0) {
			close(fds[i]);		/* detaches it */
			fds[i] = new_eventfd();
			on[i] = false;
		} else if (on[i]) {
			if (__irqfd(ctx->vm, fds[i], gsi[i],
				    KVM_IRQFD_FLAG_DEASSIGN, 0))
				ctx->errors++;
			on[i] = false;
		} else {
			gsi[i] = rand_r(&seed) % 25;
			if (gsi[i] == 24)
				gsi[i] = GSI_MSI;
			if (gsi[i] == GSI_LEVEL)
				gsi[i] = 0;
			if (__irqfd(ctx->vm, fds[i], gsi[i], 0, 0))
				ctx->errors++;
			on[i] = true;
		}
		for (i = 0; i < NR_RACE_FDS; i++)
			if (write(fds[i], &one, 8) != 8)
				ctx->errors++;
		ctx->ops++;
		usleep(100);
	}
	for (i = 0; i < NR_RACE_FDS; i++)
		close(fds[i]);
	return NULL;
}

/* Routing tables changing under the live irqfds. */
static void *race_route(void *arg)
{
	struct race_ctx *ctx = arg;
	struct kvm_irq_routing *a = irq_routing_isa(IRQ_ROUTING_NO_PIC, 1);
	struct kvm_irq_routing *b = irq_routing_alloc(32);
	uint64_t one = 1;
	unsigned long n = 0;
	uint32_t gsi;

	for (gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++)
		irq_routing_add_irqchip(b, gsi, KVM_IRQCHIP_IOAPIC,
					gsi == GSI_LEVEL ? gsi :
					(gsi * 7) % KVM_IOAPIC_NUM_PINS);
	irq_routing_add_msi(a, GSI_MSI, 0xfee00000, VEC_RACE_MSI);
	irq_routing_add_msi(b, GSI_MSI, 0xfee00000, VEC_RACE_MSI + 1);
	while (!ctx->stop) {
		if (__irq_routing_set(ctx->vm, (n & 1) ? b : a))
			ctx->errors++;
		if (write(ctx->msi_fd, &one, 8) != 8)
			ctx->errors++;
		n++;
		ctx->ops++;
		usleep(100);
	}
	free(a);
	free(b);
	return NULL;
}

/* A device that wants service again each time it is resampled. */
static void *race_resample(void *arg)
{
	struct race_ctx *ctx = arg;
	uint64_t one = 1;

	while (!ctx->stop) {
		if (read_fd(ctx->resample_fd)) {
			ctx->resamples++;
			if (write(ctx->level_fd, &one, 8) != 8)
				ctx->errors++;
		}
		ctx->ops++;
		usleep(100);
	}
	return NULL;
}

TEST(racers)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_race, race_irq);
	struct race_ctx ctx = { .vm = vm };
	struct timespec t0, now;
	uint64_t rounds = 0, irqs = 0;
	struct ucall uc;
	pthread_t t[3];
	int i;

	vcpu_run_sync(vcpu, &uc, 1);	/* the IOAPIC is programmed */
	set_routing(vm, GSI_MSI, VEC_RACE_MSI, 0);
	ctx.msi_fd = new_eventfd();
	ctx.level_fd = new_eventfd();
	ctx.resample_fd = new_eventfd();
	irqfd_assign(vm, ctx.msi_fd, GSI_MSI);
	ASSERT_EQ(0, __irqfd(vm, ctx.level_fd, GSI_LEVEL,
			     KVM_IRQFD_FLAG_RESAMPLE, ctx.resample_fd));
	signal_fd(ctx.level_fd);
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_assign, &ctx));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_route, &ctx));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_resample, &ctx));
	/*
	 * At least 3 s and 100 guest rounds, at most 10 s (the test's limit
	 * is 30 s; the Bochs machine is slow).
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0;; i++) {
		vcpu_run_sync(vcpu, &uc, 1);
		rounds = uc.args[1];
		irqs = uc.args[2];
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 10 ||
		    (i >= 100 && now.tv_sec - t0.tv_sec >= 3))
			break;
	}
	ctx.stop = true;
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, ctx.errors);
	EXPECT_LT(0, irqs);
	TH_LOG("%llu guest rounds, %llu interrupts, %lu resamples, %lu host ops",
	       (unsigned long long)rounds, (unsigned long long)irqs,
	       ctx.resamples, ctx.ops);

	race_stop = 1;
	sync_global_to_guest(vm, race_stop);
	vcpu_expect_done(vcpu);
	/* the VM goes with irqfds still attached */
	kvm_vm_free(vm);
	close(ctx.msi_fd);
	close(ctx.level_fd);
	close(ctx.resample_fd);
}

TEST_HARNESS_MAIN
