// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_isolation.c - what a VT-x entry does so that the guest can neither
 * observe nor disturb the host beyond what VM entry and exit switch:
 *
 *  - L1D flush (L1TF): a guest can read the L1 data cache through
 *    not-present guest page tables; on CPUs with the bug, where the host
 *    kernel's mitigation is on, L1D is flushed before an entry whenever it
 *    may hold host data since the last one (arch/x86/speculation.c says
 *    when).  The flush uses IA32_FLUSH_CMD where the CPU has it, else it
 *    displaces L1D by reading a 64 KiB buffer.
 *  - Performance counters (and, on CPUs whose VMCS cannot switch them,
 *    PAT and EFER): perf events of the host that must not count
 *    (or must not write PEBS records into guest-controlled memory) while
 *    the guest runs are switched off at entry and on at exit with the
 *    VMCS MSR-load lists, as perf itself lists them
 *    (perf_guest_get_msrs(): PERF_GLOBAL_CTRL, PEBS_ENABLE).
 *
 * vCPU thread, interrupts off, the vCPU's VMCS current.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/perf_event.h>

#include "vmx.h"

#define VMX_L1D_SIZE	(64 * 1024)	/* bigger than any L1D */

static bool vmx_l1d_flush_on;
static void *vmx_l1d_buffer;		/* software flush only */

int vmx_isolation_init(void)
{
	vmx_l1d_flush_on = xkvm_x86_l1d_flush_needed();
	if (vmx_l1d_flush_on && !boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		vmx_l1d_buffer = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO,
							  get_order(VMX_L1D_SIZE));
		if (!vmx_l1d_buffer)
			return -ENOMEM;
	}
	if (vmx_l1d_flush_on)
		pr_info("L1TF: L1D is flushed before VM entries (%s)\n",
			vmx_l1d_buffer ? "software sequence" : "IA32_FLUSH_CMD");
	return 0;
}

void vmx_isolation_exit(void)
{
	if (vmx_l1d_buffer)
		free_pages((unsigned long)vmx_l1d_buffer, get_order(VMX_L1D_SIZE));
	vmx_l1d_buffer = NULL;
}

/* Displace every line of L1D: one load per page first (TLB), then one per line. */
static void vmx_l1d_displace(void)
{
	const volatile u8 *p = vmx_l1d_buffer;
	unsigned long off;

	for (off = 0; off < VMX_L1D_SIZE; off += PAGE_SIZE)
		(void)p[off];
	for (off = 0; off < VMX_L1D_SIZE; off += L1_CACHE_BYTES)
		(void)p[off];
}

void vmx_l1d_flush(struct xkvm_vcpu *vcpu)
{
	if (!vmx_l1d_flush_on || !xkvm_x86_l1d_flush_due(vcpu))
		return;
	xkvm_x86_stat_inc(vcpu, l1d_flush);
	if (vmx_l1d_buffer)
		vmx_l1d_displace();
	else
		native_wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
}

/* An MSR-load list holds @n entries now: VMCS field @count says so. */
static void vmx_msr_list_set(u32 *cur, u32 n, unsigned long count)
{
	if (*cur != n) {
		vmcs_write(count, n);
		*cur = n;
	}
}

static void vmx_msr_switch(struct vmx_vcpu *vmx, u32 *n, u32 index,
			   u64 guest, u64 host)
{
	vmx->msr_guest[*n].index = index;
	vmx->msr_guest[*n].value = guest;
	vmx->msr_host[*n].index = index;
	vmx->msr_host[*n].value = host;
	(*n)++;
}

/*
 * The perf MSRs to switch for this entry: the guest's value loaded at
 * entry, the host's at exit, for each that differs.  On a CPU whose VMCS
 * cannot switch PAT and EFER (shadow paging only), those two as well.
 */
void vmx_perf_switch(struct vmx_vcpu *vmx)
{
	struct perf_guest_switch_msr *msrs;
	u32 i, n = 0;
	int nr = 0;

	if (!vmx_cfg.pat_efer_ctls) {
		u64 efer, pat;

		rdmsrl(MSR_EFER, efer);
		rdmsrl(MSR_IA32_CR_PAT, pat);
		vmx_msr_switch(vmx, &n, MSR_EFER, vmx->hw_efer, efer);
		vmx_msr_switch(vmx, &n, MSR_IA32_CR_PAT, vmx->pat, pat);
	}
	msrs = perf_guest_get_msrs(&nr, NULL);
	for (i = 0; msrs && i < nr && n < VMX_MAX_SWITCH_MSRS; i++) {
		if (msrs[i].host == msrs[i].guest)
			continue;
		vmx_msr_switch(vmx, &n, msrs[i].msr, msrs[i].guest,
			       msrs[i].host);
	}
	vmx_msr_list_set(&vmx->nr_msr_guest, n, VMCS_ENTRY_MSR_LOAD_COUNT);
	vmx_msr_list_set(&vmx->nr_msr_host, n, VMCS_EXIT_MSR_LOAD_COUNT);
}
