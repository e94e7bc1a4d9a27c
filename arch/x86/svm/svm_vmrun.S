/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svm_vmrun.S - the AMD-V world switch.
 *
 * void xkvm_svm_vmrun(u64 *regs, u64 guest_vmcb_pa, u64 host_vmcb_pa)
 *
 * Called with GIF=0.  Saves the host's callee-saved registers, VMSAVEs the
 * host's hidden state, loads the guest's general-purpose registers from
 * regs[] (hardware order; RAX and RSP live in the VMCB), VMLOAD + VMRUN,
 * and on #VMEXIT stores them back, VMLOADs the host state and clears
 * guest values out of the scratch registers.  No per-CPU data may be
 * touched between VMLOAD guest and VMLOAD host: GS is the guest's then.
 *
 * Speculation defences, as the host kernel's mitigation state asks
 * (Documentation/speculation.md): VERW right before VMRUN
 * (X86_FEATURE_CLEAR_CPU_BUF_VM); after #VMEXIT, before any RET: the RSB
 * is filled, legacy IBRS rewritten (xkvm_x86_spec_ctrl_restore_host), and
 * return predictions untrained (UNTRAIN_RET, with the IBPB-on-VM-exit
 * variant where the kernel has it).  An SVM instruction that faults
 * because EFER.SVME was cleared under us (crash, emergency reboot) is
 * skipped (exception table).
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#define R_RCX	(1 * 8)
#define R_RDX	(2 * 8)
#define R_RBX	(3 * 8)
#define R_RBP	(5 * 8)
#define R_RSI	(6 * 8)
#define R_RDI	(7 * 8)
#define R_R8	(8 * 8)
#define R_R9	(9 * 8)
#define R_R10	(10 * 8)
#define R_R11	(11 * 8)
#define R_R12	(12 * 8)
#define R_R13	(13 * 8)
#define R_R14	(14 * 8)
#define R_R15	(15 * 8)

	.section .text, "ax"

SYM_FUNC_START(xkvm_svm_vmrun)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* regs */
	push	%rsi			/* guest VMCB */
	push	%rdx			/* host save page */

	mov	%rdx, %rax
1:	vmsave	%rax
2:

	mov	%rsi, %rax
	mov	R_RCX(%rdi), %rcx
	mov	R_RDX(%rdi), %rdx
	mov	R_RBX(%rdi), %rbx
	mov	R_RBP(%rdi), %rbp
	mov	R_RSI(%rdi), %rsi
	mov	R_R8(%rdi), %r8
	mov	R_R9(%rdi), %r9
	mov	R_R10(%rdi), %r10
	mov	R_R11(%rdi), %r11
	mov	R_R12(%rdi), %r12
	mov	R_R13(%rdi), %r13
	mov	R_R14(%rdi), %r14
	mov	R_R15(%rdi), %r15
	mov	R_RDI(%rdi), %rdi

3:	vmload	%rax
4:
	/* clobbers EFLAGS.ZF only */
	VM_CLEAR_CPU_BUFFERS
5:	vmrun	%rax
6:	vmsave	%rax
7:

	/* stack: guest rdi, host save page, guest VMCB, regs */
	push	%rdi
	mov	3 * 8(%rsp), %rdi
	mov	%rcx, R_RCX(%rdi)
	mov	%rdx, R_RDX(%rdi)
	mov	%rbx, R_RBX(%rdi)
	mov	%rbp, R_RBP(%rdi)
	mov	%rsi, R_RSI(%rdi)
	mov	%r8, R_R8(%rdi)
	mov	%r9, R_R9(%rdi)
	mov	%r10, R_R10(%rdi)
	mov	%r11, R_R11(%rdi)
	mov	%r12, R_R12(%rdi)
	mov	%r13, R_R13(%rdi)
	mov	%r14, R_R14(%rdi)
	mov	%r15, R_R15(%rdi)
	pop	%rax
	mov	%rax, R_RDI(%rdi)

	pop	%rax			/* host save page */
8:	vmload	%rax
9:
	pop	%rsi
	pop	%rdi

	/* Guest RSB entries must not steer host returns. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT
	call	xkvm_x86_spec_ctrl_restore_host
#ifdef UNTRAIN_RET_VM
	UNTRAIN_RET_VM
#else
	UNTRAIN_RET
#endif

	xor	%eax, %eax
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET

	/*
	 * SVM instructions fault (#UD) once EFER.SVME was cleared under us
	 * (crash, emergency reboot): go on past them; the CPU is being
	 * stopped anyway, and the guest did not run.
	 */
	_ASM_EXTABLE(1b, 2b)
	_ASM_EXTABLE(3b, 4b)
	_ASM_EXTABLE(5b, 6b)
	_ASM_EXTABLE(6b, 7b)
	_ASM_EXTABLE(8b, 9b)
SYM_FUNC_END(xkvm_svm_vmrun)
