// SPDX-License-Identifier: GPL-2.0
/*
 * run.c - KVM_RUN for x86: the guest FPU switch, completion of an exit
 * that userspace serviced (IN data, MMIO load data), the run loop around
 * the vendor's enter_guest/handle_exit, and the vendor-neutral handling of
 * the exits that end in userspace (port I/O, HLT, shutdown, entry failure,
 * unexpected exits) or need no emulation (XSETBV, NOP-like instructions).
 *
 * Runs in the vCPU's own thread under xkvm_vcpu.mutex.  Every round of
 * the loop takes requests and does the kernel's entry work (signals,
 * rescheduling, notify-resume: virt/xkvm_entry.c) with interrupts on,
 * then with interrupts off loads the guest FPU if it was taken away,
 * enters guest mode (virt/xkvm_request.c: a request made from then on
 * kicks the vCPU out) and checks once more, then enters the guest.
 * Guest XCR0 and PKRU are live only between entry and exit.
 */
#include <linux/sched/signal.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/pkru.h>
#include <asm/trapnr.h>

#include <xkvm/xkvm_compat.h>
#include <xkvm/xkvm_io_bus.h>
#include <xkvm_x86.h>
#include "dev/lapic.h"

static u64 xkvm_host_xcr0;

/*
 * Finish the instruction whose exit userspace has just serviced.  Returns
 * like an exit handler: 0 when that makes another exit at once.
 */
static int xkvm_x86_complete_userspace(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	u64 val = 0;

	/*
	 * Userspace moved RIP (KVM_SET_REGS): the instruction is not
	 * finished, as on KVM; its IN data does not reach the registers.
	 */
	if ((p->kind == XKVM_COMPLETE_PIO_IN || p->kind == XKVM_COMPLETE_PIO_OUT) &&
	    vcpu->arch.rip != p->exit_rip) {
		p->kind = XKVM_COMPLETE_NONE;
		return 1;
	}
	switch (p->kind) {
	case XKVM_COMPLETE_PIO_IN:
		memcpy(&val, vcpu->pio_data, p->size);
		xkvm_x86_write_reg(vcpu, XKVM_REG_RAX, false, p->size, val);
		break;
	case XKVM_COMPLETE_PIO_OUT:
		break;
	case XKVM_COMPLETE_NONE:
		return 1;
	default:
		return xkvm_x86_emulate_resume(vcpu);
	}
	vcpu->arch.rip = p->next_rip;
	p->kind = XKVM_COMPLETE_NONE;
	return 1;
}

/*
 * Port I/O an in-kernel device serves: the irqchip (PIC, PIT) first, then
 * the devices on the PIO bus (ioeventfds, coalesced zones); done, RIP
 * moves on.
 */
static bool xkvm_x86_pio_in_kernel(struct xkvm_vcpu *vcpu,
				   const struct xkvm_x86_io *io)
{
	u32 val = vcpu->arch.regs[XKVM_REG_RAX];

	if (!xkvm_x86_irqchip_pio(vcpu, io->port, io->in, io->size, &val) &&
	    !(io->in ? xkvm_io_bus_read(vcpu, XKVM_PIO_BUS, io->port, io->size, &val) :
		       xkvm_io_bus_write(vcpu, XKVM_PIO_BUS, io->port, io->size, &val)))
		return false;
	if (io->in)
		xkvm_x86_write_reg(vcpu, XKVM_REG_RAX, false, io->size, val);
	vcpu->arch.rip = io->next_rip;
	return true;
}

int xkvm_x86_exit_io(struct xkvm_vcpu *vcpu, const struct xkvm_x86_io *io)
{
	struct kvm_run *run = vcpu->run;

	xkvm_x86_stat_inc(vcpu, exits_io);
	if (io->string)
		return xkvm_x86_emulate_string_io(vcpu, io);
	if (xkvm_x86_pio_in_kernel(vcpu, io))
		return 1;
	xkvm_x86_stat_inc(vcpu, io_exits);

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = io->in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = io->size;
	run->io.port = io->port;
	run->io.count = 1;
	run->io.data_offset = XKVM_PIO_PAGE_OFFSET * PAGE_SIZE;
	/* RIP moves past the instruction at the next KVM_RUN, as on KVM */
	vcpu->arch.pending.kind = io->in ? XKVM_COMPLETE_PIO_IN :
					   XKVM_COMPLETE_PIO_OUT;
	vcpu->arch.pending.size = io->size;
	vcpu->arch.pending.next_rip = io->next_rip;
	vcpu->arch.pending.exit_rip = vcpu->arch.rip;
	if (!io->in)
		memcpy(vcpu->pio_data, &vcpu->arch.regs[XKVM_REG_RAX], io->size);
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_io);

/*
 * HLT: to userspace without an in-kernel LAPIC; with one, the vCPU halts
 * in the kernel (xkvm_x86_vcpu_run blocks it) until it has an interrupt
 * to take, as on KVM.
 */
int xkvm_x86_exit_hlt(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	xkvm_x86_stat_inc(vcpu, exits_hlt);
	xkvm_x86_stat_inc(vcpu, halt_exits);
	vcpu->arch.rip = next_rip;
	if (vcpu->arch.apic) {
		vcpu->arch.mp_state = KVM_MP_STATE_HALTED;
		return 1;
	}
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_hlt);

int xkvm_x86_exit_nop(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	xkvm_x86_stat_inc(vcpu, exits_other);
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_nop);

/* A host interrupt, NMI or SMI made the exit: the host has served it. */
int xkvm_x86_exit_host_intr(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_intr);
	xkvm_x86_stat_inc(vcpu, irq_exits);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_host_intr);

/* The guest can take an interrupt (or an NMI) now: events.c injects it. */
int xkvm_x86_exit_irq_window(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_irq_window);
	xkvm_x86_stat_inc(vcpu, irq_window_exits);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_irq_window);

int xkvm_x86_exit_nmi_window(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_nmi_window);
	xkvm_x86_stat_inc(vcpu, nmi_window_exits);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_nmi_window);

/* No virtual PMU: RDPMC is refused as on KVM without one (#GP). */
int xkvm_x86_exit_rdpmc(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	xkvm_x86_stat_inc(vcpu, exits_other);
	xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_rdpmc);

/* RDTSCP where the hardware cannot let the guest read its own TSC_AUX. */
int xkvm_x86_exit_rdtscp(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs, tsc;
	u32 a, b, c, d;

	xkvm_x86_stat_inc(vcpu, exits_other);
	xkvm_x86_guest_cpuid(vcpu, 0x80000001, 0, &a, &b, &c, &d);
	if (!(d & BIT(27)))
		return xkvm_x86_exit_ud(vcpu);
	tsc = rdtsc() + vcpu->arch.msrs.tsc_offset;
	r[XKVM_REG_RAX] = (u32)tsc;
	r[XKVM_REG_RDX] = tsc >> 32;
	r[XKVM_REG_RCX] = (u32)vcpu->arch.msrs.tsc_aux;
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_rdtscp);

/* An instruction the guest may not run: #UD, as on KVM. */
int xkvm_x86_exit_ud(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_other);
	xkvm_x86_queue_exception(vcpu, X86_TRAP_UD, false, 0);
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_ud);

int xkvm_x86_exit_xsetbv(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs;
	u64 xcr0 = (u32)r[XKVM_REG_RAX] | (r[XKVM_REG_RDX] << 32);

	xkvm_x86_stat_inc(vcpu, exits_xsetbv);
	if ((u32)r[XKVM_REG_RCX] != 0 || xkvm_x86_cpl(vcpu) != 0 ||
	    !xkvm_x86_xcr0_valid(vcpu, xcr0)) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	vcpu->arch.xcr0 = xcr0;
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_xsetbv);

int xkvm_x86_exit_shutdown(struct xkvm_vcpu *vcpu)
{
	/* The vendor has reinitialised its control block; reset as INIT. */
	xkvm_x86_stat_inc(vcpu, exits_shutdown);
	xkvm_x86_reset_regs(vcpu);
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_shutdown);

int xkvm_x86_exit_fail_entry(struct xkvm_vcpu *vcpu, u64 reason)
{
	xkvm_x86_stat_inc(vcpu, exits_other);
	vcpu->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	vcpu->run->fail_entry.hardware_entry_failure_reason = reason;
	vcpu->run->fail_entry.cpu = vcpu->cpu;
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_fail_entry);

int xkvm_x86_exit_unhandled(struct xkvm_vcpu *vcpu, u64 exit_code)
{
	struct kvm_run *run = vcpu->run;

	xkvm_x86_stat_inc(vcpu, exits_other);
	pr_warn_ratelimited("xkvm: vcpu %u: unexpected exit 0x%llx at rip 0x%llx\n",
			    vcpu->vcpu_id, exit_code, vcpu->arch.rip);
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON;
	run->internal.ndata = 2;
	run->internal.data[0] = exit_code;
	run->internal.data[1] = vcpu->cpu;
	return 0;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_unhandled);

/* Guest XCR0 is live only while the guest runs with CR4.OSXSAVE. */
static void xkvm_x86_load_guest_xcr0(struct xkvm_vcpu *vcpu)
{
	if (vcpu->arch.xcr0 == xkvm_host_xcr0)
		return;
	xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
	if (vcpu->arch.state.cr4 & X86_CR4_OSXSAVE)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->arch.xcr0);
}

/*
 * After an exit: the guest may have changed XCR0 without an exit (XSETBV
 * need not be intercepted by every implementation), so the live value is
 * read back; if it is not the host's, it is the guest's, and the host's
 * is restored.
 */
static void xkvm_x86_put_guest_xcr0(struct xkvm_vcpu *vcpu)
{
	u64 live;

	if (!xkvm_host_xcr0)
		return;
	live = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	if (live == xkvm_host_xcr0)
		return;
	vcpu->arch.xcr0 = live;
	xsetbv(XCR_XFEATURE_ENABLED_MASK, xkvm_host_xcr0);
}

/* Requests of other threads, taken with interrupts on before an entry. */
static void xkvm_x86_handle_requests(struct xkvm_vcpu *vcpu)
{
	if (xkvm_check_request(XKVM_REQ_TLB_FLUSH, vcpu))
		vcpu->arch.tlb_flush_pending = true;
	if (xkvm_check_request(XKVM_REQ_NMI, vcpu))
		xkvm_x86_take_queued_nmis(vcpu);
	if (xkvm_check_request(XKVM_REQ_CLOCK_UPDATE, vcpu))
		xkvm_kvmclock_update(vcpu);
	/* the event is looked at by every round anyway */
	xkvm_check_request(XKVM_REQ_EVENT, vcpu);
}

/*
 * PKRU: the host's is the VMM thread's; the guest's is in the CPU only
 * between entry and exit, and only once the guest can use it at all
 * (CR4.PKE, or PKRU in XCR0 for XRSTOR).  WRPKRU and XRSTOR need no exit,
 * so after an exit the live value is the guest's and is read back.
 * Returns whether the guest's PKRU is live for this entry.
 */
static bool xkvm_x86_load_guest_pkru(struct xkvm_vcpu *vcpu)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return false;
	if (!(vcpu->arch.xcr0 & XFEATURE_MASK_PKRU)) {
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		if (!(vcpu->arch.state.cr4 & X86_CR4_PKE))
			return false;
	}
	if (vcpu->arch.pkru != vcpu->arch.host_pkru)
		write_pkru(vcpu->arch.pkru);
	return true;
}

static void xkvm_x86_put_guest_pkru(struct xkvm_vcpu *vcpu)
{
	vcpu->arch.pkru = read_pkru();
	if (vcpu->arch.pkru != vcpu->arch.host_pkru)
		write_pkru(vcpu->arch.host_pkru);
}

/*
 * After an exit handled in the kernel: does userspace want to hear of it
 * (an interrupt window it asked for, a split irqchip's level EOI)?
 */
static int xkvm_x86_exit_to_userspace(struct xkvm_vcpu *vcpu)
{
	int vec = xkvm_lapic_take_eoi_exit(vcpu);

	if (vec >= 0) {
		vcpu->run->exit_reason = KVM_EXIT_IOAPIC_EOI;
		vcpu->run->eoi.vector = vec;
		return 0;
	}
	return xkvm_x86_irq_window_open(vcpu) ? 0 : 1;
}

/* One entry and exit.  Returns like an exit handler. */
static int xkvm_x86_enter_once(struct xkvm_vcpu *vcpu)
{
	bool flush, pkru;
	int r;

	/* userspace must harvest the dirty ring before the guest runs on */
	if (xkvm_dirty_ring_soft_full(vcpu)) {
		vcpu->run->exit_reason = KVM_EXIT_DIRTY_RING_FULL;
		return 0;
	}
	if (xkvm_request_pending(vcpu))
		xkvm_x86_handle_requests(vcpu);
	r = xkvm_vcpu_handle_entry_work(vcpu);
	if (r) {
		xkvm_x86_stat_inc(vcpu, signal_exits);
		return r;
	}
	xkvm_x86_irqchip_prepare(vcpu);
	r = xkvm_shadow_prepare(vcpu);
	if (r)
		return r;

	preempt_disable();
	local_irq_disable();
	/*
	 * The kernel's FPU rule: with interrupts off nothing (preemption, a
	 * softirq's kernel_fpu_begin()) can take the guest's registers away
	 * between this check and the entry.
	 */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();

	xkvm_kvmclock_check_cpu(vcpu);	/* may request a clock update */
	xkvm_vcpu_enter_guest_mode(vcpu);
	if (xkvm_request_pending(vcpu) || xkvm_vcpu_entry_work_pending()) {
		xkvm_vcpu_exit_guest_mode(vcpu);
		local_irq_enable();
		preempt_enable();
		return 1;	/* handled at the top of the next round */
	}

	flush = vcpu->arch.tlb_flush_pending || vcpu->arch.tlb_flush_hw ||
		vcpu->arch.tlb_flush_guest;
	vcpu->arch.tlb_flush_pending = false;
	vcpu->arch.tlb_flush_hw = false;
	vcpu->arch.tlb_flush_guest = false;
	vcpu->arch.stat[XKVM_STAT_tlb_flush] += flush;
	vcpu->arch.has_run = true;
	xkvm_x86_inject_events(vcpu);
	xkvm_x86_load_guest_xcr0(vcpu);
	pkru = xkvm_x86_load_guest_pkru(vcpu);
	xkvm_x86_spec_enter(vcpu);
	xkvm_guest_timing_enter();

	xkvm_x86_ops->enter_guest(vcpu, flush);

	xkvm_x86_spec_exit(vcpu);
	vcpu->arch.state_valid = 0;
	if (pkru)
		xkvm_x86_put_guest_pkru(vcpu);
	xkvm_x86_put_guest_xcr0(vcpu);
	xkvm_vcpu_exit_guest_mode(vcpu);
	xkvm_guest_timing_exit();
	local_irq_enable();
	preempt_enable();

	xkvm_x86_stat_inc(vcpu, exits);
	r = xkvm_x86_ops->handle_exit(vcpu);
	if (r > 0)
		r = xkvm_x86_exit_to_userspace(vcpu);
	return r;
}

/*
 * Sleep until the vCPU may run or something for it came in (requests are
 * taken before and after, so a request alone does not keep it awake),
 * then take INIT/SIPI.
 */
static void xkvm_x86_sleep(struct xkvm_vcpu *vcpu)
{
	if (xkvm_request_pending(vcpu))
		xkvm_x86_handle_requests(vcpu);
	if (!xkvm_arch_vcpu_runnable(vcpu))
		xkvm_vcpu_block(vcpu);
	if (xkvm_request_pending(vcpu))
		xkvm_x86_handle_requests(vcpu);
	xkvm_lapic_accept_events(vcpu);
}

/*
 * A vCPU that is halted or waits for INIT/SIPI: sleep until it may run
 * (no host CPU is spent), then take INIT/SIPI.  Returns like an exit
 * handler; a signal ends KVM_RUN with -EINTR.
 */
static int xkvm_x86_vcpu_wait(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_sleep(vcpu);
	if (vcpu->arch.mp_state == KVM_MP_STATE_HALTED &&
	    xkvm_arch_vcpu_runnable(vcpu))
		vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	if (xkvm_vcpu_handle_entry_work(vcpu)) {
		xkvm_x86_stat_inc(vcpu, signal_exits);
		return -EINTR;
	}
	return 1;
}

/*
 * KVM_RUN on an AP that has not seen INIT yet: wait for an event, take
 * INIT/SIPI, and return -EAGAIN (-EINTR for a signal) for userspace to
 * call again, as KVM does.
 */
static int xkvm_x86_wait_for_init(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_sleep(vcpu);
	if (signal_pending(current)) {
		vcpu->run->exit_reason = KVM_EXIT_INTR;
		xkvm_x86_stat_inc(vcpu, signal_exits);
		return -EINTR;
	}
	return -EAGAIN;
}

int xkvm_x86_vcpu_run(struct xkvm_vcpu *vcpu)
{
	int r;

	do {
		if (vcpu->arch.apic) {
			xkvm_lapic_accept_events(vcpu);
			if (vcpu->arch.mp_state != KVM_MP_STATE_RUNNABLE) {
				r = xkvm_x86_vcpu_wait(vcpu);
				continue;
			}
		}
		r = xkvm_x86_enter_once(vcpu);
	} while (r > 0);
	return r;
}

static void xkvm_x86_post_run(struct xkvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	run->if_flag = !!(vcpu->arch.rflags & X86_EFLAGS_IF);
	run->cr8 = vcpu->arch.apic ? xkvm_lapic_get_cr8(vcpu) : vcpu->arch.cr8;
	run->apic_base = vcpu->arch.apic_base;
	run->ready_for_interrupt_injection = xkvm_x86_ready_for_interrupt(vcpu);
}

int xkvm_arch_vcpu_run(struct xkvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 cr8;
	int r;

	/* the page is shared with userspace: each field is read once */
	cr8 = READ_ONCE(run->cr8);
	run->flags = 0;
	if (READ_ONCE(run->kvm_valid_regs) || READ_ONCE(run->kvm_dirty_regs))
		return -EINVAL;
	/* with an in-kernel LAPIC its TPR is CR8; kvm_run's is only reported */
	if (!vcpu->arch.apic) {
		if (cr8 > 15)
			return -EINVAL;
		vcpu->arch.cr8 = cr8;
	}
	vcpu->arch.request_irq_window = READ_ONCE(run->request_interrupt_window);
	/* userspace ran since the last entry: its data may be in L1D */
	vcpu->arch.l1d_flush = true;
	if (cpu_feature_enabled(X86_FEATURE_OSPKE))
		vcpu->arch.host_pkru = read_pkru();

	if (vcpu->arch.apic && vcpu->arch.mp_state == KVM_MP_STATE_UNINITIALIZED) {
		r = xkvm_run_immediate_exit(run) ? -EINTR :
						   xkvm_x86_wait_for_init(vcpu);
		xkvm_x86_post_run(vcpu);
		return r;
	}

	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, true);
	/* finishing the last exit may need another exit at once, as on KVM */
	r = xkvm_x86_complete_userspace(vcpu);
	if (r > 0)
		r = xkvm_run_immediate_exit(run) ? -EINTR : xkvm_x86_vcpu_run(vcpu);
	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, false);

	xkvm_x86_post_run(vcpu);
	return r;
}

void xkvm_x86_run_init(void)
{
	if (boot_cpu_has(X86_FEATURE_OSXSAVE))
		xkvm_host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
}
