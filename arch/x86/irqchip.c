// SPDX-License-Identifier: GPL-2.0
/*
 * irqchip.c - the in-kernel interrupt controllers as the VM and its vCPUs
 * see them: KVM_CREATE_IRQCHIP and split mode, KVM_IRQ_LINE[_STATUS],
 * KVM_GET/SET_IRQCHIP, the PIT's ioctls, what a GSI route does, and the
 * dispatch of guest port I/O and MMIO to the device models
 * (arch/x86/dev/), plus the vCPU ioctls of the LAPIC (KVM_GET/SET_LAPIC,
 * KVM_SET_VAPIC_ADDR, KVM_TPR_ACCESS_REPORTING).
 *
 * Locks: xkvm.lock for creating the controllers (before any vCPU, so a
 * vCPU never sees a half-made irqchip) and the PIT; the device models
 * lock themselves.  irqchip_mode is stored last with release and read
 * with acquire, so a reader that sees a mode sees the devices.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <xkvm_x86.h>
#include "dev/irqchip.h"
#include "dev/lapic.h"

#define XKVM_MAX_RESERVED_IOAPIC_PINS	48	/* KVM's split-mode bound */
#define XKVM_PIC_SLAVE_FIRST		8

static u8 xkvm_irqchip_mode(struct xkvm *vm)
{
	return smp_load_acquire(&vm->arch.irqchip_mode);
}

bool xkvm_x86_irqchip_in_kernel(struct xkvm *vm)
{
	return xkvm_irqchip_mode(vm) != XKVM_IRQCHIP_NONE;
}

/* ---- routes ---- */

int xkvm_arch_irq_route_check(struct xkvm *vm,
			      const struct kvm_irq_routing_entry *e)
{
	switch (e->type) {
	case KVM_IRQ_ROUTING_IRQCHIP:
		if (xkvm_irqchip_mode(vm) == XKVM_IRQCHIP_SPLIT)
			return -EINVAL;
		switch (e->u.irqchip.irqchip) {
		case KVM_IRQCHIP_PIC_MASTER:
		case KVM_IRQCHIP_PIC_SLAVE:
			return e->u.irqchip.pin < 8 ? 0 : -EINVAL;
		case KVM_IRQCHIP_IOAPIC:
			return e->u.irqchip.pin < XKVM_NR_IOAPIC_PINS ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	case KVM_IRQ_ROUTING_MSI:
		/* with 32-bit IDs, address_hi bits 7:0 must be clear */
		if (READ_ONCE(vm->arch.x2apic_format) && (e->u.msi.address_hi & 0xff))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

int xkvm_arch_irq_route_set(struct xkvm *vm,
			    const struct kvm_irq_routing_entry *e, int source,
			    int level)
{
	u32 pin = e->u.irqchip.pin;

	if (e->type == KVM_IRQ_ROUTING_MSI) {
		if (!level)
			return -1;
		return xkvm_lapic_deliver_msi(vm, e->u.msi.address_lo,
					      e->u.msi.address_hi, e->u.msi.data);
	}
	switch (e->u.irqchip.irqchip) {
	case KVM_IRQCHIP_PIC_SLAVE:
		pin += XKVM_PIC_SLAVE_FIRST;
		fallthrough;
	case KVM_IRQCHIP_PIC_MASTER:
		return vm->arch.pic ?
		       xkvm_pic_set_irq(vm->arch.pic, pin, source, level) : -1;
	default:
		return vm->arch.ioapic ?
		       xkvm_ioapic_set_irq(vm->arch.ioapic, pin, source, level) : -1;
	}
}

int xkvm_irqchip_set_irq(struct xkvm *vm, int source, u32 gsi, int level)
{
	return xkvm_irq_set(vm, source, gsi, level);
}

/* KVM's default table: GSI 0-15 to the PIC and IOAPIC pin, 16-23 IOAPIC. */
static int xkvm_irqchip_default_routes(struct xkvm *vm)
{
	struct kvm_irq_routing_entry *e, *p;
	u32 gsi;
	int r;

	e = kcalloc(XKVM_NR_IOAPIC_PINS + XKVM_NR_PIC_PINS, sizeof(*e),
		    GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	p = e;
	for (gsi = 0; gsi < XKVM_NR_IOAPIC_PINS; gsi++) {
		p->gsi = gsi;
		p->type = KVM_IRQ_ROUTING_IRQCHIP;
		p->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		p->u.irqchip.pin = gsi;
		p++;
		if (gsi >= XKVM_NR_PIC_PINS)
			continue;
		p->gsi = gsi;
		p->type = KVM_IRQ_ROUTING_IRQCHIP;
		p->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
						 KVM_IRQCHIP_PIC_SLAVE;
		p->u.irqchip.pin = gsi % 8;
		p++;
	}
	r = xkvm_irq_routing_set(vm, e, p - e);
	kfree(e);
	return r;
}

/* ---- creation ---- */

static long xkvm_irqchip_create(struct xkvm *vm)
{
	long r;

	mutex_lock(&vm->lock);
	r = -EEXIST;
	if (vm->arch.irqchip_mode != XKVM_IRQCHIP_NONE)
		goto out;
	r = -EINVAL;
	if (vm->created_vcpus)
		goto out;
	r = -ENOMEM;
	vm->arch.pic = xkvm_pic_create(vm);
	vm->arch.ioapic = xkvm_ioapic_create(vm);
	if (!vm->arch.pic || !vm->arch.ioapic)
		goto free;
	/* the routes need the mode: set it, still before any vCPU exists */
	smp_store_release(&vm->arch.irqchip_mode, XKVM_IRQCHIP_KERNEL);
	r = xkvm_irqchip_default_routes(vm);
	if (!r)
		goto out;
	smp_store_release(&vm->arch.irqchip_mode, XKVM_IRQCHIP_NONE);
free:
	xkvm_ioapic_destroy(vm->arch.ioapic);
	xkvm_pic_destroy(vm->arch.pic);
	vm->arch.ioapic = NULL;
	vm->arch.pic = NULL;
out:
	mutex_unlock(&vm->lock);
	return r;
}

/* KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): only the LAPICs in the kernel. */
static long xkvm_irqchip_enable_split(struct xkvm *vm, u64 reserved_pins)
{
	long r = -EINVAL;

	if (reserved_pins > XKVM_MAX_RESERVED_IOAPIC_PINS)
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->arch.irqchip_mode != XKVM_IRQCHIP_NONE) {
		r = -EEXIST;
		goto out;
	}
	if (vm->created_vcpus)
		goto out;
	vm->arch.nr_reserved_ioapic_pins = reserved_pins;
	smp_store_release(&vm->arch.irqchip_mode, XKVM_IRQCHIP_SPLIT);
	r = 0;
out:
	mutex_unlock(&vm->lock);
	return r;
}

/* KVM_CREATE_PIT2, and the old KVM_CREATE_PIT (@argp NULL: dummy speaker). */
static long xkvm_pit_create_ioctl(struct xkvm *vm, struct kvm_pit_config __user *argp)
{
	struct kvm_pit_config cfg = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct xkvm_pit *pit;
	long r = 0;

	if (argp && copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	mutex_lock(&vm->lock);
	if (vm->arch.pit)
		r = -EEXIST;
	else if (xkvm_irqchip_mode(vm) != XKVM_IRQCHIP_KERNEL)
		r = -ENOENT;
	if (r)
		goto out;
	pit = xkvm_pit_create(vm, cfg.flags);
	if (!pit)
		r = -ENOMEM;
	else
		smp_store_release(&vm->arch.pit, pit);
out:
	mutex_unlock(&vm->lock);
	return r;
}

/* Stop what could still raise interrupts before the vCPUs go away. */
void xkvm_arch_vm_release(struct xkvm *vm)
{
	xkvm_pit_destroy(vm->arch.pit);
	vm->arch.pit = NULL;
}

void xkvm_x86_irqchip_destroy(struct xkvm *vm)
{
	xkvm_ioapic_destroy(vm->arch.ioapic);
	xkvm_pic_destroy(vm->arch.pic);
	vm->arch.ioapic = NULL;
	vm->arch.pic = NULL;
}

/* ---- state ioctls ---- */

static long xkvm_irq_line(struct xkvm *vm, unsigned int ioctl,
			  struct kvm_irq_level __user *argp)
{
	struct kvm_irq_level irq;

	if (copy_from_user(&irq, argp, sizeof(irq)))
		return -EFAULT;
	if (!xkvm_x86_irqchip_in_kernel(vm))
		return -ENXIO;
	irq.status = xkvm_irq_set(vm, XKVM_IRQ_SOURCE_USER, irq.irq,
				  !!irq.level);
	if (ioctl == KVM_IRQ_LINE_STATUS &&
	    copy_to_user(argp, &irq, sizeof(irq)))
		return -EFAULT;
	return 0;
}

static long xkvm_irqchip_state(struct xkvm *vm, unsigned int ioctl,
			       struct kvm_irqchip __user *argp)
{
	struct kvm_irqchip *chip;
	long r = 0;

	chip = memdup_user(argp, sizeof(*chip));
	if (IS_ERR(chip))
		return PTR_ERR(chip);
	if (xkvm_irqchip_mode(vm) != XKVM_IRQCHIP_KERNEL) {
		r = -ENXIO;
		goto out;
	}
	switch (chip->chip_id) {
	case KVM_IRQCHIP_PIC_MASTER:
	case KVM_IRQCHIP_PIC_SLAVE:
		if (ioctl == KVM_GET_IRQCHIP)
			xkvm_pic_get_state(vm->arch.pic, chip->chip_id, &chip->chip.pic);
		else
			xkvm_pic_set_state(vm->arch.pic, chip->chip_id, &chip->chip.pic);
		break;
	case KVM_IRQCHIP_IOAPIC:
		if (ioctl == KVM_GET_IRQCHIP)
			xkvm_ioapic_get_state(vm->arch.ioapic, &chip->chip.ioapic);
		else
			xkvm_ioapic_set_state(vm->arch.ioapic, &chip->chip.ioapic);
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	if (ioctl == KVM_GET_IRQCHIP && copy_to_user(argp, chip, sizeof(*chip)))
		r = -EFAULT;
out:
	kfree(chip);
	return r;
}

/* KVM_GET/SET_PIT (the old layout: the channels only) and ..._PIT2. */
static long xkvm_pit_state(struct xkvm *vm, unsigned int ioctl, void __user *argp)
{
	struct xkvm_pit *pit = smp_load_acquire(&vm->arch.pit);
	bool old = ioctl == KVM_GET_PIT || ioctl == KVM_SET_PIT;
	size_t size = old ? sizeof(struct kvm_pit_state) :
			    sizeof(struct kvm_pit_state2);
	struct kvm_pit_state2 s;

	if (!pit)
		return -ENXIO;
	if (ioctl == KVM_GET_PIT || ioctl == KVM_GET_PIT2) {
		xkvm_pit_get_state2(pit, &s);
		return copy_to_user(argp, &s, size) ? -EFAULT : 0;
	}
	if (old)
		xkvm_pit_get_state2(pit, &s);	/* keeps the flags */
	if (copy_from_user(&s, argp, size))
		return -EFAULT;
	xkvm_pit_set_state2(pit, &s);
	return 0;
}

static long xkvm_pit_reinject_ioctl(struct xkvm *vm,
				    struct kvm_reinject_control __user *argp)
{
	struct xkvm_pit *pit = smp_load_acquire(&vm->arch.pit);
	struct kvm_reinject_control c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (!pit)
		return -ENXIO;
	xkvm_pit_set_reinject(pit, c.pit_reinject);
	return 0;
}

/*
 * KVM_SIGNAL_MSI: deliver one MSI now.  Returns what the delivery did, as
 * KVM: the number of LAPICs that took it, or -1 (seen as EPERM) if none.
 */
static long xkvm_signal_msi(struct xkvm *vm, struct kvm_msi __user *argp)
{
	struct kvm_msi msi;

	if (copy_from_user(&msi, argp, sizeof(msi)))
		return -EFAULT;
	if (!xkvm_x86_irqchip_in_kernel(vm) || (msi.flags & ~KVM_MSI_VALID_DEVID))
		return -EINVAL;
	if (READ_ONCE(vm->arch.x2apic_format) && (msi.address_hi & 0xff))
		return -EINVAL;
	return xkvm_lapic_deliver_msi(vm, msi.address_lo, msi.address_hi,
				      msi.data);
}

long xkvm_x86_irqchip_vm_ioctl(struct xkvm *vm, unsigned int ioctl,
			       void __user *argp)
{
	switch (ioctl) {
	case KVM_CREATE_IRQCHIP:
		return xkvm_irqchip_create(vm);
	case KVM_IRQ_LINE:
	case KVM_IRQ_LINE_STATUS:
		return xkvm_irq_line(vm, ioctl, argp);
	case KVM_SIGNAL_MSI:
		return xkvm_signal_msi(vm, argp);
	case KVM_GET_IRQCHIP:
	case KVM_SET_IRQCHIP:
		return xkvm_irqchip_state(vm, ioctl, argp);
	case KVM_SET_GSI_ROUTING:
		/* KVM refuses routing without an in-kernel irqchip */
		if (!xkvm_x86_irqchip_in_kernel(vm))
			return -EINVAL;
		return xkvm_irq_routing_ioctl(vm, argp);
	case KVM_CREATE_PIT2:
		return xkvm_pit_create_ioctl(vm, argp);
	case KVM_CREATE_PIT:
		return xkvm_pit_create_ioctl(vm, NULL);
	case KVM_GET_PIT:
	case KVM_SET_PIT:
	case KVM_GET_PIT2:
	case KVM_SET_PIT2:
		return xkvm_pit_state(vm, ioctl, argp);
	case KVM_REINJECT_CONTROL:
		return xkvm_pit_reinject_ioctl(vm, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

long xkvm_x86_irqchip_enable_cap(struct xkvm *vm, const struct kvm_enable_cap *cap)
{
	switch (cap->cap) {
	case KVM_CAP_SPLIT_IRQCHIP:
		return xkvm_irqchip_enable_split(vm, cap->args[0]);
	default:
		return -ENOIOCTLCMD;
	}
}

/* ---- vCPU side ---- */

int xkvm_x86_irqchip_vcpu_create(struct xkvm_vcpu *vcpu)
{
	int r;

	if (!xkvm_x86_irqchip_in_kernel(vcpu->vm))
		return 0;
	r = xkvm_lapic_create(vcpu);
	if (r)
		return r;
	if (vcpu->vcpu_id != vcpu->vm->arch.bsp_vcpu_id)
		vcpu->arch.mp_state = KVM_MP_STATE_UNINITIALIZED;
	return 0;
}

static long xkvm_lapic_state_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
				   struct kvm_lapic_state __user *argp)
{
	struct kvm_lapic_state *s;
	long r = 0;

	if (!vcpu->arch.apic)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	if (ioctl == KVM_GET_LAPIC) {
		xkvm_lapic_get_state(vcpu, s);
		if (copy_to_user(argp, s, sizeof(*s)))
			r = -EFAULT;
	} else if (copy_from_user(s, argp, sizeof(*s))) {
		r = -EFAULT;
	} else {
		r = xkvm_lapic_set_state(vcpu, s);
	}
	kfree(s);
	return r;
}

long xkvm_x86_irqchip_vcpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
				 void __user *argp)
{
	struct kvm_tpr_access_ctl tac;
	struct kvm_vapic_addr va;

	switch (ioctl) {
	case KVM_GET_LAPIC:
	case KVM_SET_LAPIC:
		return xkvm_lapic_state_ioctl(vcpu, ioctl, argp);
	case KVM_SET_VAPIC_ADDR:
		/* accepted; xkvm keeps no virtual-APIC page for the guest */
		if (copy_from_user(&va, argp, sizeof(va)))
			return -EFAULT;
		return vcpu->arch.apic ? 0 : -EINVAL;
	case KVM_TPR_ACCESS_REPORTING:
		/* accepted; TPR accesses are never reported to userspace */
		if (copy_from_user(&tac, argp, sizeof(tac)))
			return -EFAULT;
		return vcpu->arch.apic ? 0 : -EINVAL;
	default:
		return -ENOIOCTLCMD;
	}
}

/* ---- guest accesses to the in-kernel devices ---- */

/* Port I/O: true if an in-kernel device took it (*val: IN data). */
bool xkvm_x86_irqchip_pio(struct xkvm_vcpu *vcpu, u16 port, bool in,
			  int size, u32 *val)
{
	struct xkvm *vm = vcpu->vm;
	struct xkvm_pit *pit;

	if (xkvm_irqchip_mode(vm) != XKVM_IRQCHIP_KERNEL)
		return false;
	if (!xkvm_pic_pio(vm->arch.pic, port, in, size, val))
		return true;
	pit = smp_load_acquire(&vm->arch.pit);
	return pit && !xkvm_pit_pio(pit, port, in, size, val);
}

/* MMIO within one page: true if the LAPIC or the IOAPIC took it. */
bool xkvm_x86_irqchip_mmio(struct xkvm_vcpu *vcpu, u64 gpa, bool write,
			   int len, void *data)
{
	if (!vcpu->arch.apic)
		return false;
	if (xkvm_lapic_mmio(vcpu, gpa, write, len, data))
		return true;
	return vcpu->vm->arch.ioapic &&
	       !xkvm_ioapic_mmio(vcpu->vm->arch.ioapic, gpa, write, len, data);
}

/* The PIC raised its output: the vCPUs that take ExtINT must look. */
void xkvm_irqchip_pic_kick(struct xkvm *vm)
{
	struct xkvm_vcpu *vcpu;
	unsigned long i;

	xkvm_for_each_vcpu(i, vcpu, vm) {
		if (xkvm_lapic_accepts_extint(vcpu)) {
			xkvm_make_request(XKVM_REQ_EVENT, vcpu);
			xkvm_vcpu_kick(vcpu);
		}
	}
}

/*
 * The PIC's request for a vCPU that takes ExtINT (the in-kernel PIC's, or
 * with a split irqchip the vector KVM_INTERRUPT left), -1 if none.
 * @ack: the INTA cycle; returns the vector.
 */
int xkvm_x86_irqchip_extint(struct xkvm_vcpu *vcpu, bool ack)
{
	struct xkvm_pic *pic = vcpu->vm->arch.pic;
	int vec = vcpu->arch.user_extint;

	if (!xkvm_lapic_accepts_extint(vcpu))
		return -1;
	if (vec >= 0) {
		if (ack)
			vcpu->arch.user_extint = -1;
		return vec;
	}
	if (!pic || !xkvm_pic_output(pic))
		return -1;
	return ack ? xkvm_pic_ack(pic) : 0;
}
