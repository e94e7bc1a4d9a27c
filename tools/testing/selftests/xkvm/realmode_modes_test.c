// SPDX-License-Identifier: GPL-2.0
/*
 * realmode_modes_test.c - raw real-mode guests and their mode transitions:
 * what a hypervisor must get right when it cannot run real mode natively
 * (VT-x without unrestricted guest, i.e. ept=0, runs it in virtual-8086
 * mode; AMD-V and VT-x with unrestricted guest run it as it is).
 *
 *  1. segment loads of every form (MOV, POP, LGS, LSS, far CALL/RETF/JMP,
 *     selectors with RPL bits), memory through them, KVM_GET_SREGS; and
 *     segments whose hidden base is not selector * 16, reloaded;
 *  2. INT n through the vector table, IRET, PUSHF/POPF, CLI/STI, and the
 *     RFLAGS KVM_GET_REGS reports (no VM, IOPL 0);
 *  3. exceptions through the vector table (#DE, #BP, #OF, #BR, #UD and,
 *     where the machine checks segment limits, #GP and #SS);
 *  4. KVM_INTERRUPT with request_interrupt_window, after HLT, at IP 0 of a
 *     segment; KVM_NMI (twice); an exception from KVM_SET_VCPU_EVENTS;
 *  5. LGDT/LIDT with 16- and 32-bit operand size, SGDT/SIDT; LIDT moving
 *     the vector table;
 *  6. real -> 32-bit protected -> 16-bit protected -> real, and the
 *     protected mode a MOV to CR0 enters with real-mode segments loaded;
 *  7. big real mode (4 GiB limits kept across the return to real mode and
 *     across real-mode segment loads): MOV, string instructions, SS;
 *  8. HLT, CR0/CR3/CR4, CLTS, LMSW, SMSW (register and memory operands),
 *     WBINVD, INVLPG, RDMSR/WRMSR;
 *  9. KVM_SET_TSS_ADDR: no guest memory is written; the TSS pages are not
 *     the guest's memory at their address; the reset vector.
 *
 * KVM_SET_TSS_ADDR: stock KVM on VT-x without unrestricted guest puts the
 * virtual-8086 TSS at that address (a private memory slot, so the call
 * fails with EEXIST where guest memory is).  Without the call its TSS base
 * is 0 (vmx.c: enter_rmode() loads tss_addr as TR base, only
 * vmx_set_tss_addr() builds a TSS), i.e. the guest's vector table, and
 * INT n fails: KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_SIMUL_EX
 * (the software interrupt's delivery through the IDT raised #GP).  So KVM
 * needs the call there, and QEMU and Firecracker make it before creating
 * vCPUs (QEMU with 0xfffbd000): every case here does the same, except
 * those that test its absence, which run everywhere but on stock KVM in
 * virtual-8086 mode (xkvm has a default TSS outside guest memory).
 *
 * Guest code: .code16/.code32 blobs in .rodata, copied to RM_CODE (CS 0);
 * they report through OUT of a dword to RM_PORT and end with HLT.  Each
 * vector of the vector table starts out at a stub that reports
 * RM_STRAY | vector: an unexpected interrupt fails the test with the
 * CS:IP it interrupted.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"
#include "x86_util.h"

#define RM_MEM_SIZE	(4ULL << 20)
#define RM_STRAY_GPA	0x400ULL	/* 256 stubs of 12 bytes, to 0x1000 */
#define RM_CODE		0x1000ULL
#define RM_IVT2		0x6000ULL	/* a second vector table (LIDT) */
#define RM_GDT		0x7000ULL
#define RM_STACK_TOP	0xf000ULL
#define RM_BIG		0x200000ULL	/* guest RAM above 1 MiB */
#define RM_PORT		0xe0
#define RM_STRAY	0xdead0000U
#define RM_TSS_ADDR	0xfffbd000UL	/* QEMU's */
#define RM_WATCHDOG_MS	20000

#define X86_EFLAGS_TF	(1ULL << 8)
#define X86_EFLAGS_DF	(1ULL << 10)
#define X86_EFLAGS_IOPL	(3ULL << 12)
#define X86_EFLAGS_VM	(1ULL << 17)

/* Offset of @lbl in @blob, and its guest-physical address (CS 0). */
#define OFF(blob, lbl)	((uint32_t)((lbl) - (blob)))
#define LIN(blob, lbl)	((uint32_t)RM_CODE + OFF(blob, lbl))

/*
 * GDT for the mode switches: 0x08 32-bit code, 0x10 4 GiB data, 0x18
 * 16-bit code (base 0, 64 KiB), 0x20 16-bit data (base 0, 64 KiB), 0x28
 * 16-bit data at 0x20000.  Accessed bits preset: the CPU writes nothing.
 */
static const uint64_t rm_gdt[] = {
	0,
	0x00cf9b000000ffffULL,
	0x00cf93000000ffffULL,
	0x00009b000000ffffULL,
	0x000093000000ffffULL,
	0x000093020000ffffULL,
};

/* ---------------------------- guest code ---------------------------- */

/* The address real-mode code (CS 0) sees label l of blob b at. */
#define A(b, l)		#l " - " #b " + 0x1000"
#define OUTL		"	out %eax, $0xe0\n"
#define REPORT(v)	"	mov $" #v ", %eax\n" OUTL

extern const uint8_t rm_seg[], rm_seg_far1[], rm_seg_cs100[],
	rm_seg_hlt_end[], rm_seg_end[];
extern const uint8_t rm_odd[], rm_odd_hlt_end[], rm_odd_end[];
extern const uint8_t rm_int[], rm_int_ret[], rm_int_hlt_end[],
	rm_int_handler[], rm_int_end[];
extern const uint8_t rm_exc[], rm_exc_div[], rm_exc_c2[], rm_exc_c3[],
	rm_exc_bound[], rm_exc_ud2[], rm_exc_hlt_end[], rm_exc_h0[],
	rm_exc_h3[], rm_exc_h4[], rm_exc_h5[], rm_exc_h6[], rm_exc_h12[],
	rm_exc_h13[], rm_exc_end[];
extern const uint8_t rm_lim[], rm_lim_gp[], rm_lim_ss[], rm_lim_gp32[],
	rm_lim_hlt_end[], rm_lim_h12[], rm_lim_h13[], rm_lim_end[];
extern const uint8_t rm_irq[], rm_irq_loop[], rm_irq_loop_end[],
	rm_irq_after_hlt[], rm_irq_seg[], rm_irq_hlt_end[], rm_irq_handler[],
	rm_irq_end[];
extern const uint8_t rm_nmi[], rm_nmi_loop[], rm_nmi_loop_end[],
	rm_nmi_handler[], rm_nmi_iret[], rm_nmi_after_hlt[], rm_nmi_hlt_end[],
	rm_nmi_ud[], rm_nmi_end[];
extern const uint8_t rm_dt[], rm_dt_s1[], rm_dt_s2[], rm_dt_end[];
extern const uint8_t rm_ivt[], rm_ivt_lo[], rm_ivt_hi[], rm_ivt_end[];
extern const uint8_t rm_pm[], rm_pm_rm2[], rm_pm_hlt_end[], rm_pm_end[];
extern const uint8_t rm_pe[], rm_pe_end[];
extern const uint8_t rm_big[], rm_big_end[];
extern const uint8_t rm_bigss[], rm_bigss_h12[], rm_bigss_end[];
extern const uint8_t rm_bigstr[], rm_bigstr_end[];
extern const uint8_t rm_cr[], rm_cr_hlt_end[], rm_cr_end[];
extern const uint8_t rm_msw[], rm_msw_hlt_end[], rm_msw_end[];
extern const uint8_t rm_mix[], rm_mix_handler[], rm_mix_h0[], rm_mix_h6[],
	rm_mix_hlt[], rm_mix_end[];
extern const uint8_t rm_hi[], rm_hi_handler[], rm_hi_end[];
extern const uint8_t rm_rst[], rm_rst_end[];

__asm__(
	".pushsection .rodata\n"
	".code16\n"

	/*
	 * 1. Segment loads of every form; reads and writes through them;
	 * a far call to CS 0x80 and back, a far jump to CS 0x100.
	 */
	"	.balign 16\n"
	"rm_seg:\n"
	"	mov $0x07c3, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x1234, %bx\n"
	"	mov %bx, %es\n"
	"	pushw $0x2001\n"
	"	pop %fs\n"
	"	lgs %cs:" A(rm_seg, rm_seg_gsptr) ", %di\n"
	"	lss %cs:" A(rm_seg, rm_seg_ssptr) ", %sp\n"
	"	mov %ds:0x10, %eax\n" OUTL
	"	mov %es:0x20, %eax\n" OUTL
	"	mov %fs:0x30, %eax\n" OUTL
	"	mov %gs:(%di), %eax\n" OUTL
	"	mov $0xa1a1a1a1, %eax\n"
	"	mov %eax, %ds:0x14\n"
	"	mov $0xa2a2a2a2, %eax\n"
	"	mov %eax, %es:0x24\n"
	"	mov $0xa3a3a3a3, %eax\n"
	"	mov %eax, %fs:0x34\n"
	"	mov $0xa4a4a4a4, %eax\n"
	"	mov %eax, %gs:4(%di)\n"
	"	pushl $0xa5a5a5a5\n"
	"	lcall $0x0080, $rm_seg_far - rm_seg + 0x800\n"
	OUTL
	"	ljmp $0x0100, $rm_seg_cs100 - rm_seg\n"
	"rm_seg_cs100:\n"
	"	mov %ss:0x0fec, %eax\n" OUTL
	"	hlt\n"
	"rm_seg_hlt_end:\n"
	"	jmp rm_seg_hlt_end\n"
	"rm_seg_far:\n"
	"	xor %eax, %eax\n"
	"	mov %cs, %ax\n"
	"	shl $16, %eax\n"
	"	call rm_seg_far1\n"
	"rm_seg_far1:\n"
	"	pop %ax\n"
	"	lret\n"
	"	.balign 4\n"
	"rm_seg_gsptr: .word 0x0040, 0x3ffd\n"
	"rm_seg_ssptr: .word 0x0ff0, 0x0a05\n"
	"rm_seg_end:\n"

	/*
	 * 1b. DS and ES come with a base that is not selector * 16 (as the
	 * return from protected mode leaves them); reloads with the value
	 * whose base is the current one, then with the old selector.
	 */
	"	.balign 16\n"
	"rm_odd:\n"
	"	mov %ds:0x10, %eax\n" OUTL
	"	mov %es:0x10, %eax\n" OUTL
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x2000, %ax\n"
	"	mov %ax, %es\n"
	"	mov %ds:0x10, %eax\n" OUTL
	"	mov %es:0x10, %eax\n" OUTL
	"	mov $0x1234, %ax\n"
	"	mov %ax, %es\n"
	"	mov %es:0x10, %eax\n" OUTL
	"	hlt\n"
	"rm_odd_hlt_end:\n"
	"rm_odd_end:\n"

	/*
	 * 2. INT 0x42 (the handler keeps the pushed IP, CS, FLAGS and its
	 * own FLAGS in SI, DI, CX, DX), then PUSHF/POPF, CLI/STI.
	 */
	"	.balign 16\n"
	"rm_int:\n"
	"	cli\n"
	"	mov $0x1111, %bx\n"
	"	int $0x42\n"
	"rm_int_ret:\n"
	"	movzwl %bx, %eax\n" OUTL
	"	movzwl %si, %eax\n" OUTL
	"	movzwl %di, %eax\n" OUTL
	"	movzwl %cx, %eax\n" OUTL
	"	movzwl %dx, %eax\n" OUTL
	"	sti\n"
	"	pushf\n"
	"	pop %ax\n"
	"	movzwl %ax, %eax\n" OUTL
	"	cli\n"
	"	pushf\n"
	"	pop %ax\n"
	"	movzwl %ax, %eax\n" OUTL
	"	pushw $0x0ed5\n"
	"	popf\n"
	"	pushf\n"
	"	pop %ax\n"
	"	movzwl %ax, %eax\n" OUTL
	"	cli\n"
	"	hlt\n"
	"rm_int_hlt_end:\n"
	"rm_int_handler:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	mov 2(%bp), %si\n"
	"	mov 4(%bp), %di\n"
	"	mov 6(%bp), %cx\n"
	"	pushf\n"
	"	pop %dx\n"
	"	mov $0x4242, %bx\n"
	"	pop %bp\n"
	"	iret\n"
	"rm_int_end:\n"

	/*
	 * 3. Exceptions: each handler reports (vector << 16 | pushed IP),
	 * then the pushed CS, and resumes at SI.
	 */
	"	.balign 16\n"
	"rm_exc:\n"
	"	cli\n"
	"	mov $" A(rm_exc, rm_exc_c1) ", %si\n"
	"	xor %cx, %cx\n"
	"	mov $1, %ax\n"
	"	xor %dx, %dx\n"
	"rm_exc_div:\n"
	"	div %cx\n"
	"rm_exc_c1:\n"
	"	mov $" A(rm_exc, rm_exc_c2) ", %si\n"
	"	int3\n"
	"rm_exc_c2:\n"
	"	mov $" A(rm_exc, rm_exc_c3) ", %si\n"
	"	mov $0x7f, %al\n"
	"	add $1, %al\n"
	"	into\n"
	"rm_exc_c3:\n"
	"	mov $" A(rm_exc, rm_exc_c4) ", %si\n"
	"	mov $0x80, %ax\n"
	"rm_exc_bound:\n"
	"	bound %ax, " A(rm_exc, rm_exc_bounds) "\n"
	"rm_exc_c4:\n"
	"	mov $" A(rm_exc, rm_exc_c5) ", %si\n"
	"rm_exc_ud2:\n"
	"	ud2\n"
	"rm_exc_c5:\n"
	REPORT(0x3e)
	"	hlt\n"
	"rm_exc_hlt_end:\n"
	"rm_exc_h0:  mov $0, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h3:  mov $3, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h4:  mov $4, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h5:  mov $5, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h6:  mov $6, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h12: mov $12, %dl\n	jmp rm_exc_common\n"
	"rm_exc_h13: mov $13, %dl\n	jmp rm_exc_common\n"
	"rm_exc_common:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	xor %eax, %eax\n"
	"	mov %dl, %al\n"
	"	shl $16, %eax\n"
	"	mov 2(%bp), %ax\n" OUTL
	"	movzwl 4(%bp), %eax\n" OUTL
	"	mov %si, 2(%bp)\n"
	"	pop %bp\n"
	"	iret\n"
	"	.balign 4\n"
	"rm_exc_bounds: .word 0, 0x10\n"
	"rm_exc_end:\n"

	/*
	 * 3b. Accesses past a 64 KiB limit: #GP (DS), #SS (SS), #GP (FS with
	 * a 32-bit address, nothing written); handlers of rm_exc's form.
	 */
	"	.balign 16\n"
	"rm_lim:\n"
	"	cli\n"
	"	mov $" A(rm_lim, rm_lim_c1) ", %si\n"
	"	mov $0xffff, %bx\n"
	"rm_lim_gp:\n"
	"	mov (%bx), %ax\n"
	"rm_lim_c1:\n"
	"	mov $" A(rm_lim, rm_lim_c2) ", %si\n"
	"rm_lim_ss:\n"
	"	mov %ss:(%bx), %ax\n"
	"rm_lim_c2:\n"
	"	mov $" A(rm_lim, rm_lim_c3) ", %si\n"
	"	mov $0x10000, %edi\n"
	"	mov $0xbadbad, %eax\n"
	"rm_lim_gp32:\n"
	"	mov %eax, %fs:(%edi)\n"
	"rm_lim_c3:\n"
	"	hlt\n"
	"rm_lim_hlt_end:\n"
	"rm_lim_h12: mov $12, %dl\n	jmp rm_lim_common\n"
	"rm_lim_h13: mov $13, %dl\n	jmp rm_lim_common\n"
	"rm_lim_common:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	xor %eax, %eax\n"
	"	mov %dl, %al\n"
	"	shl $16, %eax\n"
	"	mov 2(%bp), %ax\n" OUTL
	"	movzwl 4(%bp), %eax\n" OUTL
	"	mov %si, 2(%bp)\n"
	"	pop %bp\n"
	"	iret\n"
	"rm_lim_end:\n"

	/*
	 * 4. External interrupts (vector 0x50; the handler reports
	 * (0x50 << 16 | IP), CS, FLAGS, its own FLAGS, and counts in BX):
	 * in a loop after STI, after HLT, at IP 0 of CS 0x120 entered by IRET.
	 */
	"	.balign 16\n"
	"rm_irq:\n"
	"	cli\n"
	"	xor %bx, %bx\n"
	REPORT(0x11)
	REPORT(0x12)
	"	sti\n"
	"	nop\n"
	"rm_irq_loop:\n"
	"	cmp $1, %bx\n"
	"	jne rm_irq_loop\n"
	"rm_irq_loop_end:\n"
	REPORT(0x13)
	"	hlt\n"
	"rm_irq_after_hlt:\n"
	REPORT(0x14)
	"	cli\n"
	"	pushw $0x0202\n"
	"	pushw $0x0120\n"
	"	pushw $0\n"
	REPORT(0x15)
	"	iret\n"
	"	.org rm_irq + 0x200\n"
	"rm_irq_seg:\n"
	"	cmp $3, %bx\n"
	"	jne rm_irq_seg\n"
	REPORT(0x16)
	"	cli\n"
	"	hlt\n"
	"rm_irq_hlt_end:\n"
	"rm_irq_handler:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	mov $0x50, %eax\n"
	"	shl $16, %eax\n"
	"	mov 2(%bp), %ax\n" OUTL
	"	movzwl 4(%bp), %eax\n" OUTL
	"	movzwl 6(%bp), %eax\n" OUTL
	"	pushf\n"
	"	pop %ax\n"
	"	movzwl %ax, %eax\n" OUTL
	"	inc %bx\n"
	"	pop %bp\n"
	"	iret\n"
	"rm_irq_end:\n"

	/*
	 * 4b. NMI (vector 2) while the guest loops with IF=0, a second one
	 * while its handler runs; then an exception the VMM injects at HLT.
	 */
	"	.balign 16\n"
	"rm_nmi:\n"
	"	cli\n"
	"	xor %bx, %bx\n"
	REPORT(0x21)
	"rm_nmi_loop:\n"
	"	cmp $2, %bx\n"
	"	jb rm_nmi_loop\n"
	"rm_nmi_loop_end:\n"
	REPORT(0x22)
	"	hlt\n"
	"rm_nmi_after_hlt:\n"
	REPORT(0x23)
	"	hlt\n"
	"rm_nmi_hlt_end:\n"
	"rm_nmi_handler:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	mov $2, %eax\n"
	"	shl $16, %eax\n"
	"	mov 2(%bp), %ax\n" OUTL
	REPORT(0x2e)
	"	inc %bx\n"
	REPORT(0x2f)
	"	pop %bp\n"
	"rm_nmi_iret:\n"
	"	iret\n"
	"rm_nmi_ud:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	mov $6, %eax\n"
	"	shl $16, %eax\n"
	"	mov 2(%bp), %ax\n" OUTL
	"	pop %bp\n"
	"	iret\n"
	"rm_nmi_end:\n"

	/* 5. LGDT/LIDT of both operand sizes, SGDT/SIDT (32-bit). */
	"	.balign 16\n"
	"rm_dt:\n"
	"	lgdt " A(rm_dt, rm_dt_d1) "\n"
	REPORT(0x51)
	"	lgdtl " A(rm_dt, rm_dt_d2) "\n"
	REPORT(0x52)
	"	lidt " A(rm_dt, rm_dt_d3) "\n"
	REPORT(0x53)
	"	lidtl " A(rm_dt, rm_dt_d4) "\n"
	REPORT(0x54)
	"	sgdtl " A(rm_dt, rm_dt_s1) "\n"
	"	sidtl " A(rm_dt, rm_dt_s2) "\n"
	"	lidt " A(rm_dt, rm_dt_d5) "\n"
	REPORT(0x55)
	"	hlt\n"
	"	.balign 4\n"
	"rm_dt_d1: .word 0x1234\n	.long 0xaabbccdd\n"
	"rm_dt_d2: .word 0x0fff\n	.long 0x87654321\n"
	"rm_dt_d3: .word 0x03ff\n	.long 0x11223344\n"
	"rm_dt_d4: .word 0x07ff\n	.long 0x00006000\n"
	"rm_dt_d5: .word 0x03ff\n	.long 0\n"
	"rm_dt_s1: .fill 8, 1, 0xee\n"
	"rm_dt_s2: .fill 8, 1, 0xee\n"
	"rm_dt_end:\n"

	/* 5b. INT 0x42 through a vector table LIDT moved to RM_IVT2. */
	"	.balign 16\n"
	"rm_ivt:\n"
	"	cli\n"
	"	lidt " A(rm_ivt, rm_ivt_d2) "\n"
	"	xor %bx, %bx\n"
	"	int $0x42\n"
	"	movzwl %bx, %eax\n" OUTL
	"	lidt " A(rm_ivt, rm_ivt_d0) "\n"
	"	int $0x42\n"
	"	movzwl %bx, %eax\n" OUTL
	"	hlt\n"
	"rm_ivt_lo:\n"
	"	mov $0x1111, %bx\n"
	"	iret\n"
	"rm_ivt_hi:\n"
	"	mov $0x6666, %bx\n"
	"	iret\n"
	"	.balign 4\n"
	"rm_ivt_d2: .word 0x03ff\n	.long 0x6000\n"
	"rm_ivt_d0: .word 0x03ff\n	.long 0\n"
	"rm_ivt_end:\n"

	/*
	 * 6. Real -> 32-bit protected (flat segments, a write above 1 MiB)
	 * -> 16-bit protected -> real (CS 0x80), FS/GS left at 0x28.
	 */
	"	.balign 16\n"
	"rm_pm:\n"
	"	cli\n"
	"	lgdtl " A(rm_pm, rm_pm_gdtr) "\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $0x08, $" A(rm_pm, rm_pm_32) "\n"
	".code32\n"
	"rm_pm_32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %fs\n"
	"	mov %ax, %gs\n"
	"	mov %ax, %ss\n"
	"	mov $0x9000, %esp\n"
	"	mov $0x200000, %esi\n"
	"	movl $0x32323232, (%esi)\n"
	"	mov 4(%esi), %eax\n" OUTL
	"	mov %cr0, %eax\n" OUTL
	"	ljmp $0x18, $" A(rm_pm, rm_pm_16) "\n"
	".code16\n"
	"rm_pm_16:\n"
	"	mov $0x20, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov $0x28, %ax\n"
	"	mov %ax, %fs\n"
	"	mov %ax, %gs\n"
	"	mov %cr0, %eax\n"
	"	and $0xfe, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x0080, $rm_pm_rm2 - rm_pm + 0x800\n"
	"rm_pm_rm2:\n"
	"	mov $0x0500, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x0600, %ax\n"
	"	mov %ax, %es\n"
	"	mov $0x0700, %ax\n"
	"	mov %ax, %ss\n"
	"	mov $0x1000, %sp\n"
	"	mov %fs:0x10, %eax\n" OUTL
	"	mov %ds:0x10, %eax\n" OUTL
	"	pushl $0x76543210\n"
	"	mov %cr0, %eax\n" OUTL
	"	hlt\n"
	"rm_pm_hlt_end:\n"
	"	.balign 4\n"
	"rm_pm_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_pm_end:\n"

	/*
	 * 6b. MOV to CR0 sets PE with real-mode DS (0x07c3) and SS (0x0123,
	 * RPL 3) loaded: 16-bit protected mode on those until the far jump.
	 */
	"	.balign 16\n"
	"rm_pe:\n"
	"	cli\n"
	"	lgdtl " A(rm_pe, rm_pe_gdtr) "\n"
	"	mov $0x07c3, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x0123, %ax\n"
	"	mov %ax, %ss\n"
	"	mov $0x0f00, %sp\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	mov %ds:0x10, %eax\n" OUTL
	"	pushl $0x77665544\n"
	"	popl %eax\n" OUTL
	"	pushl $0x11335577\n"
	"	ljmpl $0x08, $" A(rm_pe, rm_pe_32) "\n"
	".code32\n"
	"rm_pe_32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %ss\n"
	"	mov $0x9000, %esp\n"
	"	mov 0x7c40, %eax\n" OUTL
	"	hlt\n"
	".code16\n"
	"	.balign 4\n"
	"rm_pe_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_pe_end:\n"

	/*
	 * 7. Big real mode: FS gets the 4 GiB segment in protected mode and
	 * keeps it in real mode, across real-mode loads of FS.
	 */
	"	.balign 16\n"
	"rm_big:\n"
	"	cli\n"
	"	lgdtl " A(rm_big, rm_big_gdtr) "\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x18, $" A(rm_big, rm_big_16) "\n"
	"rm_big_16:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %fs\n"
	"	mov %cr0, %eax\n"
	"	and $0xfe, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0, $" A(rm_big, rm_big_rm) "\n"
	"rm_big_rm:\n"
	"	mov $0x200000, %esi\n"
	"	mov $0xcafef00d, %eax\n"
	"	mov %eax, %fs:(%esi)\n"
	"	mov %fs:(%esi), %eax\n" OUTL
	"	mov %fs:4(%esi), %eax\n" OUTL
	"	xor %ax, %ax\n"
	"	mov %ax, %fs\n"
	REPORT(0x71)
	"	movl $0x600dd00d, %fs:8(%esi)\n"
	"	mov %fs:8(%esi), %eax\n" OUTL
	"	mov $0x1000, %ax\n"
	"	mov %ax, %fs\n"
	"	mov $0x1f0000, %esi\n"
	"	mov $0xbeefcafe, %eax\n"
	"	mov %eax, %fs:0xc(%esi)\n"
	"	mov %fs:0xc(%esi), %eax\n" OUTL
	"	hlt\n"
	"	.balign 4\n"
	"rm_big_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_big_end:\n"

	/* 7b. Big real mode through SS (an #SS past 64 KiB, not 4 GiB). */
	"	.balign 16\n"
	"rm_bigss:\n"
	"	cli\n"
	"	lgdtl " A(rm_bigss, rm_bigss_gdtr) "\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x18, $" A(rm_bigss, rm_bigss_16) "\n"
	"rm_bigss_16:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ss\n"
	"	mov %cr0, %eax\n"
	"	and $0xfe, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0, $" A(rm_bigss, rm_bigss_rm) "\n"
	"rm_bigss_rm:\n"
	"	mov $0x200040, %esi\n"
	"	mov $0x55aa55aa, %eax\n"
	"	mov %eax, %ss:(%esi)\n"
	"	mov %ss:4(%esi), %eax\n" OUTL
	"	mov %ss:(%esi), %eax\n" OUTL
	"	hlt\n"
	"rm_bigss_h12:\n"
	"	mov $0xdead5512, %eax\n" OUTL
	"	hlt\n"
	"	.balign 4\n"
	"rm_bigss_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_bigss_end:\n"

	/*
	 * 7c. Big real mode string instructions with 32-bit addresses:
	 * REP STOSL to ES:EDI above 1 MiB, REP MOVSL from DS:ESI there,
	 * LODSL back.
	 */
	"	.balign 16\n"
	"rm_bigstr:\n"
	"	cli\n"
	"	lgdtl " A(rm_bigstr, rm_bigstr_gdtr) "\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x18, $" A(rm_bigstr, rm_bigstr_16) "\n"
	"rm_bigstr_16:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %cr0, %eax\n"
	"	and $0xfe, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0, $" A(rm_bigstr, rm_bigstr_rm) "\n"
	"rm_bigstr_rm:\n"
	"	cld\n"
	"	mov $0x200100, %edi\n"
	"	mov $4, %ecx\n"
	"	mov $0x5a5a5a5a, %eax\n"
	"	addr32 rep stosl\n"
	"	mov %edi, %eax\n" OUTL
	"	mov $0x200100, %esi\n"
	"	mov $0x300000, %edi\n"
	"	mov $4, %ecx\n"
	"	addr32 rep movsl\n"
	"	mov %esi, %eax\n" OUTL
	"	mov $0x200200, %esi\n"
	"	addr32 lodsl\n" OUTL
	"	hlt\n"
	"	.balign 4\n"
	"rm_bigstr_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_bigstr_end:\n"

	/* 8. Control registers and privileged instructions; runs at CS 0x100. */
	"	.balign 16\n"
	"rm_cr:\n"
	"	mov %cr0, %eax\n" OUTL
	"	mov %cr3, %eax\n" OUTL
	"	mov %cr4, %eax\n" OUTL
	"	or $0x10, %eax\n"
	"	mov %eax, %cr4\n"
	"	mov %cr4, %eax\n" OUTL
	"	mov %cr0, %eax\n"
	"	or $8, %al\n"
	"	mov %eax, %cr0\n"
	"	mov %cr0, %eax\n" OUTL
	"	clts\n"
	"	mov %cr0, %eax\n" OUTL
	"	mov $0x000a, %ax\n"
	"	lmsw %ax\n"
	"	mov %cr0, %eax\n" OUTL
	"	xor %eax, %eax\n"
	"	smsw %ax\n" OUTL
	"	clts\n"
	"	wbinvd\n"
	"	mov $0x174, %ecx\n"
	"	mov $0xabcd, %eax\n"
	"	xor %edx, %edx\n"
	"	wrmsr\n"
	"	xor %eax, %eax\n"
	"	rdmsr\n" OUTL
	"	mov $0x00345000, %eax\n"
	"	mov %eax, %cr3\n"
	"	hlt\n"
	"rm_cr_hlt_end:\n"
	"	jmp rm_cr_hlt_end\n"
	"rm_cr_end:\n"

	/* 8b. SMSW and LMSW with memory operands (DS 0), INVLPG. */
	"	.balign 16\n"
	"rm_msw:\n"
	"	smsw 0x8000\n"
	"	movzwl 0x8000, %eax\n" OUTL
	"	movw $0x0006, 0x8002\n"
	"	lmsw 0x8002\n"
	"	mov %cr0, %eax\n" OUTL
	"	mov $0x3000, %bx\n"
	"	invlpg (%bx)\n"
	REPORT(0x77)
	"	hlt\n"
	"rm_msw_hlt_end:\n"
	"rm_msw_end:\n"

	/*
	 * 9. A mix that makes a virtual-8086 implementation use its TSS:
	 * INT n, I/O, #DE, #UD, an external interrupt, CR0 accesses.
	 */
	"	.balign 16\n"
	"rm_mix:\n"
	"	sti\n"
	"	xor %bx, %bx\n"
	"	int $0x42\n"
	"	int $0x42\n"
	"	movzwl %bx, %eax\n" OUTL
	"	mov $" A(rm_mix, rm_mix_c1) ", %si\n"
	"	xor %cx, %cx\n"
	"	div %cx\n"
	"rm_mix_c1:\n"
	"	mov $" A(rm_mix, rm_mix_c2) ", %si\n"
	"	ud2\n"
	"rm_mix_c2:\n"
	"	mov %cr0, %eax\n"
	"	mov %eax, %cr0\n"
	"	in $0xe0, %al\n"
	"	movzwl %bx, %eax\n" OUTL
	"rm_mix_hlt:\n"
	"	hlt\n"
	"	movzwl %bx, %eax\n" OUTL
	"	cli\n"
	"	hlt\n"
	"rm_mix_handler:\n"
	"	inc %bx\n"
	"	iret\n"
	"rm_mix_h0:\n"
	"	add $0x100, %bx\n"
	"	jmp rm_mix_resume\n"
	"rm_mix_h6:\n"
	"	add $0x1000, %bx\n"
	"rm_mix_resume:\n"
	"	push %bp\n"
	"	mov %sp, %bp\n"
	"	mov %si, 2(%bp)\n"
	"	pop %bp\n"
	"	iret\n"
	"rm_mix_end:\n"

	/*
	 * 9b. INT n in real mode, then 32-bit flat protected mode reading
	 * and writing where the TSS would be (base in ESI), back to real
	 * mode, INT n again.
	 */
	"	.balign 16\n"
	"rm_hi:\n"
	"	cli\n"
	"	xor %bx, %bx\n"
	"	int $0x42\n"
	"	movzwl %bx, %eax\n" OUTL
	"	lgdtl " A(rm_hi, rm_hi_gdtr) "\n"
	"	mov %cr0, %eax\n"
	"	or $1, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $0x08, $" A(rm_hi, rm_hi_32) "\n"
	".code32\n"
	"rm_hi_32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov $0x9000, %esp\n"
	"	mov (%esi), %eax\n" OUTL
	"	mov 0x64(%esi), %eax\n" OUTL
	"	mov 0x1010(%esi), %eax\n" OUTL
	"	mov 0x2088(%esi), %eax\n" OUTL
	"	movl $0x5eed0001, 0x64(%esi)\n"
	"	movl $0x5eed0002, 0x1010(%esi)\n"
	"	movl $0x5eed0003, 0x2088(%esi)\n"
	"	mov 0x64(%esi), %eax\n" OUTL
	"	mov 0x1010(%esi), %eax\n" OUTL
	"	mov 0x2088(%esi), %eax\n" OUTL
	"	ljmp $0x18, $" A(rm_hi, rm_hi_16) "\n"
	".code16\n"
	"rm_hi_16:\n"
	"	mov $0x20, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov %cr0, %eax\n"
	"	and $0xfe, %al\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0, $" A(rm_hi, rm_hi_rm) "\n"
	"rm_hi_rm:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov $0xf000, %sp\n"
	"	int $0x42\n"
	"	movzwl %bx, %eax\n" OUTL
	"	hlt\n"
	"rm_hi_handler:\n"
	"	inc %bx\n"
	"	iret\n"
	"	.balign 4\n"
	"rm_hi_gdtr: .word 0x2f\n	.long 0x7000\n"
	"rm_hi_end:\n"

	/* 9c. The code at the reset vector (and its alias below 1 MiB). */
	"rm_rst:\n"
	"	ljmp $0x0100, $0\n"
	"rm_rst_end:\n"

	".code64\n"
	".popsection\n");

/* ---------------------------- host side ---------------------------- */

struct rm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint8_t *mem;
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Real mode runs in virtual-8086 mode: VT-x without unrestricted guest
 * (ept=0, or kvm_intel's unrestricted_guest=0).
 */
static bool rm_is_vm86(void)
{
	if (!xkvm_vendor_module() || xkvm_vendor_is_amd())
		return false;
	return xkvm_shadow_paging() ||
	       xkvm_vendor_param_off("unrestricted_guest");
}

/*
 * The selector KVM_GET_SREGS shows once real-mode code loaded @loaded into
 * a segment register that held @before, with @loaded the old base / 16:
 * xkvm's virtual-8086 mode already ran the segment with that selector and
 * cannot see the load (Documentation/mmu.md), stock KVM emulates such code.
 */
static uint16_t rm_loaded_sel(uint16_t before, uint16_t loaded)
{
	return rm_is_vm86() && !xkvm_reference_mode() ? before : loaded;
}

/* Point IVT vector @v at @handler (segment 0). */
static void rm_set_vector(struct rm *r, uint64_t table, int v,
			  uint32_t handler)
{
	wr16(r->mem + table + 4 * v, handler);
	wr16(r->mem + table + 4 * v + 2, 0);
}

/*
 * A VM with RM_MEM_SIZE at GPA 0 (after KVM_SET_TSS_ADDR if @tss), the
 * code copied to RM_CODE, every vector at a stub reporting it, the GDT;
 * no vCPU yet.
 */
static void rm_init_mem(struct rm *r, const uint8_t *code,
			const uint8_t *end, bool tss)
{
	size_t len = end - code;
	int v;

	TEST_ASSERT(len <= RM_IVT2 - RM_CODE, "code too long");
	r->vm = vm_create_barebones();
	if (tss)
		TEST_ASSERT(!ioctl(r->vm->fd, KVM_SET_TSS_ADDR, RM_TSS_ADDR),
			    "KVM_SET_TSS_ADDR");
	r->mem = vm_mem_region_add(r->vm, 0, 0, RM_MEM_SIZE, 0);
	for (v = 0; v < 256; v++) {
		uint8_t *s = r->mem + RM_STRAY_GPA + 12 * v;

		/* mov $(RM_STRAY | v), %eax; out %eax, $RM_PORT; hlt */
		s[0] = 0x66;
		s[1] = 0xb8;
		wr32(s + 2, RM_STRAY | v);
		s[6] = 0x66;
		s[7] = 0xe7;
		s[8] = RM_PORT;
		s[9] = 0xf4;
		s[10] = 0xeb;		/* jmp to the hlt */
		s[11] = 0xfd;
		rm_set_vector(r, 0, v, RM_STRAY_GPA + 12 * v);
	}
	memcpy(r->mem + RM_GDT, rm_gdt, sizeof(rm_gdt));
	memcpy(r->mem + RM_CODE, code, len);
}

/* The vCPU, in real mode at RM_CODE (CS 0, SS:SP 0:RM_STACK_TOP). */
static void rm_init_vcpu(struct rm *r)
{
	r->vcpu = vm_vcpu_add_raw(r->vm, 0);
	vcpu_set_supported_cpuid(r->vcpu);
	vcpu_setup_realmode(r->vcpu, RM_CODE);
}

static void rm_init(struct rm *r, const uint8_t *code, const uint8_t *end,
		    bool tss)
{
	rm_init_mem(r, code, end, tss);
	rm_init_vcpu(r);
}

/* KVM_RUN; a guest that makes no exit for RM_WATCHDOG_MS fails. */
static void rm_run(struct rm *r)
{
	vcpu_run_watchdog(r->vcpu, RM_WATCHDOG_MS);
}

/* The next exit is the guest's OUT of a dword to RM_PORT: its value. */
static uint32_t rm_out(struct rm *r)
{
	struct kvm_run *run = r->vcpu->run;
	struct kvm_sregs s;
	struct kvm_regs regs;
	uint32_t v;

	rm_run(r);
	TEST_ASSERT_KVM_EXIT_REASON(r->vcpu, KVM_EXIT_IO);
	TEST_ASSERT(run->io.port == RM_PORT && run->io.size == 4 &&
		    run->io.count == 1 && run->io.direction == KVM_EXIT_IO_OUT,
		    "unexpected I/O exit%s", exit_details(r->vcpu));
	memcpy(&v, vcpu_io_data(r->vcpu), sizeof(v));
	if ((v & 0xffffff00) == RM_STRAY) {
		uint64_t sp;

		vcpu_regs_get(r->vcpu, &regs);
		vcpu_sregs_get(r->vcpu, &s);
		sp = s.ss.base + (regs.rsp & 0xffff);
		TEST_FAIL("unexpected vector %u in real mode, from %04x:%04x",
			  v & 0xff,
			  sp + 4 <= RM_MEM_SIZE ? *(uint16_t *)(r->mem + sp + 2) : 0xffff,
			  sp + 4 <= RM_MEM_SIZE ? *(uint16_t *)(r->mem + sp) : 0xffff);
	}
	return v;
}

/* The next exit is a HLT. */
static void rm_hlt(struct rm *r)
{
	rm_run(r);
	TEST_ASSERT_KVM_EXIT_REASON(r->vcpu, KVM_EXIT_HLT);
}

static uint64_t rm_rip(struct rm *r)
{
	struct kvm_regs regs;

	vcpu_regs_get(r->vcpu, &regs);
	return regs.rip;
}

#define EXPECT_SEG(seg, sel, b, lim) do {				\
	EXPECT_EQ((sel), (seg).selector);				\
	EXPECT_EQ((uint64_t)(b), (seg).base);				\
	EXPECT_EQ((uint32_t)(lim), (seg).limit);			\
} while (0)

/* ---------------------- 1. segment loads ---------------------- */

TEST(segment_loads)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	struct rm r;

	rm_init(&r, rm_seg, rm_seg_end, true);
	wr32(r.mem + 0x7c30 + 0x10, 0x11111111);
	wr32(r.mem + 0x12340 + 0x20, 0x22222222);
	wr32(r.mem + 0x20010 + 0x30, 0x33333333);
	wr32(r.mem + 0x3ffd0 + 0x40, 0x44444444);
	/* decoys where selector-sized bases (no * 16) would point */
	wr32(r.mem + 0x07c3 + 0x10, 0xdecaf001);
	wr32(r.mem + 0x1234 + 0x20, 0xdecaf002);

	EXPECT_EQ(0x11111111, rm_out(&r));
	/* every load done; a KVM_SET_SREGS of the same state changes nothing */
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.cs, 0, 0, 0xffff);
	EXPECT_SEG(s.ds, 0x07c3, 0x7c30, 0xffff);
	EXPECT_SEG(s.es, 0x1234, 0x12340, 0xffff);
	EXPECT_SEG(s.fs, 0x2001, 0x20010, 0xffff);
	EXPECT_SEG(s.gs, 0x3ffd, 0x3ffd0, 0xffff);
	EXPECT_SEG(s.ss, 0x0a05, 0xa050, 0xffff);
	vcpu_sregs_set(r.vcpu, &s);
	EXPECT_EQ(0x22222222, rm_out(&r));
	EXPECT_EQ(0x33333333, rm_out(&r));
	EXPECT_EQ(0x44444444, rm_out(&r));
	/* the far routine: its CS and the IP it pushed with CALL */
	EXPECT_EQ((0x0080U << 16) | (0x800 + OFF(rm_seg, rm_seg_far1)),
		  rm_out(&r));
	EXPECT_EQ(0xa5a5a5a5, rm_out(&r));
	rm_hlt(&r);

	EXPECT_EQ(0xa1a1a1a1, rd32(r.mem + 0x7c30 + 0x14));
	EXPECT_EQ(0xa2a2a2a2, rd32(r.mem + 0x12340 + 0x24));
	EXPECT_EQ(0xa3a3a3a3, rd32(r.mem + 0x20010 + 0x34));
	EXPECT_EQ(0xa4a4a4a4, rd32(r.mem + 0x3ffd0 + 0x44));
	EXPECT_EQ(0xa5a5a5a5, rd32(r.mem + 0xa050 + 0x0fec));

	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0, s.cr0 & X86_CR0_PE);
	EXPECT_SEG(s.cs, 0x0100, 0x1000, 0xffff);
	EXPECT_SEG(s.ds, 0x07c3, 0x7c30, 0xffff);
	EXPECT_SEG(s.es, 0x1234, 0x12340, 0xffff);
	EXPECT_SEG(s.fs, 0x2001, 0x20010, 0xffff);
	EXPECT_SEG(s.gs, 0x3ffd, 0x3ffd0, 0xffff);
	EXPECT_SEG(s.ss, 0x0a05, 0xa050, 0xffff);
	vcpu_regs_get(r.vcpu, &regs);
	/* RIP is the offset in CS (base 0x1000 = RM_CODE), not linear */
	EXPECT_EQ(OFF(rm_seg, rm_seg_hlt_end), regs.rip);
	EXPECT_EQ(0x0fec, regs.rsp & 0xffff);
	EXPECT_EQ(0x0040, regs.rdi & 0xffff);
	kvm_vm_free(r.vm);
}

/*
 * A segment's hidden base need not be selector * 16 in real mode (KVM_SET_SREGS
 * here; the return from protected mode elsewhere).  Loading the selector
 * whose * 16 is that base, or the old selector, is a load all the same.
 */
TEST(segment_reload_after_odd_base)
{
	struct kvm_sregs s;
	struct rm r;

	rm_init(&r, rm_odd, rm_odd_end, true);
	wr32(r.mem + 0x10, 0x0d5e0010);
	wr32(r.mem + 0x20010, 0x0e5e0010);
	wr32(r.mem + 0x12350, 0x0e5e1235);
	vcpu_sregs_get(r.vcpu, &s);
	s.ds.selector = 0x0040;
	s.ds.base = 0;
	s.es.selector = 0x1234;
	s.es.base = 0x20000;
	vcpu_sregs_set(r.vcpu, &s);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.ds, 0x0040, 0, 0xffff);
	EXPECT_SEG(s.es, 0x1234, 0x20000, 0xffff);

	EXPECT_EQ(0x0d5e0010, rm_out(&r));
	EXPECT_EQ(0x0e5e0010, rm_out(&r));
	/* DS = 0, ES = 0x2000: the same bases, other selectors */
	EXPECT_EQ(0x0d5e0010, rm_out(&r));
	EXPECT_EQ(0x0e5e0010, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.ds, rm_loaded_sel(0x40, 0), 0, 0xffff);
	EXPECT_SEG(s.es, rm_loaded_sel(0x1234, 0x2000), 0x20000, 0xffff);
	/* ES = 0x1234 again: now its base is 0x12340 */
	EXPECT_EQ(0x0e5e1235, rm_out(&r));
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.ds, rm_loaded_sel(0x40, 0), 0, 0xffff);
	EXPECT_SEG(s.es, 0x1234, 0x12340, 0xffff);
	EXPECT_EQ(OFF(rm_odd, rm_odd_hlt_end) + RM_CODE, rm_rip(&r));
	kvm_vm_free(r.vm);
}

/* ---------------------- 2. INT n, IRET, flags ---------------------- */

TEST(int_iret_flags)
{
	struct kvm_regs regs;
	struct rm r;

	rm_init(&r, rm_int, rm_int_end, true);
	rm_set_vector(&r, 0, 0x42, LIN(rm_int, rm_int_handler));

	EXPECT_EQ(0x4242, rm_out(&r));				/* BX */
	EXPECT_EQ(LIN(rm_int, rm_int_ret), rm_out(&r));		/* IP */
	EXPECT_EQ(0, rm_out(&r));				/* CS */
	/* FLAGS pushed: IF clear (CLI), bit 1; IOPL is not looked at */
	EXPECT_EQ(0x0002, rm_out(&r) & 0x0fff);
	/* FLAGS in the handler: IF and TF clear */
	EXPECT_EQ(0x0002, rm_out(&r) & 0x0fff);
	EXPECT_EQ(0x0202, rm_out(&r) & 0x0fff);			/* STI */
	EXPECT_EQ(0x0002, rm_out(&r) & 0x0fff);			/* CLI */
	/* POPF of OF DF IF SF ZF AF PF CF */
	EXPECT_EQ(0x0ed7, rm_out(&r) & 0x0fff);
	rm_hlt(&r);
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(LIN(rm_int, rm_int_hlt_end), regs.rip);
	/* what virtual-8086 mode sets is the hypervisor's, not the guest's */
	EXPECT_EQ(0, regs.rflags & X86_EFLAGS_VM);
	EXPECT_EQ(0, regs.rflags & X86_EFLAGS_IOPL);
	EXPECT_EQ(0x0cd7, regs.rflags);
	kvm_vm_free(r.vm);
}

/* ---------------------- 3. exceptions ---------------------- */

static void expect_exc(struct __test_metadata *_metadata, struct rm *r,
		       unsigned int vector, uint32_t ip)
{
	uint32_t v = rm_out(r);

	EXPECT_EQ((vector << 16) | ip, v)
		TH_LOG("wanted vector %u at IP 0x%x, got vector %u at IP 0x%x",
		       vector, ip, v >> 16, v & 0xffff);
	EXPECT_EQ(0, rm_out(r));	/* CS */
}

TEST(exceptions_through_ivt)
{
	struct rm r;

	rm_init(&r, rm_exc, rm_exc_end, true);
	rm_set_vector(&r, 0, 0, LIN(rm_exc, rm_exc_h0));
	rm_set_vector(&r, 0, 3, LIN(rm_exc, rm_exc_h3));
	rm_set_vector(&r, 0, 4, LIN(rm_exc, rm_exc_h4));
	rm_set_vector(&r, 0, 5, LIN(rm_exc, rm_exc_h5));
	rm_set_vector(&r, 0, 6, LIN(rm_exc, rm_exc_h6));
	rm_set_vector(&r, 0, 12, LIN(rm_exc, rm_exc_h12));
	rm_set_vector(&r, 0, 13, LIN(rm_exc, rm_exc_h13));

	/* faults push the faulting instruction, traps the next one */
	expect_exc(_metadata, &r, 0, LIN(rm_exc, rm_exc_div));
	expect_exc(_metadata, &r, 3, LIN(rm_exc, rm_exc_c2));
	expect_exc(_metadata, &r, 4, LIN(rm_exc, rm_exc_c3));
	expect_exc(_metadata, &r, 5, LIN(rm_exc, rm_exc_bound));
	expect_exc(_metadata, &r, 6, LIN(rm_exc, rm_exc_ud2));
	EXPECT_EQ(0x3e, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_exc, rm_exc_hlt_end), rm_rip(&r));
	kvm_vm_free(r.vm);
}

/*
 * Accesses past a segment's 64 KiB limit fault: #GP, #SS for SS.  On
 * AMD-V the CPU itself runs real mode, and QEMU TCG (the AMD test
 * machine) does not check data segment limits, so this runs on VT-x only.
 */
TEST(segment_limit_faults)
{
	struct rm r;

	if (xkvm_vendor_is_amd())
		SKIP(return, "the AMD test machine (QEMU TCG) checks no real-mode segment limits");
	rm_init(&r, rm_lim, rm_lim_end, true);
	rm_set_vector(&r, 0, 12, LIN(rm_lim, rm_lim_h12));
	rm_set_vector(&r, 0, 13, LIN(rm_lim, rm_lim_h13));
	wr32(r.mem + 0x10000, 0x600d0000);

	expect_exc(_metadata, &r, 13, LIN(rm_lim, rm_lim_gp));
	expect_exc(_metadata, &r, 12, LIN(rm_lim, rm_lim_ss));
	expect_exc(_metadata, &r, 13, LIN(rm_lim, rm_lim_gp32));
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_lim, rm_lim_hlt_end), rm_rip(&r));
	EXPECT_EQ(0x600d0000, rd32(r.mem + 0x10000));
	kvm_vm_free(r.vm);
}

/* ---------------------- 4. injected events ---------------------- */

/* The handler of vector 0x50 ran for an interrupt taken at @cs:@ip. */
static void expect_irq(struct __test_metadata *_metadata, struct rm *r,
		       uint16_t cs, uint32_t ip)
{
	uint32_t v = rm_out(r);

	EXPECT_EQ((0x50U << 16) | ip, v)
		TH_LOG("wanted the interrupt at IP 0x%x, got vector 0x%x IP 0x%x",
		       ip, v >> 16, v & 0xffff);
	EXPECT_EQ(cs, rm_out(r));
	/* FLAGS pushed: IF; in the handler: neither IF nor TF */
	EXPECT_EQ(X86_EFLAGS_IF, rm_out(r) & (X86_EFLAGS_IF | X86_EFLAGS_TF));
	EXPECT_EQ(0, rm_out(r) & (X86_EFLAGS_IF | X86_EFLAGS_TF));
}

static void rm_interrupt(struct rm *r, uint32_t vector)
{
	struct kvm_interrupt irq = { .irq = vector };

	TEST_ASSERT(!ioctl(r->vcpu->fd, KVM_INTERRUPT, &irq), "KVM_INTERRUPT");
}

TEST(external_interrupt)
{
	struct kvm_run *run;
	struct kvm_sregs s;
	uint64_t rip;
	struct rm r;

	rm_init(&r, rm_irq, rm_irq_end, true);
	rm_set_vector(&r, 0, 0x50, LIN(rm_irq, rm_irq_handler));
	run = r.vcpu->run;

	/* IF=0: nothing can be injected; ask for the window */
	EXPECT_EQ(0x11, rm_out(&r));
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->ready_for_interrupt_injection);
	run->request_interrupt_window = 1;
	EXPECT_EQ(0x12, rm_out(&r));
	EXPECT_EQ(0, run->ready_for_interrupt_injection);

	/* STI; NOP: the window opens at the loop, the interrupt goes there */
	rm_run(&r);
	TEST_ASSERT_KVM_EXIT_REASON(r.vcpu, KVM_EXIT_IRQ_WINDOW_OPEN);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	rip = rm_rip(&r);
	EXPECT_EQ(LIN(rm_irq, rm_irq_loop), rip);
	rm_interrupt(&r, 0x50);
	run->request_interrupt_window = 0;
	expect_irq(_metadata, &r, 0, rip);
	/* IRET went back to the loop, which saw BX = 1 */
	EXPECT_EQ(0x13, rm_out(&r));

	/* HLT with IF=1: RIP after it, and the interrupt returns there */
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_irq, rm_irq_after_hlt), rm_rip(&r));
	EXPECT_EQ(1, run->ready_for_interrupt_injection);
	rm_interrupt(&r, 0x50);
	expect_irq(_metadata, &r, 0, LIN(rm_irq, rm_irq_after_hlt));
	EXPECT_EQ(0x14, rm_out(&r));

	/* IRET to 0x120:0 sets IF: the window opens at IP 0 */
	EXPECT_EQ(0x15, rm_out(&r));
	EXPECT_EQ(0, run->ready_for_interrupt_injection);
	run->request_interrupt_window = 1;
	rm_run(&r);
	TEST_ASSERT_KVM_EXIT_REASON(r.vcpu, KVM_EXIT_IRQ_WINDOW_OPEN);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.cs, 0x0120, 0x1200, 0xffff);
	EXPECT_EQ(0, rm_rip(&r));
	EXPECT_EQ(0x200, OFF(rm_irq, rm_irq_seg));
	rm_interrupt(&r, 0x50);
	run->request_interrupt_window = 0;
	expect_irq(_metadata, &r, 0x0120, 0);
	EXPECT_EQ(0x16, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(OFF(rm_irq, rm_irq_hlt_end) - 0x200, rm_rip(&r));
	kvm_vm_free(r.vm);
}

/*
 * KVM_NMI: vector 2 through the vector table, regardless of IF.  A second
 * NMI while the handler runs waits for its IRET, except in virtual-8086
 * mode: there KVM delivers the NMI as it emulates an INT 2 and nothing
 * blocks the next one (vmx.c, vmx_inject_nmi() -> kvm_inject_realmode_
 * interrupt(), with no NMI blocking set), so it may nest.  Then an
 * exception KVM_SET_VCPU_EVENTS injects at a HLT.
 */
TEST(nmi_and_injected_exception)
{
	struct kvm_vcpu_events ev;
	uint32_t v, ip, nmis = 0, leaves = 0, seq[16], n = 0, i;
	bool nested = false;
	struct rm r;

	rm_init(&r, rm_nmi, rm_nmi_end, true);
	rm_set_vector(&r, 0, 2, LIN(rm_nmi, rm_nmi_handler));
	rm_set_vector(&r, 0, 6, LIN(rm_nmi, rm_nmi_ud));

	EXPECT_EQ(0x21, rm_out(&r));
	ASSERT_EQ(0, ioctl(r.vcpu->fd, KVM_NMI));
	/* taken right where the guest resumes */
	EXPECT_EQ((2U << 16) | LIN(rm_nmi, rm_nmi_loop), rm_out(&r));
	/* in the handler: NMIs are masked (not so in virtual-8086 mode) */
	ASSERT_EQ(0, ioctl(r.vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	if (!rm_is_vm86())
		EXPECT_EQ(1, ev.nmi.masked);
	ASSERT_EQ(0, ioctl(r.vcpu->fd, KVM_NMI));
	nmis = 1;
	for (;;) {
		v = rm_out(&r);
		ASSERT_LT(n, ARRAY_SIZE(seq));
		seq[n++] = v;
		if (v == 0x22)
			break;
		if (v == 0x2e)
			continue;
		if (v == 0x2f) {
			leaves++;
			continue;
		}
		ASSERT_EQ(2, v >> 16) TH_LOG("report 0x%x", v);
		ip = v & 0xffff;
		nmis++;
		if (ip >= LIN(rm_nmi, rm_nmi_loop) &&
		    ip < LIN(rm_nmi, rm_nmi_loop_end)) {
			/* after the first one's IRET */
			EXPECT_EQ(1, leaves);
		} else {
			nested = true;
			EXPECT_TRUE(ip > LIN(rm_nmi, rm_nmi_handler) &&
				    ip < LIN(rm_nmi, rm_nmi_ud))
				TH_LOG("second NMI at IP 0x%x", ip);
			if (ip == LIN(rm_nmi, rm_nmi_iret))
				TH_LOG("the second NMI came at the handler's IRET (IP 0x%x), before it ran: the handler was re-entered",
				       ip);
		}
		ASSERT_LE(nmis, 2);
	}
	EXPECT_EQ(2, nmis);
	EXPECT_EQ(2, leaves);
	if (nested) {
		EXPECT_TRUE(rm_is_vm86())
			TH_LOG("an NMI nested in the NMI handler");
		for (i = 0; i < n; i++)
			TH_LOG("report %u after the second KVM_NMI: 0x%x", i,
			       seq[i]);
	}

	/* IF=0 HLT; an exception the VMM injects is taken after it */
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_nmi, rm_nmi_after_hlt), rm_rip(&r));
	ASSERT_EQ(0, ioctl(r.vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = 6;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	ASSERT_EQ(0, ioctl(r.vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	EXPECT_EQ((6U << 16) | LIN(rm_nmi, rm_nmi_after_hlt), rm_out(&r));
	EXPECT_EQ(0x23, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_nmi, rm_nmi_hlt_end), rm_rip(&r));
	kvm_vm_free(r.vm);
}

/* ---------------------- 5. LGDT / LIDT ---------------------- */

TEST(lgdt_lidt_operand_size)
{
	const uint8_t *s1, *s2;
	struct kvm_sregs s;
	struct rm r;

	rm_init(&r, rm_dt, rm_dt_end, true);

	/* 16-bit operand size: 24 bits of base */
	EXPECT_EQ(0x51, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0x00bbccdd, s.gdt.base);
	EXPECT_EQ(0x1234, s.gdt.limit);
	EXPECT_EQ(0x52, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0x87654321, s.gdt.base);
	EXPECT_EQ(0x0fff, s.gdt.limit);
	EXPECT_EQ(0x53, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0x00223344, s.idt.base);
	EXPECT_EQ(0x03ff, s.idt.limit);
	EXPECT_EQ(0x54, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0x6000, s.idt.base);
	EXPECT_EQ(0x07ff, s.idt.limit);
	EXPECT_EQ(0x55, rm_out(&r));
	rm_hlt(&r);

	s1 = r.mem + LIN(rm_dt, rm_dt_s1);
	s2 = r.mem + LIN(rm_dt, rm_dt_s2);
	EXPECT_EQ(0x0fff, *(uint16_t *)s1);
	EXPECT_EQ(0x87654321, rd32(s1 + 2));
	/*
	 * xkvm's virtual-8086 mode gives the CPU an IDTR limit of 0 while
	 * the vector table is not the one at 0 (so that INT n faults and is
	 * delivered through the moved table), and SIDT stores that limit:
	 * CPUs with UMIP could trap SIDT, the test machine's cannot.
	 */
	EXPECT_EQ(rm_is_vm86() && !xkvm_reference_mode() ? 0 : 0x07ff,
		  *(uint16_t *)s2);
	EXPECT_EQ(0x6000, rd32(s2 + 2));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0, s.idt.base);
	EXPECT_EQ(0x3ff, s.idt.limit);
	EXPECT_EQ(0x87654321, s.gdt.base);
	kvm_vm_free(r.vm);
}

/*
 * In real mode IDTR.base locates the vector table.  Stock KVM's
 * virtual-8086 mode redirects INT n through the table at linear 0 whatever
 * IDTR says, so that configuration is skipped there; xkvm delivers through
 * the moved table in software (arch/x86/realmode_int.c).
 */
TEST(lidt_moves_vector_table)
{
	struct rm r;

	if (rm_is_vm86() && xkvm_reference_mode())
		SKIP(return, "stock KVM's virtual-8086 mode: INT n uses the vector table at 0");
	rm_init(&r, rm_ivt, rm_ivt_end, true);
	rm_set_vector(&r, 0, 0x42, LIN(rm_ivt, rm_ivt_lo));
	rm_set_vector(&r, RM_IVT2, 0x42, LIN(rm_ivt, rm_ivt_hi));
	EXPECT_EQ(0x6666, rm_out(&r));
	EXPECT_EQ(0x1111, rm_out(&r));
	rm_hlt(&r);
	kvm_vm_free(r.vm);
}

/* ---------------------- 6. mode transitions ---------------------- */

TEST(real_protected_real)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	uint64_t cr0;
	struct rm r;

	rm_init(&r, rm_pm, rm_pm_end, true);
	wr32(r.mem + RM_BIG + 4, 0x0b160004);
	wr32(r.mem + 0x20010, 0x0f500010);
	wr32(r.mem + 0x5010, 0x0d500010);
	vcpu_sregs_get(r.vcpu, &s);
	cr0 = s.cr0;
	EXPECT_EQ(0, cr0 & X86_CR0_PE);

	/* 32-bit protected mode, flat */
	EXPECT_EQ(0x0b160004, rm_out(&r));
	EXPECT_EQ((uint32_t)(cr0 | X86_CR0_PE), rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(cr0 | X86_CR0_PE, s.cr0);
	EXPECT_SEG(s.cs, 0x08, 0, 0xffffffff);
	EXPECT_EQ(1, s.cs.db);
	EXPECT_EQ(0xb, s.cs.type | 1);
	EXPECT_SEG(s.ds, 0x10, 0, 0xffffffff);
	EXPECT_SEG(s.ss, 0x10, 0, 0xffffffff);
	EXPECT_SEG(s.fs, 0x10, 0, 0xffffffff);
	EXPECT_EQ(0x32323232, rd32(r.mem + RM_BIG));
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(0x9000, regs.rsp);

	/* back in real mode: CS 0x80, FS still the 0x28 descriptor's */
	EXPECT_EQ(0x0f500010, rm_out(&r));
	EXPECT_EQ(0x0d500010, rm_out(&r));
	EXPECT_EQ((uint32_t)cr0, rm_out(&r));
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(cr0, s.cr0);
	EXPECT_SEG(s.cs, 0x0080, 0x800, 0xffff);
	EXPECT_SEG(s.ds, 0x0500, 0x5000, 0xffff);
	EXPECT_SEG(s.es, 0x0600, 0x6000, 0xffff);
	EXPECT_SEG(s.ss, 0x0700, 0x7000, 0xffff);
	EXPECT_SEG(s.fs, 0x28, 0x20000, 0xffff);
	EXPECT_SEG(s.gs, 0x28, 0x20000, 0xffff);
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(0x800 + OFF(rm_pm, rm_pm_hlt_end), regs.rip);
	EXPECT_EQ(0x0ffc, regs.rsp);
	EXPECT_EQ(0x76543210, rd32(r.mem + 0x7000 + 0x0ffc));
	EXPECT_EQ(0, regs.rflags & (X86_EFLAGS_VM | X86_EFLAGS_IOPL));
	kvm_vm_free(r.vm);
}

/*
 * MOV to CR0 sets PE while DS and SS hold real-mode values, SS with RPL 3
 * (0x0123): until the far jump the guest runs 16-bit protected mode at
 * CPL 0 on those hidden bases, and KVM_GET_SREGS shows them as they are.
 */
TEST(protected_mode_with_real_mode_segments)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	struct rm r;

	rm_init(&r, rm_pe, rm_pe_end, true);
	wr32(r.mem + 0x7c40, 0x07c30010);
	EXPECT_EQ(0x07c30010, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(X86_CR0_PE, s.cr0 & X86_CR0_PE);
	EXPECT_SEG(s.cs, 0, 0, 0xffff);
	EXPECT_SEG(s.ds, 0x07c3, 0x7c30, 0xffff);
	EXPECT_SEG(s.ss, 0x0123, 0x1230, 0xffff);
	EXPECT_EQ(0x77665544, rm_out(&r));
	EXPECT_EQ(0x77665544, rd32(r.mem + 0x1230 + 0x0efc));
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(0x0f00, regs.rsp & 0xffff);

	EXPECT_EQ(0x07c30010, rm_out(&r));
	EXPECT_EQ(0x11335577, rd32(r.mem + 0x1230 + 0x0efc));
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.cs, 0x08, 0, 0xffffffff);
	EXPECT_SEG(s.ds, 0x10, 0, 0xffffffff);
	EXPECT_SEG(s.ss, 0x10, 0, 0xffffffff);
	kvm_vm_free(r.vm);
}

/* ---------------------- 7. big real mode ---------------------- */

TEST(big_real_mode)
{
	struct kvm_sregs s;
	struct rm r;

	rm_init(&r, rm_big, rm_big_end, true);
	wr32(r.mem + RM_BIG + 4, 0x0b160004);

	EXPECT_EQ(0xcafef00d, rm_out(&r));
	EXPECT_EQ(0xcafef00d, rd32(r.mem + RM_BIG));
	EXPECT_EQ(0x0b160004, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(0, s.cr0 & X86_CR0_PE);
	/* the far jump to real mode loaded CS = 0 */
	EXPECT_SEG(s.cs, rm_loaded_sel(0x18, 0), 0, 0xffff);
	/* FS as protected mode loaded it */
	EXPECT_SEG(s.fs, 0x10, 0, 0xffffffff);

	/* FS = 0 in real mode: selector and base, the limit stays */
	EXPECT_EQ(0x71, rm_out(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.fs, rm_loaded_sel(0x10, 0), 0, 0xffffffff);
	EXPECT_EQ(0x600dd00d, rm_out(&r));
	EXPECT_EQ(0x600dd00d, rd32(r.mem + RM_BIG + 8));

	/* FS = 0x1000: base 0x10000, still 4 GiB */
	EXPECT_EQ(0xbeefcafe, rm_out(&r));
	EXPECT_EQ(0xbeefcafe, rd32(r.mem + RM_BIG + 0xc));
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.fs, 0x1000, 0x10000, 0xffffffff);
	EXPECT_EQ(0, s.cr0 & X86_CR0_PE);
	kvm_vm_free(r.vm);
}

TEST(big_real_mode_stack_segment)
{
	struct kvm_sregs s;
	struct rm r;

	rm_init(&r, rm_bigss, rm_bigss_end, true);
	rm_set_vector(&r, 0, 12, LIN(rm_bigss, rm_bigss_h12));
	wr32(r.mem + RM_BIG + 0x44, 0x0b160044);
	EXPECT_EQ(0x0b160044, rm_out(&r));
	EXPECT_EQ(0x55aa55aa, rm_out(&r));
	EXPECT_EQ(0x55aa55aa, rd32(r.mem + RM_BIG + 0x40));
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.ss, 0x10, 0, 0xffffffff);
	kvm_vm_free(r.vm);
}

TEST(big_real_mode_string_ops)
{
	struct kvm_regs regs;
	struct rm r;
	int i;

	rm_init(&r, rm_bigstr, rm_bigstr_end, true);
	wr32(r.mem + RM_BIG + 0x200, 0x0b160200);
	EXPECT_EQ(0x200110, rm_out(&r));
	EXPECT_EQ(0x200110, rm_out(&r));
	EXPECT_EQ(0x0b160200, rm_out(&r));
	rm_hlt(&r);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0x5a5a5a5a, rd32(r.mem + RM_BIG + 0x100 + 4 * i));
		EXPECT_EQ(0x5a5a5a5a, rd32(r.mem + 0x300000 + 4 * i));
	}
	EXPECT_EQ(0, rd32(r.mem + RM_BIG + 0x110));
	EXPECT_EQ(0, rd32(r.mem + 0x300010));
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(0x200204, regs.rsi);
	EXPECT_EQ(0x300010, regs.rdi);
	EXPECT_EQ(0, regs.rcx);
	kvm_vm_free(r.vm);
}

/* ---------------------- 8. HLT, control registers ---------------------- */

TEST(hlt_and_control_registers)
{
	const uint64_t cr0 = X86_CR0_ET | X86_CR0_NE;
	struct kvm_sregs s;
	struct kvm_regs regs;
	struct rm r;

	rm_init(&r, rm_cr, rm_cr_end, true);
	vcpu_sregs_get(r.vcpu, &s);
	s.cs.selector = 0x0100;
	s.cs.base = 0x1000;
	s.cr0 = cr0;
	s.cr3 = 0x00123000;
	s.cr4 = 0;
	vcpu_sregs_set(r.vcpu, &s);
	vcpu_regs_get(r.vcpu, &regs);
	regs.rip = 0;
	vcpu_regs_set(r.vcpu, &regs);

	EXPECT_EQ(cr0, rm_out(&r));
	EXPECT_EQ(0x00123000, rm_out(&r));
	EXPECT_EQ(0, rm_out(&r));			/* CR4: no VME */
	EXPECT_EQ(0x10, rm_out(&r));			/* CR4.PSE */
	EXPECT_EQ(cr0 | X86_CR0_TS, rm_out(&r));
	EXPECT_EQ(cr0, rm_out(&r));			/* CLTS */
	EXPECT_EQ(cr0 | X86_CR0_MP | X86_CR0_TS, rm_out(&r));	/* LMSW */
	EXPECT_EQ((cr0 | X86_CR0_MP | X86_CR0_TS) & 0xffff, rm_out(&r));
	EXPECT_EQ(0xabcd, rm_out(&r));			/* RDMSR */
	rm_hlt(&r);

	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(OFF(rm_cr, rm_cr_hlt_end), regs.rip);
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(cr0 | X86_CR0_MP, s.cr0);
	EXPECT_EQ(0x00345000, s.cr3);
	EXPECT_EQ(0x10, s.cr4);
	EXPECT_SEG(s.cs, 0x0100, 0x1000, 0xffff);
	EXPECT_EQ(0xabcd, vcpu_get_msr(r.vcpu, MSR_IA32_SYSENTER_CS));

	/* the same HLT once more, from KVM_SET_REGS */
	regs.rip = OFF(rm_cr, rm_cr_hlt_end) - 1;
	vcpu_regs_set(r.vcpu, &regs);
	rm_hlt(&r);
	EXPECT_EQ(OFF(rm_cr, rm_cr_hlt_end), rm_rip(&r));
	kvm_vm_free(r.vm);
}

TEST(lmsw_smsw_memory_operand)
{
	struct kvm_sregs s;
	uint64_t cr0;
	struct rm r;

	rm_init(&r, rm_msw, rm_msw_end, true);
	vcpu_sregs_get(r.vcpu, &s);
	cr0 = s.cr0;
	EXPECT_EQ(cr0 & 0xffff, rm_out(&r));
	EXPECT_EQ(cr0 & 0xffff, *(uint16_t *)(r.mem + 0x8000));
	/* LMSW sets MP and EM; it cannot clear PE, nor set PG or the rest */
	EXPECT_EQ((uint32_t)(cr0 | X86_CR0_MP | X86_CR0_EM), rm_out(&r));
	EXPECT_EQ(0x77, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_msw, rm_msw_hlt_end), rm_rip(&r));
	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_EQ(cr0 | X86_CR0_MP | X86_CR0_EM, s.cr0);
	kvm_vm_free(r.vm);
}

/* ---------------------- 9. the virtual-8086 TSS ---------------------- */

/* A byte pattern no guest or TSS write reproduces by chance. */
static uint8_t pat(uint64_t gpa)
{
	return (uint8_t)((gpa * 0x9e3779b1ULL) >> 13) | 1;
}

/*
 * Run rm_mix in a VM whose memory is all pattern (but for the vector
 * table, stubs, code and stack); afterwards every other byte of guest
 * memory must be as it was: nothing of a TSS (the I/O map base 0x2088 at
 * 0x66, the all-ones byte at 0x2088, zeros) lands in the guest's RAM.
 */
static void run_mix_untouched(struct __test_metadata *_metadata, bool tss)
{
	uint8_t *snap;
	uint64_t a, bad = 0, first = 0;
	struct rm r;

	rm_init(&r, rm_mix, rm_mix_end, tss);
	for (a = 0x1000 + (rm_mix_end - rm_mix); a < RM_MEM_SIZE; a++)
		r.mem[a] = pat(a);
	memcpy(r.mem + RM_GDT, rm_gdt, sizeof(rm_gdt));
	memset(r.mem + RM_STACK_TOP - 0x1000, 0, 0x1000);
	rm_set_vector(&r, 0, 0x42, LIN(rm_mix, rm_mix_handler));
	rm_set_vector(&r, 0, 0x50, LIN(rm_mix, rm_mix_handler));
	rm_set_vector(&r, 0, 0, LIN(rm_mix, rm_mix_h0));
	rm_set_vector(&r, 0, 6, LIN(rm_mix, rm_mix_h6));
	snap = malloc(RM_MEM_SIZE);
	ASSERT_NE(NULL, snap);
	memcpy(snap, r.mem, RM_MEM_SIZE);

	EXPECT_EQ(2, rm_out(&r));
	rm_run(&r);
	TEST_ASSERT_KVM_EXIT_REASON(r.vcpu, KVM_EXIT_IO);
	EXPECT_EQ(KVM_EXIT_IO_IN, r.vcpu->run->io.direction);
	EXPECT_EQ(0x1102, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(LIN(rm_mix, rm_mix_hlt) + 1, rm_rip(&r));
	EXPECT_EQ(1, r.vcpu->run->ready_for_interrupt_injection);
	rm_interrupt(&r, 0x50);
	EXPECT_EQ(0x1103, rm_out(&r));
	rm_hlt(&r);

	for (a = 0; a < RM_MEM_SIZE; a++) {
		if (a >= RM_STACK_TOP - 0x1000 && a < RM_STACK_TOP)
			continue;
		if (r.mem[a] != snap[a] && !bad++)
			first = a;
	}
	EXPECT_EQ(0, bad)
		TH_LOG("%llu bytes of guest memory changed, the first at 0x%llx: 0x%02x, was 0x%02x",
		       (unsigned long long)bad, (unsigned long long)first,
		       r.mem[first], snap[first]);
	free(snap);
	kvm_vm_free(r.vm);
}

/* Stock KVM in virtual-8086 mode cannot run INT n without KVM_SET_TSS_ADDR. */
static bool kvm_needs_tss_addr(void)
{
	return rm_is_vm86() && xkvm_reference_mode();
}

TEST(tss_addr_guest_memory_untouched)
{
	run_mix_untouched(_metadata, true);
}

/*
 * Without KVM_SET_TSS_ADDR: nothing needs it but stock KVM in
 * virtual-8086 mode (see the top of the file); xkvm's default TSS there
 * is no guest memory either.
 */
TEST(no_tss_addr_guest_memory_untouched)
{
	if (kvm_needs_tss_addr())
		SKIP(return, "stock KVM in virtual-8086 mode needs KVM_SET_TSS_ADDR");
	run_mix_untouched(_metadata, false);
}

/*
 * KVM_SET_TSS_ADDR at an address that is guest RAM below 1 MiB: KVM's
 * private slot collides with the RAM slot (EEXIST) where it needs a TSS,
 * and the VMM then gives it a proper one; otherwise the call succeeds and
 * must not hand the guest's RAM to a TSS.  Both calls come before the
 * vCPU: KVM takes the address when a vCPU enters real mode (enter_rmode(),
 * at its creation), a later call does not move that vCPU's TSS.
 */
TEST(tss_addr_in_guest_ram)
{
	uint8_t *snap;
	uint64_t a, bad = 0;
	struct rm r;
	int ret;

	rm_init_mem(&r, rm_mix, rm_mix_end, false);
	ret = ioctl(r.vm->fd, KVM_SET_TSS_ADDR, 0x20000UL);
	if (ret) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EEXIST, errno);
		EXPECT_TRUE(rm_is_vm86());
		ASSERT_EQ(0, ioctl(r.vm->fd, KVM_SET_TSS_ADDR, RM_TSS_ADDR));
	}
	rm_init_vcpu(&r);
	for (a = 0x20000; a < 0x23000; a++)
		r.mem[a] = pat(a);
	rm_set_vector(&r, 0, 0x42, LIN(rm_mix, rm_mix_handler));
	rm_set_vector(&r, 0, 0x50, LIN(rm_mix, rm_mix_handler));
	rm_set_vector(&r, 0, 0, LIN(rm_mix, rm_mix_h0));
	rm_set_vector(&r, 0, 6, LIN(rm_mix, rm_mix_h6));
	snap = malloc(RM_MEM_SIZE);
	ASSERT_NE(NULL, snap);
	memcpy(snap, r.mem, RM_MEM_SIZE);

	EXPECT_EQ(2, rm_out(&r));
	rm_run(&r);
	TEST_ASSERT_KVM_EXIT_REASON(r.vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0x1102, rm_out(&r));
	rm_hlt(&r);
	rm_interrupt(&r, 0x50);
	EXPECT_EQ(0x1103, rm_out(&r));
	rm_hlt(&r);
	for (a = 0x20000; a < 0x23000; a++)
		bad += r.mem[a] != snap[a];
	EXPECT_EQ(0, bad);
	free(snap);
	kvm_vm_free(r.vm);
}

/*
 * Guest memory where the TSS is (KVM_SET_TSS_ADDR's, or none given and
 * memory around 0xfeffd000, xkvm's default): protected mode must read and
 * write the guest's memory there, and real mode still runs.  KVM's private
 * TSS slot refuses the overlapping memory slot with EEXIST.
 */
static void run_hi(struct __test_metadata *_metadata, bool tss,
		   uint64_t slot_gpa, uint64_t slot_size, uint32_t base)
{
	struct kvm_regs regs;
	uint32_t *hi;
	uint64_t i;
	struct rm r;
	int ret;

	rm_init(&r, rm_hi, rm_hi_end, tss);
	rm_set_vector(&r, 0, 0x42, LIN(rm_hi, rm_hi_handler));
	hi = mmap(NULL, slot_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hi);
	for (i = 0; i < slot_size / 4; i++)
		hi[i] = 0xc0000000U | (uint32_t)((slot_gpa + 4 * i) >> 2);
	ret = __vm_set_user_memory_region(r.vm, 1, 0, slot_gpa, slot_size, hi);
	if (ret) {
		EXPECT_EQ(EEXIST, errno);
		EXPECT_TRUE(tss && rm_is_vm86());
		goto out;
	}
	vcpu_regs_get(r.vcpu, &regs);
	regs.rsi = base;
	vcpu_regs_set(r.vcpu, &regs);

	EXPECT_EQ(1, rm_out(&r));
	EXPECT_EQ(0xc0000000U | (base >> 2), rm_out(&r));
	EXPECT_EQ(0xc0000000U | ((base + 0x64) >> 2), rm_out(&r));
	EXPECT_EQ(0xc0000000U | ((base + 0x1010) >> 2), rm_out(&r));
	EXPECT_EQ(0xc0000000U | ((base + 0x2088) >> 2), rm_out(&r));
	EXPECT_EQ(0x5eed0001, rm_out(&r));
	EXPECT_EQ(0x5eed0002, rm_out(&r));
	EXPECT_EQ(0x5eed0003, rm_out(&r));
	EXPECT_EQ(2, rm_out(&r));
	rm_hlt(&r);
	EXPECT_EQ(0x5eed0001, hi[(base + 0x64 - slot_gpa) / 4]);
	EXPECT_EQ(0x5eed0002, hi[(base + 0x1010 - slot_gpa) / 4]);
	EXPECT_EQ(0x5eed0003, hi[(base + 0x2088 - slot_gpa) / 4]);
	EXPECT_EQ(0xc0000000U | ((base + 0x68) >> 2),
		  hi[(base + 0x68 - slot_gpa) / 4]);
out:
	kvm_vm_free(r.vm);
	munmap(hi, slot_size);
}

TEST(guest_memory_at_tss_addr)
{
	run_hi(_metadata, true, 0xfffb0000ULL, 0x50000, RM_TSS_ADDR);
}

TEST(guest_memory_at_default_tss)
{
	if (kvm_needs_tss_addr())
		SKIP(return, "stock KVM in virtual-8086 mode needs KVM_SET_TSS_ADDR");
	run_hi(_metadata, false, 0xfef00000ULL, 0x100000, 0xfeffd000U);
}

/*
 * The reset state: CS 0xf000 with base 0xffff0000, IP 0xfff0.  The first
 * instruction comes from 0xfffffff0 (below it, firmware's usual alias
 * below 1 MiB holds a far jump elsewhere).  xkvm without unrestricted
 * guest runs a CS base above 1 MiB at its paragraph below 1 MiB
 * (vmx_rmode.c, as KVM with emulate_invalid_guest_state=0), i.e. at the
 * alias: allowed there, and said so.
 */
TEST(reset_vector)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	uint8_t *bios;
	struct rm r;
	uint32_t v;

	r.vm = vm_create_barebones();
	ASSERT_EQ(0, ioctl(r.vm->fd, KVM_SET_TSS_ADDR, RM_TSS_ADDR));
	r.mem = vm_mem_region_add(r.vm, 0, 0, RM_MEM_SIZE, 0);
	bios = vm_mem_region_add(r.vm, 1, 0xffff0000ULL, 0x10000, 0);
	memcpy(bios + 0xfff0, rm_rst, rm_rst_end - rm_rst);
	memcpy(r.mem + 0xffff0, rm_rst, rm_rst_end - rm_rst);
	r.mem[0xffff0 + 4] = 0x10;	/* the alias jumps to 0x1000:0 */
	/* mov $n, %eax; out %eax, $RM_PORT; hlt */
	memcpy(r.mem + 0x1000, "\x66\xb8\x01\x00\x00\x00\x66\xe7\xe0\xf4", 10);
	memcpy(r.mem + 0x10000, "\x66\xb8\x02\x00\x00\x00\x66\xe7\xe0\xf4", 10);
	r.vcpu = vm_vcpu_add_raw(r.vm, 0);

	vcpu_sregs_get(r.vcpu, &s);
	EXPECT_SEG(s.cs, 0xf000, 0xffff0000ULL, 0xffff);
	EXPECT_EQ(0, s.cr0 & X86_CR0_PE);
	vcpu_regs_get(r.vcpu, &regs);
	EXPECT_EQ(0xfff0, regs.rip);

	v = rm_out(&r);
	if (v == 2 && rm_is_vm86() && !xkvm_reference_mode())
		TH_LOG("xkvm ran the reset vector at its alias 0xffff0");
	else
		EXPECT_EQ(1, v);
	rm_hlt(&r);
	vcpu_sregs_get(r.vcpu, &s);
	if (v == 2)
		EXPECT_SEG(s.cs, 0x1000, 0x10000, 0xffff);
	else
		EXPECT_SEG(s.cs, 0x0100, 0x1000, 0xffff);
	EXPECT_EQ(10, rm_rip(&r));
	kvm_vm_free(r.vm);
}

TEST_HARNESS_MAIN
