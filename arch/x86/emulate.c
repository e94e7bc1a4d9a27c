// SPDX-License-Identifier: GPL-2.0
/*
 * emulate.c - entry points of the x86 instruction emulator and the exits
 * it makes.  Vendor-neutral; runs in the vCPU's thread.
 *
 *  - xkvm_x86_emulate_mmio(): a guest access to a guest-physical address
 *    with no memslot (or a write to a read-only slot).  The instruction is
 *    decoded (emulate_decode.c) and executed (emulate_exec.c) with the
 *    data address computed from ModRM/SIB/displacement and segment and
 *    walked through the guest's page tables (emulate_mem.c).  MMIO pieces
 *    become KVM_EXIT_MMIO, at most 8 bytes each, one per exit.
 *  - xkvm_x86_emulate_string_io(): INS/OUTS, with or without REP, as
 *    KVM_EXIT_IO: OUTS one element per exit, INS in chunks of up to 1 KiB
 *    stored to guest memory when KVM_RUN comes back.
 *  - xkvm_x86_emulate_complete(): at the next KVM_RUN, finish what the
 *    last exit started: run the instruction again with the data userspace
 *    read (a read-modify-write then makes its write exit), send the next
 *    piece of a page-crossing write, or store INS data.
 *
 * As on KVM, a read exit commits nothing (RIP still at the instruction);
 * a write exit or OUTS exit has the instruction's registers, flags and RIP
 * committed.  A REP string instruction does one element per exit and
 * stays at its RIP until rCX runs out.  An instruction the emulator does
 * not know queues #UD and, at CPL 0, exits with KVM_EXIT_INTERNAL_ERROR
 * (KVM_INTERNAL_ERROR_EMULATION and the instruction bytes).
 */
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trapnr.h>

#include <xkvm/xkvm_io_bus.h>

#include "emulate.h"

/* A REP string instruction goes on in the kernel up to this many elements. */
#define EMU_MAX_RESTARTS	1024

void xkvm_x86_write_reg(struct xkvm_vcpu *vcpu, int reg, bool high8,
			int size, u64 val)
{
	emu_assign_reg(&vcpu->arch.regs[reg], size, high8, val);
}

static void emu_init(struct xkvm_emu *e, struct xkvm_vcpu *vcpu)
{
	const struct xkvm_x86_state *st = &vcpu->arch.state;

	memset(e, 0, sizeof(*e));
	e->vcpu = vcpu;
	e->p = &vcpu->arch.pending;
	xkvm_x86_state_need(vcpu, XKVM_STATE_ALL);
	e->rflags = vcpu->arch.rflags;
	e->prot = (st->cr0 & X86_CR0_PE) && !(e->rflags & X86_EFLAGS_VM);
	e->long64 = (st->efer & EFER_LMA) && st->segs[XKVM_SEG_CS].l;
	e->cpl = xkvm_x86_cpl(vcpu);
}

/* A new instruction: forget the last one's reads, keep its bytes. */
static void emu_begin(struct xkvm_emu *e, const u8 *insn, int len,
		      bool gpa_valid, u64 gpa)
{
	struct xkvm_x86_pending_io *p = e->p;

	len = clamp(len, 0, XKVM_EMU_INSN_MAX);
	memcpy(e->in.bytes, insn, len);
	e->in.len = len;
	memcpy(p->insn, insn, len);
	p->insn_len = len;
	p->gpa_valid = gpa_valid;
	p->gpa = gpa;
	p->nr_reads = 0;
	p->part_len = 0;
	p->kind = XKVM_COMPLETE_NONE;
}

/* The instruction of a pending completion, decoded again. */
static int emu_resume(struct xkvm_emu *e, struct xkvm_vcpu *vcpu)
{
	emu_init(e, vcpu);
	memcpy(e->in.bytes, e->p->insn, e->p->insn_len);
	e->in.len = e->p->insn_len;
	return emu_decode(e);
}

/* The working state of one execution, from the committed state. */
static void emu_load(struct xkvm_emu *e)
{
	struct xkvm_vcpu *vcpu = e->vcpu;

	memcpy(e->regs, vcpu->arch.regs, sizeof(e->regs));
	e->rip = vcpu->arch.rip;
	e->rflags = vcpu->arch.rflags;
	e->next_rip = e->rip + e->in.pos;
	if (!e->long64)
		e->next_rip = (u32)e->next_rip;
	e->new_rip = e->next_rip;
	e->reads = 0;
	e->nr_writes = 0;
	e->pio = false;
	memset(&e->fault, 0, sizeof(e->fault));
	if (e->in.flags & (OP_MODRM | OP_MOFFS))
		emu_modrm_ea(e);
}

static int emu_execute(struct xkvm_emu *e)
{
	emu_load(e);
	return e->in.exec(e);
}

static void emu_commit_state(struct xkvm_emu *e)
{
	struct xkvm_vcpu *vcpu = e->vcpu;

	memcpy(vcpu->arch.regs, e->regs, sizeof(e->regs));
	vcpu->arch.rip = e->new_rip;
	vcpu->arch.rflags = e->rflags;
}

static int emu_failure(struct xkvm_emu *e)
{
	struct xkvm_vcpu *vcpu = e->vcpu;
	struct kvm_run *run = vcpu->run;
	int len = e->in.len;

	xkvm_x86_stat_inc(vcpu, insn_emulation_fail);
	e->p->kind = XKVM_COMPLETE_NONE;
	pr_warn_ratelimited("xkvm: vcpu %u: cannot emulate instruction at rip 0x%llx\n",
			    vcpu->vcpu_id, vcpu->arch.rip);
	/* as KVM: #UD for the guest, and userspace hears of it at CPL 0 */
	xkvm_x86_queue_exception(vcpu, X86_TRAP_UD, false, 0);
	if (e->cpl != 0)
		return 1;
	memset(&run->emulation_failure, 0, sizeof(run->emulation_failure));
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.ndata = 1;
	if (len) {
		run->emulation_failure.ndata = 3;
		run->emulation_failure.flags =
			KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		run->emulation_failure.insn_size = len;
		memset(run->emulation_failure.insn_bytes, 0x90,
		       sizeof(run->emulation_failure.insn_bytes));
		memcpy(run->emulation_failure.insn_bytes, e->in.bytes, len);
	}
	return 0;
}

static int emu_inject(struct xkvm_emu *e)
{
	struct xkvm_vcpu *vcpu = e->vcpu;

	e->p->kind = XKVM_COMPLETE_NONE;
	if (e->fault_pf) {
		xkvm_x86_state_need(vcpu, XKVM_STATE_CRS);
		vcpu->arch.state.cr2 = e->fault_cr2;
		xkvm_x86_state_dirty(vcpu, XKVM_STATE_CRS);
	}
	xkvm_x86_queue_exception(vcpu, e->fault.vector,
				 e->fault.has_error_code, e->fault.error_code);
	return 1;
}

static void emu_exit_mmio(struct xkvm_vcpu *vcpu,
			  const struct xkvm_x86_mmio_piece *piece, bool write)
{
	struct kvm_run *run = vcpu->run;

	xkvm_x86_stat_inc(vcpu, mmio_exits);
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = piece->gpa;
	run->mmio.len = piece->len;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, piece->data, piece->len);
}

static void emu_exit_pio(struct xkvm_emu *e)
{
	struct kvm_run *run = e->vcpu->run;

	xkvm_x86_stat_inc(e->vcpu, io_exits);
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = e->pio_in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = e->pio_size;
	run->io.port = e->port;
	run->io.count = e->pio_count;
	run->io.data_offset = XKVM_PIO_PAGE_OFFSET * PAGE_SIZE;
	if (e->pio_in)
		memset(e->vcpu->pio_data, 0, e->pio_size * e->pio_count);
	else
		memcpy(e->vcpu->pio_data, e->pio_data, e->pio_size);
}

/* Send the next MMIO piece of a write; 1 when none is left. */
static int emu_next_write(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;

	if (p->write_next >= p->nr_writes) {
		p->kind = XKVM_COMPLETE_NONE;
		return 1;
	}
	emu_exit_mmio(vcpu, &p->writes[p->write_next++], true);
	p->kind = XKVM_COMPLETE_MMIO_WRITE;
	return 0;
}

/*
 * Perform the queued writes: RAM and in-kernel devices now, other MMIO
 * pieces as exits.  0: exit.
 */
static int emu_commit_writes(struct xkvm_emu *e)
{
	struct xkvm_x86_pending_io *p = e->p;
	int i;

	p->nr_writes = 0;
	p->write_next = 0;
	for (i = 0; i < e->nr_writes; i++) {
		const struct emu_write *w = &e->writes[i];
		struct xkvm_x86_mmio_piece *m;

		if (!xkvm_vcpu_write_guest(e->vcpu, w->gpa, w->data, w->len) ||
		    xkvm_x86_irqchip_mmio(e->vcpu, w->gpa, true, w->len,
					  (void *)w->data) ||
		    xkvm_io_bus_write(e->vcpu, XKVM_MMIO_BUS, w->gpa, w->len,
				      w->data))
			continue;
		m = &p->writes[p->nr_writes++];
		m->gpa = w->gpa;
		m->len = w->len;
		memcpy(m->data, w->data, w->len);
	}
	return emu_next_write(e->vcpu);
}

/*
 * Act on the result of one execution; returns like an exit handler.
 * *again: a REP string instruction may go on with its next element.
 */
static int emu_finish(struct xkvm_emu *e, int r, bool *again)
{
	struct xkvm_x86_pending_io *p = e->p;

	*again = false;
	switch (r) {
	case EMU_OK:
		break;
	case EMU_EXIT:
		p->kind = XKVM_COMPLETE_MMIO_READ;
		emu_exit_mmio(e->vcpu, &p->cur, false);
		return 0;
	case EMU_FAULT:
		return emu_inject(e);
	default:
		return emu_failure(e);
	}
	if (e->pio && e->pio_in) {
		/* registers and RIP move when the data is stored */
		p->kind = XKVM_COMPLETE_STRING_IN;
		p->size = e->pio_size;
		p->count = e->pio_count;
		emu_exit_pio(e);
		return 0;
	}
	emu_commit_state(e);
	if (!emu_commit_writes(e))
		return 0;
	/* OUTS: one element, which a device on the PIO bus may take */
	if (e->pio && !xkvm_io_bus_write(e->vcpu, XKVM_PIO_BUS, e->port,
					 e->pio_size, e->pio_data)) {
		emu_exit_pio(e);
		return 0;
	}
	*again = (e->in.flags & OP_STRING) && e->new_rip == e->rip;
	return 1;
}

static int emu_run(struct xkvm_emu *e)
{
	struct xkvm_x86_pending_io *p = e->p;
	bool again;
	int i, r;

	xkvm_x86_stat_inc(e->vcpu, insn_emulation);
	for (i = 0; i < EMU_MAX_RESTARTS; i++) {
		r = emu_finish(e, emu_execute(e), &again);
		if (!again)
			return r;
		/* the next element: nothing read for it yet */
		p->nr_reads = 0;
		p->part_len = 0;
		p->gpa_valid = false;
	}
	return 1;
}

int xkvm_x86_emulate_mmio(struct xkvm_vcpu *vcpu, xkvm_gpa_t gpa,
			  bool gpa_valid, const u8 *insn, int insn_len)
{
	struct xkvm_emu e;
	u8 buf[XKVM_EMU_INSN_MAX];

	emu_init(&e, vcpu);
	if (insn_len > 0) {
		/* the vendor's copy (decode assists) */
		emu_begin(&e, insn, insn_len, gpa_valid, gpa);
		if (!emu_decode(&e))
			return emu_run(&e);
		if (insn_len >= XKVM_EMU_INSN_MAX)
			return emu_failure(&e);
	}
	/* no copy, or one that stops short: read the bytes at CS:RIP */
	insn_len = xkvm_x86_fetch_insn(vcpu, buf, sizeof(buf));
	emu_begin(&e, buf, insn_len, gpa_valid, gpa);
	if (emu_decode(&e))
		return emu_failure(&e);
	return emu_run(&e);
}
EXPORT_SYMBOL_GPL(xkvm_x86_emulate_mmio);

/* INS/OUTS, with or without REP: the bytes at RIP say which and how. */
int xkvm_x86_emulate_string_io(struct xkvm_vcpu *vcpu,
			       const struct xkvm_x86_io *io)
{
	struct xkvm_emu e;
	u8 buf[XKVM_EMU_INSN_MAX];
	int len;

	vcpu->arch.l1d_flush = true;	/* guest memory was walked */
	emu_init(&e, vcpu);
	len = xkvm_x86_fetch_insn(vcpu, buf, sizeof(buf));
	emu_begin(&e, buf, len, false, 0);
	if (emu_decode(&e) ||
	    e.in.exec != (io->in ? emu_exec_ins : emu_exec_outs) ||
	    min_t(int, e.in.op_size, 4) != io->size)
		return emu_failure(&e);
	return emu_run(&e);
}

/* The piece userspace read is in run->mmio.data: add it to the cache. */
static void emu_read_done(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	u8 idx = p->nr_reads;

	if (WARN_ON_ONCE(idx >= XKVM_EMU_MAX_READS ||
			 p->part_len + p->cur.len > sizeof(p->part_data)))
		return;
	memcpy(p->part_data + p->part_len, vcpu->run->mmio.data, p->cur.len);
	p->part_len += p->cur.len;
	if (p->part_len < p->read_len[idx])
		return;
	memcpy(p->read_data[idx], p->part_data, p->part_len);
	p->nr_reads++;
	p->part_len = 0;
}

static int emu_complete_ins(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	struct xkvm_emu e;
	int r;

	p->kind = XKVM_COMPLETE_NONE;
	if (emu_resume(&e, vcpu))
		return emu_failure(&e);
	emu_load(&e);
	r = emu_ins_store(&e, vcpu->pio_data, p->count);
	if (r == EMU_FAULT)
		return emu_inject(&e);
	if (r)
		return emu_failure(&e);
	emu_commit_state(&e);
	return 1;
}

/*
 * Called by KVM_RUN before it enters the guest; returns like an exit
 * handler: 0 when finishing the instruction makes another exit at once
 * (the write of a read-modify-write, the next piece of an access, the
 * next element of REP LODS ...), which KVM_RUN must return to userspace
 * without entering the guest, as KVM does.
 */
int xkvm_x86_emulate_resume(struct xkvm_vcpu *vcpu)
{
	struct xkvm_x86_pending_io *p = &vcpu->arch.pending;
	struct xkvm_emu e;

	switch (p->kind) {
	case XKVM_COMPLETE_MMIO_READ:
		p->kind = XKVM_COMPLETE_NONE;
		emu_read_done(vcpu);
		if (emu_resume(&e, vcpu))
			return emu_failure(&e);
		return emu_run(&e);
	case XKVM_COMPLETE_MMIO_WRITE:
		return emu_next_write(vcpu);
	case XKVM_COMPLETE_STRING_IN:
		return emu_complete_ins(vcpu);
	default:
		p->kind = XKVM_COMPLETE_NONE;
		return 1;
	}
}

