// SPDX-License-Identifier: GPL-2.0
/*
 * svm_enable.c - AMD-V on each physical CPU: EFER.SVME, the host save
 * area (VM_HSAVE_PA), the page VMSAVE/VMLOAD keep the host's hidden state
 * in, CPU hotplug, emergency disabling (kexec/crash), and ASIDs.
 *
 * AMD-V is enabled on every online CPU while the module is loaded.  A CPU
 * whose EFER.SVME is already set belongs to another hypervisor: loading
 * fails with -EBUSY and a log line, and nothing is changed there.
 * Per-CPU data is touched only on its own CPU with preemption disabled.
 */
#define pr_fmt(fmt) "xkvm-amd: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <asm/msr.h>
#include <asm/reboot.h>

#include "svm.h"

#define SVM_VM_CR_SVMDIS	BIT_ULL(4)

struct svm_cpu {
	struct page *hsave;		/* VM_HSAVE_PA */
	struct page *host_vmcb;		/* VMSAVE/VMLOAD of host state */
	u64 host_tsc_aux;		/* the kernel's TSC_AUX on this CPU */
	bool enabled;
	u32 next_asid;
	u64 asid_generation;
};

static DEFINE_PER_CPU(struct svm_cpu, svm_cpu_data);

/* Older kernels clear EFER.SVME themselves on kexec and crash. */
#ifdef XKVM_KERNEL_DISABLES_SVM
static const bool svm_kernel_disables_svm = true;
#else
static const bool svm_kernel_disables_svm;
#endif
static enum cpuhp_state svm_hp_state;
static u32 svm_max_asid;
u32 svm_features;

u64 svm_host_xss;

/* This CPU's TSC_AUX as the kernel set it (CPU and node number). */
u64 svm_host_tsc_aux(void)
{
	return this_cpu_read(svm_cpu_data.host_tsc_aux);
}

u64 svm_host_save_pa(int cpu)
{
	return page_to_phys(per_cpu(svm_cpu_data, cpu).host_vmcb);
}

/*
 * Give the vCPU an ASID valid on @cpu.  ASIDs are handed out per CPU and
 * per generation; when they run out the generation changes and the whole
 * TLB is flushed.  Returns the TLB_CONTROL value the entry needs.
 */
u8 svm_assign_asid(struct svm_vcpu *s, int cpu)
{
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu_data);
	u8 tlb = 0;

	if (s->asid_cpu == cpu && s->asid_generation == sd->asid_generation)
		return 0;
	if (sd->next_asid > svm_max_asid) {
		sd->asid_generation++;
		sd->next_asid = 1;
		tlb = SVM_TLB_FLUSH_ALL;
	}
	s->asid = sd->next_asid++;
	s->asid_cpu = cpu;
	s->asid_generation = sd->asid_generation;
	s->vmcb->asid = s->asid;
	return tlb;
}

static void svm_disable_this_cpu(void)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	svm_stgi();
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, 0);
}

static void svm_emergency_disable(void)
{
	if (this_cpu_read(svm_cpu_data.enabled))
		svm_disable_this_cpu();
}

static int svm_cpu_online(unsigned int cpu)
{
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu_data);
	u64 efer, vm_cr;

	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVMDIS) {
		pr_err("CPU %u: AMD-V is disabled by the firmware (VM_CR.SVMDIS)\n", cpu);
		return -ENODEV;
	}
	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		pr_err("CPU %u: EFER.SVME is already set: another hypervisor owns AMD-V on this CPU\n",
		       cpu);
		return -EBUSY;
	}
	if (boot_cpu_has(X86_FEATURE_RDTSCP) || boot_cpu_has(X86_FEATURE_RDPID))
		rdmsrl(MSR_TSC_AUX, sd->host_tsc_aux);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(sd->hsave));
	wrmsrl(MSR_EFER, efer | EFER_SVME);
	/* ASIDs may hold stale translations: start a new generation */
	sd->next_asid = svm_max_asid + 1;
	sd->enabled = true;
	return 0;
}

static int svm_cpu_offline(unsigned int cpu)
{
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu_data);

	if (sd->enabled) {
		svm_disable_this_cpu();
		sd->enabled = false;
	}
	return 0;
}

static void svm_free_cpu_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu_data, cpu);

		if (sd->hsave)
			__free_page(sd->hsave);
		if (sd->host_vmcb)
			__free_page(sd->host_vmcb);
		sd->hsave = sd->host_vmcb = NULL;
	}
}

int svm_enable_init(void)
{
	int cpu, r;

	if (boot_cpu_has(X86_FEATURE_XSAVES))
		rdmsrl(MSR_IA32_XSS, svm_host_xss);
	svm_max_asid = cpuid_ebx(0x8000000a) - 1;
	svm_features = cpuid_edx(0x8000000a);
	if (svm_max_asid < 1) {
		pr_err("the CPU reports no usable ASIDs\n");
		return -ENODEV;
	}

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu_data, cpu);

		sd->hsave = alloc_pages_node(cpu_to_node(cpu),
					     GFP_KERNEL | __GFP_ZERO, 0);
		sd->host_vmcb = alloc_pages_node(cpu_to_node(cpu),
						 GFP_KERNEL | __GFP_ZERO, 0);
		if (!sd->hsave || !sd->host_vmcb) {
			svm_free_cpu_pages();
			return -ENOMEM;
		}
	}

	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "xkvm/amd:online",
			      svm_cpu_online, svm_cpu_offline);
	if (r < 0) {
		svm_free_cpu_pages();
		return r;
	}
	svm_hp_state = r;
	/*
	 * Only once the CPUs are ours: the kernel has a single callback slot,
	 * and another hypervisor holding the CPUs holds the slot too.
	 */
	if (!svm_kernel_disables_svm)
		cpu_emergency_register_virt_callback(svm_emergency_disable);
	return 0;
}

void svm_enable_exit(void)
{
	if (!svm_kernel_disables_svm)
		cpu_emergency_unregister_virt_callback(svm_emergency_disable);
	cpuhp_remove_state(svm_hp_state);
	svm_free_cpu_pages();
}
