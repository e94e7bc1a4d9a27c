/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx_vmenter.S - the VT-x world switch.
 *
 * int xkvm_vmx_vmenter(u64 *regs, bool launched)
 *
 * Called with interrupts off and the vCPU's VMCS current.  Saves the
 * host's callee-saved registers, points HOST_RSP at the stack as it is at
 * VMLAUNCH/VMRESUME, loads the guest's general-purpose registers from
 * regs[] (hardware order; RSP lives in the VMCS) and enters the guest.
 *
 * HOST_RIP is xkvm_vmx_vmexit, the instruction right after VMRESUME, so a
 * VM exit and a failed VMLAUNCH/VMRESUME continue at the same place with
 * the same stack.  They differ in RFLAGS: a VM exit clears CF and ZF,
 * VMfailInvalid sets CF, VMfailValid sets ZF.  The guest's registers are
 * then stored back into regs[], and the scratch registers are cleared of
 * guest values.  Returns 0 after a VM exit, 1 on VMfailValid, 2 on
 * VMfailInvalid.
 *
 * Speculation defences, as the host kernel's mitigation state asks
 * (Documentation/speculation.md): VERW right before the entry
 * (X86_FEATURE_CLEAR_CPU_BUF_VM; it clobbers ZF, so "launched" travels in
 * CF); after the exit, before any RET: the RSB is filled (or one entry,
 * with eIBRS), legacy IBRS rewritten (xkvm_x86_spec_ctrl_restore_host) and
 * the branch history cleared (CLEAR_BRANCH_HISTORY_VMEXIT).  A VMX
 * instruction that faults because VMX was turned off under us (crash,
 * emergency reboot) returns as VMfailInvalid.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/ibt.h>
#include <asm/nospec-branch.h>

#define VMCS_HOST_RSP	0x6c14

#define R_RAX	(0 * 8)
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

SYM_FUNC_START(xkvm_vmx_vmenter)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* regs */

	/* The stack from here on is what the VM exit comes back to. */
	mov	$VMCS_HOST_RSP, %eax
1:	vmwrite	%rsp, %rax
	jbe	.Lfail_early		/* no current VMCS: report the failure */

	/* CF = launched; mov and VERW leave CF alone */
	bt	$0, %esi

	mov	R_RAX(%rdi), %rax
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

	VM_CLEAR_CPU_BUFFERS
	jc	.Lresume
2:	vmlaunch
	jmp	.Lexit			/* VMLAUNCH failed; RFLAGS say how */
.Lresume:
3:	vmresume

SYM_INNER_LABEL(xkvm_vmx_vmexit, SYM_L_GLOBAL)
	/* a VM exit lands here (HOST_RIP) */
	ENDBR
.Lexit:
	/* Nothing below may change RFLAGS until the setz/setc. */
	push	%rdi			/* guest RDI */
	mov	8(%rsp), %rdi		/* regs */
	mov	%rax, R_RAX(%rdi)
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
	pop	R_RDI(%rdi)

	setz	%al			/* VMfailValid */
	setc	%dl			/* VMfailInvalid */
	movzbl	%al, %eax
	movzbl	%dl, %edx
	lea	(%rax, %rdx, 2), %eax

	/* Guest RSB entries must not steer host returns. */
	push	%rax
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE
	call	xkvm_x86_spec_ctrl_restore_host
	CLEAR_BRANCH_HISTORY_VMEXIT
	pop	%rax

	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	pop	%rdi
.Lpop:
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET

.Lfail_early:
	/* regs[] still holds the guest's registers: leave it alone */
	setz	%al
	setc	%dl
	movzbl	%al, %eax
	movzbl	%dl, %edx
	lea	(%rax, %rdx, 2), %eax
	pop	%rdi
	jmp	.Lpop

	/*
	 * VMX instructions fault (#UD) once VMX is off on this CPU (crash,
	 * emergency reboot): report VMfailInvalid (CF=1, ZF=0) instead.
	 */
.Lfault_early:
	push	$1
	popf
	jmp	.Lfail_early
.Lfault:
	push	$1
	popf
	jmp	.Lexit

	_ASM_EXTABLE(1b, .Lfault_early)
	_ASM_EXTABLE(2b, .Lfault)
	_ASM_EXTABLE(3b, .Lfault)
SYM_FUNC_END(xkvm_vmx_vmenter)
