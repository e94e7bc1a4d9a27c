// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - the x86 statistics of VMs and vCPUs as KVM_GET_STATS_FD
 * reports them (virt/xkvm_stats.c lays the file out): the list is
 * XKVM_X86_VM_STATS / XKVM_X86_VCPU_STATS in xkvm_arch.h, with KVM's names
 * where the meaning is the same, plus a breakdown of VM exits by kind
 * (exits_*) that reads the same on both vendors.
 *
 * A vCPU's counters change only in its own thread; a VM's under the lock
 * that guards what they count (mmu_lock).  No atomics: a reader may see a
 * value a moment old, never a torn one.  Documentation/stats.md says how
 * to read them.
 */
#include <xkvm_x86.h>

#define XKVM_STAT_DESC(name, type)					\
	XKVM_STATS_DESC(#name, XKVM_STAT_##name, KVM_STATS_TYPE_##type),

static const struct xkvm_stats_desc xkvm_x86_vm_stats_desc[] = {
	XKVM_X86_VM_STATS(XKVM_STAT_DESC)
};

static const struct xkvm_stats_desc xkvm_x86_vcpu_stats_desc[] = {
	XKVM_X86_VCPU_STATS(XKVM_STAT_DESC)
};

static const struct xkvm_stats_table xkvm_x86_vm_stats_table = {
	.desc = xkvm_x86_vm_stats_desc,
	.num_desc = ARRAY_SIZE(xkvm_x86_vm_stats_desc),
	.data_size = XKVM_NR_VM_STATS * sizeof(u64),
};

static const struct xkvm_stats_table xkvm_x86_vcpu_stats_table = {
	.desc = xkvm_x86_vcpu_stats_desc,
	.num_desc = ARRAY_SIZE(xkvm_x86_vcpu_stats_desc),
	.data_size = XKVM_NR_VCPU_STATS * sizeof(u64),
};

const struct xkvm_stats_table *xkvm_arch_vm_stats(void)
{
	return &xkvm_x86_vm_stats_table;
}

const struct xkvm_stats_table *xkvm_arch_vcpu_stats(void)
{
	return &xkvm_x86_vcpu_stats_table;
}

void xkvm_arch_remote_tlb_flushed(struct xkvm *vm)
{
	lockdep_assert_held(&vm->mmu_lock);
	vm->arch.stat[XKVM_STAT_remote_tlb_flush]++;
	vm->arch.stat[XKVM_STAT_remote_tlb_flush_requests]++;
}

u64 *xkvm_arch_vm_stat_data(struct xkvm *vm)
{
	return vm->arch.stat;
}

u64 *xkvm_arch_vcpu_stat_data(struct xkvm_vcpu *vcpu)
{
	return vcpu->arch.stat;
}
