// SPDX-License-Identifier: GPL-2.0
/*
 * ioapic.c - the in-kernel IOAPIC: an 82093AA (version 0x11, 24 pins, no
 * EOI register) as KVM presents it.  It owns the redirection table, the
 * input lines of every interrupt source, remote IRR and the MMIO window.
 *
 * It knows nothing of vCPUs, vendors or the other devices: an interrupt
 * leaves only through xkvm_lapic_deliver(), an EOI of a level pin is told
 * to xkvm_irqchip_ack().  ioapic->lock (a spinlock, never taken in
 * hard-IRQ context) protects every field but vm, and is never held across
 * either call: each path decides under the lock what to send and sends
 * it after dropping the lock.  A level pin is marked remote IRR under the
 * lock before it is sent, so no two paths can send it for the same
 * assertion.
 */

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "irqchip.h"

/* Indirect registers (IOREGSEL values). */
#define IOA_REG_ID		0x00
#define IOA_REG_VERSION		0x01
#define IOA_REG_ARB		0x02
#define IOA_REG_REDIR		0x10	/* entry n: 0x10 + 2n low, +1 high */
#define IOA_VERSION_REG		(((XKVM_NR_IOAPIC_PINS - 1) << 16) | 0x11)

/* MMIO offsets; KVM's 0x11 IOAPIC has no EOI register at +0x40. */
#define IOA_MMIO_SELECT		0x00
#define IOA_MMIO_WINDOW		0x10

/* Redirection table entry. */
#define IOA_RTE_VECTOR		GENMASK_ULL(7, 0)
#define IOA_RTE_DM_SHIFT	8
#define IOA_RTE_DM_MASK		0x7
#define IOA_RTE_LOGICAL		BIT_ULL(11)
#define IOA_RTE_DELIVS		BIT_ULL(12)
#define IOA_RTE_RIRR		BIT_ULL(14)
#define IOA_RTE_LEVEL		BIT_ULL(15)
#define IOA_RTE_MASK		BIT_ULL(16)
#define IOA_RTE_DEST_SHIFT	56
#define IOA_RTE_RO		(IOA_RTE_DELIVS | IOA_RTE_RIRR)

#define IOA_ALL_PINS		GENMASK(XKVM_NR_IOAPIC_PINS - 1, 0)

struct xkvm_ioapic {
	spinlock_t lock;			/* all of the below but vm */
	struct xkvm *vm;			/* constant */
	u64 base;				/* kvm_ioapic_state.base_address */
	u32 ioregsel;				/* as userspace set it: bound at use */
	u32 id;					/* as userspace set it: 4 bits read */
	u32 pad;				/* round-tripped, as on KVM */
	u32 irr;				/* asserted inputs (KVM's irr) */
	u32 edge_sent;				/* edge pins sent since they rose */
	u32 src_lines[XKVM_NR_IRQ_SOURCES];	/* one bit per pin and source */
	u8 rirr_gen[XKVM_NR_IOAPIC_PINS];	/* bumped when a send sets RIRR */
	u64 rte[XKVM_NR_IOAPIC_PINS];
};

/* One message decided under the lock, sent once the lock is dropped. */
struct ioa_msg {
	struct xkvm_apic_irq irq;
	u8 pin;
	u8 gen;
};

/*
 * Under the lock: may @pin be sent now?  If so mark it (remote IRR for a
 * level pin, edge_sent for an edge one) and describe it in @m.
 */
static bool ioa_prepare(struct xkvm_ioapic *ioa, unsigned int pin,
			struct ioa_msg *m)
{
	u64 e = ioa->rte[pin];

	if (e & IOA_RTE_MASK)
		return false;
	if (e & IOA_RTE_LEVEL) {
		if (e & IOA_RTE_RIRR)
			return false;
		ioa->rte[pin] = e | IOA_RTE_RIRR;
		ioa->rirr_gen[pin]++;
	} else {
		ioa->edge_sent |= BIT(pin);
	}

	memset(m, 0, sizeof(*m));
	m->irq.dest_id = e >> IOA_RTE_DEST_SHIFT;
	m->irq.vector = e & IOA_RTE_VECTOR;
	m->irq.delivery_mode = (e >> IOA_RTE_DM_SHIFT) & IOA_RTE_DM_MASK;
	m->irq.dest_logical = !!(e & IOA_RTE_LOGICAL);
	m->irq.level = true;
	m->irq.trig_level = !!(e & IOA_RTE_LEVEL);
	m->pin = pin;
	m->gen = ioa->rirr_gen[pin];
	return true;
}

/*
 * Unlocked: send @m.  As on KVM, a level interrupt that found LAPICs but
 * none accepted it (0) leaves no remote IRR behind, unless the pin was
 * sent again in the meantime.
 */
static int ioa_send(struct xkvm_ioapic *ioa, const struct ioa_msg *m)
{
	int ret = xkvm_lapic_deliver(ioa->vm, NULL, &m->irq);

	if (ret == 0 && m->irq.trig_level) {
		spin_lock(&ioa->lock);
		if (ioa->rirr_gen[m->pin] == m->gen)
			ioa->rte[m->pin] &= ~IOA_RTE_RIRR;
		spin_unlock(&ioa->lock);
	}
	return ret;
}

static void ioa_send_all(struct xkvm_ioapic *ioa, const struct ioa_msg *m,
			 unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ioa_send(ioa, &m[i]);
}

int xkvm_ioapic_set_irq(struct xkvm_ioapic *ioa, int pin, int source,
			int level)
{
	struct ioa_msg m;
	u32 bit, old, line = 0;
	bool send;
	int i;

	if (pin < 0 || pin >= XKVM_NR_IOAPIC_PINS ||
	    source < 0 || source >= XKVM_NR_IRQ_SOURCES)
		return -1;
	bit = BIT(pin);

	spin_lock(&ioa->lock);
	if (level)
		ioa->src_lines[source] |= bit;
	else
		ioa->src_lines[source] &= ~bit;
	for (i = 0; i < XKVM_NR_IRQ_SOURCES; i++)
		line |= ioa->src_lines[i];

	if (!(line & bit)) {
		ioa->irr &= ~bit;
		spin_unlock(&ioa->lock);
		return 1;
	}

	old = ioa->irr;
	ioa->irr |= bit;
	if (!(ioa->rte[pin] & IOA_RTE_LEVEL)) {
		ioa->edge_sent &= ~bit;
		if (old & bit) {
			/* No new edge: the line was already high. */
			spin_unlock(&ioa->lock);
			return 0;
		}
	}
	send = ioa_prepare(ioa, pin, &m);
	spin_unlock(&ioa->lock);

	return send ? ioa_send(ioa, &m) : -1;
}

/*
 * Tell the glue which level pins of @vector the guest acknowledged.  As
 * on KVM this comes first, remote IRR still set and the lock dropped: a
 * listener (a resampling irqfd) may lower the line, which then is not
 * sent again by the EOI.
 */
static void ioa_notify_ack(struct xkvm_ioapic *ioa, int vector)
{
	unsigned long acked = 0;
	unsigned int pin;

	spin_lock(&ioa->lock);
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++)
		if ((ioa->rte[pin] & (IOA_RTE_VECTOR | IOA_RTE_LEVEL)) ==
		    (vector | IOA_RTE_LEVEL))
			acked |= BIT(pin);
	spin_unlock(&ioa->lock);

	for_each_set_bit(pin, &acked, XKVM_NR_IOAPIC_PINS)
		xkvm_irqchip_ack(ioa->vm, KVM_IRQCHIP_IOAPIC, pin);
}

void xkvm_ioapic_eoi(struct xkvm_ioapic *ioa, int vector)
{
	struct ioa_msg m[XKVM_NR_IOAPIC_PINS];
	unsigned int pin, n = 0;
	u64 e;

	if (vector < 0 || vector > 0xff)
		return;
	ioa_notify_ack(ioa, vector);

	/*
	 * Each matching pin is sent again at most once per EOI, so a guest
	 * that EOIs in a loop costs the host a bounded amount per exit.
	 */
	spin_lock(&ioa->lock);
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++) {
		e = ioa->rte[pin];
		if ((e & IOA_RTE_VECTOR) != (u64)vector)
			continue;
		ioa->rte[pin] = e & ~IOA_RTE_RIRR;
		if ((e & IOA_RTE_LEVEL) && (ioa->irr & BIT(pin)) &&
		    ioa_prepare(ioa, pin, &m[n]))
			n++;
	}
	spin_unlock(&ioa->lock);

	ioa_send_all(ioa, m, n);
}

/* The pin a redirection-table IOREGSEL selects, or -1. */
static int ioa_sel_pin(u32 sel)
{
	u32 pin;

	if (sel < IOA_REG_REDIR)
		return -1;
	pin = (sel - IOA_REG_REDIR) >> 1;
	if (pin >= XKVM_NR_IOAPIC_PINS)
		return -1;
	return array_index_nospec(pin, XKVM_NR_IOAPIC_PINS);
}

static u32 ioa_read_reg(const struct xkvm_ioapic *ioa)
{
	u32 sel = ioa->ioregsel;
	int pin;

	switch (sel) {
	case IOA_REG_ID:
	case IOA_REG_ARB:
		return (ioa->id & 0xf) << 24;
	case IOA_REG_VERSION:
		return IOA_VERSION_REG;
	}
	pin = ioa_sel_pin(sel);
	if (pin < 0)
		return ~0U;	/* unimplemented registers, as on KVM */
	return (sel & 1) ? upper_32_bits(ioa->rte[pin]) :
			   lower_32_bits(ioa->rte[pin]);
}

/* Under the lock; true if @m is to be sent. */
static bool ioa_write_reg(struct xkvm_ioapic *ioa, u32 val, struct ioa_msg *m)
{
	u32 sel = ioa->ioregsel;
	u64 old, e;
	int pin;

	if (sel == IOA_REG_ID) {
		ioa->id = (val >> 24) & 0xf;
		return false;
	}
	pin = ioa_sel_pin(sel);
	if (pin < 0)
		return false;	/* version, arbitration, unimplemented */

	old = ioa->rte[pin];
	if (sel & 1)
		e = (old & GENMASK_ULL(31, 0)) | ((u64)val << 32);
	else
		e = (old & GENMASK_ULL(63, 32)) | val;
	e = (e & ~IOA_RTE_RO) | (old & IOA_RTE_RO);
	/* Linux and Xen clear a stuck remote IRR by switching to edge. */
	if (!(e & IOA_RTE_LEVEL))
		e &= ~IOA_RTE_RIRR;
	ioa->rte[pin] = e;

	/* As on KVM, any write re-evaluates an asserted level pin. */
	if ((e & IOA_RTE_LEVEL) && (ioa->irr & BIT(pin)))
		return ioa_prepare(ioa, pin, m);
	return false;
}

/* A write's value as KVM takes it (low 32 bits of an 8-byte access). */
static bool ioa_get_val(const void *data, int len, u32 *val)
{
	u16 v16;
	u8 v8;

	switch (len) {
	case 8:
	case 4:
		memcpy(val, data, 4);
		return true;
	case 2:
		memcpy(&v16, data, 2);
		*val = v16;
		return true;
	case 1:
		memcpy(&v8, data, 1);
		*val = v8;
		return true;
	}
	return false;		/* other sizes are ignored */
}

static void ioa_put_val(void *data, int len, u32 val)
{
	u64 v = val;

	switch (len) {
	case 8:
	case 4:
	case 2:
	case 1:
		memcpy(data, &v, len);	/* little-endian: the low bytes */
		break;
	default:
		if (len > 0)
			memset(data, 0, len);
		break;
	}
}

/*
 * KVM registers the IOAPIC on the MMIO bus at the default base once, and
 * its device then answers only at the base it holds: an address must be
 * in both windows (KVM_SET_IRQCHIP does not move the MMIO region).
 */
static bool ioa_in_window(const struct xkvm_ioapic *ioa, u64 gpa)
{
	return gpa - XKVM_IOAPIC_BASE < XKVM_IOAPIC_MMIO_SIZE &&
	       gpa >= ioa->base && gpa - ioa->base < XKVM_IOAPIC_MMIO_SIZE;
}

int xkvm_ioapic_mmio(struct xkvm_ioapic *ioa, u64 gpa, bool write, int len,
		     void *data)
{
	u32 off = gpa - XKVM_IOAPIC_BASE;
	struct ioa_msg m;
	bool send = false;
	u32 val = 0;

	spin_lock(&ioa->lock);
	if (!ioa_in_window(ioa, gpa)) {
		spin_unlock(&ioa->lock);
		return -ENOENT;
	}
	if (write) {
		if (!ioa_get_val(data, len, &val))
			off = ~0U;	/* ignored, as on KVM */
		if (off == IOA_MMIO_SELECT)
			ioa->ioregsel = val & 0xff;
		else if (off == IOA_MMIO_WINDOW)
			send = ioa_write_reg(ioa, val, &m);
	} else {
		if (off == IOA_MMIO_SELECT)
			val = ioa->ioregsel;
		else if (off == IOA_MMIO_WINDOW)
			val = ioa_read_reg(ioa);
	}
	spin_unlock(&ioa->lock);

	if (!write)
		ioa_put_val(data, len, val);
	else if (send)
		ioa_send(ioa, &m);
	return 0;
}

void xkvm_ioapic_get_state(struct xkvm_ioapic *ioa,
			   struct kvm_ioapic_state *s)
{
	unsigned int pin;

	spin_lock(&ioa->lock);
	s->base_address = ioa->base;
	s->ioregsel = ioa->ioregsel;
	s->id = ioa->id;
	/* As on KVM: an edge already sent is no longer pending. */
	s->irr = ioa->irr & ~ioa->edge_sent;
	s->pad = ioa->pad;
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++)
		s->redirtbl[pin].bits = ioa->rte[pin];
	spin_unlock(&ioa->lock);
}

void xkvm_ioapic_set_state(struct xkvm_ioapic *ioa,
			   const struct kvm_ioapic_state *s)
{
	struct ioa_msg m[XKVM_NR_IOAPIC_PINS];
	u32 pending = s->irr & IOA_ALL_PINS;
	unsigned int pin, n = 0;

	spin_lock(&ioa->lock);
	/*
	 * ioregsel and id are kept as given (KVM's GET returns them so);
	 * every use bounds them.
	 */
	ioa->base = s->base_address;
	ioa->ioregsel = s->ioregsel;
	ioa->id = s->id;
	ioa->pad = s->pad;
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++) {
		ioa->rte[pin] = s->redirtbl[pin].bits;
		ioa->rirr_gen[pin]++;	/* no late send may clear this RIRR */
	}
	/* As on KVM: every pending input is asserted anew, edges included. */
	ioa->irr = pending;
	ioa->edge_sent = 0;
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++)
		if ((pending & BIT(pin)) && ioa_prepare(ioa, pin, &m[n]))
			n++;
	spin_unlock(&ioa->lock);

	ioa_send_all(ioa, m, n);
}

struct xkvm_ioapic *xkvm_ioapic_create(struct xkvm *vm)
{
	struct xkvm_ioapic *ioa;
	unsigned int pin;

	ioa = kzalloc(sizeof(*ioa), GFP_KERNEL_ACCOUNT);
	if (!ioa)
		return NULL;
	spin_lock_init(&ioa->lock);
	ioa->vm = vm;
	/* KVM's reset: every entry masked, default base, ID 0. */
	ioa->base = XKVM_IOAPIC_BASE;
	for (pin = 0; pin < XKVM_NR_IOAPIC_PINS; pin++)
		ioa->rte[pin] = IOA_RTE_MASK;
	return ioa;
}

void xkvm_ioapic_destroy(struct xkvm_ioapic *ioa)
{
	kfree(ioa);
}
