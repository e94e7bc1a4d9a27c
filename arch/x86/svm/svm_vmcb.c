// SPDX-License-Identifier: GPL-2.0
/*
 * svm_vmcb.c - the VMCB: initial controls (what is intercepted), the I/O
 * and MSR permission maps, and copies between the VMCB and the neutral
 * register state (segments, control registers, MSRs held in the VMCB).
 *
 * Every port and every MSR is intercepted: the maps are all ones and
 * shared by all vCPUs (the hardware only reads them).  So are RDPMC (no
 * virtual PMU: the host's counters are not the guest's), RDTSCP (TSC_AUX
 * is the guest's), CR0 and CR4 writes (checked by the core: against the
 * guest's CPUID, and so that CD/NW can be kept out of the hardware), CR0
 * reads while the guest's CD/NW are kept out of the hardware, and the
 * exceptions a guest could make the CPU deliver forever (#DB, #AC) or that
 * belong to the host (#MC).  With the shadow MMU (svm_shadow) also every
 * access to CR0, CR3 and CR4, #PF and INVLPG, and the VMCB's CR0/CR3/CR4/
 * EFER are the hardware's, not the guest's.  The VMCB of a vCPU is touched
 * only by the vCPU's own thread.
 */
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "svm.h"

#define SVM_IOPM_ORDER		2	/* 12 KiB used */
#define SVM_MSRPM_ORDER		1	/* 8 KiB */
#define SVM_PAT_DEFAULT		0x0007040600070406ULL

static struct page *svm_iopm, *svm_msrpm;

int svm_vmcb_global_init(void)
{
	svm_iopm = alloc_pages(GFP_KERNEL, SVM_IOPM_ORDER);
	svm_msrpm = alloc_pages(GFP_KERNEL, SVM_MSRPM_ORDER);
	if (!svm_iopm || !svm_msrpm) {
		svm_vmcb_global_exit();
		return -ENOMEM;
	}
	memset(page_address(svm_iopm), 0xff, PAGE_SIZE << SVM_IOPM_ORDER);
	memset(page_address(svm_msrpm), 0xff, PAGE_SIZE << SVM_MSRPM_ORDER);
	return 0;
}

void svm_vmcb_global_exit(void)
{
	if (svm_iopm)
		__free_pages(svm_iopm, SVM_IOPM_ORDER);
	if (svm_msrpm)
		__free_pages(svm_msrpm, SVM_MSRPM_ORDER);
	svm_iopm = svm_msrpm = NULL;
}

/* The controls of a fresh VMCB; guest state comes from state_set. */
void svm_vmcb_init(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;

	memset(v, 0, sizeof(*v));
	v->intercept_cr = SVM_INTERCEPT_CR_WRITE(0) | SVM_INTERCEPT_CR_WRITE(4);
	v->intercept_dr = ~0U;
	v->intercept_exceptions = SVM_INTERCEPT_EXCP(X86_TRAP_DB) |
		SVM_INTERCEPT_EXCP(X86_TRAP_AC) | SVM_INTERCEPT_EXCP(X86_TRAP_MC);
	v->intercept_misc1 = SVM_INTERCEPT_INTR | SVM_INTERCEPT_NMI |
		SVM_INTERCEPT_SMI | SVM_INTERCEPT_CPUID | SVM_INTERCEPT_RSM |
		SVM_INTERCEPT_RDPMC |
		SVM_INTERCEPT_INVD | SVM_INTERCEPT_HLT |
		SVM_INTERCEPT_INVLPGA | SVM_INTERCEPT_IOIO |
		SVM_INTERCEPT_MSR | SVM_INTERCEPT_TASK_SWITCH |
		SVM_INTERCEPT_FERR_FREEZE | SVM_INTERCEPT_SHUTDOWN;
	v->intercept_misc2 = SVM_INTERCEPT_VMRUN | SVM_INTERCEPT_VMMCALL |
		SVM_INTERCEPT_VMLOAD | SVM_INTERCEPT_VMSAVE |
		SVM_INTERCEPT_STGI | SVM_INTERCEPT_CLGI |
		SVM_INTERCEPT_SKINIT | SVM_INTERCEPT_RDTSCP |
		SVM_INTERCEPT_WBINVD |
		SVM_INTERCEPT_MONITOR | SVM_INTERCEPT_MWAIT |
		SVM_INTERCEPT_XSETBV | SVM_INTERCEPT_RDPRU;
	v->iopm_base_pa = page_to_phys(svm_iopm);
	v->msrpm_base_pa = page_to_phys(svm_msrpm);
	v->int_ctl = SVM_INT_CTL_V_INTR_MASKING;
	if (svm_shadow) {
		/* the MMU sees every change of paging and every #PF */
		v->intercept_cr |= SVM_INTERCEPT_CR_READ(0) |
			SVM_INTERCEPT_CR_READ(3) | SVM_INTERCEPT_CR_WRITE(3) |
			SVM_INTERCEPT_CR_READ(4);
		v->intercept_exceptions |= SVM_INTERCEPT_EXCP(X86_TRAP_PF);
		v->intercept_misc1 |= SVM_INTERCEPT_INVLPG;
		s->guest_cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
		s->guest_cr3 = s->guest_cr4 = s->guest_efer = 0;
	} else {
		v->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
		v->nested_cr3 = xkvm_tdp_root_pa(vcpu->vm);
	}
	v->g_pat = SVM_PAT_DEFAULT;
	v->dr6 = SVM_DR6_INIT;
	v->dr7 = 0x400;
	v->efer = EFER_SVME;
	/* a new VMCB has no ASID yet */
	s->asid_cpu = -1;
}

/* VMCB attributes: type:4 s:1 dpl:2 p:1 avl:1 l:1 db:1 g:1 */
static void svm_seg_get(const struct svm_seg *in, struct kvm_segment *out)
{
	u16 a = in->attrib;

	out->selector = in->selector;
	out->base = in->base;
	out->limit = in->limit;
	out->type = a & 0xf;
	out->s = (a >> 4) & 1;
	out->dpl = (a >> 5) & 3;
	out->present = (a >> 7) & 1;
	out->avl = (a >> 8) & 1;
	out->l = (a >> 9) & 1;
	out->db = (a >> 10) & 1;
	out->g = (a >> 11) & 1;
	out->unusable = !out->present;
	out->padding = 0;
}

static void svm_seg_set(struct svm_seg *out, const struct kvm_segment *in)
{
	out->selector = in->selector;
	out->base = in->base;
	out->limit = in->limit;
	/* as on KVM, an unusable segment is only a not-present one */
	out->attrib = (in->type & 0xf) | (in->s & 1) << 4 |
		(in->dpl & 3) << 5 | ((in->present & 1) && !in->unusable) << 7 |
		(in->avl & 1) << 8 | (in->l & 1) << 9 | (in->db & 1) << 10 |
		(in->g & 1) << 11;
}

static struct svm_seg *svm_seg(struct svm_vmcb *v, int seg)
{
	switch (seg) {
	case XKVM_SEG_ES: return &v->es;
	case XKVM_SEG_CS: return &v->cs;
	case XKVM_SEG_SS: return &v->ss;
	case XKVM_SEG_DS: return &v->ds;
	case XKVM_SEG_FS: return &v->fs;
	case XKVM_SEG_GS: return &v->gs;
	case XKVM_SEG_TR: return &v->tr;
	default:	  return &v->ldtr;
	}
}

void svm_state_get(struct xkvm_vcpu *vcpu, u32 which)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;
	struct xkvm_x86_state *st = &vcpu->arch.state;
	int i;

	if (which & XKVM_STATE_SEGS) {
		for (i = 0; i < XKVM_NR_SEGS; i++)
			svm_seg_get(svm_seg(v, i), &st->segs[i]);
		st->gdt.base = v->gdtr.base;
		st->gdt.limit = v->gdtr.limit;
		st->idt.base = v->idtr.base;
		st->idt.limit = v->idtr.limit;
		memset(st->gdt.padding, 0, sizeof(st->gdt.padding));
		memset(st->idt.padding, 0, sizeof(st->idt.padding));
	}
	if ((which & XKVM_STATE_CRS) && svm_shadow) {
		st->cr0 = s->guest_cr0;
		st->cr2 = v->cr2;
		st->cr3 = s->guest_cr3;
		st->cr4 = s->guest_cr4;
		st->efer = s->guest_efer;
	} else if (which & XKVM_STATE_CRS) {
		st->cr0 = v->cr0 | s->cr0_cd_nw;
		st->cr2 = v->cr2;
		st->cr3 = v->cr3;
		st->cr4 = v->cr4;
		st->efer = v->efer & ~EFER_SVME;
	}
}

void svm_state_set(struct xkvm_vcpu *vcpu, u32 which)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;
	const struct xkvm_x86_state *st = &vcpu->arch.state;
	int i;

	if (which & XKVM_STATE_SEGS) {
		for (i = 0; i < XKVM_NR_SEGS; i++)
			svm_seg_set(svm_seg(v, i), &st->segs[i]);
		v->cpl = st->segs[XKVM_SEG_SS].dpl & 3;
		v->gdtr.base = st->gdt.base;
		v->gdtr.limit = st->gdt.limit;
		v->idtr.base = st->idt.base;
		v->idtr.limit = st->idt.limit;
	}
	if ((which & XKVM_STATE_CRS) && svm_shadow) {
		/*
		 * The hardware's are made at the entry: svm_shadow_load().
		 * New paging controls or a new CR3 from anywhere (the guest,
		 * KVM_SET_SREGS) make the vCPU's shadow tree stale, or its
		 * non-global part.
		 */
		xkvm_shadow_crs_changed(vcpu, s->guest_cr0, s->guest_cr3,
					s->guest_cr4, s->guest_efer);
		s->guest_cr0 = st->cr0;
		s->guest_cr3 = st->cr3;
		s->guest_cr4 = st->cr4;
		s->guest_efer = st->efer;
		v->cr2 = st->cr2;
	} else if (which & XKVM_STATE_CRS) {
		/*
		 * KVM's CD_NW_CLEARED quirk: the guest runs with caching on.
		 * While the hardware CR0 differs from the guest's, CR0 reads
		 * and writes exit, so the guest sees and changes its own.
		 */
		s->cr0_cd_nw = st->cr0 & (X86_CR0_CD | X86_CR0_NW);
		v->cr0 = st->cr0 & ~(X86_CR0_CD | X86_CR0_NW);
		if (s->cr0_cd_nw)
			v->intercept_cr |= SVM_INTERCEPT_CR_READ(0);
		else
			v->intercept_cr &= ~SVM_INTERCEPT_CR_READ(0);
		v->cr2 = st->cr2;
		v->cr3 = st->cr3;
		v->cr4 = st->cr4;
		v->efer = st->efer | EFER_SVME;
	}
}

static bool svm_pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 t = pat >> (i * 8);

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

static u64 *svm_msr_slot(struct svm_vmcb *v, u32 index)
{
	switch (index) {
	case MSR_STAR:			return &v->star;
	case MSR_LSTAR:			return &v->lstar;
	case MSR_CSTAR:			return &v->cstar;
	case MSR_SYSCALL_MASK:		return &v->sfmask;
	case MSR_KERNEL_GS_BASE:	return &v->kernel_gs_base;
	case MSR_FS_BASE:		return &v->fs.base;
	case MSR_GS_BASE:		return &v->gs.base;
	case MSR_IA32_SYSENTER_CS:	return &v->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:	return &v->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:	return &v->sysenter_eip;
	case MSR_IA32_CR_PAT:		return &v->g_pat;
	default:			return NULL;
	}
}

int svm_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data)
{
	u64 *slot = svm_msr_slot(to_svm(vcpu)->vmcb, index);

	if (!slot)
		return 1;
	*data = *slot;
	return 0;
}

int svm_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	u64 *slot = svm_msr_slot(to_svm(vcpu)->vmcb, index);

	if (!slot)
		return 1;
	if (index == MSR_IA32_CR_PAT && !svm_pat_valid(data))
		return -EINVAL;
	*slot = data;
	/*
	 * AMD CPUs keep 32 bits of SYSENTER_ESP/EIP; KVM keeps all 64 only
	 * for a guest that claims to be Intel.
	 */
	if ((index == MSR_IA32_SYSENTER_ESP || index == MSR_IA32_SYSENTER_EIP) &&
	    !xkvm_x86_guest_vendor_intel(vcpu))
		*slot = (u32)data;
	return 0;
}

/*
 * Shadow MMU, right before VMRUN: the hardware's control registers from
 * the guest's (CD/NW kept out as above; CR0 reads always exit here) and
 * the vCPU's shadow root.  Made at every entry from the guest's copies
 * only, so no path can run a guest with its own paging controls.
 */
void svm_shadow_load(struct xkvm_vcpu *vcpu)
{
	struct svm_vcpu *s = to_svm(vcpu);
	struct svm_vmcb *v = s->vmcb;
	u64 cr0 = s->guest_cr0 & ~(u64)(X86_CR0_CD | X86_CR0_NW);
	u64 cr4 = s->guest_cr4, efer = s->guest_efer;

	xkvm_shadow_hw_regs(&cr0, &cr4, &efer);
	v->cr0 = cr0;
	v->cr4 = cr4;
	v->efer = efer | EFER_SVME;
	v->cr3 = xkvm_shadow_root_pa(vcpu);
}
