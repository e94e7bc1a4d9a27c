/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xkvm.h - what xkvm adds to KVM's userspace ABI.
 *
 * The ABI of /dev/xkvm is KVM's own, API version 12: the ioctl numbers and
 * structures of <linux/kvm.h>, which this header does not redefine.  Only
 * xkvm's own additions live here.
 */
#ifndef _UAPI_LINUX_XKVM_H
#define _UAPI_LINUX_XKVM_H

#include <linux/kvm.h>

/* The device node through which xkvm speaks KVM's ABI. */
#define XKVM_DEVICE_PATH	"/dev/xkvm"

#endif /* _UAPI_LINUX_XKVM_H */
