/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svm.h - private to the AMD-V backend: the VMCB layout (AMD APM vol. 2,
 * appendix B), intercept and exit codes, and the per-vCPU and per-CPU
 * state.  Field offsets are checked at compile time.
 */
#ifndef XKVM_SVM_H
#define XKVM_SVM_H

#include <linux/build_bug.h>
#include <asm/asm.h>
#include <xkvm_x86.h>

struct svm_seg {
	u16 selector;
	u16 attrib;
	u32 limit;
	u64 base;
} __packed;

struct svm_vmcb {
	/* control area */
	u32 intercept_cr;		/* 0x000 */
	u32 intercept_dr;		/* 0x004 */
	u32 intercept_exceptions;	/* 0x008 */
	u32 intercept_misc1;		/* 0x00c */
	u32 intercept_misc2;		/* 0x010 */
	u32 intercept_misc3;		/* 0x014 */
	u8 rsvd1[0x3c - 0x18];
	u16 pause_filter_thresh;	/* 0x03c */
	u16 pause_filter_count;		/* 0x03e */
	u64 iopm_base_pa;		/* 0x040 */
	u64 msrpm_base_pa;		/* 0x048 */
	u64 tsc_offset;			/* 0x050 */
	u32 asid;			/* 0x058 */
	u8 tlb_ctl;			/* 0x05c */
	u8 rsvd2[3];
	u64 int_ctl;			/* 0x060 */
	u64 int_state;			/* 0x068 */
	u64 exit_code;			/* 0x070 */
	u64 exit_info_1;		/* 0x078 */
	u64 exit_info_2;		/* 0x080 */
	u64 exit_int_info;		/* 0x088 */
	u64 nested_ctl;			/* 0x090 */
	u64 avic_vapic_bar;		/* 0x098 */
	u64 ghcb_gpa;			/* 0x0a0 */
	u64 event_inj;			/* 0x0a8 */
	u64 nested_cr3;			/* 0x0b0 */
	u64 virt_ext;			/* 0x0b8 */
	u32 clean;			/* 0x0c0 */
	u32 rsvd3;
	u64 next_rip;			/* 0x0c8 */
	u8 insn_len;			/* 0x0d0 */
	u8 insn_bytes[15];		/* 0x0d1 */
	u8 rsvd4[0x400 - 0xe0];
	/* state save area */
	struct svm_seg es, cs, ss, ds, fs, gs;	/* 0x400 */
	struct svm_seg gdtr, ldtr, idtr, tr;	/* 0x460 */
	u8 rsvd5[0x4cb - 0x4a0];
	u8 cpl;				/* 0x4cb */
	u32 rsvd6;
	u64 efer;			/* 0x4d0 */
	u8 rsvd7[0x548 - 0x4d8];
	u64 cr4;			/* 0x548 */
	u64 cr3;			/* 0x550 */
	u64 cr0;			/* 0x558 */
	u64 dr7;			/* 0x560 */
	u64 dr6;			/* 0x568 */
	u64 rflags;			/* 0x570 */
	u64 rip;			/* 0x578 */
	u8 rsvd8[0x5d8 - 0x580];
	u64 rsp;			/* 0x5d8 */
	u64 s_cet, ssp, isst_addr;	/* 0x5e0 */
	u64 rax;			/* 0x5f8 */
	u64 star;			/* 0x600 */
	u64 lstar;			/* 0x608 */
	u64 cstar;			/* 0x610 */
	u64 sfmask;			/* 0x618 */
	u64 kernel_gs_base;		/* 0x620 */
	u64 sysenter_cs;		/* 0x628 */
	u64 sysenter_esp;		/* 0x630 */
	u64 sysenter_eip;		/* 0x638 */
	u64 cr2;			/* 0x640 */
	u8 rsvd9[0x668 - 0x648];
	u64 g_pat;			/* 0x668 */
	u64 dbgctl;			/* 0x670 */
	u8 rsvd10[0x1000 - 0x678];
} __packed;

static_assert(offsetof(struct svm_vmcb, iopm_base_pa) == 0x040);
static_assert(offsetof(struct svm_vmcb, int_ctl) == 0x060);
static_assert(offsetof(struct svm_vmcb, event_inj) == 0x0a8);
static_assert(offsetof(struct svm_vmcb, next_rip) == 0x0c8);
static_assert(offsetof(struct svm_vmcb, es) == 0x400);
static_assert(offsetof(struct svm_vmcb, tr) == 0x490);
static_assert(offsetof(struct svm_vmcb, cpl) == 0x4cb);
static_assert(offsetof(struct svm_vmcb, efer) == 0x4d0);
static_assert(offsetof(struct svm_vmcb, cr4) == 0x548);
static_assert(offsetof(struct svm_vmcb, rip) == 0x578);
static_assert(offsetof(struct svm_vmcb, rsp) == 0x5d8);
static_assert(offsetof(struct svm_vmcb, rax) == 0x5f8);
static_assert(offsetof(struct svm_vmcb, cr2) == 0x640);
static_assert(offsetof(struct svm_vmcb, g_pat) == 0x668);
static_assert(sizeof(struct svm_vmcb) == 0x1000);

/* intercept_cr: reads in bits 0-15, writes in bits 16-31 */
#define SVM_INTERCEPT_CR_READ(n)	BIT(n)
#define SVM_INTERCEPT_CR_WRITE(n)	BIT(16 + (n))

/* intercept_exceptions: one bit per vector */
#define SVM_INTERCEPT_EXCP(v)		BIT(v)

/* intercept_misc1 */
#define SVM_INTERCEPT_INTR		BIT(0)
#define SVM_INTERCEPT_NMI		BIT(1)
#define SVM_INTERCEPT_SMI		BIT(2)
#define SVM_INTERCEPT_VINTR		BIT(4)
#define SVM_INTERCEPT_RDPMC		BIT(15)
#define SVM_INTERCEPT_CPUID		BIT(18)
#define SVM_INTERCEPT_IRET		BIT(20)
#define SVM_INTERCEPT_RSM		BIT(19)
#define SVM_INTERCEPT_INVD		BIT(22)
#define SVM_INTERCEPT_INVLPG		BIT(25)
#define SVM_INTERCEPT_HLT		BIT(24)
#define SVM_INTERCEPT_INVLPGA		BIT(26)
#define SVM_INTERCEPT_IOIO		BIT(27)
#define SVM_INTERCEPT_MSR		BIT(28)
#define SVM_INTERCEPT_TASK_SWITCH	BIT(29)
#define SVM_INTERCEPT_FERR_FREEZE	BIT(30)
#define SVM_INTERCEPT_SHUTDOWN		BIT(31)
/* intercept_misc2 */
#define SVM_INTERCEPT_VMRUN		BIT(0)
#define SVM_INTERCEPT_VMMCALL		BIT(1)
#define SVM_INTERCEPT_VMLOAD		BIT(2)
#define SVM_INTERCEPT_VMSAVE		BIT(3)
#define SVM_INTERCEPT_STGI		BIT(4)
#define SVM_INTERCEPT_CLGI		BIT(5)
#define SVM_INTERCEPT_SKINIT		BIT(6)
#define SVM_INTERCEPT_RDTSCP		BIT(7)
#define SVM_INTERCEPT_WBINVD		BIT(9)
#define SVM_INTERCEPT_MONITOR		BIT(10)
#define SVM_INTERCEPT_MWAIT		BIT(11)
#define SVM_INTERCEPT_XSETBV		BIT(13)
#define SVM_INTERCEPT_RDPRU		BIT(14)

/* int_ctl, nested_ctl, tlb_ctl, event_inj */
#define SVM_INT_CTL_V_TPR_MASK		0xfULL
#define SVM_INT_CTL_V_IRQ		BIT_ULL(8)
#define SVM_INT_CTL_V_INTR_PRIO_MASK	(0xfULL << 16)
#define SVM_INT_CTL_V_IGN_TPR		BIT_ULL(20)
#define SVM_INT_CTL_V_INTR_MASKING	BIT_ULL(24)
#define SVM_INT_CTL_V_INTR_VECTOR_SHIFT	32
#define SVM_INT_CTL_V_INTR_VECTOR_MASK	(0xffULL << 32)
#define SVM_INT_STATE_SHADOW		BIT_ULL(0)
#define SVM_NESTED_CTL_NP_ENABLE	BIT_ULL(0)
#define SVM_TLB_FLUSH_ALL		1
#define SVM_TLB_FLUSH_ASID		3
#define SVM_EVTINJ_VALID		BIT_ULL(31)
#define SVM_EVTINJ_VALID_ERR		BIT_ULL(11)
#define SVM_EVTINJ_VEC_MASK		0xffULL
#define SVM_EVTINJ_TYPE_MASK		(7ULL << 8)
#define SVM_EVTINJ_TYPE_INTR		(0ULL << 8)
#define SVM_EVTINJ_TYPE_NMI		(2ULL << 8)
#define SVM_EVTINJ_TYPE_EXEPT		(3ULL << 8)
#define SVM_EVTINJ_TYPE_SOFT		(4ULL << 8)

/* exit codes */
#define SVM_EXIT_READ_CR0		0x000
#define SVM_EXIT_READ_CR3		0x003
#define SVM_EXIT_READ_CR4		0x004
#define SVM_EXIT_WRITE_CR0		0x010
#define SVM_EXIT_WRITE_CR3		0x013
#define SVM_EXIT_WRITE_CR4		0x014
#define SVM_EXIT_WRITE_CR8		0x018
#define SVM_EXIT_READ_DR0		0x020
#define SVM_EXIT_WRITE_DR15		0x03f
#define SVM_EXIT_EXCP_BASE		0x040
#define SVM_EXIT_EXCP_DB		(SVM_EXIT_EXCP_BASE + 1)
#define SVM_EXIT_EXCP_PF		(SVM_EXIT_EXCP_BASE + 14)
#define SVM_EXIT_EXCP_AC		(SVM_EXIT_EXCP_BASE + 17)
#define SVM_EXIT_EXCP_MC		(SVM_EXIT_EXCP_BASE + 18)
#define SVM_EXIT_INTR			0x060
#define SVM_EXIT_NMI			0x061
#define SVM_EXIT_SMI			0x062
#define SVM_EXIT_VINTR			0x064
#define SVM_EXIT_RDPMC			0x06f
#define SVM_EXIT_CPUID			0x072
#define SVM_EXIT_IRET			0x074
#define SVM_EXIT_INVD			0x076
#define SVM_EXIT_HLT			0x078
#define SVM_EXIT_INVLPG			0x079
#define SVM_EXIT_INVLPGA		0x07a
#define SVM_EXIT_IOIO			0x07b
#define SVM_EXIT_MSR			0x07c
#define SVM_EXIT_SHUTDOWN		0x07f
#define SVM_EXIT_VMRUN			0x080
#define SVM_EXIT_VMMCALL		0x081
#define SVM_EXIT_VMLOAD			0x082
#define SVM_EXIT_VMSAVE			0x083
#define SVM_EXIT_STGI			0x084
#define SVM_EXIT_CLGI			0x085
#define SVM_EXIT_SKINIT			0x086
#define SVM_EXIT_RDTSCP			0x087
#define SVM_EXIT_WBINVD			0x089
#define SVM_EXIT_MONITOR		0x08a
#define SVM_EXIT_MWAIT			0x08b
#define SVM_EXIT_XSETBV			0x08d
#define SVM_EXIT_RDPRU			0x08e
#define SVM_EXIT_NPF			0x400
#define SVM_EXIT_NR			0x401
#define SVM_EXIT_INVALID		0xffffffffU

/* CR access exit_info_1 with decode assists: a MOV CR, GPR in bits 3:0 */
#define SVM_CR_INFO_MOV			BIT_ULL(63)

#define SVM_DR6_INIT			0xffff0ff0ULL

/* IOIO exit_info_1 */
#define SVM_IOIO_IN			BIT(0)
#define SVM_IOIO_STR			BIT(2)
#define SVM_IOIO_REP			BIT(3)
#define SVM_IOIO_SIZE_SHIFT		4
#define SVM_IOIO_SIZE_MASK		(7 << SVM_IOIO_SIZE_SHIFT)
#define SVM_IOIO_PORT_SHIFT		16

/* NPF exit_info_1 */
#define SVM_NPF_PRESENT			BIT_ULL(0)
#define SVM_NPF_WRITE			BIT_ULL(1)
#define SVM_NPF_FETCH			BIT_ULL(4)
#define SVM_NPF_IN_WALK			BIT_ULL(33)	/* a guest page-table access */

/* CPUID 0x8000000a EDX */
#define SVM_FEATURE_NRIPS		BIT(3)
#define SVM_FEATURE_FLUSH_BY_ASID	BIT(6)
#define SVM_FEATURE_DECODE_ASSISTS	BIT(7)

struct svm_vcpu {
	struct svm_vmcb *vmcb;
	u64 vmcb_pa;
	u32 asid;
	int asid_cpu;
	u64 asid_generation;
	u64 cr0_cd_nw;			/* CD/NW kept out of the hardware CR0 */
	/*
	 * Shadow MMU: the guest's own control registers; the VMCB's are the
	 * hardware's, made from these at every entry (svm_shadow_load).
	 */
	u64 guest_cr0, guest_cr3, guest_cr4, guest_efer;
	/*
	 * RIP at the last exit: the interrupt shadow in int_state belongs to
	 * the instruction there, and ends once RIP has moved on (an exit
	 * handler skipped the instruction, or userspace set RIP).
	 */
	u64 exit_rip;
	bool virq_injected;		/* this entry injected through V_IRQ */
	/*
	 * This entry set RFLAGS.TF to step over the NMI handler's IRET, an
	 * NMI waiting behind it (svm_main.c); the guest's own TF was
	 * @nmi_step_tf.
	 */
	bool nmi_step;
	bool nmi_step_tf;
	bool soft_injected;		/* this entry injected a software event */
};

/* Guests run on shadow page tables (npt=0 or no NPT): svm_main.c. */
extern bool svm_shadow;

static inline struct svm_vcpu *to_svm(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.vendor;
}

/*
 * CLGI and STGI fault (#UD) once EFER.SVME was cleared under us (crash,
 * emergency reboot): the exception table skips them then.
 */
static __always_inline void svm_clgi(void)
{
	asm volatile("1: clgi\n2:\n" _ASM_EXTABLE(1b, 2b) ::: "memory");
}

static __always_inline void svm_stgi(void)
{
	asm volatile("1: stgi\n2:\n" _ASM_EXTABLE(1b, 2b) ::: "memory");
}

/* svm_enable.c: per-CPU enabling and ASIDs */
int svm_enable_init(void);
void svm_enable_exit(void);
u8 svm_assign_asid(struct svm_vcpu *s, int cpu);
u64 svm_host_save_pa(int cpu);
u64 svm_host_tsc_aux(void);
extern u64 svm_host_xss;		/* IA32_XSS of the host, 0 if none */
extern u32 svm_features;		/* CPUID 0x8000000a EDX */

/* svm_vmcb.c: VMCB set-up and state copies */
int svm_vmcb_global_init(void);
void svm_vmcb_global_exit(void);
void svm_vmcb_init(struct xkvm_vcpu *vcpu);
void svm_state_get(struct xkvm_vcpu *vcpu, u32 which);
void svm_state_set(struct xkvm_vcpu *vcpu, u32 which);
void svm_shadow_load(struct xkvm_vcpu *vcpu);
int svm_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int svm_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host);

/* svm_exit.c */
int svm_handle_exit(struct xkvm_vcpu *vcpu);

/* svm_vmrun.S */
void xkvm_svm_vmrun(u64 *regs, u64 guest_vmcb_pa, u64 host_vmcb_pa);

#endif /* XKVM_SVM_H */
