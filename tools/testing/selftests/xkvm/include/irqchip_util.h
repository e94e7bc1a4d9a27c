/* SPDX-License-Identifier: GPL-2.0 */
/*
 * irqchip_util.h - the selftests' interrupt-controller helpers.
 *
 * Owns, for the guest side: the architectural constants of the xAPIC, the
 * x2APIC MSR range and the IOAPIC (register offsets, LVT/ICR and
 * redirection-entry bits), 32-bit MMIO access, xAPIC and IOAPIC register
 * access through their MMIO pages (the test maps APIC_GVA and IOAPIC_GPA
 * 1:1), and the interrupt log (lib/irqchip_util.c: one copy per binary)
 * that records the vector of every interrupt taken by irq_record() and
 * lets interrupts in through bounded "sti; nop; nop; cli" windows.
 *
 * For the host side: KVM_SET_GSI_ROUTING tables (lib/irqchip_util.c),
 * KVM's default ISA table and its QEMU/Firecracker variants, plus extra
 * IRQCHIP and MSI entries.
 *
 * Guest helpers touch only the interrupt controllers: no libc, no TLS.
 */
#ifndef SELFTEST_XKVM_IRQCHIP_UTIL_H
#define SELFTEST_XKVM_IRQCHIP_UTIL_H

#include <stdint.h>
#include <linux/kvm.h>

#include "x86_util.h"

#ifndef BIT
#define BIT(n)			(1U << (n))
#endif

/* ---- xAPIC (Intel SDM vol. 3A, table 11-1) ---- */

#define APIC_GVA		APIC_DEFAULT_PHYS_BASE
#define APIC_ID			0x20
#define APIC_LVR		0x30
#define APIC_TASKPRI		0x80
#define APIC_ARBPRI		0x90
#define APIC_PROCPRI		0xa0
#define APIC_EOI		0xb0
#define APIC_LDR		0xd0
#define APIC_DFR		0xe0
#define APIC_SPIV		0xf0
#define APIC_ISR		0x100
#define APIC_TMR		0x180
#define APIC_IRR		0x200
#define APIC_ESR		0x280
#define APIC_ICR		0x300
#define APIC_ICR2		0x310
#define APIC_LVTT		0x320
#define APIC_LVTTHMR		0x330
#define APIC_LVTPC		0x340
#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_LVTERR		0x370
#define APIC_TMICT		0x380
#define APIC_TMCCT		0x390
#define APIC_TDCR		0x3e0
#define APIC_SELF_IPI		0x3f0

#define X2APIC_MSR(reg)		(0x800 + ((reg) >> 4))

#define APIC_SPIV_ENABLE	(1u << 8)
#define APIC_SPURIOUS_VEC	0xff
#define APIC_DEST_LOGICAL	(1u << 11)
#define APIC_INT_ASSERT		(1u << 14)
#define APIC_INT_LEVELTRIG	(1u << 15)
#define APIC_LVT_MASKED		(1u << 16)
#define APIC_LVT_PERIODIC	(1u << 17)
#define APIC_LVT_TSCDEADLINE	(2u << 17)
#define APIC_DEST_SELF		(1u << 18)
#define APIC_DEST_ALLBUT	(3u << 18)
#define APIC_DM_NMI		0x400
#define APIC_DM_INIT		0x500
#define APIC_DM_STARTUP		0x600
#define APIC_DM_EXTINT		0x700
#define APIC_DM_MASK		0x700
#define APIC_TDCR_DIV1		0xb
#define APIC_TDCR_DIV16		0x3
#define APIC_TDCR_DIV128	0xa

/* ---- IOAPIC (82093AA datasheet) ---- */

#define IOAPIC_GPA		0xfec00000ULL
#define IOAPIC_REGSEL		0x00
#define IOAPIC_WINDOW		0x10
#define IOAPIC_REG_ID		0x00
#define IOAPIC_REG_VERSION	0x01
#define IOAPIC_REG_ARB		0x02
#define IOAPIC_REDTBL_LO(pin)	(0x10 + 2 * (pin))
#define IOAPIC_REDTBL_HI(pin)	(0x11 + 2 * (pin))
#define RTE_DEST_LOGICAL	(1U << 11)
#define RTE_DELIVS		(1U << 12)
#define RTE_POLARITY_LOW	(1U << 13)
#define RTE_REMOTE_IRR		(1U << 14)
#define RTE_LEVEL		(1U << 15)
#define RTE_MASKED		(1U << 16)

/* ---- guest side: register access ---- */

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void mmio_write32(uint64_t addr, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)addr = val;
}

static inline uint32_t xapic_read(uint32_t reg)
{
	return mmio_read32(APIC_GVA + reg);
}

static inline void xapic_write(uint32_t reg, uint32_t val)
{
	mmio_write32(APIC_GVA + reg, val);
}

static inline uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_GPA + IOAPIC_REGSEL, reg);
	return mmio_read32(IOAPIC_GPA + IOAPIC_WINDOW);
}

static inline void ioapic_write(uint32_t reg, uint32_t val)
{
	mmio_write32(IOAPIC_GPA + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_GPA + IOAPIC_WINDOW, val);
}

/*
 * Redirection entry of @pin to APIC ID @dest: the destination first, then
 * the low half (which may unmask), as Linux does.
 */
static inline void ioapic_set_rte(int pin, uint32_t lo, uint8_t dest)
{
	ioapic_write(IOAPIC_REDTBL_HI(pin), (uint32_t)dest << 24);
	ioapic_write(IOAPIC_REDTBL_LO(pin), lo);
}

/* ---- guest side: the interrupt log (lib/irqchip_util.c) ---- */

#define IRQ_LOG_SIZE		64
#define WINDOW_SPINS		2000

extern volatile uint64_t irq_count;	/* interrupts taken so far */
extern volatile uint8_t irq_log[IRQ_LOG_SIZE];
/* interrupts taken with IF clear and set aside (see irq_record) */
extern volatile uint64_t irq_repeats;
extern bool irq_skip_repeats;

/* Exception handler: logs regs->vector and counts it. */
void irq_record(struct ex_regs *regs);
/* The vector of the n-th interrupt taken (0-based, last IRQ_LOG_SIZE). */
uint8_t irq_nth(uint64_t n);
/*
 * Let interrupts in (IF=1) until @want were taken or WINDOW_SPINS short
 * windows passed; returns the count.  An interrupt that the host raised
 * before this KVM_RUN is injected in the first window.
 */
uint64_t irq_window(uint64_t want);

/* ---- host side: GSI routing tables ---- */

/* Variants of the ISA part (GSIs 0-23) of a table, for irq_routing_isa(). */
#define IRQ_ROUTING_NO_PIC	BIT(0)	/* IOAPIC routes only */
#define IRQ_ROUTING_GSI0_PIN2	BIT(1)	/* GSI 0 to IOAPIC pin 2, GSI 2 not */
#define IRQ_ROUTING_NO_CASCADE	BIT(2)	/* GSI 2 not to the PIC either */
/* QEMU's table (and Firecracker's without the cascade's PIC route). */
#define IRQ_ROUTING_QEMU	(IRQ_ROUTING_GSI0_PIN2 | IRQ_ROUTING_NO_CASCADE)

/* Empty table with room for @nr entries; free() it. */
struct kvm_irq_routing *irq_routing_alloc(unsigned int nr);
void irq_routing_add_irqchip(struct kvm_irq_routing *r, uint32_t gsi,
			     uint32_t chip, uint32_t pin);
void irq_routing_add_msi(struct kvm_irq_routing *r, uint32_t gsi,
			 uint32_t addr_lo, uint32_t data);
/* Appends GSIs 0-23: 0-15 to the PICs too, shaped by IRQ_ROUTING_* @flags. */
void irq_routing_add_isa(struct kvm_irq_routing *r, unsigned int flags);
/* A new table holding irq_routing_add_isa(@flags), room for @extra more. */
struct kvm_irq_routing *irq_routing_isa(unsigned int flags,
					unsigned int extra);
/* KVM's table after KVM_CREATE_IRQCHIP, room for @extra more entries. */
static inline struct kvm_irq_routing *irq_routing_default(unsigned int extra)
{
	return irq_routing_isa(0, extra);
}
/* KVM_SET_GSI_ROUTING: 0 or -1 with errno; the asserting one. */
int __irq_routing_set(struct kvm_vm *vm, struct kvm_irq_routing *r);
void irq_routing_set(struct kvm_vm *vm, struct kvm_irq_routing *r);

/*
 * A long-mode VM with the in-kernel irqchip and vCPU 0 (created after it,
 * so that it has an in-kernel LAPIC) running @guest, the LAPIC and IOAPIC
 * pages mapped 1:1 (MMIO of the in-kernel devices: no memory slot there)
 * and @handler installed for vectors 0x20-0xff.
 */
struct kvm_vm *vm_irqchip_vcpu(struct kvm_vcpu **vcpu, void *guest,
			       guest_exception_handler_t handler);

#endif /* SELFTEST_XKVM_IRQCHIP_UTIL_H */
