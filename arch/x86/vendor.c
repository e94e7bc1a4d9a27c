// SPDX-License-Identifier: GPL-2.0
/*
 * vendor.c - registration of the one vendor backend (VT-x or AMD-V).
 *
 * xkvm_x86_ops is written only here, before /dev/xkvm exists and after it
 * is gone, so readers (who can only reach it through a VM, which pins the
 * vendor module) need no lock.
 */
#define pr_fmt(fmt) "xkvm: " fmt

#include <linux/module.h>

#include <xkvm_x86.h>

const struct xkvm_x86_ops *xkvm_x86_ops;
static DEFINE_MUTEX(xkvm_vendor_lock);

int xkvm_x86_vendor_register(const struct xkvm_x86_ops *ops)
{
	int r;

	if (!ops->vcpu_create || !ops->vcpu_free ||
	    !ops->state_get || !ops->state_set || !ops->get_msr ||
	    !ops->set_msr || !ops->enter_guest || !ops->handle_exit ||
	    !ops->get_interrupt_shadow || !ops->set_interrupt_shadow ||
	    !ops->inject_event || !ops->set_irq_window ||
	    !ops->set_nmi_window)
		return -EINVAL;

	mutex_lock(&xkvm_vendor_lock);
	if (xkvm_x86_ops) {
		pr_err("%s: vendor %s is already registered\n", ops->name,
		       xkvm_x86_ops->name);
		r = -EBUSY;
		goto out;
	}
	xkvm_x86_run_init();
	xkvm_x86_ops = ops;
	r = xkvm_dev_register(ops->owner);
	if (r)
		xkvm_x86_ops = NULL;
	else
		pr_info("vendor %s registered, /dev/xkvm ready\n", ops->name);
out:
	mutex_unlock(&xkvm_vendor_lock);
	return r;
}
EXPORT_SYMBOL_GPL(xkvm_x86_vendor_register);

void xkvm_x86_vendor_unregister(const struct xkvm_x86_ops *ops)
{
	mutex_lock(&xkvm_vendor_lock);
	if (xkvm_x86_ops == ops) {
		xkvm_dev_unregister();
		xkvm_x86_ops = NULL;
	}
	mutex_unlock(&xkvm_vendor_lock);
}
EXPORT_SYMBOL_GPL(xkvm_x86_vendor_unregister);
