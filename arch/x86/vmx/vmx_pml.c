// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_pml.c - Page-Modification Logging (PML) for dirty logging on VT-x.
 *
 * With EPT accessed/dirty flags on, the CPU sets an EPT leaf's dirty flag
 * on the first guest write through it; with the "enable PML" control it
 * also writes the 4 KiB guest-physical address into a 512-entry log page
 * and decrements the guest PML index, exiting ("page-modification log
 * full", reason 62) when the index has run out.  The MMU then does not
 * take write permission away from a logging page: it clears the dirty
 * flag (arch/x86/mmu/tdp.c, when xkvm_x86_ops.cpu_dirty_log_size is set),
 * and the write that sets it again is logged without an exit.
 *
 * Each vCPU owns one log page.  The index is read and reset to 511 right
 * after every VM exit while the VMCS is current (vmx_pml_capture), and the
 * entries it covered are handed to the dirty log (bitmap or ring) at the
 * start of the exit's handling, in the vCPU's thread, before anything can
 * run the guest again (vmx_pml_drain).  A collection that wants entries
 * still in a running vCPU's log kicks it out first (the core does so when
 * cpu_dirty_log_size is set), and a dirty ring keeps 512 entries in
 * reserve for one drain.
 *
 * Module parameter pml (default on where the CPU has PML and EPT A/D):
 * off, dirty logging write-protects as on AMD-V.
 *
 * Locks: none; the log page and pml_index belong to the vCPU's thread.
 */
#include <linux/moduleparam.h>
#include <linux/gfp.h>
#include <linux/io.h>

#include "vmx.h"

#define VMX_PML_ENTRIES		512

static bool pml = true;
module_param(pml, bool, 0444);
MODULE_PARM_DESC(pml, "Use Page-Modification Logging for dirty logging where the CPU has it (else write protection)");

/* At load: keep the control only if it is wanted and usable. */
void vmx_pml_setup(struct vmx_config *c)
{
	c->pml = pml && c->ept_ad && (c->proc2 & VMX_PROC2_PML);
	if (!c->pml)
		c->proc2 &= ~VMX_PROC2_PML;
}

u32 vmx_pml_log_size(void)
{
	return vmx_cfg.pml ? VMX_PML_ENTRIES : 0;
}

int vmx_pml_vcpu_create(struct vmx_vcpu *vmx)
{
	if (!vmx_cfg.pml)
		return 0;
	vmx->pml_log = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vmx->pml_index = VMX_PML_ENTRIES - 1;
	return vmx->pml_log ? 0 : -ENOMEM;
}

void vmx_pml_vcpu_free(struct vmx_vcpu *vmx)
{
	free_page((unsigned long)vmx->pml_log);
	vmx->pml_log = NULL;
}

/* VMCS fields of a fresh VMCS; current, preemption off. */
void vmx_pml_vmcs_init(struct vmx_vcpu *vmx)
{
	if (!vmx->pml_log)
		return;
	vmcs_write(VMCS_PML_ADDRESS, virt_to_phys(vmx->pml_log));
	vmcs_write(VMCS_GUEST_PML_INDEX, VMX_PML_ENTRIES - 1);
}

/* After a VM exit, VMCS current: take the index, give the CPU a new log. */
void vmx_pml_capture(struct vmx_vcpu *vmx)
{
	u16 index;

	if (!vmx->pml_log)
		return;
	index = vmcs_read(VMCS_GUEST_PML_INDEX);
	if (index == VMX_PML_ENTRIES - 1)
		return;
	vmx->pml_index = index;
	vmcs_write(VMCS_GUEST_PML_INDEX, VMX_PML_ENTRIES - 1);
}

/*
 * Hand what the CPU logged since the last drain to the dirty log; the
 * vCPU's thread, before the next entry.  The CPU writes from 511 down; an
 * index of 0xffff (decremented past 0) means all 512 entries.
 */
void vmx_pml_drain(struct xkvm_vcpu *vcpu, struct vmx_vcpu *vmx)
{
	unsigned int i = (u16)(vmx->pml_index + 1);

	if (!vmx->pml_log || vmx->pml_index == VMX_PML_ENTRIES - 1)
		return;
	if (i > VMX_PML_ENTRIES)	/* not an index the CPU leaves */
		i = VMX_PML_ENTRIES;
	for (; i < VMX_PML_ENTRIES; i++)
		xkvm_vcpu_mark_gfn_dirty(vcpu, READ_ONCE(vmx->pml_log[i]) >>
					       PAGE_SHIFT);
	vmx->pml_index = VMX_PML_ENTRIES - 1;
}

/* Exit 62: the log was full; vmx_handle_exit drained it already. */
int vmx_exit_pml_full(struct xkvm_vcpu *vcpu)
{
	return 1;
}
