/* SPDX-License-Identifier: GPL-2.0 */
/*
 * irqchip.h - the in-kernel interrupt controllers and timers and how they
 * are wired: the contract between the device models (this folder: lapic.c,
 * ioapic.c, pic.c, pit.c), the VM-level glue (arch/x86/irqchip.c) and the
 * GSI routing table (virt/xkvm_irq_routing.c).
 *
 * Device models know nothing about VMX or SVM and nothing about each other:
 * a device that raises an interrupt calls the glue (xkvm_irqchip_*), which
 * routes it.  Each device keeps its state behind its own lock, named in
 * its file's header; no device lock is held while another device's
 * function is called, so device locks never nest.
 *
 * Interrupt sources.  A PIC or IOAPIC input is the OR of the levels of
 * every source that drives it (userspace's KVM_IRQ_LINE and edge irqfds,
 * resampling irqfds, the PIT), as on KVM: each device keeps one bit per
 * source and pin.
 *
 * Return value of every set_irq (and of KVM_IRQ_LINE_STATUS), as on KVM:
 *   > 0  delivered (the number of destinations, or 1)
 *     0  coalesced: the previous edge on that pin has not been serviced
 *   < 0  masked, or no destination
 */
#ifndef XKVM_IRQCHIP_H
#define XKVM_IRQCHIP_H

#include <linux/kvm.h>
#include <linux/types.h>
#include <xkvm/xkvm_host.h>	/* the generic sources: user, irqfd resample */

struct xkvm;
struct xkvm_vcpu;

/* USER and IRQFD_RESAMPLE come from xkvm_host.h; the arch's own: */
#define XKVM_IRQ_SOURCE_PIT	(XKVM_IRQ_SOURCE_ARCH + 0)
#define XKVM_NR_IRQ_SOURCES	(XKVM_IRQ_SOURCE_ARCH + 1)

#define XKVM_NR_PIC_PINS	16	/* master 0-7, slave 8-15 */
#define XKVM_NR_IOAPIC_PINS	KVM_IOAPIC_NUM_PINS
#define XKVM_IOAPIC_BASE	0xfec00000ULL	/* KVM's default base */
#define XKVM_IOAPIC_MMIO_SIZE	0x100

/*
 * One interrupt message to local APICs: what an IOAPIC redirection entry,
 * an MSI or an ICR write describes.
 */
struct xkvm_apic_irq {
	u32 dest_id;		/* physical APIC ID or logical mask */
	u8 vector;
	u8 delivery_mode;	/* APIC_DM_* >> 8: 0 fixed .. 7 ExtINT */
	bool dest_logical;
	bool level;		/* assert (INIT level de-assert: false) */
	bool trig_level;	/* level-triggered: TMR set, EOI broadcast */
	u8 shorthand;		/* APIC_DEST_* >> 18: 0 none, 1 self, 2 all, 3 others */
	bool x2apic_format;	/* dest_id is 32 bits (x2APIC ICR, MSI ext) */
};

/* ---- local APIC (lapic.c) ---- */

int xkvm_lapic_create(struct xkvm_vcpu *vcpu);
void xkvm_lapic_destroy(struct xkvm_vcpu *vcpu);
/* Deliver @irq; @src: the sending vCPU for shorthands, else NULL. */
int xkvm_lapic_deliver(struct xkvm *vm, struct xkvm_vcpu *src,
		       const struct xkvm_apic_irq *irq);
/* An MSI (address and data as the PCI device writes them). */
int xkvm_lapic_deliver_msi(struct xkvm *vm, u32 addr_lo, u32 addr_hi,
			   u32 data);

/* ---- 8259 PIC pair (pic.c) ---- */

struct xkvm_pic;

struct xkvm_pic *xkvm_pic_create(struct xkvm *vm);
void xkvm_pic_destroy(struct xkvm_pic *pic);
/* Input @pin (0-15) of @source goes to @level (0 or 1). */
int xkvm_pic_set_irq(struct xkvm_pic *pic, int pin, int source, int level);
/* Is the master's INT output asserted? (lockless read) */
bool xkvm_pic_output(struct xkvm_pic *pic);
/*
 * The INTA cycle: the vector of the highest-priority request, which moves
 * from IRR to ISR (or the spurious IRQ 7 / 15 vector); -1 if none.
 */
int xkvm_pic_ack(struct xkvm_pic *pic);
/*
 * Port I/O at 0x20-0x21, 0xa0-0xa1 (the two 8259s) and 0x4d0-0x4d1
 * (ELCR).  Returns 0 if handled, -ENOENT if @port is not the PIC's.
 */
int xkvm_pic_pio(struct xkvm_pic *pic, u16 port, bool in, int size,
		 u32 *val);
/* KVM_GET/SET_IRQCHIP: @chip is KVM_IRQCHIP_PIC_MASTER or _SLAVE. */
void xkvm_pic_get_state(struct xkvm_pic *pic, int chip,
			struct kvm_pic_state *s);
void xkvm_pic_set_state(struct xkvm_pic *pic, int chip,
			const struct kvm_pic_state *s);

/* ---- IOAPIC (ioapic.c) ---- */

struct xkvm_ioapic;

/* create: NULL when out of memory; destroy: NULL is fine. */
struct xkvm_ioapic *xkvm_ioapic_create(struct xkvm *vm);
void xkvm_ioapic_destroy(struct xkvm_ioapic *ioapic);
int xkvm_ioapic_set_irq(struct xkvm_ioapic *ioapic, int pin, int source,
			int level);
/* A local APIC EOI'd level-triggered @vector: clear remote IRR, resample. */
void xkvm_ioapic_eoi(struct xkvm_ioapic *ioapic, int vector);
/*
 * MMIO at the IOAPIC's base: IOREGSEL at +0x00, IOWIN at +0x10 (KVM's
 * version 0x11 IOAPIC has no EOI register).  Returns 0 if handled,
 * -ENOENT if @gpa is not the IOAPIC's.
 */
int xkvm_ioapic_mmio(struct xkvm_ioapic *ioapic, u64 gpa, bool write,
		     int len, void *data);
void xkvm_ioapic_get_state(struct xkvm_ioapic *ioapic,
			   struct kvm_ioapic_state *s);
void xkvm_ioapic_set_state(struct xkvm_ioapic *ioapic,
			   const struct kvm_ioapic_state *s);

/* ---- 8254 PIT (pit.c) ---- */

struct xkvm_pit;

/*
 * create: NULL when out of memory.  destroy (NULL is fine) stops the timer
 * and waits for a queued tick, so the PIT raises nothing afterwards.
 */
struct xkvm_pit *xkvm_pit_create(struct xkvm *vm, u32 flags);
void xkvm_pit_destroy(struct xkvm_pit *pit);
/* Ports 0x40-0x43 and 0x61; 0 if handled, -ENOENT if not the PIT's. */
int xkvm_pit_pio(struct xkvm_pit *pit, u16 port, bool in, int size,
		 u32 *val);
void xkvm_pit_get_state2(struct xkvm_pit *pit, struct kvm_pit_state2 *s);
void xkvm_pit_set_state2(struct xkvm_pit *pit, const struct kvm_pit_state2 *s);
void xkvm_pit_set_reinject(struct xkvm_pit *pit, bool reinject);

/* ---- the glue (arch/x86/irqchip.c) ---- */

/*
 * Raise or lower GSI @gsi for @source through the routing table; any
 * context that may sleep.  Returns as set_irq above.
 */
int xkvm_irqchip_set_irq(struct xkvm *vm, int source, u32 gsi, int level);
/* The PIC's INT output went high: wake the vCPUs that take ExtINT. */
void xkvm_irqchip_pic_kick(struct xkvm *vm);
/*
 * The guest acknowledged input @pin of @irqchip (KVM_IRQCHIP_*; a slave
 * PIC pin is 0-7): the IOAPIC on the EOI of a level pin's vector, before
 * it clears remote IRR; the PIC when an ISR bit is cleared (EOI, auto-EOI).
 * No device lock held.  Resampling irqfds listen (arch/x86/irqfd.c).
 */
void xkvm_irqchip_ack(struct xkvm *vm, u32 irqchip, u32 pin);

#endif /* XKVM_IRQCHIP_H */
