// SPDX-License-Identifier: GPL-2.0
/*
 * migration_state_test.c - every piece of vCPU and VM state QEMU 7.2
 * migrates survives a migration from one VM to another in the same
 * process, as stock KVM implements it (checked against it in reference
 * mode):
 *
 * - vm_to_vm: a guest on VM A (in-kernel irqchip and PIT, two vCPUs)
 *   builds state in the LAPIC (periodic timer), IOAPIC, PICs, PIT, x87/SSE/
 *   AVX registers, debug registers, kvmclock and MSRs.  The host saves it
 *   in QEMU's source order (completing the last port I/O with
 *   immediate_exit first, as api.rst requires), copies guest memory into
 *   VM B, restores in QEMU's destination order, and compares B's state
 *   with the saved one: byte for byte, except what moves with time (TSC,
 *   TMCCT, the PIT's load time and the PIT line's transient bits in the
 *   PIC and IOAPIC, the kvmclock), which must move forward by less than a
 *   few seconds.  The guest then continues on B, checks its registers and
 *   memory itself and takes new LAPIC-timer and PIT interrupts.
 * - pending_events: a pending #PF with its CR2 payload
 *   (KVM_CAP_EXCEPTION_PAYLOAD), an injected #GP without the capability,
 *   a pending masked NMI and an injected IRQ (in an interrupt shadow on AMD-V)
 *   survive a chain of migrations and reach the guest exactly once.
 * - mp_state: HALTED (reached by a guest HLT), INIT_RECEIVED,
 *   UNINITIALIZED and RUNNABLE round-trip to another VM and keep their
 *   meaning there; SIPI_RECEIVED on the destination; KVM's refusals of
 *   INIT/SIPI states next to a pending SMI.
 * - bad_inputs: KVM_SET_DEBUGREGS, KVM_SET_SREGS2, payload-mode
 *   KVM_SET_VCPU_EVENTS and KVM_SET_PIT2 flags (other refusals are in
 *   fpu_test, irqchip_test, apic_test, kvmclock_test and events_test).
 *
 * Without KVM_CAP_SREGS2 / KVM_CAP_XSAVE2 the test uses KVM_GET/SET_SREGS
 * and the 4 KiB KVM_GET_XSAVE, as QEMU does.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "irqchip_util.h"
#include "x86_util.h"

#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#define MSR_IA32_TSC_DEADLINE	0x6e0

#define V_TIMER			0xec
#define V_PIT			0x70
#define V_IRQ			0x61
#define NMI_VECTOR		2

#define PIT_COUNT_100HZ		11932
#define TIMER_COUNT		300000000u	/* ~300 ms at KVM's 1 GHz bus */
#define GUEST_PAT		0x0007040600070106ULL
#define NSEC			1000000000ULL
#define CLOCK_JUMP_MAX		(5 * NSEC)
#define WATCHDOG_MS		15000

/* ---- migratable state ---- */

struct vcpu_state {
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_xsave *xsave;
	struct kvm_xcrs xcrs;
	struct kvm_sregs2 sregs2;
	struct kvm_sregs sregs;
	struct kvm_msrs *msrs;
	struct kvm_lapic_state lapic;
	struct kvm_debugregs dbg;
	uint64_t tsc;			/* read at "vm_stop" */
	uint64_t tsc_deadline;
};

struct vm_state {
	bool irqchip, pit, payload;
	unsigned int nr;
	struct kvm_pit_state2 pit2;
	struct kvm_irqchip chip[3];
	struct kvm_clock_data clock;
	uint64_t host_ns;		/* CLOCK_MONOTONIC at the save */
	struct vcpu_state v[3];
	uint32_t ids[3];
};

static struct kvm_msr_list *msr_list;
static int xsave_size;
static bool use_sregs2;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void vcpu_ioctl_ok(struct kvm_vcpu *vcpu, unsigned long nr, void *arg,
			  const char *name)
{
	TEST_ASSERT(!ioctl(vcpu->fd, nr, arg), "%s on vCPU %u", name, vcpu->id);
}

static void vm_ioctl_ok(struct kvm_vm *vm, unsigned long nr, void *arg,
			const char *name)
{
	TEST_ASSERT(!ioctl(vm->fd, nr, arg), "%s on the VM", name);
}

#define VCPU_IOCTL(v, nr, arg)	vcpu_ioctl_ok(v, nr, arg, #nr)
#define VM_IOCTL(vm, nr, arg)	vm_ioctl_ok(vm, nr, arg, #nr)

static void init_globals(void)
{
	int r;

	if (!msr_list)
		msr_list = kvm_get_msr_list(KVM_GET_MSR_INDEX_LIST);
	r = kvm_check_cap(KVM_CAP_XSAVE2);
	xsave_size = r > (int)sizeof(struct kvm_xsave) ? r :
		     (int)sizeof(struct kvm_xsave);
	use_sregs2 = kvm_check_cap(KVM_CAP_SREGS2) > 0;
}

static bool msr_moves(uint32_t idx)
{
	/* Time: the TSC, Hyper-V's reference counter and VP runtime. */
	return idx == MSR_IA32_TSC || idx == HV_X64_MSR_TIME_REF_COUNT ||
	       idx == HV_X64_MSR_VP_RUNTIME;
}

/* Every listed MSR KVM_GET_MSRS reads on this vCPU, but TSC_DEADLINE. */
static struct kvm_msrs *get_all_msrs(struct kvm_vcpu *vcpu)
{
	struct kvm_msrs *m = msrs_alloc(msr_list->nmsrs);
	unsigned int i, n = 0;
	uint64_t v;

	for (i = 0; i < msr_list->nmsrs; i++) {
		uint32_t idx = msr_list->indices[i];

		if (idx == MSR_IA32_TSC_DEADLINE)
			continue;
		if (__vcpu_get_msr(vcpu, idx, &v) != 1)
			continue;
		m->entries[n].index = idx;
		m->entries[n].data = v;
		n++;
	}
	m->nmsrs = n;
	return m;
}

static void save_vcpu(struct kvm_vcpu *vcpu, struct vcpu_state *s, bool lapic)
{
	if (!s->xsave)
		s->xsave = calloc(1, xsave_size);
	TEST_ASSERT(s->xsave, "out of memory");
	memset(&s->events, 0, sizeof(s->events));
	VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &s->events);
	VCPU_IOCTL(vcpu, KVM_GET_MP_STATE, &s->mp);
	VCPU_IOCTL(vcpu, KVM_GET_REGS, &s->regs);
	if (xsave_size > (int)sizeof(struct kvm_xsave))
		VCPU_IOCTL(vcpu, KVM_GET_XSAVE2, s->xsave);
	else
		VCPU_IOCTL(vcpu, KVM_GET_XSAVE, s->xsave);
	memset(&s->xcrs, 0, sizeof(s->xcrs));
	VCPU_IOCTL(vcpu, KVM_GET_XCRS, &s->xcrs);
	if (use_sregs2)
		VCPU_IOCTL(vcpu, KVM_GET_SREGS2, &s->sregs2);
	else
		VCPU_IOCTL(vcpu, KVM_GET_SREGS, &s->sregs);
	free(s->msrs);
	s->msrs = get_all_msrs(vcpu);
	if (lapic) {
		VCPU_IOCTL(vcpu, KVM_GET_LAPIC, &s->lapic);
		s->tsc_deadline = vcpu_get_msr(vcpu, MSR_IA32_TSC_DEADLINE);
	}
	VCPU_IOCTL(vcpu, KVM_GET_DEBUGREGS, &s->dbg);
}

/*
 * QEMU's source sequence: complete the last exit's I/O (immediate_exit),
 * vm_stop (TSCs, clock, PIT), the CPU state, the RAM, the irqchip and the
 * clock again (kvmclock's pre_save).
 */
static void save_vm(struct kvm_vm *vm, struct vm_state *st, bool ran[])
{
	struct kvm_clock_data c;
	unsigned int i;

	for (i = 0; i < st->nr; i++) {
		struct kvm_vcpu *vcpu = vm->vcpus[i];

		st->ids[i] = vcpu->id;
		if (!ran[i])
			continue;
		vcpu->run->immediate_exit = 1;
		TEST_ASSERT(__vcpu_run(vcpu) == -1 && errno == EINTR,
			    "KVM_RUN with immediate_exit: %d", errno);
		vcpu->run->immediate_exit = 0;
	}
	for (i = 0; i < st->nr; i++)
		st->v[i].tsc = vcpu_get_msr(vm->vcpus[i], MSR_IA32_TSC);
	memset(&c, 0, sizeof(c));
	VM_IOCTL(vm, KVM_GET_CLOCK, &c);
	if (st->pit)
		VM_IOCTL(vm, KVM_GET_PIT2, &st->pit2);
	for (i = 0; i < st->nr; i++)
		save_vcpu(vm->vcpus[i], &st->v[i], st->irqchip);
	if (st->irqchip) {
		for (i = 0; i < 3; i++) {
			memset(&st->chip[i], 0, sizeof(st->chip[i]));
			st->chip[i].chip_id = i;
			VM_IOCTL(vm, KVM_GET_IRQCHIP, &st->chip[i]);
		}
	}
	memset(&st->clock, 0, sizeof(st->clock));
	VM_IOCTL(vm, KVM_GET_CLOCK, &st->clock);
	st->host_ns = now_ns();
}

static void enable_payload(struct kvm_vm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXCEPTION_PAYLOAD, .args = { 1 },
	};

	VM_IOCTL(vm, KVM_ENABLE_CAP, &cap);
}

/*
 * The destination's start-up: the same devices, capabilities, memory
 * slots and vCPUs (with A's CPUID), the RAM copied in.
 */
static struct kvm_vm *create_dest(struct kvm_vm *a, struct vm_state *st)
{
	struct kvm_vm *b = vm_create_barebones();
	struct kvm_pit_config pc = { .flags = 0 };
	unsigned int i;

	if (st->irqchip)
		VM_IOCTL(b, KVM_CREATE_IRQCHIP, NULL);
	if (st->pit)
		VM_IOCTL(b, KVM_CREATE_PIT2, &pc);
	if (st->payload)
		enable_payload(b);
	for (i = 0; i < XKVM_MAX_MEM_REGIONS; i++) {
		struct userspace_mem_region *r = &a->regions[i];
		void *mem;

		if (!r->in_use)
			continue;
		mem = vm_mem_region_add(b, r->region.slot,
					r->region.guest_phys_addr,
					r->region.memory_size, r->region.flags);
		memcpy(mem, r->host_mem, r->region.memory_size);
	}
	b->mode = a->mode;
	b->pml4_gpa = a->pml4_gpa;
	b->pt_next = a->pt_next;
	b->nr_lm_vcpus = a->nr_lm_vcpus;
	for (i = 0; i < st->nr; i++) {
		struct kvm_vcpu *va = a->vcpus[i];
		struct kvm_vcpu *vb = vm_vcpu_add_raw(b, va->id);
		struct kvm_cpuid2 *c = vcpu_get_cpuid2(va);

		if (c->nent)
			vcpu_set_cpuid2(vb, c);
		free(c);
	}
	return b;
}

static void set_msrs(struct kvm_vcpu *vcpu, struct kvm_msrs *m)
{
	unsigned int i;

	/* One by one: a refused MSR must not hide the others. */
	for (i = 0; i < m->nmsrs; i++) {
		uint32_t idx = m->entries[i].index;
		uint64_t now;

		if (__vcpu_set_msr(vcpu, idx, m->entries[i].data) == 1)
			continue;
		/* Refused: fine if the destination already has the value. */
		TEST_ASSERT(__vcpu_get_msr(vcpu, idx, &now) == 1 &&
			    now == m->entries[i].data,
			    "vCPU %u: KVM_SET_MSRS refused MSR 0x%x = 0x%llx (has 0x%llx)",
			    vcpu->id, idx,
			    (unsigned long long)m->entries[i].data,
			    (unsigned long long)now);
	}
}

/* QEMU's destination sequence (vmm-requirements.md 3.3). */
static void restore_vm(struct kvm_vm *b, struct vm_state *st)
{
	unsigned int i;

	if (st->pit)
		VM_IOCTL(b, KVM_SET_PIT2, &st->pit2);
	if (st->irqchip) {
		for (i = 0; i < 3; i++)
			VM_IOCTL(b, KVM_SET_IRQCHIP, &st->chip[i]);
		for (i = 0; i < st->nr; i++) {
			struct vcpu_state *s = &st->v[i];
			uint64_t base = 0;
			unsigned int j;

			for (j = 0; j < s->msrs->nmsrs; j++)
				if (s->msrs->entries[j].index == MSR_IA32_APICBASE)
					base = s->msrs->entries[j].data;
			vcpu_set_msr(b->vcpus[i], MSR_IA32_APICBASE, base);
			VCPU_IOCTL(b->vcpus[i], KVM_SET_LAPIC, &s->lapic);
		}
	}
	for (i = 0; i < st->nr; i++) {
		struct kvm_vcpu *vcpu = b->vcpus[i];
		struct vcpu_state *s = &st->v[i];
		struct kvm_vcpu_events ev = s->events;
		struct kvm_mp_state mp = s->mp;
		unsigned int j;

		if (use_sregs2)
			VCPU_IOCTL(vcpu, KVM_SET_SREGS2, &s->sregs2);
		else
			VCPU_IOCTL(vcpu, KVM_SET_SREGS, &s->sregs);
		VCPU_IOCTL(vcpu, KVM_SET_REGS, &s->regs);
		VCPU_IOCTL(vcpu, KVM_SET_XSAVE, s->xsave);
		VCPU_IOCTL(vcpu, KVM_SET_XCRS, &s->xcrs);
		for (j = 0; j < s->msrs->nmsrs; j++)
			if (s->msrs->entries[j].index == MSR_IA32_TSC)
				s->msrs->entries[j].data = s->tsc;
		set_msrs(vcpu, s->msrs);
		VCPU_IOCTL(vcpu, KVM_SET_VCPU_EVENTS, &ev);
		VCPU_IOCTL(vcpu, KVM_SET_MP_STATE, &mp);
		if (st->irqchip)
			vcpu_set_msr(vcpu, MSR_IA32_TSC_DEADLINE,
				     s->tsc_deadline);
		VCPU_IOCTL(vcpu, KVM_SET_DEBUGREGS, &s->dbg);
	}
	{
		struct kvm_clock_data c = { .clock = st->clock.clock };

		VM_IOCTL(b, KVM_SET_CLOCK, &c);
	}
}

/* ---- comparison ---- */

static int compare_events(struct __test_metadata *_metadata, unsigned int id,
			  struct kvm_vcpu_events *a, struct kvm_vcpu_events *b)
{
#define EV(f)	EXPECT_EQ(a->f, b->f) TH_LOG("vCPU %u events." #f, id)
	EV(flags);
	EV(exception.injected);
	EV(exception.nr);
	EV(exception.has_error_code);
	EV(exception.pending);
	EV(exception.error_code);
	EV(interrupt.injected);
	EV(interrupt.nr);
	EV(interrupt.soft);
	EV(interrupt.shadow);
	EV(nmi.injected);
	EV(nmi.pending);
	EV(nmi.masked);
	EV(sipi_vector);
	EV(smi.smm);
	EV(smi.pending);
	EV(smi.smm_inside_nmi);
	EV(smi.latched_init);
	EV(exception_has_payload);
	EV(exception_payload);
#undef EV
	return 0;
}

static void log_diff(struct __test_metadata *_metadata, const char *what,
		     unsigned int id, const void *a, const void *b, size_t len)
{
	const uint8_t *x = a, *y = b;
	size_t i;
	int shown = 0;

	for (i = 0; i < len && shown < 8; i++) {
		if (x[i] == y[i])
			continue;
		TH_LOG("vCPU %u %s: byte 0x%zx saved 0x%02x, dest 0x%02x",
		       id, what, i, x[i], y[i]);
		shown++;
	}
}

#define EXPECT_SAME(what, id, a, b, len)				\
do {									\
	int __d = memcmp(a, b, len);					\
	EXPECT_EQ(0, __d) TH_LOG("vCPU %u: %s differs", id, what);	\
	if (__d)							\
		log_diff(_metadata, what, id, a, b, len);		\
} while (0)

static uint32_t lapic_reg(struct kvm_lapic_state *s, unsigned int reg)
{
	uint32_t v;

	memcpy(&v, s->regs + reg, sizeof(v));
	return v;
}

/*
 * B's state against the saved one.  @tsc_hz bounds how far the TSC may
 * have moved.
 */
static void compare_vm(struct __test_metadata *_metadata, struct kvm_vm *b,
		       struct vm_state *st, struct vm_state *now,
		       uint64_t tsc_khz)
{
	uint64_t elapsed = now->host_ns - st->host_ns;
	uint64_t slack_tsc = tsc_khz * 1000;	/* one second of cycles */
	unsigned int i, j;

	for (i = 0; i < st->nr; i++) {
		struct vcpu_state *a = &st->v[i], *n = &now->v[i];
		unsigned int id = st->ids[i];

		compare_events(_metadata, id, &a->events, &n->events);
		EXPECT_EQ(a->mp.mp_state, n->mp.mp_state) TH_LOG("vCPU %u mp_state", id);
		EXPECT_SAME("regs", id, &a->regs, &n->regs, sizeof(a->regs));
		EXPECT_SAME("xsave", id, a->xsave, n->xsave, xsave_size);
		EXPECT_SAME("xcrs", id, &a->xcrs, &n->xcrs, sizeof(a->xcrs));
		if (use_sregs2)
			EXPECT_SAME("sregs2", id, &a->sregs2, &n->sregs2,
				    sizeof(a->sregs2));
		else
			EXPECT_SAME("sregs", id, &a->sregs, &n->sregs,
				    sizeof(a->sregs));
		EXPECT_SAME("debugregs", id, &a->dbg, &n->dbg, sizeof(a->dbg));

		EXPECT_EQ(a->msrs->nmsrs, n->msrs->nmsrs) TH_LOG("vCPU %u: MSR count", id);
		for (j = 0; j < a->msrs->nmsrs && j < n->msrs->nmsrs; j++) {
			struct kvm_msr_entry *x = &a->msrs->entries[j];
			struct kvm_msr_entry *y = &n->msrs->entries[j];

			EXPECT_EQ(x->index, y->index);
			if (x->index == MSR_IA32_TSC) {
				/* KVM may match a TSC written within 1 s. */
				EXPECT_GE(y->data + slack_tsc, a->tsc)
					TH_LOG("vCPU %u TSC went back", id);
				EXPECT_LE(y->data, a->tsc + slack_tsc +
					  elapsed * 2 * tsc_khz / 1000000)
					TH_LOG("vCPU %u TSC jumped", id);
			} else if (msr_moves(x->index)) {
				EXPECT_GE(y->data, x->data)
					TH_LOG("vCPU %u MSR 0x%x went back", id, x->index);
			} else {
				EXPECT_EQ(x->data, y->data)
					TH_LOG("vCPU %u MSR 0x%x", id, x->index);
			}
		}

		if (st->irqchip) {
			uint32_t ta = lapic_reg(&a->lapic, APIC_TMCCT);
			uint32_t tb = lapic_reg(&n->lapic, APIC_TMCCT);
			struct kvm_lapic_state la = a->lapic, lb = n->lapic;

			/*
			 * The current count runs on from the saved one (KVM
			 * restarts the timer from TMCCT at KVM_SET_LAPIC).
			 */
			EXPECT_LE(tb, ta) TH_LOG("vCPU %u TMCCT went up", id);
			if (ta)
				EXPECT_NE(0, tb) TH_LOG("vCPU %u timer stopped", id);
			EXPECT_EQ(a->tsc_deadline, n->tsc_deadline);
			memset(la.regs + APIC_TMCCT, 0, 4);
			memset(lb.regs + APIC_TMCCT, 0, 4);
			EXPECT_SAME("lapic", id, &la, &lb, sizeof(la));
		}
	}

	if (st->irqchip) {
		for (i = 0; i < 2; i++) {
			struct kvm_pic_state pa = st->chip[i].chip.pic;
			struct kvm_pic_state pb = now->chip[i].chip.pic;

			/* The PIT pulses IRQ0 at any time: its edge bit moves. */
			if (i == 0 && st->pit) {
				pa.last_irr &= ~1;
				pb.last_irr &= ~1;
			}
			EXPECT_SAME("pic", i, &pa, &pb, sizeof(pa));
		}
		{
			struct kvm_ioapic_state ia = st->chip[2].chip.ioapic;
			struct kvm_ioapic_state ib = now->chip[2].chip.ioapic;

			if (st->pit) {
				ia.irr &= ~1;
				ib.irr &= ~1;
			}
			EXPECT_SAME("ioapic", 2, &ia, &ib, sizeof(ia));
		}
	}
	if (st->pit) {
		struct kvm_pit_state2 pa = st->pit2, pb = now->pit2;

		EXPECT_EQ(pa.flags, pb.flags);
		for (i = 0; i < 3; i++) {
			/* Reloaded at KVM_SET_PIT2: only the load time moves. */
			EXPECT_GE(pb.channels[i].count_load_time,
				  pa.channels[i].count_load_time) TH_LOG("PIT ch %u", i);
			pa.channels[i].count_load_time = 0;
			pb.channels[i].count_load_time = 0;
			EXPECT_SAME("pit channel", i, &pa.channels[i],
				    &pb.channels[i], sizeof(pa.channels[i]));
		}
	}
	/* The clock continues: never back, not by seconds. */
	EXPECT_GE(now->clock.clock, st->clock.clock);
	EXPECT_LT(now->clock.clock, st->clock.clock + CLOCK_JUMP_MAX);
	EXPECT_EQ(st->clock.flags & KVM_CLOCK_TSC_STABLE,
		  now->clock.flags & KVM_CLOCK_TSC_STABLE);
}

/* Save A, build B, restore, check B; returns B (A is freed). */
static struct kvm_vm *migrate(struct __test_metadata *_metadata,
			      struct kvm_vm *a, struct vm_state *st, bool ran[])
{
	struct vm_state *now = calloc(1, sizeof(*now));
	bool none[3] = { false, false, false };
	uint64_t khz;
	struct kvm_vm *b;
	int r;

	TEST_ASSERT(now, "out of memory");
	r = ioctl(a->vcpus[0]->fd, KVM_GET_TSC_KHZ, 0);
	khz = r > 0 ? (uint64_t)r : 4000000;
	save_vm(a, st, ran);
	b = create_dest(a, st);
	kvm_vm_free(a);
	restore_vm(b, st);

	now->nr = st->nr;
	now->irqchip = st->irqchip;
	now->pit = st->pit;
	save_vm(b, now, none);
	compare_vm(_metadata, b, st, now, khz);
	for (r = 0; r < (int)now->nr; r++) {
		free(now->v[r].xsave);
		free(now->v[r].msrs);
	}
	free(now);
	return b;
}

static void free_state(struct vm_state *st)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		free(st->v[i].xsave);
		free(st->v[i].msrs);
	}
	free(st);
}

/* ---- guest side: vm_to_vm ---- */

static struct pvti guest_pvti __attribute__((aligned(64)));
static uint64_t guest_xcr0;		/* host: what XCR0 to use */
static bool guest_rdtscp;		/* host: TSC_AUX is there */
static volatile uint64_t vec_count[256];
static uint8_t xs_a[1024] __attribute__((aligned(64)));
static uint8_t xs_b[1024] __attribute__((aligned(64)));
static uint64_t pattern[512];
static uint64_t fp_init[32] __attribute__((aligned(32)));

static const uint64_t dr_vals[4] = {
	0x7fff0000, 0x7fff1000, 0x7fff2000, 0x7fff3000,
};
#define GUEST_DR7		0x4ffULL	/* L0-3, G0-3, bit 10 */

static const struct { uint32_t idx; uint64_t val; } guest_msrs[] = {
	{ MSR_STAR, 0x0023001000000000ULL },
	{ MSR_LSTAR, 0xffffffff81000000ULL },
	{ MSR_CSTAR, 0xffffffff81000040ULL },
	{ MSR_SYSCALL_MASK, 0x47700 },
	{ MSR_KERNEL_GS_BASE, 0xffff888000001000ULL },
	{ MSR_IA32_SYSENTER_CS, 0x10 },
	/* 32 bits: KVM keeps only those for a guest with AMD's CPUID. */
	{ MSR_IA32_SYSENTER_ESP, 0x88002000 },
	{ MSR_IA32_SYSENTER_EIP, 0x81000080 },
	{ MSR_IA32_CR_PAT, GUEST_PAT },
};

static void count_irq(struct ex_regs *regs)
{
	vec_count[regs->vector]++;
	if (regs->vector >= 0x20)
		xapic_write(APIC_EOI, 0);
}

static void xsave_to(uint8_t *buf)
{
	__asm__ __volatile__("xsave (%0)"
			     : : "r"(buf), "a"((uint32_t)guest_xcr0),
				 "d"((uint32_t)(guest_xcr0 >> 32))
			     : "memory");
}

static void load_fpu(void)
{
	uint32_t mxcsr = 0x3f80;	/* round down, all masked */

	/* CR4.OSXSAVE and XCR0 were set by the host (KVM_SET_XCRS). */
	__asm__ __volatile__("fninit; fld1; fldpi; fldl2t; ldmxcsr %0"
			     : : "m"(mxcsr));
#define LD(n)	__asm__ __volatile__("movdqu %0, %%xmm" #n		\
				     : : "m"(fp_init[(2 * (n)) % 32]))
	LD(0); LD(1); LD(2); LD(3); LD(4); LD(5); LD(6); LD(7);
	LD(8); LD(9); LD(10); LD(11); LD(12); LD(13); LD(14); LD(15);
#undef LD
	if (guest_xcr0 & XFEATURE_MASK_YMM) {
#define LDY(n)	__asm__ __volatile__("vmovdqu %0, %%ymm" #n		\
				     : : "m"(fp_init[(4 * (n) + 1) % 29]))
		LDY(0); LDY(1); LDY(2); LDY(3); LDY(4); LDY(5); LDY(6);
		LDY(7); LDY(8); LDY(9); LDY(10); LDY(11); LDY(12); LDY(13);
		LDY(14); LDY(15);
#undef LDY
	}
}

#define GET_DR(n, v)	__asm__ __volatile__("mov %%dr" #n ", %0" : "=r"(v))
#define SET_DR(n, v)	__asm__ __volatile__("mov %0, %%dr" #n : : "r"(v))

static void guest_vm_to_vm(void)
{
	uint64_t t_a, t_b, v, i, spins;
	unsigned int k;

	/* PICs initialised as Linux does, everything masked. */
	outb(0x20, 0x11); outb(0x21, 0x30); outb(0x21, 4); outb(0x21, 1);
	outb(0xa0, 0x11); outb(0xa1, 0x38); outb(0xa1, 2); outb(0xa1, 1);
	outb(0x21, 0xff); outb(0xa1, 0xff);

	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | APIC_SPURIOUS_VEC);
	xapic_write(APIC_LVT0, APIC_LVT_MASKED);
	xapic_write(APIC_TASKPRI, 0);
	/* PIT (GSI 0) on IOAPIC pin 0; a masked level entry on pin 9. */
	ioapic_set_rte(0, V_PIT, 0);
	ioapic_set_rte(9, 0x99 | RTE_LEVEL | RTE_MASKED | RTE_POLARITY_LOW, 1);
	outb(0x43, 0x34);
	outb(0x40, PIT_COUNT_100HZ & 0xff);
	outb(0x40, PIT_COUNT_100HZ >> 8);
	xapic_write(APIC_TDCR, APIC_TDCR_DIV1);
	xapic_write(APIC_LVTT, APIC_LVT_PERIODIC | V_TIMER);
	xapic_write(APIC_TMICT, TIMER_COUNT);

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&guest_pvti | 1);
	for (k = 0; k < ARRAY_SIZE(guest_msrs); k++)
		wrmsr(guest_msrs[k].idx, guest_msrs[k].val);
	if (guest_rdtscp)
		wrmsr(MSR_TSC_AUX, 0x1234);
	v = dr_vals[0];
	SET_DR(0, v);
	v = dr_vals[1];
	SET_DR(1, v);
	v = dr_vals[2];
	SET_DR(2, v);
	v = dr_vals[3];
	SET_DR(3, v);
	v = GUEST_DR7;
	SET_DR(7, v);
	for (i = 0; i < ARRAY_SIZE(pattern); i++)
		pattern[i] = i * 0x9e3779b97f4a7c15ULL;

	/* A PIT tick is in the LAPIC's IRR (IF=0) before the stop. */
	for (spins = 0; spins < 1000000ULL; spins++)
		if (xapic_read(APIC_IRR + (V_PIT / 32) * 0x10) &
		    (1u << (V_PIT % 32)))
			break;
	GUEST_ASSERT(spins < 1000000ULL);

	load_fpu();
	xsave_to(xs_a);
	t_a = pvclock_read(&guest_pvti, NULL, NULL);
	GUEST_SYNC_ARGS(1, t_a, 0, 0);

	/* ---- on B from here ---- */
	t_b = pvclock_read(&guest_pvti, NULL, NULL);
	xsave_to(xs_b);
	/*
	 * All of the legacy area but the x87 FCS and FDS selectors (bytes
	 * 12-13, 20-21): XSAVE without REX.W stores them on CPUs that do not
	 * deprecate them (Core 2), and the host's 64-bit XSAVE image that
	 * KVM_GET_XSAVE returns has no room for them (stock KVM loses them
	 * alike).
	 */
	for (k = 0; k < 416; k++)
		if (k != 12 && k != 13 && k != 20 && k != 21)
			GUEST_ASSERT_EQ(xs_a[k], xs_b[k]);
	if (guest_xcr0 & XFEATURE_MASK_YMM)
		for (k = 576; k < 832; k++)
			GUEST_ASSERT_EQ(xs_a[k], xs_b[k]);
	GUEST_ASSERT_EQ(*(uint64_t *)&xs_a[512], *(uint64_t *)&xs_b[512]);
	GUEST_ASSERT_EQ(guest_xcr0, xgetbv(0));
	GET_DR(0, v); GUEST_ASSERT_EQ(dr_vals[0], v);
	GET_DR(1, v); GUEST_ASSERT_EQ(dr_vals[1], v);
	GET_DR(2, v); GUEST_ASSERT_EQ(dr_vals[2], v);
	GET_DR(3, v); GUEST_ASSERT_EQ(dr_vals[3], v);
	GET_DR(7, v); GUEST_ASSERT_EQ(GUEST_DR7, v);
	for (k = 0; k < ARRAY_SIZE(guest_msrs); k++)
		GUEST_ASSERT_EQ(guest_msrs[k].val, rdmsr(guest_msrs[k].idx));
	if (guest_rdtscp)
		GUEST_ASSERT_EQ(0x1234, rdmsr(MSR_TSC_AUX));
	for (i = 0; i < ARRAY_SIZE(pattern); i++)
		GUEST_ASSERT_EQ(i * 0x9e3779b97f4a7c15ULL, pattern[i]);
	GUEST_ASSERT(t_b >= t_a);
	GUEST_ASSERT(t_b - t_a < CLOCK_JUMP_MAX);
	GUEST_ASSERT_EQ(ioapic_read(IOAPIC_REDTBL_LO(9)),
			0x99 | RTE_LEVEL | RTE_MASKED | RTE_POLARITY_LOW);
	GUEST_ASSERT_EQ(inb(0x21), 0xff);

	/* The migrated PIT tick, then new ticks and the LAPIC timer. */
	for (i = 0; i < 1000; i++) {
		if (vec_count[V_TIMER] >= 1 && vec_count[V_PIT] >= 4)
			break;
		__asm__ __volatile__("sti; hlt; cli" : : : "memory");
	}
	GUEST_SYNC_ARGS(2, vec_count[V_TIMER], vec_count[V_PIT], i);
	GUEST_ASSERT(pvclock_read(&guest_pvti, NULL, NULL) > t_b);
}

static void watchdog(int sig)
{
}

static void run_sync(struct __test_metadata *_metadata, struct kvm_vcpu *vcpu,
		     struct ucall *uc, uint64_t val)
{
	int r = vcpu_run_timed(vcpu, WATCHDOG_MS, SIGUSR1);

	ASSERT_EQ(0, r) TH_LOG("KVM_RUN: errno %d (watchdog?)", errno);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, uc))
		TH_LOG("waiting for SYNC %lu: %s", (unsigned long)val,
		       exit_details(vcpu));
	ASSERT_EQ(val, uc->args[0]);
}

static void install_watchdog(void)
{
	struct sigaction sa = { .sa_handler = watchdog };

	sigaction(SIGUSR1, &sa, NULL);
}

static uint64_t supported_xcr0(void)
{
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid2_find(c, 0xd, 0);
	uint64_t x = e ? e->eax | ((uint64_t)e->edx << 32) : 0;

	free(c);
	return x;
}

static bool supported_rdtscp(void)
{
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid2_find(c, 0x80000001, 0);
	bool r = e && (e->edx & CPUID_EXT1_EDX_RDTSCP);

	free(c);
	return r;
}

TEST(vm_to_vm)
{
	bool ran[3] = { true, false, false };
	struct kvm_pit_config pc = { .flags = 0 };
	struct kvm_vcpu *v0, *v1;
	struct kvm_vm *a, *b;
	struct vm_state *st;
	struct ucall uc;
	uint64_t x = supported_xcr0();
	unsigned int i;

	init_globals();
	install_watchdog();
	if (!(x & XFEATURE_MASK_SSE))
		SKIP(return, "no XSAVE with SSE");
	st = calloc(1, sizeof(*st));
	ASSERT_NE(NULL, st);
	guest_xcr0 = x & (XFEATURE_MASK_FP | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM);
	guest_rdtscp = supported_rdtscp();
	TH_LOG("xcr0 0x%llx rdtscp %d sregs2 %d xsave size %d",
	       (unsigned long long)guest_xcr0, guest_rdtscp, use_sregs2,
	       xsave_size);
	for (i = 0; i < ARRAY_SIZE(fp_init); i++)
		fp_init[i] = 0x0123456789abcdefULL * (i + 1) ^ ((uint64_t)i << 56);

	a = vm_irqchip_vcpu(&v0, guest_vm_to_vm, count_irq);
	ASSERT_EQ(0, ioctl(a->fd, KVM_CREATE_PIT2, &pc));
	/* vCPU 1: created as QEMU does, never started (UNINITIALIZED). */
	v1 = vm_vcpu_add(a, 1, guest_vm_to_vm);
	free(vcpu_set_supported_cpuid(v0));
	free(vcpu_set_supported_cpuid(v1));
	{
		struct kvm_xcrs xc = { .nr_xcrs = 1 };
		struct kvm_sregs sr;

		vcpu_sregs_get(v0, &sr);
		sr.cr4 |= X86_CR4_OSXSAVE;
		vcpu_sregs_set(v0, &sr);
		xc.xcrs[0].value = guest_xcr0;
		VCPU_IOCTL(v0, KVM_SET_XCRS, &xc);
	}
	sync_global_to_guest(a, guest_xcr0);
	sync_global_to_guest(a, guest_rdtscp);
	sync_global_to_guest(a, fp_init);

	run_sync(_metadata, v0, &uc, 1);
	st->nr = 2;
	st->irqchip = st->pit = true;
	b = migrate(_metadata, a, st, ran);
	EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, st->v[1].mp.mp_state);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, st->v[0].mp.mp_state);
	EXPECT_EQ(1, st->v[0].xcrs.nr_xcrs);
	EXPECT_EQ(guest_xcr0, st->v[0].xcrs.xcrs[0].value);
	EXPECT_EQ(GUEST_DR7, st->v[0].dbg.dr7);
	EXPECT_EQ(V_PIT, st->chip[2].chip.ioapic.redirtbl[0].bits & 0xff);
	EXPECT_EQ(2, st->pit2.channels[0].mode);
	EXPECT_EQ(PIT_COUNT_100HZ, st->pit2.channels[0].count);
	EXPECT_EQ(TIMER_COUNT, lapic_reg(&st->v[0].lapic, APIC_TMICT));

	run_sync(_metadata, b->vcpus[0], &uc, 2);
	TH_LOG("on B: %llu timer, %llu PIT interrupts after %llu halts",
	       (unsigned long long)uc.args[1], (unsigned long long)uc.args[2],
	       (unsigned long long)uc.args[3]);
	EXPECT_LE(1, uc.args[1]);
	EXPECT_LE(4, uc.args[2]);
	vcpu_expect_done(b->vcpus[0]);
	kvm_vm_free(b);
	free_state(st);
}

/* ---- pending_events ---- */

static volatile uint64_t ev_count, ev_vector, ev_error, ev_cr2, nmi_count;

static void record_exc(struct ex_regs *regs)
{
	uint64_t cr2;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	ev_count++;
	ev_vector = regs->vector;
	ev_error = regs->error_code;
	ev_cr2 = cr2;
}

static void record_nmi(struct ex_regs *regs)
{
	nmi_count++;
}

static void guest_events(void)
{
	uint64_t n;

	GUEST_SYNC(1);
	/* A pending or injected exception arrived at the last entry. */
	GUEST_SYNC_ARGS(2, ev_count, ev_vector, ev_error);
	GUEST_SYNC_ARGS(3, ev_cr2, 0, 0);
	/* NMI pending but masked: nothing until an IRET. */
	GUEST_SYNC_ARGS(4, nmi_count, 0, 0);
	__asm__ __volatile__("mov %%ss, %%eax; push %%rax; push %%rsp;"
			     "addq $8, (%%rsp); pushfq; mov %%cs, %%eax;"
			     "push %%rax; lea 1f(%%rip), %%rax; push %%rax;"
			     "iretq; 1:" : : : "rax", "memory");
	n = nmi_count;
	GUEST_SYNC_ARGS(5, n, 0, 0);
	/* The injected IRQ (with a shadow) arrived at the last entry. */
	GUEST_SYNC_ARGS(6, ev_count, ev_vector, 0);
}

static struct kvm_vm *events_vm(struct kvm_vcpu **vcpu, bool payload)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_events);

	if (payload)
		enable_payload(vm);
	vm_install_exception_handler(vm, PF_VECTOR, record_exc);
	vm_install_exception_handler(vm, GP_VECTOR, record_exc);
	vm_install_exception_handler(vm, V_IRQ, record_exc);
	vm_install_exception_handler(vm, NMI_VECTOR, record_nmi);
	return vm;
}

/* Finish the last exit's port I/O without running the guest. */
static void complete_io(struct kvm_vcpu *vcpu)
{
	vcpu->run->immediate_exit = 1;
	TEST_ASSERT(__vcpu_run(vcpu) == -1 && errno == EINTR,
		    "KVM_RUN with immediate_exit: %d", errno);
	vcpu->run->immediate_exit = 0;
}

static void set_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	VCPU_IOCTL(vcpu, KVM_SET_VCPU_EVENTS, ev);
}

TEST(pending_events)
{
	struct vm_state *st = calloc(1, sizeof(*st));
	bool ran[3] = { true, false, false };
	bool payload = kvm_check_cap(KVM_CAP_EXCEPTION_PAYLOAD) > 0;
	bool amd = xkvm_vendor_is_amd();
	struct kvm_vcpu_events ev;
	struct kvm_regs regs;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	ASSERT_NE(NULL, st);
	init_globals();
	install_watchdog();
	st->nr = 1;

	/* 1. A pending #PF whose CR2 is still a payload. */
	if (payload) {
		vm = events_vm(&vcpu, true);
		st->payload = true;
		run_sync(_metadata, vcpu, &uc, 1);
		complete_io(vcpu);
		VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
		EXPECT_EQ(KVM_VCPUEVENT_VALID_PAYLOAD,
			  ev.flags & KVM_VCPUEVENT_VALID_PAYLOAD);
		ev.flags = KVM_VCPUEVENT_VALID_PAYLOAD;
		ev.exception.pending = 1;
		ev.exception.injected = 0;
		ev.exception.nr = PF_VECTOR;
		ev.exception.has_error_code = 1;
		ev.exception.error_code = 2;
		ev.exception_has_payload = 1;
		ev.exception_payload = 0xdead000;
		set_events(vcpu, &ev);
		vm = migrate(_metadata, vm, st, (bool[3]){ false });
		EXPECT_EQ(1, st->v[0].events.exception.pending);
		EXPECT_EQ(0, st->v[0].events.exception.injected);
		EXPECT_EQ(1, st->v[0].events.exception_has_payload);
		EXPECT_EQ(0xdead000, st->v[0].events.exception_payload);
		vcpu = vm->vcpus[0];
		run_sync(_metadata, vcpu, &uc, 2);
		EXPECT_EQ(1, uc.args[1]);
		EXPECT_EQ(PF_VECTOR, uc.args[2]);
		EXPECT_EQ(2, uc.args[3]);
		run_sync(_metadata, vcpu, &uc, 3);
		EXPECT_EQ(0xdead000, uc.args[1]);
		kvm_vm_free(vm);
	} else {
		TH_LOG("KVM_CAP_EXCEPTION_PAYLOAD is 0: payload case skipped");
	}

	/* 2. Without the capability: an injected #GP with its error code. */
	st->payload = false;
	vm = events_vm(&vcpu, false);
	run_sync(_metadata, vcpu, &uc, 1);
	complete_io(vcpu);
	VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
	EXPECT_EQ(0, ev.flags & KVM_VCPUEVENT_VALID_PAYLOAD);
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = GP_VECTOR;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 0x18;
	set_events(vcpu, &ev);
	vm = migrate(_metadata, vm, st, (bool[3]){ false });
	EXPECT_EQ(1, st->v[0].events.exception.injected);
	EXPECT_EQ(GP_VECTOR, st->v[0].events.exception.nr);
	EXPECT_EQ(0x18, st->v[0].events.exception.error_code);
	vcpu = vm->vcpus[0];
	run_sync(_metadata, vcpu, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(GP_VECTOR, uc.args[2]);
	EXPECT_EQ(0x18, uc.args[3]);
	run_sync(_metadata, vcpu, &uc, 3);

	/* 3. A pending NMI with NMIs masked: migrated twice over. */
	complete_io(vcpu);
	VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.nmi.pending = 1;
	ev.nmi.masked = 1;
	set_events(vcpu, &ev);
	vm = migrate(_metadata, vm, st, (bool[3]){ false });
	EXPECT_EQ(1, st->v[0].events.nmi.pending);
	EXPECT_EQ(1, st->v[0].events.nmi.masked);
	vcpu = vm->vcpus[0];
	run_sync(_metadata, vcpu, &uc, 4);
	EXPECT_EQ(0, uc.args[1]);
	vm = migrate(_metadata, vm, st, ran);
	EXPECT_EQ(1, st->v[0].events.nmi.pending);
	EXPECT_EQ(1, st->v[0].events.nmi.masked);
	vcpu = vm->vcpus[0];
	run_sync(_metadata, vcpu, &uc, 5);
	EXPECT_EQ(1, uc.args[1]);

	/*
	 * 4. An injected IRQ, inside an interrupt shadow where VT-x allows it.
	 * An interrupt being delivered was taken with RFLAGS.IF set, and
	 * VT-x refuses an entry that injects one with IF clear, or with STI
	 * or MOV SS blocking (stock kvm_intel fails both with reason
	 * 0x80000021): IF is set, and on VT-x the IRQ migrates without the
	 * shadow.
	 */
	complete_io(vcpu);
	vcpu_regs_get(vcpu, &regs);
	regs.rflags |= X86_EFLAGS_IF;
	VCPU_IOCTL(vcpu, KVM_SET_REGS, &regs);
	VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
	EXPECT_EQ(0, ev.nmi.pending);
	EXPECT_EQ(0, ev.nmi.masked);
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.injected = 1;
	ev.interrupt.nr = V_IRQ;
	ev.interrupt.soft = 0;
	ev.interrupt.shadow = amd ? KVM_X86_SHADOW_INT_STI : 0;
	set_events(vcpu, &ev);
	vm = migrate(_metadata, vm, st, (bool[3]){ false });
	EXPECT_EQ(1, st->v[0].events.interrupt.injected);
	EXPECT_EQ(V_IRQ, st->v[0].events.interrupt.nr);
	/* AMD-V has one shadow bit: KVM reports it as STI | MOV_SS. */
	EXPECT_EQ(amd ? KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS :
		  0, st->v[0].events.interrupt.shadow);
	vcpu = vm->vcpus[0];
	run_sync(_metadata, vcpu, &uc, 6);
	EXPECT_EQ(2, uc.args[1]);	/* the #GP, then this one */
	EXPECT_EQ(V_IRQ, uc.args[2]);
	VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
	EXPECT_EQ(0, ev.interrupt.injected);
	EXPECT_EQ(0, ev.interrupt.shadow);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
	free_state(st);
}

/* ---- mp_state ---- */

static void guest_halt(void)
{
	GUEST_SYNC(1);
	__asm__ __volatile__("cli; hlt" : : : "memory");
	GUEST_SYNC_ARGS(2, nmi_count, 0, 0);
}

static uint32_t get_mp(struct kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = 0xdead };

	VCPU_IOCTL(vcpu, KVM_GET_MP_STATE, &mp);
	return mp.mp_state;
}

static int set_mp(struct kvm_vcpu *vcpu, uint32_t state)
{
	struct kvm_mp_state mp = { .mp_state = state };

	return ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
}

TEST(mp_state)
{
	struct vm_state *st = calloc(1, sizeof(*st));
	struct kvm_vcpu_events ev;
	struct kvm_vcpu *v0, *v1;
	struct kvm_sregs sregs;
	struct kvm_vm *vm;
	struct ucall uc;
	int r;

	ASSERT_NE(NULL, st);
	init_globals();
	install_watchdog();
	vm = vm_irqchip_vcpu(&v0, guest_halt, count_irq);
	vm_install_exception_handler(vm, NMI_VECTOR, record_nmi);
	v1 = vm_vcpu_add_raw(vm, 1);
	vm_vcpu_add_raw(vm, 2);
	run_sync(_metadata, v0, &uc, 1);

	/* vCPU 0 halts with IF=0: KVM_RUN blocks until the watchdog. */
	r = vcpu_run_timed(v0, 300, SIGUSR1);
	ASSERT_EQ(-1, r);
	ASSERT_EQ(EINTR, errno);
	EXPECT_EQ(KVM_MP_STATE_HALTED, get_mp(v0));
	/* vCPU 1 got an INIT; vCPU 2 was never started. */
	ASSERT_EQ(0, set_mp(v1, KVM_MP_STATE_INIT_RECEIVED));

	st->nr = 3;
	st->irqchip = true;
	vm = migrate(_metadata, vm, st, (bool[3]){ false });
	EXPECT_EQ(KVM_MP_STATE_HALTED, st->v[0].mp.mp_state);
	EXPECT_EQ(KVM_MP_STATE_INIT_RECEIVED, st->v[1].mp.mp_state);
	EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, st->v[2].mp.mp_state);
	v0 = vm->vcpus[0];
	v1 = vm->vcpus[1];

	/* Still halted on B: nothing wakes it ... */
	r = vcpu_run_timed(v0, 300, SIGUSR1);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(KVM_MP_STATE_HALTED, get_mp(v0));
	/* ... but an NMI does, once. */
	ASSERT_EQ(0, ioctl(v0->fd, KVM_NMI, 0));
	run_sync(_metadata, v0, &uc, 2);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp(v0));

	/* INIT_RECEIVED on B: KVM_RUN waits for a SIPI (EAGAIN). */
	r = vcpu_run_timed(v1, 300, SIGUSR1);
	EXPECT_EQ(-1, r);
	EXPECT_TRUE(errno == EAGAIN || errno == EINTR) TH_LOG("errno %d", errno);
	EXPECT_EQ(KVM_MP_STATE_INIT_RECEIVED, get_mp(v1));
	/* SIPI_RECEIVED as a destination restores it: starts at vector << 8. */
	VCPU_IOCTL(v1, KVM_GET_VCPU_EVENTS, &ev);
	ev.flags = KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ev.sipi_vector = 0x34;
	set_events(v1, &ev);
	ASSERT_EQ(0, set_mp(v1, KVM_MP_STATE_SIPI_RECEIVED));
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp(v1));
	vcpu_sregs_get(v1, &sregs);
	EXPECT_EQ(0x3400, sregs.cs.selector);
	EXPECT_EQ(0x34000, sregs.cs.base);

	/* A pending SMI blocks INIT/SIPI states, and the reverse. */
	if (vm_check_cap(vm, KVM_CAP_X86_SMM) > 0) {
		struct kvm_vcpu *v2 = vm->vcpus[2];

		VCPU_IOCTL(v2, KVM_GET_VCPU_EVENTS, &ev);
		ev.flags = KVM_VCPUEVENT_VALID_SMM;
		ev.smi.pending = 1;
		set_events(v2, &ev);
		EXPECT_EQ(-1, set_mp(v2, KVM_MP_STATE_INIT_RECEIVED));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(-1, set_mp(v2, KVM_MP_STATE_SIPI_RECEIVED));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(KVM_MP_STATE_UNINITIALIZED, get_mp(v2));
		ev.smi.pending = 0;
		set_events(v2, &ev);
		ASSERT_EQ(0, set_mp(v2, KVM_MP_STATE_INIT_RECEIVED));
		ev.smi.pending = 1;
		EXPECT_EQ(-1, ioctl(v2->fd, KVM_SET_VCPU_EVENTS, &ev));
		EXPECT_EQ(EINVAL, errno);
	} else {
		TH_LOG("KVM_CAP_X86_SMM is 0: SMI cases skipped");
	}
	/* Values that are no x86 state; nothing changes. */
	EXPECT_EQ(-1, set_mp(v0, KVM_MP_STATE_CHECK_STOP));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_mp(v0, KVM_MP_STATE_OPERATING));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, get_mp(v0));
	vcpu_expect_done(v0);
	kvm_vm_free(vm);
	free_state(st);
}

/* ---- bad inputs not covered elsewhere ---- */

static void guest_nothing(void)
{
	GUEST_SYNC(1);
}

TEST(bad_inputs)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_debugregs d, back;
	struct kvm_vcpu_events ev;
	struct kvm_pit_config pc = { .flags = 0 };
	struct kvm_pit_state2 ps;
	struct ucall uc;

	init_globals();
	install_watchdog();
	vm = vm_create_with_one_vcpu(&vcpu, guest_nothing);
	run_sync(_metadata, vcpu, &uc, 1);

	/* KVM_SET_DEBUGREGS: flags, bits 63:32 of DR6 and DR7. */
	VCPU_IOCTL(vcpu, KVM_GET_DEBUGREGS, &d);
	EXPECT_EQ(0, d.flags);
	d.db[0] = 0x1000;
	d.dr7 = 0x401;
	VCPU_IOCTL(vcpu, KVM_SET_DEBUGREGS, &d);
	back = d;
	back.flags = 1;
	back.db[0] = 0x2000;
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &back));
	EXPECT_EQ(EINVAL, errno);
	back = d;
	back.dr6 |= 1ULL << 32;
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &back));
	EXPECT_EQ(EINVAL, errno);
	back = d;
	back.dr7 |= 1ULL << 40;
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &back));
	EXPECT_EQ(EINVAL, errno);
	VCPU_IOCTL(vcpu, KVM_GET_DEBUGREGS, &back);
	EXPECT_EQ(0x1000, back.db[0]);
	EXPECT_EQ(0x401, back.dr7);

	/* KVM_SET_SREGS2: unknown flags; PDPTRs outside PAE paging. */
	if (use_sregs2) {
		struct kvm_sregs2 s, s2;

		VCPU_IOCTL(vcpu, KVM_GET_SREGS2, &s);
		EXPECT_EQ(0, s.flags);	/* long mode: no PDPTRs */
		s2 = s;
		s2.flags = 2;
		EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_SREGS2, &s2));
		EXPECT_EQ(EINVAL, errno);
		s2 = s;
		s2.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
		EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_SREGS2, &s2));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_SREGS2, &s));
	} else {
		TH_LOG("KVM_CAP_SREGS2 is 0");
	}

	/* Payload mode: the vector rules apply to pending exceptions. */
	if (kvm_check_cap(KVM_CAP_EXCEPTION_PAYLOAD) > 0) {
		enable_payload(vm);
		VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
		ev.flags = KVM_VCPUEVENT_VALID_PAYLOAD;
		ev.exception.pending = 1;
		ev.exception.nr = 32;
		EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
		EXPECT_EQ(EINVAL, errno);
		ev.exception.nr = NMI_VECTOR;
		EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
		EXPECT_EQ(EINVAL, errno);
		/* Without VALID_PAYLOAD, "pending" and the payload are dropped. */
		ev.flags = 0;
		ev.exception.nr = 32;
		ev.exception_has_payload = 1;
		ev.exception_payload = 0x1234;
		EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
		VCPU_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &ev);
		EXPECT_EQ(0, ev.exception.pending);
		EXPECT_EQ(0, ev.exception.injected);
		EXPECT_EQ(0, ev.exception_has_payload);
	} else {
		TH_LOG("KVM_CAP_EXCEPTION_PAYLOAD is 0");
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);

	/*
	 * KVM_SET_PIT2 does not check flags: KVM stores them as given and
	 * KVM_GET_PIT2 returns them.
	 */
	vm = vm_create_barebones();
	ASSERT_EQ(0, ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL));
	ASSERT_EQ(0, ioctl(vm->fd, KVM_CREATE_PIT2, &pc));
	VM_IOCTL(vm, KVM_GET_PIT2, &ps);
	ps.flags = 0x80000000;
	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_PIT2, &ps));
	VM_IOCTL(vm, KVM_GET_PIT2, &ps);
	EXPECT_EQ(0x80000000, ps.flags);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
