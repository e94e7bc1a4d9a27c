/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_entry.S - guest-side entry points of the selftest library.
 *
 * Owns the 256 IDT entry stubs (16 bytes apart from guest_idt_stubs, so the
 * host computes a vector's stub address without a table), the common
 * exception path that builds a struct ex_regs and calls
 * guest_exception_dispatch(), and guest_return_trap, the return address the
 * host puts on a guest stack so that returning from the guest function ends
 * the guest with GUEST_DONE.  Runs only in the guest, at CPL 0, long mode.
 */

	.text
	.code64

	.balign 16
	.globl guest_idt_stubs
guest_idt_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	/* The CPU pushes an error code for these vectors only. */
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || \
	    (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || \
	    (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp guest_isr_common
	.set vec, vec + 1
	.endr

/* Stack on entry: vector, error code, RIP, CS, RFLAGS, RSP, SS. */
guest_isr_common:
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rdi
	pushq %rsi
	pushq %rbp
	pushq %rbx
	pushq %rdx
	pushq %rcx
	pushq %rax
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	cld
	call guest_exception_dispatch
	movq %rbx, %rsp
	popq %rax
	popq %rcx
	popq %rdx
	popq %rbx
	popq %rbp
	popq %rsi
	popq %rdi
	popq %r8
	popq %r9
	popq %r10
	popq %r11
	popq %r12
	popq %r13
	popq %r14
	popq %r15
	addq $16, %rsp
	iretq

	.balign 16
	.globl guest_return_trap
guest_return_trap:
	andq $-16, %rsp
	call ucall_done
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
