/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_host.h - the generic objects of the xkvm core: the VM, its memory
 * slots and its vCPUs, and the contract between virt/ and the architecture.
 *
 * Nothing here knows about x86; each object embeds an architecture part
 * defined by xkvm_arch.h.  The ABI is KVM's own <linux/kvm.h>.
 *
 * Lock order (outer to inner):
 *   xkvm.lock  >  xkvm_vcpu.mutex  >  xkvm.slots_lock  >  SRCU read side of
 *   xkvm.srcu  >  xkvm.mmu_lock (spinlock)
 * Lifetime: a VM is refcounted; its fd and every vCPU fd hold a reference.
 * vCPUs are freed only when the VM is destroyed.
 */
#ifndef XKVM_HOST_H
#define XKVM_HOST_H

#include <linux/kvm.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/xarray.h>

#include "xkvm_arch.h"

#define XKVM_API_VERSION	12
#define XKVM_MAX_MEMSLOTS	512
#define XKVM_MAX_VCPUS		1024
#define XKVM_MAX_VCPU_IDS	4096
#define XKVM_MEM_MAX_NR_PAGES	((1UL << 31) - 1)
#define XKVM_PIO_PAGE_OFFSET	1
#define XKVM_VCPU_MMAP_PAGES	2

typedef u64 xkvm_gfn_t;
typedef u64 xkvm_gpa_t;

/*
 * A memory slot.  Immutable once published, so readers under SRCU need
 * no lock; an update builds a new slot and a new xkvm_memslots array.
 */
struct xkvm_memslot {
	xkvm_gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	u32 flags;		/* KVM_MEM_* */
	u16 id;			/* slot id within address space 0 */
};

/* All slots of the VM, sorted by base_gfn.  Replaced as a whole (RCU). */
struct xkvm_memslots {
	int nr;
	struct xkvm_memslot *slots[];
};

struct xkvm {
	refcount_t refcount;
	struct mm_struct *mm;		/* creator's mm; other mms get -EIO */
	struct module *vendor_owner;	/* pinned while the VM lives */

	struct mutex lock;		/* vCPU creation, VM-wide settings */
	u32 created_vcpus;		/* lock */
	struct xarray vcpus;		/* index = creation order; stores under lock */
	atomic_t online_vcpus;

	struct mutex slots_lock;	/* serialises memslot updates */
	struct srcu_struct srcu;	/* read side for memslots */
	struct xkvm_memslots __rcu *memslots;

	/*
	 * mmu_lock protects the two-dimensional page tables (arch) and the
	 * invalidation counters below; a fault that raced an invalidation
	 * sees a changed seq or a non-zero in_progress and retries.
	 */
	spinlock_t mmu_lock;
	unsigned long mmu_invalidate_seq;
	long mmu_invalidate_in_progress;
	struct mmu_notifier mmu_notifier;

	bool dead;			/* internal inconsistency: ioctls get -EIO */
	struct xkvm_arch arch;
};

enum xkvm_vcpu_mode {
	XKVM_OUTSIDE_GUEST_MODE,
	XKVM_IN_GUEST_MODE,
	XKVM_EXITING_GUEST_MODE,
};

/* Requests made to a vCPU by others; handled before the next entry. */
#define XKVM_REQ_TLB_FLUSH	0

struct xkvm_vcpu {
	struct xkvm *vm;
	u32 vcpu_id;			/* userspace's id (APIC id) */
	int vcpu_idx;			/* creation order */
	struct mutex mutex;		/* held by KVM_RUN and every vCPU ioctl */
	struct kvm_run *run;		/* shared page 0 of the vCPU mmap */
	void *pio_data;			/* shared page 1: port I/O data */
	int cpu;			/* physical CPU it last ran on, -1 if none */
	int mode;			/* enum xkvm_vcpu_mode, set by its own thread */
	unsigned long requests;		/* XKVM_REQ_* bits, set by anyone */
	struct xkvm_vcpu_arch arch;
};

/* virt/xkvm_main.c: the /dev/xkvm device, registered by the architecture. */
int xkvm_dev_register(struct module *vendor_owner);
void xkvm_dev_unregister(void);
struct module *xkvm_vendor_get(void);

/* virt/xkvm_vm.c */
int xkvm_vm_create_fd(unsigned long type);
void xkvm_vm_get(struct xkvm *vm);
void xkvm_vm_put(struct xkvm *vm);
void xkvm_make_all_vcpus_request(struct xkvm *vm, unsigned int req);

/* virt/xkvm_memslot.c */
int xkvm_set_memory_region(struct xkvm *vm,
			   const struct kvm_userspace_memory_region *mem);
struct xkvm_memslot *xkvm_gfn_to_memslot(struct xkvm *vm, xkvm_gfn_t gfn);
unsigned long xkvm_memslot_gfn_to_hva(const struct xkvm_memslot *slot,
				      xkvm_gfn_t gfn);
int xkvm_read_guest(struct xkvm *vm, xkvm_gpa_t gpa, void *data,
		    unsigned long len);
int xkvm_write_guest(struct xkvm *vm, xkvm_gpa_t gpa, const void *data,
		     unsigned long len);
void xkvm_memslots_free(struct xkvm_memslots *slots);

/* virt/xkvm_vcpu.c */
int xkvm_vcpu_create(struct xkvm *vm, unsigned long id);
void xkvm_vcpu_destroy(struct xkvm_vcpu *vcpu);

static inline bool xkvm_request_pending(struct xkvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->requests);
}

static inline bool xkvm_check_request(unsigned int req, struct xkvm_vcpu *vcpu)
{
	if (!test_bit(req, &vcpu->requests))
		return false;
	clear_bit(req, &vcpu->requests);
	smp_mb__after_atomic();
	return true;
}

/* virt/xkvm_mmu_notifier.c */
int xkvm_mmu_notifier_init(struct xkvm *vm);
void xkvm_mmu_notifier_exit(struct xkvm *vm);

/*
 * The architecture's side of the contract (arch/x86/ implements it).
 */
int xkvm_arch_init_vm(struct xkvm *vm, unsigned long type);
void xkvm_arch_destroy_vm(struct xkvm *vm);
int xkvm_arch_vcpu_create(struct xkvm_vcpu *vcpu);
void xkvm_arch_vcpu_destroy(struct xkvm_vcpu *vcpu);
long xkvm_arch_dev_ioctl(unsigned int ioctl, unsigned long arg);
long xkvm_arch_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			unsigned long arg);
int xkvm_arch_vcpu_run(struct xkvm_vcpu *vcpu);
long xkvm_arch_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  unsigned long arg);
int xkvm_arch_check_extension(struct xkvm *vm, long cap);
int xkvm_arch_max_phys_bits(void);
/* Drop every second-level mapping of [start, end) of a slot; true if any. */
bool xkvm_arch_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
			     xkvm_gfn_t end);

#endif /* XKVM_HOST_H */
