// SPDX-License-Identifier: GPL-2.0
/*
 * pic.c - the in-kernel 8259A pair: master (ports 0x20-0x21) and slave
 * (0xa0-0xa1) cascaded on master IR2, and the PIIX ELCR (0x4d0-0x4d1),
 * as KVM's in-kernel PIC shows them to the guest and to KVM_{GET,SET}_IRQCHIP.
 *
 * This file owns the registers of both chips, the per-source input levels
 * and the master's INT output.  It knows nothing about vCPUs, LAPICs or
 * vendors: when the output rises it calls xkvm_irqchip_pic_kick(), and
 * when an in-service bit is cleared (EOI, auto-EOI) xkvm_irqchip_ack(),
 * both with no lock held.  xkvm_pic.lock (a plain spinlock, never taken
 * in hard-IRQ context) protects everything in struct xkvm_pic except vm;
 * output is written under it and read locklessly.  No allocation after create.
 */
#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "irqchip.h"

#define PIC_MASTER		0
#define PIC_SLAVE		1
#define PIC_CASCADE_IRQ		2	/* master input the slave drives */
#define PIC_SPURIOUS_IRQ	7
#define PIC_NO_IRQ		8	/* "no priority" from pic_priority() */

/* PIIX: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
#define PIC_MASTER_ELCR_MASK	0xf8
#define PIC_SLAVE_ELCR_MASK	0xde

/* ICW1 */
#define ICW1_INIT		0x10
#define ICW1_IC4		0x01
/* OCW3 (command port writes with D4 clear and D3 set) */
#define OCW3_SEL		0x08
#define OCW3_ESMM		0x40
#define OCW3_SMM		0x20
#define OCW3_POLL		0x04
#define OCW3_RR			0x02
#define OCW3_RIS		0x01
/* ICW4 */
#define ICW4_SFNM		0x10
#define ICW4_AEOI		0x02

enum pic_init_state {
	PIC_READY = 0,		/* data port writes go to the IMR (OCW1) */
	PIC_WANT_ICW2,
	PIC_WANT_ICW3,
	PIC_WANT_ICW4,
	PIC_NR_INIT_STATES
};

/* One 8259A; the fields are those of struct kvm_pic_state. */
struct pic_chip {
	u8 last_irr;		/* input levels seen on edge pins */
	u8 irr;
	u8 imr;
	u8 isr;
	u8 priority_add;	/* IR number that has the highest priority */
	u8 irq_base;		/* ICW2: vector of IR0 */
	u8 read_reg_select;	/* OCW3 RIS: command port reads ISR */
	u8 poll;		/* OCW3 P: next read is a poll */
	u8 special_mask;
	u8 init_state;		/* enum pic_init_state */
	u8 auto_eoi;
	u8 rotate_on_auto_eoi;
	u8 special_fully_nested_mode;
	u8 init4;		/* ICW1 IC4: ICW4 follows */
	u8 elcr;		/* 1: level-triggered input */
	u8 elcr_mask;		/* ELCR bits that may be set */
	u8 acked;		/* ISR bits cleared, not yet told to the glue */
};

struct xkvm_pic {
	spinlock_t lock;	/* all below but vm; see the file header */
	struct pic_chip chip[2];
	/* One bit per source for each input: the line is their OR. */
	u8 src_level[XKVM_NR_PIC_PINS];
	bool output;		/* the master's INT */
	struct xkvm *vm;
};

/* Priority (0 highest, 8 none) of the best bit of @mask for @c. */
static int pic_priority(const struct pic_chip *c, u8 mask)
{
	int prio;

	for (prio = 0; prio < 8; prio++)
		if (mask & BIT((prio + c->priority_add) & 7))
			return prio;
	return PIC_NO_IRQ;
}

/*
 * The IR that chip @c would signal now: the best unmasked request whose
 * priority is above every level in service, or -1.  In special mask mode
 * a masked in-service level does not block others; in special fully
 * nested mode the master does not let the cascade's ISR bit block the
 * slave's further (higher priority) requests.
 */
static int pic_chip_irq(const struct pic_chip *c, bool master)
{
	u8 in_service = c->isr;
	int prio;

	prio = pic_priority(c, c->irr & ~c->imr);
	if (prio == PIC_NO_IRQ)
		return -1;
	if (c->special_mask)
		in_service &= ~c->imr;
	if (master && c->special_fully_nested_mode)
		in_service &= ~BIT(PIC_CASCADE_IRQ);
	if (prio >= pic_priority(c, in_service))
		return -1;
	return (prio + c->priority_add) & 7;
}

/*
 * Input @irq of @c goes to @level.  Edge inputs latch a rising edge into
 * IRR; level inputs make IRR follow the line.  Returns as set_irq.
 */
static int pic_chip_input(struct pic_chip *c, int irq, bool level)
{
	u8 bit = BIT(irq);
	int ret = 1;

	if (c->elcr & bit) {
		if (level) {
			ret = !(c->irr & bit);
			c->irr |= bit;
			c->last_irr |= bit;
		} else {
			c->irr &= ~bit;
			c->last_irr &= ~bit;
		}
	} else if (level) {
		if (!(c->last_irr & bit)) {
			ret = !(c->irr & bit);
			c->irr |= bit;
		}
		c->last_irr |= bit;
	} else {
		c->last_irr &= ~bit;
	}
	return (c->imr & bit) ? -1 : ret;
}

/*
 * Propagate the slave's INT into the master's IR2 (an edge input: the
 * request stays latched until acknowledged) and recompute the master's
 * INT.  Returns true if the output went from low to high.
 */
static bool pic_update(struct xkvm_pic *pic)
{
	bool was = pic->output;
	bool now;

	if (pic_chip_irq(&pic->chip[PIC_SLAVE], false) >= 0)
		pic->chip[PIC_MASTER].irr |= BIT(PIC_CASCADE_IRQ);
	now = pic_chip_irq(&pic->chip[PIC_MASTER], true) >= 0;
	WRITE_ONCE(pic->output, now);
	return !was && now;
}

static void pic_eoi(struct pic_chip *c, int irq)
{
	c->isr &= ~BIT(irq);
	c->acked |= BIT(irq);
}

/* Under the lock: the inputs acknowledged since the last call (0-15). */
static u16 pic_take_acked(struct xkvm_pic *pic)
{
	u16 acked = pic->chip[PIC_MASTER].acked |
		    pic->chip[PIC_SLAVE].acked << 8;

	pic->chip[PIC_MASTER].acked = 0;
	pic->chip[PIC_SLAVE].acked = 0;
	return acked;
}

/* Unlocked: tell the glue about them (resampling irqfds listen). */
static void pic_notify_acked(struct xkvm_pic *pic, u16 acked)
{
	unsigned long bits = acked;
	unsigned int irq;

	for_each_set_bit(irq, &bits, XKVM_NR_PIC_PINS)
		xkvm_irqchip_ack(pic->vm, irq < 8 ? KVM_IRQCHIP_PIC_MASTER :
						    KVM_IRQCHIP_PIC_SLAVE,
				 irq & 7);
}

/* The acknowledge of @irq on @c, by INTA or by a poll read. */
static void pic_intack(struct pic_chip *c, int irq)
{
	u8 bit = BIT(irq);

	c->isr |= bit;
	if (!(c->elcr & bit))
		c->irr &= ~bit;	/* a level request stays while the line is high */
	if (c->auto_eoi) {
		if (c->rotate_on_auto_eoi)
			c->priority_add = (irq + 1) & 7;
		pic_eoi(c, irq);
	}
}

/*
 * ICW1 starts the initialisation.  As on KVM: edge requests, the edge
 * detector, IMR, priority rotation, special mask and the read select are
 * cleared, level requests stay, and the in-service bits of the dropped
 * edge requests are cleared; without IC4 the ICW4 modes go back to zero.
 */
static void pic_icw1(struct pic_chip *c, u8 val)
{
	u8 dropped = c->irr & ~c->elcr;

	c->init4 = !!(val & ICW1_IC4);
	c->last_irr = 0;
	c->irr &= c->elcr;
	c->isr &= ~dropped;
	c->imr = 0;
	c->priority_add = 0;
	c->special_mask = 0;
	c->read_reg_select = 0;
	if (!c->init4) {
		c->special_fully_nested_mode = 0;
		c->auto_eoi = 0;
	}
	c->init_state = PIC_WANT_ICW2;
}

static void pic_ocw2(struct pic_chip *c, u8 val)
{
	int cmd = val >> 5;
	int irq = val & 7;
	int prio;

	switch (cmd) {
	case 0:			/* clear rotate in automatic EOI mode */
	case 4:			/* set rotate in automatic EOI mode */
		c->rotate_on_auto_eoi = cmd >> 2;
		break;
	case 1:			/* non-specific EOI */
	case 5:			/* rotate on non-specific EOI */
		/* In special mask mode a masked ISR bit is left alone. */
		prio = pic_priority(c, c->special_mask ? c->isr & ~c->imr :
						       c->isr);
		if (prio == PIC_NO_IRQ)
			break;
		irq = (prio + c->priority_add) & 7;
		if (cmd == 5)
			c->priority_add = (irq + 1) & 7;
		pic_eoi(c, irq);
		break;
	case 3:			/* specific EOI */
		pic_eoi(c, irq);
		break;
	case 6:			/* set priority: IR @irq becomes the lowest */
		c->priority_add = (irq + 1) & 7;
		break;
	case 7:			/* rotate on specific EOI */
		c->priority_add = (irq + 1) & 7;
		pic_eoi(c, irq);
		break;
	default:		/* 2: no operation */
		break;
	}
}

static void pic_ocw3(struct pic_chip *c, u8 val)
{
	if (val & OCW3_POLL)
		c->poll = 1;
	if (val & OCW3_RR)
		c->read_reg_select = val & OCW3_RIS;
	if (val & OCW3_ESMM)
		c->special_mask = !!(val & OCW3_SMM);
}

/* A write to the data port: OCW1, or the next ICW of the sequence. */
static void pic_write_data(struct pic_chip *c, u8 val)
{
	switch (c->init_state) {
	case PIC_WANT_ICW2:
		c->irq_base = val & 0xf8;
		c->init_state = PIC_WANT_ICW3;
		break;
	case PIC_WANT_ICW3:	/* cascade wiring is fixed; single mode ignored */
		c->init_state = c->init4 ? PIC_WANT_ICW4 : PIC_READY;
		break;
	case PIC_WANT_ICW4:
		c->special_fully_nested_mode = !!(val & ICW4_SFNM);
		c->auto_eoi = !!(val & ICW4_AEOI);
		c->init_state = PIC_READY;
		break;
	default:
		c->imr = val;
		break;
	}
}

static void pic_write(struct pic_chip *c, bool data, u8 val)
{
	if (data)
		pic_write_data(c, val);
	else if (val & ICW1_INIT)
		pic_icw1(c, val);
	else if (val & OCW3_SEL)
		pic_ocw3(c, val);
	else
		pic_ocw2(c, val);
}

/*
 * A read after a poll command is an acknowledge (datasheet): it returns
 * 0x80 | IR of the best request and sets its ISR bit, or 0x07 with bit 7
 * clear if there is none.  Polling the slave takes the cascade request
 * off the master's IR2; pic_update() latches it again if the slave still
 * has one.
 */
static u8 pic_poll_read(struct xkvm_pic *pic, int idx)
{
	struct pic_chip *c = &pic->chip[idx];
	int irq = pic_chip_irq(c, idx == PIC_MASTER);

	if (irq < 0)
		return PIC_SPURIOUS_IRQ;
	pic_intack(c, irq);
	if (idx == PIC_SLAVE)
		pic->chip[PIC_MASTER].irr &= ~BIT(PIC_CASCADE_IRQ);
	return 0x80 | irq;
}

static u8 pic_read(struct xkvm_pic *pic, int idx, bool data)
{
	struct pic_chip *c = &pic->chip[idx];

	if (c->poll) {
		c->poll = 0;
		return pic_poll_read(pic, idx);
	}
	if (data)
		return c->imr;
	return c->read_reg_select ? c->isr : c->irr;
}

struct xkvm_pic *xkvm_pic_create(struct xkvm *vm)
{
	struct xkvm_pic *pic;

	/* As on KVM, both chips start all-zero: IMR 0, init_state 0. */
	pic = kzalloc(sizeof(*pic), GFP_KERNEL_ACCOUNT);
	if (!pic)
		return NULL;
	spin_lock_init(&pic->lock);
	pic->chip[PIC_MASTER].elcr_mask = PIC_MASTER_ELCR_MASK;
	pic->chip[PIC_SLAVE].elcr_mask = PIC_SLAVE_ELCR_MASK;
	pic->vm = vm;
	return pic;
}

void xkvm_pic_destroy(struct xkvm_pic *pic)
{
	kfree(pic);
}

int xkvm_pic_set_irq(struct xkvm_pic *pic, int pin, int source, int level)
{
	u8 *lines;
	bool kick;
	int ret;

	BUILD_BUG_ON(XKVM_NR_IRQ_SOURCES > 8);
	if (pin < 0 || pin >= XKVM_NR_PIC_PINS ||
	    source < 0 || source >= XKVM_NR_IRQ_SOURCES)
		return -1;

	spin_lock(&pic->lock);
	lines = &pic->src_level[pin];
	if (level)
		*lines |= BIT(source);
	else
		*lines &= ~BIT(source);
	ret = pic_chip_input(&pic->chip[pin >> 3], pin & 7, *lines != 0);
	kick = pic_update(pic);
	spin_unlock(&pic->lock);

	if (kick)
		xkvm_irqchip_pic_kick(pic->vm);
	return ret;
}

bool xkvm_pic_output(struct xkvm_pic *pic)
{
	return READ_ONCE(pic->output);
}

int xkvm_pic_ack(struct xkvm_pic *pic)
{
	struct pic_chip *master = &pic->chip[PIC_MASTER];
	struct pic_chip *slave = &pic->chip[PIC_SLAVE];
	int irq, irq2, vector = -1;
	u16 acked;
	bool kick;

	spin_lock(&pic->lock);
	irq = pic_chip_irq(master, true);
	if (irq >= 0) {
		pic_intack(master, irq);
		if (irq == PIC_CASCADE_IRQ) {
			irq2 = pic_chip_irq(slave, false);
			if (irq2 >= 0)
				pic_intack(slave, irq2);
			else
				irq2 = PIC_SPURIOUS_IRQ;
			vector = (u8)(slave->irq_base + irq2);
		} else {
			vector = (u8)(master->irq_base + irq);
		}
		/* The INTA took the output down; more requests raise it again. */
		WRITE_ONCE(pic->output, false);
	}
	kick = pic_update(pic);
	acked = pic_take_acked(pic);	/* auto-EOI */
	spin_unlock(&pic->lock);

	pic_notify_acked(pic, acked);
	if (kick)
		xkvm_irqchip_pic_kick(pic->vm);
	return vector;
}

/*
 * As KVM's I/O bus: an access belongs to the PIC only if it lies wholly
 * within 0x20-0x21, 0xa0-0xa1 or 0x4d0-0x4d1; one that is not a byte is
 * then ignored (a read gives 0).
 */
int xkvm_pic_pio(struct xkvm_pic *pic, u16 port, bool in, int size,
		 u32 *val)
{
	u16 base = port & ~1;
	bool odd = port & 1;
	bool kick = false;
	u16 acked;
	int idx;
	u8 byte = in ? 0 : (u8)*val;

	if (base != 0x20 && base != 0xa0 && base != 0x4d0)
		return -ENOENT;
	if (size < 1 || size > 2 - odd)
		return -ENOENT;
	if (size != 1) {
		if (in)
			*val = 0;
		return 0;
	}

	spin_lock(&pic->lock);
	if (base == 0x4d0) {
		struct pic_chip *c = &pic->chip[odd];

		if (in)
			byte = c->elcr;
		else
			c->elcr = byte & c->elcr_mask;
	} else {
		idx = base == 0x20 ? PIC_MASTER : PIC_SLAVE;
		if (in)
			byte = pic_read(pic, idx, odd);
		else
			pic_write(&pic->chip[idx], odd, byte);
		kick = pic_update(pic);
	}
	acked = pic_take_acked(pic);
	spin_unlock(&pic->lock);

	pic_notify_acked(pic, acked);
	if (kick)
		xkvm_irqchip_pic_kick(pic->vm);
	if (in)
		*val = byte;
	return 0;
}

void xkvm_pic_get_state(struct xkvm_pic *pic, int chip,
			struct kvm_pic_state *s)
{
	const struct pic_chip *c;

	memset(s, 0, sizeof(*s));
	if (chip != KVM_IRQCHIP_PIC_MASTER && chip != KVM_IRQCHIP_PIC_SLAVE)
		return;
	c = &pic->chip[chip];

	spin_lock(&pic->lock);
	s->last_irr = c->last_irr;
	s->irr = c->irr;
	s->imr = c->imr;
	s->isr = c->isr;
	s->priority_add = c->priority_add;
	s->irq_base = c->irq_base;
	s->read_reg_select = c->read_reg_select;
	s->poll = c->poll;
	s->special_mask = c->special_mask;
	s->init_state = c->init_state;
	s->auto_eoi = c->auto_eoi;
	s->rotate_on_auto_eoi = c->rotate_on_auto_eoi;
	s->special_fully_nested_mode = c->special_fully_nested_mode;
	s->init4 = c->init4;
	s->elcr = c->elcr;
	s->elcr_mask = c->elcr_mask;
	spin_unlock(&pic->lock);
}

/*
 * Userspace's values are stored as given, as KVM stores them (and
 * KVM_GET_IRQCHIP returns them): every use of a field is safe for any
 * value (priority_add is taken modulo 8, an unknown init_state acts as
 * "ready", flags as booleans, vectors modulo 256); guest ELCR writes are
 * masked with whatever elcr_mask holds.
 */
void xkvm_pic_set_state(struct xkvm_pic *pic, int chip,
			const struct kvm_pic_state *s)
{
	struct pic_chip *c;
	bool kick;

	if (chip != KVM_IRQCHIP_PIC_MASTER && chip != KVM_IRQCHIP_PIC_SLAVE)
		return;
	c = &pic->chip[chip];

	spin_lock(&pic->lock);
	c->last_irr = s->last_irr;
	c->irr = s->irr;
	c->imr = s->imr;
	c->isr = s->isr;
	c->priority_add = s->priority_add;
	c->irq_base = s->irq_base;
	c->read_reg_select = s->read_reg_select;
	c->poll = s->poll;
	c->special_mask = s->special_mask;
	c->init_state = s->init_state;
	c->auto_eoi = s->auto_eoi;
	c->rotate_on_auto_eoi = s->rotate_on_auto_eoi;
	c->special_fully_nested_mode = s->special_fully_nested_mode;
	c->init4 = s->init4;
	c->elcr = s->elcr;
	c->elcr_mask = s->elcr_mask;
	kick = pic_update(pic);
	spin_unlock(&pic->lock);

	if (kick)
		xkvm_irqchip_pic_kick(pic->vm);
}
