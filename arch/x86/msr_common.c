// SPDX-License-Identifier: GPL-2.0
/*
 * msr_common.c - vendor-neutral MSRs the core keeps itself: the TSC and
 * TSC_ADJUST (as an offset the vendor applies in hardware), MISC_ENABLE,
 * the microcode revision, AMD's HWCR, TSC_AUX (what RDTSCP/RDPID read;
 * the guest may touch it only if its CPUID has one of them), and the
 * model-specific MSRs that read as zero and ignore writes, as on KVM.
 * The kvmclock MSRs are kvmclock.c's; a TSC change is reported to it.
 *
 * Each function returns 0 if handled, 1 if the MSR is not one of these,
 * -EINVAL for a value the MSR refuses.  vCPU thread only.
 */
#include <asm/msr-index.h>
#include <asm/kvm_para.h>
#include <asm/msr.h>
#include <asm/processor.h>

#include <xkvm_x86.h>

#define XKVM_UCODE_REV_INTEL	0x100000000ULL
#define XKVM_UCODE_REV_AMD	0x01000065ULL
#define HWCR_MCSTATUSWREN	BIT_ULL(18)
/* HWCR bits written by guests whose writes KVM ignores */
#define HWCR_IGNORED		(BIT_ULL(3) | BIT_ULL(6) | BIT_ULL(8))
#define MISC_ENABLE_RO		(MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL | \
				 MSR_IA32_MISC_ENABLE_BTS_UNAVAIL)

/* CPUID 0x80000001 EDX.RDTSCP or 7.ECX.RDPID: TSC_AUX is the guest's. */
bool xkvm_x86_guest_has_tsc_aux(struct xkvm_vcpu *vcpu)
{
	u32 a, b, c, d;

	xkvm_x86_guest_cpuid(vcpu, 0x80000001, 0, &a, &b, &c, &d);
	if (d & BIT(27))
		return true;
	xkvm_x86_guest_cpuid(vcpu, 7, 0, &a, &b, &c, &d);
	return c & BIT(22);
}

static bool xkvm_msr_reads_as_zero(u32 index)
{
	switch (index) {
	case MSR_IA32_PLATFORM_ID:
	case MSR_IA32_EBL_CR_POWERON:
	case MSR_IA32_PERF_CTL:
	case MSR_IA32_POWER_CTL:
	case MSR_AMD64_NB_CFG:
	case MSR_AMD64_LS_CFG:
	case MSR_AMD64_DC_CFG:
	case MSR_AMD64_DE_CFG:
	case MSR_AMD64_BU_CFG2:
	case MSR_F15H_EX_CFG:
	case MSR_FAM10H_MMIO_CONF_BASE:
	case MSR_K8_INT_PENDING_MSG:
	case MSR_AMD64_OSVW_ID_LENGTH:
	case MSR_AMD64_OSVW_STATUS:
	case MSR_K7_EVNTSEL0 ... MSR_K7_PERFCTR3:
		return true;
	default:
		return false;
	}
}

void xkvm_x86_msrs_reset(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;

	m->tsc_offset = vcpu->vm->arch.tsc_offset0;
	m->misc_enable = MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL |
			 MSR_IA32_MISC_ENABLE_BTS_UNAVAIL;
	m->ucode_rev = boot_cpu_data.x86_vendor == X86_VENDOR_AMD ?
		       XKVM_UCODE_REV_AMD : XKVM_UCODE_REV_INTEL;
	xkvm_x86_mtrr_reset(vcpu);
	xkvm_x86_mce_reset(vcpu);
}

int xkvm_x86_common_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;

	if (xkvm_msr_reads_as_zero(index)) {
		*data = 0;
		return 0;
	}
	switch (index) {
	case MSR_IA32_TSC:
		*data = rdtsc() + m->tsc_offset;
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*data = m->tsc_adjust;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*data = m->misc_enable;
		return 0;
	case MSR_IA32_UCODE_REV:
		*data = m->ucode_rev;
		return 0;
	case MSR_K7_HWCR:
		*data = m->hwcr;
		return 0;
	case MSR_TSC_AUX:
		*data = m->tsc_aux;
		return 0;
	}
	return xkvm_kvmclock_get_msr(vcpu, index, data);
}

int xkvm_x86_common_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
			    bool host)
{
	struct xkvm_x86_msrs *m = &vcpu->arch.msrs;
	u64 now;

	if (xkvm_msr_reads_as_zero(index))
		return 0;
	switch (index) {
	case MSR_IA32_TSC:
		if (host) {
			/* the VMM setting up its vCPUs keeps them in step */
			WRITE_ONCE(m->tsc_offset,
				   xkvm_kvmclock_host_tsc_write(vcpu, data));
		} else {
			now = rdtsc() + m->tsc_offset;
			m->tsc_adjust += data - now;
			WRITE_ONCE(m->tsc_offset, m->tsc_offset + data - now);
		}
		xkvm_kvmclock_tsc_changed(vcpu);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		if (!host) {
			WRITE_ONCE(m->tsc_offset,
				   m->tsc_offset + data - m->tsc_adjust);
			xkvm_kvmclock_tsc_changed(vcpu);
		}
		m->tsc_adjust = data;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		if (!host) {
			if ((m->misc_enable ^ data) & MISC_ENABLE_RO)
				return -EINVAL;
			/* EMON is read-only to the guest; writes are ignored */
			data = (data & ~MSR_IA32_MISC_ENABLE_EMON) |
			       (m->misc_enable & MSR_IA32_MISC_ENABLE_EMON);
		}
		m->misc_enable = data;
		return 0;
	case MSR_IA32_UCODE_REV:
		if (host)
			m->ucode_rev = data;
		return 0;
	case MSR_K7_HWCR:
		data &= ~HWCR_IGNORED;
		if (data && data != HWCR_MCSTATUSWREN)
			return -EINVAL;
		m->hwcr = data;
		return 0;
	case MSR_TSC_AUX:
		if (data >> 32)
			return -EINVAL;
		m->tsc_aux = data;
		return 0;
	}
	return xkvm_kvmclock_set_msr(vcpu, index, data, host);
}
