/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ucall.h - guest-to-host calls ("ucalls") over port I/O.
 *
 * Owns the ucall wire format shared by guest and host code and the GUEST_*
 * macros guest code uses.  A ucall is a 32-bit OUT to UCALL_PORT whose data is
 * the guest-virtual address of a struct ucall on the guest stack (the library
 * keeps guest stacks below 4 GiB and identity mapped).  The host side
 * (get_ucall() in xkvm_util.h) copies the struct out of guest memory.
 *
 * String pointers in a ucall (file, expression, message) must point to
 * literals: the guest runs a copy of the test binary at the same addresses,
 * so the host reads them from its own .rodata.  Guest code must not call
 * libc: everything here is freestanding.
 */
#ifndef XKVM_SELFTEST_UCALL_H
#define XKVM_SELFTEST_UCALL_H

#include <stdint.h>

#define UCALL_PORT		0x7e8
#define UCALL_MAX_ARGS		4

enum ucall_cmd {
	UCALL_NONE = 0,
	UCALL_SYNC,		/* GUEST_SYNC*(): args[] carry values */
	UCALL_ABORT,		/* GUEST_ASSERT*() failed: file, line, expr, args */
	UCALL_DONE,		/* GUEST_DONE() or the guest function returned */
	UCALL_PRINT,		/* GUEST_PRINT(): msg is a literal, args[0..1] values */
	UCALL_EXCEPTION,	/* unhandled guest exception: vector, error, rip, cr2 */
};

/* How the host prints the two values of a failed assertion. */
enum ucall_assert_kind {
	UCALL_ASSERT_PLAIN = 0,	/* GUEST_ASSERT(cond): no values */
	UCALL_ASSERT_EQ,	/* GUEST_ASSERT_EQ(a, b): args[0], args[1] */
	UCALL_ASSERT_NE,	/* GUEST_ASSERT_NE(a, b): args[0], args[1] */
	UCALL_ASSERT_FAIL,	/* GUEST_FAIL(msg) */
};

struct ucall {
	uint64_t cmd;
	uint64_t args[UCALL_MAX_ARGS];
	const char *file;
	const char *expr;
	uint32_t line;
	uint32_t assert_kind;
};

/* Guest side (lib/ucall.c). */
void ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
void ucall_assert(const char *file, uint32_t line, const char *expr,
		  uint32_t kind, uint64_t a, uint64_t b) __attribute__((noreturn));
void ucall_print(const char *msg, uint64_t a0, uint64_t a1);
void ucall_done(void) __attribute__((noreturn));

#define GUEST_SYNC(val)		ucall(UCALL_SYNC, (uint64_t)(val), 0, 0, 0)
#define GUEST_SYNC_ARGS(a0, a1, a2, a3)					\
	ucall(UCALL_SYNC, (uint64_t)(a0), (uint64_t)(a1),		\
	      (uint64_t)(a2), (uint64_t)(a3))
#define GUEST_DONE()		ucall_done()
#define GUEST_PRINT(msg, a0, a1)					\
	ucall_print("" msg, (uint64_t)(a0), (uint64_t)(a1))

#define GUEST_ASSERT(cond)						\
do {									\
	if (!(cond))							\
		ucall_assert(__FILE__, __LINE__, #cond,			\
			     UCALL_ASSERT_PLAIN, 0, 0);			\
} while (0)

#define GUEST_ASSERT_EQ(a, b)						\
do {									\
	uint64_t __ga = (uint64_t)(a), __gb = (uint64_t)(b);		\
	if (__ga != __gb)						\
		ucall_assert(__FILE__, __LINE__, #a " == " #b,		\
			     UCALL_ASSERT_EQ, __ga, __gb);		\
} while (0)

#define GUEST_ASSERT_NE(a, b)						\
do {									\
	uint64_t __ga = (uint64_t)(a), __gb = (uint64_t)(b);		\
	if (__ga == __gb)						\
		ucall_assert(__FILE__, __LINE__, #a " != " #b,		\
			     UCALL_ASSERT_NE, __ga, __gb);		\
} while (0)

#define GUEST_FAIL(msg)							\
	ucall_assert(__FILE__, __LINE__, "" msg, UCALL_ASSERT_FAIL, 0, 0)

#endif /* XKVM_SELFTEST_UCALL_H */
