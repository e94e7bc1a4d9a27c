// SPDX-License-Identifier: GPL-2.0
/*
 * irqchip_util.c - the interrupt log and the GSI routing tables declared
 * in include/irqchip_util.h.
 *
 * The interrupt log is guest code and guest state: one copy per test
 * binary, loaded into each VM with the binary's image, written only by
 * irq_record() inside the guest (single vCPU).  The routing helpers are
 * host code: they build KVM_SET_GSI_ROUTING tables and assert on
 * allocation failures; vm_irqchip_vcpu() sets up the VM they run in.
 */
#include <stdlib.h>
#include <sys/ioctl.h>

#include "irqchip_util.h"

/* ---- guest side ---- */

volatile uint64_t irq_count;
volatile uint8_t irq_log[IRQ_LOG_SIZE];
volatile uint64_t irq_repeats;
bool irq_skip_repeats;

void irq_record(struct ex_regs *regs)
{
	/*
	 * An interrupt taken with IF clear: QEMU 7.2's TCG (the AMD test
	 * machine) now and then delivers an EVENTINJ interrupt a second time,
	 * nested in its own handler, and stock kvm_amd injects through
	 * EVENTINJ.  Set aside there (irq_skip_repeats: reference mode on
	 * AMD); counted, and so caught by the tests, everywhere else.
	 */
	if (irq_skip_repeats && !(regs->rflags & X86_EFLAGS_IF)) {
		irq_repeats++;
		return;
	}
	irq_log[irq_count % IRQ_LOG_SIZE] = regs->vector;
	irq_count++;
}

uint8_t irq_nth(uint64_t n)
{
	return irq_log[n % IRQ_LOG_SIZE];
}

uint64_t irq_window(uint64_t want)
{
	int i;

	for (i = 0; i < WINDOW_SPINS && irq_count < want; i++)
		__asm__ __volatile__("sti; nop; nop; cli" : : : "memory");
	return irq_count;
}

/* ---- host side ---- */

/* GSIs 0-15 to the PICs and 0-23 to the IOAPIC: at most 40 entries. */
#define ISA_ROUTES		40

struct kvm_irq_routing *irq_routing_alloc(unsigned int nr)
{
	struct kvm_irq_routing *r;

	r = calloc(1, sizeof(*r) + nr * sizeof(r->entries[0]));
	TEST_ASSERT(r, "out of memory");
	return r;
}

/* Appends a zeroed entry for @gsi of @type. */
static struct kvm_irq_routing_entry *
irq_routing_add(struct kvm_irq_routing *r, uint32_t gsi, uint32_t type)
{
	struct kvm_irq_routing_entry *e = &r->entries[r->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = type;
	return e;
}

void irq_routing_add_irqchip(struct kvm_irq_routing *r, uint32_t gsi,
			     uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e;

	e = irq_routing_add(r, gsi, KVM_IRQ_ROUTING_IRQCHIP);
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

void irq_routing_add_msi(struct kvm_irq_routing *r, uint32_t gsi,
			 uint32_t addr_lo, uint32_t data)
{
	struct kvm_irq_routing_entry *e;

	e = irq_routing_add(r, gsi, KVM_IRQ_ROUTING_MSI);
	e->u.msi.address_lo = addr_lo;
	e->u.msi.data = data;
}

void irq_routing_add_isa(struct kvm_irq_routing *r, unsigned int flags)
{
	bool pin2 = flags & IRQ_ROUTING_GSI0_PIN2;
	uint32_t gsi;

	for (gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
		bool pic = gsi < 16 && !(flags & IRQ_ROUTING_NO_PIC) &&
			   !(gsi == 2 && (flags & IRQ_ROUTING_NO_CASCADE));

		if (pic)
			irq_routing_add_irqchip(r, gsi, gsi < 8 ?
						KVM_IRQCHIP_PIC_MASTER :
						KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
		if (pin2 && gsi == 2)
			continue;	/* the PIT's override took pin 2 */
		irq_routing_add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC,
					pin2 && gsi == 0 ? 2 : gsi);
	}
}

struct kvm_irq_routing *irq_routing_isa(unsigned int flags, unsigned int extra)
{
	struct kvm_irq_routing *r = irq_routing_alloc(ISA_ROUTES + extra);

	irq_routing_add_isa(r, flags);
	return r;
}

int __irq_routing_set(struct kvm_vm *vm, struct kvm_irq_routing *r)
{
	return ioctl(vm->fd, KVM_SET_GSI_ROUTING, r);
}

void irq_routing_set(struct kvm_vm *vm, struct kvm_irq_routing *r)
{
	TEST_ASSERT(!__irq_routing_set(vm, r), "KVM_SET_GSI_ROUTING: %s",
		    strerror(errno));
}

struct kvm_vm *vm_irqchip_vcpu(struct kvm_vcpu **vcpu, void *guest,
			       guest_exception_handler_t handler)
{
	struct kvm_vm *vm = vm_create_long_mode();
	int v;

	TEST_ASSERT(!ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL),
		    "KVM_CREATE_IRQCHIP failed");
	*vcpu = vm_vcpu_add(vm, 0, guest);
	virt_map(vm, APIC_GVA, APIC_GVA, PAGE_SIZE);
	virt_map(vm, IOAPIC_GPA, IOAPIC_GPA, PAGE_SIZE);
	for (v = 0x20; v < 256; v++)
		vm_install_exception_handler(vm, v, handler);
	irq_skip_repeats = xkvm_reference_mode() && xkvm_vendor_is_amd();
	sync_global_to_guest(vm, irq_skip_repeats);
	return vm;
}
