/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_compat.h - the few differences between the kernels xkvm builds
 * against (Debian's 6.1 and 6.12), in one place.
 */
#ifndef XKVM_COMPAT_H
#define XKVM_COMPAT_H

#include <linux/version.h>
#include <linux/kvm.h>

/* 6.10 renamed kvm_run.immediate_exit for in-kernel users (ABI unchanged). */
static inline bool xkvm_run_immediate_exit(struct kvm_run *run)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	return READ_ONCE(run->immediate_exit__unsafe);
#else
	return READ_ONCE(run->immediate_exit);
#endif
}

#endif /* XKVM_COMPAT_H */
