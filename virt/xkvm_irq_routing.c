// SPDX-License-Identifier: GPL-2.0
/*
 * xkvm_irq_routing.c - the GSI routing table (KVM_SET_GSI_ROUTING) and
 * raising a GSI through it: each GSI has its routes (several irqchip pins,
 * or one MSI ...); the architecture says which routes are valid and what
 * raising one does.
 *
 * Must not: know what an irqchip or an MSI is (arch hooks do).
 * Locks: updates serialise on xkvm.irq_lock and replace the table as
 * a whole (RCU); a GSI is raised with the routes copied out under
 * rcu_read_lock, so the arch hook runs outside it.
 */
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include <xkvm/xkvm_host.h>

struct xkvm_irq_routing_table {
	struct rcu_head rcu;
	u32 nr;
	struct kvm_irq_routing_entry e[];	/* sorted by gsi */
};

static int xkvm_route_cmp(const void *a, const void *b)
{
	const struct kvm_irq_routing_entry *x = a, *y = b;

	return x->gsi < y->gsi ? -1 : x->gsi > y->gsi;
}

/*
 * KVM's rules across entries: a GSI may have several routes only if all
 * are irqchip routes, to different irqchips.
 */
static int xkvm_routes_check_gsi(const struct kvm_irq_routing_entry *e,
				 u32 n)
{
	u32 i, j;

	if (n > XKVM_MAX_ROUTES_PER_GSI)
		return -EINVAL;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (e[i].type != KVM_IRQ_ROUTING_IRQCHIP ||
			    e[j].type != KVM_IRQ_ROUTING_IRQCHIP ||
			    e[i].u.irqchip.irqchip == e[j].u.irqchip.irqchip)
				return -EINVAL;
	return 0;
}

static int xkvm_routes_check(struct xkvm *vm,
			     const struct xkvm_irq_routing_table *t)
{
	u32 i, first = 0;
	int r;

	for (i = 0; i < t->nr; i++) {
		const struct kvm_irq_routing_entry *e = &t->e[i];

		if (e->gsi >= XKVM_MAX_IRQ_ROUTES)
			return -EINVAL;
		if (e->flags & ~(e->type == KVM_IRQ_ROUTING_MSI ?
				 KVM_MSI_VALID_DEVID : 0))
			return -EINVAL;
		r = xkvm_arch_irq_route_check(vm, e);
		if (r)
			return r;
		if (i + 1 == t->nr || t->e[i + 1].gsi != e->gsi) {
			r = xkvm_routes_check_gsi(&t->e[first], i + 1 - first);
			if (r)
				return r;
			first = i + 1;
		}
	}
	return 0;
}

/* Install @nr routes (kernel copies); the old table is freed after RCU. */
int xkvm_irq_routing_set(struct xkvm *vm,
			 const struct kvm_irq_routing_entry *e, u32 nr)
{
	struct xkvm_irq_routing_table *t, *old;
	int r;

	t = kvzalloc(struct_size(t, e, nr), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->nr = nr;
	memcpy(t->e, e, array_size(nr, sizeof(*e)));
	sort(t->e, nr, sizeof(*e), xkvm_route_cmp, NULL);
	r = xkvm_routes_check(vm, t);
	if (r) {
		kvfree(t);
		return r;
	}
	mutex_lock(&vm->irq_lock);
	old = rcu_dereference_protected(vm->irq_routing,
					lockdep_is_held(&vm->irq_lock));
	rcu_assign_pointer(vm->irq_routing, t);
	mutex_unlock(&vm->irq_lock);
	if (old) {
		synchronize_rcu();
		kvfree(old);
	}
	return 0;
}

long xkvm_irq_routing_ioctl(struct xkvm *vm, struct kvm_irq_routing __user *argp)
{
	struct kvm_irq_routing_entry *e = NULL;
	struct kvm_irq_routing hdr;
	long r;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nr > XKVM_MAX_IRQ_ROUTES || hdr.flags)
		return -EINVAL;
	if (hdr.nr) {
		e = vmemdup_user(argp->entries, array_size(hdr.nr, sizeof(*e)));
		if (IS_ERR(e))
			return PTR_ERR(e);
	}
	r = xkvm_irq_routing_set(vm, e, hdr.nr);
	kvfree(e);
	return r;
}

/*
 * The routes of @gsi, copied into @out (XKVM_MAX_ROUTES_PER_GSI of them);
 * their number.  Any context: the table is read under rcu_read_lock.
 */
int xkvm_irq_routes_of(struct xkvm *vm, u32 gsi,
		       struct kvm_irq_routing_entry *out)
{
	struct xkvm_irq_routing_table *t;
	u32 lo = 0, hi;
	int n = 0;

	rcu_read_lock();
	t = rcu_dereference(vm->irq_routing);
	if (!t)
		goto out;
	hi = t->nr;
	while (lo < hi) {		/* the first entry with e.gsi >= gsi */
		u32 mid = lo + (hi - lo) / 2;

		if (t->e[mid].gsi < gsi)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < t->nr && t->e[lo].gsi == gsi &&
	       n < XKVM_MAX_ROUTES_PER_GSI)
		out[n++] = t->e[lo++];
out:
	rcu_read_unlock();
	return n;
}

/*
 * Raise (@level 1) or lower GSI @gsi for @source.  As KVM_IRQ_LINE_STATUS
 * reports it: the sum of what the routes that took it returned, or -1 if
 * none did (no route, masked).
 */
int xkvm_irq_set(struct xkvm *vm, int source, u32 gsi, int level)
{
	struct kvm_irq_routing_entry routes[XKVM_MAX_ROUTES_PER_GSI];
	int n, i, r, ret = -1;

	n = xkvm_irq_routes_of(vm, gsi, routes);
	for (i = 0; i < n; i++) {
		r = xkvm_arch_irq_route_set(vm, &routes[i], source, level);
		if (r >= 0)
			ret = max(ret, 0) + r;
	}
	return ret;
}

void xkvm_irq_routing_free(struct xkvm *vm)
{
	kvfree(rcu_dereference_protected(vm->irq_routing, 1));
	RCU_INIT_POINTER(vm->irq_routing, NULL);
}
