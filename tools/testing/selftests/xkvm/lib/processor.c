// SPDX-License-Identifier: GPL-2.0
/*
 * processor.c - x86 guest setup for the selftest library.
 *
 * Owns what makes a VM able to run C code of the test binary in 64-bit long
 * mode: loading this binary's own PT_LOAD segments (read from
 * /proc/self/exe) into guest memory at their link addresses, the 4-level
 * identity page tables, the GDT (flat code/data + a 64-bit TSS), the IDT
 * pointing at lib/guest_entry.S, per-vCPU stacks and the register state
 * (KVM_SET_SREGS/KVM_SET_REGS) of a vCPU entering the guest function.  Also
 * the real-mode variant that runs raw code bytes.  Host side only.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xkvm_util.h"

#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define LM_STACK_SIZE		((GUEST_STACK_TOP - GUEST_STACK_GPA) / XKVM_MAX_LM_VCPUS)

/* ---- this binary's ELF image ---- */

struct elf_image {
	uint8_t *file;
	size_t size;
	const Elf64_Phdr *phdr;
	unsigned int phnum;
	uint64_t end;			/* highest PT_LOAD end address */
};

static void elf_image_read(struct elf_image *img)
{
	const Elf64_Ehdr *eh;
	struct stat st;
	unsigned int i;
	size_t done = 0;
	int fd;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	TEST_ASSERT(fd >= 0, "open(/proc/self/exe) failed");
	TEST_ASSERT(!fstat(fd, &st), "fstat(/proc/self/exe) failed");
	img->size = st.st_size;
	img->file = malloc(img->size);
	TEST_ASSERT(img->file, "out of memory");
	while (done < img->size) {
		ssize_t n = read(fd, img->file + done, img->size - done);

		TEST_ASSERT(n > 0, "read(/proc/self/exe) failed");
		done += n;
	}
	close(fd);

	eh = (const Elf64_Ehdr *)img->file;
	TEST_ASSERT(img->size >= sizeof(*eh) &&
		    !memcmp(eh->e_ident, ELFMAG, SELFMAG) &&
		    eh->e_ident[EI_CLASS] == ELFCLASS64 &&
		    eh->e_machine == EM_X86_64,
		    "/proc/self/exe is not an x86-64 ELF file");
	TEST_ASSERT(eh->e_type == ET_EXEC,
		    "the test binary must be linked static and non-PIE (ET_EXEC)");
	TEST_ASSERT(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <=
		    img->size, "bad program header table");
	img->phdr = (const Elf64_Phdr *)(img->file + eh->e_phoff);
	img->phnum = eh->e_phnum;
	img->end = 0;
	for (i = 0; i < img->phnum; i++) {
		const Elf64_Phdr *ph = &img->phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		TEST_ASSERT(ph->p_vaddr >= GUEST_SYS_END,
			    "PT_LOAD at 0x%llx overlaps the library's system area",
			    (unsigned long long)ph->p_vaddr);
		TEST_ASSERT(ph->p_offset + ph->p_filesz <= img->size &&
			    ph->p_filesz <= ph->p_memsz, "bad PT_LOAD %u", i);
		if (ph->p_vaddr + ph->p_memsz > img->end)
			img->end = ph->p_vaddr + ph->p_memsz;
	}
	TEST_ASSERT(img->end, "no PT_LOAD segment");
}

/* ---- page tables ---- */

static uint64_t pt_alloc(struct kvm_vm *vm)
{
	uint64_t gpa = vm->pt_next;

	TEST_ASSERT(gpa < GUEST_PT_POOL_END, "guest page-table pool exhausted");
	vm->pt_next += PAGE_SIZE;
	memset(addr_gpa2hva(vm, gpa), 0, PAGE_SIZE);
	return gpa;
}

static uint64_t *pt_next_level(struct kvm_vm *vm, uint64_t *entry, bool alloc)
{
	if (!(*entry & PTE_PRESENT)) {
		if (!alloc)
			return NULL;
		*entry = pt_alloc(vm) | PTE_PRESENT | PTE_WRITABLE;
	}
	TEST_ASSERT(!(*entry & PTE_LARGE), "unexpected large page");
	return addr_gpa2hva(vm, *entry & PTE_ADDR_MASK);
}

static uint64_t *pte_lookup(struct kvm_vm *vm, uint64_t gva, bool alloc)
{
	uint64_t *table = addr_gpa2hva(vm, vm->pml4_gpa);
	int shift;

	for (shift = 39; shift > 12; shift -= 9) {
		table = pt_next_level(vm, &table[(gva >> shift) & 0x1ff], alloc);
		if (!table)
			return NULL;
	}
	return &table[(gva >> 12) & 0x1ff];
}

void virt_map(struct kvm_vm *vm, uint64_t gva, uint64_t gpa, uint64_t size)
{
	uint64_t off;

	TEST_ASSERT(vm->mode == VM_MODE_LONG, "virt_map needs a long-mode VM");
	TEST_ASSERT(!(gva & ~PAGE_MASK) && !(gpa & ~PAGE_MASK),
		    "virt_map: unaligned address");
	TEST_ASSERT(gva < (1ULL << 47), "virt_map: only the lower half");
	for (off = 0; off < size; off += PAGE_SIZE)
		*pte_lookup(vm, gva + off, true) =
			(gpa + off) | PTE_PRESENT | PTE_WRITABLE;
}

uint64_t addr_gva2gpa(struct kvm_vm *vm, uint64_t gva)
{
	uint64_t *pte;

	if (vm->mode != VM_MODE_LONG)
		return gva;
	pte = pte_lookup(vm, gva, false);
	TEST_ASSERT(pte && (*pte & PTE_PRESENT), "gva 0x%llx is not mapped",
		    (unsigned long long)gva);
	return (*pte & PTE_ADDR_MASK) | (gva & ~PAGE_MASK);
}

/* ---- descriptor tables ---- */

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access,
			  uint8_t flags)
{
	return (limit & 0xffffULL) |
	       ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) |
	       ((uint64_t)(base >> 24) << 56);
}

static void setup_descriptor_tables(struct kvm_vm *vm)
{
	uint64_t *gdt = addr_gpa2hva(vm, GUEST_GDT_GPA);
	uint64_t *idt = addr_gpa2hva(vm, GUEST_IDT_GPA);
	uint8_t *tss = addr_gpa2hva(vm, GUEST_TSS_GPA);
	int v;

	gdt[0] = 0;
	/* 64-bit code: P, DPL 0, S, type 0xb (exec/read, accessed); G, L. */
	gdt[GUEST_CS_SEL / 8] = gdt_entry(0, 0xfffff, 0x9b, 0xa);
	/* Data: P, DPL 0, S, type 3 (read/write, accessed); G, D/B. */
	gdt[GUEST_DS_SEL / 8] = gdt_entry(0, 0xfffff, 0x93, 0xc);
	/* 64-bit TSS (16 bytes): P, type 0xb (busy), limit 0x67. */
	gdt[GUEST_TSS_SEL / 8] = gdt_entry((uint32_t)GUEST_TSS_GPA, 0x67, 0x8b, 0);
	gdt[GUEST_TSS_SEL / 8 + 1] = GUEST_TSS_GPA >> 32;

	memset(tss, 0, 0x68);
	/* I/O map base beyond the limit: no I/O bitmap. */
	tss[0x66] = 0x68;

	for (v = 0; v < 256; v++) {
		uint64_t stub = (uint64_t)(uintptr_t)guest_idt_stubs + 16 * v;

		/* 64-bit interrupt gate: P, DPL 0, type 0xe, selector CS. */
		idt[2 * v] = (stub & 0xffff) |
			     ((uint64_t)GUEST_CS_SEL << 16) |
			     (0x8eULL << 40) |
			     ((stub >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = stub >> 32;
	}
}

static void load_elf_segments(struct kvm_vm *vm, struct elf_image *img)
{
	unsigned int i;

	for (i = 0; i < img->phnum; i++) {
		const Elf64_Phdr *ph = &img->phdr[i];
		uint64_t start, end;

		if (ph->p_type != PT_LOAD)
			continue;
		memcpy(addr_gpa2hva(vm, ph->p_vaddr), img->file + ph->p_offset,
		       ph->p_filesz);
		/* The rest up to p_memsz (.bss) is fresh, zeroed memory. */
		start = ph->p_vaddr & PAGE_MASK;
		end = ALIGN_UP(ph->p_vaddr + ph->p_memsz, PAGE_SIZE);
		virt_map(vm, start, start, end - start);
	}
}

struct kvm_vm *vm_create_long_mode(void)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct elf_image img;
	uint64_t size;

	elf_image_read(&img);
	/* Slot 0: system area + the ELF image + 2 MiB of slack, at GPA 0. */
	size = ALIGN_UP(img.end, 0x200000) + 0x200000;
	vm_mem_region_add(vm, 0, 0, size, 0);
	vm->mode = VM_MODE_LONG;

	vm->pt_next = GUEST_PT_POOL_GPA;
	vm->pml4_gpa = pt_alloc(vm);
	virt_map(vm, GUEST_GDT_GPA, GUEST_GDT_GPA, PAGE_SIZE);
	virt_map(vm, GUEST_IDT_GPA, GUEST_IDT_GPA, PAGE_SIZE);
	virt_map(vm, GUEST_TSS_GPA, GUEST_TSS_GPA, PAGE_SIZE);
	virt_map(vm, GUEST_STACK_GPA, GUEST_STACK_GPA,
		 GUEST_STACK_TOP - GUEST_STACK_GPA);
	setup_descriptor_tables(vm);
	load_elf_segments(vm, &img);
	free(img.file);
	return vm;
}

static void seg_set(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    bool code64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->l = code64;
	s->db = !code64;
	s->g = 1;
}

struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, uint32_t id, void *guest_code)
{
	struct kvm_vcpu *vcpu;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t stack_top, ret_addr;

	TEST_ASSERT(vm->mode == VM_MODE_LONG, "vm_vcpu_add needs a long-mode VM");
	TEST_ASSERT(vm->nr_lm_vcpus < XKVM_MAX_LM_VCPUS,
		    "at most %d long-mode vCPUs per VM", XKVM_MAX_LM_VCPUS);
	stack_top = GUEST_STACK_TOP - vm->nr_lm_vcpus * LM_STACK_SIZE;
	vm->nr_lm_vcpus++;

	vcpu = vm_vcpu_add_raw(vm, id);

	vcpu_sregs_get(vcpu, &sregs);
	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		    X86_CR0_WP | X86_CR0_PG;
	sregs.cr3 = vm->pml4_gpa;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA;
	seg_set(&sregs.cs, GUEST_CS_SEL, 0xb, true);
	seg_set(&sregs.ds, GUEST_DS_SEL, 0x3, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = GUEST_TSS_GPA;
	sregs.tr.limit = 0x67;
	sregs.tr.selector = GUEST_TSS_SEL;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = GUEST_GDT_GPA;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = GUEST_IDT_GPA;
	sregs.idt.limit = 256 * 16 - 1;
	vcpu_sregs_set(vcpu, &sregs);

	/* As if called: the return address makes a return issue GUEST_DONE. */
	ret_addr = (uint64_t)(uintptr_t)guest_return_trap;
	memcpy(addr_gpa2hva(vm, stack_top - 8), &ret_addr, sizeof(ret_addr));
	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_EFLAGS_FIXED;
	regs.rip = (uint64_t)(uintptr_t)guest_code;
	regs.rsp = stack_top - 8;
	vcpu_regs_set(vcpu, &regs);
	return vcpu;
}

struct kvm_vm *vm_create_with_one_vcpu(struct kvm_vcpu **vcpu,
				       void *guest_code)
{
	struct kvm_vm *vm = vm_create_long_mode();

	*vcpu = vm_vcpu_add(vm, 0, guest_code);
	return vm;
}

void seg_flat32(struct kvm_segment *s, uint16_t sel, uint8_t type,
		uint64_t base)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

void vcpu_setup_realmode(struct kvm_vcpu *vcpu, uint64_t gpa)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	TEST_ASSERT(gpa < 0x10000, "real-mode code must sit in segment 0");
	vcpu_sregs_get(vcpu, &sregs);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	vcpu_sregs_set(vcpu, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_EFLAGS_FIXED;
	regs.rip = gpa;
	regs.rsp = REALMODE_STACK_TOP;
	vcpu_regs_set(vcpu, &regs);
}

struct kvm_vm *vm_create_realmode(struct kvm_vcpu **vcpu, const void *code,
				  size_t len)
{
	struct kvm_vm *vm = vm_create_barebones();
	uint8_t *mem;

	TEST_ASSERT(len <= REALMODE_STACK_TOP - 0x100 - REALMODE_CODE_GPA,
		    "real-mode code too long");
	mem = vm_mem_region_add(vm, 0, 0, REALMODE_MEM_SIZE, 0);
	vm->mode = VM_MODE_REAL;
	memcpy(mem + REALMODE_CODE_GPA, code, len);
	*vcpu = vm_vcpu_add_raw(vm, 0);
	vcpu_setup_realmode(*vcpu, REALMODE_CODE_GPA);
	return vm;
}

void vm_install_exception_handler(struct kvm_vm *vm, int vector,
				  guest_exception_handler_t handler)
{
	TEST_ASSERT(vector >= 0 && vector < 256, "bad vector %d", vector);
	TEST_ASSERT(vm->mode == VM_MODE_LONG, "handlers need a long-mode VM");
	memcpy(addr_gva2hva(vm, (uint64_t)(uintptr_t)
			    &guest_exception_handlers[vector]),
	       &handler, sizeof(handler));
}
