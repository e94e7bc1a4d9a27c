// SPDX-License-Identifier: GPL-2.0
/*
 * irqchip_test.c - the in-kernel 8259 PIC pair and IOAPIC (KVM_CREATE_IRQCHIP)
 * and the GSI routing table, as stock KVM implements them (every case passes
 * against it in reference mode):
 *
 * - VM ioctls without an irqchip (KVM_IRQ_LINE[_STATUS], KVM_GET/SET_IRQCHIP,
 *   KVM_SET_GSI_ROUTING) and KVM_CREATE_IRQCHIP's own errors;
 * - KVM_GET/SET_IRQCHIP for chips 0 (PIC master), 1 (PIC slave) and 2
 *   (IOAPIC): the state right after creation, round trips, bad chip ids;
 * - KVM_SET_GSI_ROUTING's checks, KVM_IRQ_LINE_STATUS's status values
 *   (> 0 delivered, 0 coalesced, < 0 masked or unrouted);
 * - a guest programming the PIC as Linux does (ICW1-4, OCW1-3, ELCR) and
 *   receiving host KVM_IRQ_LINEs through LVT0 = ExtINT: vector, count, ISR,
 *   IRR, masking, level re-delivery, cascade, priority;
 * - a guest programming the IOAPIC through its MMIO window: registers,
 *   edge, level (remote IRR, EOI from the LAPIC), masked entries, routes
 *   to another pin and to MSIs;
 * - a hostile VMM changing routing and chip state and toggling lines from
 *   other threads while the guest runs.
 *
 * The guest waits for interrupts in bounded "sti; nop; nop; cli" loops
 * (never HLT: with an in-kernel LAPIC, HLT blocks in the kernel until an
 * interrupt comes, so a missing one would hang instead of failing).
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "irqchip_util.h"
#include "xkvm_util.h"

/* ---- architectural constants ---- */

#define PIC_M_CMD		0x20
#define PIC_M_DATA		0x21
#define PIC_S_CMD		0xa0
#define PIC_S_DATA		0xa1
#define ELCR_M			0x4d0
#define ELCR_S			0x4d1
#define PIC_OCW3_READ_IRR	0x0a
#define PIC_OCW3_READ_ISR	0x0b
#define PIC_EOI			0x20
#define PIC_SPECIFIC_EOI(irq)	(0x60 | (irq))
#define PIC_M_BASE		0x30	/* Linux's ISA vectors */
#define PIC_S_BASE		0x38

/* KVM's limits and defaults (part of its ABI). */
#define KVM_MAX_IRQ_ROUTES	4096
#define KVM_IOAPIC_VERSION	0x00170011	/* 24 pins, version 0x11 */
#define PIC_M_ELCR_MASK		0xf8	/* IRQ 0-2 cannot be level */
#define PIC_S_ELCR_MASK		0xde	/* IRQ 8 and 13 cannot be level */

/* Vectors of the IOAPIC tests (no exception, none of the PIC's). */
#define VEC_EDGE		0x51
#define VEC_LEVEL		0x52
#define VEC_MASKED_LEVEL	0x53
#define VEC_MASKED_EDGE		0x54
#define VEC_ROUTED		0x55
#define VEC_MSI_ROUTE		0x56
#define VEC_MSI_SIGNAL		0x57
#define VEC_UNREACHED		0x5f
#define VEC_RACE_BASE		0x60	/* 0x60-0x77: IOAPIC pins 0-23 */

/* ---------------------------- guest side ---------------------------- */

static bool apic_vec_bit(uint32_t base, uint8_t vec)
{
	return xapic_read(base + 0x10 * (vec / 32)) & BIT(vec % 32);
}

static uint8_t pic_read_isr(uint16_t cmd)
{
	outb(cmd, PIC_OCW3_READ_ISR);
	return inb(cmd);
}

static uint8_t pic_read_irr(uint16_t cmd)
{
	outb(cmd, PIC_OCW3_READ_IRR);
	return inb(cmd);
}

/* Linux's init_8259A(): edge, cascade on IRQ2, 8086 mode, normal EOI. */
static void pic_init(uint8_t master_mask, uint8_t slave_mask)
{
	outb(PIC_M_DATA, 0xff);
	outb(PIC_S_DATA, 0xff);
	outb(PIC_M_CMD, 0x11);		/* ICW1: edge, cascade, ICW4 */
	outb(PIC_M_DATA, PIC_M_BASE);	/* ICW2: vector base */
	outb(PIC_M_DATA, 0x04);		/* ICW3: slave on IR2 */
	outb(PIC_M_DATA, 0x01);		/* ICW4: 8086 mode, normal EOI */
	outb(PIC_S_CMD, 0x11);
	outb(PIC_S_DATA, PIC_S_BASE);
	outb(PIC_S_DATA, 0x02);		/* ICW3: slave ID 2 */
	outb(PIC_S_DATA, 0x01);
	outb(PIC_M_DATA, master_mask);	/* OCW1 */
	outb(PIC_S_DATA, slave_mask);
}

/*
 * The PIC reaches the BSP through LINT0 programmed as ExtINT.  KVM resets
 * the BSP's LVT0 to 0x700 (KVM_X86_QUIRK_LINT0_REENABLED, on by default);
 * enable the APIC and program it explicitly all the same, as a BIOS does.
 */
static void guest_lapic_extint(void)
{
	GUEST_ASSERT_EQ(xapic_read(APIC_LVT0), APIC_DM_EXTINT);
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | APIC_SPURIOUS_VEC);
	xapic_write(APIC_LVT0, APIC_DM_EXTINT);
	GUEST_ASSERT_EQ(xapic_read(APIC_LVT0), APIC_DM_EXTINT);
}

/* For the IOAPIC tests: APIC on, LINT0 masked, every PIC input masked. */
static void guest_lapic_no_pic(void)
{
	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | APIC_SPURIOUS_VEC);
	xapic_write(APIC_LVT0, APIC_LVT_MASKED | APIC_DM_EXTINT);
	outb(PIC_M_DATA, 0xff);
	outb(PIC_S_DATA, 0xff);
	GUEST_ASSERT_EQ(xapic_read(APIC_ID) >> 24, 0);
}

/* ---- PIC guests ---- */

/* Edge IRQ3: one delivery, ISR/IRR through OCW3, EOI, coalescing. */
static void guest_pic_edge(void)
{
	guest_lapic_extint();
	pic_init((uint8_t)~(BIT(2) | BIT(3)), 0xff);
	GUEST_ASSERT_EQ(inb(PIC_M_DATA), (uint8_t)~(BIT(2) | BIT(3)));
	GUEST_ASSERT_EQ(inb(PIC_S_DATA), 0xff);
	GUEST_SYNC(1);			/* host: edge on GSI 3 */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_M_BASE + 3);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), BIT(3));
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), 0);
	GUEST_SYNC(2);			/* host: reads the state */
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), 0);
	GUEST_ASSERT_EQ(irq_window(2), 1);	/* exactly once */
	GUEST_SYNC(3);			/* host: two edges, not serviced */
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), BIT(3));
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), PIC_M_BASE + 3);
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(irq_window(3), 2);	/* the two were coalesced */
	GUEST_DONE();
}

/* A masked line is latched in IRR and delivered once unmasked. */
static void guest_pic_mask(void)
{
	guest_lapic_extint();
	pic_init((uint8_t)~BIT(2), 0xff);
	GUEST_SYNC(1);			/* host: edge on GSI 4 (masked) */
	GUEST_ASSERT_EQ(irq_window(1), 0);
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), BIT(4));
	outb(PIC_M_DATA, (uint8_t)~(BIT(2) | BIT(4)));
	GUEST_ASSERT_EQ(inb(PIC_M_DATA), (uint8_t)~(BIT(2) | BIT(4)));
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_M_BASE + 4);
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), 0);
	outb(PIC_M_CMD, PIC_EOI);
	/* Masked again: a new edge stays in IRR. */
	outb(PIC_M_DATA, (uint8_t)~BIT(2));
	GUEST_SYNC(2);			/* host: edge on GSI 4 */
	GUEST_ASSERT_EQ(irq_window(2), 1);
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), BIT(4));
	GUEST_DONE();
}

/* ELCR: level-triggered IRQ5 comes back after EOI while still high. */
static void guest_pic_level(void)
{
	guest_lapic_extint();
	pic_init((uint8_t)~(BIT(2) | BIT(5)), 0xff);
	GUEST_ASSERT_EQ(inb(ELCR_M), 0);
	GUEST_ASSERT_EQ(inb(ELCR_S), 0);
	outb(ELCR_M, 0xff);
	outb(ELCR_S, 0xff);
	GUEST_ASSERT_EQ(inb(ELCR_M), PIC_M_ELCR_MASK);
	GUEST_ASSERT_EQ(inb(ELCR_S), PIC_S_ELCR_MASK);
	outb(ELCR_M, BIT(5));
	outb(ELCR_S, 0);
	GUEST_ASSERT_EQ(inb(ELCR_M), BIT(5));
	GUEST_SYNC(1);			/* host: GSI 5 high, stays high */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_M_BASE + 5);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), BIT(5));
	GUEST_ASSERT_EQ(irq_window(2), 1);	/* in service: held */
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(irq_window(2), 2);	/* still high: again */
	GUEST_ASSERT_EQ(irq_nth(1), PIC_M_BASE + 5);
	GUEST_SYNC(2);			/* host: GSI 5 low */
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), 0);
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(irq_window(3), 2);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), 0);
	GUEST_DONE();
}

/* IRQ10 through the slave and the master's IR2. */
static void guest_pic_slave(void)
{
	guest_lapic_extint();
	pic_init((uint8_t)~BIT(2), (uint8_t)~BIT(2));
	GUEST_SYNC(1);			/* host: edge on GSI 10 */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_S_BASE + 2);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), BIT(2));
	GUEST_ASSERT_EQ(pic_read_isr(PIC_S_CMD), BIT(2));
	outb(PIC_S_CMD, PIC_EOI);
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_S_CMD), 0);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), 0);
	GUEST_ASSERT_EQ(irq_window(2), 1);
	/* Slave input masked: nothing, even with the cascade open. */
	outb(PIC_S_DATA, 0xff);
	GUEST_SYNC(2);			/* host: edge on GSI 10 */
	GUEST_ASSERT_EQ(irq_window(2), 1);
	GUEST_ASSERT_EQ(pic_read_irr(PIC_S_CMD), BIT(2));
	GUEST_DONE();
}

/* IRQ3 before IRQ4; IRQ4 waits until IRQ3's EOI (fully nested mode). */
static void guest_pic_priority(void)
{
	guest_lapic_extint();
	pic_init((uint8_t)~(BIT(2) | BIT(3) | BIT(4)), 0xff);
	GUEST_SYNC(1);			/* host: edges on GSI 4, then 3 */
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), BIT(3) | BIT(4));
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_M_BASE + 3);
	GUEST_ASSERT_EQ(irq_window(2), 1);
	GUEST_ASSERT_EQ(pic_read_irr(PIC_M_CMD), BIT(4));
	outb(PIC_M_CMD, PIC_EOI);
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), PIC_M_BASE + 4);
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), BIT(4));
	outb(PIC_M_CMD, PIC_SPECIFIC_EOI(4));
	GUEST_ASSERT_EQ(pic_read_isr(PIC_M_CMD), 0);
	GUEST_ASSERT_EQ(irq_window(3), 2);
	GUEST_DONE();
}

/* ---- IOAPIC guests ---- */

/* Registers through IOREGSEL/IOWIN, reported to the host. */
static void guest_ioapic_regs(void)
{
	uint32_t id, arb;
	int pin;

	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REG_VERSION), KVM_IOAPIC_VERSION);
	ioapic_write(IOAPIC_REG_VERSION, 0);	/* read-only */
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REG_VERSION), KVM_IOAPIC_VERSION);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REG_ID), 0);
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
		GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(pin)), RTE_MASKED);
		GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_HI(pin)), 0);
	}
	mmio_write32(IOAPIC_GPA + IOAPIC_REGSEL, 0x13);
	GUEST_ASSERT_EQ(mmio_read32(IOAPIC_GPA + IOAPIC_REGSEL), 0x13);

	ioapic_write(IOAPIC_REG_ID, 0x0a000000);
	id = ioapic_read(IOAPIC_REG_ID);
	arb = ioapic_read(IOAPIC_REG_ARB);
	GUEST_SYNC_ARGS(1, id, arb, 0);
	/* Delivery status and remote IRR are read-only. */
	ioapic_write(IOAPIC_REDTBL_LO(5), 0x45 | RTE_MASKED | RTE_LEVEL |
		     RTE_REMOTE_IRR | RTE_POLARITY_LOW | RTE_DELIVS |
		     RTE_DEST_LOGICAL);
	ioapic_write(IOAPIC_REDTBL_HI(5), 0x03000000);
	GUEST_SYNC_ARGS(2, ioapic_read(IOAPIC_REDTBL_LO(5)),
			ioapic_read(IOAPIC_REDTBL_HI(5)), 0);
	/* Out of range: past the last pin, and a hole below 0x10. */
	GUEST_SYNC_ARGS(3, ioapic_read(IOAPIC_REDTBL_LO(KVM_IOAPIC_NUM_PINS)),
			ioapic_read(0x03), ioapic_read(IOAPIC_REDTBL_HI(23)));
	/* The host changed id and entry 6 with KVM_SET_IRQCHIP. */
	GUEST_SYNC_ARGS(4, ioapic_read(IOAPIC_REG_ID),
			ioapic_read(IOAPIC_REDTBL_LO(6)),
			ioapic_read(IOAPIC_REDTBL_HI(6)));
	GUEST_DONE();
}

/* Edge pin 17: one delivery through the LAPIC, EOI, nothing more. */
static void guest_ioapic_edge(void)
{
	guest_lapic_no_pic();
	ioapic_set_rte(17, VEC_EDGE, 0);
	GUEST_SYNC(1);			/* host: edge on GSI 17 */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_EDGE);
	GUEST_ASSERT(apic_vec_bit(APIC_ISR, VEC_EDGE));
	GUEST_ASSERT(!apic_vec_bit(APIC_TMR, VEC_EDGE));
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(17)), VEC_EDGE);
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT(!apic_vec_bit(APIC_ISR, VEC_EDGE));
	GUEST_ASSERT_EQ(irq_window(2), 1);
	GUEST_SYNC(2);			/* host: two edges before we run */
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), VEC_EDGE);
	xapic_write(APIC_EOI, 0);
	/* Both reached the LAPIC's IRR before it was serviced: one. */
	GUEST_ASSERT_EQ(irq_window(3), 2);
	GUEST_DONE();
}

/* Level pin 18: remote IRR, EOI re-delivers while the line is high. */
static void guest_ioapic_level(void)
{
	guest_lapic_no_pic();
	ioapic_set_rte(18, VEC_LEVEL | RTE_LEVEL, 0);
	GUEST_SYNC(1);			/* host: GSI 18 high, stays high */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_LEVEL);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(18)),
			VEC_LEVEL | RTE_LEVEL | RTE_REMOTE_IRR);
	GUEST_ASSERT(apic_vec_bit(APIC_TMR, VEC_LEVEL));
	GUEST_ASSERT(apic_vec_bit(APIC_ISR, VEC_LEVEL));
	GUEST_SYNC(2);			/* host: checks remote IRR, re-raises */
	GUEST_ASSERT_EQ(irq_window(2), 1);
	xapic_write(APIC_EOI, 0);	/* clears remote IRR: line still high */
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), VEC_LEVEL);
	GUEST_ASSERT(ioapic_read(IOAPIC_REDTBL_LO(18)) & RTE_REMOTE_IRR);
	GUEST_SYNC(3);			/* host: GSI 18 low */
	/* Lowering the line does not clear remote IRR; the EOI does. */
	GUEST_ASSERT(ioapic_read(IOAPIC_REDTBL_LO(18)) & RTE_REMOTE_IRR);
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(18)),
			VEC_LEVEL | RTE_LEVEL);
	GUEST_ASSERT_EQ(irq_window(3), 2);
	GUEST_ASSERT(!apic_vec_bit(APIC_ISR, VEC_LEVEL));
	GUEST_DONE();
}

/* Masked entries deliver nothing; unmasking a high level line delivers. */
static void guest_ioapic_masked(void)
{
	guest_lapic_no_pic();
	ioapic_set_rte(19, VEC_MASKED_LEVEL | RTE_LEVEL | RTE_MASKED, 0);
	ioapic_set_rte(20, VEC_MASKED_EDGE | RTE_MASKED, 0);
	GUEST_SYNC(1);			/* host: edge on 20, 19 high */
	GUEST_ASSERT_EQ(irq_window(1), 0);
	/* The edge that came while masked is not remembered. */
	ioapic_set_rte(20, VEC_MASKED_EDGE, 0);
	GUEST_ASSERT_EQ(irq_window(1), 0);
	/* A level line still high is. */
	ioapic_set_rte(19, VEC_MASKED_LEVEL | RTE_LEVEL, 0);
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_MASKED_LEVEL);
	/* Masked again before the EOI: not re-delivered though high. */
	ioapic_set_rte(19, VEC_MASKED_LEVEL | RTE_LEVEL | RTE_MASKED, 0);
	xapic_write(APIC_EOI, 0);
	GUEST_ASSERT_EQ(irq_window(2), 1);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(19)) & RTE_REMOTE_IRR, 0);
	GUEST_SYNC(2);			/* host: 19 low */
	GUEST_DONE();
}

/* Custom routes: GSI 5 -> IOAPIC pin 21, GSI 40 -> MSI, KVM_SIGNAL_MSI. */
static void guest_routing(void)
{
	guest_lapic_no_pic();
	ioapic_set_rte(21, VEC_ROUTED, 0);
	ioapic_set_rte(5, VEC_UNREACHED, 0);
	GUEST_SYNC(1);			/* host: new table, edge on GSI 5 */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), VEC_ROUTED);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(2);			/* host: GSI 40 (MSI) */
	GUEST_ASSERT_EQ(irq_window(2), 2);
	GUEST_ASSERT_EQ(irq_nth(1), VEC_MSI_ROUTE);
	GUEST_ASSERT(!apic_vec_bit(APIC_TMR, VEC_MSI_ROUTE));
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(3);			/* host: KVM_SIGNAL_MSI */
	GUEST_ASSERT_EQ(irq_window(3), 3);
	GUEST_ASSERT_EQ(irq_nth(2), VEC_MSI_SIGNAL);
	xapic_write(APIC_EOI, 0);
	GUEST_SYNC(4);			/* host: empty table, GSI 5 again */
	GUEST_ASSERT_EQ(irq_window(4), 3);
	GUEST_DONE();
}

/* ---- hostile VMM: garbage chip state ---- */

/*
 * Runs on whatever state the host stuffed into the chips: pokes every
 * register (reports what it read), then, once the host restored a sane
 * state, checks that a PIC interrupt still arrives.
 */
static void guest_hostile_state(void)
{
	uint64_t ports = 0;
	uint32_t win;
	int i;

	GUEST_SYNC(1);			/* host: garbage in every chip */
	for (i = 0; i < 6; i++) {
		static const uint16_t port[] = {
			PIC_M_CMD, PIC_M_DATA, PIC_S_CMD, PIC_S_DATA,
			ELCR_M, ELCR_S,
		};

		ports |= (uint64_t)inb(port[i]) << (8 * i);
	}
	/* IOREGSEL selects nothing: reads all ones, writes are dropped. */
	win = mmio_read32(IOAPIC_GPA + IOAPIC_WINDOW);
	mmio_write32(IOAPIC_GPA + IOAPIC_WINDOW, 0);
	outb(PIC_M_CMD, PIC_EOI);
	outb(PIC_S_CMD, PIC_EOI);
	GUEST_SYNC_ARGS(2, ports, win, 0);	/* host: sane state back */
	guest_lapic_extint();
	pic_init((uint8_t)~(BIT(2) | BIT(3)), 0xff);
	GUEST_SYNC(3);			/* host: edge on GSI 3 */
	GUEST_ASSERT_EQ(irq_window(1), 1);
	GUEST_ASSERT_EQ(irq_nth(0), PIC_M_BASE + 3);
	GUEST_DONE();
}

/* ---- race guest ---- */

static uint64_t race_stop;

static void race_irq(struct ex_regs *regs)
{
	irq_count++;
	if (regs->vector >= PIC_M_BASE && regs->vector < PIC_M_BASE + 16) {
		if (regs->vector >= PIC_S_BASE)
			outb(PIC_S_CMD, PIC_EOI);
		outb(PIC_M_CMD, PIC_EOI);
	} else {
		xapic_write(APIC_EOI, 0);
	}
}

/*
 * PIC and IOAPIC both live (every line edge-triggered, so that a line the
 * host leaves high cannot storm), EOIs in the handler; the host changes
 * everything under our feet.  Reports progress until told to stop.
 */
static void guest_race(void)
{
	uint64_t rounds = 0;
	int pin;

	guest_lapic_extint();
	pic_init((uint8_t)~(BIT(2) | BIT(3) | BIT(4)), (uint8_t)~BIT(2));
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		ioapic_set_rte(pin, VEC_RACE_BASE + pin, 0);
	while (!*(volatile uint64_t *)&race_stop) {
		irq_window(~0ULL);
		ioapic_read(IOAPIC_REDTBL_LO(rounds % KVM_IOAPIC_NUM_PINS));
		pic_read_isr(PIC_M_CMD);
		GUEST_SYNC_ARGS(1, ++rounds, irq_count, 0);
	}
	GUEST_DONE();
}

/* ----------------------------- host side ----------------------------- */

static int __vm_ioctl(struct kvm_vm *vm, unsigned long req, void *arg)
{
	return ioctl(vm->fd, req, arg);
}

static void create_irqchip(struct kvm_vm *vm)
{
	TEST_ASSERT(!__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL),
		    "KVM_CREATE_IRQCHIP failed");
}

static int __irq_line(struct kvm_vm *vm, uint32_t gsi, uint32_t level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return __vm_ioctl(vm, KVM_IRQ_LINE, &irq);
}

static int __irq_line_status(struct kvm_vm *vm, uint32_t gsi, uint32_t level,
			     int32_t *status)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	int r = __vm_ioctl(vm, KVM_IRQ_LINE_STATUS, &irq);

	*status = irq.status;
	return r;
}

/* KVM_IRQ_LINE_STATUS that must succeed: returns the status. */
static int32_t irq_line(struct kvm_vm *vm, uint32_t gsi, uint32_t level)
{
	int32_t status;

	TEST_ASSERT(!__irq_line_status(vm, gsi, level, &status),
		    "KVM_IRQ_LINE_STATUS(%u, %u) failed", gsi, level);
	return status;
}

/* An edge: raise (returns its status), lower. */
static int32_t irq_edge(struct kvm_vm *vm, uint32_t gsi)
{
	int32_t status = irq_line(vm, gsi, 1);

	irq_line(vm, gsi, 0);
	return status;
}

static int __get_irqchip(struct kvm_vm *vm, struct kvm_irqchip *chip)
{
	return __vm_ioctl(vm, KVM_GET_IRQCHIP, chip);
}

static int __set_irqchip(struct kvm_vm *vm, struct kvm_irqchip *chip)
{
	return __vm_ioctl(vm, KVM_SET_IRQCHIP, chip);
}

static void get_irqchip(struct kvm_vm *vm, uint32_t id, struct kvm_irqchip *c)
{
	memset(c, 0x5a, sizeof(*c));
	c->chip_id = id;
	TEST_ASSERT(!__get_irqchip(vm, c), "KVM_GET_IRQCHIP(%u) failed", id);
}

static void set_irqchip(struct kvm_vm *vm, struct kvm_irqchip *c)
{
	TEST_ASSERT(!__set_irqchip(vm, c), "KVM_SET_IRQCHIP(%u) failed",
		    c->chip_id);
}

static struct kvm_vm *vm_create_irqchip(void)
{
	struct kvm_vm *vm = vm_create_barebones();

	create_irqchip(vm);
	return vm;
}

/* ---- capabilities and VM ioctls without guest code ---- */

TEST(capabilities)
{
	static const long caps[] = {
		KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_PIT_STATE2,
		KVM_CAP_IRQ_INJECT_STATUS, KVM_CAP_IRQ_ROUTING,
	};
	struct kvm_vm *vm = vm_create_barebones();
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		EXPECT_LT(0, kvm_check_cap(caps[i])) TH_LOG("cap %ld", caps[i]);
		EXPECT_LT(0, vm_check_cap(vm, caps[i])) TH_LOG("cap %ld", caps[i]);
	}
	/* KVM_CAP_IRQ_ROUTING reports the table size limit. */
	EXPECT_EQ(KVM_MAX_IRQ_ROUTES, kvm_check_cap(KVM_CAP_IRQ_ROUTING));
	kvm_vm_free(vm);
}

TEST(no_irqchip)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_irq_routing *r = irq_routing_alloc(1);
	struct kvm_irqchip chip;
	int32_t status;

	EXPECT_EQ(-1, __irq_line(vm, 3, 1));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, __irq_line_status(vm, 3, 1, &status));
	EXPECT_EQ(ENXIO, errno);
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
	EXPECT_EQ(-1, __get_irqchip(vm, &chip));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, __set_irqchip(vm, &chip));
	EXPECT_EQ(ENXIO, errno);
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	EXPECT_EQ(-1, __get_irqchip(vm, &chip));
	EXPECT_EQ(ENXIO, errno);
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 3);
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	r->nr = 0;
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	free(r);
	kvm_vm_free(vm);
}

TEST(create_irqchip_errors)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu;

	ASSERT_EQ(0, __vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL));
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL));
	EXPECT_EQ(EEXIST, errno);
	kvm_vm_free(vm);

	/* Too late once a vCPU exists: it would lack its LAPIC. */
	vm = vm_create_barebones();
	vcpu = vm_vcpu_add_raw(vm, 0);
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL));
	EXPECT_EQ(EINVAL, errno);
	(void)vcpu;
	kvm_vm_free(vm);
}

TEST(irqchip_initial_state)
{
	struct kvm_vm *vm = vm_create_irqchip();
	struct kvm_irqchip chip;
	struct kvm_pic_state zero_pic;
	int pin;

	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(KVM_IRQCHIP_PIC_MASTER, chip.chip_id);
	EXPECT_EQ(PIC_M_ELCR_MASK, chip.chip.pic.elcr_mask);
	memset(&zero_pic, 0, sizeof(zero_pic));
	zero_pic.elcr_mask = PIC_M_ELCR_MASK;
	EXPECT_EQ(0, memcmp(&zero_pic, &chip.chip.pic, sizeof(zero_pic)))
		TH_LOG("master: irr %#x imr %#x isr %#x base %#x init %u elcr %#x",
		       chip.chip.pic.irr, chip.chip.pic.imr, chip.chip.pic.isr,
		       chip.chip.pic.irq_base, chip.chip.pic.init_state,
		       chip.chip.pic.elcr);

	get_irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, &chip);
	EXPECT_EQ(PIC_S_ELCR_MASK, chip.chip.pic.elcr_mask);
	zero_pic.elcr_mask = PIC_S_ELCR_MASK;
	EXPECT_EQ(0, memcmp(&zero_pic, &chip.chip.pic, sizeof(zero_pic)));

	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_EQ(IOAPIC_GPA, chip.chip.ioapic.base_address);
	EXPECT_EQ(0, chip.chip.ioapic.ioregsel);
	EXPECT_EQ(0, chip.chip.ioapic.id);
	EXPECT_EQ(0, chip.chip.ioapic.irr);
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		EXPECT_EQ(RTE_MASKED, chip.chip.ioapic.redirtbl[pin].bits)
			TH_LOG("pin %d", pin);
	kvm_vm_free(vm);
}

TEST(irqchip_set_get)
{
	struct kvm_vm *vm = vm_create_irqchip();
	struct kvm_irqchip chip, back;
	struct kvm_pic_state *pic = &chip.chip.pic;
	struct kvm_ioapic_state *io = &chip.chip.ioapic;
	int pin;

	/* PIC master: initialised, everything masked, some state around. */
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
	pic->irr = 0x12;
	pic->imr = 0xff;
	pic->isr = 0x08;
	pic->priority_add = 4;
	pic->irq_base = 0x30;
	pic->read_reg_select = 1;
	pic->special_mask = 0;
	pic->init4 = 1;
	pic->auto_eoi = 1;
	pic->elcr = 0x20;
	pic->elcr_mask = PIC_M_ELCR_MASK;
	set_irqchip(vm, &chip);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &back);
	EXPECT_EQ(0, memcmp(pic, &back.chip.pic, sizeof(*pic)))
		TH_LOG("irr %#x imr %#x isr %#x prio %u base %#x rrs %u eoi %u elcr %#x",
		       back.chip.pic.irr, back.chip.pic.imr, back.chip.pic.isr,
		       back.chip.pic.priority_add, back.chip.pic.irq_base,
		       back.chip.pic.read_reg_select, back.chip.pic.auto_eoi,
		       back.chip.pic.elcr);

	/* The slave is independent of the master. */
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	pic->imr = 0xfb;
	pic->irq_base = 0x38;
	pic->init4 = 1;
	pic->elcr = 0x0c;
	pic->elcr_mask = PIC_S_ELCR_MASK;
	set_irqchip(vm, &chip);
	get_irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, &back);
	EXPECT_EQ(0, memcmp(pic, &back.chip.pic, sizeof(*pic)));
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &back);
	EXPECT_EQ(0x30, back.chip.pic.irq_base);

	/* IOAPIC: id, IOREGSEL and masked entries of every shape. */
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	io->id = 7;
	io->ioregsel = 0x12;
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		io->redirtbl[pin].bits = RTE_MASKED | (0x40 + pin) |
			((pin & 1) ? RTE_LEVEL : 0) |
			((pin & 2) ? RTE_DEST_LOGICAL : 0) |
			((uint64_t)pin << 56);
	set_irqchip(vm, &chip);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &back);
	EXPECT_EQ(io->base_address, back.chip.ioapic.base_address);
	EXPECT_EQ(7, back.chip.ioapic.id);
	EXPECT_EQ(0x12, back.chip.ioapic.ioregsel);
	EXPECT_EQ(0, back.chip.ioapic.irr);
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		EXPECT_EQ(io->redirtbl[pin].bits, back.chip.ioapic.redirtbl[pin].bits)
			TH_LOG("pin %d", pin);

	/* Bad chip ids, for both directions. */
	back.chip_id = 3;
	EXPECT_EQ(-1, __get_irqchip(vm, &back));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __set_irqchip(vm, &back));
	EXPECT_EQ(EINVAL, errno);
	back.chip_id = 0xffffffff;
	EXPECT_EQ(-1, __get_irqchip(vm, &back));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __set_irqchip(vm, &back));
	EXPECT_EQ(EINVAL, errno);
	/* Unreadable / unwritable buffers. */
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_GET_IRQCHIP, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_SET_IRQCHIP, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

TEST(gsi_routing)
{
	struct kvm_vm *vm = vm_create_irqchip();
	struct kvm_irq_routing *r = irq_routing_alloc(KVM_MAX_IRQ_ROUTES + 1);
	struct kvm_irq_routing_entry *e = r->entries;

	/* A good table: the default one, plus MSIs above it. */
	irq_routing_add_isa(r, 0);
	irq_routing_add_msi(r, 24, 0xfee00000, 0x41);
	irq_routing_add_msi(r, KVM_MAX_IRQ_ROUTES - 1, 0xfee00000, 0x42);
	EXPECT_EQ(0, __irq_routing_set(vm, r));

	r->flags = 1;
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	r->flags = 0;

	r->nr = KVM_MAX_IRQ_ROUTES + 1;
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);

#define EXPECT_BAD_ENTRY(what)						\
	do {								\
		r->nr = 1;						\
		EXPECT_EQ(-1, __irq_routing_set(vm, r)) TH_LOG(what);	\
		EXPECT_EQ(EINVAL, errno) TH_LOG(what);			\
	} while (0)

	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_PIC_MASTER, 8);
	EXPECT_BAD_ENTRY("PIC master pin 8");
	r->nr = 0;
	irq_routing_add_irqchip(r, 11, KVM_IRQCHIP_PIC_SLAVE, 8);
	EXPECT_BAD_ENTRY("PIC slave pin 8");
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, KVM_IOAPIC_NUM_PINS);
	EXPECT_BAD_ENTRY("IOAPIC pin 24");
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 0xffffffff);
	EXPECT_BAD_ENTRY("IOAPIC pin ~0");
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_NR_IRQCHIPS, 0);
	EXPECT_BAD_ENTRY("irqchip 3");
	r->nr = 0;
	irq_routing_add_irqchip(r, KVM_MAX_IRQ_ROUTES, KVM_IRQCHIP_IOAPIC, 3);
	EXPECT_BAD_ENTRY("GSI 4096");
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 3);
	e->flags = 1;
	EXPECT_BAD_ENTRY("entry flags");
	e->flags = 0;
	e->type = 0;
	EXPECT_BAD_ENTRY("type 0");
	e->type = 99;
	EXPECT_BAD_ENTRY("type 99");

	/* One GSI to one irqchip at most, and MSI routes are one to one. */
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 3);
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 4);
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_PIC_MASTER, 3);
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_PIC_MASTER, 4);
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 3);
	irq_routing_add_msi(r, 3, 0xfee00000, 0x41);
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	r->nr = 0;
	irq_routing_add_msi(r, 30, 0xfee00000, 0x41);
	irq_routing_add_msi(r, 30, 0xfee00000, 0x42);
	EXPECT_EQ(-1, __irq_routing_set(vm, r));
	EXPECT_EQ(EINVAL, errno);
	/* Several GSIs to one pin, one GSI to a PIC and the IOAPIC: fine. */
	r->nr = 0;
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_PIC_MASTER, 3);
	irq_routing_add_irqchip(r, 3, KVM_IRQCHIP_IOAPIC, 3);
	irq_routing_add_irqchip(r, 100, KVM_IRQCHIP_IOAPIC, 3);
	EXPECT_EQ(0, __irq_routing_set(vm, r));
	/* An empty table is a table. */
	r->nr = 0;
	EXPECT_EQ(0, __irq_routing_set(vm, r));
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_SET_GSI_ROUTING, (void *)8));
	EXPECT_EQ(EFAULT, errno);
#undef EXPECT_BAD_ENTRY
	free(r);
	kvm_vm_free(vm);
}

TEST(irq_line_status)
{
	struct kvm_vm *vm = vm_create_irqchip();
	struct kvm_irq_routing *r = irq_routing_alloc(64);
	struct kvm_irqchip chip;

	/*
	 * GSI 3: PIC master IR3 (unmasked after creation) + masked IOAPIC
	 * pin 3.  KVM adds up the positive results of every route: raising
	 * gives 1 (PIC) + nothing (IOAPIC masked), lowering 1 + 1.
	 */
	EXPECT_EQ(1, irq_line(vm, 3, 1));
	EXPECT_EQ(2, irq_line(vm, 3, 0));
	/* Raised again before any INTA: coalesced. */
	EXPECT_EQ(0, irq_line(vm, 3, 1));
	irq_line(vm, 3, 0);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(BIT(3), chip.chip.pic.irr);
	/* Raised twice without lowering: one edge, and no coalescing seen. */
	EXPECT_EQ(1, irq_line(vm, 4, 1));
	EXPECT_EQ(1, irq_line(vm, 4, 1));
	irq_line(vm, 4, 0);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(BIT(3) | BIT(4), chip.chip.pic.irr);

	/* GSI 20: IOAPIC only, masked. */
	EXPECT_GT(0, irq_line(vm, 20, 1));
	irq_line(vm, 20, 0);
	/* PIC line masked too: masked everywhere. */
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	chip.chip.pic.imr = BIT(6);
	set_irqchip(vm, &chip);
	EXPECT_GT(0, irq_line(vm, 6, 1));
	irq_line(vm, 6, 0);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_TRUE(chip.chip.pic.irr & BIT(6));

	/* No route: not delivered, but not an error of the ioctl. */
	EXPECT_GT(0, irq_line(vm, KVM_IOAPIC_NUM_PINS, 1));
	EXPECT_GT(0, irq_line(vm, 0xffffffff, 1));
	EXPECT_EQ(0, __irq_line(vm, 0xffffffff, 1));
	EXPECT_EQ(0, __irq_line(vm, KVM_MAX_IRQ_ROUTES, 0));
	r->nr = 0;
	EXPECT_EQ(0, __irq_routing_set(vm, r));
	EXPECT_GT(0, irq_line(vm, 5, 1));
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_FALSE(chip.chip.pic.irr & BIT(5));
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_IRQ_LINE_STATUS, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	free(r);
	kvm_vm_free(vm);
}

/* ---- PIC with a guest ---- */

TEST(pic_edge)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_pic_edge, irq_record);
	struct kvm_irqchip chip;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	/* The guest's ICWs and OCW1 as the host sees them. */
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(PIC_M_BASE, chip.chip.pic.irq_base);
	EXPECT_EQ((uint8_t)~(BIT(2) | BIT(3)), chip.chip.pic.imr);
	EXPECT_EQ(1, chip.chip.pic.init4);
	EXPECT_EQ(0, chip.chip.pic.init_state);
	EXPECT_EQ(0, chip.chip.pic.auto_eoi);
	get_irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, &chip);
	EXPECT_EQ(PIC_S_BASE, chip.chip.pic.irq_base);
	EXPECT_EQ(0xff, chip.chip.pic.imr);
	EXPECT_EQ(1, irq_edge(vm, 3));

	vcpu_run_sync(vcpu, &uc, 2);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(BIT(3), chip.chip.pic.isr);
	EXPECT_EQ(0, chip.chip.pic.irr);

	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, irq_edge(vm, 3));
	EXPECT_EQ(0, irq_edge(vm, 3));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(pic_mask)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_pic_mask, irq_record);
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_GT(0, irq_edge(vm, 4));
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_GT(0, irq_edge(vm, 4));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(pic_level)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_pic_level, irq_record);
	struct kvm_irqchip chip;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	get_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, &chip);
	EXPECT_EQ(BIT(5), chip.chip.pic.elcr);
	EXPECT_EQ(PIC_M_ELCR_MASK, chip.chip.pic.elcr_mask);
	EXPECT_EQ(1, irq_line(vm, 5, 1));
	vcpu_run_sync(vcpu, &uc, 2);
	irq_line(vm, 5, 0);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(pic_slave)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_pic_slave, irq_record);
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(1, irq_edge(vm, 10));
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_GT(0, irq_edge(vm, 10));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(pic_priority)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_pic_priority,
					    irq_record);
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(1, irq_edge(vm, 4));
	EXPECT_EQ(1, irq_edge(vm, 3));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- IOAPIC with a guest ---- */

TEST(ioapic_regs)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_ioapic_regs,
					    irq_record);
	struct kvm_irqchip chip;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(0x0a000000, uc.args[1]);		/* ID */
	/* KVM's arbitration register reads as the ID. */
	EXPECT_EQ(0x0a000000, uc.args[2]);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_EQ(0x0a, chip.chip.ioapic.id);
	EXPECT_EQ(IOAPIC_REG_ARB, chip.chip.ioapic.ioregsel);

	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(0x45 | RTE_MASKED | RTE_LEVEL | RTE_POLARITY_LOW |
		  RTE_DEST_LOGICAL, uc.args[1]);
	EXPECT_EQ(0x03000000, uc.args[2]);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_EQ(0x45, chip.chip.ioapic.redirtbl[5].fields.vector);
	EXPECT_EQ(1, (int)chip.chip.ioapic.redirtbl[5].fields.mask);
	EXPECT_EQ(1, (int)chip.chip.ioapic.redirtbl[5].fields.trig_mode);
	EXPECT_EQ(1, (int)chip.chip.ioapic.redirtbl[5].fields.dest_mode);
	EXPECT_EQ(1, (int)chip.chip.ioapic.redirtbl[5].fields.polarity);
	EXPECT_EQ(0, (int)chip.chip.ioapic.redirtbl[5].fields.remote_irr);
	EXPECT_EQ(0, (int)chip.chip.ioapic.redirtbl[5].fields.delivery_status);
	EXPECT_EQ(3, (int)chip.chip.ioapic.redirtbl[5].fields.dest_id);

	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(0xffffffff, uc.args[1]) TH_LOG("redirection entry 24");
	EXPECT_EQ(0xffffffff, uc.args[2]) TH_LOG("register 3");
	EXPECT_EQ(0, uc.args[3]) TH_LOG("entry 23, high half");

	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	chip.chip.ioapic.id = 3;
	chip.chip.ioapic.redirtbl[6].bits = 0x5e | RTE_MASKED | RTE_LEVEL |
					    (0x12ULL << 56);
	set_irqchip(vm, &chip);
	vcpu_run_sync(vcpu, &uc, 4);
	EXPECT_EQ(0x03000000, uc.args[1]);
	EXPECT_EQ(0x5e | RTE_MASKED | RTE_LEVEL, uc.args[2]);
	EXPECT_EQ(0x12000000, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(ioapic_edge)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_ioapic_edge,
					    irq_record);
	struct kvm_irqchip chip;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_EQ(VEC_EDGE, chip.chip.ioapic.redirtbl[17].bits);
	EXPECT_EQ(1, irq_edge(vm, 17));
	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, irq_edge(vm, 17));
	EXPECT_EQ(1, irq_edge(vm, 17));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(ioapic_level)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_ioapic_level,
					    irq_record);
	struct kvm_irqchip chip;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_EQ(1, irq_line(vm, 18, 1));
	vcpu_run_sync(vcpu, &uc, 2);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_EQ(1, (int)chip.chip.ioapic.redirtbl[18].fields.remote_irr);
	EXPECT_TRUE(chip.chip.ioapic.irr & BIT(18));
	/*
	 * Still waiting for the EOI (remote IRR): KVM reports raising it
	 * again like a masked line, not as coalesced.
	 */
	EXPECT_EQ(-1, irq_line(vm, 18, 1));
	vcpu_run_sync(vcpu, &uc, 3);
	irq_line(vm, 18, 0);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &chip);
	EXPECT_FALSE(chip.chip.ioapic.irr & BIT(18));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(ioapic_masked)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_ioapic_masked,
					    irq_record);
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	EXPECT_GT(0, irq_edge(vm, 20));
	EXPECT_GT(0, irq_line(vm, 19, 1));
	vcpu_run_sync(vcpu, &uc, 2);
	irq_line(vm, 19, 0);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST(routing_delivery)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_routing, irq_record);
	struct kvm_irq_routing *r = irq_routing_alloc(64);
	struct kvm_msi msi;
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, 1);
	irq_routing_add_irqchip(r, 5, KVM_IRQCHIP_IOAPIC, 21);
	/* MSI: APIC ID 0, physical, fixed, edge. */
	irq_routing_add_msi(r, 40, 0xfee00000, VEC_MSI_ROUTE);
	ASSERT_EQ(0, __irq_routing_set(vm, r));
	EXPECT_EQ(1, irq_edge(vm, 5));

	vcpu_run_sync(vcpu, &uc, 2);
	EXPECT_EQ(1, irq_line(vm, 40, 1));
	/* An MSI has no level to lower: "not delivered". */
	EXPECT_EQ(-1, irq_line(vm, 40, 0));

	vcpu_run_sync(vcpu, &uc, 3);
	memset(&msi, 0, sizeof(msi));
	msi.address_lo = 0xfee00000;
	msi.data = VEC_MSI_SIGNAL;
	EXPECT_EQ(1, __vm_ioctl(vm, KVM_SIGNAL_MSI, &msi));
	msi.flags = 0x80000000;
	EXPECT_EQ(-1, __vm_ioctl(vm, KVM_SIGNAL_MSI, &msi));
	EXPECT_EQ(EINVAL, errno);

	vcpu_run_sync(vcpu, &uc, 4);
	r->nr = 0;
	ASSERT_EQ(0, __irq_routing_set(vm, r));
	EXPECT_GT(0, irq_edge(vm, 5));
	vcpu_expect_done(vcpu);
	free(r);
	kvm_vm_free(vm);
}

/* ---- hostile VMM: garbage state, everything changes while the guest runs ---- */

TEST(hostile_irqchip_state)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_hostile_state,
					    irq_record);
	struct kvm_irqchip sane[KVM_NR_IRQCHIPS], junk, back;
	struct ucall uc;
	int id, pin;

	vcpu_run_sync(vcpu, &uc, 1);
	for (id = 0; id < KVM_NR_IRQCHIPS; id++)
		get_irqchip(vm, id, &sane[id]);
	/* Every PIC byte 0xff: stored as given, as KVM does. */
	for (id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_PIC_SLAVE; id++) {
		memset(&junk, 0xff, sizeof(junk));
		junk.chip_id = id;
		set_irqchip(vm, &junk);
		get_irqchip(vm, id, &back);
		EXPECT_EQ(0, memcmp(&junk.chip.pic, &back.chip.pic,
				    sizeof(junk.chip.pic))) TH_LOG("chip %d", id);
	}
	/* IOAPIC: IOREGSEL and ID out of range, every entry all ones. */
	memset(&junk, 0xff, sizeof(junk));
	junk.chip_id = KVM_IRQCHIP_IOAPIC;
	junk.chip.ioapic.base_address = IOAPIC_GPA;
	junk.chip.ioapic.irr = 0;
	set_irqchip(vm, &junk);
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &back);
	EXPECT_EQ(IOAPIC_GPA, back.chip.ioapic.base_address);
	EXPECT_EQ(0xffffffff, back.chip.ioapic.ioregsel);
	EXPECT_EQ(0xffffffff, back.chip.ioapic.id);
	EXPECT_EQ(0, back.chip.ioapic.irr);
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		EXPECT_EQ(~0ULL, back.chip.ioapic.redirtbl[pin].bits)
			TH_LOG("pin %d", pin);

	vcpu_run_sync(vcpu, &uc, 2);
	/* IMRs and ELCRs read back what the host stored (all ones). */
	EXPECT_EQ(0xff, (uc.args[1] >> 8) & 0xff);
	EXPECT_EQ(0xff, (uc.args[1] >> 24) & 0xff);
	EXPECT_EQ(0xffff, (uc.args[1] >> 32) & 0xffff);
	EXPECT_EQ(0xffffffff, uc.args[2]);
	/* The IOWIN write with IOREGSEL out of range changed nothing. */
	get_irqchip(vm, KVM_IRQCHIP_IOAPIC, &back);
	for (pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		EXPECT_EQ(~0ULL, back.chip.ioapic.redirtbl[pin].bits)
			TH_LOG("pin %d", pin);
	for (id = 0; id < KVM_NR_IRQCHIPS; id++)
		set_irqchip(vm, &sane[id]);

	vcpu_run_sync(vcpu, &uc, 3);
	EXPECT_EQ(1, irq_edge(vm, 3));
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

struct race_ctx {
	struct kvm_vm *vm;
	volatile bool stop;
	unsigned long errors;
	unsigned long ops;
};

static void *race_lines(void *arg)
{
	struct race_ctx *ctx = arg;
	unsigned int seed = 1;
	int32_t status;

	while (!ctx->stop) {
		uint32_t gsi = rand_r(&seed) % 32;

		if (__irq_line_status(ctx->vm, gsi, 1, &status) ||
		    __irq_line_status(ctx->vm, gsi, 0, &status))
			ctx->errors++;
		ctx->ops++;
		/*
		 * An edge at most every 100 us: a slow emulator (Bochs) must
		 * leave the guest time between the interrupts it takes.
		 */
		usleep(100);
	}
	return NULL;
}

static void *race_state(void *arg)
{
	struct race_ctx *ctx = arg;
	struct kvm_irq_routing *dflt = irq_routing_alloc(64);
	struct kvm_irq_routing *odd = irq_routing_alloc(64);
	struct kvm_irqchip chip;
	unsigned long n = 0;
	uint32_t gsi;

	irq_routing_add_isa(dflt, 0);
	for (gsi = 0; gsi < 32; gsi++)
		irq_routing_add_irqchip(odd, gsi, KVM_IRQCHIP_IOAPIC,
			      (gsi * 7) % KVM_IOAPIC_NUM_PINS);
	irq_routing_add_msi(odd, 40, 0xfee00000, 0x7f);
	while (!ctx->stop) {
		if (__irq_routing_set(ctx->vm, (n & 1) ? odd : dflt))
			ctx->errors++;
		chip.chip_id = n % KVM_NR_IRQCHIPS;
		if (__get_irqchip(ctx->vm, &chip) ||
		    __set_irqchip(ctx->vm, &chip))
			ctx->errors++;
		n++;
		ctx->ops++;
	}
	free(dflt);
	free(odd);
	return NULL;
}

TEST(hostile_vmm_race)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_irqchip_vcpu(&vcpu, guest_race, race_irq);
	struct race_ctx ctx = { .vm = vm };
	pthread_t t[2];
	struct timespec t0, now;
	struct ucall uc;
	uint64_t rounds = 0, irqs = 0;
	int i;

	/* The guest has programmed both chips before the threads start. */
	vcpu_run_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_lines, &ctx));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_state, &ctx));
	/*
	 * 100 guest rounds, or 10 s: the Bochs machine may spend most of its
	 * time on the interrupts the threads raise (the test's limit is 30 s).
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100; i++) {
		vcpu_run_sync(vcpu, &uc, 1);
		rounds = uc.args[1];
		irqs = uc.args[2];
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 10)
			break;
	}
	ctx.stop = true;
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	EXPECT_EQ(0, ctx.errors);
	TH_LOG("%llu guest rounds, %llu interrupts, %lu host ioctls",
	       (unsigned long long)rounds, (unsigned long long)irqs, ctx.ops);

	/* Everything still works: the state reads back, the guest ends. */
	for (i = 0; i < 32; i++)
		irq_line(vm, i, 0);
	race_stop = 1;
	sync_global_to_guest(vm, race_stop);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
