/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_x86.h - the contract between the x86 core (xkvm.ko) and a vendor
 * backend (xkvm-amd.ko, xkvm-intel.ko).
 *
 * The vendor probes its hardware, fills one const xkvm_x86_ops and calls
 * xkvm_x86_vendor_register().  The vendor decodes exits; the core owns
 * their semantics: a vendor exit handler turns an exit into one call of an
 * xkvm_x86_exit_*() helper below (port I/O, CPUID, MSR, HLT, TDP fault ...),
 * so CPUID, MSR, I/O and emulation logic is written once.
 *
 * Exit handler return contract (vendor tables and the helpers alike):
 *    1  resume the guest
 *    0  return to userspace; kvm_run->exit_reason is filled in
 *   <0  return this errno from KVM_RUN
 */
#ifndef XKVM_X86_H
#define XKVM_X86_H

#include <asm/processor-flags.h>
#include <xkvm/xkvm_host.h>

/*
 * Bits of a second-level page-table entry.  NPT uses the ordinary x86
 * format, EPT its own; the MMU builds tables from this description.
 */
struct xkvm_tdp_format {
	u64 present;		/* any of these bits set: entry present */
	u64 table;		/* bits of a non-leaf entry */
	u64 leaf_ro;		/* bits of a read-only 4K leaf */
	u64 writable;		/* added to leaf_ro for a writable leaf */
	u64 dirty;		/* hardware-set dirty bit of a leaf, 0 if none */
	u64 large;		/* a 2 MiB leaf in a level-2 entry; 0: none */
	u64 exec;		/* in leaf_ro, taken out of a non-executable leaf */
	u64 nx;			/* added to a non-executable leaf */
};

/* What a TDP fault exit says about the access. */
#define XKVM_FAULT_WRITE	BIT(0)
#define XKVM_FAULT_FETCH	BIT(1)
#define XKVM_FAULT_PRESENT	BIT(2)	/* the entry was present */
#define XKVM_FAULT_IN_WALK	BIT(3)	/* while walking the guest's page tables */
#define XKVM_FAULT_USER		BIT(4)	/* a user-mode access (guest walks) */

struct xkvm_x86_ops {
	const char *name;
	struct module *owner;
	/* second-level entry format; NULL: guests run on the shadow MMU */
	const struct xkvm_tdp_format *tdp;
	/* entries of a hardware dirty log (PML) drained per exit; 0: none */
	u32 cpu_dirty_log_size;

	/* VM lifetime; optional. */
	int (*vm_init)(struct xkvm *vm);
	void (*vm_destroy)(struct xkvm *vm);

	/* vCPU lifetime; mandatory.  vcpu_create leaves the reset state. */
	int (*vcpu_create)(struct xkvm_vcpu *vcpu);
	void (*vcpu_free)(struct xkvm_vcpu *vcpu);

	/* Copy XKVM_STATE_* groups out of / into the control block. */
	void (*state_get)(struct xkvm_vcpu *vcpu, u32 which);
	void (*state_set)(struct xkvm_vcpu *vcpu, u32 which);

	/*
	 * MSRs whose home is the control block (EFER, PAT, SYSCALL and
	 * SYSENTER MSRs, segment bases ...).  Return 0 if handled, 1 if the
	 * MSR is not the vendor's, -EINVAL for a bad value (#GP).
	 */
	int (*get_msr)(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct xkvm_vcpu *vcpu, u32 index, u64 data,
		       bool host_initiated);

	/*
	 * The interrupt shadow (KVM_X86_SHADOW_INT_*) after STI or MOV SS,
	 * as it holds for the instruction at the current RIP.  Mandatory.
	 */
	u32 (*get_interrupt_shadow)(struct xkvm_vcpu *vcpu);
	void (*set_interrupt_shadow)(struct xkvm_vcpu *vcpu, u32 shadow);

	/*
	 * Event primitives (the policy is the core's: events.c).  Called
	 * with interrupts off right before enter_guest: inject_event at most
	 * once, then both window hooks.  inject_event delivers @ev at the
	 * entry as given (whatever RFLAGS.IF says); the windows ask for an
	 * exit as soon as the guest could take an interrupt / an NMI.  After
	 * the exit the vendor reports an event whose delivery did not
	 * complete with xkvm_x86_event_interrupted(), keeps the NMI blocking
	 * in vcpu->arch.nmi.masked current, and clears both windows.
	 * Mandatory.
	 */
	void (*inject_event)(struct xkvm_vcpu *vcpu,
			     const struct xkvm_x86_event *ev);
	void (*set_irq_window)(struct xkvm_vcpu *vcpu, bool on);
	void (*set_nmi_window)(struct xkvm_vcpu *vcpu, bool on);

	/*
	 * Enter the guest once and return after the exit.  Called with
	 * preemption and interrupts disabled, guest FPU loaded, events
	 * handed over.  Flush the guest's TLB tags first if @flush_tlb.
	 */
	void (*enter_guest)(struct xkvm_vcpu *vcpu, bool flush_tlb);

	/* Dispatch the last exit through the vendor's exit table. */
	int (*handle_exit)(struct xkvm_vcpu *vcpu);
};

extern const struct xkvm_x86_ops *xkvm_x86_ops;

/* Does the vendor run guests on shadow page tables (no tdp format)? */
static inline bool xkvm_x86_shadow_mmu(void)
{
	return !xkvm_x86_ops->tdp;
}

/* Count one event of statistic XKVM_STAT_@name (stats.c); vCPU thread. */
#define xkvm_x86_stat_inc(vcpu, name)	((vcpu)->arch.stat[XKVM_STAT_##name]++)

int xkvm_x86_vendor_register(const struct xkvm_x86_ops *ops);
void xkvm_x86_vendor_unregister(const struct xkvm_x86_ops *ops);

/* Register-state cache (arch/x86/regs.c). */
void xkvm_x86_state_need(struct xkvm_vcpu *vcpu, u32 which);
void xkvm_x86_state_dirty(struct xkvm_vcpu *vcpu, u32 which);
void xkvm_x86_reset_regs(struct xkvm_vcpu *vcpu);
int xkvm_x86_cpl(struct xkvm_vcpu *vcpu);

/* Events: the injection policy (arch/x86/events.c). */
void xkvm_x86_queue_exception(struct xkvm_vcpu *vcpu, u8 vector,
			      bool has_error_code, u32 error_code);
void xkvm_x86_event_interrupted(struct xkvm_vcpu *vcpu,
				const struct xkvm_x86_event *ev);
void xkvm_x86_inject_events(struct xkvm_vcpu *vcpu);
bool xkvm_x86_ready_for_interrupt(struct xkvm_vcpu *vcpu);
bool xkvm_x86_irq_window_open(struct xkvm_vcpu *vcpu);
void xkvm_x86_events_reset(struct xkvm_vcpu *vcpu);
long xkvm_x86_events_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			   void __user *argp);

/* Neutral exit semantics, called from vendor exit handlers. */
struct xkvm_x86_io {
	u16 port;
	u8 size;		/* 1, 2 or 4 */
	bool in;
	bool string;
	bool rep;
	u64 next_rip;
};

int xkvm_x86_exit_io(struct xkvm_vcpu *vcpu, const struct xkvm_x86_io *io);
int xkvm_x86_exit_cpuid(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_hlt(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_rdmsr(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_wrmsr(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_xsetbv(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_nop(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_host_intr(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_irq_window(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_nmi_window(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_rdpmc(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_rdtscp(struct xkvm_vcpu *vcpu, u64 next_rip);
int xkvm_x86_exit_ud(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_mov_dr(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_shutdown(struct xkvm_vcpu *vcpu);
int xkvm_x86_exit_fail_entry(struct xkvm_vcpu *vcpu, u64 reason);
int xkvm_x86_exit_unhandled(struct xkvm_vcpu *vcpu, u64 exit_code);
int xkvm_x86_exit_tdp_fault(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			    u32 fault, const u8 *insn, int insn_len);

/* Control registers (arch/x86/cr.c). */
enum xkvm_x86_cr_kind {
	XKVM_CR_MOV_TO,
	XKVM_CR_MOV_FROM,
	XKVM_CR_CLTS,
	XKVM_CR_LMSW,
};

struct xkvm_x86_cr_access {
	u8 cr;			/* 0, 3, 4 or 8 */
	u8 kind;		/* enum xkvm_x86_cr_kind */
	u8 gpr;			/* MOV: the general-purpose register */
	u16 lmsw;		/* LMSW: the source operand */
	u64 next_rip;
};

/*
 * CR4 bits a vendor may let the guest change without an exit: valid for
 * every guest, no effect outside the guest (PGE: the guest's own TLB).
 */
#define XKVM_CR4_GUEST_OWNED	(X86_CR4_PGE | X86_CR4_TSD | X86_CR4_DE | \
				 X86_CR4_PCE | X86_CR4_OSFXSR | \
				 X86_CR4_OSXMMEXCPT)

int xkvm_x86_exit_cr(struct xkvm_vcpu *vcpu, const struct xkvm_x86_cr_access *a);
bool xkvm_x86_lmsw(struct xkvm_vcpu *vcpu, u16 src);
int xkvm_x86_exit_vm86_gp(struct xkvm_vcpu *vcpu);
bool xkvm_x86_realmode_int(struct xkvm_vcpu *vcpu, u8 vector, u64 return_ip);
u64 xkvm_x86_cr4_reserved(struct xkvm_vcpu *vcpu);
u64 xkvm_x86_get_cr8(struct xkvm_vcpu *vcpu);
void xkvm_x86_set_cr8(struct xkvm_vcpu *vcpu, u64 cr8);
bool xkvm_x86_cr8_write_exit_wanted(struct xkvm_vcpu *vcpu);
bool xkvm_x86_cr0_valid(u64 cr0);

/*
 * Decoding of the instruction at RIP, for vendors whose exit does not
 * describe it (AMD-V without NRIP save or decode assists), in
 * arch/x86/insn_intercept.c.  Both return false if the bytes there are
 * not what the exit said (the guest changed them meanwhile).
 */
bool xkvm_x86_insn_next_rip(struct xkvm_vcpu *vcpu, const u8 *opcode, int len,
			    u64 *next_rip);
bool xkvm_x86_decode_cr_access(struct xkvm_vcpu *vcpu, int cr, bool write,
			       struct xkvm_x86_cr_access *a);

/* CPUID lookup for the guest (arch/x86/cpuid.c). */
void xkvm_x86_guest_cpuid(struct xkvm_vcpu *vcpu, u32 leaf, u32 subleaf,
			  u32 *eax, u32 *ebx, u32 *ecx, u32 *edx);
int xkvm_x86_guest_maxphyaddr(struct xkvm_vcpu *vcpu);
u64 xkvm_x86_guest_supported_xcr0(struct xkvm_vcpu *vcpu);
bool xkvm_x86_guest_vendor_amd(struct xkvm_vcpu *vcpu);
bool xkvm_x86_guest_vendor_intel(struct xkvm_vcpu *vcpu);

/* Supported CPUID and XSAVE sizes (arch/x86/cpuid_supported.c). */
long xkvm_x86_get_supported_cpuid(struct kvm_cpuid2 __user *uarg);
u64 xkvm_x86_supported_xcr0(void);
u32 xkvm_x86_xsave_size(u64 xcr0);

/* MSRs (arch/x86/msr.c): 0 ok, non-zero → #GP for a guest access. */
int xkvm_x86_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data,
		     bool host_initiated);
int xkvm_x86_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
		     bool host_initiated);
bool xkvm_x86_efer_valid(struct xkvm_vcpu *vcpu, u64 efer);
bool xkvm_x86_apic_base_valid(struct xkvm_vcpu *vcpu, u64 data);
void xkvm_x86_msrs_reset(struct xkvm_vcpu *vcpu);
bool xkvm_x86_guest_has_tsc_aux(struct xkvm_vcpu *vcpu);
int xkvm_x86_common_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int xkvm_x86_common_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
			    bool host);
void xkvm_x86_mtrr_reset(struct xkvm_vcpu *vcpu);
int xkvm_x86_mtrr_get(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int xkvm_x86_mtrr_set(struct xkvm_vcpu *vcpu, u32 index, u64 data);
void xkvm_x86_mce_reset(struct xkvm_vcpu *vcpu);
int xkvm_x86_mce_get(struct xkvm_vcpu *vcpu, u32 index, u64 *data, bool host);
int xkvm_x86_mce_set(struct xkvm_vcpu *vcpu, u32 index, u64 data, bool host);
long xkvm_x86_get_mce_cap_supported(u64 __user *argp);
long xkvm_x86_setup_mce(struct xkvm_vcpu *vcpu, u64 __user *argp);
long xkvm_x86_msr_dev_ioctl(unsigned int ioctl, void __user *argp);
long xkvm_x86_msr_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp);

/* The instruction emulator (arch/x86/emulate.c). */
int xkvm_x86_emulate_mmio(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			  bool gpa_valid, const u8 *insn, int insn_len);
int xkvm_x86_emulate_string_io(struct xkvm_vcpu *vcpu,
			       const struct xkvm_x86_io *io);
int xkvm_x86_emulate_resume(struct xkvm_vcpu *vcpu);
void xkvm_x86_write_reg(struct xkvm_vcpu *vcpu, int reg, bool high8,
			int size, u64 val);

/* Guest page walk (arch/x86/mmu/guest_walk.c). */
struct xkvm_x86_translation {
	xkvm_gpa_t gpa;
	bool writable;		/* every level allows writes */
	bool user;		/* every level allows user accesses */
	bool nx;		/* some level forbids instruction fetches */
	bool dirty;		/* the leaf's dirty bit is set (now) */
	bool wp;		/* CR0.WP: supervisor writes obey @writable */
	bool global;		/* the leaf's G bit, with CR4.PGE on */
	u8 pkey;		/* protection key of the leaf (IA-32e paging) */
	u8 page_shift;		/* size of the guest's page: 12, 21, 22, 30 */
	u32 error;		/* the #PF error code when the walk faults */
};
int xkvm_x86_walk_gva(struct xkvm_vcpu *vcpu, u64 gva, u32 access,
		      struct xkvm_x86_translation *t);
int xkvm_x86_gva_to_gpa(struct xkvm_vcpu *vcpu, u64 gva, u32 access,
			xkvm_gpa_t *gpa, u32 *pf_error);
int xkvm_x86_fetch_insn(struct xkvm_vcpu *vcpu, u8 *buf, int len);

/* Two-dimensional paging (arch/x86/mmu/tdp.c). */
int xkvm_tdp_init(struct xkvm *vm);
void xkvm_tdp_destroy(struct xkvm *vm);
void xkvm_tdp_vcpu_free(struct xkvm_vcpu *vcpu);
phys_addr_t xkvm_tdp_root_pa(struct xkvm *vm);

/* What the two MMUs share (arch/x86/mmu/fault_core.c). */
int xkvm_mmu_cache_fill(struct xkvm_x86_page_cache *c);

/* A fault being mapped: fault_core.c */
struct xkvm_mmu_fault {
	unsigned long seq;		/* vm->mmu_invalidate_seq at the begin */
	struct page *page;		/* the host page, referenced */
	bool writable;			/* may be mapped writable */
};
int xkvm_mmu_fault_begin(struct xkvm_vcpu *vcpu, struct xkvm_memslot *slot,
			 xkvm_gfn_t gfn, bool write, struct xkvm_mmu_fault *f);
bool xkvm_mmu_fault_raced(struct xkvm *vm, const struct xkvm_mmu_fault *f);
struct page *xkvm_mmu_host_page(unsigned long hva, bool write_fault,
				bool writable_slot, bool *writable);

/* The shadow MMU (arch/x86/mmu/shadow.c). */
void xkvm_shadow_hw_regs(u64 *cr0, u64 *cr4, u64 *efer);
phys_addr_t xkvm_shadow_root_pa(struct xkvm_vcpu *vcpu);
int xkvm_shadow_prepare(struct xkvm_vcpu *vcpu);
void xkvm_shadow_vcpu_free(struct xkvm_vcpu *vcpu);
void xkvm_shadow_crs_changed(struct xkvm_vcpu *vcpu, u64 cr0, u64 cr3,
			     u64 cr4, u64 efer);
xkvm_gfn_t xkvm_shadow_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				     xkvm_gfn_t end, struct xkvm_zap_batch *b);
int xkvm_x86_exit_shadow_pf(struct xkvm_vcpu *vcpu, u64 gva, u32 error);
void xkvm_shadow_invlpg(struct xkvm_vcpu *vcpu, u64 gva);
int xkvm_shadow_map_private(struct xkvm_vcpu *vcpu, u64 gva, struct page *page);

/* World-switch mitigations (arch/x86/speculation.c). */
void xkvm_x86_spec_enter(struct xkvm_vcpu *vcpu);
void xkvm_x86_spec_exit(struct xkvm_vcpu *vcpu);
void xkvm_x86_spec_ctrl_restore_host(void);
bool xkvm_x86_l1d_flush_needed(void);
bool xkvm_x86_l1d_flush_due(struct xkvm_vcpu *vcpu);

/* In-kernel interrupt controllers (arch/x86/irqchip.c, arch/x86/dev/). */
bool xkvm_x86_irqchip_in_kernel(struct xkvm *vm);
long xkvm_x86_irqchip_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			       void __user *argp);
long xkvm_x86_irqchip_enable_cap(struct xkvm *vm,
				 const struct kvm_enable_cap *cap);
void xkvm_x86_irqchip_destroy(struct xkvm *vm);
int xkvm_x86_irqchip_vcpu_create(struct xkvm_vcpu *vcpu);
long xkvm_x86_irqchip_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
				 void __user *argp);
bool xkvm_x86_irqchip_pio(struct xkvm_vcpu *vcpu, u16 port, bool in,
			  int size, u32 *val);
bool xkvm_x86_irqchip_mmio(struct xkvm_vcpu *vcpu, u64 gpa, bool write,
			   int len, void *data);
int xkvm_x86_irqchip_extint(struct xkvm_vcpu *vcpu, bool ack);
void xkvm_x86_irqchip_prepare(struct xkvm_vcpu *vcpu);
void xkvm_x86_take_queued_nmis(struct xkvm_vcpu *vcpu);

/* The paravirtual clock and the TSC rate (arch/x86/kvmclock.c). */
void xkvm_kvmclock_vm_init(struct xkvm *vm);
void xkvm_kvmclock_vcpu_init(struct xkvm_vcpu *vcpu);
int xkvm_kvmclock_get_msr(struct xkvm_vcpu *vcpu, u32 index, u64 *data);
int xkvm_kvmclock_set_msr(struct xkvm_vcpu *vcpu, u32 index, u64 data,
			  bool host);
u64 xkvm_kvmclock_host_tsc_write(struct xkvm_vcpu *vcpu, u64 data);
void xkvm_kvmclock_tsc_changed(struct xkvm_vcpu *vcpu);
void xkvm_kvmclock_update(struct xkvm_vcpu *vcpu);
void xkvm_kvmclock_check_cpu(struct xkvm_vcpu *vcpu);
long xkvm_kvmclock_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			    void __user *argp);
long xkvm_kvmclock_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			      void __user *argp);

/* Run loop (arch/x86/run.c). */
int xkvm_x86_vcpu_run(struct xkvm_vcpu *vcpu);
void xkvm_x86_run_init(void);

/* FPU state (arch/x86/fpu.c) */
bool xkvm_x86_xcr0_valid(struct xkvm_vcpu *vcpu, u64 xcr0);

/* ioctls split by job */
long xkvm_x86_regs_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			 void __user *argp);
long xkvm_x86_cpuid_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  void __user *argp);
long xkvm_x86_debugreg_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			     void __user *argp);
void xkvm_x86_debugreg_reset(struct xkvm_vcpu *vcpu);
long xkvm_x86_fpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp);

#endif /* XKVM_X86_H */
