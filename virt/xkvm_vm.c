// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_vm.c - VM objects: creation, the VM fd and its ioctls, reference
 * counting and destruction.
 *
 * Locks: takes xkvm.lock only through xkvm_vcpu_create().  Destruction runs
 * when the last reference (VM fd or vCPU fd) goes, so no lock is needed
 * there: nobody else can reach the VM.  Requests to all vCPUs live in
 * xkvm_request.c.
 */
#define pr_fmt(fmt) "xkvm: " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <xkvm/xkvm_host.h>
#include <xkvm/xkvm_io_bus.h>

void xkvm_vm_get(struct xkvm *vm)
{
	refcount_inc(&vm->refcount);
}

static void xkvm_vm_destroy(struct xkvm *vm)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;

	xkvm_debugfs_vm_remove(vm);
	xkvm_irqfds_release(vm);	/* irqfds still raise GSIs on the way out */
	xkvm_arch_vm_release(vm);	/* devices stop before vCPUs go */
	xkvm_mmu_notifier_exit(vm);
	xa_for_each(&vm->vcpus, i, vcpu)
		xkvm_vcpu_destroy(vcpu);
	xa_destroy(&vm->vcpus);
	xkvm_arch_destroy_vm(vm);
	xkvm_irq_routing_free(vm);
	xkvm_io_destroy(vm);
	xkvm_memslots_free(rcu_dereference_protected(vm->memslots, 1));
	cleanup_srcu_struct(&vm->srcu);
	mmdrop(vm->mm);
	module_put(vm->vendor_owner);
	kfree(vm);
}

void xkvm_vm_put(struct xkvm *vm)
{
	if (refcount_dec_and_test(&vm->refcount))
		xkvm_vm_destroy(vm);
}

static long xkvm_vm_ioctl(struct file *filp, unsigned int ioctl,
			  unsigned long arg)
{
	struct xkvm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;

	if (vm->mm != current->mm || READ_ONCE(vm->dead))
		return -EIO;

	switch (ioctl) {
	case KVM_CREATE_VCPU:
		return xkvm_vcpu_create(vm, arg);
	case KVM_SET_USER_MEMORY_REGION: {
		struct kvm_userspace_memory_region mem;

		if (copy_from_user(&mem, argp, sizeof(mem)))
			return -EFAULT;
		return xkvm_set_memory_region(vm, &mem);
	}
	case KVM_CHECK_EXTENSION:
		return xkvm_arch_check_extension(vm, arg);
	case KVM_GET_DIRTY_LOG: {
		struct kvm_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return xkvm_get_dirty_log(vm, &log);
	}
	case KVM_RESET_DIRTY_RINGS:
		return xkvm_dirty_rings_reset(vm);
	case KVM_CLEAR_DIRTY_LOG: {
		struct kvm_clear_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return xkvm_clear_dirty_log(vm, &log);
	}
	case KVM_IOEVENTFD: {
		struct kvm_ioeventfd data;

		if (copy_from_user(&data, argp, sizeof(data)))
			return -EFAULT;
		return xkvm_ioeventfd(vm, &data);
	}
	case KVM_REGISTER_COALESCED_MMIO:
	case KVM_UNREGISTER_COALESCED_MMIO: {
		struct kvm_coalesced_mmio_zone zone;

		if (copy_from_user(&zone, argp, sizeof(zone)))
			return -EFAULT;
		if (ioctl == KVM_REGISTER_COALESCED_MMIO)
			return xkvm_coalesced_mmio_register(vm, &zone);
		return xkvm_coalesced_mmio_unregister(vm, &zone);
	}
	case KVM_IRQFD: {
		struct kvm_irqfd data;

		if (copy_from_user(&data, argp, sizeof(data)))
			return -EFAULT;
		return xkvm_irqfd_ioctl(vm, &data);
	}
	case KVM_GET_STATS_FD:
		return xkvm_vm_stats_fd(vm);
	default:
		return xkvm_arch_vm_ioctl(vm, ioctl, arg);
	}
}

static int xkvm_vm_release(struct inode *inode, struct file *filp)
{
	xkvm_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations xkvm_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= xkvm_vm_release,
	.unlocked_ioctl	= xkvm_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static atomic64_t xkvm_vm_ids;

static struct xkvm *xkvm_vm_alloc(void)
{
	struct xkvm_memslots *slots;
	struct xkvm *vm;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return NULL;
	slots = kzalloc(sizeof(*slots), GFP_KERNEL_ACCOUNT);
	if (!slots)
		goto free_vm;
	if (init_srcu_struct(&vm->srcu))
		goto free_slots;
	if (xkvm_io_init(vm))
		goto cleanup_srcu;

	refcount_set(&vm->refcount, 1);
	INIT_LIST_HEAD(&vm->vm_list);
	vm->id = atomic64_inc_return(&xkvm_vm_ids);
	mutex_init(&vm->lock);
	mutex_init(&vm->slots_lock);
	mutex_init(&vm->irq_lock);
	xkvm_irqfds_init(vm);
	spin_lock_init(&vm->mmu_lock);
	xa_init(&vm->vcpus);
	atomic_set(&vm->online_vcpus, 0);
	RCU_INIT_POINTER(vm->memslots, slots);
	vm->mm = current->mm;
	mmgrab(vm->mm);
	return vm;

cleanup_srcu:
	cleanup_srcu_struct(&vm->srcu);
free_slots:
	kfree(slots);
free_vm:
	kfree(vm);
	return NULL;
}

static void xkvm_vm_free_early(struct xkvm *vm)
{
	xkvm_io_destroy(vm);
	xkvm_memslots_free(rcu_dereference_protected(vm->memslots, 1));
	cleanup_srcu_struct(&vm->srcu);
	mmdrop(vm->mm);
	kfree(vm);
}

int xkvm_vm_create_fd(unsigned long type)
{
	struct module *owner;
	struct file *file;
	struct xkvm *vm;
	int r, fd;

	owner = xkvm_vendor_get();
	if (!owner)
		return -ENODEV;

	vm = xkvm_vm_alloc();
	if (!vm) {
		r = -ENOMEM;
		goto put_owner;
	}
	vm->vendor_owner = owner;

	r = xkvm_arch_init_vm(vm, type);
	if (r)
		goto free_vm;
	r = xkvm_mmu_notifier_init(vm);
	if (r)
		goto destroy_arch;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		xkvm_vm_put(vm);	/* full teardown; drops the module too */
		return fd;
	}
	file = anon_inode_getfile("xkvm-vm", &xkvm_vm_fops, vm, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		xkvm_vm_put(vm);
		return PTR_ERR(file);
	}
	xkvm_debugfs_vm_add(vm, fd);	/* named after the fd, as KVM's */
	fd_install(fd, file);
	return fd;

destroy_arch:
	xkvm_arch_destroy_vm(vm);
free_vm:
	xkvm_vm_free_early(vm);
put_owner:
	module_put(owner);
	return r;
}
