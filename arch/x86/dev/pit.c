// SPDX-License-Identifier: GPL-2.0
/*
 * pit.c - the in-kernel Intel 8254 PIT (KVM_CREATE_PIT2, KVM_GET/SET_PIT2):
 * ports 0x40-0x43 and, with KVM_PIT_SPEAKER_DUMMY, port 0x61.
 *
 * Counters are not ticked: a channel's count and OUT are computed from the
 * time elapsed since its count was loaded (count_load_time, host ktime ns).
 * Channel 0 drives GSI 0 through a host hrtimer whose callback (hard IRQ)
 * only queues a work item; the work item pulses the line with
 * xkvm_irqchip_set_irq().  This file knows no other device and no vCPU.
 *
 * Reinjection: the policy is stored, but both policies deliver one pulse
 * per period; ticks missed while the host was late are coalesced
 * (hrtimer_forward_now), and a pulse still queued absorbs the next one.
 *
 * Locking: pit->lock (spinlock, never taken in hard-IRQ context) protects
 * the channels, the flags and the timer programming (period, periodic).
 * The hrtimer callback takes no lock: it only reads period/periodic, which
 * are written while the timer is cancelled.  No lock is held while the
 * work item calls the glue.
 */

#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "irqchip.h"

#define PIT_FREQ		1193182u	/* input clock, Hz */
#define PIT_PORT_BASE		0x40
#define PIT_PORT_CTRL		0x43
#define PIT_PORT_SPEAKER	0x61
/*
 * KVM clamps a periodic PIT to its min_timer_period_us (200 us by
 * default): a guest programming a count of 1 (838 ns) must not make the
 * host take an hrtimer interrupt every microsecond.  One-shot modes need a
 * port write for every expiry, so they are not clamped.
 */
#define PIT_MIN_PERIOD_NS	(200 * NSEC_PER_USEC)

/* read_state, write_state and count_latched values, as in KVM's ABI */
#define RW_LSB			1
#define RW_MSB			2
#define RW_WORD0		3	/* LSB then MSB: LSB next */
#define RW_WORD1		4	/* LSB then MSB: MSB next */

#define PIT_MODE_NONE		0xff	/* not programmed since reset */

struct pit_channel {
	u32 count;		/* 1..0x10000 as written (BCD digits if bcd) */
	u16 latched_count;
	u8 count_latched;	/* 0 or RW_LSB/MSB/WORD0 */
	u8 status_latched;
	u8 status;
	u8 read_state;		/* 0 (as LSB) or RW_* */
	u8 write_state;
	u8 write_latch;
	u8 rw_mode;		/* 0 (after reset) or 1..3 */
	u8 mode;		/* 0..5 or PIT_MODE_NONE */
	u8 bcd;
	u8 gate;
	bool null_count;	/* control word written, count not yet */
	ktime_t load_time;	/* count_load_time */
	ktime_t gate_low_time;	/* when the gate fell (counting paused) */
};

struct xkvm_pit {
	struct xkvm *vm;
	u32 config_flags;	/* kvm_pit_config.flags */
	bool reinject;		/* KVM_REINJECT_CONTROL */

	spinlock_t lock;		/* ch, flags, dying, timer programming */
	struct pit_channel ch[3];
	u32 flags;		/* KVM_PIT_FLAGS_* */
	bool dying;

	/* channel 0 -> GSI 0 */
	struct hrtimer timer;
	u64 period_ns;		/* clamped, periodic modes only */
	bool periodic;
	struct work_struct irq_work;
};

static u32 pit_bcd_to_bin(u32 raw)
{
	u32 v = 0, mul = 1;
	int i;

	/* Up to 5 digits (0x10000 is BCD 10000); A-F count as 9. */
	for (i = 0; i < 5; i++, raw >>= 4, mul *= 10)
		v += min(raw & 0xf, 9u) * mul;
	return v;
}

static u16 pit_bin_to_bcd(u32 v)
{
	return (v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 |
	       (v / 1000 % 10) << 12;
}

/* Input clocks per period: 1..0x10000 (binary) or 1..10000 (BCD). */
static u32 pit_ticks_per_period(const struct pit_channel *c)
{
	return c->bcd ? pit_bcd_to_bin(c->count) : c->count;
}

/* Modes where a low gate stops the count (1 and 5: the gate triggers). */
static bool pit_gate_pauses(const struct pit_channel *c)
{
	return c->mode != 1 && c->mode != 5;
}

static bool pit_paused(const struct pit_channel *c)
{
	return !c->gate && pit_gate_pauses(c);
}

/* Input clocks counted since the count was loaded. */
static u64 pit_elapsed(const struct pit_channel *c, ktime_t now)
{
	ktime_t t = pit_paused(c) ? c->gate_low_time : now;

	if (t <= c->load_time)
		return 0;
	return mul_u64_u32_div((u64)t - (u64)c->load_time, PIT_FREQ,
			       NSEC_PER_SEC);
}

/* The counting element, as a read of the counter returns it. */
static u16 pit_get_count(const struct pit_channel *c, ktime_t now)
{
	u32 n = pit_ticks_per_period(c);
	u32 wrap = c->bcd ? 10000 : 0x10000;
	u64 d = pit_elapsed(c, now);
	u32 v;

	switch (c->mode) {
	case 2:
		v = n - do_div(d, n);
		break;
	case 3:		/* decrements by two, twice per period */
		v = n - (2 * do_div(d, n)) % n;
		break;
	default:	/* one-shots wrap around and go on counting */
		v = (n + wrap - do_div(d, wrap)) % wrap;
		break;
	}
	v %= wrap;
	return c->bcd ? pit_bin_to_bcd(v) : v;
}

/* The OUT pin. */
static int pit_get_out(const struct pit_channel *c, ktime_t now)
{
	u32 n = pit_ticks_per_period(c);
	u64 d = pit_elapsed(c, now);

	if (c->null_count)
		return c->mode != 0;
	switch (c->mode) {
	case 1:		/* low from the trigger to terminal count */
	case 0:
	default:
		return d >= n;
	case 2:		/* low for one clock when the count reaches 1 */
		if (!c->gate)
			return 1;
		return n == 1 || do_div(d, n) != n - 1;
	case 3:		/* high for (n + 1) / 2, low for n / 2 */
		if (!c->gate)
			return 1;
		return do_div(d, n) < (n + 1) / 2;
	case 4:		/* low for one clock at terminal count */
	case 5:
		return d != n;
	}
}

/* (Re)arm or stop the GSI 0 timer from channel 0's state.  Lock held. */
static void pit_timer_update(struct xkvm_pit *pit, ktime_t now)
{
	struct pit_channel *c = &pit->ch[0];
	u64 ns, k;
	ktime_t next;

	hrtimer_cancel(&pit->timer);
	if (pit->dying || c->null_count ||
	    (pit->flags & KVM_PIT_FLAGS_HPET_LEGACY))
		return;

	ns = div_u64((u64)pit_ticks_per_period(c) * NSEC_PER_SEC, PIT_FREQ);
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
		next = ktime_add_ns(c->load_time, ns);
		if (next <= now)	/* terminal count already passed */
			return;
		pit->periodic = false;
		break;
	case 2:
	case 3:
		ns = max_t(u64, ns, PIT_MIN_PERIOD_NS);
		/* The first boundary after now, in phase with the load. */
		k = 1;
		if (now > c->load_time)
			k += div64_u64((u64)now - (u64)c->load_time, ns);
		next = (ktime_t)((u64)c->load_time + k * ns);
		pit->period_ns = ns;
		pit->periodic = true;
		break;
	default:	/* mode 5 needs a gate edge; channel 0's gate is tied */
		return;
	}
	hrtimer_start(&pit->timer, next, HRTIMER_MODE_ABS);
}

static enum hrtimer_restart pit_timer_fn(struct hrtimer *timer)
{
	struct xkvm_pit *pit = container_of(timer, struct xkvm_pit, timer);

	/* Hard IRQ: no glue call here.  A pulse already queued absorbs this. */
	queue_work(system_highpri_wq, &pit->irq_work);
	if (!pit->periodic)
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, ns_to_ktime(pit->period_ns));
	return HRTIMER_RESTART;
}

static void pit_irq_work_fn(struct work_struct *work)
{
	struct xkvm_pit *pit = container_of(work, struct xkvm_pit, irq_work);

	xkvm_irqchip_set_irq(pit->vm, XKVM_IRQ_SOURCE_PIT, 0, 1);
	xkvm_irqchip_set_irq(pit->vm, XKVM_IRQ_SOURCE_PIT, 0, 0);
}

static void pit_load_count(struct xkvm_pit *pit, int ch, u32 raw,
			   ktime_t now)
{
	struct pit_channel *c = &pit->ch[ch];

	c->count = raw ? raw : 0x10000;
	c->load_time = now;
	c->gate_low_time = now;		/* nothing elapses while paused */
	c->null_count = false;
	if (ch == 0)
		pit_timer_update(pit, now);
}

/* Channel 2's gate (port 0x61 bit 0); channels 0 and 1 are tied high. */
static void pit_set_gate(struct pit_channel *c, u8 gate, ktime_t now)
{
	if (gate == c->gate)
		return;
	c->gate = gate;
	if (!gate) {
		c->gate_low_time = now;
		return;
	}
	switch (c->mode) {
	case 1:		/* rising edge: (re)trigger */
	case 2:		/* rising edge: reload */
	case 3:
	case 5:
		c->load_time = now;
		break;
	default:	/* resume where the count stopped */
		c->load_time = ktime_add(c->load_time,
					 ktime_sub(now, c->gate_low_time));
		break;
	}
}

static void pit_latch_count(struct pit_channel *c, ktime_t now)
{
	if (c->count_latched)
		return;
	c->latched_count = pit_get_count(c, now);
	c->count_latched = c->rw_mode;
}

static void pit_latch_status(struct pit_channel *c, ktime_t now)
{
	if (c->status_latched)
		return;
	c->status = pit_get_out(c, now) << 7 | c->null_count << 6 |
		    (c->rw_mode & 3) << 4 | (c->mode & 7) << 1 | (c->bcd & 1);
	c->status_latched = 1;
}

static void pit_write_control(struct xkvm_pit *pit, u8 v, ktime_t now)
{
	int ch = v >> 6, i;
	struct pit_channel *c;
	u8 access = (v >> 4) & 3;

	if (ch == 3) {		/* read-back: bits 5/4 low select count/status */
		for (i = 0; i < 3; i++) {
			if (!(v & (2 << i)))
				continue;
			if (!(v & 0x20))
				pit_latch_count(&pit->ch[i], now);
			if (!(v & 0x10))
				pit_latch_status(&pit->ch[i], now);
		}
		return;
	}
	c = &pit->ch[ch];
	if (!access) {
		pit_latch_count(c, now);
		return;
	}
	c->rw_mode = access;
	c->read_state = access;
	c->write_state = access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)	/* x10 and x11 are modes 2 and 3 */
		c->mode -= 4;
	c->bcd = v & 1;
	/* Counting stops until the new count is written. */
	c->null_count = true;
	if (ch == 0)
		pit_timer_update(pit, now);
}

static void pit_write_counter(struct xkvm_pit *pit, int ch, u8 v,
			      ktime_t now)
{
	struct pit_channel *c = &pit->ch[ch];

	switch (c->write_state) {
	case RW_MSB:
		pit_load_count(pit, ch, (u32)v << 8, now);
		break;
	case RW_WORD0:
		c->write_latch = v;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		c->write_state = RW_WORD0;
		pit_load_count(pit, ch, c->write_latch | (u32)v << 8, now);
		break;
	default:
		pit_load_count(pit, ch, v, now);
		break;
	}
}

static u8 pit_read_counter(struct pit_channel *c, ktime_t now)
{
	u16 count;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	switch (c->count_latched) {
	case 0:
		break;
	case RW_MSB:
		c->count_latched = 0;
		return c->latched_count >> 8;
	case RW_WORD0:
		c->count_latched = RW_MSB;
		return c->latched_count & 0xff;
	default:
		c->count_latched = 0;
		return c->latched_count & 0xff;
	}

	count = pit_get_count(c, now);
	switch (c->read_state) {
	case RW_MSB:
		return count >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return count >> 8;
	default:
		return count & 0xff;
	}
}

static u8 pit_speaker_read(struct xkvm_pit *pit, ktime_t now)
{
	struct pit_channel *c = &pit->ch[2];
	/* The DRAM refresh bit toggles about every 15 us: 2^14 ns here. */
	u8 refresh = (ktime_to_ns(now) >> 14) & 1;

	return pit_get_out(c, now) << 5 | refresh << 4 |
	       !!(pit->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON) << 1 | c->gate;
}

static void pit_speaker_write(struct xkvm_pit *pit, u8 v, ktime_t now)
{
	if (v & 2)
		pit->flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	else
		pit->flags &= ~KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	pit_set_gate(&pit->ch[2], v & 1, now);
}

int xkvm_pit_pio(struct xkvm_pit *pit, u16 port, bool in, int size,
		 u32 *val)
{
	bool speaker = false;
	ktime_t now;
	u8 v = 0;

	if (size != 1 && size != 2 && size != 4)
		return -ENOENT;
	if (port == PIT_PORT_SPEAKER &&
	    (pit->config_flags & KVM_PIT_SPEAKER_DUMMY))
		speaker = true;
	else if (port < PIT_PORT_BASE || port + size > PIT_PORT_CTRL + 1)
		return -ENOENT;

	spin_lock(&pit->lock);
	now = ktime_get();
	if (speaker && in)
		v = pit_speaker_read(pit, now);
	else if (speaker)
		pit_speaker_write(pit, *val & 0xff, now);
	else if (in && port != PIT_PORT_CTRL)	/* control: reads as 0 */
		v = pit_read_counter(&pit->ch[port - PIT_PORT_BASE], now);
	else if (!in && port == PIT_PORT_CTRL)
		pit_write_control(pit, *val & 0xff, now);
	else if (!in)
		pit_write_counter(pit, port - PIT_PORT_BASE, *val & 0xff, now);
	spin_unlock(&pit->lock);

	if (in)
		*val = v;
	return 0;
}

void xkvm_pit_get_state2(struct xkvm_pit *pit, struct kvm_pit_state2 *s)
{
	ktime_t now;
	int i;

	memset(s, 0, sizeof(*s));
	spin_lock(&pit->lock);
	now = ktime_get();
	for (i = 0; i < 3; i++) {
		const struct pit_channel *c = &pit->ch[i];
		struct kvm_pit_channel_state *o = &s->channels[i];

		o->count = c->count;
		o->latched_count = c->latched_count;
		o->count_latched = c->count_latched;
		o->status_latched = c->status_latched;
		o->status = c->status;
		o->read_state = c->read_state;
		o->write_state = c->write_state;
		o->write_latch = c->write_latch;
		o->rw_mode = c->rw_mode;
		o->mode = c->mode;
		o->bcd = c->bcd;
		o->gate = c->gate;
		o->count_load_time = c->load_time;
		/* Paused: as if loaded later, so that set_state2 resumes it. */
		if (pit_paused(c) && now > c->gate_low_time)
			o->count_load_time += now - c->gate_low_time;
	}
	s->flags = pit->flags;
	spin_unlock(&pit->lock);
}

static u8 pit_sane_rw(u8 v, u8 max)
{
	return v <= max ? v : RW_LSB;
}

static void pit_set_channel(struct pit_channel *c, int ch,
			    const struct kvm_pit_channel_state *in,
			    ktime_t now)
{
	u32 count = in->count & 0xffff;

	c->count = count ? count : 0x10000;
	c->latched_count = in->latched_count;
	c->count_latched = pit_sane_rw(in->count_latched, RW_WORD0);
	c->status_latched = !!in->status_latched;
	c->status = in->status;
	c->read_state = pit_sane_rw(in->read_state, RW_WORD1);
	c->write_state = pit_sane_rw(in->write_state, RW_WORD1);
	c->write_latch = in->write_latch;
	c->rw_mode = in->rw_mode & 3;
	c->mode = in->mode;
	if (c->mode == 6 || c->mode == 7)
		c->mode -= 4;
	else if (c->mode > 7)
		c->mode = PIT_MODE_NONE;
	c->bcd = in->bcd & 1;
	c->gate = ch == 2 ? in->gate & 1 : 1;
	c->null_count = false;
	/* A load in the future means nothing (and could overflow): now. */
	c->load_time = min_t(ktime_t, in->count_load_time, now);
	c->gate_low_time = now;
}

void xkvm_pit_set_state2(struct xkvm_pit *pit,
			 const struct kvm_pit_state2 *s)
{
	ktime_t now;
	int i;

	spin_lock(&pit->lock);
	now = ktime_get();
	for (i = 0; i < 3; i++)
		pit_set_channel(&pit->ch[i], i, &s->channels[i], now);
	pit->flags = s->flags;	/* kept as given, as KVM keeps them */
	pit_timer_update(pit, now);
	spin_unlock(&pit->lock);
}

void xkvm_pit_set_reinject(struct xkvm_pit *pit, bool reinject)
{
	WRITE_ONCE(pit->reinject, reinject);
}

struct xkvm_pit *xkvm_pit_create(struct xkvm *vm, u32 flags)
{
	struct xkvm_pit *pit;
	ktime_t now;
	int i;

	pit = kzalloc(sizeof(*pit), GFP_KERNEL_ACCOUNT);
	if (!pit)
		return NULL;
	pit->vm = vm;
	pit->config_flags = flags & KVM_PIT_SPEAKER_DUMMY;
	pit->reinject = true;		/* KVM's default */
	spin_lock_init(&pit->lock);
	hrtimer_init(&pit->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	pit->timer.function = pit_timer_fn;
	INIT_WORK(&pit->irq_work, pit_irq_work_fn);

	/* KVM's reset: no mode programmed, count 65536, gate 1, 1, 0. */
	now = ktime_get();
	for (i = 0; i < 3; i++) {
		pit->ch[i].mode = PIT_MODE_NONE;
		pit->ch[i].gate = i != 2;
		pit->ch[i].count = 0x10000;
		pit->ch[i].load_time = now;
		pit->ch[i].gate_low_time = now;
	}
	return pit;
}

void xkvm_pit_destroy(struct xkvm_pit *pit)
{
	if (!pit)
		return;
	spin_lock(&pit->lock);
	pit->dying = true;	/* pit_timer_update() arms nothing from now */
	spin_unlock(&pit->lock);
	hrtimer_cancel(&pit->timer);
	cancel_work_sync(&pit->irq_work);
	kfree(pit);
}
