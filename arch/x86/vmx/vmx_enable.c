// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_enable.c - VT-x on each physical CPU: the feature-control MSR, the
 * CR0/CR4 fixed bits, CR4.VMXE and the VMXON region, CPU hotplug,
 * emergency disabling (kexec/crash), which VMCS is active on which CPU
 * (VMCLEAR/VMPTRLD when a vCPU moves), and VPIDs.
 *
 * VMX operation is entered on every online CPU when the module loads and
 * left when it unloads (or the CPU goes offline).  A CPU whose CR4.VMXE is
 * already set is in VMX operation for another hypervisor: loading fails
 * with -EBUSY and a log line, and nothing is changed there.  So does
 * loading while the stock kvm_intel module is loaded, even idle: it holds
 * the kernel's one emergency-disable callback.
 *
 * VMCS residency.  A VMCS is active on at most one CPU; vmx_vcpu.cpu says
 * which (-1: clear).  Each CPU keeps the list of VMCSs active on it and
 * its current-VMCS pointer; both change only on that CPU with interrupts
 * off.  vmx_vmcs_load(), called with preemption off, makes a vCPU's VMCS
 * current here: if it is active on another CPU it is VMCLEARed there
 * first by IPI, which needs interrupts on, so from enter_guest (interrupts
 * off) it returns -EAGAIN and the exit path retries with interrupts on.
 * This "check on every load" replaces preempt notifiers: nothing happens
 * when a vCPU thread is scheduled, only when its VMCS is next used.
 * vmx_vcpu.cpu goes from -1 to a CPU only in the vCPU's own thread, and
 * back to -1 only on that CPU (IPI, CPU offline), so one IPI suffices.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <asm/msr.h>
#include <asm/perf_event.h>
#include <asm/reboot.h>
#include <asm/tlbflush.h>

#include "vmx.h"

#define VMX_NR_VPIDS	BIT(16)

struct vmx_cpu {
	struct page *vmxon;		/* VMXON region */
	bool enabled;			/* in VMX operation */
	void *current_vmcs;		/* current-VMCS pointer, NULL: none */
	struct list_head loaded;	/* vmx_vcpu.loaded_link: VMCSs active here */
};

static DEFINE_PER_CPU(struct vmx_cpu, vmx_cpu_data);
static enum cpuhp_state vmx_hp_state;

static DEFINE_SPINLOCK(vmx_vpid_lock);
static DECLARE_BITMAP(vmx_vpid_bitmap, VMX_NR_VPIDS);	/* vmx_vpid_lock */

/* VMX was turned off for a crash or emergency reboot (NMI context). */
static bool vmx_emergency_off;

void vmx_insn_failed(const char *insn, unsigned long field)
{
	pr_err_ratelimited("%s failed (field 0x%lx) on CPU %d\n", insn, field,
			   raw_smp_processor_id());
}

/* A VMX instruction raised #UD: VMX is off on this CPU. */
void vmx_insn_faulted(const char *insn)
{
	if (!READ_ONCE(vmx_emergency_off))
		pr_err_ratelimited("%s faulted on CPU %d: VMX is off\n", insn,
				   raw_smp_processor_id());
}

/* ---- VMCS residency -------------------------------------------------- */

/* VMCLEAR @vmx on this CPU, where it is active.  Interrupts off. */
static void vmx_vmcs_clear_local(struct vmx_cpu *vc, struct vmx_vcpu *vmx)
{
	if (vmx_vmclear(vmx->vmcs_pa))
		vmx_insn_failed("vmclear", 0);
	if (vc->current_vmcs == vmx->vmcs)
		vc->current_vmcs = NULL;
	list_del_init(&vmx->loaded_link);
	/* the VMCS data is in memory before anyone sees it clear */
	smp_store_release(&vmx->cpu, -1);
}

/* IPI handler: clear @arg if it is still active on this CPU. */
static void vmx_vmcs_clear_ipi(void *arg)
{
	struct vmx_vcpu *vmx = arg;

	if (READ_ONCE(vmx->cpu) == smp_processor_id())
		vmx_vmcs_clear_local(this_cpu_ptr(&vmx_cpu_data), vmx);
}

/*
 * Make the VMCS of @vmx current on this CPU.  Preemption off.  Returns
 * -EAGAIN if it is active on another CPU and interrupts are off (no IPI
 * possible), -EIO if VMPTRLD fails.
 */
int vmx_vmcs_load(struct vmx_vcpu *vmx)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu_data);
	int cpu = smp_processor_id();
	/* pairs with the release in vmx_vmcs_clear_local() */
	int old = smp_load_acquire(&vmx->cpu);
	unsigned long flags;

	if (likely(old == cpu)) {
		if (unlikely(vc->current_vmcs != vmx->vmcs)) {
			if (vmx_vmptrld(vmx->vmcs_pa)) {
				vmx_insn_failed("vmptrld", 0);
				return -EIO;
			}
			vc->current_vmcs = vmx->vmcs;
		}
		return 0;
	}

	if (old >= 0) {
		if (irqs_disabled())
			return -EAGAIN;
		/* -ENXIO: that CPU went offline and cleared it on the way */
		smp_call_function_single(old, vmx_vmcs_clear_ipi, vmx, 1);
		/* the clear (IPI or offline) is complete; acquire its VMCLEAR */
		if (WARN_ON_ONCE(smp_load_acquire(&vmx->cpu) >= 0))
			return -EIO;
	}

	local_irq_save(flags);
	if (vmx_vmptrld(vmx->vmcs_pa)) {
		local_irq_restore(flags);
		vmx_insn_failed("vmptrld", 0);
		return -EIO;
	}
	vc->current_vmcs = vmx->vmcs;
	list_add(&vmx->loaded_link, &vc->loaded);
	WRITE_ONCE(vmx->cpu, cpu);
	local_irq_restore(flags);

	/* VMCLEAR reset the launch state; this CPU may hold stale TLB tags */
	vmx->launched = false;
	vmx->need_flush = true;
	vmx_set_host_cpu_state();
	return 0;
}

/* vmx_vmcs_load() from a preemptible context, interrupts on. */
void vmx_vmcs_load_sync(struct vmx_vcpu *vmx)
{
	preempt_disable();
	vmx_vmcs_load(vmx);
	preempt_enable();
}

/* Clear @vmx wherever it is active (vCPU teardown).  Interrupts on. */
void vmx_vmcs_clear(struct vmx_vcpu *vmx)
{
	/* pairs with the release in vmx_vmcs_clear_local() */
	int cpu = smp_load_acquire(&vmx->cpu);

	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_vmcs_clear_ipi, vmx, 1);
}

/* ---- VPIDs ----------------------------------------------------------- */

/* A free VPID, or 0 (the vCPU then runs without one). */
u16 vmx_vpid_alloc(void)
{
	unsigned long vpid;

	if (!vmx_cfg.vpid)
		return 0;
	spin_lock(&vmx_vpid_lock);
	vpid = find_first_zero_bit(vmx_vpid_bitmap, VMX_NR_VPIDS);
	if (vpid < VMX_NR_VPIDS)
		__set_bit(vpid, vmx_vpid_bitmap);
	else
		vpid = 0;
	spin_unlock(&vmx_vpid_lock);
	return vpid;
}

void vmx_vpid_free(u16 vpid)
{
	if (!vpid)
		return;
	spin_lock(&vmx_vpid_lock);
	__clear_bit(vpid, vmx_vpid_bitmap);
	spin_unlock(&vmx_vpid_lock);
}

/* Drop every EPT and VPID translation this CPU may cache. */
void vmx_flush_all_this_cpu(void)
{
	if (vmx_cfg.ept_cap & VMX_EPT_CAP_INVEPT_ALL)
		vmx_invept(VMX_INVEPT_ALL, 0);
	if (vmx_cfg.vpid && (vmx_cfg.ept_cap & VMX_VPID_CAP_INVVPID_ALL))
		vmx_invvpid(VMX_INVVPID_ALL, 0);
}

/* ---- VMX operation per CPU ------------------------------------------- */

static bool vmx_vmxon(u64 pa)
{
	bool fail;

	asm volatile("vmxon %[pa]" : "=@ccbe" (fail)
		     : [pa] "m" (pa) : "cc", "memory");
	return fail;
}

static void vmx_vmxoff(void)
{
	asm volatile("vmxoff" ::: "cc", "memory");
	cr4_clear_bits(X86_CR4_VMXE);
}

/* Crash or kexec: leave VMX operation so the next kernel can use it. */
static void vmx_emergency_disable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu_data);
	struct vmx_vcpu *vmx;

	if (!vc->enabled)
		return;
	WRITE_ONCE(vmx_emergency_off, true);
	/* VMCS data to memory, for a crash dump */
	list_for_each_entry(vmx, &vc->loaded, loaded_link)
		vmx_vmclear(vmx->vmcs_pa);
	vmx_vmxoff();
	vc->enabled = false;
}

static bool vmx_cr_fixed_ok(unsigned long val, u64 fixed0, u64 fixed1)
{
	return (val & fixed0) == fixed0 && !(val & ~fixed1);
}

static int vmx_cpu_online(unsigned int cpu)
{
	struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu_data, cpu);
	unsigned long cr0 = read_cr0(), cr4 = __read_cr4();
	u64 fc;

	if (cr4 & X86_CR4_VMXE) {
		pr_err("CPU %u: CR4.VMXE is already set: another hypervisor owns VT-x on this CPU\n",
		       cpu);
		return -EBUSY;
	}
	rdmsrl(MSR_IA32_FEAT_CTL, fc);
	if (!(fc & FEAT_CTL_LOCKED)) {
		/* the kernel locks it at boot; do what it would have done */
		fc |= FEAT_CTL_LOCKED | FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX;
		wrmsrl(MSR_IA32_FEAT_CTL, fc);
	} else if (!(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("CPU %u: VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX)\n",
		       cpu);
		return -ENODEV;
	}
	if (!vmx_cr_fixed_ok(cr0, vmx_cfg.cr0_fixed0, vmx_cfg.cr0_fixed1) ||
	    !vmx_cr_fixed_ok(cr4 | X86_CR4_VMXE, vmx_cfg.cr4_fixed0,
			     vmx_cfg.cr4_fixed1)) {
		pr_err("CPU %u: CR0 0x%lx or CR4 0x%lx is not allowed in VMX operation\n",
		       cpu, cr0, cr4);
		return -EIO;
	}

	intel_pt_handle_vmx(1);
	cr4_set_bits(X86_CR4_VMXE);
	if (vmx_vmxon(page_to_phys(vc->vmxon))) {
		cr4_clear_bits(X86_CR4_VMXE);
		intel_pt_handle_vmx(0);
		pr_err("CPU %u: VMXON failed\n", cpu);
		return -EIO;
	}
	vc->current_vmcs = NULL;
	vc->enabled = true;
	/* translations tagged by an earlier user of VMX must not leak in */
	vmx_flush_all_this_cpu();
	return 0;
}

static int vmx_cpu_offline(unsigned int cpu)
{
	struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu_data, cpu);
	struct vmx_vcpu *vmx, *tmp;

	if (!vc->enabled)
		return 0;
	local_irq_disable();
	list_for_each_entry_safe(vmx, tmp, &vc->loaded, loaded_link)
		vmx_vmcs_clear_local(vc, vmx);
	vmx_uret_cpu_down();
	vmx_vmxoff();
	vc->enabled = false;
	local_irq_enable();
	intel_pt_handle_vmx(0);
	return 0;
}

static void vmx_free_cpu_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu_data, cpu);

		if (vc->vmxon)
			__free_page(vc->vmxon);
		vc->vmxon = NULL;
	}
}

/*
 * Is the stock kvm_intel module loaded?  It takes the kernel's single
 * emergency callback when it loads, idle or not, and the kernel warns if
 * a second hypervisor asks for it.  Found by name among the modules'
 * sysfs objects, the set this module's own object belongs to.
 */
static bool vmx_stock_kvm_loaded(void)
{
	struct kobject *k = kset_find_obj(THIS_MODULE->mkobj.kobj.kset,
					  "kvm_intel");

	kobject_put(k);
	return k;
}

int vmx_enable_init(void)
{
	int cpu, r;

	if (vmx_stock_kvm_loaded()) {
		pr_err("kvm_intel is loaded: another hypervisor owns VT-x (unload it first)\n");
		return -EBUSY;
	}

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu_data, cpu);

		INIT_LIST_HEAD(&vc->loaded);
		vc->vmxon = alloc_pages_node(cpu_to_node(cpu),
					     GFP_KERNEL | __GFP_ZERO, 0);
		if (!vc->vmxon) {
			vmx_free_cpu_pages();
			return -ENOMEM;
		}
		*(u32 *)page_address(vc->vmxon) = vmx_cfg.revision;
	}
	__set_bit(0, vmx_vpid_bitmap);		/* VPID 0 is the host's */

	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "xkvm/intel:online",
			      vmx_cpu_online, vmx_cpu_offline);
	if (r < 0) {
		vmx_free_cpu_pages();
		return r;
	}
	vmx_hp_state = r;
	/*
	 * The kernel keeps one emergency callback and warns if it is taken.
	 * Registered only now, when VMXON worked everywhere: a CPU another
	 * hypervisor holds has already failed the load with -EBUSY, quietly.
	 */
	cpu_emergency_register_virt_callback(vmx_emergency_disable);
	return 0;
}

void vmx_enable_exit(void)
{
	cpu_emergency_unregister_virt_callback(vmx_emergency_disable);
	cpuhp_remove_state(vmx_hp_state);
	vmx_free_cpu_pages();
}
