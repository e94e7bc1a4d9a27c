// SPDX-License-Identifier: GPL-2.0
/*
 * kvmclock.c - the paravirtual clock (KVM's kvmclock ABI, <asm/kvm_para.h>
 * and <asm/pvclock-abi.h>) and the guest's TSC rate: the system-time and
 * wall-clock MSRs, the per-vCPU pvclock page, KVM_GET/SET_CLOCK,
 * KVM_KVMCLOCK_CTRL, KVM_SET/GET_TSC_KHZ, and the matching of
 * host-initiated TSC writes that keeps the vCPUs' TSCs in step.
 *
 * The clock model.  kvmclock counts nanoseconds: host CLOCK_MONOTONIC_RAW
 * plus a VM-wide offset (KVM_SET_CLOCK moves it).  The guest TSC is host
 * TSC + the vCPU's offset; there is no TSC scaling, so the pvclock page
 * scales guest TSC ticks at the host's tsc_khz.  When the host clocksource
 * is a stable TSC and all vCPUs share one TSC offset, every vCPU's page is
 * built from the same host TSC/ns pair (the master clock) and carries
 * PVCLOCK_TSC_STABLE_BIT: the guest may then compare readings of
 * different vCPUs.  Otherwise each vCPU's page is taken from its own
 * rdtsc()/clock pair, rebuilt whenever it moves to another physical CPU.
 * A TSC rate above the host's is emulated as KVM does without scaling:
 * the offset is moved forward (caught up) and the page rebuilt before
 * every entry.
 *
 * Pages are written only by the vCPU's own thread (XKVM_REQ_CLOCK_UPDATE,
 * taken in the run loop with interrupts on), since writing guest memory
 * may fault.  Others only make the request.
 *
 * Locks: xkvm_arch.clock.lock (spinlock, irqs saved) protects the VM
 * part; nothing else is taken under it.  Per-vCPU state is the vCPU
 * thread's (vcpu->mutex).
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <asm/kvm_para.h>
#include <asm/pvclock.h>
#include <asm/pvclock-abi.h>
#include <asm/tsc.h>

#include <xkvm_x86.h>

#define XKVM_CLOCK_VALID_FLAGS	(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | \
				 KVM_CLOCK_HOST_TSC)
/* KVM's default tolerance of a requested TSC rate without scaling */
#define XKVM_TSC_TOLERANCE_PPM	250
#define XKVM_KVMCLOCK_ON	BIT_ULL(0)	/* the MSRs' enable bit */

/*
 * A host clock reading: the raw monotonic and real time of one instant,
 * and the TSC at that instant if the host clocksource is the TSC and it
 * is not marked unstable (the snapshot's counter value then lies between
 * two TSC reads around it; no other x86 clocksource counts like that).
 */
struct xkvm_host_clock {
	u64 raw_ns, real_ns, tsc;
	bool tsc_based;
};

static void xkvm_host_clock_read(struct xkvm_host_clock *c)
{
	struct system_time_snapshot snap;
	u64 before, after;

	before = rdtsc_ordered();
	ktime_get_snapshot(&snap);
	after = rdtsc_ordered();
	c->raw_ns = ktime_to_ns(snap.raw);
	c->real_ns = ktime_to_ns(snap.real);
	c->tsc_based = !check_tsc_unstable() && tsc_khz &&
		       snap.cycles >= before && snap.cycles <= after;
	c->tsc = c->tsc_based ? snap.cycles : after;
}

/*
 * ns = ((ticks << shift) * mul) >> 32 for a counter of @khz (a negative
 * shift shifts right), with mul in [2^31, 2^32) for full precision.
 */
static void xkvm_pvclock_scale(u32 khz, u32 *mul, s8 *shift)
{
	u64 scaled = (u64)khz * 1000;
	int s = 0;

	while (scaled <= NSEC_PER_SEC) {
		scaled <<= 1;
		s++;
	}
	while ((scaled >> 1) > NSEC_PER_SEC) {
		scaled >>= 1;
		s--;
	}
	*mul = div64_u64((u64)NSEC_PER_SEC << 32, scaled);
	*shift = s;
}

/* Every online vCPU has the same TSC offset, and keeps it. */
static bool xkvm_tsc_offsets_match(struct xkvm *vm)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;
	u64 first = 0;

	xkvm_for_each_vcpu(i, vcpu, vm) {
		u64 off = READ_ONCE(vcpu->arch.msrs.tsc_offset);

		if ((i && off != first) || READ_ONCE(vcpu->arch.clock.catchup))
			return false;
		first = off;
	}
	return true;
}

/* Take a new master pair, or drop it; clock.lock held. */
static void xkvm_master_refresh(struct xkvm *vm,
				const struct xkvm_host_clock *hc)
{
	struct xkvm_kvmclock_vm *k = &vm->arch.clock;

	k->master = hc->tsc_based && !k->boot_old_msr &&
		    xkvm_tsc_offsets_match(vm);
	k->master_tsc = hc->tsc;
	k->master_ns = hc->raw_ns;
}

/*
 * kvmclock now, as KVM_GET_CLOCK reports it: from the master pair when
 * there is one (what the guests compute too), else the raw clock.
 */
static void xkvm_kvmclock_read(struct xkvm *vm, struct kvm_clock_data *d)
{
	struct xkvm_kvmclock_vm *k = &vm->arch.clock;
	struct xkvm_host_clock hc;
	unsigned long flags;
	u32 mul;
	s8 shift;

	memset(d, 0, sizeof(*d));
	spin_lock_irqsave(&k->lock, flags);
	xkvm_host_clock_read(&hc);
	if (k->master && hc.tsc_based) {
		/* the pair may come from a CPU whose TSC read a hair later */
		u64 ticks = hc.tsc > k->master_tsc ? hc.tsc - k->master_tsc : 0;

		xkvm_pvclock_scale(tsc_khz, &mul, &shift);
		d->clock = k->master_ns + k->offset +
			   pvclock_scale_delta(ticks, mul, shift);
		d->realtime = hc.real_ns;
		d->host_tsc = hc.tsc;
		d->flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME |
			   KVM_CLOCK_HOST_TSC;
	} else {
		d->clock = hc.raw_ns + k->offset;
		d->realtime = hc.real_ns;	/* for the wall clock only */
	}
	spin_unlock_irqrestore(&k->lock, flags);
}

void xkvm_kvmclock_vm_init(struct xkvm *vm)
{
	struct xkvm_kvmclock_vm *k = &vm->arch.clock;
	struct xkvm_host_clock hc;

	spin_lock_init(&k->lock);
	xkvm_host_clock_read(&hc);
	/* kvmclock starts at 0 with the VM, like its TSC */
	k->offset = -(s64)hc.raw_ns;
	k->cur_tsc_offset = vm->arch.tsc_offset0;
	k->last_tsc_ns = hc.raw_ns;
	xkvm_master_refresh(vm, &hc);
}

/* A new vCPU: the host's TSC rate, the TSC of the last host write. */
void xkvm_kvmclock_vcpu_init(struct xkvm_vcpu *vcpu)
{
	struct xkvm_kvmclock_vm *k = &vcpu->vm->arch.clock;
	unsigned long flags;

	vcpu->arch.clock.virtual_tsc_khz = tsc_khz;
	vcpu->arch.clock.last_cpu = -1;
	spin_lock_irqsave(&k->lock, flags);
	vcpu->arch.msrs.tsc_offset = k->cur_tsc_offset;
	spin_unlock_irqrestore(&k->lock, flags);
}

/* Refresh the master clock and have every vCPU rewrite its page. */
static void xkvm_kvmclock_changed(struct xkvm *vm)
{
	struct xkvm_kvmclock_vm *k = &vm->arch.clock;
	struct xkvm_host_clock hc;
	unsigned long flags;

	spin_lock_irqsave(&k->lock, flags);
	xkvm_host_clock_read(&hc);
	xkvm_master_refresh(vm, &hc);
	spin_unlock_irqrestore(&k->lock, flags);
	xkvm_make_all_vcpus_request(vm, XKVM_REQ_CLOCK_UPDATE);
}

/* Catching up starts from here: the guest TSC and the raw clock now. */
static void xkvm_catchup_rebase(struct xkvm_vcpu *vcpu)
{
	struct xkvm_kvmclock *c = &vcpu->arch.clock;
	unsigned long flags;

	local_irq_save(flags);
	c->catchup_ns = ktime_get_raw_ns();
	c->catchup_tsc = rdtsc() + vcpu->arch.msrs.tsc_offset;
	local_irq_restore(flags);
}

/* The vCPU's TSC offset changed (a TSC or TSC_ADJUST write). */
void xkvm_kvmclock_tsc_changed(struct xkvm_vcpu *vcpu)
{
	if (vcpu->arch.clock.catchup)
		xkvm_catchup_rebase(vcpu);
	xkvm_kvmclock_changed(vcpu->vm);
}

/*
 * A TSC faster than the host's: move the offset forward to where the
 * guest's rate would have the TSC by now (never back).  Interrupts off.
 */
static void xkvm_catchup(struct xkvm_vcpu *vcpu, u64 ns)
{
	struct xkvm_kvmclock *c = &vcpu->arch.clock;
	u64 want, now;

	want = c->catchup_tsc + mul_u64_u32_div(ns - c->catchup_ns,
						c->virtual_tsc_khz,
						USEC_PER_SEC);
	now = rdtsc() + vcpu->arch.msrs.tsc_offset;
	if ((s64)(want - now) > 0)
		WRITE_ONCE(vcpu->arch.msrs.tsc_offset,
			   vcpu->arch.msrs.tsc_offset + want - now);
}

/*
 * A host-initiated write of the TSC (a VMM resetting or restoring its
 * vCPUs one after the other): a write of 0, or of a value within a second
 * of where the last written TSC has got to, means "the same TSC as the
 * others" and takes the last offset, as on KVM.  Returns the new offset.
 */
u64 xkvm_kvmclock_host_tsc_write(struct xkvm_vcpu *vcpu, u64 data)
{
	struct xkvm_kvmclock_vm *k = &vcpu->vm->arch.clock;
	u64 hz = (u64)tsc_khz * 1000, offset, expect, ns;
	unsigned long flags;
	bool sync;

	spin_lock_irqsave(&k->lock, flags);
	ns = ktime_get_raw_ns();
	offset = data - rdtsc();
	expect = k->last_tsc_write +
		 mul_u64_u32_div(ns - k->last_tsc_ns, tsc_khz, USEC_PER_SEC);
	sync = !data || (data < expect + hz && data + hz > expect);
	if (sync && !check_tsc_unstable())
		offset = k->cur_tsc_offset;
	k->cur_tsc_offset = offset;
	k->last_tsc_write = data;
	k->last_tsc_ns = ns;
	spin_unlock_irqrestore(&k->lock, flags);
	return offset;
}

/* Write the wall clock: host real time at kvmclock 0. */
static void xkvm_write_wall_clock(struct xkvm_vcpu *vcpu, u64 gpa)
{
	struct pvclock_wall_clock wc;
	struct kvm_clock_data d;
	struct xkvm *vm = vcpu->vm;
	u32 version;
	u64 sec;

	if (!gpa || xkvm_read_guest(vm, gpa, &version, sizeof(version)))
		return;
	version = (version + 1) | 1;
	if (xkvm_vcpu_write_guest(vcpu, gpa, &version, sizeof(version)))
		return;
	xkvm_kvmclock_read(vm, &d);
	sec = d.realtime - d.clock;
	wc.nsec = do_div(sec, NSEC_PER_SEC);
	wc.sec = (u32)sec;
	wc.version = version;
	smp_wmb();	/* odd version before the body */
	xkvm_vcpu_write_guest(vcpu, gpa, &wc, sizeof(wc));
	smp_wmb();	/* the body before the even version */
	version++;
	xkvm_vcpu_write_guest(vcpu, gpa, &version, sizeof(version));
}

/*
 * Rebuild this vCPU's pvclock page; the vCPU thread only.  A page that is
 * not in guest RAM, or straddles a page boundary, is left alone, as on
 * KVM (the MSR keeps its value).
 */
void xkvm_kvmclock_update(struct xkvm_vcpu *vcpu)
{
	struct xkvm_kvmclock_vm *k = &vcpu->vm->arch.clock;
	struct xkvm_kvmclock *c = &vcpu->arch.clock;
	struct pvclock_vcpu_time_info pv, old;
	u64 gpa = c->msr & ~XKVM_KVMCLOCK_ON, host_tsc, ns;
	unsigned long flags;
	u8 pvflags = 0;

	if (c->catchup) {
		local_irq_save(flags);
		xkvm_catchup(vcpu, ktime_get_raw_ns());
		local_irq_restore(flags);
		c->caught_up = true;
	}
	if (!(c->msr & XKVM_KVMCLOCK_ON) || !tsc_khz)
		return;
	spin_lock_irqsave(&k->lock, flags);
	if (k->master) {
		host_tsc = k->master_tsc;
		ns = k->master_ns;
		pvflags |= PVCLOCK_TSC_STABLE_BIT;
	} else {
		ns = ktime_get_raw_ns();
		host_tsc = rdtsc();
	}
	ns += k->offset;
	c->last_cpu = raw_smp_processor_id();
	spin_unlock_irqrestore(&k->lock, flags);

	if (offset_in_page(gpa) + sizeof(pv) > PAGE_SIZE ||
	    xkvm_read_guest(vcpu->vm, gpa, &old, sizeof(old)))
		return;
	memset(&pv, 0, sizeof(pv));
	pv.tsc_timestamp = host_tsc + vcpu->arch.msrs.tsc_offset;
	pv.system_time = ns;
	xkvm_pvclock_scale(tsc_khz, &pv.tsc_to_system_mul, &pv.tsc_shift);
	/* GUEST_STOPPED stays until the guest clears it */
	pv.flags = pvflags | (old.flags & PVCLOCK_GUEST_STOPPED);
	if (c->stop_pending)
		pv.flags |= PVCLOCK_GUEST_STOPPED;

	/* odd while the page changes: readers on other vCPUs retry */
	c->version = (c->version + 1) | 1;
	pv.version = c->version;
	if (xkvm_vcpu_write_guest(vcpu, gpa, &pv.version, sizeof(pv.version)))
		return;
	smp_wmb();	/* odd version before the body */
	if (xkvm_vcpu_write_guest(vcpu, gpa, &pv, sizeof(pv)))
		return;
	smp_wmb();	/* the body before the even version */
	pv.version = ++c->version;
	if (!xkvm_vcpu_write_guest(vcpu, gpa, &pv.version, sizeof(pv.version)))
		c->stop_pending = false;
}

/*
 * Before an entry, interrupts off: without a master clock the page was
 * taken from this physical CPU's TSC; on another CPU it is rebuilt.  A
 * TSC that catches up does so (and rebuilds the page) before every entry:
 * the request sends the vCPU round the loop once, then it enters.
 */
void xkvm_kvmclock_check_cpu(struct xkvm_vcpu *vcpu)
{
	struct xkvm_kvmclock *c = &vcpu->arch.clock;

	if (c->catchup && !c->caught_up) {
		xkvm_make_request(XKVM_REQ_CLOCK_UPDATE, vcpu);
		return;
	}
	c->caught_up = false;

	if (!(c->msr & XKVM_KVMCLOCK_ON) ||
	    c->last_cpu == raw_smp_processor_id() ||
	    READ_ONCE(vcpu->vm->arch.clock.master))
		return;
	c->last_cpu = raw_smp_processor_id();
	xkvm_make_request(XKVM_REQ_CLOCK_UPDATE, vcpu);
}

int xkvm_kvmclock_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		*data = READ_ONCE(vcpu->vm->arch.clock.wall_clock);
		return 0;
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		*data = vcpu->arch.clock.msr;
		return 0;
	}
	return 1;
}

/*
 * As on KVM (without KVM_CAP_ENFORCE_PV_FEATURE_CPUID) every value is
 * accepted, whatever the guest's CPUID: bit 0 enables, the rest is the
 * address, which need not be RAM.
 */
int xkvm_kvmclock_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
			  bool host)
{
	struct xkvm_kvmclock_vm *k = &vcpu->vm->arch.clock;
	bool old_msr = index == MSR_KVM_SYSTEM_TIME;
	unsigned long flags;
	bool changed;

	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		WRITE_ONCE(k->wall_clock, data);
		xkvm_write_wall_clock(vcpu, data);
		return 0;
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		break;
	default:
		return 1;
	}
	/* old guests mishandle a stable clock: none while vCPU 0 uses it */
	changed = false;
	if (vcpu->vcpu_id == 0 && !host) {
		spin_lock_irqsave(&k->lock, flags);
		changed = k->boot_old_msr != old_msr;
		k->boot_old_msr = old_msr;
		spin_unlock_irqrestore(&k->lock, flags);
	}
	vcpu->arch.clock.msr = data;
	if (changed)
		xkvm_kvmclock_changed(vcpu->vm);
	xkvm_make_request(XKVM_REQ_CLOCK_UPDATE, vcpu);
	return 0;
}

static long xkvm_get_clock(struct xkvm *vm, struct kvm_clock_data __user *argp)
{
	struct kvm_clock_data d;

	xkvm_kvmclock_read(vm, &d);
	if (!(d.flags & KVM_CLOCK_REALTIME))
		d.realtime = 0;
	return copy_to_user(argp, &d, sizeof(d)) ? -EFAULT : 0;
}

/*
 * KVM_SET_CLOCK: kvmclock is @clock now, or, with KVM_CLOCK_REALTIME, was
 * @clock at host real time @realtime (time since then is added; never
 * moved back for a @realtime in the future).  Other flags of
 * KVM_GET_CLOCK's are accepted and ignored, as on KVM.
 */
static long xkvm_set_clock(struct xkvm *vm, struct kvm_clock_data __user *argp)
{
	struct xkvm_kvmclock_vm *k = &vm->arch.clock;
	struct xkvm_host_clock hc;
	struct kvm_clock_data d;
	unsigned long flags;

	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	if (d.flags & ~XKVM_CLOCK_VALID_FLAGS)
		return -EINVAL;
	spin_lock_irqsave(&k->lock, flags);
	xkvm_host_clock_read(&hc);
	xkvm_master_refresh(vm, &hc);
	if ((d.flags & KVM_CLOCK_REALTIME) && hc.real_ns > d.realtime)
		d.clock += hc.real_ns - d.realtime;
	k->offset = d.clock - hc.raw_ns;
	spin_unlock_irqrestore(&k->lock, flags);
	xkvm_make_all_vcpus_request(vm, XKVM_REQ_CLOCK_UPDATE);
	return 0;
}

long xkvm_kvmclock_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			    void __user *argp)
{
	switch (ioctl) {
	case KVM_GET_CLOCK:
		return xkvm_get_clock(vm, argp);
	case KVM_SET_CLOCK:
		return xkvm_set_clock(vm, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

/*
 * KVM_SET_TSC_KHZ without TSC scaling, as KVM: a rate within its
 * tolerance of the host's is taken as the host's; a higher one is
 * emulated by catching the TSC up before entries; a lower one is refused.
 * 0 means the host's.  The rate is recorded (KVM_GET_TSC_KHZ) even when
 * refused.
 */
static long xkvm_set_tsc_khz(struct xkvm_vcpu *vcpu, u32 khz)
{
	struct xkvm_kvmclock *c = &vcpu->arch.clock;
	u32 slack = div_u64((u64)tsc_khz * XKVM_TSC_TOLERANCE_PPM,
			    USEC_PER_SEC);
	bool catchup;

	if (!khz)
		khz = tsc_khz;
	if (!khz)
		return -EINVAL;
	c->virtual_tsc_khz = khz;
	if (khz < tsc_khz - slack)
		return -EINVAL;
	catchup = khz > tsc_khz + slack;
	if (catchup)
		xkvm_catchup_rebase(vcpu);
	if (catchup != c->catchup) {
		WRITE_ONCE(c->catchup, catchup);
		xkvm_kvmclock_changed(vcpu->vm);	/* no master clock */
	}
	xkvm_make_request(XKVM_REQ_CLOCK_UPDATE, vcpu);
	return 0;
}

long xkvm_kvmclock_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			      void __user *argp)
{
	switch (ioctl) {
	case KVM_KVMCLOCK_CTRL:
		if (!(vcpu->arch.clock.msr & XKVM_KVMCLOCK_ON))
			return -EINVAL;
		vcpu->arch.clock.stop_pending = true;
		xkvm_make_request(XKVM_REQ_CLOCK_UPDATE, vcpu);
		return 0;
	case KVM_SET_TSC_KHZ:
		return xkvm_set_tsc_khz(vcpu, (u32)(unsigned long)argp);
	case KVM_GET_TSC_KHZ:
		return vcpu->arch.clock.virtual_tsc_khz;
	default:
		return -ENOIOCTLCMD;
	}
}
