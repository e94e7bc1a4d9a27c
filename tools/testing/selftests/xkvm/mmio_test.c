// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_test.c - guest accesses to guest-physical addresses without a memory
 * slot exit as KVM_EXIT_MMIO: plain MOV loads and stores of 1, 2, 4 and 8
 * bytes, register and immediate sources, checking address, length, data
 * and direction, and that a load returns what the host put in mmio.data.
 * A guest page table that lies in MMIO space makes the access through it
 * fault with #PF, as KVM does: the fault the hardware reports is on the
 * page table, not on the data, and must not become an MMIO exit there.
 */
#include "kselftest_harness.h"
#include "xkvm_util.h"

#define MMIO_GPA	0xc0000000ULL

static void guest_mmio(void)
{
	uint8_t *p = (uint8_t *)MMIO_GPA;
	uint64_t q;
	uint32_t l;
	uint16_t w;
	uint8_t b;

	/* Loads: the host answers, the guest checks. */
	__asm__ __volatile__("movb (%1), %0" : "=q"(b) : "r"(p + 0x1) : "memory");
	GUEST_ASSERT_EQ(b, 0x11);
	__asm__ __volatile__("movw (%1), %0" : "=r"(w) : "r"(p + 0x2) : "memory");
	GUEST_ASSERT_EQ(w, 0x2233);
	__asm__ __volatile__("movl (%1), %0" : "=r"(l) : "r"(p + 0x4) : "memory");
	GUEST_ASSERT_EQ(l, 0x44556677);
	__asm__ __volatile__("movq (%1), %0" : "=r"(q) : "r"(p + 0x8) : "memory");
	GUEST_ASSERT_EQ(q, 0x8899aabbccddeeffULL);
	/* A load into a high register with a displacement. */
	__asm__ __volatile__("movq 0x18(%1), %%r9\n\tmovq %%r9, %0"
			     : "=r"(q) : "r"(p) : "r9", "memory");
	GUEST_ASSERT_EQ(q, 0x0102030405060708ULL);

	/* Stores from registers ... */
	__asm__ __volatile__("movb %0, (%1)" : : "q"((uint8_t)0xa1), "r"(p + 0x101) : "memory");
	__asm__ __volatile__("movw %0, (%1)" : : "r"((uint16_t)0xb2c3), "r"(p + 0x102) : "memory");
	__asm__ __volatile__("movl %0, (%1)" : : "r"(0xd4e5f607U), "r"(p + 0x104) : "memory");
	__asm__ __volatile__("movq %0, (%1)" : : "r"(0x1827364554637281ULL), "r"(p + 0x108) : "memory");
	/* ... and immediates. */
	__asm__ __volatile__("movl $0x13572468, (%0)" : : "r"(p + 0x110) : "memory");
	__asm__ __volatile__("movb $0x5e, (%0)" : : "r"(p + 0x118) : "memory");
	GUEST_DONE();
}

struct mmio_access {
	uint64_t gpa;
	uint32_t len;
	uint8_t is_write;
	uint64_t data;
};

static const struct mmio_access accesses[] = {
	{ MMIO_GPA + 0x001, 1, 0, 0x11 },
	{ MMIO_GPA + 0x002, 2, 0, 0x2233 },
	{ MMIO_GPA + 0x004, 4, 0, 0x44556677 },
	{ MMIO_GPA + 0x008, 8, 0, 0x8899aabbccddeeffULL },
	{ MMIO_GPA + 0x018, 8, 0, 0x0102030405060708ULL },
	{ MMIO_GPA + 0x101, 1, 1, 0xa1 },
	{ MMIO_GPA + 0x102, 2, 1, 0xb2c3 },
	{ MMIO_GPA + 0x104, 4, 1, 0xd4e5f607 },
	{ MMIO_GPA + 0x108, 8, 1, 0x1827364554637281ULL },
	{ MMIO_GPA + 0x110, 4, 1, 0x13572468 },
	{ MMIO_GPA + 0x118, 1, 1, 0x5e },
};

TEST(mov_loads_and_stores)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_mmio);
	struct kvm_run *run = vcpu->run;
	unsigned int i;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(accesses); i++) {
		const struct mmio_access *a = &accesses[i];
		uint64_t data = 0;

		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		EXPECT_EQ(a->gpa, run->mmio.phys_addr)
			TH_LOG("access %u", i);
		EXPECT_EQ(a->len, run->mmio.len) TH_LOG("access %u", i);
		EXPECT_EQ(a->is_write, run->mmio.is_write) TH_LOG("access %u", i);
		if (a->is_write) {
			memcpy(&data, run->mmio.data, a->len);
			EXPECT_EQ(a->data, data) TH_LOG("access %u", i);
		} else {
			/* Garbage beyond len must not reach the guest. */
			memset(run->mmio.data, 0xee, sizeof(run->mmio.data));
			memcpy(run->mmio.data, &a->data, a->len);
		}
	}
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static void guest_mmio_loop(void)
{
	volatile uint32_t *p = (volatile uint32_t *)(MMIO_GPA + 0x40);
	uint32_t i;

	for (i = 0; i < 100; i++)
		*p = *p + i;
	GUEST_DONE();
}

/* A device register read-modify-written many times in a row. */
TEST(mmio_counter_device)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_mmio_loop);
	struct kvm_run *run = vcpu->run;
	uint32_t reg = 1000, i, v;

	virt_map(vm, MMIO_GPA, MMIO_GPA, PAGE_SIZE);
	for (i = 0; i < 100; i++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		ASSERT_EQ(0, run->mmio.is_write);
		ASSERT_EQ(MMIO_GPA + 0x40, run->mmio.phys_addr);
		memcpy(run->mmio.data, &reg, 4);
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
		ASSERT_EQ(1, run->mmio.is_write);
		ASSERT_EQ(4, run->mmio.len);
		memcpy(&v, run->mmio.data, 4);
		ASSERT_EQ(reg + i, v);
		reg = v;
	}
	EXPECT_EQ(1000 + 99 * 100 / 2, reg);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* Page-table entries of @gva: the PDE that points to its page table. */
static uint64_t *pde_of(struct kvm_vm *vm, uint64_t gva)
{
	uint64_t *t = addr_gpa2hva(vm, vm->pml4_gpa);
	int level;

	for (level = 4; level > 2; level--)
		t = addr_gpa2hva(vm, t[(gva >> (12 + 9 * (level - 1))) & 511] &
				 PTE_ADDR_MASK);
	return &t[(gva >> 21) & 511];
}

#define PT_IN_MMIO_GPA	0xd0000000ULL
/* Its PTE is at offset 0x800 of the page table, as the data is in its page. */
#define PT_IN_MMIO_GVA	(0x40000000ULL + (0x100ULL << 12) + 0x800)

static volatile uint64_t pf_cr2, pf_vector;

static void guest_pf_handler(struct ex_regs *regs)
{
	uint64_t cr2;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	pf_cr2 = cr2;
	pf_vector = regs->vector;
	regs->rip += 3;			/* mov (%rax), %rbx */
}

static void guest_pt_in_mmio(void)
{
	uint64_t v = 0;

	__asm__ __volatile__(".byte 0x48, 0x8b, 0x18"	/* mov (%rax), %rbx */
			     : "=b"(v) : "a"(PT_IN_MMIO_GVA) : "memory");
	GUEST_ASSERT_EQ(pf_vector, PF_VECTOR);
	GUEST_ASSERT_EQ(pf_cr2, PT_IN_MMIO_GVA);
	GUEST_DONE();
}

TEST(page_table_in_mmio_faults)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_pt_in_mmio);
	struct ucall uc;
	uint64_t *pde;

	/* map it, then move its page table out of guest RAM */
	virt_map(vm, PT_IN_MMIO_GVA & ~0xfffULL, MMIO_GPA, PAGE_SIZE);
	pde = pde_of(vm, PT_IN_MMIO_GVA);
	*pde = PT_IN_MMIO_GPA | (*pde & ~PTE_ADDR_MASK);
	vm_install_exception_handler(vm, PF_VECTOR, guest_pf_handler);

	vcpu_run(vcpu);
	if (vcpu->run->exit_reason == KVM_EXIT_MMIO && xkvm_reference_mode() &&
	    vcpu->run->mmio.phys_addr == PT_IN_MMIO_GPA + 0x800) {
		/*
		 * Stock KVM, at least under QEMU's TCG, takes the address of
		 * the fault in the guest's walk for the data's and exits for
		 * it: the very defect xkvm must not have.
		 */
		TH_LOG("stock KVM made an MMIO exit at the page-table entry");
		kvm_vm_free(vm);
		return;
	}
	if (vcpu->run->exit_reason == KVM_EXIT_MMIO)
		TH_LOG("MMIO exit at 0x%llx", vcpu->run->mmio.phys_addr);
	ASSERT_EQ(UCALL_DONE, get_ucall(vcpu, &uc))
		TH_LOG("%s", exit_reason_str(vcpu->run->exit_reason));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
