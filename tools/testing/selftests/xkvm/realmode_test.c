// SPDX-License-Identifier: GPL-2.0
/*
 * realmode_test.c - raw real-mode guests: a port-I/O loop ending in HLT,
 * and IN/OUT of every size, checking each KVM_EXIT_IO field and the
 * register state KVM_EXIT_HLT leaves behind.
 */
#include "kselftest_harness.h"
#include "xkvm_util.h"

extern const uint8_t rm_pio_loop[], rm_pio_loop_hlt_end[], rm_pio_loop_end[];
extern const uint8_t rm_pio_in[], rm_pio_in_end[];

__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"rm_pio_loop:\n"
	"	mov $0x10, %dx\n"
	"	mov $5, %cx\n"
	"	mov $0x40, %al\n"
	"1:	out %al, %dx\n"
	"	inc %al\n"
	"	loop 1b\n"
	"	hlt\n"
	"rm_pio_loop_hlt_end:\n"
	"	jmp rm_pio_loop\n"
	"rm_pio_loop_end:\n"

	"rm_pio_in:\n"
	"	mov $0x20, %dx\n"
	"	in %dx, %al\n"
	"	inc %al\n"
	"	out %al, %dx\n"
	"	in %dx, %ax\n"
	"	inc %ax\n"
	"	out %ax, %dx\n"
	"	in %dx, %eax\n"
	"	inc %eax\n"
	"	out %eax, %dx\n"
	"	in $0x21, %al\n"
	"	out %al, $0x22\n"
	"	hlt\n"
	"rm_pio_in_end:\n"
	".code64\n"
	".popsection\n");

static void expect_io(struct __test_metadata *_metadata,
		      struct kvm_vcpu *vcpu, uint8_t dir, uint16_t port,
		      uint8_t size)
{
	struct kvm_run *run = vcpu->run;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(dir, run->io.direction);
	EXPECT_EQ(port, run->io.port);
	EXPECT_EQ(size, run->io.size);
	EXPECT_EQ(1, run->io.count);
	/* The data lies inside the mapping. */
	ASSERT_LE(sizeof(*run), run->io.data_offset);
	ASSERT_GE(vcpu->run_size, run->io.data_offset + size);
}

TEST(pio_loop_then_hlt)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_regs regs;
	int i;

	vm = vm_create_realmode(&vcpu, rm_pio_loop,
				rm_pio_loop_end - rm_pio_loop);
	for (i = 0; i < 5; i++) {
		expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x10, 1);
		EXPECT_EQ(0x40 + i, *(uint8_t *)vcpu_io_data(vcpu));
	}
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);

	/* HLT has retired: RIP is past it, the loop counter is spent. */
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(REALMODE_CODE_GPA + (rm_pio_loop_hlt_end - rm_pio_loop),
		  regs.rip);
	EXPECT_EQ(0, regs.rcx & 0xffff);
	EXPECT_EQ(0x45, regs.rax & 0xff);
	EXPECT_EQ(0x10, regs.rdx & 0xffff);

	/* Running again resumes after the HLT: the loop starts over. */
	expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x10, 1);
	EXPECT_EQ(0x40, *(uint8_t *)vcpu_io_data(vcpu));
	kvm_vm_free(vm);
}

TEST(pio_in_out_sizes)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_regs regs;
	uint16_t w;
	uint32_t l;

	vm = vm_create_realmode(&vcpu, rm_pio_in, rm_pio_in_end - rm_pio_in);

	expect_io(_metadata, vcpu, KVM_EXIT_IO_IN, 0x20, 1);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x41;
	expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x20, 1);
	EXPECT_EQ(0x42, *(uint8_t *)vcpu_io_data(vcpu));

	expect_io(_metadata, vcpu, KVM_EXIT_IO_IN, 0x20, 2);
	w = 0x12ff;
	memcpy(vcpu_io_data(vcpu), &w, 2);
	expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x20, 2);
	memcpy(&w, vcpu_io_data(vcpu), 2);
	EXPECT_EQ(0x1300, w);

	expect_io(_metadata, vcpu, KVM_EXIT_IO_IN, 0x20, 4);
	l = 0xdeadbeef;
	memcpy(vcpu_io_data(vcpu), &l, 4);
	expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x20, 4);
	memcpy(&l, vcpu_io_data(vcpu), 4);
	EXPECT_EQ(0xdeadbef0, l);

	/* Immediate-port forms. */
	expect_io(_metadata, vcpu, KVM_EXIT_IO_IN, 0x21, 1);
	*(uint8_t *)vcpu_io_data(vcpu) = 0x99;
	expect_io(_metadata, vcpu, KVM_EXIT_IO_OUT, 0x22, 1);
	EXPECT_EQ(0x99, *(uint8_t *)vcpu_io_data(vcpu));

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_HLT);
	vcpu_regs_get(vcpu, &regs);
	EXPECT_EQ(REALMODE_CODE_GPA + (rm_pio_in_end - rm_pio_in), regs.rip);
	/* The 8-bit IN merged into EAX: the upper bytes are unchanged. */
	EXPECT_EQ(0xdeadbe99, regs.rax & 0xffffffff);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
