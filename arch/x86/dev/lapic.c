// SPDX-License-Identifier: GPL-2.0
/*
 * lapic.c - the in-kernel local APIC of one vCPU: its register page (the
 * layout of KVM_GET/SET_LAPIC), xAPIC MMIO and x2APIC MSR access, the
 * APIC base MSR's mode transitions, priorities (TPR/PPR), EOI, IPIs of
 * every delivery and destination mode, INIT/SIPI, and the interrupt the
 * vCPU should take next.  The timer is in lapic_timer.c.
 *
 * Must not: know about VMX/SVM, or about the IOAPIC's and PIC's insides.
 *
 * Ownership (no lock):
 *   - The vCPU's thread (under xkvm_vcpu.mutex) owns the register page and
 *     every field below, except:
 *   - IRR and TMR bits, set by any thread with atomic bit operations
 *     (IPIs, the IOAPIC, MSIs, the timer's hrtimer), then XKVM_REQ_EVENT
 *     and a kick; the owner clears IRR bits atomically too.
 *   - pending_events (INIT, SIPI) and sipi_vector, set by senders.
 *   - Senders read ID, LDR, DFR, SVR and the APIC base to match
 *     destinations without a lock (READ_ONCE); a guest changing them while
 *     its IPIs fly gets one of the two answers, as on hardware.
 * A vCPU and its LAPIC live as long as the VM, so senders need no
 * reference beyond the VM's.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>

#include <xkvm_x86.h>
#include "irqchip.h"
#include "lapic.h"

#define LAPIC_VERSION		(0x14 | ((XKVM_LAPIC_NR_LVT - 1) << 16))
#define LAPIC_LVT_MASK		(APIC_LVT_MASKED | APIC_SEND_PENDING | \
				 APIC_VECTOR_MASK)
#define LAPIC_LINT_MASK		(LAPIC_LVT_MASK | APIC_MODE_MASK | \
				 APIC_INPUT_POLARITY | APIC_LVT_REMOTE_IRR | \
				 APIC_LVT_LEVEL_TRIGGER)
#define LAPIC_X2APIC_MSR_FIRST	0x800
#define LAPIC_X2APIC_MSR_LAST	0x8ff

enum { LAPIC_EVENT_INIT, LAPIC_EVENT_SIPI };

u32 xkvm_lapic_reg(struct xkvm_lapic *l, u32 off)
{
	return READ_ONCE(*(u32 *)(l->regs + off));
}

void xkvm_lapic_set_reg(struct xkvm_lapic *l, u32 off, u32 val)
{
	WRITE_ONCE(*(u32 *)(l->regs + off), val);
}

/* A 256-bit vector register (ISR, TMR, IRR): 8 words 16 bytes apart. */
static unsigned long *lapic_vec_word(struct xkvm_lapic *l, u32 base, u8 vec)
{
	return (unsigned long *)(l->regs + base + ((vec >> 5) << 4));
}

static int lapic_highest(struct xkvm_lapic *l, u32 base)
{
	int i;
	u32 v;

	for (i = 7; i >= 0; i--) {
		v = xkvm_lapic_reg(l, base + (i << 4));
		if (v)
			return (i << 5) + fls(v) - 1;
	}
	return -1;
}

static bool lapic_hw_enabled(struct xkvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->arch.apic_base) & MSR_IA32_APICBASE_ENABLE;
}

bool xkvm_lapic_x2apic_mode(struct xkvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->arch.apic_base) & X2APIC_ENABLE;
}

static bool lapic_sw_enabled(struct xkvm_lapic *l)
{
	return xkvm_lapic_reg(l, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
}

static bool lapic_enabled(struct xkvm_vcpu *vcpu)
{
	return lapic_hw_enabled(vcpu) && lapic_sw_enabled(vcpu->arch.apic);
}

static u32 lapic_x2apic_ldr(u32 id)
{
	return ((id >> 4) << 16) | (1U << (id & 0xf));
}

static void lapic_update_ppr(struct xkvm_lapic *l)
{
	u32 tpr = xkvm_lapic_reg(l, APIC_TASKPRI);
	int isrv = lapic_highest(l, APIC_ISR);
	u32 isr_class = isrv < 0 ? 0 : isrv & 0xf0;

	xkvm_lapic_set_reg(l, APIC_PROCPRI,
			   (tpr & 0xf0) >= isr_class ? tpr : isr_class);
}

/* ---- accepting an interrupt message (any thread) ---- */

static void lapic_notify(struct xkvm_vcpu *vcpu, unsigned int req)
{
	xkvm_make_request(req, vcpu);
	xkvm_vcpu_kick(vcpu);
}

/* Put @vector in IRR (and TMR for level) and wake the vCPU. */
void xkvm_lapic_set_irr(struct xkvm_vcpu *vcpu, u8 vector, bool level)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	unsigned int bit = vector & 31;

	if (level)
		set_bit(bit, lapic_vec_word(l, APIC_TMR, vector));
	else
		clear_bit(bit, lapic_vec_word(l, APIC_TMR, vector));
	set_bit(bit, lapic_vec_word(l, APIC_IRR, vector));
	lapic_notify(vcpu, XKVM_REQ_EVENT);
}

static int lapic_accept(struct xkvm_vcpu *vcpu, const struct xkvm_apic_irq *irq)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	switch (irq->delivery_mode) {
	case APIC_DM_FIXED >> 8:
	case APIC_DM_LOWEST >> 8:
		if (!lapic_enabled(vcpu))
			return 0;
		xkvm_lapic_set_irr(vcpu, irq->vector, irq->trig_level);
		return 1;
	case APIC_DM_NMI >> 8:
		atomic_inc(&vcpu->arch.nmi_queued);
		lapic_notify(vcpu, XKVM_REQ_NMI);
		return 1;
	case APIC_DM_INIT >> 8:
		/* the de-assert of a level INIT does nothing */
		if (irq->trig_level && !irq->level)
			return 0;
		set_bit(LAPIC_EVENT_INIT, &l->pending_events);
		lapic_notify(vcpu, XKVM_REQ_EVENT);
		return 1;
	case APIC_DM_STARTUP >> 8:
		WRITE_ONCE(l->sipi_vector, irq->vector);
		smp_wmb();	/* the vector before the event */
		set_bit(LAPIC_EVENT_SIPI, &l->pending_events);
		lapic_notify(vcpu, XKVM_REQ_EVENT);
		return 1;
	default:
		/* SMI (no SMM), remote read, ExtINT through a message */
		return 0;
	}
}

/* ---- destinations ---- */

static bool lapic_match_physical(struct xkvm_vcpu *vcpu,
				 const struct xkvm_apic_irq *irq)
{
	struct xkvm *vm = vcpu->vm;
	u32 dest = irq->dest_id;

	if (xkvm_lapic_x2apic_mode(vcpu)) {
		if (dest == 0xffffffff)
			return true;
		if (!irq->x2apic_format && dest == 0xff &&
		    !READ_ONCE(vm->arch.x2apic_broadcast_quirk_disabled))
			return true;
		return dest == vcpu->vcpu_id;
	}
	if (dest == 0xffffffff || (!irq->x2apic_format && dest == 0xff))
		return true;
	return dest == xkvm_lapic_reg(vcpu->arch.apic, APIC_ID) >> 24;
}

static bool lapic_match_logical(struct xkvm_vcpu *vcpu,
				const struct xkvm_apic_irq *irq)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 dest = irq->dest_id, ldr = xkvm_lapic_reg(l, APIC_LDR);

	if (xkvm_lapic_x2apic_mode(vcpu)) {
		if (!irq->x2apic_format && dest == 0xff)
			dest = 0xffffffff;
		if (dest == 0xffffffff)
			return true;
		return (ldr >> 16) == (dest >> 16) && (ldr & dest & 0xffff);
	}
	if (irq->x2apic_format && dest == 0xffffffff)
		return true;
	dest &= 0xff;
	if (dest == 0xff)
		return true;
	ldr >>= 24;
	if ((xkvm_lapic_reg(l, APIC_DFR) >> 28) == 0xf)	/* flat */
		return ldr & dest;
	return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf);	/* cluster */
}

static bool lapic_match(struct xkvm_vcpu *vcpu, struct xkvm_vcpu *src,
			const struct xkvm_apic_irq *irq)
{
	if (!vcpu->arch.apic || !lapic_hw_enabled(vcpu))
		return false;
	switch (irq->shorthand) {
	case APIC_DEST_SELF >> 18:
		return vcpu == src;
	case APIC_DEST_ALLINC >> 18:
		return true;
	case APIC_DEST_ALLBUT >> 18:
		return vcpu != src;
	}
	return irq->dest_logical ? lapic_match_logical(vcpu, irq) :
				   lapic_match_physical(vcpu, irq);
}

/*
 * What a delivery that reached nobody returns, as on KVM: 0 for a message
 * naming its destinations (one ID or a logical set), -1 for a broadcast
 * or a shorthand that found no one.
 */
static bool lapic_targets_listed(const struct xkvm_apic_irq *irq)
{
	if (irq->shorthand)
		return false;
	if (irq->dest_id == 0xffffffff)
		return false;
	return irq->x2apic_format || irq->dest_id != 0xff;
}

int xkvm_lapic_deliver(struct xkvm *vm, struct xkvm_vcpu *src,
		       const struct xkvm_apic_irq *irq)
{
	struct xkvm_vcpu *vcpu, *lowest = NULL;
	unsigned long i;
	int r = lapic_targets_listed(irq) ? 0 : -1;

	xkvm_for_each_vcpu(i, vcpu, vm) {
		if (!lapic_match(vcpu, src, irq))
			continue;
		if (irq->delivery_mode == APIC_DM_LOWEST >> 8) {
			/* arbitration: the lowest processor priority wins */
			if (!lowest ||
			    xkvm_lapic_reg(vcpu->arch.apic, APIC_PROCPRI) <
			    xkvm_lapic_reg(lowest->arch.apic, APIC_PROCPRI))
				lowest = vcpu;
			continue;
		}
		r = max(r, 0) + lapic_accept(vcpu, irq);
	}
	if (lowest)
		r = lapic_accept(lowest, irq);
	return r;
}

/*
 * An MSI: address bits 19:12 the destination (bits 11:5 extend it, as
 * KVM's extended destination ID), bit 2 logical; data bits 7:0 vector,
 * 10:8 delivery mode, 14 level, 15 trigger.  With 32-bit x2APIC IDs
 * enabled (KVM_CAP_X2APIC_API), address_hi carries bits 31:8.
 */
int xkvm_lapic_deliver_msi(struct xkvm *vm, u32 addr_lo, u32 addr_hi,
			   u32 data)
{
	struct xkvm_apic_irq irq = {
		.dest_id = ((addr_lo >> 12) & 0xff) | (((addr_lo >> 5) & 0x7f) << 8),
		.vector = data & 0xff,
		.delivery_mode = (data >> 8) & 7,
		.dest_logical = addr_lo & BIT(2),
		.level = data & BIT(14),
		.trig_level = data & BIT(15),
	};

	if (READ_ONCE(vm->arch.x2apic_format))
		irq.dest_id |= addr_hi & 0xffffff00;
	irq.x2apic_format = irq.dest_id > 0xff;
	return xkvm_lapic_deliver(vm, NULL, &irq);
}

/* ICR written: send the IPI it describes. */
static void lapic_send_ipi(struct xkvm_vcpu *vcpu, u32 lo, u32 dest)
{
	struct xkvm_apic_irq irq = {
		.dest_id = dest,
		.vector = lo & APIC_VECTOR_MASK,
		.delivery_mode = (lo >> 8) & 7,
		.dest_logical = lo & APIC_DEST_LOGICAL,
		.level = lo & APIC_INT_ASSERT,
		.trig_level = lo & APIC_INT_LEVELTRIG,
		.shorthand = (lo >> 18) & 3,
		.x2apic_format = xkvm_lapic_x2apic_mode(vcpu),
	};

	xkvm_lapic_deliver(vcpu->vm, vcpu, &irq);
}

/* ---- the interrupt to take next (owner) ---- */

/* The highest vector in IRR, or -1 (none, or no in-kernel LAPIC on). */
int xkvm_lapic_highest_irr(struct xkvm_vcpu *vcpu)
{
	if (!vcpu->arch.apic || !lapic_hw_enabled(vcpu))
		return -1;
	return lapic_highest(vcpu->arch.apic, APIC_IRR);
}

/* The highest IRR vector above the processor priority, or -1. */
int xkvm_lapic_pending_vector(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	int irr;

	if (!l || !lapic_hw_enabled(vcpu))
		return -1;
	irr = lapic_highest(l, APIC_IRR);
	if (irr < 0)
		return -1;
	lapic_update_ppr(l);
	if ((irr & 0xf0) <= (xkvm_lapic_reg(l, APIC_PROCPRI) & 0xf0))
		return -1;
	return irr;
}

/* The vCPU is delivering @vector: it moves from IRR to ISR. */
void xkvm_lapic_ack(struct xkvm_vcpu *vcpu, u8 vector)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	clear_bit(vector & 31, lapic_vec_word(l, APIC_IRR, vector));
	set_bit(vector & 31, lapic_vec_word(l, APIC_ISR, vector));
	lapic_update_ppr(l);
}

/* Does the PIC's INTR reach this vCPU (LINT0 as ExtINT, or APIC off)? */
bool xkvm_lapic_accepts_extint(struct xkvm_vcpu *vcpu)
{
	u32 lvt0;

	if (!vcpu->arch.apic || !lapic_hw_enabled(vcpu))
		return true;
	lvt0 = xkvm_lapic_reg(vcpu->arch.apic, APIC_LVT0);
	return !(lvt0 & APIC_LVT_MASKED) &&
	       GET_APIC_DELIVERY_MODE(lvt0) == APIC_MODE_EXTINT;
}

static void lapic_eoi(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	int vec = lapic_highest(l, APIC_ISR);
	struct xkvm_ioapic *ioapic;

	if (vec < 0)
		return;
	clear_bit(vec & 31, lapic_vec_word(l, APIC_ISR, vec));
	lapic_update_ppr(l);
	if (!(xkvm_lapic_reg(l, APIC_TMR + ((vec >> 5) << 4)) & BIT(vec & 31)))
		return;
	ioapic = vcpu->vm->arch.ioapic;
	if (ioapic)
		xkvm_ioapic_eoi(ioapic, vec);
	else if (vcpu->vm->arch.irqchip_mode == XKVM_IRQCHIP_SPLIT)
		l->eoi_exit_vector = vec;	/* KVM_EXIT_IOAPIC_EOI */
}

/* ---- register access (owner) ---- */

static bool lapic_reg_readable(struct xkvm_vcpu *vcpu, u32 off)
{
	bool x2 = xkvm_lapic_x2apic_mode(vcpu);

	if (off >= APIC_ISR && off < APIC_IRR + 0x80)
		return true;
	switch (off) {
	case APIC_ID: case APIC_LVR: case APIC_TASKPRI: case APIC_PROCPRI:
	case APIC_LDR: case APIC_SPIV: case APIC_ESR: case APIC_ICR:
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0:
	case APIC_LVT1: case APIC_LVTERR: case APIC_TMICT: case APIC_TMCCT:
	case APIC_TDCR:
		return true;
	case APIC_ARBPRI: case APIC_DFR: case APIC_ICR2:
		return !x2;
	default:
		return false;
	}
}

/* 0, or 1 if the register cannot be read (#GP for x2APIC MSRs). */
static int lapic_reg_read(struct xkvm_vcpu *vcpu, u32 off, u32 *val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (!lapic_reg_readable(vcpu, off))
		return 1;
	switch (off) {
	case APIC_TMCCT:
		*val = xkvm_lapic_timer_current(vcpu);
		break;
	case APIC_PROCPRI:
		lapic_update_ppr(l);
		fallthrough;
	default:
		*val = xkvm_lapic_reg(l, off);
	}
	return 0;
}

static void lapic_set_svr(struct xkvm_vcpu *vcpu, u32 val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 off;

	xkvm_lapic_set_reg(l, APIC_SPIV, val & 0x3ff);
	if (val & APIC_SPIV_APIC_ENABLED)
		return;
	/* software-disabled: every LVT is masked */
	for (off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		xkvm_lapic_set_reg(l, off,
				   xkvm_lapic_reg(l, off) | APIC_LVT_MASKED);
}

static u32 lapic_lvt_mask(u32 off)
{
	switch (off) {
	case APIC_LVTTHMR: case APIC_LVTPC:
		return LAPIC_LVT_MASK | APIC_MODE_MASK;
	case APIC_LVT0: case APIC_LVT1:
		return LAPIC_LINT_MASK;
	default:	/* APIC_LVTERR */
		return LAPIC_LVT_MASK;
	}
}

static int lapic_write_lvt(struct xkvm_vcpu *vcpu, u32 off, u32 val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (!lapic_sw_enabled(l))
		val |= APIC_LVT_MASKED;
	if (off == APIC_LVTT)
		xkvm_lapic_timer_write_lvtt(vcpu, val);
	else
		xkvm_lapic_set_reg(l, off, val & lapic_lvt_mask(off));
	return 0;
}

/* 0, or 1 if the write is refused (#GP for x2APIC MSRs). */
static int lapic_reg_write(struct xkvm_vcpu *vcpu, u32 off, u32 val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	bool x2 = xkvm_lapic_x2apic_mode(vcpu);

	switch (off) {
	case APIC_ID:
		if (x2)
			return 1;
		xkvm_lapic_set_reg(l, APIC_ID, val & 0xff000000);
		return 0;
	case APIC_TASKPRI:
		xkvm_lapic_set_reg(l, APIC_TASKPRI, val & 0xff);
		lapic_update_ppr(l);
		return 0;
	case APIC_EOI:
		lapic_eoi(vcpu);
		return 0;
	case APIC_LDR:
		if (x2)
			return 1;
		xkvm_lapic_set_reg(l, APIC_LDR, val & APIC_LDR_MASK);
		return 0;
	case APIC_DFR:
		if (x2)
			return 1;
		xkvm_lapic_set_reg(l, APIC_DFR, val | 0x0fffffff);
		return 0;
	case APIC_SPIV:
		lapic_set_svr(vcpu, val);
		return 0;
	case APIC_ESR:
		if (x2 && val)
			return 1;
		xkvm_lapic_set_reg(l, APIC_ESR, 0);
		return 0;
	case APIC_ICR:
		if (x2)
			return 1;	/* one 64-bit MSR in x2APIC mode */
		val &= ~APIC_ICR_BUSY;
		xkvm_lapic_set_reg(l, APIC_ICR, val);
		lapic_send_ipi(vcpu, val, xkvm_lapic_reg(l, APIC_ICR2) >> 24);
		return 0;
	case APIC_ICR2:
		if (x2)
			return 1;
		xkvm_lapic_set_reg(l, APIC_ICR2, val & 0xff000000);
		return 0;
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC:
	case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR:
		return lapic_write_lvt(vcpu, off, val);
	case APIC_TMICT:
		xkvm_lapic_timer_write_tmict(vcpu, val);
		return 0;
	case APIC_TDCR:
		xkvm_lapic_set_reg(l, APIC_TDCR, val & 0xb);
		return 0;
	case APIC_SELF_IPI:
		if (!x2)
			return 1;
		xkvm_lapic_set_irr(vcpu, val & 0xff, false);
		return 0;
	default:
		return 1;	/* read-only or reserved */
	}
}

/*
 * A guest access to the xAPIC page.  Reads of a register return its
 * bytes, anything else reads as 0; writes must be 4 aligned bytes at a
 * register, others are dropped, as on KVM.
 */
static void lapic_mmio(struct xkvm_vcpu *vcpu, u32 off, bool write, int len,
		       void *data)
{
	u32 reg = off & 0xff0, val = 0;

	if (write) {
		if (len == 4 && !(off & 0xf))
			lapic_reg_write(vcpu, reg, *(u32 *)data);
		return;
	}
	if ((off & 0xf) + len <= 4 && !lapic_reg_read(vcpu, reg, &val))
		val >>= (off & 3) * 8;
	else
		val = 0;
	memcpy(data, &val, len);
}

/* MMIO at @gpa: handled if it is this vCPU's xAPIC page. */
bool xkvm_lapic_mmio(struct xkvm_vcpu *vcpu, u64 gpa, bool write, int len,
		     void *data)
{
	u64 base = vcpu->arch.apic_base;

	if (!vcpu->arch.apic || (gpa & PAGE_MASK) != (base & PAGE_MASK))
		return false;
	/* APIC off or in x2APIC mode: the page reads all ones, as on KVM */
	if (!(base & MSR_IA32_APICBASE_ENABLE) || (base & X2APIC_ENABLE)) {
		if (!write)
			memset(data, 0xff, len);
		return true;
	}
	if (len > 4 || (gpa & 3) + len > 4) {
		if (!write)
			memset(data, 0, len);
		return true;
	}
	lapic_mmio(vcpu, offset_in_page(gpa), write, len, data);
	return true;
}

bool xkvm_lapic_is_x2apic_msr(u32 index)
{
	return index >= LAPIC_X2APIC_MSR_FIRST && index <= LAPIC_X2APIC_MSR_LAST;
}

/* x2APIC MSRs: 0 done, non-zero #GP (not x2APIC mode, bad register). */
int xkvm_lapic_msr_read(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 off = (index - LAPIC_X2APIC_MSR_FIRST) << 4, val;

	if (!l || !xkvm_lapic_x2apic_mode(vcpu))
		return 1;
	if (off == APIC_ICR) {
		*data = xkvm_lapic_reg(l, APIC_ICR) |
			(u64)xkvm_lapic_reg(l, APIC_ICR2) << 32;
		return 0;
	}
	if (lapic_reg_read(vcpu, off, &val))
		return 1;
	*data = val;
	return 0;
}

int xkvm_lapic_msr_write(struct xkvm_vcpu *vcpu, u32 index, u64 data)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 off = (index - LAPIC_X2APIC_MSR_FIRST) << 4;

	if (!l || !xkvm_lapic_x2apic_mode(vcpu))
		return 1;
	if (off == APIC_ICR) {
		data &= ~(u64)APIC_ICR_BUSY;
		xkvm_lapic_set_reg(l, APIC_ICR, (u32)data);
		xkvm_lapic_set_reg(l, APIC_ICR2, data >> 32);
		lapic_send_ipi(vcpu, (u32)data, data >> 32);
		return 0;
	}
	/* bits 63:32 are reserved in every other register */
	if (data >> 32)
		return 1;
	return lapic_reg_write(vcpu, off, (u32)data);
}

/* CR8 is TPR[7:4]. */
u64 xkvm_lapic_get_cr8(struct xkvm_vcpu *vcpu)
{
	return xkvm_lapic_reg(vcpu->arch.apic, APIC_TASKPRI) >> 4;
}

void xkvm_lapic_set_cr8(struct xkvm_vcpu *vcpu, u64 cr8)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	xkvm_lapic_set_reg(l, APIC_TASKPRI, (cr8 & 0xf) << 4);
	lapic_update_ppr(l);
}

/* ---- APIC base MSR, reset, INIT/SIPI (owner) ---- */

/*
 * A new APIC base (validated by the caller).  Enabling the APIC gives it
 * its xAPIC ID back; entering x2APIC mode makes the ID the vCPU's x2APIC
 * ID and derives the LDR from it.
 */
void xkvm_lapic_set_base(struct xkvm_vcpu *vcpu, u64 value)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u64 old = vcpu->arch.apic_base;

	WRITE_ONCE(vcpu->arch.apic_base, value);
	if (!l)
		return;
	if ((old ^ value) & MSR_IA32_APICBASE_ENABLE &&
	    (value & MSR_IA32_APICBASE_ENABLE))
		xkvm_lapic_set_reg(l, APIC_ID, vcpu->vcpu_id << 24);
	if ((old ^ value) & X2APIC_ENABLE && (value & X2APIC_ENABLE)) {
		xkvm_lapic_set_reg(l, APIC_ID, vcpu->vcpu_id);
		xkvm_lapic_set_reg(l, APIC_LDR, lapic_x2apic_ldr(vcpu->vcpu_id));
	}
	lapic_notify(vcpu, XKVM_REQ_EVENT);
}

/* KVM's reset values; @init: an INIT keeps the APIC ID and base. */
static void lapic_reset(struct xkvm_vcpu *vcpu, bool init)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 id = xkvm_lapic_reg(l, APIC_ID), off;

	xkvm_lapic_timer_cancel(vcpu);
	memset(l->regs, 0, XKVM_LAPIC_PAGE_SIZE);
	if (!init)
		id = vcpu->vcpu_id << 24;
	xkvm_lapic_set_reg(l, APIC_ID, id);
	xkvm_lapic_set_reg(l, APIC_LVR, LAPIC_VERSION);
	for (off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		xkvm_lapic_set_reg(l, off, APIC_LVT_MASKED);
	/* KVM's LINT0_REENABLED quirk: the BSP takes the PIC's ExtINT */
	if (vcpu->vcpu_id == vcpu->vm->arch.bsp_vcpu_id)
		xkvm_lapic_set_reg(l, APIC_LVT0,
				   SET_APIC_DELIVERY_MODE(0, APIC_MODE_EXTINT));
	xkvm_lapic_set_reg(l, APIC_DFR, 0xffffffff);
	xkvm_lapic_set_reg(l, APIC_SPIV, 0xff);
	if (xkvm_lapic_x2apic_mode(vcpu)) {
		xkvm_lapic_set_reg(l, APIC_ID, vcpu->vcpu_id);
		xkvm_lapic_set_reg(l, APIC_LDR, lapic_x2apic_ldr(vcpu->vcpu_id));
	}
	l->tsc_deadline = 0;
	l->eoi_exit_vector = -1;
	clear_bit(LAPIC_EVENT_INIT, &l->pending_events);
}

/* Start an AP at the SIPI vector: CS = vector << 8, IP = 0. */
static void lapic_deliver_sipi(struct xkvm_vcpu *vcpu, u8 vector)
{
	struct kvm_segment *cs = &vcpu->arch.state.segs[XKVM_SEG_CS];

	xkvm_x86_state_need(vcpu, XKVM_STATE_SEGS);
	cs->selector = vector << 8;
	cs->base = (u64)vector << 12;
	vcpu->arch.rip = 0;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_SEGS);
}

/*
 * Take a pending INIT (the vCPU resets; an AP then waits for a SIPI) and
 * SIPI (an AP waiting for one starts), in that order.
 */
void xkvm_lapic_accept_events(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u64 base;

	if (!l || !READ_ONCE(l->pending_events))
		return;
	if (test_and_clear_bit(LAPIC_EVENT_INIT, &l->pending_events)) {
		base = vcpu->arch.apic_base;
		xkvm_x86_reset_regs(vcpu);
		vcpu->arch.apic_base = base;
		xkvm_x86_debugreg_reset(vcpu);
		xkvm_x86_ops->set_interrupt_shadow(vcpu, 0);
		lapic_reset(vcpu, true);
		vcpu->arch.mp_state = vcpu->vcpu_id == vcpu->vm->arch.bsp_vcpu_id ?
				      KVM_MP_STATE_RUNNABLE :
				      KVM_MP_STATE_INIT_RECEIVED;
	}
	if (test_and_clear_bit(LAPIC_EVENT_SIPI, &l->pending_events)) {
		smp_rmb();	/* the vector was written before the event */
		if (vcpu->arch.mp_state == KVM_MP_STATE_INIT_RECEIVED) {
			lapic_deliver_sipi(vcpu, READ_ONCE(l->sipi_vector));
			vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
		}
	}
}

bool xkvm_lapic_has_init_events(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.apic && READ_ONCE(vcpu->arch.apic->pending_events);
}

/* KVM_SET_MP_STATE(SIPI_RECEIVED): an INIT was taken and a SIPI waits. */
void xkvm_lapic_queue_sipi(struct xkvm_vcpu *vcpu)
{
	set_bit(LAPIC_EVENT_SIPI, &vcpu->arch.apic->pending_events);
}

/* ---- KVM_GET/SET_LAPIC (owner) ---- */

/*
 * The register page as userspace sees it.  In x2APIC mode KVM reports the
 * ID in xAPIC format (bits 31:24) unless 32-bit IDs were enabled with
 * KVM_CAP_X2APIC_API, and the current count of the timer.
 */
int xkvm_lapic_get_state(struct xkvm_vcpu *vcpu, struct kvm_lapic_state *s)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 *id = (u32 *)(s->regs + APIC_ID);

	memcpy(s->regs, l->regs, sizeof(s->regs));
	lapic_update_ppr(l);
	*(u32 *)(s->regs + APIC_PROCPRI) = xkvm_lapic_reg(l, APIC_PROCPRI);
	*(u32 *)(s->regs + APIC_TMCCT) = xkvm_lapic_timer_current(vcpu);
	if (xkvm_lapic_x2apic_mode(vcpu) && !vcpu->vm->arch.x2apic_format)
		*id <<= 24;
	return 0;
}

int xkvm_lapic_set_state(struct xkvm_vcpu *vcpu,
			 const struct kvm_lapic_state *s)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 id = *(const u32 *)(s->regs + APIC_ID), tmcct;
	bool x2 = xkvm_lapic_x2apic_mode(vcpu);

	if (x2) {
		if (vcpu->vm->arch.x2apic_format) {
			if (id != vcpu->vcpu_id)
				return -EINVAL;
		} else {
			id >>= 24;
		}
	}
	xkvm_lapic_timer_cancel(vcpu);
	memcpy(l->regs, s->regs, sizeof(s->regs));
	tmcct = xkvm_lapic_reg(l, APIC_TMCCT);
	xkvm_lapic_set_reg(l, APIC_TMCCT, 0);	/* computed on reads */
	xkvm_lapic_set_reg(l, APIC_ID, id);
	if (x2)
		xkvm_lapic_set_reg(l, APIC_LDR, lapic_x2apic_ldr(id));
	xkvm_lapic_set_reg(l, APIC_LVR, LAPIC_VERSION);
	xkvm_lapic_set_reg(l, APIC_SPIV,
			   xkvm_lapic_reg(l, APIC_SPIV) & 0x3ff);
	xkvm_lapic_set_reg(l, APIC_ICR,
			   xkvm_lapic_reg(l, APIC_ICR) & ~APIC_ICR_BUSY);
	xkvm_lapic_set_reg(l, APIC_TDCR, xkvm_lapic_reg(l, APIC_TDCR) & 0xb);
	lapic_update_ppr(l);
	l->eoi_exit_vector = -1;
	xkvm_lapic_timer_restore(vcpu, tmcct);
	xkvm_make_request(XKVM_REQ_EVENT, vcpu);
	return 0;
}

/* Split irqchip: a level-triggered EOI for userspace's IOAPIC, or -1. */
int xkvm_lapic_take_eoi_exit(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	int vec;

	if (!l || l->eoi_exit_vector < 0)
		return -1;
	vec = l->eoi_exit_vector;
	l->eoi_exit_vector = -1;
	return vec;
}

int xkvm_lapic_create(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l;

	l = kzalloc(sizeof(*l), GFP_KERNEL_ACCOUNT);
	if (!l)
		return -ENOMEM;
	l->regs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!l->regs) {
		kfree(l);
		return -ENOMEM;
	}
	l->vcpu = vcpu;
	vcpu->arch.apic = l;
	xkvm_lapic_timer_init(vcpu);
	lapic_reset(vcpu, false);
	return 0;
}

void xkvm_lapic_destroy(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (!l)
		return;
	xkvm_lapic_timer_cancel(vcpu);
	free_page((unsigned long)l->regs);
	kfree(l);
	vcpu->arch.apic = NULL;
}
