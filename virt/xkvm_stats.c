// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_stats.c - KVM's binary statistics (KVM_GET_STATS_FD on the VM and
 * vCPU fds): a read-only file whose content is a header, an id string,
 * the descriptors of the statistics and their current values, laid out
 * as KVM's ABI says (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD").
 *
 * Which statistics exist is the architecture's (xkvm_arch_*_stats());
 * their values are u64 counters the owner updates without atomics (a
 * vCPU's by its own thread, a VM's under the lock that guards what they
 * count), read here with READ_ONCE: aligned 64-bit loads, never torn.
 * The file holds a reference on the VM, so it can be read after the VM
 * and vCPU fds are closed.
 *
 * Must not: know about x86.  Locks: none.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <xkvm/xkvm_host.h>

static_assert(offsetof(struct xkvm_stats_desc, desc.flags) ==
	      offsetof(struct kvm_stats_desc, flags));
static_assert(offsetof(struct xkvm_stats_desc, desc.exponent) ==
	      offsetof(struct kvm_stats_desc, exponent));
static_assert(offsetof(struct xkvm_stats_desc, desc.size) ==
	      offsetof(struct kvm_stats_desc, size));
static_assert(offsetof(struct xkvm_stats_desc, desc.offset) ==
	      offsetof(struct kvm_stats_desc, offset));
static_assert(offsetof(struct xkvm_stats_desc, desc.bucket_size) ==
	      offsetof(struct kvm_stats_desc, bucket_size));
static_assert(offsetof(struct xkvm_stats_desc, name) ==
	      offsetof(struct kvm_stats_desc, name));
static_assert(sizeof(struct xkvm_stats_desc) ==
	      offsetof(struct kvm_stats_desc, name) + XKVM_STATS_NAME_SIZE);

struct xkvm_stats_file {
	struct xkvm *vm;			/* held */
	const struct xkvm_stats_table *table;
	const u64 *data;			/* live values */
	struct kvm_stats_header header;
	char id[XKVM_STATS_NAME_SIZE];
};

/* Copy the part of [@start, @start + @len) of the file that overlaps @src. */
static size_t xkvm_stats_copy(char __user **buf, size_t *size, loff_t *pos,
			      loff_t start, const void *src, size_t len,
			      bool *fault)
{
	loff_t end = start + len, from = max(*pos, start);
	size_t n;

	if (*fault || !*size || *pos >= end || from >= end)
		return 0;
	n = min_t(size_t, *size, end - from);
	if (copy_to_user(*buf, src + (from - start), n)) {
		*fault = true;
		return 0;
	}
	*buf += n;
	*size -= n;
	*pos = from + n;
	return n;
}

static ssize_t xkvm_stats_read(struct file *file, char __user *buf,
			       size_t size, loff_t *ppos)
{
	struct xkvm_stats_file *sf = file->private_data;
	const struct kvm_stats_header *h = &sf->header;
	const struct xkvm_stats_table *t = sf->table;
	size_t nvalues = t->data_size / sizeof(u64), done = 0, i;
	loff_t pos = *ppos;
	bool fault = false;
	u64 value;

	done += xkvm_stats_copy(&buf, &size, &pos, 0, h, sizeof(*h), &fault);
	done += xkvm_stats_copy(&buf, &size, &pos, h->id_offset, sf->id,
				sizeof(sf->id), &fault);
	done += xkvm_stats_copy(&buf, &size, &pos, h->desc_offset, t->desc,
				t->num_desc * sizeof(*t->desc), &fault);
	/* the values one at a time: each is read once, untorn */
	for (i = 0; i < nvalues && size && !fault; i++) {
		value = READ_ONCE(sf->data[i]);
		done += xkvm_stats_copy(&buf, &size, &pos,
					h->data_offset + i * sizeof(u64),
					&value, sizeof(value), &fault);
	}
	if (fault && !done)
		return -EFAULT;
	*ppos = pos;
	return done;
}

static int xkvm_stats_release(struct inode *inode, struct file *file)
{
	struct xkvm_stats_file *sf = file->private_data;

	xkvm_vm_put(sf->vm);
	kfree(sf);
	return 0;
}

static const struct file_operations xkvm_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= xkvm_stats_read,
	.release	= xkvm_stats_release,
	.llseek		= noop_llseek,
};

/*
 * A stats fd for @table, whose values are at @data, identified by @id
 * (KVM's form: "kvm-<pid>" for a VM, "kvm-<pid>/vcpu-<id>" for a vCPU).
 */
static int xkvm_stats_fd(struct xkvm *vm, const struct xkvm_stats_table *table,
			 const u64 *data, const char *id)
{
	struct xkvm_stats_file *sf;
	struct file *file;
	int fd;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	sf->vm = vm;
	sf->table = table;
	sf->data = data;
	strscpy(sf->id, id, sizeof(sf->id));
	sf->header.name_size = XKVM_STATS_NAME_SIZE;
	sf->header.num_desc = table->num_desc;
	sf->header.id_offset = sizeof(sf->header);
	sf->header.desc_offset = sf->header.id_offset + XKVM_STATS_NAME_SIZE;
	sf->header.data_offset = sf->header.desc_offset +
				 table->num_desc * sizeof(*table->desc);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto free;
	file = anon_inode_getfile("xkvm-stats", &xkvm_stats_fops, sf, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto free;
	}
	file->f_mode |= FMODE_PREAD;
	xkvm_vm_get(vm);
	fd_install(fd, file);
	return fd;
free:
	kfree(sf);
	return fd;
}

int xkvm_vm_stats_fd(struct xkvm *vm)
{
	char id[XKVM_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "kvm-%d", task_pid_nr(current));
	return xkvm_stats_fd(vm, xkvm_arch_vm_stats(), xkvm_arch_vm_stat_data(vm),
			     id);
}

int xkvm_vcpu_stats_fd(struct xkvm_vcpu *vcpu)
{
	char id[XKVM_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "kvm-%d/vcpu-%u", task_pid_nr(current),
		 vcpu->vcpu_id);
	return xkvm_stats_fd(vcpu->vm, xkvm_arch_vcpu_stats(),
			     xkvm_arch_vcpu_stat_data(vcpu), id);
}
