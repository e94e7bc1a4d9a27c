// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_irqfd.c - KVM_IRQFD: an eventfd whose signal raises a GSI through
 * the routing table as it is at that moment.  An edge irqfd pulses the
 * GSI (userspace's source, as KVM_IRQ_LINE 1 then 0); a resampling irqfd
 * holds it high (a source of its own) until the guest acknowledges the
 * line (xkvm_irqfd_ack), then lowers it and signals its resamplefd.
 *
 * Must not: know what an irqchip or an MSI is; the architecture says who
 * may have irqfds and which routes may be raised in atomic context.
 *
 * Life of an irqfd.  Assign hooks it on the eventfd's wait queue, then
 * puts it on irqfds.items: it is "active" while it is on that list.
 * Whoever takes it off (deassign, the eventfd's EPOLLHUP when userspace
 * closes it, VM destroy) queues its shutdown on the VM's irqfds.wq; the
 * shutdown unhooks it (which waits for a wakeup running on another CPU),
 * waits for its inject work, leaves its resampler and frees it.
 * Deassign and destroy flush irqfds.wq, so when they return no shutdown
 * they caused is still running; destroy then destroys the workqueue.  An
 * irqfd holds no reference on the VM: destroy waits for all of them.
 *
 * Wakeup context.  The eventfd calls irqfd_wakeup() with its wait-queue
 * lock held and interrupts off, maybe in hard IRQ.  The GSI is raised
 * there only if every route of it may be (MSIs on x86); anything else
 * goes to the inject work.
 *
 * Locks (outer to inner):
 *   irqfds.lock (mutex): assign and deassign, writers of the resampler
 *     lists, creating irqfds.wq;
 *   the eventfd's wait-queue lock > irqfds.items_lock (spinlock, taken
 *     with interrupts off): items, and so whether an irqfd is active.
 * The ack path (a vCPU's EOI) reads the resampler lists under
 * rcu_read_lock; an irqfd or resampler leaves them under irqfds.lock and
 * is freed only after a grace period.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <xkvm/xkvm_compat.h>
#include <xkvm/xkvm_host.h>

/* Every resampling irqfd of one GSI, sharing that GSI's ack. */
struct xkvm_irqfd_resampler {
	u32 gsi;
	struct list_head link;		/* in irqfds.resamplers (RCU) */
	struct list_head irqfds;	/* its irqfds (RCU) */
};

struct xkvm_irqfd {
	struct xkvm *vm;
	u32 gsi;
	struct eventfd_ctx *eventfd;
	struct eventfd_ctx *resamplefd;		/* NULL: an edge irqfd */
	struct xkvm_irqfd_resampler *resampler;	/* NULL: an edge irqfd */
	struct list_head resample_link;		/* in resampler->irqfds */
	struct list_head link;			/* in items; empty: inactive */
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct inject;
	struct work_struct shutdown;
};

/* ---- raising the GSI ---- */

static void irqfd_raise(struct xkvm_irqfd *irqfd)
{
	struct xkvm *vm = irqfd->vm;

	if (irqfd->resampler) {
		xkvm_irq_set(vm, XKVM_IRQ_SOURCE_IRQFD_RESAMPLE, irqfd->gsi, 1);
		return;
	}
	xkvm_irq_set(vm, XKVM_IRQ_SOURCE_USER, irqfd->gsi, 1);
	xkvm_irq_set(vm, XKVM_IRQ_SOURCE_USER, irqfd->gsi, 0);
}

static void irqfd_inject(struct work_struct *work)
{
	irqfd_raise(container_of(work, struct xkvm_irqfd, inject));
}

/*
 * Wakeup context: pulse an edge irqfd's GSI now if all its routes allow
 * it.  False if the inject work must do it.
 */
static bool irqfd_raise_atomic(struct xkvm_irqfd *irqfd)
{
	struct kvm_irq_routing_entry routes[XKVM_MAX_ROUTES_PER_GSI];
	struct xkvm *vm = irqfd->vm;
	int i, n;

	if (irqfd->resampler)
		return false;
	n = xkvm_irq_routes_of(vm, irqfd->gsi, routes);
	for (i = 0; i < n; i++)
		if (!xkvm_arch_irq_route_atomic(vm, &routes[i]))
			return false;
	for (i = 0; i < n; i++) {
		xkvm_arch_irq_route_set(vm, &routes[i], XKVM_IRQ_SOURCE_USER, 1);
		xkvm_arch_irq_route_set(vm, &routes[i], XKVM_IRQ_SOURCE_USER, 0);
	}
	return true;
}

/* ---- resamplers ---- */

/* irqfds.lock held: join (or start) the resampler of irqfd->gsi. */
static int irqfd_resampler_join(struct xkvm_irqfd *irqfd)
{
	struct xkvm_irqfds *fds = &irqfd->vm->irqfds;
	struct xkvm_irqfd_resampler *rs;

	lockdep_assert_held(&fds->lock);
	list_for_each_entry(rs, &fds->resamplers, link)
		if (rs->gsi == irqfd->gsi)
			goto join;
	rs = kzalloc(sizeof(*rs), GFP_KERNEL_ACCOUNT);
	if (!rs)
		return -ENOMEM;
	rs->gsi = irqfd->gsi;
	INIT_LIST_HEAD(&rs->irqfds);
	list_add_rcu(&rs->link, &fds->resamplers);
join:
	irqfd->resampler = rs;
	list_add_rcu(&irqfd->resample_link, &rs->irqfds);
	return 0;
}

/*
 * Leave the resampler; the last one out lowers the line (as KVM does) and
 * frees it.  Returns after a grace period: no ack path sees @irqfd.
 */
static void irqfd_resampler_leave(struct xkvm_irqfd *irqfd)
{
	struct xkvm_irqfd_resampler *rs = irqfd->resampler;
	struct xkvm *vm = irqfd->vm;
	bool last;

	mutex_lock(&vm->irqfds.lock);
	list_del_rcu(&irqfd->resample_link);
	last = list_empty(&rs->irqfds);
	if (last) {
		list_del_rcu(&rs->link);
		xkvm_irq_set(vm, XKVM_IRQ_SOURCE_IRQFD_RESAMPLE, rs->gsi, 0);
	}
	mutex_unlock(&vm->irqfds.lock);
	synchronize_rcu();
	if (last)
		kfree(rs);
}

/* Does GSI @gsi route to input @pin of @irqchip now? */
static bool irqfd_gsi_reaches(struct xkvm *vm, u32 gsi, u32 irqchip, u32 pin)
{
	struct kvm_irq_routing_entry routes[XKVM_MAX_ROUTES_PER_GSI];
	int i, n = xkvm_irq_routes_of(vm, gsi, routes);

	for (i = 0; i < n; i++)
		if (routes[i].type == KVM_IRQ_ROUTING_IRQCHIP &&
		    routes[i].u.irqchip.irqchip == irqchip &&
		    routes[i].u.irqchip.pin == pin)
			return true;
	return false;
}

void xkvm_irqfd_ack(struct xkvm *vm, u32 irqchip, u32 pin)
{
	struct xkvm_irqfd_resampler *rs;
	struct xkvm_irqfd *irqfd;

	rcu_read_lock();
	list_for_each_entry_rcu(rs, &vm->irqfds.resamplers, link) {
		if (!irqfd_gsi_reaches(vm, rs->gsi, irqchip, pin))
			continue;
		xkvm_irq_set(vm, XKVM_IRQ_SOURCE_IRQFD_RESAMPLE, rs->gsi, 0);
		list_for_each_entry_rcu(irqfd, &rs->irqfds, resample_link)
			xkvm_eventfd_signal(irqfd->resamplefd);
	}
	rcu_read_unlock();
}

/* ---- life cycle ---- */

/* items_lock held: take @irqfd off the list and have it shut down. */
static void irqfd_deactivate(struct xkvm_irqfd *irqfd)
{
	list_del_init(&irqfd->link);
	queue_work(irqfd->vm->irqfds.wq, &irqfd->shutdown);
}

static void irqfd_shutdown(struct work_struct *work)
{
	struct xkvm_irqfd *irqfd = container_of(work, struct xkvm_irqfd,
						shutdown);
	u64 cnt;

	/* after this no wakeup runs or starts: nothing queues inject */
	eventfd_ctx_remove_wait_queue(irqfd->eventfd, &irqfd->wait, &cnt);
	flush_work(&irqfd->inject);
	if (irqfd->resampler) {
		irqfd_resampler_leave(irqfd);
		eventfd_ctx_put(irqfd->resamplefd);
	}
	eventfd_ctx_put(irqfd->eventfd);
	kfree(irqfd);
}

static int irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			int sync, void *key)
{
	struct xkvm_irqfd *irqfd = container_of(wait, struct xkvm_irqfd, wait);
	struct xkvm_irqfds *fds = &irqfd->vm->irqfds;
	__poll_t flags = key_to_poll(key);
	unsigned long iflags;
	u64 cnt;

	if (flags & EPOLLIN) {
		eventfd_ctx_do_read(irqfd->eventfd, &cnt);
		if (!irqfd_raise_atomic(irqfd))
			queue_work(fds->wq, &irqfd->inject);
	}
	if (flags & EPOLLHUP) {
		/* the eventfd is going away; deassign may have been first */
		spin_lock_irqsave(&fds->items_lock, iflags);
		if (!list_empty(&irqfd->link))
			irqfd_deactivate(irqfd);
		spin_unlock_irqrestore(&fds->items_lock, iflags);
	}
	return 0;
}

static void irqfd_ptable_queue(struct file *file, wait_queue_head_t *wqh,
			       poll_table *pt)
{
	struct xkvm_irqfd *irqfd = container_of(pt, struct xkvm_irqfd, pt);

	add_wait_queue(wqh, &irqfd->wait);
}

/* irqfds.lock held: is @ctx already some irqfd's eventfd? */
static bool irqfd_eventfd_busy(struct xkvm_irqfds *fds, struct eventfd_ctx *ctx)
{
	struct xkvm_irqfd *tmp;
	bool busy = false;

	spin_lock_irq(&fds->items_lock);
	list_for_each_entry(tmp, &fds->items, link)
		busy |= tmp->eventfd == ctx;
	spin_unlock_irq(&fds->items_lock);
	return busy;
}

/* irqfds.lock held: the VM's irqfd workqueue, made on first use. */
static int irqfd_wq_get(struct xkvm *vm)
{
	if (vm->irqfds.wq)
		return 0;
	vm->irqfds.wq = alloc_workqueue("xkvm-irqfd-%llu", 0, 0, vm->id);
	return vm->irqfds.wq ? 0 : -ENOMEM;
}

/*
 * With irqfds.lock held: check, join the resampler, hook on the wait
 * queue, then publish.  @file (the eventfd) is held, so no EPOLLHUP can
 * come before the irqfd is on the list.
 */
static int irqfd_install(struct xkvm_irqfd *irqfd, struct file *file)
{
	struct xkvm_irqfds *fds = &irqfd->vm->irqfds;
	__poll_t events;
	int r;

	r = irqfd_wq_get(irqfd->vm);
	if (r)
		return r;
	if (irqfd_eventfd_busy(fds, irqfd->eventfd))
		return -EBUSY;
	if (irqfd->resamplefd) {
		r = irqfd_resampler_join(irqfd);
		if (r)
			return r;
	}
	events = vfs_poll(file, &irqfd->pt);
	spin_lock_irq(&fds->items_lock);
	list_add_tail(&irqfd->link, &fds->items);
	spin_unlock_irq(&fds->items_lock);
	/* signalled before we listened: deliver it now, as KVM does */
	if (events & EPOLLIN)
		queue_work(fds->wq, &irqfd->inject);
	return 0;
}

static int irqfd_assign(struct xkvm *vm, const struct kvm_irqfd *args)
{
	bool resample = args->flags & KVM_IRQFD_FLAG_RESAMPLE;
	struct xkvm_irqfd *irqfd;
	struct eventfd_ctx *ctx;
	struct file *file;
	int r;

	if (!xkvm_arch_irqfd_allowed(vm, resample))
		return -EINVAL;
	irqfd = kzalloc(sizeof(*irqfd), GFP_KERNEL_ACCOUNT);
	if (!irqfd)
		return -ENOMEM;
	irqfd->vm = vm;
	irqfd->gsi = args->gsi;
	INIT_LIST_HEAD(&irqfd->link);
	INIT_LIST_HEAD(&irqfd->resample_link);
	INIT_WORK(&irqfd->inject, irqfd_inject);
	INIT_WORK(&irqfd->shutdown, irqfd_shutdown);
	init_waitqueue_func_entry(&irqfd->wait, irqfd_wakeup);
	init_poll_funcptr(&irqfd->pt, irqfd_ptable_queue);

	r = -EBADF;
	file = fget(args->fd);
	if (!file)
		goto free_irqfd;
	ctx = eventfd_ctx_fileget(file);	/* -EINVAL: not an eventfd */
	r = PTR_ERR(ctx);
	if (IS_ERR(ctx))
		goto put_file;
	irqfd->eventfd = ctx;
	if (resample) {
		ctx = eventfd_ctx_fdget(args->resamplefd);
		r = PTR_ERR(ctx);
		if (IS_ERR(ctx))
			goto put_eventfd;
		irqfd->resamplefd = ctx;
	}

	mutex_lock(&vm->irqfds.lock);
	r = irqfd_install(irqfd, file);
	mutex_unlock(&vm->irqfds.lock);
	if (r)
		goto put_resamplefd;
	fput(file);
	return 0;

put_resamplefd:
	if (irqfd->resamplefd)
		eventfd_ctx_put(irqfd->resamplefd);
put_eventfd:
	eventfd_ctx_put(irqfd->eventfd);
put_file:
	fput(file);
free_irqfd:
	kfree(irqfd);
	return r;
}

/*
 * Deassign every irqfd of this eventfd and GSI.  As on KVM, one that is
 * not assigned is no error; a bad fd is (-EBADF, -EINVAL).
 */
static int irqfd_deassign(struct xkvm *vm, const struct kvm_irqfd *args)
{
	struct xkvm_irqfds *fds = &vm->irqfds;
	struct xkvm_irqfd *irqfd, *tmp;
	struct workqueue_struct *wq;
	struct eventfd_ctx *ctx;

	ctx = eventfd_ctx_fdget(args->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	mutex_lock(&fds->lock);
	spin_lock_irq(&fds->items_lock);
	list_for_each_entry_safe(irqfd, tmp, &fds->items, link)
		if (irqfd->eventfd == ctx && irqfd->gsi == args->gsi)
			irqfd_deactivate(irqfd);
	spin_unlock_irq(&fds->items_lock);
	wq = fds->wq;
	mutex_unlock(&fds->lock);
	eventfd_ctx_put(ctx);
	/* no interrupt from it once we return (shutdowns take fds->lock) */
	if (wq)
		flush_workqueue(wq);
	return 0;
}

int xkvm_irqfd_ioctl(struct xkvm *vm, const struct kvm_irqfd *args)
{
	if (args->flags & ~(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE))
		return -EINVAL;
	if (args->flags & KVM_IRQFD_FLAG_DEASSIGN)
		return irqfd_deassign(vm, args);
	return irqfd_assign(vm, args);
}

void xkvm_irqfds_init(struct xkvm *vm)
{
	mutex_init(&vm->irqfds.lock);
	spin_lock_init(&vm->irqfds.items_lock);
	INIT_LIST_HEAD(&vm->irqfds.items);
	INIT_LIST_HEAD(&vm->irqfds.resamplers);
}

/*
 * Nobody else reaches the VM, but eventfds may still be signalled or
 * closed.  Shutdowns queued by an EPOLLHUP were queued under items_lock,
 * so before this flush; an inject queued during it is flushed by its
 * irqfd's shutdown.  So the workqueue is idle when it is destroyed.
 */
void xkvm_irqfds_release(struct xkvm *vm)
{
	struct xkvm_irqfds *fds = &vm->irqfds;
	struct xkvm_irqfd *irqfd, *tmp;

	spin_lock_irq(&fds->items_lock);
	list_for_each_entry_safe(irqfd, tmp, &fds->items, link)
		irqfd_deactivate(irqfd);
	spin_unlock_irq(&fds->items_lock);
	if (!fds->wq)
		return;
	flush_workqueue(fds->wq);
	destroy_workqueue(fds->wq);
	fds->wq = NULL;
	WARN_ON_ONCE(!list_empty(&fds->resamplers));
}
