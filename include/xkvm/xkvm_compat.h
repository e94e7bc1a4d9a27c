/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xkvm_compat.h - the few differences between the kernels xkvm builds
 * against (Debian's 6.1 and 6.12), in one place.
 */
#ifndef XKVM_COMPAT_H
#define XKVM_COMPAT_H

#include <linux/eventfd.h>
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

/* 6.8 dropped eventfd_signal()'s count argument (it was always 1 here). */
static inline void xkvm_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* XKVM_COMPAT_H */
