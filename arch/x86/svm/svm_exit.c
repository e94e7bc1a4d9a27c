// SPDX-License-Identifier: GPL-2.0
/*
 * svm_exit.c - the AMD-V exit-handler table.  Each handler decodes one
 * #VMEXIT code from the VMCB into one call of the vendor-neutral
 * xkvm_x86_exit_*() helpers, which own the semantics.
 *
 * Return contract (as for every exit handler, see xkvm_x86.h):
 *    1 resume the guest, 0 exit to userspace (kvm_run filled), <0 errno.
 * An exit code without a handler goes to userspace as
 * KVM_EXIT_INTERNAL_ERROR (unexpected exit reason).  The instruction
 * intercepts the core finishes share one handler (svm_exit_insn) and a
 * table of their opcodes and helpers, because without NRIP save each needs
 * the same decoding to find where it ends.
 */
#include <linux/nospec.h>
#include <asm/trapnr.h>

#include "svm.h"
#include <asm/debugreg.h>

typedef int (*svm_exit_handler)(struct xkvm_vcpu *vcpu);

/*
 * Instruction intercepts the core finishes: the opcode (to find the length
 * by decoding when there is no NRIP save) and the core's exit helper.
 */
struct svm_insn {
	u8 len;
	u8 op[3];
	int (*exit)(struct xkvm_vcpu *vcpu, u64 next_rip);
};

static const struct svm_insn svm_insn_rdmsr = { 2, { 0x0f, 0x32 }, xkvm_x86_exit_rdmsr };
static const struct svm_insn svm_insn_wrmsr = { 2, { 0x0f, 0x30 }, xkvm_x86_exit_wrmsr };

static const struct svm_insn svm_insns[SVM_EXIT_NR] = {
	[SVM_EXIT_CPUID]	= { 2, { 0x0f, 0xa2 }, xkvm_x86_exit_cpuid },
	[SVM_EXIT_RDPMC]	= { 2, { 0x0f, 0x33 }, xkvm_x86_exit_rdpmc },
	[SVM_EXIT_INVD]		= { 2, { 0x0f, 0x08 }, xkvm_x86_exit_nop },
	[SVM_EXIT_HLT]		= { 1, { 0xf4 }, xkvm_x86_exit_hlt },
	[SVM_EXIT_RDTSCP]	= { 3, { 0x0f, 0x01, 0xf9 }, xkvm_x86_exit_rdtscp },
	[SVM_EXIT_WBINVD]	= { 2, { 0x0f, 0x09 }, xkvm_x86_exit_nop },
	/* MONITOR/MWAIT behave as NOPs, as on KVM */
	[SVM_EXIT_MONITOR]	= { 3, { 0x0f, 0x01, 0xc8 }, xkvm_x86_exit_nop },
	[SVM_EXIT_MWAIT]	= { 3, { 0x0f, 0x01, 0xc9 }, xkvm_x86_exit_nop },
	[SVM_EXIT_XSETBV]	= { 3, { 0x0f, 0x01, 0xd1 }, xkvm_x86_exit_xsetbv },
};

/*
 * The RIP after the intercepted instruction, then the core's helper: the
 * VMCB has the RIP with NRIP save; without it the instruction is decoded
 * (prefixes included), as the CPU would have.  If the bytes at RIP are not
 * that instruction any more, the guest is resumed to run whatever is there.
 */
static int svm_finish_insn(struct xkvm_vcpu *vcpu, const struct svm_insn *insn)
{
	u64 next;

	if (svm_features & SVM_FEATURE_NRIPS)
		next = to_svm(vcpu)->vmcb->next_rip;
	else if (!xkvm_x86_insn_next_rip(vcpu, insn->op, insn->len, &next))
		return 1;
	return insn->exit(vcpu, next);
}

/* CPUID, HLT, RDPMC, RDTSCP, XSETBV, INVD, WBINVD, MONITOR, MWAIT */
static int svm_exit_insn(struct xkvm_vcpu *vcpu)
{
	u32 code = lower_32_bits(to_svm(vcpu)->vmcb->exit_code);

	return svm_finish_insn(vcpu, &svm_insns[code]);
}

/* host interrupt, NMI or SMI: already serviced */
static int svm_exit_host_intr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_host_intr(vcpu);
}

static int svm_exit_vintr(struct xkvm_vcpu *vcpu)
{
	/* the window is open; the run loop tells userspace if it asked */
	return xkvm_x86_exit_irq_window(vcpu);
}

static int svm_exit_iret(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_nmi *nmi = &vcpu->arch.nmi;

	/*
	 * The NMI handler is returning: NMIs are open again once this IRET
	 * has run, which the intercept comes before.  They stay masked
	 * until an exit sees RIP elsewhere (svm_nmi_iret_done); a waiting
	 * NMI is delivered then, not at the IRET, which would re-enter the
	 * handler before it has returned.
	 */
	xkvm_x86_stat_inc(vcpu, exits_iret);
	nmi->iret_pending = true;
	nmi->iret_rip = vcpu->arch.rip;
	to_svm(vcpu)->vmcb->intercept_misc1 &= ~SVM_INTERCEPT_IRET;
	return 1;
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
	return svm_finish_insn(vcpu, to_svm(vcpu)->vmcb->exit_info_1 ?
				     &svm_insn_wrmsr : &svm_insn_rdmsr);
}

static int svm_exit_ud(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_ud(vcpu);
}

static int svm_exit_dr(struct xkvm_vcpu *vcpu)
{
	return xkvm_x86_exit_mov_dr(vcpu);
}

/*
 * CR4 writes always exit (the core checks them against the guest's
 * CPUID), CR0 reads and writes while the guest's CD/NW are kept out of
 * the hardware; with the shadow MMU, every access to CR0, CR3 and CR4.
 * Decode assists give the register of a MOV CR; anything else (CLTS,
 * LMSW, no decode assists) is decoded from the instruction.
 */
static int svm_exit_cr(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;
	u32 code = lower_32_bits(v->exit_code);
	bool write = code >= SVM_EXIT_WRITE_CR0;
	struct xkvm_x86_cr_access a = {
		.cr = code & 0xf,
		.kind = write ? XKVM_CR_MOV_TO : XKVM_CR_MOV_FROM,
		.gpr = v->exit_info_1 & 0xf,
		.next_rip = v->next_rip,
	};

	if (!(svm_features & SVM_FEATURE_DECODE_ASSISTS) ||
	    !(svm_features & SVM_FEATURE_NRIPS) ||
	    !(v->exit_info_1 & SVM_CR_INFO_MOV)) {
		/* SMSW, LMSW m16: the emulator */
		if (!xkvm_x86_decode_cr_access(vcpu, code & 0xf, write, &a))
			return xkvm_x86_emulate_mmio(vcpu, 0, false, NULL, 0);
	}
	return xkvm_x86_exit_cr(vcpu, &a);
}

/*
 * #DB and #AC are intercepted only so that a guest cannot make the CPU
 * deliver them in an endless loop without an instruction boundary (a
 * host CPU hang): they go back into the guest, but the single step xkvm
 * itself set.
 */
static int svm_exit_db(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;

	xkvm_x86_stat_inc(vcpu, exits_exception);
	/* the step over the NMI handler's IRET (svm_nmi_step_arm): ours */
	if (s->nmi_step && !s->nmi_step_tf &&
	    (v->dr6 & (DR_STEP | DR_TRAP_BITS)) == DR_STEP) {
		v->dr6 = SVM_DR6_INIT;
		return 1;
	}
	/* B0-B3, BD, BS, BT as the guest's DR6 reads them */
	vcpu->arch.dr6 = (vcpu->arch.dr6 & ~0xe00fULL) | (v->dr6 & 0xe00f);
	v->dr6 = SVM_DR6_INIT;
	xkvm_x86_queue_exception(vcpu, X86_TRAP_DB, false, 0);
	return 1;
}

static int svm_exit_ac(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_exception);
	xkvm_x86_queue_exception(vcpu, X86_TRAP_AC, true,
				 to_svm(vcpu)->vmcb->exit_info_1);
	return 1;
}

/* A machine check while the guest ran is the host's: run its handler. */
static int svm_exit_mc(struct xkvm_vcpu *vcpu)
{
	xkvm_x86_stat_inc(vcpu, exits_exception);
	asm volatile("int $0x12");
	return 1;
}

static int svm_exit_shutdown(struct xkvm_vcpu *vcpu)
{
	/* The VMCB is undefined after a shutdown: start from a fresh one. */
	svm_vmcb_init(vcpu);
	return xkvm_x86_exit_shutdown(vcpu);
}

/* Shadow MMU: a #PF; EXITINFO1 has the error code, EXITINFO2 the address. */
static int svm_exit_pf(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;

	xkvm_x86_stat_inc(vcpu, exits_exception);
	return xkvm_x86_exit_shadow_pf(vcpu, v->exit_info_2,
				       lower_32_bits(v->exit_info_1));
}

/*
 * Shadow MMU: INVLPG.  Decode assists give the address (and NRIP save
 * the next RIP); otherwise the emulator decodes the operand.
 */
static int svm_exit_invlpg(struct xkvm_vcpu *vcpu)
{
	struct svm_vmcb *v = to_svm(vcpu)->vmcb;

	if ((svm_features & SVM_FEATURE_DECODE_ASSISTS) &&
	    (svm_features & SVM_FEATURE_NRIPS)) {
		xkvm_shadow_invlpg(vcpu, v->exit_info_1);
		vcpu->arch.rip = v->next_rip;
		return 1;
	}
	return xkvm_x86_emulate_mmio(vcpu, 0, false, NULL, 0);
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
	if (err & SVM_NPF_IN_WALK)
		fault |= XKVM_FAULT_IN_WALK;
	if (svm_features & SVM_FEATURE_DECODE_ASSISTS)
		insn_len = min_t(int, v->insn_len, sizeof(v->insn_bytes));
	return xkvm_x86_exit_tdp_fault(vcpu, v->exit_info_2, fault,
				       v->insn_bytes, insn_len);
}

static const svm_exit_handler svm_exit_handlers[SVM_EXIT_NR] = {
	[SVM_EXIT_READ_CR0]	= svm_exit_cr,
	[SVM_EXIT_READ_CR3]	= svm_exit_cr,
	[SVM_EXIT_READ_CR4]	= svm_exit_cr,
	[SVM_EXIT_WRITE_CR0]	= svm_exit_cr,
	[SVM_EXIT_WRITE_CR3]	= svm_exit_cr,
	[SVM_EXIT_WRITE_CR4]	= svm_exit_cr,
	[SVM_EXIT_WRITE_CR8]	= svm_exit_cr,
	[SVM_EXIT_EXCP_DB]	= svm_exit_db,
	[SVM_EXIT_EXCP_AC]	= svm_exit_ac,
	[SVM_EXIT_EXCP_MC]	= svm_exit_mc,
	[SVM_EXIT_EXCP_PF]	= svm_exit_pf,
	[SVM_EXIT_INTR]		= svm_exit_host_intr,
	[SVM_EXIT_NMI]		= svm_exit_host_intr,
	[SVM_EXIT_SMI]		= svm_exit_host_intr,
	[SVM_EXIT_VINTR]	= svm_exit_vintr,
	[SVM_EXIT_RDPMC]	= svm_exit_insn,
	[SVM_EXIT_CPUID]	= svm_exit_insn,
	[SVM_EXIT_IRET]		= svm_exit_iret,
	[SVM_EXIT_INVD]		= svm_exit_insn,
	[SVM_EXIT_HLT]		= svm_exit_insn,
	[SVM_EXIT_INVLPG]	= svm_exit_invlpg,
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
	[SVM_EXIT_RDTSCP]	= svm_exit_insn,
	[SVM_EXIT_WBINVD]	= svm_exit_insn,
	[SVM_EXIT_MONITOR]	= svm_exit_insn,
	[SVM_EXIT_MWAIT]	= svm_exit_insn,
	[SVM_EXIT_XSETBV]	= svm_exit_insn,
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
