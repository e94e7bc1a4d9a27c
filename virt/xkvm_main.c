// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_main.c - module entry of xkvm.ko and the /dev/xkvm device.
 *
 * Owns: the system-fd ioctls (API version, capabilities, VM creation,
 * vCPU mmap size) and the device's lifetime.  The device exists only while
 * a vendor backend is registered; xkvm_dev_lock serialises that.  As on
 * KVM, the vendor module owns the device: every open /dev/xkvm pins it,
 * so the backend a system-fd ioctl calls into cannot go away under it.
 * With devkvm=1, the same device is also registered as /dev/kvm (KVM's
 * misc minor 232) so that unmodified VMMs reach xkvm, unless another
 * driver (kvm.ko) already owns that name.
 * Must not: know about x86 or any vendor.
 */
#define pr_fmt(fmt) "xkvm: " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <xkvm/xkvm_host.h>

#define XKVM_KVM_MINOR	232	/* KVM's own misc minor: /dev/kvm */

static bool devkvm;
module_param(devkvm, bool, 0444);
MODULE_PARM_DESC(devkvm, "also register /dev/kvm when no other driver owns it");

static DEFINE_MUTEX(xkvm_dev_lock);
static struct module *xkvm_vendor_owner;	/* xkvm_dev_lock */
static bool xkvm_devkvm_registered;		/* xkvm_dev_lock */


static long xkvm_dev_ioctl(struct file *filp, unsigned int ioctl,
			   unsigned long arg)
{
	switch (ioctl) {
	case KVM_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return XKVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		return xkvm_arch_check_extension(NULL, arg);
	case KVM_CREATE_VM:
		return xkvm_vm_create_fd(arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		if (arg)
			return -EINVAL;
		return XKVM_VCPU_MMAP_PAGES * PAGE_SIZE;
	default:
		return xkvm_arch_dev_ioctl(ioctl, arg);
	}
}

/* .owner is the registered vendor module (xkvm_dev_register). */
static struct file_operations xkvm_dev_fops = {
	.unlocked_ioctl	= xkvm_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xkvm_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xkvm",
	.fops	= &xkvm_dev_fops,
	.mode	= 0660,
};

static struct miscdevice xkvm_devkvm = {
	.minor	= XKVM_KVM_MINOR,
	.name	= "kvm",
	.fops	= &xkvm_dev_fops,
	.mode	= 0660,
};

/*
 * Pin the vendor module for a new VM.  Under xkvm_dev_lock the owner cannot
 * be unregistered (and freed) between the read and try_module_get().
 */
struct module *xkvm_vendor_get(void)
{
	struct module *owner;

	mutex_lock(&xkvm_dev_lock);
	owner = xkvm_vendor_owner;
	if (owner && !try_module_get(owner))
		owner = NULL;
	mutex_unlock(&xkvm_dev_lock);
	return owner;
}

int xkvm_dev_register(struct module *vendor_owner)
{
	int r;

	mutex_lock(&xkvm_dev_lock);
	if (xkvm_vendor_owner) {
		r = -EEXIST;
		goto out;
	}
	xkvm_vendor_owner = vendor_owner;
	xkvm_dev_fops.owner = vendor_owner;
	r = misc_register(&xkvm_dev);
	if (r) {
		pr_err("cannot register /dev/xkvm: %d\n", r);
		xkvm_vendor_owner = NULL;
		goto out;
	}
	if (devkvm) {
		if (misc_register(&xkvm_devkvm))
			pr_warn("devkvm: /dev/kvm is owned by another driver (kvm.ko?); only /dev/xkvm is available\n");
		else
			xkvm_devkvm_registered = true;
	}
out:
	mutex_unlock(&xkvm_dev_lock);
	return r;
}

void xkvm_dev_unregister(void)
{
	mutex_lock(&xkvm_dev_lock);
	if (xkvm_vendor_owner) {
		if (xkvm_devkvm_registered)
			misc_deregister(&xkvm_devkvm);
		xkvm_devkvm_registered = false;
		misc_deregister(&xkvm_dev);
		xkvm_vendor_owner = NULL;
	}
	mutex_unlock(&xkvm_dev_lock);
}

static int __init xkvm_init(void)
{
	int r;

	r = xkvm_request_init();
	if (r)
		return r;
	xkvm_debugfs_init(devkvm);
	pr_info("core loaded (KVM API %d); waiting for a vendor module\n",
		XKVM_API_VERSION);
	return 0;
}

static void __exit xkvm_exit(void)
{
	xkvm_debugfs_exit();
	xkvm_request_exit();
}

module_init(xkvm_init);
module_exit(xkvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xkvm: KVM-compatible hypervisor core");
