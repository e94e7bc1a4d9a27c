// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_debugfs.c - the statistics in debugfs, laid out as KVM's, for tools
 * that read KVM's debugfs (kvm_stat -d): one file per statistic at the top
 * (the sum over every VM, and for a vCPU statistic over every vCPU) and
 * one directory per VM, "<pid>-<VM fd>", with the same files for that VM
 * alone.  The top directory is "kvm" when xkvm stands in for KVM
 * (devkvm=1) and that name is free, "xkvm" otherwise.
 *
 * The values are the counters of KVM_GET_STATS_FD (xkvm_stats.c).
 *
 * Locks: xkvm_vm_list_lock (a mutex) guards xkvm_vm_list.  A VM leaves the
 * list and loses its directory first thing in its destruction; debugfs
 * waits for readers of the directory's files before removing them, so a
 * file never reads a VM that is being torn down.
 */
#include <linux/debugfs.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <xkvm/xkvm_host.h>

/* What a file reads: a VM statistic or the sum of a vCPU statistic. */
struct xkvm_debugfs_stat {
	struct xkvm *vm;		/* NULL: every VM */
	bool vcpu;
	u16 index;
};

static struct dentry *xkvm_debugfs_root;
static struct xkvm_debugfs_stat *xkvm_debugfs_top;	/* top files' data */
static LIST_HEAD(xkvm_vm_list);
static DEFINE_MUTEX(xkvm_vm_list_lock);

static u64 xkvm_debugfs_vm_value(struct xkvm *vm,
				 const struct xkvm_debugfs_stat *st)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;
	u64 sum = 0;

	if (!st->vcpu)
		return READ_ONCE(xkvm_arch_vm_stat_data(vm)[st->index]);
	xkvm_for_each_vcpu(i, vcpu, vm)
		sum += READ_ONCE(xkvm_arch_vcpu_stat_data(vcpu)[st->index]);
	return sum;
}

static int xkvm_debugfs_get(void *data, u64 *val)
{
	const struct xkvm_debugfs_stat *st = data;
	struct xkvm *vm;

	if (st->vm) {
		*val = xkvm_debugfs_vm_value(st->vm, st);
		return 0;
	}
	*val = 0;
	mutex_lock(&xkvm_vm_list_lock);
	list_for_each_entry(vm, &xkvm_vm_list, vm_list)
		*val += xkvm_debugfs_vm_value(vm, st);
	mutex_unlock(&xkvm_vm_list_lock);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(xkvm_debugfs_fops, xkvm_debugfs_get, NULL, "%llu\n");

static unsigned int xkvm_debugfs_nr_stats(void)
{
	return xkvm_arch_vm_stats()->num_desc + xkvm_arch_vcpu_stats()->num_desc;
}

/* Fill @st (xkvm_debugfs_nr_stats() entries) and create a file for each. */
static void xkvm_debugfs_files(struct dentry *dir, struct xkvm *vm,
			       struct xkvm_debugfs_stat *st)
{
	const struct xkvm_stats_table *t[2] = {
		xkvm_arch_vm_stats(), xkvm_arch_vcpu_stats()
	};
	unsigned int k, i, n = 0;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < t[k]->num_desc; i++, n++) {
			st[n].vm = vm;
			st[n].vcpu = k;
			st[n].index = i;
			debugfs_create_file_unsafe(t[k]->desc[i].name, 0444, dir,
						   &st[n], &xkvm_debugfs_fops);
		}
	}
}

/* A new VM, whose fd will be @fd: list it and give it a directory. */
void xkvm_debugfs_vm_add(struct xkvm *vm, int fd)
{
	struct dentry *dup;
	char name[32];

	vm->debugfs_stats = kcalloc(xkvm_debugfs_nr_stats(),
				    sizeof(*vm->debugfs_stats),
				    GFP_KERNEL_ACCOUNT);
	if (vm->debugfs_stats) {
		snprintf(name, sizeof(name), "%d-%d", task_pid_nr(current), fd);
		/*
		 * The name is taken while an older VM created by this
		 * process under the same fd number lives on (its vCPU fds
		 * keep it): that VM keeps the directory, as on KVM.
		 */
		dup = debugfs_lookup(name, xkvm_debugfs_root);
		if (dup) {
			dput(dup);
			pr_warn_ratelimited("xkvm: debugfs: duplicate directory %s\n",
					    name);
		} else {
			vm->debugfs_dir = debugfs_create_dir(name,
							     xkvm_debugfs_root);
			xkvm_debugfs_files(vm->debugfs_dir, vm,
					   vm->debugfs_stats);
		}
	}
	mutex_lock(&xkvm_vm_list_lock);
	list_add_tail(&vm->vm_list, &xkvm_vm_list);
	mutex_unlock(&xkvm_vm_list_lock);
}

/* The VM is being destroyed: unlist it, remove its directory. */
void xkvm_debugfs_vm_remove(struct xkvm *vm)
{
	mutex_lock(&xkvm_vm_list_lock);
	list_del(&vm->vm_list);
	mutex_unlock(&xkvm_vm_list_lock);
	debugfs_remove_recursive(vm->debugfs_dir);
	kfree(vm->debugfs_stats);
}

/* Module load; @as_kvm: try the name "kvm" first. */
void xkvm_debugfs_init(bool as_kvm)
{
	struct dentry *root = ERR_PTR(-ENOENT);

	if (as_kvm)
		root = debugfs_create_dir("kvm", NULL);
	if (IS_ERR(root))
		root = debugfs_create_dir("xkvm", NULL);
	xkvm_debugfs_root = root;
	xkvm_debugfs_top = kcalloc(xkvm_debugfs_nr_stats(),
				   sizeof(*xkvm_debugfs_top), GFP_KERNEL);
	if (xkvm_debugfs_top)
		xkvm_debugfs_files(root, NULL, xkvm_debugfs_top);
}

void xkvm_debugfs_exit(void)
{
	debugfs_remove_recursive(xkvm_debugfs_root);
	kfree(xkvm_debugfs_top);
}
