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
 * A vCPU is visible to others (xkvm_for_each_vcpu) only once its fd
 * exists (online_vcpus), and is freed only when the VM is destroyed.
 */
#ifndef XKVM_HOST_H
#define XKVM_HOST_H

#include <linux/kvm.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/rcuwait.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/xarray.h>

#include "xkvm_arch.h"
#include "xkvm_irqfd.h"

#define XKVM_API_VERSION	12
#define XKVM_MAX_MEMSLOTS	512
#define XKVM_MAX_VCPUS		1024
#define XKVM_MAX_VCPU_IDS	4096
#define XKVM_MAX_IRQ_ROUTES	4096	/* KVM's GSI table size */
#define XKVM_MEM_MAX_NR_PAGES	((1UL << 31) - 1)
#define XKVM_PIO_PAGE_OFFSET	1
#define XKVM_COALESCED_MMIO_PAGE_OFFSET	2	/* KVM's on x86 */
#define XKVM_VCPU_MMAP_PAGES	3
#define XKVM_NR_IO_BUSES	3	/* enum xkvm_io_bus_idx */

typedef u64 xkvm_gfn_t;
typedef u64 xkvm_gpa_t;

/*
 * A memory slot.  Immutable once published, so readers under SRCU need
 * no lock; an update builds a new slot and a new xkvm_memslots array.
 * Only the bits of the dirty bitmap change (virt/xkvm_dirty_log.c).
 */
struct xkvm_memslot {
	xkvm_gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	u32 flags;		/* KVM_MEM_* */
	u16 id;			/* slot id within address space 0 */
	/*
	 * KVM_MEM_LOG_DIRTY_PAGES: one bit per page, set atomically by
	 * whoever makes or finds a page dirty (xkvm_mark_page_dirty_in_slot),
	 * taken by KVM_GET/CLEAR_DIRTY_LOG under slots_lock + mmu_lock.  Two
	 * halves: the log, then a scratch copy for the ioctls (slots_lock).
	 * Passed on to the slot's successor while it keeps logging.
	 */
	unsigned long *dirty_bitmap;
};

/* All slots of the VM, sorted by base_gfn.  Replaced as a whole (RCU). */
struct xkvm_memslots {
	int nr;
	struct xkvm_memslot *slots[];
};

struct xkvm_io_bus;

struct xkvm {
	refcount_t refcount;
	u64 id;				/* unique, never reused */
	struct mm_struct *mm;		/* creator's mm; other mms get -EIO */
	struct module *vendor_owner;	/* pinned while the VM lives */

	struct mutex lock;		/* vCPU creation, VM-wide settings */
	u32 created_vcpus;		/* lock */
	/*
	 * index = creation order; stores under lock.  Entries below
	 * online_vcpus are complete vCPUs with an fd; others may still be
	 * torn down by a failing KVM_CREATE_VCPU and must not be touched.
	 */
	struct xarray vcpus;
	atomic_t online_vcpus;		/* increments under lock, read acquire */

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

	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags; written under slots_lock */
	u64 manual_dirty_log_protect;
	/*
	 * KVM_CAP_DIRTY_LOG_RING: bytes of each vCPU's ring, 0 in bitmap
	 * mode.  Set once under lock while created_vcpus is 0, so constant
	 * for anyone who holds a vCPU.
	 */
	u32 dirty_ring_size;

	/* GSI routing (xkvm_irq_routing.c): RCU, updates under irq_lock */
	struct mutex irq_lock;
	struct xkvm_irq_routing_table __rcu *irq_routing;

	/* KVM_IRQFD (xkvm_irqfd.c): own locks, see struct xkvm_irqfds */
	struct xkvm_irqfds irqfds;

	/*
	 * In-kernel I/O buses (xkvm_io_bus.c): arrays replaced as a whole
	 * under io_lock, read under srcu.  The coalesced MMIO ring is page
	 * XKVM_COALESCED_MMIO_PAGE_OFFSET of every vCPU mmap; the kernel
	 * appends to it under ring_lock (xkvm_coalesced_mmio.c).
	 */
	struct mutex io_lock;
	struct xkvm_io_bus __rcu *io_bus[XKVM_NR_IO_BUSES];
	spinlock_t ring_lock;
	struct kvm_coalesced_mmio_ring *coalesced_ring;

	/* statistics in debugfs (xkvm_debugfs.c) */
	struct list_head vm_list;	/* xkvm_vm_list_lock */
	struct dentry *debugfs_dir;
	struct xkvm_debugfs_stat *debugfs_stats;

	struct xkvm_arch arch;
};

enum xkvm_vcpu_mode {
	XKVM_OUTSIDE_GUEST_MODE,
	XKVM_IN_GUEST_MODE,
	XKVM_EXITING_GUEST_MODE,
};

/*
 * Requests made to a vCPU by others (virt/xkvm_request.c); the vCPU
 * handles them before its next entry.  XKVM_REQ_WAIT in a request number
 * means the requester waits until every vCPU in guest mode has left it.
 */
#define XKVM_REQ_WAIT		BIT(8)
#define XKVM_REQ_MASK		(XKVM_REQ_WAIT - 1)
#define XKVM_REQ_TLB_FLUSH	(0 | XKVM_REQ_WAIT)	/* flush guest TLB tags */
#define XKVM_REQ_EVENT		1	/* an interrupt or INIT/SIPI may wait */
#define XKVM_REQ_NMI		2	/* fold vcpu->arch.nmi_queued in */
#define XKVM_REQ_CLOCK_UPDATE	3	/* rewrite the guest's pvclock page */

struct kvm_vcpu;
struct xkvm_irq_routing_table;

/* A vCPU's dirty ring (virt/xkvm_dirty_ring.c has the rules). */
struct xkvm_dirty_ring {
	struct kvm_dirty_gfn *gfns;	/* NULL in bitmap mode */
	u32 size;			/* entries, a power of 2 */
	u32 soft_limit;			/* KVM_EXIT_DIRTY_RING_FULL from here */
	u32 dirty_index;		/* next push; the vCPU thread */
	u32 reset_index;		/* next reset; slots_lock */
};

struct xkvm_vcpu {
	struct xkvm *vm;
	u32 vcpu_id;			/* userspace's id (APIC id) */
	int vcpu_idx;			/* creation order */
	struct mutex mutex;		/* held by KVM_RUN and every vCPU ioctl */
	struct kvm_run *run;		/* shared page 0 of the vCPU mmap */
	void *pio_data;			/* shared page 1: port I/O data */
	/*
	 * Physical CPU it runs or last ran on, -1 if none; written by the
	 * vCPU thread before mode becomes IN_GUEST, so a requester that
	 * sees IN_GUEST finds the right CPU here.
	 */
	int cpu;
	int mode;			/* enum xkvm_vcpu_mode, see xkvm_request.c */
	unsigned long requests;		/* XKVM_REQ_* bits, set by anyone */
	struct rcuwait wait;		/* the vCPU thread blocked in xkvm_vcpu_block */
	struct kvm_vcpu *entry_standin;	/* see xkvm_entry.c */
	struct xkvm_dirty_ring dirty_ring;
	struct xkvm_vcpu_arch arch;
};

/*
 * Every vCPU whose creation completed.  A vCPU is never freed while its
 * VM lives, so the pointer stays valid without a lock.
 */
#define xkvm_for_each_vcpu(idx, vcpu, vm)				\
	for ((idx) = 0; (idx) < atomic_read_acquire(&(vm)->online_vcpus) && \
	     ((vcpu) = xa_load(&(vm)->vcpus, (idx))); (idx)++)

/*
 * Binary statistics (virt/xkvm_stats.c): one descriptor per statistic, as
 * KVM_GET_STATS_FD lays them out (struct kvm_stats_desc and its name);
 * the architecture lists them, its counters hold the values.
 */
#define XKVM_STATS_NAME_SIZE	48	/* KVM's, part of the ABI */

/*
 * struct kvm_stats_desc followed by its name, as the file holds them: the
 * same fields, spelled out so that an array of them is an array of plain
 * structs (the UAPI struct ends in a flexible name[]).  The layout is
 * checked against the UAPI struct in virt/xkvm_stats.c.
 */
struct xkvm_stats_desc {
	struct {
		__u32 flags;
		__s16 exponent;
		__u16 size;
		__u32 offset;
		__u32 bucket_size;
	} desc;
	char name[XKVM_STATS_NAME_SIZE];
};

struct xkvm_stats_table {
	const struct xkvm_stats_desc *desc;
	u32 num_desc;
	size_t data_size;		/* bytes of values */
};

/* A counter of type @type (KVM_STATS_TYPE_*) at value index @idx. */
#define XKVM_STATS_DESC(_name, _idx, _type)				\
	{								\
		.desc = {						\
			.flags = (_type) | KVM_STATS_UNIT_NONE |	\
				 KVM_STATS_BASE_POW10,			\
			.size = 1,					\
			.offset = (_idx) * sizeof(u64),			\
		},							\
		.name = _name,						\
	}

/* virt/xkvm_main.c: the /dev/xkvm device, registered by the architecture. */
int xkvm_dev_register(struct module *vendor_owner);
void xkvm_dev_unregister(void);
struct module *xkvm_vendor_get(void);

/* virt/xkvm_vm.c */
int xkvm_vm_create_fd(unsigned long type);
void xkvm_vm_get(struct xkvm *vm);
void xkvm_vm_put(struct xkvm *vm);

/* virt/xkvm_request.c: requests, kicks and blocking */
void xkvm_make_request(unsigned int req, struct xkvm_vcpu *vcpu);
void xkvm_vcpu_kick(struct xkvm_vcpu *vcpu);
void xkvm_make_all_vcpus_request(struct xkvm *vm, unsigned int req);
void xkvm_vcpu_enter_guest_mode(struct xkvm_vcpu *vcpu);
void xkvm_vcpu_exit_guest_mode(struct xkvm_vcpu *vcpu);
bool xkvm_vcpu_wake_up(struct xkvm_vcpu *vcpu);
void xkvm_vcpu_block(struct xkvm_vcpu *vcpu);
int xkvm_request_init(void);
void xkvm_request_exit(void);

/* virt/xkvm_entry.c: the kernel's rules around a guest entry */
int xkvm_vcpu_entry_init(struct xkvm_vcpu *vcpu);
void xkvm_vcpu_entry_free(struct xkvm_vcpu *vcpu);
bool xkvm_vcpu_entry_work_pending(void);
int xkvm_vcpu_handle_entry_work(struct xkvm_vcpu *vcpu);
void xkvm_guest_timing_enter(void);
void xkvm_guest_timing_exit(void);
void xkvm_guest_state_enter(void);
void xkvm_guest_state_exit(void);

/* virt/xkvm_memslot.c */
int xkvm_set_memory_region(struct xkvm *vm,
			   const struct kvm_userspace_memory_region *mem);
struct xkvm_memslot *xkvm_gfn_to_memslot(struct xkvm *vm, xkvm_gfn_t gfn);
unsigned long xkvm_memslot_gfn_to_hva(const struct xkvm_memslot *slot,
				      xkvm_gfn_t gfn);
struct xkvm_memslot *xkvm_id_to_memslot_locked(struct xkvm *vm, u16 id);
int xkvm_read_guest(struct xkvm *vm, xkvm_gpa_t gpa, void *data,
		    unsigned long len);
int xkvm_vcpu_write_guest(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			  const void *data, unsigned long len);
void xkvm_memslots_free(struct xkvm_memslots *slots);

/* virt/xkvm_dirty_log.c */
#define XKVM_DIRTY_LOG_MANUAL_CAPS	(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | \
					 KVM_DIRTY_LOG_INITIALLY_SET)
void xkvm_mark_page_dirty_in_slot(struct xkvm_vcpu *vcpu,
				  const struct xkvm_memslot *slot,
				  xkvm_gfn_t gfn);
void xkvm_vcpu_mark_gfn_dirty(struct xkvm_vcpu *vcpu, xkvm_gfn_t gfn);
bool xkvm_dirty_protect_mask(struct xkvm *vm, const struct xkvm_memslot *slot,
			     unsigned long offset, unsigned long mask);
void xkvm_dirty_log_flush(struct xkvm *vm, bool flush);
int xkvm_dirty_log_slot_prepare(struct xkvm *vm, struct xkvm_memslot *old,
				struct xkvm_memslot *new);
void xkvm_dirty_log_slot_abort(struct xkvm_memslot *old,
			       struct xkvm_memslot *new);
void xkvm_dirty_log_slot_commit(struct xkvm *vm, struct xkvm_memslot *old,
				struct xkvm_memslot *new);
void xkvm_dirty_bitmap_free(struct xkvm_memslot *slot);
int xkvm_get_dirty_log(struct xkvm *vm, struct kvm_dirty_log *log);
int xkvm_clear_dirty_log(struct xkvm *vm, struct kvm_clear_dirty_log *log);
int xkvm_enable_manual_dirty_log(struct xkvm *vm, u64 flags);

/* virt/xkvm_dirty_ring.c */
u32 xkvm_dirty_ring_max_bytes(void);
int xkvm_dirty_ring_enable(struct xkvm *vm, u64 size);
int xkvm_dirty_ring_alloc(struct xkvm_vcpu *vcpu);
void xkvm_dirty_ring_free(struct xkvm_vcpu *vcpu);
bool xkvm_dirty_ring_soft_full(struct xkvm_vcpu *vcpu);
void xkvm_dirty_ring_push(struct xkvm_vcpu *vcpu, u32 slot_id, u64 offset);
bool xkvm_dirty_ring_covers(struct xkvm *vm, unsigned long pgoff);
struct page *xkvm_dirty_ring_page(struct xkvm_vcpu *vcpu, unsigned long pgoff);
int xkvm_dirty_rings_reset(struct xkvm *vm);

/* virt/xkvm_vcpu.c */
int xkvm_vcpu_create(struct xkvm *vm, unsigned long id);
void xkvm_vcpu_destroy(struct xkvm_vcpu *vcpu);

static inline bool xkvm_request_pending(struct xkvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->requests);
}

/* Take request @req if it is pending; the vCPU's own thread only. */
static inline bool xkvm_check_request(unsigned int req, struct xkvm_vcpu *vcpu)
{
	unsigned int nr = req & XKVM_REQ_MASK;

	if (!test_bit(nr, &vcpu->requests))
		return false;
	clear_bit(nr, &vcpu->requests);
	/* what the requester did before asking is visible from here on */
	smp_mb__after_atomic();
	return true;
}

/* virt/xkvm_stats.c */
int xkvm_vm_stats_fd(struct xkvm *vm);
void xkvm_debugfs_init(bool as_kvm);
void xkvm_debugfs_exit(void);
void xkvm_debugfs_vm_add(struct xkvm *vm, int fd);
void xkvm_debugfs_vm_remove(struct xkvm *vm);
int xkvm_vcpu_stats_fd(struct xkvm_vcpu *vcpu);

/* virt/xkvm_mmu_notifier.c */
int xkvm_mmu_notifier_init(struct xkvm *vm);
void xkvm_mmu_notifier_exit(struct xkvm *vm);

/*
 * Host pages the architecture has unmapped from the second-level tables
 * and not yet released: they are released (virt/xkvm_mmu.c) only after
 * every vCPU's TLB is flushed, so no vCPU can reach a freed page.
 */
#define XKVM_ZAP_BATCH		64
struct xkvm_zap_batch {
	unsigned int nr;
	DECLARE_BITMAP(dirty, XKVM_ZAP_BATCH);	/* was mapped writable */
	struct page *pages[XKVM_ZAP_BATCH];
};

/* virt/xkvm_mmu.c: the one way to take guest frames away */
void xkvm_mmu_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
			    xkvm_gfn_t end, bool may_yield);
void xkvm_zap_batch_add(struct xkvm_zap_batch *b, struct page *page,
			bool dirty);

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
/* A blocked vCPU has something to do (an event it can take). */
bool xkvm_arch_vcpu_runnable(struct xkvm_vcpu *vcpu);
void xkvm_arch_vm_release(struct xkvm *vm);
int xkvm_arch_irq_route_check(struct xkvm *vm,
			      const struct kvm_irq_routing_entry *e);
int xkvm_arch_irq_route_set(struct xkvm *vm,
			    const struct kvm_irq_routing_entry *e, int source,
			    int level);

/* virt/xkvm_irq_routing.c */
#define XKVM_MAX_ROUTES_PER_GSI		4
/*
 * Sources of a GSI's level that the generic code drives; the architecture
 * numbers its own from XKVM_IRQ_SOURCE_ARCH.  A line is the OR of them.
 */
#define XKVM_IRQ_SOURCE_USER		0	/* KVM_IRQ_LINE, edge irqfds */
#define XKVM_IRQ_SOURCE_IRQFD_RESAMPLE	1	/* resampling irqfds */
#define XKVM_IRQ_SOURCE_ARCH		2
int xkvm_irq_routing_set(struct xkvm *vm,
			 const struct kvm_irq_routing_entry *e, u32 nr);
long xkvm_irq_routing_ioctl(struct xkvm *vm,
			    struct kvm_irq_routing __user *argp);
int xkvm_irq_set(struct xkvm *vm, int source, u32 gsi, int level);
int xkvm_irq_routes_of(struct xkvm *vm, u32 gsi,
		       struct kvm_irq_routing_entry *out);
void xkvm_irq_routing_free(struct xkvm *vm);
/* Every vCPU was flushed (statistics); mmu_lock held. */
void xkvm_arch_remote_tlb_flushed(struct xkvm *vm);
/* The statistics of VMs and vCPUs, and where their values are. */
const struct xkvm_stats_table *xkvm_arch_vm_stats(void);
const struct xkvm_stats_table *xkvm_arch_vcpu_stats(void);
u64 *xkvm_arch_vm_stat_data(struct xkvm *vm);
u64 *xkvm_arch_vcpu_stat_data(struct xkvm_vcpu *vcpu);
long xkvm_arch_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			  unsigned long arg);
int xkvm_arch_check_extension(struct xkvm *vm, long cap);
int xkvm_arch_max_phys_bits(void);
/*
 * Clear the second-level mappings of [start, end) under mmu_lock, moving
 * their page references into @b; stop early when @b is full.  Returns the
 * first frame not yet done (@end when finished).
 */
xkvm_gfn_t xkvm_arch_zap_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				   xkvm_gfn_t end, struct xkvm_zap_batch *b);
/*
 * Dirty logging: take write permission from the mappings of [start, end)
 * under mmu_lock (a larger leaf goes whole, through the zap primitive, so
 * that the frames come back one page at a time).  Returns true if the
 * caller must flush every vCPU before relying on it.
 */
bool xkvm_arch_write_protect_gfn_range(struct xkvm *vm, xkvm_gfn_t start,
				       xkvm_gfn_t end);
/* Entries a hardware dirty log may add to a dirty ring in one exit. */
u32 xkvm_arch_cpu_dirty_log_size(void);

#endif /* XKVM_HOST_H */
