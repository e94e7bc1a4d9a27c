// SPDX-License-Identifier: GPL-2.0
/*
 * lapic_timer.c - the local APIC timer on a host hrtimer: one-shot and
 * periodic (TMICT counted down at the APIC bus clock, 1 GHz as on KVM,
 * divided by TDCR) and TSC-deadline (IA32_TSC_DEADLINE in guest TSC).
 *
 * The vCPU's thread owns the timer fields of struct xkvm_lapic and
 * changes them only with the hrtimer cancelled.  The hrtimer callback
 * runs in hard-IRQ context: it only sets the LVT timer's vector in IRR
 * (atomic) and kicks the vCPU, re-arming itself for a periodic timer; an
 * expiry that finds LVTT masked is kept (timer_pending) and delivered
 * when LVTT is unmasked, as KVM does.
 * A periodic timer never fires more often than every 200 us (KVM's
 * min_timer_period_us), so a guest cannot flood the host with it; a
 * periodic timer that fell behind skips the missed periods.
 */
#include <linux/math64.h>
#include <asm/apicdef.h>
#include <asm/tsc.h>

#include <xkvm_x86.h>
#include "lapic.h"

#define LAPIC_BUS_NS		1		/* ns per APIC bus cycle */
#define LAPIC_TIMER_MODE_MASK	(3 << 17)	/* LVTT bits 18:17 */
#define LAPIC_MIN_PERIOD_NS	(200 * NSEC_PER_USEC)

static u32 timer_mode(struct xkvm_lapic *l)
{
	return xkvm_lapic_reg(l, APIC_LVTT) & LAPIC_TIMER_MODE_MASK;
}

/* TDCR bits 3,1:0: 0b000 -> /2 ... 0b110 -> /128, 0b111 -> /1 */
static u32 timer_divide(struct xkvm_lapic *l)
{
	u32 v = xkvm_lapic_reg(l, APIC_TDCR);

	return 1U << ((((v & 3) | ((v & 8) >> 1)) + 1) & 7);
}

/*
 * The timer expired: its vector goes to IRR, or, with LVTT masked, the
 * expiry waits for the unmask (a TSC deadline stays readable till then).
 */
static void timer_fire(struct xkvm_lapic *l)
{
	u32 lvtt = xkvm_lapic_reg(l, APIC_LVTT);

	if (lvtt & APIC_LVT_MASKED) {
		WRITE_ONCE(l->timer_pending, true);
		return;
	}
	if (l->timer_mode == APIC_LVT_TIMER_TSCDEADLINE)
		WRITE_ONCE(l->tsc_deadline, 0);
	xkvm_lapic_set_irr(l->vcpu, lvtt & APIC_VECTOR_MASK, false);
}

static enum hrtimer_restart timer_expired(struct hrtimer *t)
{
	struct xkvm_lapic *l = container_of(t, struct xkvm_lapic, timer);

	timer_fire(l);
	if (l->timer_mode == APIC_LVT_TIMER_PERIODIC && l->period_ns) {
		hrtimer_forward_now(t, ns_to_ktime(l->period_ns));
		WRITE_ONCE(l->expires, hrtimer_get_expires(t));
		return HRTIMER_RESTART;
	}
	return HRTIMER_NORESTART;
}

/* LVTT was unmasked: deliver an expiry it held back, once. */
void xkvm_lapic_timer_take_pending(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (READ_ONCE(l->timer_pending) && xchg(&l->timer_pending, false))
		timer_fire(l);
}

void xkvm_lapic_timer_init(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	hrtimer_init(&l->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	l->timer.function = timer_expired;
}

void xkvm_lapic_timer_cancel(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	hrtimer_cancel(&l->timer);
	l->period_ns = 0;
}

static u64 guest_tsc(struct xkvm_vcpu *vcpu)
{
	return rdtsc() + vcpu->arch.msrs.tsc_offset;
}

static void timer_start_deadline(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u64 now = guest_tsc(vcpu), ns;

	if (!l->tsc_deadline)
		return;
	if (l->tsc_deadline <= now || !tsc_khz) {
		timer_fire(l);
		return;
	}
	ns = mul_u64_u32_div(l->tsc_deadline - now, NSEC_PER_MSEC, tsc_khz);
	l->expires = ktime_add_ns(ktime_get(), ns);
	hrtimer_start(&l->timer, l->expires, HRTIMER_MODE_ABS_HARD);
}

/*
 * (Re)arm from the registers; the timer is cancelled.  @count >= 0: the
 * first period is what is left of it, @count bus cycles (KVM_SET_LAPIC's
 * TMCCT), as KVM restores it: 0 means at once for a one-shot timer, a
 * whole period for a periodic one; more than TMICT, a whole period.
 */
static void timer_start_at(struct xkvm_vcpu *vcpu, s64 count)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u64 tmict = xkvm_lapic_reg(l, APIC_TMICT), ns, first;

	l->timer_pending = false;
	l->timer_mode = timer_mode(l);
	if (l->timer_mode == APIC_LVT_TIMER_TSCDEADLINE) {
		timer_start_deadline(vcpu);
		return;
	}
	if (!tmict)
		return;
	ns = tmict * timer_divide(l) * LAPIC_BUS_NS;
	if (l->timer_mode == APIC_LVT_TIMER_PERIODIC) {
		ns = max_t(u64, ns, LAPIC_MIN_PERIOD_NS);
		l->period_ns = ns;
	}
	first = ns;
	if (count > 0 && (u64)count * timer_divide(l) * LAPIC_BUS_NS < ns)
		first = (u64)count * timer_divide(l) * LAPIC_BUS_NS;
	else if (!count && l->timer_mode != APIC_LVT_TIMER_PERIODIC)
		first = 0;
	if (!first) {
		timer_fire(l);
		return;
	}
	l->expires = ktime_add_ns(ktime_get(), first);
	hrtimer_start(&l->timer, l->expires, HRTIMER_MODE_ABS_HARD);
}

static void timer_start(struct xkvm_vcpu *vcpu)
{
	timer_start_at(vcpu, -1);
}

/* KVM_SET_LAPIC: the timer goes on from the state's current count. */
void xkvm_lapic_timer_restore(struct xkvm_vcpu *vcpu, u32 tmcct)
{
	xkvm_lapic_timer_cancel(vcpu);
	timer_start_at(vcpu, tmcct);
}

/*
 * LVTT written (already masked if the APIC is software-disabled).  The
 * TSC-deadline mode exists only if the guest's CPUID offers it; changing
 * the mode stops the timer, and leaving or entering TSC-deadline mode
 * clears TMICT, as on KVM.
 */
void xkvm_lapic_timer_write_lvtt(struct xkvm_vcpu *vcpu, u32 val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	u32 a, b, c, d, mode_mask = APIC_LVT_TIMER_PERIODIC, old = timer_mode(l);

	xkvm_x86_guest_cpuid(vcpu, 1, 0, &a, &b, &c, &d);
	if (c & BIT(24))	/* TSC_DEADLINE */
		mode_mask |= APIC_LVT_TIMER_TSCDEADLINE;
	val &= APIC_LVT_MASKED | APIC_VECTOR_MASK | APIC_SEND_PENDING | mode_mask;
	xkvm_lapic_set_reg(l, APIC_LVTT, val);
	if (timer_mode(l) == old) {
		if (!(val & APIC_LVT_MASKED))
			xkvm_lapic_timer_take_pending(vcpu);
		return;
	}
	if ((old == APIC_LVT_TIMER_TSCDEADLINE) !=
	    (timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE))
		xkvm_lapic_set_reg(l, APIC_TMICT, 0);
	xkvm_lapic_timer_cancel(vcpu);
	l->tsc_deadline = 0;
	l->timer_mode = timer_mode(l);
}

void xkvm_lapic_timer_write_tmict(struct xkvm_vcpu *vcpu, u32 val)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE)
		return;		/* ignored in TSC-deadline mode */
	xkvm_lapic_timer_cancel(vcpu);
	xkvm_lapic_set_reg(l, APIC_TMICT, val);
	timer_start(vcpu);
}

/* TMCCT: what is left of the current period in bus cycles, 0 if none. */
u32 xkvm_lapic_timer_current(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;
	s64 left;

	if (timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE ||
	    !xkvm_lapic_reg(l, APIC_TMICT) || !hrtimer_active(&l->timer))
		return 0;
	left = ktime_to_ns(ktime_sub(READ_ONCE(l->expires), ktime_get()));
	if (left <= 0)
		return 0;
	left = div_u64(left, timer_divide(l) * LAPIC_BUS_NS);
	return min_t(u64, left, xkvm_lapic_reg(l, APIC_TMICT));
}

/* IA32_TSC_DEADLINE: reads 0 outside TSC-deadline mode, as on KVM. */
u64 xkvm_lapic_get_tsc_deadline(struct xkvm_vcpu *vcpu)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (!l || !(vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE) ||
	    timer_mode(l) != APIC_LVT_TIMER_TSCDEADLINE)
		return 0;
	return READ_ONCE(l->tsc_deadline);
}

/* A write outside TSC-deadline mode is dropped; 0 disarms. */
void xkvm_lapic_set_tsc_deadline(struct xkvm_vcpu *vcpu, u64 data)
{
	struct xkvm_lapic *l = vcpu->arch.apic;

	if (!l || !(vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE) ||
	    timer_mode(l) != APIC_LVT_TIMER_TSCDEADLINE)
		return;
	xkvm_lapic_timer_cancel(vcpu);
	l->tsc_deadline = data;
	timer_start(vcpu);
}
