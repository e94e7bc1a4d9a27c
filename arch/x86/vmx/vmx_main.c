// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_main.c - entry of xkvm-intel.ko, the VT-x backend.
 *
 * The VT-x backend (VMXON, VMCS, EPT) is not implemented yet: the module
 * refuses to load with a clear message rather than pretending to work.
 */
#define pr_fmt(fmt) "xkvm-intel: " fmt

#include <linux/module.h>

static int __init xkvm_vmx_init(void)
{
	pr_err("the VT-x backend is not implemented yet; use xkvm-amd on AMD-V hosts\n");
	return -EOPNOTSUPP;
}

static void __exit xkvm_vmx_exit(void)
{
}

module_init(xkvm_vmx_init);
module_exit(xkvm_vmx_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xkvm: Intel VT-x backend (not implemented yet)");
