/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx.h - private to the VT-x backend: VMCS field encodings, control and
 * exit-reason bits (Intel SDM vol. 3, chapters 24-28 and appendices A-C),
 * the VMX instructions as inline functions, and the per-vCPU state.
 *
 * Every VMCS access needs the vCPU's VMCS to be current on this CPU with
 * preemption disabled: see vmx_vmcs_load() in vmx_enable.c.
 */
#ifndef XKVM_VMX_H
#define XKVM_VMX_H

#include <linux/bits.h>
#include <linux/list.h>
#include <linux/types.h>
#include <asm/asm.h>
#include <xkvm_x86.h>

/* ---- VMCS field encodings (SDM appendix B) ---------------------------- */

/* 16-bit */
#define VMCS_VPID			0x0000
#define VMCS_GUEST_ES_SEL		0x0800	/* + 2 * n, VMCS segment order */
#define VMCS_GUEST_PML_INDEX		0x0812
#define VMCS_HOST_ES_SEL		0x0c00
#define VMCS_HOST_CS_SEL		0x0c02
#define VMCS_HOST_SS_SEL		0x0c04
#define VMCS_HOST_DS_SEL		0x0c06
#define VMCS_HOST_FS_SEL		0x0c08
#define VMCS_HOST_GS_SEL		0x0c0a
#define VMCS_HOST_TR_SEL		0x0c0c

/* 64-bit */
#define VMCS_IO_BITMAP_A		0x2000
#define VMCS_IO_BITMAP_B		0x2002
#define VMCS_MSR_BITMAP			0x2004
#define VMCS_EXIT_MSR_STORE_ADDR	0x2006
#define VMCS_EXIT_MSR_LOAD_ADDR		0x2008
#define VMCS_ENTRY_MSR_LOAD_ADDR	0x200a
#define VMCS_PML_ADDRESS		0x200e
#define VMCS_TSC_OFFSET			0x2010
#define VMCS_EPT_POINTER		0x201a
#define VMCS_GUEST_PHYS_ADDR		0x2400
#define VMCS_LINK_POINTER		0x2800
#define VMCS_GUEST_DEBUGCTL		0x2802
#define VMCS_GUEST_PAT			0x2804
#define VMCS_GUEST_EFER			0x2806
#define VMCS_GUEST_PDPTE0		0x280a	/* + 2 * n */
#define VMCS_HOST_PAT			0x2c00
#define VMCS_HOST_EFER			0x2c02

/* 32-bit */
#define VMCS_PIN_CTLS			0x4000
#define VMCS_PROC_CTLS			0x4002
#define VMCS_EXCEPTION_BITMAP		0x4004
#define VMCS_PF_ERROR_MASK		0x4006
#define VMCS_PF_ERROR_MATCH		0x4008
#define VMCS_CR3_TARGET_COUNT		0x400a
#define VMCS_EXIT_CTLS			0x400c
#define VMCS_EXIT_MSR_STORE_COUNT	0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT	0x4010
#define VMCS_ENTRY_CTLS			0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT	0x4014
#define VMCS_ENTRY_INTR_INFO		0x4016
#define VMCS_ENTRY_EXCEPTION_ERROR	0x4018
#define VMCS_ENTRY_INSN_LEN		0x401a
#define VMCS_PROC_CTLS2			0x401e
#define VMCS_VM_INSN_ERROR		0x4400
#define VMCS_EXIT_REASON		0x4402
#define VMCS_EXIT_INTR_INFO		0x4404
#define VMCS_EXIT_INTR_ERROR		0x4406
#define VMCS_IDT_VECTORING_INFO		0x4408
#define VMCS_IDT_VECTORING_ERROR	0x440a
#define VMCS_EXIT_INSN_LEN		0x440c
#define VMCS_GUEST_ES_LIMIT		0x4800	/* + 2 * n */
#define VMCS_GUEST_GDTR_LIMIT		0x4810
#define VMCS_GUEST_IDTR_LIMIT		0x4812
#define VMCS_GUEST_ES_AR		0x4814	/* + 2 * n */
#define VMCS_GUEST_INTERRUPTIBILITY	0x4824
#define VMCS_GUEST_ACTIVITY		0x4826
#define VMCS_GUEST_SYSENTER_CS		0x482a
#define VMCS_PREEMPTION_TIMER		0x482e
#define VMCS_HOST_SYSENTER_CS		0x4c00

/* natural width */
#define VMCS_CR0_MASK			0x6000
#define VMCS_CR4_MASK			0x6002
#define VMCS_CR0_SHADOW			0x6004
#define VMCS_CR4_SHADOW			0x6006
#define VMCS_EXIT_QUAL			0x6400
#define VMCS_GUEST_CR0			0x6800
#define VMCS_GUEST_CR3			0x6802
#define VMCS_GUEST_CR4			0x6804
#define VMCS_GUEST_ES_BASE		0x6806	/* + 2 * n */
#define VMCS_GUEST_FS_BASE		0x680e
#define VMCS_GUEST_GS_BASE		0x6810
#define VMCS_GUEST_GDTR_BASE		0x6816
#define VMCS_GUEST_IDTR_BASE		0x6818
#define VMCS_GUEST_DR7			0x681a
#define VMCS_GUEST_RSP			0x681c
#define VMCS_GUEST_RIP			0x681e
#define VMCS_GUEST_RFLAGS		0x6820
#define VMCS_GUEST_PENDING_DBG		0x6822
#define VMCS_GUEST_SYSENTER_ESP		0x6824
#define VMCS_GUEST_SYSENTER_EIP		0x6826
#define VMCS_HOST_CR0			0x6c00
#define VMCS_HOST_CR3			0x6c02
#define VMCS_HOST_CR4			0x6c04
#define VMCS_HOST_FS_BASE		0x6c06
#define VMCS_HOST_GS_BASE		0x6c08
#define VMCS_HOST_TR_BASE		0x6c0a
#define VMCS_HOST_GDTR_BASE		0x6c0c
#define VMCS_HOST_IDTR_BASE		0x6c0e
#define VMCS_HOST_SYSENTER_ESP		0x6c10
#define VMCS_HOST_SYSENTER_EIP		0x6c12
#define VMCS_HOST_RSP			0x6c14	/* also in vmx_vmenter.S */
#define VMCS_HOST_RIP			0x6c16

/* Segment registers in the VMCS encoding order. */
enum vmx_seg {
	VMX_SEG_ES, VMX_SEG_CS, VMX_SEG_SS, VMX_SEG_DS,
	VMX_SEG_FS, VMX_SEG_GS, VMX_SEG_LDTR, VMX_SEG_TR,
};

/* ---- controls (SDM 24.6-24.8) ----------------------------------------- */

/* pin-based */
#define VMX_PIN_EXT_INTR		BIT(0)
#define VMX_PIN_NMI			BIT(3)
#define VMX_PIN_VIRTUAL_NMIS		BIT(5)
#define VMX_PIN_PREEMPTION_TIMER	BIT(6)

/* primary processor-based */
#define VMX_PROC_INTR_WINDOW		BIT(2)
#define VMX_PROC_TSC_OFFSET		BIT(3)
#define VMX_PROC_HLT			BIT(7)
#define VMX_PROC_INVLPG			BIT(9)
#define VMX_PROC_MWAIT			BIT(10)
#define VMX_PROC_RDPMC			BIT(11)
#define VMX_PROC_RDTSC			BIT(12)
#define VMX_PROC_CR3_LOAD		BIT(15)
#define VMX_PROC_CR3_STORE		BIT(16)
#define VMX_PROC_CR8_LOAD		BIT(19)
#define VMX_PROC_CR8_STORE		BIT(20)
#define VMX_PROC_TPR_SHADOW		BIT(21)
#define VMX_PROC_NMI_WINDOW		BIT(22)
#define VMX_PROC_MOV_DR			BIT(23)
#define VMX_PROC_UNCOND_IO		BIT(24)
#define VMX_PROC_IO_BITMAPS		BIT(25)
#define VMX_PROC_MTF			BIT(27)
#define VMX_PROC_MSR_BITMAPS		BIT(28)
#define VMX_PROC_MONITOR		BIT(29)
#define VMX_PROC_PAUSE			BIT(30)
#define VMX_PROC_SECONDARY		BIT(31)

/* secondary processor-based */
#define VMX_PROC2_EPT			BIT(1)
#define VMX_PROC2_RDTSCP		BIT(3)
#define VMX_PROC2_VPID			BIT(5)
#define VMX_PROC2_WBINVD		BIT(6)
#define VMX_PROC2_UNRESTRICTED		BIT(7)
#define VMX_PROC2_INVPCID		BIT(12)
#define VMX_PROC2_PML			BIT(17)

/* VM-exit */
#define VMX_EXIT_SAVE_DEBUG		BIT(2)
#define VMX_EXIT_HOST_64		BIT(9)
#define VMX_EXIT_ACK_INTR		BIT(15)
#define VMX_EXIT_SAVE_PAT		BIT(18)
#define VMX_EXIT_LOAD_PAT		BIT(19)
#define VMX_EXIT_SAVE_EFER		BIT(20)
#define VMX_EXIT_LOAD_EFER		BIT(21)
#define VMX_EXIT_PAT_EFER		(VMX_EXIT_SAVE_PAT | VMX_EXIT_LOAD_PAT | \
					 VMX_EXIT_SAVE_EFER | VMX_EXIT_LOAD_EFER)

/* VM-entry */
#define VMX_ENTRY_LOAD_DEBUG		BIT(2)
#define VMX_ENTRY_IA32E			BIT(9)
#define VMX_ENTRY_LOAD_PAT		BIT(14)
#define VMX_ENTRY_LOAD_EFER		BIT(15)
#define VMX_ENTRY_PAT_EFER		(VMX_ENTRY_LOAD_PAT | VMX_ENTRY_LOAD_EFER)

/* IA32_VMX_BASIC */
#define VMX_BASIC_REVISION(b)		((u32)(b) & 0x7fffffff)
#define VMX_BASIC_SIZE(b)		(((b) >> 32) & 0x1fff)
#define VMX_BASIC_32BIT_ADDR		BIT_ULL(48)
#define VMX_BASIC_MEMTYPE(b)		(((b) >> 50) & 0xf)
#define VMX_BASIC_TRUE		BIT_ULL(55)
#define VMX_MEMTYPE_WB			6

/* IA32_VMX_MISC */
#define VMX_MISC_SAVE_LMA		BIT_ULL(5)
#define VMX_MISC_TIMER_RATE(m)		((m) & 0x1f)	/* TSC >> rate */

/* IA32_VMX_EPT_VPID_CAP */
#define VMX_EPT_CAP_WALK4		BIT_ULL(6)
#define VMX_EPT_CAP_WB			BIT_ULL(14)
#define VMX_EPT_CAP_2M			BIT_ULL(16)
#define VMX_EPT_CAP_INVEPT		BIT_ULL(20)
#define VMX_EPT_CAP_AD			BIT_ULL(21)
#define VMX_EPT_CAP_INVEPT_SINGLE	BIT_ULL(25)
#define VMX_EPT_CAP_INVEPT_ALL		BIT_ULL(26)
#define VMX_VPID_CAP_INVVPID		BIT_ULL(32)
#define VMX_VPID_CAP_INVVPID_SINGLE	BIT_ULL(41)
#define VMX_VPID_CAP_INVVPID_ALL	BIT_ULL(42)

#define VMX_INVEPT_SINGLE		1
#define VMX_INVEPT_ALL			2
#define VMX_INVVPID_SINGLE		1
#define VMX_INVVPID_ALL			2

/* EPT entries and pointer (SDM 29.3) */
#define VMX_EPT_R			BIT_ULL(0)
#define VMX_EPT_W			BIT_ULL(1)
#define VMX_EPT_X			BIT_ULL(2)
#define VMX_EPT_MT_WB			(6ULL << 3)
#define VMX_EPT_IPAT			BIT_ULL(6)
#define VMX_EPT_LARGE			BIT_ULL(7)	/* 2 MiB leaf in a PDE */
#define VMX_EPT_A			BIT_ULL(8)
#define VMX_EPT_D			BIT_ULL(9)
#define VMX_EPTP_WB			6ULL
#define VMX_EPTP_WALK4			(3ULL << 3)
#define VMX_EPTP_AD			BIT_ULL(6)

/* interruption information (entry, exit, IDT vectoring) */
#define VMX_INTR_VECTOR			0xff
#define VMX_INTR_TYPE_SHIFT		8
#define VMX_INTR_TYPE_MASK		(7 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_EXT		(0 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_NMI		(2 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_HW_EXC		(3 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_SW_INT		(4 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_PRIV_SW_EXC	(5 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_TYPE_SW_EXC		(6 << VMX_INTR_TYPE_SHIFT)
#define VMX_INTR_ERROR_CODE		BIT(11)
#define VMX_INTR_VALID			BIT(31)

/* guest interruptibility state */
#define VMX_INTERRUPTIBILITY_STI	BIT(0)
#define VMX_INTERRUPTIBILITY_MOV_SS	BIT(1)
#define VMX_INTERRUPTIBILITY_SHADOW	(VMX_INTERRUPTIBILITY_STI | \
					 VMX_INTERRUPTIBILITY_MOV_SS)
#define VMX_INTERRUPTIBILITY_NMI	BIT(3)	/* virtual-NMI blocking */

/*
 * Exit qualification (EPT violation) and exit interruption information
 * (exception): the faulting instruction was an IRET that had already
 * unblocked NMIs; the blocking must be set again before it re-executes.
 */
#define VMX_NMI_UNBLOCKED_BY_IRET	BIT(12)

/* segment access rights */
#define VMX_AR_UNUSABLE			BIT(16)

/* ---- exit reasons (SDM appendix C) ------------------------------------ */
#define VMX_EXIT_REASON_FAILED_ENTRY	BIT(31)
#define VMX_EXIT_REASON_BASIC(r)	((r) & 0xffff)

#define VMX_EXIT_EXCEPTION_NMI		0
#define VMX_EXIT_EXT_INTR		1
#define VMX_EXIT_TRIPLE_FAULT		2
#define VMX_EXIT_INIT			3
#define VMX_EXIT_SIPI			4
#define VMX_EXIT_IO_SMI			5
#define VMX_EXIT_OTHER_SMI		6
#define VMX_EXIT_INTR_WINDOW		7
#define VMX_EXIT_NMI_WINDOW		8
#define VMX_EXIT_TASK_SWITCH		9
#define VMX_EXIT_CPUID			10
#define VMX_EXIT_RDPMC			15
#define VMX_EXIT_GETSEC			11
#define VMX_EXIT_HLT			12
#define VMX_EXIT_INVD			13
#define VMX_EXIT_INVLPG			14
#define VMX_EXIT_VMCALL			18
#define VMX_EXIT_VMCLEAR		19
#define VMX_EXIT_VMLAUNCH		20
#define VMX_EXIT_VMPTRLD		21
#define VMX_EXIT_VMPTRST		22
#define VMX_EXIT_VMREAD			23
#define VMX_EXIT_VMRESUME		24
#define VMX_EXIT_VMWRITE		25
#define VMX_EXIT_VMXOFF			26
#define VMX_EXIT_VMXON			27
#define VMX_EXIT_CR_ACCESS		28
#define VMX_EXIT_DR_ACCESS		29
#define VMX_EXIT_IO			30
#define VMX_EXIT_RDMSR			31
#define VMX_EXIT_WRMSR			32
#define VMX_EXIT_INVALID_STATE		33
#define VMX_EXIT_MSR_LOAD_FAIL		34
#define VMX_EXIT_MWAIT			36
#define VMX_EXIT_MONITOR		39
#define VMX_EXIT_MCE_DURING_ENTRY	41
#define VMX_EXIT_EPT_VIOLATION		48
#define VMX_EXIT_EPT_MISCONFIG		49
#define VMX_EXIT_INVEPT			50
#define VMX_EXIT_PREEMPTION_TIMER	52
#define VMX_EXIT_INVVPID		53
#define VMX_EXIT_WBINVD			54
#define VMX_EXIT_XSETBV			55
#define VMX_EXIT_PML_FULL		62
#define VMX_EXIT_NR			63

/* CR-access exit qualification */
#define VMX_CR_NUM(q)			((q) & 0xf)
#define VMX_CR_TYPE(q)			(((q) >> 4) & 3)
#define VMX_CR_TYPE_MOV_TO		0
#define VMX_CR_TYPE_MOV_FROM		1
#define VMX_CR_TYPE_CLTS		2
#define VMX_CR_TYPE_LMSW		3
#define VMX_CR_GPR(q)			(((q) >> 8) & 0xf)
#define VMX_CR_LMSW_DATA(q)		(((q) >> 16) & 0xffff)

/* I/O exit qualification */
#define VMX_IO_SIZE(q)			(((q) & 7) + 1)
#define VMX_IO_IN			BIT(3)
#define VMX_IO_STRING			BIT(4)
#define VMX_IO_REP			BIT(5)
#define VMX_IO_PORT(q)			(((q) >> 16) & 0xffff)

/* EPT-violation exit qualification */
#define VMX_EPT_QUAL_WRITE		BIT(1)
#define VMX_EPT_QUAL_FETCH		BIT(2)
#define VMX_EPT_QUAL_PERM		(7 << 3)	/* R/W/X of the entry */
#define VMX_EPT_QUAL_GLA_VALID		BIT(7)
#define VMX_EPT_QUAL_GLA_FINAL		BIT(8)	/* else a paging-structure access */

/* ---- capabilities computed at load (vmx_vmcs.c) ----------------------- */
struct vmx_config {
	u32 revision;
	u32 pin, proc, proc2, exit, entry;	/* base control values */
	u64 ept_cap;
	bool ept_ad;
	bool vpid;
	bool pml;			/* page-modification logging in use */
	bool shadow;			/* shadow page tables, no EPT */
	bool pat_efer_ctls;		/* the VMCS switches PAT and EFER */
	u32 backstop_ticks;		/* preemption-timer value, 0: none */
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	u64 cr0_mask, cr4_mask;		/* guest/host masks: bits xkvm owns */
};

extern struct vmx_config vmx_cfg;

/* Why enter_guest returned; the VM-exit details are valid for VMX_RAN. */
enum vmx_outcome {
	VMX_RAN,		/* VM entry and exit (or a failed entry) */
	VMX_VMFAIL,		/* VMLAUNCH/VMRESUME failed: vm_insn_error */
	VMX_RELOAD,		/* VMCS active elsewhere: clear it, then retry */
};

/* One entry of a VM-entry / VM-exit MSR-load list (SDM 24.7.2, 24.8.2). */
struct vmx_msr_entry {
	u32 index;
	u32 reserved;
	u64 value;
} __aligned(16);

/* MSRs perf may ask to switch (PERF_GLOBAL_CTRL, PEBS_ENABLE, ...). */
#define VMX_MAX_SWITCH_MSRS	8

struct vmx_vcpu {
	struct xkvm_vcpu *vcpu;
	void *vmcs;			/* VMCS region (one page) */
	u64 vmcs_pa;
	int cpu;			/* CPU the VMCS is active on, -1: clear */
	struct list_head loaded_link;	/* on that CPU's list, IRQs off */
	bool launched;			/* VMLAUNCH done since the last VMCLEAR */
	bool need_flush;		/* INVEPT/INVVPID owed before the next entry */
	u16 vpid;			/* 0: none */
	u64 eptp;
	u32 pin;			/* pin-based controls as in the VMCS */
	u32 proc;			/* primary controls as in the VMCS */
	u32 proc2;			/* secondary controls of this vCPU */
	u64 *pml_log;			/* PML page, NULL without PML */
	u16 pml_index;			/* guest PML index at the last exit */

	/* the last exit, read in enter_guest while the VMCS is current */
	enum vmx_outcome outcome;
	u32 vm_insn_error;
	u32 exit_reason;
	u64 exit_qual;
	u32 exit_insn_len;
	u32 exit_intr_info, exit_intr_error;
	u64 exit_gpa;
	u64 exit_rip;
	/*
	 * Guest interruptibility (STI/MOV SS shadow, NMI blocking) as the
	 * next entry must load it, and as the VMCS holds it now.  The shadow
	 * holds only while RIP stays at exit_rip; NMI blocking mirrors
	 * vcpu->arch.nmi.masked.
	 */
	u32 interruptibility, cur_interruptibility;

	/* what the core handed over for the next entry (events.c) */
	struct xkvm_x86_event staged;
	bool staged_valid;
	bool irq_window, nmi_window;

	/*
	 * Control registers as the guest sees them, refreshed after every
	 * exit, so XKVM_STATE_CRS can be read with interrupts off.
	 */
	u64 cr0, cr2, cr3, cr4, efer;
	/* without pat_efer_ctls: the guest's PAT, the EFER it runs with */
	u64 pat, hw_efer;

	/* values last written to the VMCS, to skip unchanged writes */
	u64 cur_rip, cur_rsp, cur_rflags, cur_tsc_offset;
	u64 cur_host_cr3, cur_host_cr4, cur_host_fs_base;
	u16 cur_host_fs_sel, cur_host_gs_sel;

	/* MSRs the VMCS does not switch */
	u64 kernel_gs_base, star, lstar, cstar, sfmask;

	/*
	 * MSR-load lists for perf's MSRs (vmx_isolation.c): loaded at entry
	 * (guest values) and at exit (host values); one page, both lists.
	 */
	struct vmx_msr_entry *msr_guest, *msr_host;
	u32 nr_msr_guest, nr_msr_host;	/* counts as in the VMCS */

	/*
	 * Real mode without unrestricted guest (vmx_rmode.c): the VMCS holds
	 * the virtual-8086 form; rm_segs are the guest's own segments where
	 * rm_fixed says the VMCS holds another form (rm_sel: its selector).
	 */
	bool vm86;
	bool rm_reload;			/* segments set from outside */
	u16 rm_fixed;
	u16 rm_sel[XKVM_NR_SEGS];
	struct kvm_segment rm_segs[XKVM_NR_SEGS];
	u64 rm_iopl;			/* the guest's RFLAGS.IOPL */
	struct kvm_dtable rm_idt;	/* the guest's IDTR while in vm86 */
	bool rm_idt_fixed;		/* the VMCS holds limit 0 instead */
	u64 rm_tss_base;		/* linear address of the vm86 TSS */
	struct page *rm_tss[3];		/* allocated at the first use */
};

static inline struct vmx_vcpu *to_vmx(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.vendor;
}

/* vmx_isolation.c */
int vmx_isolation_init(void);
void vmx_isolation_exit(void);
void vmx_l1d_flush(struct xkvm_vcpu *vcpu);
void vmx_perf_switch(struct vmx_vcpu *vmx);

/*
 * ---- VMX instructions -------------------------------------------------
 * Each has an exception-table entry: after VMXOFF (an emergency reboot or
 * crash turned VMX off on this CPU under a running vCPU thread) they fault
 * with #UD, and the fault becomes a failure of the instruction instead of
 * an oops (vmx_insn_faulted).
 */
void vmx_insn_failed(const char *insn, unsigned long field);
void vmx_insn_faulted(const char *insn);

static __always_inline u64 vmcs_read(unsigned long field)
{
	u64 value;

	asm goto("1: vmread %[field], %[value]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : [value] "=r" (value) : [field] "r" (field) : "cc"
		 : fail, fault);
	return value;
fail:
	vmx_insn_failed("vmread", field);
	return 0;
fault:
	vmx_insn_faulted("vmread");
	return 0;
}

static __always_inline void vmcs_write(unsigned long field, u64 value)
{
	asm goto("1: vmwrite %[value], %[field]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : : [value] "rm" (value), [field] "r" (field) : "cc", "memory"
		 : fail, fault);
	return;
fail:
	vmx_insn_failed("vmwrite", field);
	return;
fault:
	vmx_insn_faulted("vmwrite");
}

/* VMCLEAR, VMPTRLD, INVEPT, INVVPID on a memory operand; true: failed. */
#define VMX_MEM_INSN(insn, operands...)					\
({									\
	bool __failed = false;						\
	asm goto("1: " insn "\n\t"					\
		 "jna %l[fail]\n\t"					\
		 _ASM_EXTABLE(1b, %l[fault])				\
		 : : operands : "cc", "memory" : fail, fault);		\
	if (0) {							\
fault:									\
		vmx_insn_faulted(insn);					\
fail:									\
		__failed = true;					\
	}								\
	__failed;							\
})

static inline bool vmx_vmclear(u64 pa)
{
	return VMX_MEM_INSN("vmclear %[pa]", [pa] "m" (pa));
}

static inline bool vmx_vmptrld(u64 pa)
{
	return VMX_MEM_INSN("vmptrld %[pa]", [pa] "m" (pa));
}

static inline bool vmx_invept(unsigned long type, u64 eptp)
{
	struct { u64 eptp, rsvd; } desc = { eptp, 0 };

	return VMX_MEM_INSN("invept %[desc], %[type]",
			    [desc] "m" (desc), [type] "r" (type));
}

static inline bool vmx_invvpid(unsigned long type, u16 vpid)
{
	struct { u64 vpid, gva; } desc = { vpid, 0 };

	return VMX_MEM_INSN("invvpid %[desc], %[type]",
			    [desc] "m" (desc), [type] "r" (type));
}

/* vmx_enable.c: VMXON per CPU, VMCS residency, VPIDs */
int vmx_enable_init(void);
void vmx_enable_exit(void);
int vmx_vmcs_load(struct vmx_vcpu *vmx);
void vmx_vmcs_load_sync(struct vmx_vcpu *vmx);
void vmx_vmcs_clear(struct vmx_vcpu *vmx);
void vmx_flush_all_this_cpu(void);
u16 vmx_vpid_alloc(void);
void vmx_vpid_free(u16 vpid);

/* vmx_vmcs.c: capabilities, VMCS contents, state copies */
int vmx_setup_config(bool want_ept);
void vmx_seg_get(int seg, struct kvm_segment *s);
void vmx_seg_set(int seg, const struct kvm_segment *s);
u16 vmx_seg_selector(int seg);

/* Exceptions that exit with shadow paging outside virtual-8086 mode. */
#define VMX_EXC_BITMAP	(BIT(X86_TRAP_DB) | BIT(X86_TRAP_AC) | BIT(X86_TRAP_MC))
#define VMX_EXC_BITMAP_SHADOW	(VMX_EXC_BITMAP | BIT(X86_TRAP_PF))

/* vmx_rmode.c */
void vmx_rmode_load(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx);
void vmx_rmode_fold(struct vmx_vcpu *vmx);
void vmx_rmode_state_get(struct vmx_vcpu *vmx, struct kvm_segment *segs);
int vmx_rmode_exception(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx);
u32 vmx_rmode_event(struct vmx_vcpu *vmx, const struct xkvm_x86_event *ev,
		    u32 info);
void vmx_rmode_vcpu_free(struct vmx_vcpu *vmx);
int vmx_exit_shutdown(struct xkvm_vcpu *vcpu);
void vmx_shadow_load(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx);
int vmx_vmcs_global_init(void);
void vmx_vmcs_global_exit(void);
void vmx_vmcs_init(struct xkvm_vcpu *vcpu);
void vmx_set_host_cpu_state(void);
void vmx_read_crs(struct vmx_vcpu *vmx);
void vmx_state_get(struct xkvm_vcpu *vcpu, u32 which);
void vmx_state_set(struct xkvm_vcpu *vcpu, u32 which);
int vmx_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int vmx_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host);

/* vmx_main.c: world switch */
void vmx_uret_cpu_down(void);

/* vmx_exit.c */
int vmx_handle_exit(struct xkvm_vcpu *vcpu);

/* vmx_pml.c */
void vmx_pml_setup(struct vmx_config *c);
u32 vmx_pml_log_size(void);
int vmx_pml_vcpu_create(struct vmx_vcpu *vmx);
void vmx_pml_vcpu_free(struct vmx_vcpu *vmx);
void vmx_pml_vmcs_init(struct vmx_vcpu *vmx);
void vmx_pml_capture(struct vmx_vcpu *vmx);
void vmx_pml_drain(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx);
int vmx_exit_pml_full(struct xkvm_vcpu *vcpu);

/* vmx_vmenter.S: 0 after a VM exit, 1 VMfailValid, 2 VMfailInvalid */
int xkvm_vmx_vmenter(u64 *regs, bool launched);
extern const u8 xkvm_vmx_vmexit[];	/* HOST_RIP */

#endif /* XKVM_VMX_H */
