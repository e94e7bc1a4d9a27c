/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lapic.h - the in-kernel local APIC (lapic.c, lapic_timer.c) as the x86
 * core uses it: event injection (events.c), MSRs (msr.c), CR8 (cr.c),
 * MMIO dispatch and the ioctls (irqchip.c).  Ownership rules are in
 * lapic.c's header.
 */
#ifndef XKVM_LAPIC_H
#define XKVM_LAPIC_H

#include <linux/hrtimer.h>
#include <linux/kvm.h>

struct xkvm_vcpu;

#define XKVM_LAPIC_PAGE_SIZE	PAGE_SIZE
#define XKVM_LAPIC_NR_LVT	6	/* timer, thermal, perf, LINT0/1, error */

struct xkvm_lapic {
	struct xkvm_vcpu *vcpu;
	u8 *regs;			/* the register page, see lapic.c */
	unsigned long pending_events;	/* INIT/SIPI bits: any thread */
	u8 sipi_vector;			/* written before the SIPI bit */
	int eoi_exit_vector;		/* owner; split irqchip, -1 none */

	/*
	 * The timer (lapic_timer.c).  The owner changes these only with the
	 * hrtimer cancelled; the callback reads them while it is armed.
	 */
	struct hrtimer timer;
	u32 timer_mode;			/* APIC_LVT_TIMER_* of the armed timer */
	u64 period_ns;			/* periodic: the period, else 0 */
	ktime_t expires;		/* the current period or one-shot end */
	u64 tsc_deadline;		/* guest TSC; 0 once delivered */
	/*
	 * An expiry that found LVTT masked, delivered when the guest unmasks
	 * it, as on KVM (set by the callback, taken by the owner: xchg).
	 */
	bool timer_pending;
};

u32 xkvm_lapic_reg(struct xkvm_lapic *l, u32 off);
void xkvm_lapic_set_reg(struct xkvm_lapic *l, u32 off, u32 val);
bool xkvm_lapic_x2apic_mode(struct xkvm_vcpu *vcpu);
void xkvm_lapic_set_irr(struct xkvm_vcpu *vcpu, u8 vector, bool level);

/* Injection (owner). */
int xkvm_lapic_pending_vector(struct xkvm_vcpu *vcpu);
int xkvm_lapic_highest_irr(struct xkvm_vcpu *vcpu);
void xkvm_lapic_ack(struct xkvm_vcpu *vcpu, u8 vector);
bool xkvm_lapic_accepts_extint(struct xkvm_vcpu *vcpu);
void xkvm_lapic_accept_events(struct xkvm_vcpu *vcpu);
bool xkvm_lapic_has_init_events(struct xkvm_vcpu *vcpu);
void xkvm_lapic_queue_sipi(struct xkvm_vcpu *vcpu);
int xkvm_lapic_take_eoi_exit(struct xkvm_vcpu *vcpu);

/* Guest accesses (owner). */
bool xkvm_lapic_mmio(struct xkvm_vcpu *vcpu, u64 gpa, bool write, int len,
		     void *data);
bool xkvm_lapic_is_x2apic_msr(u32 index);
int xkvm_lapic_msr_read(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int xkvm_lapic_msr_write(struct xkvm_vcpu *vcpu, u32 index, u64 data);
void xkvm_lapic_set_base(struct xkvm_vcpu *vcpu, u64 value);
u64 xkvm_lapic_get_cr8(struct xkvm_vcpu *vcpu);
void xkvm_lapic_set_cr8(struct xkvm_vcpu *vcpu, u64 cr8);

/* KVM_GET/SET_LAPIC (owner). */
int xkvm_lapic_get_state(struct xkvm_vcpu *vcpu, struct kvm_lapic_state *s);
int xkvm_lapic_set_state(struct xkvm_vcpu *vcpu,
			 const struct kvm_lapic_state *s);

/* The timer (lapic_timer.c; owner). */
void xkvm_lapic_timer_init(struct xkvm_vcpu *vcpu);
void xkvm_lapic_timer_cancel(struct xkvm_vcpu *vcpu);
void xkvm_lapic_timer_restore(struct xkvm_vcpu *vcpu, u32 tmcct);
void xkvm_lapic_timer_write_lvtt(struct xkvm_vcpu *vcpu, u32 val);
void xkvm_lapic_timer_take_pending(struct xkvm_vcpu *vcpu);
void xkvm_lapic_timer_write_tmict(struct xkvm_vcpu *vcpu, u32 val);
u32 xkvm_lapic_timer_current(struct xkvm_vcpu *vcpu);
u64 xkvm_lapic_get_tsc_deadline(struct xkvm_vcpu *vcpu);
void xkvm_lapic_set_tsc_deadline(struct xkvm_vcpu *vcpu, u64 data);

#endif /* XKVM_LAPIC_H */
