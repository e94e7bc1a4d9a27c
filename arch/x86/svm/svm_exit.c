// SPDX-License-Identifier: GPL-2.0
/*
 * svm_exit.c - the AMD-V exit-handler table.  Each handler decodes one
 * #VMEXIT code from the VMCB into one call of the vendor-neutral
 * xkvm_x86_exit_*() helpers, which own the semantics.
 *
 * Return contract (as for every exit handler, see xkvm_x86.h):
 *    1 resume the guest, 0 exit to userspace (kvm_run filled), <0 errno.
 * An exit code without a handler goes to userspace as
 * KVM_EXIT_INTERNAL_ERROR (unexpected exit reason).
 */
#include <linux/nospec.h>

#include "svm.h"

typedef int (*svm_exit_handler)(struct xkvm_vcpu *vcpu);

/* The next RIP: from the VMCB with NRIP save, else the known length. */
static u64 svm_next_rip(struct xkvm_vcpu *vcpu, int insn_len)
{
	if (svm_features & SVM_FEATURE_NRIPS)
		return to_svm(vcpu)->vmcb->next_rip;
	return vcpu->arch.rip + insn_len;
}

static int svm_exit_resume(struct xkvm_vcpu *vcpu)
{
	return 1;	/* host interrupt, NMI or SMI: already serviced */
}

static int svm_exit_vintr(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;

	/* the window is open; the run loop tells userspace if it asked */
	v->int_ctl &= ~SVM_INT_CTL_V_IRQ;
	v->intercept_misc1 &= ~SVM_INTERCEPT_VINTR;
	return 1;
}

static int svm_exit_iret(struct xkvm_vcpu *vcpu)
{
	/*
	 * The NMI handler is returning: NMIs are open again once this IRET
	 * has run.  A waiting NMI may be delivered one instruction early,
	 * at the IRET itself, which the guest sees as an NMI right after.
	 */
	vcpu->arch.nmi.masked = false;
	to_svm(vcpu)->vmcb->intercept_misc1 &= ~SVM_INTERCEPT_IRET;
	return 1;
}

static int svm_exit_cpuid(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_cpuid(vcpu, svm_next_rip(vcpu, 2));
}

static int svm_exit_hlt(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_hlt(vcpu, svm_next_rip(vcpu, 1));
}

static int svm_exit_ioio(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;
	u64 info = v->exit_info_1;
	struct xkvm_x86_io io = {
		.port = info >> SVM_IOIO_PORT_SHIFT,
		/* SZ8, SZ16, SZ32 are one-hot bits: the field is the size */
		.size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT,
		.in = info & SVM_IOIO_IN,
		.string = info & SVM_IOIO_STR,
		.rep = info & SVM_IOIO_REP,
		.next_rip = v->exit_info_2,
	};

	return xkvm_x86_exit_io(vcpu, &io);
}

static int svm_exit_msr(struct xkvm_vcpu *vcpu)
{
	u64 next = svm_next_rip(vcpu, 2);

	if (to_svm(vcpu)->vmcb->exit_info_1)
		return xkvm_x86_exit_wrmsr(vcpu, next);
	return xkvm_x86_exit_rdmsr(vcpu, next);
}

static int svm_exit_xsetbv(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_xsetbv(vcpu, svm_next_rip(vcpu, 3));
}

static int svm_exit_invd(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_nop(vcpu, svm_next_rip(vcpu, 2));
}

static int svm_exit_monitor(struct xkvm_vcpu *vcpu)
{
	/* MONITOR/MWAIT behave as NOPs, as on KVM */
	return xkvm_x86_exit_nop(vcpu, svm_next_rip(vcpu, 3));
}

static int svm_exit_ud(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_ud(vcpu);
}

static int svm_exit_dr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_mov_dr(vcpu);
}

static int svm_exit_shutdown(struct xkvm_vcpu *vcpu)
{
	/* The VMCB is undefined after a shutdown: start from a fresh one. */
	svm_vmcb_init(vcpu);
	return xkvm_x86_exit_shutdown(vcpu);
}

static int svm_exit_npf(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;
	u64 err = v->exit_info_1;
	u32 fault = 0;
	int insn_len = 0;

	if (err & SVM_NPF_WRITE)
		fault |= XKVM_FAULT_WRITE;
	if (err & SVM_NPF_FETCH)
		fault |= XKVM_FAULT_FETCH;
	if (err & SVM_NPF_PRESENT)
		fault |= XKVM_FAULT_PRESENT;
	if (svm_features & SVM_FEATURE_DECODE_ASSISTS)
		insn_len = min_t(int, v->insn_len, sizeof(v->insn_bytes));
	return xkvm_x86_exit_tdp_fault(vcpu, v->exit_info_2, fault,
				       v->insn_bytes, insn_len);
}

static const svm_exit_handler svm_exit_handlers[SVM_EXIT_NR] = {
	[SVM_EXIT_INTR]		= svm_exit_resume,
	[SVM_EXIT_NMI]		= svm_exit_resume,
	[SVM_EXIT_SMI]		= svm_exit_resume,
	[SVM_EXIT_VINTR]	= svm_exit_vintr,
	[SVM_EXIT_CPUID]	= svm_exit_cpuid,
	[SVM_EXIT_IRET]		= svm_exit_iret,
	[SVM_EXIT_INVD]		= svm_exit_invd,
	[SVM_EXIT_HLT]		= svm_exit_hlt,
	[SVM_EXIT_INVLPGA]	= svm_exit_ud,
	[SVM_EXIT_IOIO]		= svm_exit_ioio,
	[SVM_EXIT_MSR]		= svm_exit_msr,
	[SVM_EXIT_SHUTDOWN]	= svm_exit_shutdown,
	[SVM_EXIT_VMRUN]	= svm_exit_ud,
	[SVM_EXIT_VMMCALL]	= svm_exit_ud,
	[SVM_EXIT_VMLOAD]	= svm_exit_ud,
	[SVM_EXIT_VMSAVE]	= svm_exit_ud,
	[SVM_EXIT_STGI]		= svm_exit_ud,
	[SVM_EXIT_CLGI]		= svm_exit_ud,
	[SVM_EXIT_SKINIT]	= svm_exit_ud,
	[SVM_EXIT_WBINVD]	= svm_exit_invd,
	[SVM_EXIT_MONITOR]	= svm_exit_monitor,
	[SVM_EXIT_MWAIT]	= svm_exit_monitor,
	[SVM_EXIT_XSETBV]	= svm_exit_xsetbv,
	[SVM_EXIT_RDPRU]	= svm_exit_ud,
	[SVM_EXIT_NPF]		= svm_exit_npf,
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_WRITE_DR15] = svm_exit_dr,
};

int svm_handle_exit(struct xkvm_vcpu *vcpu)
{
	/* exit codes are 32-bit values; VMEXIT_INVALID is 0xffffffff */
	u32 code = lower_32_bits(to_svm(vcpu)->vmcb->exit_code);
	svm_exit_handler h;

	if (code == SVM_EXIT_INVALID)
		return xkvm_x86_exit_fail_entry(vcpu, code);
	if (code >= SVM_EXIT_NR)
		return xkvm_x86_exit_unhandled(vcpu, code);
	h = svm_exit_handlers[array_index_nospec(code, SVM_EXIT_NR)];
	if (!h)
		return xkvm_x86_exit_unhandled(vcpu, code);
	return h(vcpu);
}
