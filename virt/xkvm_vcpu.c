// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_vcpu.c - vCPU objects: KVM_CREATE_VCPU, the vCPU fd, its mmap
 * (page 0: struct kvm_run, page 1: port I/O data, page 2: the VM's
 * coalesced MMIO ring, pages KVM_DIRTY_LOG_PAGE_OFFSET on: the vCPU's dirty
 * ring, shared and not executable) and ioctl dispatch.
 *
 * Every vCPU ioctl, KVM_RUN included, runs under xkvm_vcpu.mutex, so one
 * thread at a time drives a vCPU; others wait (killable).  Creation takes
 * xkvm.lock to check the id and publish the vCPU, and holds the new vCPU's
 * mutex until it is online: its fd may be used the moment it exists, but
 * the first ioctl waits until the vCPU can be found by requests.  A vCPU
 * whose fd cannot be made is torn down again before it is ever online, so
 * nothing that walks the online vCPUs (MMU notifiers, requests) can see it.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <xkvm/xkvm_host.h>

static vm_fault_t xkvm_vcpu_fault(struct vm_fault *vmf)
{
	struct xkvm_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff == 0)
		page = virt_to_page(vcpu->run);
	else if (vmf->pgoff == XKVM_PIO_PAGE_OFFSET)
		page = virt_to_page(vcpu->pio_data);
	else if (vmf->pgoff == XKVM_COALESCED_MMIO_PAGE_OFFSET)
		page = virt_to_page(vcpu->vm->coalesced_ring);
	else
		page = xkvm_dirty_ring_page(vcpu, vmf->pgoff);
	if (!page)
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct xkvm_vcpu_vm_ops = {
	.fault = xkvm_vcpu_fault,
};

static int xkvm_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct xkvm_vcpu *vcpu = filp->private_data;
	unsigned long last = vma->vm_pgoff + vma_pages(vma) - 1;

	/* the ring is read by the kernel: no private copy, nothing to run */
	if ((xkvm_dirty_ring_covers(vcpu->vm, vma->vm_pgoff) ||
	     xkvm_dirty_ring_covers(vcpu->vm, last)) &&
	    ((vma->vm_flags & VM_EXEC) || !(vma->vm_flags & VM_SHARED)))
		return -EINVAL;
	vma->vm_ops = &xkvm_vcpu_vm_ops;
	return 0;
}

static long xkvm_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			    unsigned long arg)
{
	struct xkvm_vcpu *vcpu = filp->private_data;
	long r;

	if (vcpu->vm->mm != current->mm || READ_ONCE(vcpu->vm->dead))
		return -EIO;
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	if (ioctl == KVM_RUN)
		r = arg ? -EINVAL : xkvm_arch_vcpu_run(vcpu);
	else if (ioctl == KVM_GET_STATS_FD)
		r = xkvm_vcpu_stats_fd(vcpu);
	else
		r = xkvm_arch_vcpu_ioctl(vcpu, ioctl, arg);
	mutex_unlock(&vcpu->mutex);
	return r;
}

static int xkvm_vcpu_release(struct inode *inode, struct file *filp)
{
	struct xkvm_vcpu *vcpu = filp->private_data;

	xkvm_vm_put(vcpu->vm);
	return 0;
}

static const struct file_operations xkvm_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= xkvm_vcpu_release,
	.unlocked_ioctl	= xkvm_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= xkvm_vcpu_mmap,
	.llseek		= noop_llseek,
};

static void xkvm_vcpu_free(struct xkvm_vcpu *vcpu)
{
	xkvm_vcpu_entry_free(vcpu);
	xkvm_dirty_ring_free(vcpu);
	free_page((unsigned long)vcpu->pio_data);
	free_page((unsigned long)vcpu->run);
	kfree(vcpu);
}

void xkvm_vcpu_destroy(struct xkvm_vcpu *vcpu)
{
	xkvm_arch_vcpu_destroy(vcpu);
	xkvm_vcpu_free(vcpu);
}

static struct xkvm_vcpu *xkvm_vcpu_alloc(struct xkvm *vm, u32 id)
{
	struct xkvm_vcpu *vcpu;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return NULL;
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vcpu->pio_data = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vcpu->vm = vm;
	if (!vcpu->run || !vcpu->pio_data || xkvm_vcpu_entry_init(vcpu) ||
	    xkvm_dirty_ring_alloc(vcpu)) {
		xkvm_vcpu_free(vcpu);
		return NULL;
	}
	vcpu->vcpu_id = id;
	vcpu->cpu = -1;
	vcpu->mode = XKVM_OUTSIDE_GUEST_MODE;
	mutex_init(&vcpu->mutex);
	rcuwait_init(&vcpu->wait);
	return vcpu;
}

static bool xkvm_vcpu_id_taken(struct xkvm *vm, u32 id)
{
	struct xkvm_vcpu *v;
	unsigned long i;

	xa_for_each(&vm->vcpus, i, v)
		if (v->vcpu_id == id)
			return true;
	return false;
}

int xkvm_vcpu_create(struct xkvm *vm, unsigned long id)
{
	struct xkvm_vcpu *vcpu;
	char name[24];
	int r;

	if (id >= XKVM_MAX_VCPU_IDS)
		return -EINVAL;

	mutex_lock(&vm->lock);
	if (vm->created_vcpus >= XKVM_MAX_VCPUS) {
		mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	vm->created_vcpus++;
	mutex_unlock(&vm->lock);

	vcpu = xkvm_vcpu_alloc(vm, id);
	if (!vcpu) {
		r = -ENOMEM;
		goto uncount;
	}
	r = xkvm_arch_vcpu_create(vcpu);
	if (r)
		goto free_vcpu;

	mutex_lock(&vm->lock);
	if (xkvm_vcpu_id_taken(vm, id)) {
		r = -EEXIST;
		goto unlock;
	}
	vcpu->vcpu_idx = atomic_read(&vm->online_vcpus);
	r = xa_insert(&vm->vcpus, vcpu->vcpu_idx, vcpu, GFP_KERNEL_ACCOUNT);
	if (r)
		goto unlock;

	/* taken before the fd exists: its first ioctl waits for online */
	mutex_lock(&vcpu->mutex);
	xkvm_vm_get(vm);
	snprintf(name, sizeof(name), "xkvm-vcpu:%u", vcpu->vcpu_id);
	r = anon_inode_getfd(name, &xkvm_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (r < 0) {
		xa_erase(&vm->vcpus, vcpu->vcpu_idx);
		refcount_dec(&vm->refcount);	/* the VM fd still holds one */
		mutex_unlock(&vcpu->mutex);
		goto unlock;
	}
	/* the vCPU is complete before xkvm_for_each_vcpu() can reach it */
	smp_mb__before_atomic();
	atomic_inc(&vm->online_vcpus);
	mutex_unlock(&vcpu->mutex);
	mutex_unlock(&vm->lock);
	return r;

unlock:
	mutex_unlock(&vm->lock);
	xkvm_arch_vcpu_destroy(vcpu);
free_vcpu:
	xkvm_vcpu_free(vcpu);
uncount:
	mutex_lock(&vm->lock);
	vm->created_vcpus--;
	mutex_unlock(&vm->lock);
	return r;
}
