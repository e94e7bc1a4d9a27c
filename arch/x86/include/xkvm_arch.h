/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_arch.h - the x86 parts embedded in the generic VM and vCPU objects.
 *
 * Vendor-neutral: nothing here is VMX or SVM specific; vendors keep their
 * own data behind the 'vendor' pointers.  Field legend:
 *   (own)  touched only by the vCPU's own thread, under xkvm_vcpu.mutex
 *   (mmu)  under xkvm.mmu_lock
 */
#ifndef XKVM_ARCH_H
#define XKVM_ARCH_H

#include <linux/kvm.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <asm/fpu/types.h>

struct xkvm_vcpu;

/*
 * Statistics (arch/x86/stats.c), KVM's names where the meaning is the
 * same.  S(name, type): type is KVM_STATS_TYPE_CUMULATIVE or _INSTANT.
 * Each becomes XKVM_STAT_<name>, an index into the owner's stat[] array.
 */
#define XKVM_X86_VM_STATS(S)						\
	S(remote_tlb_flush, CUMULATIVE)	/* all-vCPU flushes done */	\
	S(remote_tlb_flush_requests, CUMULATIVE)			\
	S(pages_4k, INSTANT)		/* 4 KiB TDP leaves mapped */	\
	S(pages_2m, INSTANT)		/* 2 MiB TDP leaves mapped */	\
	S(nx_huge_splits, CUMULATIVE)	/* executed 2 MiB leaves split */

#define XKVM_X86_VCPU_STATS(S)						\
	/* KVM's names */						\
	S(exits, CUMULATIVE)		/* every VM exit */		\
	S(io_exits, CUMULATIVE)		/* KVM_EXIT_IO to userspace */	\
	S(mmio_exits, CUMULATIVE)	/* KVM_EXIT_MMIO to userspace */ \
	S(halt_exits, CUMULATIVE)					\
	S(irq_exits, CUMULATIVE)	/* host interrupts */		\
	S(irq_window_exits, CUMULATIVE)					\
	S(nmi_window_exits, CUMULATIVE)					\
	S(request_irq_exits, CUMULATIVE) /* KVM_EXIT_IRQ_WINDOW_OPEN */ \
	S(signal_exits, CUMULATIVE)	/* KVM_EXIT_INTR */		\
	S(insn_emulation, CUMULATIVE)					\
	S(insn_emulation_fail, CUMULATIVE)				\
	S(pf_taken, CUMULATIVE)		/* TDP faults */		\
	S(pf_fixed, CUMULATIVE)		/* ... that mapped a page */	\
	S(pf_emulate, CUMULATIVE)	/* ... emulated as MMIO */	\
	S(pf_spurious, CUMULATIVE)	/* ... found nothing to do */	\
	S(pf_guest, CUMULATIVE)		/* shadow: #PF given to the guest */ \
	S(invlpg, CUMULATIVE)		/* shadow: INVLPG */		\
	S(shadow_resets, CUMULATIVE)	/* shadow: a vCPU's tree dropped */ \
	S(tlb_flush, CUMULATIVE)	/* guest TLB flushes */		\
	S(l1d_flush, CUMULATIVE)					\
	S(irq_injections, CUMULATIVE)					\
	S(nmi_injections, CUMULATIVE)					\
	/* xkvm's breakdown of VM exits by kind, the same on both vendors */ \
	S(exits_io, CUMULATIVE)						\
	S(exits_tdp_fault, CUMULATIVE)					\
	S(exits_cpuid, CUMULATIVE)					\
	S(exits_msr_read, CUMULATIVE)					\
	S(exits_msr_write, CUMULATIVE)					\
	S(exits_cr, CUMULATIVE)						\
	S(exits_dr, CUMULATIVE)						\
	S(exits_hlt, CUMULATIVE)					\
	S(exits_xsetbv, CUMULATIVE)					\
	S(exits_exception, CUMULATIVE)					\
	S(exits_intr, CUMULATIVE)	/* host interrupt or NMI */	\
	S(exits_irq_window, CUMULATIVE)					\
	S(exits_nmi_window, CUMULATIVE)					\
	S(exits_iret, CUMULATIVE)					\
	S(exits_shutdown, CUMULATIVE)					\
	S(exits_other, CUMULATIVE)	/* anything else */

#define XKVM_STAT_INDEX(name, type)	XKVM_STAT_##name,
enum xkvm_x86_vm_stat { XKVM_X86_VM_STATS(XKVM_STAT_INDEX) XKVM_NR_VM_STATS };
enum xkvm_x86_vcpu_stat { XKVM_X86_VCPU_STATS(XKVM_STAT_INDEX) XKVM_NR_VCPU_STATS };
#undef XKVM_STAT_INDEX

/* General-purpose registers, in the hardware's encoding order. */
enum xkvm_reg {
	XKVM_REG_RAX, XKVM_REG_RCX, XKVM_REG_RDX, XKVM_REG_RBX,
	XKVM_REG_RSP, XKVM_REG_RBP, XKVM_REG_RSI, XKVM_REG_RDI,
	XKVM_REG_R8, XKVM_REG_R9, XKVM_REG_R10, XKVM_REG_R11,
	XKVM_REG_R12, XKVM_REG_R13, XKVM_REG_R14, XKVM_REG_R15,
	XKVM_NR_REGS
};

/* Segment registers, in the hardware's encoding order, then TR and LDTR. */
enum xkvm_seg {
	XKVM_SEG_ES, XKVM_SEG_CS, XKVM_SEG_SS, XKVM_SEG_DS,
	XKVM_SEG_FS, XKVM_SEG_GS, XKVM_SEG_TR, XKVM_SEG_LDTR,
	XKVM_NR_SEGS
};

/*
 * Guest state that lives in the vendor's control block (VMCB/VMCS).  The
 * vendor copies groups of it in and out on request (state_get/state_set);
 * state_valid says which groups the copy here holds since the last exit.
 */
#define XKVM_STATE_SEGS		BIT(0)	/* segs, gdt, idt */
#define XKVM_STATE_CRS		BIT(1)	/* cr0, cr2, cr3, cr4, efer */
#define XKVM_STATE_ALL		(XKVM_STATE_SEGS | XKVM_STATE_CRS)

struct xkvm_x86_state {
	struct kvm_segment segs[XKVM_NR_SEGS];
	struct kvm_dtable gdt, idt;
	u64 cr0, cr2, cr3, cr4, efer;
};

/* Kinds of events the hardware delivers; vendors map their own codes. */
enum xkvm_x86_event_type {
	XKVM_EVENT_EXT_INTR,		/* external interrupt */
	XKVM_EVENT_NMI,
	XKVM_EVENT_HW_EXC,		/* hardware exception */
	XKVM_EVENT_SW_INT,		/* INT n */
	XKVM_EVENT_PRIV_SW_EXC,		/* INT1 (ICEBP) */
	XKVM_EVENT_SW_EXC,		/* INT3, INTO */
};

/* One event to deliver (or whose delivery an exit interrupted). */
struct xkvm_x86_event {
	u8 type;			/* enum xkvm_x86_event_type */
	u8 vector;
	bool has_error_code;
	u32 error_code;
	u8 insn_len;			/* software events: instruction length */
};

/* An exception waiting to be injected at the next entry. */
struct xkvm_x86_exception {
	bool pending;
	bool has_error_code;
	u8 vector;
	u32 error_code;
};

/* An external interrupt userspace queued with KVM_INTERRUPT. */
struct xkvm_x86_interrupt {
	bool pending;
	u8 vector;
};

/*
 * NMIs: up to two may wait (one being delivered, one latched, as on the
 * CPU); after delivery NMIs stay blocked until the guest's IRET.
 */
struct xkvm_x86_nmi {
	u8 pending;
	bool masked;
	/*
	 * AMD-V: the NMI handler's IRET at @iret_rip was intercepted; NMIs
	 * stay masked until RIP has moved on from it (the IRET has run).
	 */
	bool iret_pending;
	u64 iret_rip;
};

/*
 * What KVM_RUN must finish when userspace comes back from an exit.  The
 * instruction emulator (arch/x86/emulate*.c) owns every kind but PIO_IN.
 */
enum xkvm_x86_completion {
	XKVM_COMPLETE_NONE,
	XKVM_COMPLETE_PIO_IN,
	XKVM_COMPLETE_PIO_OUT,		/* IN: the data goes to rAX (run.c) */
	XKVM_COMPLETE_MMIO_READ,	/* re-execute with the data read */
	XKVM_COMPLETE_MMIO_WRITE,	/* send the next piece of a write */
	XKVM_COMPLETE_STRING_IN,	/* INS: store the data in guest memory */
};

#define XKVM_EMU_INSN_MAX	15	/* bytes of an x86 instruction */
#define XKVM_EMU_MAX_READS	4	/* memory reads of one instruction */
#define XKVM_EMU_MAX_WRITES	2	/* MMIO pieces of its memory write */

/* One KVM_EXIT_MMIO: at most 8 bytes within one guest page. */
struct xkvm_x86_mmio_piece {
	u64 gpa;
	u8 len;
	u8 data[8];
};

struct xkvm_x86_pending_io {
	enum xkvm_x86_completion kind;
	u8 size;		/* PIO_IN: bytes; STRING_IN: element size */
	u64 next_rip;		/* PIO_IN/OUT */
	u64 exit_rip;		/* PIO_IN/OUT: RIP of the instruction */

	/* The emulated instruction (MMIO_READ, MMIO_WRITE, STRING_IN). */
	u8 insn[XKVM_EMU_INSN_MAX];
	u8 insn_len;
	bool gpa_valid;		/* gpa: the faulting address the vendor gave */
	u64 gpa;

	/*
	 * MMIO_READ: reads (in program order) already complete, the bytes
	 * of read nr_reads gathered so far, and the piece userspace serves.
	 */
	u8 nr_reads;
	u8 read_len[XKVM_EMU_MAX_READS];
	u8 read_data[XKVM_EMU_MAX_READS][8];
	u8 part_len;
	u8 part_data[8];
	struct xkvm_x86_mmio_piece cur;

	/* MMIO_WRITE: pieces not yet sent, next one at write_next. */
	u8 nr_writes, write_next;
	struct xkvm_x86_mmio_piece writes[XKVM_EMU_MAX_WRITES];

	/* STRING_IN: elements in the PIO data page. */
	u32 count;
};

#define XKVM_MAX_MCE_BANKS	32
#define XKVM_NR_VAR_MTRR	8
#define XKVM_NR_FIXED_MTRR	11

/* MSR state the core keeps itself (arch/x86/msr_common.c, mtrr.c, mce.c). */
struct xkvm_x86_msrs {
	u64 tsc_offset;			/* guest TSC = host TSC + offset */
	u64 tsc_adjust;
	u64 misc_enable;
	u64 hwcr;
	u64 ucode_rev;
	u64 tsc_aux;			/* what RDTSCP and RDPID read */
	u64 mtrr_deftype;
	u64 mtrr_fixed[XKVM_NR_FIXED_MTRR];
	u64 mtrr_var[2 * XKVM_NR_VAR_MTRR];	/* base, mask pairs */
	u64 mcg_cap, mcg_status, mcg_ctl;
	u64 mce_banks[XKVM_MAX_MCE_BANKS * 4];	/* CTL, STATUS, ADDR, MISC */
};

/* Non-global shadow leaves a vCPU remembers by address (mmu/shadow.c). */
#define XKVM_SHADOW_LOCAL_LOG	32

/* Zeroed pages for the second-level tables, taken by one fault. */
struct xkvm_x86_page_cache {
	int nr;
	void *pages[3];		/* the table levels below the root */
};

/* Which interrupt controllers live in the kernel (arch/x86/irqchip.c). */
enum xkvm_irqchip_mode {
	XKVM_IRQCHIP_NONE,		/* all in userspace: KVM_INTERRUPT */
	XKVM_IRQCHIP_KERNEL,		/* KVM_CREATE_IRQCHIP: LAPIC, IOAPIC, PIC */
	XKVM_IRQCHIP_SPLIT,		/* KVM_CAP_SPLIT_IRQCHIP: LAPIC only */
};

struct xkvm_pic;
struct xkvm_ioapic;
struct xkvm_pit;
struct xkvm_lapic;

/*
 * The VM's paravirtual clock (arch/x86/kvmclock.c).  kvmclock = host
 * CLOCK_MONOTONIC_RAW + offset.  The master clock is one host TSC/ns pair
 * all vCPUs extrapolate from; valid only while the host clocksource is a
 * stable TSC and every vCPU has the same TSC offset.  All under lock.
 */
struct xkvm_kvmclock_vm {
	spinlock_t lock;
	s64 offset;			/* KVM_SET_CLOCK */
	bool master;			/* master_tsc/master_ns valid */
	bool boot_old_msr;		/* vCPU 0 uses MSR_KVM_SYSTEM_TIME */
	u64 master_tsc, master_ns;
	u64 wall_clock;			/* MSR_KVM_WALL_CLOCK(_NEW) value */
	/* the last host-initiated TSC write, to match the next ones */
	u64 last_tsc_write, last_tsc_ns, cur_tsc_offset;
};

/* A vCPU's paravirtual clock (arch/x86/kvmclock.c); all (own). */
struct xkvm_kvmclock {
	u64 msr;			/* MSR_KVM_SYSTEM_TIME(_NEW); bit 0 on */
	u32 version;			/* of the last page written */
	u32 virtual_tsc_khz;		/* KVM_SET_TSC_KHZ */
	int last_cpu;			/* physical CPU of the last update */
	bool stop_pending;		/* KVM_KVMCLOCK_CTRL: GUEST_STOPPED next */
	/*
	 * A rate above the host's: before each entry the TSC is moved
	 * forward to where that rate would have it.  catchup is read by
	 * others (READ_ONCE) for the master clock.
	 */
	bool catchup;
	bool caught_up;			/* updated since the last entry */
	u64 catchup_tsc, catchup_ns;	/* guest TSC at raw ns */
};

struct xkvm_arch {
	u32 tss_addr;			/* KVM_SET_TSS_ADDR (lock) */
	u64 identity_map_addr;		/* KVM_SET_IDENTITY_MAP_ADDR (lock) */
	u64 tsc_offset0;		/* guest TSC 0 at VM creation */
	struct xkvm_kvmclock_vm clock;

	u64 stat[XKVM_NR_VM_STATS];	/* see XKVM_X86_VM_STATS */

	/*
	 * In-kernel interrupt controllers.  irqchip_mode and the device
	 * pointers are set once, under lock and before any vCPU exists
	 * (irqchip_mode last, with release); readers load irqchip_mode with
	 * acquire.  The PIT may come later (lock, release store).
	 */
	u8 irqchip_mode;		/* enum xkvm_irqchip_mode */
	u8 nr_reserved_ioapic_pins;	/* split: userspace IOAPIC's routes */
	bool x2apic_format;		/* KVM_X2APIC_API_USE_32BIT_IDS (lock) */
	bool x2apic_broadcast_quirk_disabled;	/* (lock) */
	u32 bsp_vcpu_id;		/* KVM_SET_BOOT_CPU_ID (lock) */
	u32 max_vcpu_ids;		/* KVM_CAP_MAX_VCPU_ID (lock) */
	struct xkvm_pic *pic;
	struct xkvm_ioapic *ioapic;
	struct xkvm_pit *pit;

	/* Two-dimensional paging (mmu) */
	u64 *tdp_root;			/* page-table root, kernel virtual */
	unsigned long tdp_pages;	/* table pages allocated (mmu) */
	void *vendor;			/* vendor's per-VM data */
};

struct xkvm_vcpu_arch {
	u64 regs[XKVM_NR_REGS];		/* (own) always current */
	u64 rip, rflags;		/* (own) always current */
	struct xkvm_x86_state state;	/* (own) valid groups: state_valid */
	u32 state_valid;		/* (own) XKVM_STATE_* */
	u64 cr8;			/* (own) TPR as userspace sees it */
	u64 db[4], dr6, dr7;		/* (own) guest debug registers */
	u64 apic_base;			/* (own) */
	u64 xcr0;			/* (own) guest XCR0 */
	struct fpu_guest guest_fpu;	/* (own) guest FPU/XSAVE state */
	struct xkvm_x86_exception exception;	/* (own) */
	struct xkvm_x86_interrupt interrupt;	/* (own) */
	struct xkvm_x86_nmi nmi;		/* (own) */
	struct xkvm_x86_event injected;		/* (own) delivered again first */
	bool injected_valid;			/* (own) */
	bool request_irq_window;		/* (own) kvm_run's, read at KVM_RUN */
	bool tlb_flush_pending;			/* (own) XKVM_REQ_TLB_FLUSH taken */
	bool tlb_flush_hw;			/* (own) flush the TLB tag only:
						 * the shadow tree stays */
	bool tlb_flush_guest;			/* (own) a new CR3: the guest's
						 * non-global translations go */
	struct xkvm_kvmclock clock;		/* (own) */
	u32 pkru, host_pkru;			/* (own) guest PKRU; the VMM's */
	bool l1d_flush;				/* (own) L1D may hold host data */
	unsigned long l1d_switches;		/* (own) thread switches seen */
	struct xkvm_x86_msrs msrs;		/* (own) */
	u32 mp_state;				/* (own) KVM_MP_STATE_* */
	struct xkvm_lapic *apic;	/* in-kernel LAPIC or NULL (arch/x86/dev) */
	atomic_t nmi_queued;		/* NMIs sent by others, see XKVM_REQ_NMI */
	bool irq_window_wanted;		/* (own) an in-kernel interrupt waits */
	int user_extint;		/* (own) split irqchip: KVM_INTERRUPT's
					 * ExtINT vector not yet taken, or -1 */
	struct xkvm_x86_pending_io pending;	/* (own) */

	struct xkvm_x86_page_cache tdp_cache;	/* (own) */
	/* shadow MMU (mmu/shadow.c): changed under mmu_lock */
	u64 *shadow_root;		/* root table, kernel virtual, or NULL */
	int shadow_levels;		/* 4, or 3: PAE (root below 4 GiB) */
	unsigned long shadow_tables;	/* table pages below the root */
	bool shadow_1g_leaves;		/* leaves of a guest 1 GiB page may exist */
	/* (own) where the non-global leaves are: > XKVM_SHADOW_LOCAL_LOG
	 * entries means anywhere (mmu/shadow.c) */
	unsigned int shadow_nr_local;
	u64 shadow_local[XKVM_SHADOW_LOCAL_LOG];

	bool has_run;			/* (own) KVM_RUN was called */
	struct kvm_cpuid_entry2 *cpuid;	/* (own) KVM_SET_CPUID2 table */
	int cpuid_nent;

	u64 stat[XKVM_NR_VCPU_STATS];	/* (own) see XKVM_X86_VCPU_STATS */
	void *vendor;			/* vendor's per-vCPU data */
};

#endif /* XKVM_ARCH_H */
