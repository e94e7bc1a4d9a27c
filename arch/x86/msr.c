// SPDX-License-Identifier: GPL-2.0
/*
 * msr.c - model-specific registers as the guest sees them: RDMSR/WRMSR
 * exits and the MSRs whose semantics are vendor-neutral (EFER, APIC base).
 * MSRs stored in the vendor's control block are delegated to
 * xkvm_x86_ops->get_msr/set_msr.  An MSR nobody knows raises #GP in the
 * guest, as KVM does by default.
 *
 * Runs in the vCPU's own thread under xkvm_vcpu.mutex.
 */
#include <asm/msr-index.h>
#include <asm/trapnr.h>
#include <asm/cpufeature.h>

#include <xkvm_x86.h>
#include "dev/lapic.h"

static bool xkvm_guest_has(struct xkvm_vcpu *vcpu, u32 leaf, int reg, int bit)
{
	u32 r[4];

	xkvm_x86_guest_cpuid(vcpu, leaf, 0, &r[0], &r[1], &r[2], &r[3]);
	return r[reg] & BIT(bit);
}

bool xkvm_x86_efer_valid(struct xkvm_vcpu *vcpu, u64 efer)
{
	u64 valid = EFER_SCE;		/* not tied to CPUID, as on KVM */

	if (xkvm_guest_has(vcpu, 0x80000001, 3, 29))	/* LM */
		valid |= EFER_LME | EFER_LMA;
	if (xkvm_guest_has(vcpu, 0x80000001, 3, 20))	/* NX */
		valid |= EFER_NX;
	if (xkvm_guest_has(vcpu, 0x80000001, 3, 25))	/* FFXSR */
		valid |= EFER_FFXSR;
	return !(efer & ~valid);
}

/* EFER bits that exist on this host at all. */
static u64 xkvm_x86_efer_reserved(void)
{
	u64 valid = EFER_SCE | EFER_LME | EFER_LMA;

	if (boot_cpu_has(X86_FEATURE_NX))
		valid |= EFER_NX;
	if (boot_cpu_has(X86_FEATURE_FXSR_OPT))
		valid |= EFER_FFXSR;
	return ~valid;
}

static int xkvm_x86_set_efer(struct xkvm_vcpu *vcpu, u64 efer, bool host)
{
	struct xkvm_x86_state *st = &vcpu->arch.state;

	xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
	if (efer & xkvm_x86_efer_reserved())
		return -EINVAL;
	if (!host) {
		if (!xkvm_x86_efer_valid(vcpu, efer))
			return -EINVAL;
		/* LME cannot change while paging is on */
		if ((st->cr0 & X86_CR0_PG) &&
		    ((st->efer ^ efer) & EFER_LME))
			return -EINVAL;
	}
	/* LMA is the CPU's to set, whoever writes EFER */
	efer = (efer & ~EFER_LMA) | (st->efer & EFER_LMA);
	st->efer = efer;
	xkvm_x86_state_dirty(vcpu, XKVM_STATE_CRS);
	return 0;
}

/*
 * TSC_AUX exists where the CPU has RDTSCP or RDPID; the guest may touch it
 * only if its CPUID offers one of them, userspace always (as on KVM).
 */
static bool xkvm_x86_tsc_aux_allowed(struct xkvm_vcpu *vcpu, bool host)
{
	if (!boot_cpu_has(X86_FEATURE_RDTSCP) && !boot_cpu_has(X86_FEATURE_RDPID))
		return false;
	return host || xkvm_x86_guest_has_tsc_aux(vcpu);
}

/*
 * The APIC base.  The guest may not go from x2APIC straight to xAPIC
 * mode, nor from disabled to x2APIC; userspace may (KVM's rules).
 */
static int xkvm_x86_set_apic_base(struct xkvm_vcpu *vcpu, u64 data, bool host)
{
	u64 old = vcpu->arch.apic_base;
	bool was_x2 = old & X2APIC_ENABLE, was_on = old & MSR_IA32_APICBASE_ENABLE;

	if (!xkvm_x86_apic_base_valid(vcpu, data))
		return -EINVAL;
	if (!host && vcpu->arch.apic &&
	    ((was_x2 && !(data & X2APIC_ENABLE) &&
	      (data & MSR_IA32_APICBASE_ENABLE)) ||
	     (!was_on && (data & X2APIC_ENABLE))))
		return -EINVAL;
	xkvm_lapic_set_base(vcpu, data);
	return 0;
}

/*
 * Read an MSR: EFER and APIC base here, then the vendor's control block,
 * then the core's own MSR groups.  Non-zero: the MSR does not exist or
 * refuses (#GP for the guest, a short count for KVM_GET_MSRS).
 */
int xkvm_x86_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data,
		     bool host_initiated)
{
	int r;

	switch (index) {
	case MSR_EFER:
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		*data = vcpu->arch.state.efer;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->arch.apic_base;
		return 0;
	case MSR_IA32_TSC_DEADLINE:
		*data = xkvm_lapic_get_tsc_deadline(vcpu);
		return 0;
	case MSR_TSC_AUX:
		if (!xkvm_x86_tsc_aux_allowed(vcpu, host_initiated))
			return -EINVAL;
		break;
	}
	if (xkvm_lapic_is_x2apic_msr(index))
		return xkvm_lapic_msr_read(vcpu, index, data) ? -EINVAL : 0;
	r = xkvm_x86_ops->get_msr(vcpu, index, data);
	if (r == 1)
		r = xkvm_x86_common_get_msr(vcpu, index, data);
	if (r == 1)
		r = xkvm_x86_mtrr_get(vcpu, index, data);
	if (r == 1)
		r = xkvm_x86_mce_get(vcpu, index, data, host_initiated);
	return r ? -EINVAL : 0;
}

/* MSRs holding a linear address, which must be canonical (#GP if not). */
static bool xkvm_x86_msr_needs_canonical(u32 index)
{
	switch (index) {
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
	case MSR_LSTAR:
	case MSR_CSTAR:
		return true;
	default:
		return false;
	}
}

int xkvm_x86_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
		     bool host_initiated)
{
	int r;

	if (xkvm_x86_msr_needs_canonical(index) &&
	    (s64)data != ((s64)(data << 16) >> 16))
		return -EINVAL;

	switch (index) {
	case MSR_EFER:
		return xkvm_x86_set_efer(vcpu, data, host_initiated);
	case MSR_IA32_APICBASE:
		return xkvm_x86_set_apic_base(vcpu, data, host_initiated);
	case MSR_IA32_TSC_DEADLINE:
		xkvm_lapic_set_tsc_deadline(vcpu, data);
		return 0;
	case MSR_TSC_AUX:
		if (!xkvm_x86_tsc_aux_allowed(vcpu, host_initiated))
			return -EINVAL;
		break;
	}
	if (xkvm_lapic_is_x2apic_msr(index))
		return xkvm_lapic_msr_write(vcpu, index, data) ? -EINVAL : 0;
	r = xkvm_x86_ops->set_msr(vcpu, index, data, host_initiated);
	if (r == 1)
		r = xkvm_x86_common_set_msr(vcpu, index, data, host_initiated);
	if (r == 1)
		r = xkvm_x86_mtrr_set(vcpu, index, data);
	if (r == 1)
		r = xkvm_x86_mce_set(vcpu, index, data, host_initiated);
	return r ? -EINVAL : 0;
}

int xkvm_x86_exit_rdmsr(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs;
	u64 data;

	xkvm_x86_stat_inc(vcpu, exits_msr_read);
	if (xkvm_x86_get_msr(vcpu, (u32)r[XKVM_REG_RCX], &data, false)) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	r[XKVM_REG_RAX] = (u32)data;
	r[XKVM_REG_RDX] = data >> 32;
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_rdmsr);

int xkvm_x86_exit_wrmsr(struct xkvm_vcpu *vcpu, u64 next_rip)
{
	u64 *r = vcpu->arch.regs;
	u64 data = (u32)r[XKVM_REG_RAX] | (r[XKVM_REG_RDX] << 32);

	xkvm_x86_stat_inc(vcpu, exits_msr_write);
	if (xkvm_x86_set_msr(vcpu, (u32)r[XKVM_REG_RCX], data, false)) {
		xkvm_x86_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	vcpu->arch.rip = next_rip;
	return 1;
}
EXPORT_SYMBOL_GPL(xkvm_x86_exit_wrmsr);
