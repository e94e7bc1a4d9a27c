// SPDX-License-Identifier: GPL-2.0
/*
 * emulate_mem.c - guest memory as the x86 emulator sees it: a segment and
 * an effective address become a linear address (segment base, limit and
 * type checks, or the canonical check in 64-bit mode: #GP/#SS), the guest
 * page walk makes it guest-physical (#PF with CR2), and each piece of an
 * access within one page is either RAM (a memslot: read or written here)
 * or MMIO: an in-kernel device's (arch/x86/irqchip.c), or at most 8 bytes
 * of a KVM_EXIT_MMIO.
 *
 * Reads: a read served by userspace earlier in this instruction comes from
 * the cache in vcpu->arch.pending; the first MMIO piece not served yet
 * stops the execution with EMU_EXIT.  Writes: translated at once (so any
 * fault comes before anything is committed) and queued in e->writes;
 * emulate.c performs them when the instruction completes.
 */
#include <linux/mm.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include <xkvm/xkvm_io_bus.h>

#include "emulate.h"

u64 emu_addr_mask(int size)
{
	return size >= 8 ? ~0ULL : GENMASK_ULL(size * 8 - 1, 0);
}

int emu_fault(struct xkvm_emu *e, u8 vector, u32 error_code)
{
	e->fault.pending = true;
	e->fault.vector = vector;
	/* real mode pushes no error code */
	e->fault.has_error_code = e->vcpu->arch.state.cr0 & X86_CR0_PE;
	e->fault.error_code = error_code;
	e->fault_pf = false;
	return EMU_FAULT;
}

static int emu_seg_fault(struct xkvm_emu *e, int seg)
{
	return emu_fault(e, seg == XKVM_SEG_SS ? X86_TRAP_SS : X86_TRAP_GP, 0);
}

static bool emu_canonical(struct xkvm_emu *e, u64 la)
{
	int bits = (e->vcpu->arch.state.cr4 & X86_CR4_LA57) ? 57 : 48;

	return (u64)sign_extend64(la, bits - 1) == la;
}

/* Linear address of @off bytes past @la: 32-bit wrap outside long mode. */
static u64 emu_la_add(struct xkvm_emu *e, u64 la, u64 off)
{
	return e->long64 ? la + off : (u32)(la + off);
}

/* The limit and type checks of a segment outside 64-bit mode. */
static bool emu_seg_ok(struct xkvm_emu *e, const struct kvm_segment *s,
		       u64 ea, int size, bool write)
{
	u64 last = ea + size - 1, upper;

	if (e->prot) {
		if (s->unusable)
			return false;
		/* code segments are never writable, data ones if W */
		if (write && ((s->type & 8) || !(s->type & 2)))
			return false;
		/* execute-only code segment */
		if (!write && (s->type & 0xa) == 8)
			return false;
	}
	if (!(s->type & 8) && (s->type & 4)) {
		/* expand-down data: offsets above the limit */
		upper = s->db ? 0xffffffffULL : 0xffffULL;
		return ea > s->limit && last <= upper;
	}
	return last <= s->limit;
}

static int emu_linearize(struct xkvm_emu *e, int seg, u64 ea, int size,
			 bool write, u64 *la)
{
	const struct kvm_segment *s = &e->vcpu->arch.state.segs[seg];

	if (e->long64) {
		*la = ea;
		if (seg == XKVM_SEG_FS || seg == XKVM_SEG_GS)
			*la += s->base;
		if (!emu_canonical(e, *la) ||
		    !emu_canonical(e, *la + size - 1))
			return emu_seg_fault(e, seg);
		return EMU_OK;
	}
	if (!emu_seg_ok(e, s, ea, size, write))
		return emu_seg_fault(e, seg);
	*la = (u32)(s->base + ea);
	return EMU_OK;
}

/*
 * Guest-physical address of @la.  As KVM does, an instruction with a
 * single memory operand uses the faulting GPA the vendor reported when the
 * page offsets agree (the CPU has walked and checked that access already);
 * everything else is walked.
 */
static int emu_translate(struct xkvm_emu *e, u64 la, bool write, u64 *gpa)
{
	const struct xkvm_x86_pending_io *p = e->p;
	u32 err = 0;
	int r;

	if (p->gpa_valid && !(e->in.flags & (OP_TWOMEM | OP_STRING)) &&
	    offset_in_page(la) == offset_in_page(p->gpa)) {
		*gpa = (p->gpa & PAGE_MASK) | offset_in_page(la);
		return EMU_OK;
	}
	r = xkvm_x86_gva_to_gpa(e->vcpu, la, write ? XKVM_FAULT_WRITE : 0,
				gpa, &err);
	if (r == -ENOENT) {
		emu_fault(e, X86_TRAP_PF, err);
		e->fault.has_error_code = true;
		e->fault_pf = true;
		e->fault_cr2 = la;
		return EMU_FAULT;
	}
	return r ? EMU_FAIL : EMU_OK;
}

/* Bytes from @la to the end of its page, at most @left. */
static int emu_piece(u64 la, int left)
{
	return min_t(int, left, PAGE_SIZE - offset_in_page(la));
}

/*
 * Read @size (<= 8) bytes at @seg:@ea.  The reads of one execution are
 * numbered; those userspace served already come from the cache.
 */
int emu_read(struct xkvm_emu *e, int seg, u64 ea, void *val, int size)
{
	struct xkvm_x86_pending_io *p = e->p;
	int idx = e->reads++, done, n, r;
	u64 la, gpa;

	if (idx >= XKVM_EMU_MAX_READS || size > 8)
		return EMU_FAIL;
	if (idx < p->nr_reads) {
		if (p->read_len[idx] != size)
			return EMU_FAIL;
		memcpy(val, p->read_data[idx], size);
		return EMU_OK;
	}
	r = emu_linearize(e, seg, ea, size, false, &la);
	if (r)
		return r;
	/* bytes [0, part_len) of this read are back from userspace */
	done = p->part_len;
	memcpy(val, p->part_data, done);
	while (done < size) {
		u64 at = emu_la_add(e, la, done);

		n = emu_piece(at, size - done);
		r = emu_translate(e, at, false, &gpa);
		if (r)
			return r;
		if (xkvm_read_guest(e->vcpu->vm, gpa, val + done, n) &&
		    !xkvm_x86_irqchip_mmio(e->vcpu, gpa, false, n, val + done) &&
		    !xkvm_io_bus_read(e->vcpu, XKVM_MMIO_BUS, gpa, n, val + done)) {
			p->read_len[idx] = size;
			memcpy(p->part_data, val, done);
			p->part_len = done;
			p->cur.gpa = gpa;
			p->cur.len = n;
			return EMU_EXIT;
		}
		done += n;
	}
	return EMU_OK;
}

/* Translate @size bytes at @seg:@ea for writing: up to @max pieces. */
static int emu_write_pieces(struct xkvm_emu *e, int seg, u64 ea, int size,
			    u64 *gpa, int *len, int max)
{
	int done = 0, nr = 0, r;
	u64 la;

	r = emu_linearize(e, seg, ea, size, true, &la);
	if (r)
		return r;
	while (done < size) {
		u64 at = emu_la_add(e, la, done);

		if (nr == max)
			return EMU_FAIL;
		len[nr] = emu_piece(at, size - done);
		r = emu_translate(e, at, true, &gpa[nr]);
		if (r)
			return r;
		done += len[nr++];
	}
	return EMU_OK;
}

/* Queue a write of @size (<= 8) bytes at @seg:@ea. */
int emu_write(struct xkvm_emu *e, int seg, u64 ea, const void *val,
	      int size)
{
	int len[2], i, off = 0, r;
	u64 gpa[2];

	if (size > 8)
		return EMU_FAIL;
	r = emu_write_pieces(e, seg, ea, size, gpa, len, 2);
	if (r)
		return r;
	for (i = 0; i < 2 && off < size; i++) {
		struct emu_write *w;

		if (e->nr_writes == ARRAY_SIZE(e->writes))
			return EMU_FAIL;
		w = &e->writes[e->nr_writes++];
		w->gpa = gpa[i];
		w->len = len[i];
		memcpy(w->data, val + off, len[i]);
		off += len[i];
	}
	return EMU_OK;
}

/* Check that @size bytes at @seg:@ea can be written (INS before its exit). */
int emu_check_write(struct xkvm_emu *e, int seg, u64 ea, int size)
{
	int len[2];
	u64 gpa[2];

	return emu_write_pieces(e, seg, ea, size, gpa, len, 2);
}

/*
 * Write @size bytes (a PIO chunk, at most a page) to guest RAM at once:
 * the data of INS.  Every page is translated before anything is written.
 */
int emu_store_block(struct xkvm_emu *e, int seg, u64 ea, const void *val,
		    int size)
{
	int len[2], i, off = 0, r;
	u64 gpa[2];

	r = emu_write_pieces(e, seg, ea, size, gpa, len, 2);
	if (r)
		return r;
	for (i = 0; i < 2 && off < size; i++) {
		/* INS into MMIO is not emulated */
		if (xkvm_vcpu_write_guest(e->vcpu, gpa[i], val + off, len[i]))
			return EMU_FAIL;
		off += len[i];
	}
	return EMU_OK;
}
