// SPDX-License-Identifier: GPL-2.0
/*
 * ucall.c - guest-to-host calls over port I/O, both sides.
 *
 * Owns the guest half (ucall(), ucall_assert(), the exception dispatcher the
 * IDT stubs call) and the host half (get_ucall(), vcpu_run_ucall() and the
 * text of guest failures).  Guest functions here run inside the VM: they
 * use no libc, no TLS and only the guest stack.
 */
#include <stdio.h>
#include <stdlib.h>

#include "xkvm_util.h"

/* ---------------------------- guest side ---------------------------- */

/* Filled in by the host (vm_install_exception_handler) in the guest's copy. */
guest_exception_handler_t guest_exception_handlers[256];

static void ucall_send(struct ucall *uc)
{
	/* Guest stacks live below 4 GiB: the address fits a 32-bit OUT. */
	__asm__ __volatile__("outl %0, %1"
			     : : "a"((uint32_t)(uintptr_t)uc),
				 "Nd"((uint16_t)UCALL_PORT)
			     : "memory");
}

void ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct ucall uc;

	uc.cmd = cmd;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = a2;
	uc.args[3] = a3;
	uc.file = NULL;
	uc.expr = NULL;
	uc.line = 0;
	uc.assert_kind = 0;
	ucall_send(&uc);
}

void ucall_print(const char *msg, uint64_t a0, uint64_t a1)
{
	struct ucall uc;

	uc.cmd = UCALL_PRINT;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = 0;
	uc.args[3] = 0;
	uc.file = NULL;
	uc.expr = msg;
	uc.line = 0;
	uc.assert_kind = 0;
	ucall_send(&uc);
}

void ucall_assert(const char *file, uint32_t line, const char *expr,
		  uint32_t kind, uint64_t a, uint64_t b)
{
	struct ucall uc;

	uc.cmd = UCALL_ABORT;
	uc.args[0] = a;
	uc.args[1] = b;
	uc.args[2] = 0;
	uc.args[3] = 0;
	uc.file = file;
	uc.expr = expr;
	uc.line = line;
	uc.assert_kind = kind;
	for (;;) {
		ucall_send(&uc);
		hlt();
	}
}

void ucall_done(void)
{
	for (;;) {
		ucall(UCALL_DONE, 0, 0, 0, 0);
		hlt();
	}
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* Called by guest_isr_common (guest_entry.S). */
void guest_exception_dispatch(struct ex_regs *regs);
void guest_exception_dispatch(struct ex_regs *regs)
{
	guest_exception_handler_t handler;

	handler = guest_exception_handlers[regs->vector & 0xff];
	if (handler) {
		handler(regs);
		return;
	}
	for (;;) {
		ucall(UCALL_EXCEPTION, regs->vector, regs->error_code,
		      regs->rip, read_cr2());
		hlt();
	}
}

/* ----------------------------- host side ----------------------------- */

uint64_t get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_run *run = vcpu->run;
	uint32_t gva;

	memset(uc, 0, sizeof(*uc));
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != UCALL_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 ||
	    run->io.count != 1)
		return UCALL_NONE;

	memcpy(&gva, vcpu_io_data(vcpu), sizeof(gva));
	memcpy(uc, addr_gva2hva(vcpu->vm, gva), sizeof(*uc));
	return uc->cmd;
}

static const char *vector_name(uint64_t vector)
{
	static const char * const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	return vector < ARRAY_SIZE(names) ? names[vector] : "interrupt";
}

const char *ucall_describe(struct ucall *uc)
{
	static char buf[1024];

	switch (uc->cmd) {
	case UCALL_ABORT:
		switch (uc->assert_kind) {
		case UCALL_ASSERT_EQ:
		case UCALL_ASSERT_NE:
			snprintf(buf, sizeof(buf),
				 "guest assertion failed at %s:%u: %s (0x%llx, 0x%llx)",
				 uc->file, uc->line, uc->expr,
				 (unsigned long long)uc->args[0],
				 (unsigned long long)uc->args[1]);
			break;
		case UCALL_ASSERT_FAIL:
			snprintf(buf, sizeof(buf), "guest failed at %s:%u: %s",
				 uc->file, uc->line, uc->expr);
			break;
		default:
			snprintf(buf, sizeof(buf),
				 "guest assertion failed at %s:%u: %s",
				 uc->file, uc->line, uc->expr);
		}
		break;
	case UCALL_EXCEPTION:
		snprintf(buf, sizeof(buf),
			 "unhandled guest exception %s (vector %llu) at rip 0x%llx, error code 0x%llx, cr2 0x%llx",
			 vector_name(uc->args[0]),
			 (unsigned long long)uc->args[0],
			 (unsigned long long)uc->args[2],
			 (unsigned long long)uc->args[1],
			 (unsigned long long)uc->args[3]);
		break;
	default:
		snprintf(buf, sizeof(buf), "ucall %llu (%llx %llx %llx %llx)",
			 (unsigned long long)uc->cmd,
			 (unsigned long long)uc->args[0],
			 (unsigned long long)uc->args[1],
			 (unsigned long long)uc->args[2],
			 (unsigned long long)uc->args[3]);
	}
	return buf;
}

uint64_t vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	uint64_t cmd;

	vcpu_run(vcpu);
	cmd = get_ucall(vcpu, uc);
	TEST_ASSERT(cmd != UCALL_NONE,
		    "vCPU %u: wanted a ucall, got exit %u (%s)%s", vcpu->id,
		    vcpu->run->exit_reason,
		    exit_reason_str(vcpu->run->exit_reason), exit_details(vcpu));
	if (cmd == UCALL_ABORT || cmd == UCALL_EXCEPTION)
		TEST_FAIL("vCPU %u: %s", vcpu->id, ucall_describe(uc));
	if (cmd == UCALL_PRINT) {
		printf("# guest: %s (0x%llx, 0x%llx)\n", uc->expr,
		       (unsigned long long)uc->args[0],
		       (unsigned long long)uc->args[1]);
		fflush(stdout);
	}
	return cmd;
}

void vcpu_run_sync(struct kvm_vcpu *vcpu, struct ucall *uc, uint64_t val)
{
	uint64_t cmd = vcpu_run_ucall(vcpu, uc);

	TEST_ASSERT(cmd == UCALL_SYNC,
		    "vCPU %u: wanted GUEST_SYNC(0x%llx), got ucall %llu (%s)",
		    vcpu->id, (unsigned long long)val, (unsigned long long)cmd,
		    ucall_describe(uc));
	TEST_ASSERT(uc->args[0] == val,
		    "vCPU %u: wanted GUEST_SYNC(0x%llx), got GUEST_SYNC(0x%llx)",
		    vcpu->id, (unsigned long long)val,
		    (unsigned long long)uc->args[0]);
}

void vcpu_expect_sync(struct kvm_vcpu *vcpu, uint64_t val)
{
	struct ucall uc;

	vcpu_run_sync(vcpu, &uc, val);
}

void vcpu_expect_done(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	uint64_t cmd = vcpu_run_ucall(vcpu, &uc);

	TEST_ASSERT(cmd == UCALL_DONE,
		    "vCPU %u: wanted GUEST_DONE, got %s", vcpu->id,
		    ucall_describe(&uc));
}
