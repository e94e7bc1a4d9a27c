// SPDX-License-Identifier: GPL-2.0
/*
 * cpuid_test.c - the CPUID ioctls and what the guest's CPUID instruction
 * returns: KVM_GET_SUPPORTED_CPUID (the E2BIG protocol and what the table
 * must and must not hold: KVM's signature leaves, no VMX/SVM without
 * nested virtualization, no hypervisor bit (the VMM adds it), consistent
 * XSAVE leaves), KVM_SET_CPUID2 / KVM_GET_CPUID2 (limits, E2BIG,
 * KVM's checks of the table, the table after KVM_RUN), the guest reading
 * back the table it was given (including missing and out-of-range leaves,
 * whose result depends on the vendor the table names), and the bits that
 * follow vCPU state: CPUID.1:ECX.OSXSAVE (CR4.OSXSAVE), CPUID.1:EDX.APIC
 * (the APIC-base enable bit) and CPUID.0xD.0:EBX (the XCR0 in use), both
 * in the guest and in KVM_GET_CPUID2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "x86_util.h"

static const char kvm_sig[12] = { 'K', 'V', 'M', 'K', 'V', 'M', 'K', 'V',
				  'M', 0, 0, 0 };

static bool entries_equal(const struct kvm_cpuid_entry2 *a,
			  const struct kvm_cpuid_entry2 *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (a[i].function != b[i].function || a[i].index != b[i].index ||
		    a[i].flags != b[i].flags || a[i].eax != b[i].eax ||
		    a[i].ebx != b[i].ebx || a[i].ecx != b[i].ecx ||
		    a[i].edx != b[i].edx)
			return false;
	}
	return true;
}

/* ---- KVM_GET_SUPPORTED_CPUID ---- */

TEST(supported_cpuid_e2big_protocol)
{
	struct kvm_cpuid2 *full = kvm_get_supported_cpuid(), *c;
	unsigned int n = full->nent;

	TH_LOG("KVM_GET_SUPPORTED_CPUID: %u entries", n);
	ASSERT_LT(1, n);

	/* No room at all: E2BIG, nent left as it was. */
	c = cpuid2_alloc(0);
	EXPECT_EQ(-1, __kvm_get_supported_cpuid(c));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(0, c->nent);
	free(c);

	/* One entry short: E2BIG, nent left as it was. */
	c = cpuid2_alloc(n - 1);
	EXPECT_EQ(-1, __kvm_get_supported_cpuid(c));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(n - 1, c->nent);
	free(c);

	/* Exactly enough. */
	c = cpuid2_alloc(n);
	EXPECT_EQ(0, __kvm_get_supported_cpuid(c));
	EXPECT_EQ(n, c->nent);
	EXPECT_TRUE(entries_equal(full->entries, c->entries, n));
	free(c);

	/* More than KVM_MAX_CPUID_ENTRIES: clamped, not refused. */
	c = cpuid2_alloc(4 * KVM_MAX_CPUID_ENTRIES);
	EXPECT_EQ(0, __kvm_get_supported_cpuid(c));
	EXPECT_EQ(n, c->nent);
	EXPECT_TRUE(entries_equal(full->entries, c->entries, n));
	free(c);
	free(full);
}

/* The vendor module's "nested" parameter, if it has one. */
static bool vendor_nested_enabled(void)
{
	const char *mod = xkvm_vendor_module();
	char path[256], buf[8] = "";
	int fd;

	if (!mod)
		return false;
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/nested", mod);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return buf[0] == 'Y' || buf[0] == '1';
}

TEST(supported_cpuid_contents)
{
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e, *e0, *ext, *leaf1, *ext1, *sig;
	bool nested = vendor_nested_enabled();
	unsigned int i, j;

	/* No two entries answer the same (leaf, subleaf). */
	for (i = 0; i < c->nent; i++) {
		for (j = i + 1; j < c->nent; j++) {
			struct kvm_cpuid_entry2 *a = &c->entries[i];
			struct kvm_cpuid_entry2 *b = &c->entries[j];

			if (a->function != b->function)
				continue;
			EXPECT_TRUE((a->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
				    (b->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
				    a->index != b->index)
				TH_LOG("entries %u and %u both answer leaf 0x%x",
				       i, j, a->function);
		}
	}

	/* Every leaf is within the range its class announces. */
	e0 = cpuid2_find(c, 0, 0);
	ext = cpuid2_find(c, 0x80000000, 0);
	ASSERT_NE(NULL, e0);
	ASSERT_NE(NULL, ext);
	EXPECT_LE(1, e0->eax);
	EXPECT_LE(0x80000001, ext->eax);
	for (i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		if (e->function < 0x40000000) {
			EXPECT_LE(e->function, e0->eax);
		} else if (e->function >= 0x80000000 &&
			   e->function < 0xc0000000) {
			EXPECT_LE(e->function, ext->eax);
		}
	}

	/*
	 * KVM does not report the hypervisor bit (the VMM sets it in the
	 * guest's table); no VMX/SVM unless nested virtualization is on.
	 */
	leaf1 = cpuid2_find(c, 1, 0);
	ext1 = cpuid2_find(c, 0x80000001, 0);
	ASSERT_NE(NULL, leaf1);
	ASSERT_NE(NULL, ext1);
	EXPECT_FALSE(leaf1->ecx & CPUID1_ECX_HYPERVISOR);
	TH_LOG("nested virtualization %s, VMX %s, SVM %s",
	       nested ? "on" : "off", leaf1->ecx & CPUID1_ECX_VMX ? "yes" : "no",
	       ext1->ecx & CPUID_EXT1_ECX_SVM ? "yes" : "no");
	if (!nested || xkvm_vendor_is_amd()) {
		EXPECT_FALSE(leaf1->ecx & CPUID1_ECX_VMX);
	}
	if (!nested || !xkvm_vendor_is_amd()) {
		EXPECT_FALSE(ext1->ecx & CPUID_EXT1_ECX_SVM);
	}
	/* A 64-bit guest is possible. */
	EXPECT_TRUE(ext1->edx & CPUID_EXT1_EDX_LM);

	/* KVM's signature leaf and its features leaf. */
	sig = cpuid2_find(c, 0x40000000, 0);
	ASSERT_NE(NULL, sig);
	EXPECT_EQ(0, memcmp(&sig->ebx, kvm_sig, 4));
	EXPECT_EQ(0, memcmp(&sig->ecx, kvm_sig + 4, 4));
	EXPECT_EQ(0, memcmp(&sig->edx, kvm_sig + 8, 4));
	EXPECT_LE(0x40000001, sig->eax);
	EXPECT_NE(NULL, cpuid2_find(c, 0x40000001, 0));

	/* Leaf 7 has a significant index and all its announced subleaves. */
	e = cpuid2_find(c, 7, 0);
	if (e) {
		EXPECT_TRUE(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		for (i = 1; i <= e->eax && i < 8; i++)
			EXPECT_NE(NULL, cpuid2_find(c, 7, i)) TH_LOG("7.%u", i);
	}

	/* XSAVE: leaf 0xD describes every feature it offers. */
	if (leaf1->ecx & CPUID1_ECX_XSAVE) {
		uint64_t xcr0;
		uint32_t size = 576;

		e = cpuid2_find(c, 0xd, 0);
		ASSERT_NE(NULL, e);
		EXPECT_TRUE(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		xcr0 = e->eax | ((uint64_t)e->edx << 32);
		EXPECT_EQ(XFEATURE_MASK_FP | XFEATURE_MASK_SSE,
			  xcr0 & (XFEATURE_MASK_FP | XFEATURE_MASK_SSE));
		EXPECT_NE(NULL, cpuid2_find(c, 0xd, 1));
		for (i = 2; i < 64; i++) {
			struct kvm_cpuid_entry2 *f;

			if (!(xcr0 & (1ULL << i)))
				continue;
			f = cpuid2_find(c, 0xd, i);
			EXPECT_NE(NULL, f) TH_LOG("no leaf 0xD.%u", i);
			if (!f)
				continue;
			EXPECT_LT(0, f->eax);
			EXPECT_LE(576, f->ebx);
			if (f->eax + f->ebx > size)
				size = f->eax + f->ebx;
		}
		/* EBX and ECX: the size of all of it, standard format. */
		EXPECT_EQ(size, e->ebx);
		EXPECT_EQ(size, e->ecx);
		TH_LOG("supported XCR0 0x%llx, XSAVE size %u",
		       (unsigned long long)xcr0, size);
	}
	free(c);
}

/* ---- KVM_SET_CPUID2 / KVM_GET_CPUID2 ---- */

TEST(set_get_cpuid2_limits)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	struct kvm_cpuid2 *c, *g;
	unsigned int i;

	/* Fresh vCPU: an empty table, which GET_CPUID2 returns with nent 0 room. */
	g = cpuid2_alloc(0);
	EXPECT_EQ(0, __vcpu_get_cpuid2(vcpu, g));
	free(g);

	/* More than KVM_MAX_CPUID_ENTRIES: E2BIG, the table unchanged. */
	c = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES + 1);
	for (i = 0; i < c->nent; i++)
		c->entries[i].function = 0x1000 + i;
	EXPECT_EQ(-1, __vcpu_set_cpuid2(vcpu, c));
	EXPECT_EQ(E2BIG, errno);
	g = cpuid2_alloc(0);
	EXPECT_EQ(0, __vcpu_get_cpuid2(vcpu, g));
	free(g);

	/* Exactly KVM_MAX_CPUID_ENTRIES is fine. */
	c->nent = KVM_MAX_CPUID_ENTRIES;
	EXPECT_EQ(0, __vcpu_set_cpuid2(vcpu, c));

	/* A buffer one short: E2BIG, the caller's nent untouched. */
	g = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES - 1);
	EXPECT_EQ(-1, __vcpu_get_cpuid2(vcpu, g));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(KVM_MAX_CPUID_ENTRIES - 1, g->nent);
	free(g);
	g = cpuid2_alloc(0);
	EXPECT_EQ(-1, __vcpu_get_cpuid2(vcpu, g));
	EXPECT_EQ(E2BIG, errno);
	free(g);

	/* Big enough: the same entries back. */
	g = cpuid2_alloc(KVM_MAX_CPUID_ENTRIES + 10);
	EXPECT_EQ(0, __vcpu_get_cpuid2(vcpu, g));
	EXPECT_TRUE(entries_equal(c->entries, g->entries,
				  KVM_MAX_CPUID_ENTRIES));
	/* Older KVM leaves nent alone on success, newer sets the count. */
	EXPECT_TRUE(g->nent == KVM_MAX_CPUID_ENTRIES + 10 ||
		    g->nent == KVM_MAX_CPUID_ENTRIES) TH_LOG("nent %u", g->nent);
	free(g);

	/* A smaller table replaces it; an empty one too. */
	c->nent = 3;
	EXPECT_EQ(0, __vcpu_set_cpuid2(vcpu, c));
	g = cpuid2_alloc(3);
	EXPECT_EQ(0, __vcpu_get_cpuid2(vcpu, g));
	EXPECT_TRUE(entries_equal(c->entries, g->entries, 3));
	free(g);
	c->nent = 0;
	EXPECT_EQ(0, __vcpu_set_cpuid2(vcpu, c));
	g = cpuid2_alloc(0);
	EXPECT_EQ(0, __vcpu_get_cpuid2(vcpu, g));
	free(g);
	free(c);
	kvm_vm_free(vm);
}

/* KVM refuses a virtual-address width other than 48 or 57 (or 0). */
TEST(set_cpuid2_virtual_address_width)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	static const struct {
		uint32_t vaddr;
		bool ok;
	} cases[] = {
		{ 48, true }, { 40, false }, { 57, true }, { 47, false },
		{ 0, true }, { 64, false }, { 255, false },
	};
	uint32_t last_good = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kvm_cpuid2 *c = cpuid2_alloc(2), *g;

		c->nent = 0;
		cpuid2_add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
		cpuid2_add(c, 0x80000008, 0, 0, (cases[i].vaddr << 8) | 40,
			   0, 0, 0);
		if (cases[i].ok) {
			EXPECT_EQ(0, __vcpu_set_cpuid2(vcpu, c))
				TH_LOG("vaddr %u: %s", cases[i].vaddr,
				       strerror(errno));
			last_good = c->entries[1].eax;
		} else {
			EXPECT_EQ(-1, __vcpu_set_cpuid2(vcpu, c))
				TH_LOG("vaddr %u accepted", cases[i].vaddr);
			EXPECT_EQ(EINVAL, errno);
		}
		/* A refused table leaves the previous one in place. */
		g = vcpu_get_cpuid2(vcpu);
		ASSERT_NE(NULL, cpuid2_find(g, 0x80000008, 0));
		EXPECT_EQ(last_good, cpuid2_find(g, 0x80000008, 0)->eax);
		free(g);
		free(c);
	}
	kvm_vm_free(vm);
}

static void guest_cpuid_once(void)
{
	uint32_t a, b, c, d;

	cpuid(0, 0, &a, &b, &c, &d);
	GUEST_SYNC(a);
}

/*
 * After the vCPU has run, KVM_SET_CPUID2 only accepts the table the vCPU
 * already has (VMMs re-send it on CPU hotplug); any change is EINVAL.
 */
TEST(set_cpuid2_after_run)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cpuid_once);
	struct kvm_cpuid2 *c = cpuid2_alloc(3), *g;

	c->nent = 0;
	cpuid2_add(c, 0, 0, 0, 2, VENDOR_AMD_EBX, VENDOR_AMD_ECX,
		   VENDOR_AMD_EDX);
	cpuid2_add(c, 2, 0, 0, 0x1111, 0x2222, 0x3333, 0x4444);
	vcpu_set_cpuid2(vcpu, c);
	/* Before the first KVM_RUN anything goes. */
	c->entries[1].eax = 0x5555;
	vcpu_set_cpuid2(vcpu, c);

	vcpu_expect_sync(vcpu, 2);

	/* The same table: accepted. */
	EXPECT_EQ(0, __vcpu_set_cpuid2(vcpu, c)) TH_LOG("%s", strerror(errno));
	/* A changed value, a missing or an extra entry: EINVAL. */
	c->entries[1].eax = 0x6666;
	EXPECT_EQ(-1, __vcpu_set_cpuid2(vcpu, c));
	EXPECT_EQ(EINVAL, errno);
	c->entries[1].eax = 0x5555;
	c->nent = 1;
	EXPECT_EQ(-1, __vcpu_set_cpuid2(vcpu, c));
	EXPECT_EQ(EINVAL, errno);
	c->nent = 2;
	cpuid2_add(c, 3, 0, 0, 1, 2, 3, 4);
	EXPECT_EQ(-1, __vcpu_set_cpuid2(vcpu, c));
	EXPECT_EQ(EINVAL, errno);

	g = vcpu_get_cpuid2(vcpu);
	EXPECT_EQ(0x5555, cpuid2_find(g, 2, 0)->eax);
	EXPECT_EQ(NULL, cpuid2_find(g, 3, 0));
	free(g);
	free(c);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

/* ---- the guest's CPUID ---- */

struct cpuid_query {
	uint32_t leaf, subleaf;
	uint32_t want[4];	/* eax, ebx, ecx, edx */
};

#define MAX_QUERIES	32
static struct cpuid_query queries[MAX_QUERIES];
static uint64_t nr_queries;

static void guest_cpuid_queries(void)
{
	uint64_t i;

	for (i = 0; i < nr_queries; i++) {
		uint32_t a, b, c, d;

		cpuid(queries[i].leaf, queries[i].subleaf, &a, &b, &c, &d);
		GUEST_SYNC_ARGS(a, b, c, d);
	}
	GUEST_DONE();
}

static void query(uint32_t leaf, uint32_t subleaf, const uint32_t *want)
{
	struct cpuid_query *q = &queries[nr_queries++];

	q->leaf = leaf;
	q->subleaf = subleaf;
	memcpy(q->want, want, sizeof(q->want));
}

static const uint32_t zeros[4];

/* Run the queries; returns the number of mismatches (each is logged). */
static int run_queries(struct __test_metadata *_metadata,
		       struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	int bad = 0;
	uint64_t i;

	sync_global_to_guest(vm, queries);
	sync_global_to_guest(vm, nr_queries);
	for (i = 0; i < nr_queries; i++) {
		struct cpuid_query *q = &queries[i];

		ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
		if (uc.args[0] != q->want[0] || uc.args[1] != q->want[1] ||
		    uc.args[2] != q->want[2] || uc.args[3] != q->want[3]) {
			bad++;
			TH_LOG("CPUID 0x%x.%u: got %08llx %08llx %08llx %08llx, wanted %08x %08x %08x %08x",
			       q->leaf, q->subleaf,
			       (unsigned long long)uc.args[0],
			       (unsigned long long)uc.args[1],
			       (unsigned long long)uc.args[2],
			       (unsigned long long)uc.args[3],
			       q->want[0], q->want[1], q->want[2], q->want[3]);
		}
	}
	vcpu_expect_done(vcpu);
	return bad;
}

static const uint32_t *regs_of(struct kvm_cpuid_entry2 *e)
{
	return &e->eax;
}

/*
 * A table naming an AMD vendor: the guest reads exactly what was set,
 * subleaves where the index is significant, and zeros for any leaf the
 * table does not hold, in range or not.
 */
TEST(guest_cpuid_amd_vendor)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cpuid_queries);
	struct kvm_cpuid2 *c = cpuid2_alloc(12);
	struct kvm_cpuid_entry2 *l0, *l2, *l4a, *l4b, *x0, *x2, *x8, *h0;

	c->nent = 0;
	l0 = cpuid2_add(c, 0, 0, 0, 0xd, VENDOR_AMD_EBX, VENDOR_AMD_ECX,
			VENDOR_AMD_EDX);
	l2 = cpuid2_add(c, 2, 0, 0, 0x11111111, 0x22222222, 0x33333333,
			0x44444444);
	l4a = cpuid2_add(c, 4, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x40, 0x41,
			 0x42, 0x43);
	l4b = cpuid2_add(c, 4, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x50, 0x51,
			 0x52, 0x53);
	x0 = cpuid2_add(c, 0x80000000, 0, 0, 0x80000008, VENDOR_AMD_EBX,
			VENDOR_AMD_ECX, VENDOR_AMD_EDX);
	x2 = cpuid2_add(c, 0x80000002, 0, 0, 0x6c6c6548, 0x6f77206f,
			0x21646c72, 0);
	x8 = cpuid2_add(c, 0x80000008, 0, 0, 0x3028, 0, 0, 0);
	h0 = cpuid2_add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b,
			0x564b4d56, 0x4d);
	vcpu_set_cpuid2(vcpu, c);

	nr_queries = 0;
	query(0, 0, regs_of(l0));
	query(2, 0, regs_of(l2));
	query(2, 7, regs_of(l2));	/* index not significant */
	query(4, 0, regs_of(l4a));
	query(4, 1, regs_of(l4b));
	query(4, 2, zeros);		/* no such subleaf */
	query(3, 0, zeros);		/* in range, not in the table */
	query(0xd, 0, zeros);		/* the highest leaf, not in the table */
	query(0x20, 0, zeros);		/* out of range: AMD gives zeros */
	query(0x80000000, 0, regs_of(x0));
	query(0x80000002, 0, regs_of(x2));
	query(0x80000008, 0, regs_of(x8));
	query(0x80000005, 0, zeros);
	query(0x80000010, 0, zeros);
	query(0x40000000, 0, regs_of(h0));
	query(0x40000001, 0, zeros);
	query(0xc0000000, 0, zeros);
	EXPECT_EQ(0, run_queries(_metadata, vm, vcpu));
	free(c);
	kvm_vm_free(vm);
}

/*
 * A table naming an Intel vendor: a leaf above the maximum of its class
 * (or of a class the table does not have) reads as the highest basic
 * leaf, as on Intel CPUs; a missing leaf within range still reads zeros.
 */
TEST(guest_cpuid_intel_vendor)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cpuid_queries);
	struct kvm_cpuid2 *c = cpuid2_alloc(8);
	struct kvm_cpuid_entry2 *l0, *l2, *x0, *x2, *h0;

	c->nent = 0;
	l0 = cpuid2_add(c, 0, 0, 0, 2, VENDOR_INTEL_EBX, VENDOR_INTEL_ECX,
			VENDOR_INTEL_EDX);
	l2 = cpuid2_add(c, 2, 0, 0, 0x11111111, 0x22222222, 0x33333333,
			0x44444444);
	x0 = cpuid2_add(c, 0x80000000, 0, 0, 0x80000004, 0, 0, 0);
	x2 = cpuid2_add(c, 0x80000002, 0, 0, 0x6c6c6548, 0x6f77206f,
			0x21646c72, 0);
	h0 = cpuid2_add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b,
			0x564b4d56, 0x4d);
	vcpu_set_cpuid2(vcpu, c);

	nr_queries = 0;
	query(0, 0, regs_of(l0));
	query(2, 3, regs_of(l2));
	query(1, 0, zeros);		/* in range, not in the table */
	query(3, 0, regs_of(l2));	/* above the basic maximum */
	query(0x20, 0, regs_of(l2));
	query(0x80000000, 0, regs_of(x0));
	query(0x80000002, 0, regs_of(x2));
	query(0x80000003, 0, zeros);	/* in range */
	query(0x80000005, 0, regs_of(l2));	/* above 0x80000004 */
	query(0x80000010, 0, regs_of(l2));
	query(0x40000000, 0, regs_of(h0));
	query(0x40000001, 0, zeros);	/* in range of 0x40000000 */
	query(0x40000002, 0, regs_of(l2));	/* above it */
	query(0x40000105, 0, regs_of(l2));	/* a class with no leaf */
	query(0xc0000001, 0, regs_of(l2));
	EXPECT_EQ(0, run_queries(_metadata, vm, vcpu));
	free(c);
	kvm_vm_free(vm);
}

/* An empty table: every leaf reads as zeros. */
TEST(guest_cpuid_empty_table)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cpuid_queries);

	nr_queries = 0;
	query(0, 0, zeros);
	query(1, 0, zeros);
	query(0x80000000, 0, zeros);
	query(0x40000000, 0, zeros);
	EXPECT_EQ(0, run_queries(_metadata, vm, vcpu));
	kvm_vm_free(vm);
}

/* ---- bits that follow vCPU state ---- */

static uint64_t guest_xcr0_ymm;

static void guest_runtime_bits(void)
{
	uint32_t a, b, c, d;

	/* CR4.OSXSAVE clear: CPUID.1:ECX.OSXSAVE clear. */
	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(1, c, d, 0);
	write_cr4(read_cr4() | X86_CR4_OSXSAVE);
	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(2, c, d, 0);
	/* The host disabled the APIC in between. */
	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(3, c, d, 0);
	/* XCR0 = x87 only, then (set by the host) SSE, then AVX. */
	cpuid(0xd, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(4, b, c, xgetbv(0));
	cpuid(0xd, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(5, b, c, xgetbv(0));
	if (guest_xcr0_ymm) {
		cpuid(0xd, 0, &a, &b, &c, &d);
		GUEST_SYNC_ARGS(6, b, c, xgetbv(0));
	}
	/* Back to CR4.OSXSAVE clear. */
	write_cr4(read_cr4() & ~X86_CR4_OSXSAVE);
	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(7, c, d, 0);
	GUEST_DONE();
}

static void expect_step(struct __test_metadata *_metadata,
			struct kvm_vcpu *vcpu, uint64_t step, struct ucall *uc)
{
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, uc));
	ASSERT_EQ(step, uc->args[0]);
}

static void set_xcr0(struct kvm_vcpu *vcpu, uint64_t xcr0)
{
	struct kvm_xcrs xcrs;

	memset(&xcrs, 0, sizeof(xcrs));
	xcrs.nr_xcrs = 1;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = xcr0;
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs),
		    "KVM_SET_XCRS xcr0 0x%llx failed", (unsigned long long)xcr0);
}

/*
 * CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE, CPUID.1:EDX.APIC the APIC-base
 * enable bit and CPUID.0xD.0:EBX the size of the XCR0 in use; the guest
 * sees them so and KVM_GET_CPUID2 reports them so.  (XCR0 changes come
 * from KVM_SET_XCRS: an emulated SVM may not intercept the guest's XSETBV.)
 */
TEST(guest_cpuid_runtime_bits)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_runtime_bits);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid(), *g;
	struct kvm_cpuid_entry2 *l1 = cpuid2_find(c, 1, 0), *ld, *ymm;
	uint64_t apic_base;
	struct ucall uc;

	ASSERT_NE(NULL, l1);
	ld = cpuid2_find(c, 0xd, 0);
	if (!(l1->ecx & CPUID1_ECX_XSAVE) || !ld)
		SKIP(goto out, "no XSAVE in the supported CPUID");
	ASSERT_TRUE(l1->edx & CPUID1_EDX_APIC);
	/* Ask for OSXSAVE and a bogus 0xD.0:EBX: both follow the state. */
	l1->ecx |= CPUID1_ECX_OSXSAVE;
	ld->ebx = 0x1234;
	ymm = cpuid2_find(c, 0xd, 2);
	guest_xcr0_ymm = (ld->eax & XFEATURE_MASK_YMM) && ymm;
	sync_global_to_guest(vm, guest_xcr0_ymm);
	vcpu_set_cpuid2(vcpu, c);

	/* KVM_GET_CPUID2 reports the bits as the guest would see them. */
	g = vcpu_get_cpuid2(vcpu);
	EXPECT_FALSE(cpuid2_find(g, 1, 0)->ecx & CPUID1_ECX_OSXSAVE);
	EXPECT_TRUE(cpuid2_find(g, 1, 0)->edx & CPUID1_EDX_APIC);
	EXPECT_EQ(576, cpuid2_find(g, 0xd, 0)->ebx);
	free(g);

	expect_step(_metadata, vcpu, 1, &uc);
	EXPECT_FALSE(uc.args[1] & CPUID1_ECX_OSXSAVE);
	EXPECT_TRUE(uc.args[1] & CPUID1_ECX_XSAVE);
	EXPECT_TRUE(uc.args[2] & CPUID1_EDX_APIC);

	expect_step(_metadata, vcpu, 2, &uc);
	EXPECT_TRUE(uc.args[1] & CPUID1_ECX_OSXSAVE);
	g = vcpu_get_cpuid2(vcpu);
	EXPECT_TRUE(cpuid2_find(g, 1, 0)->ecx & CPUID1_ECX_OSXSAVE);
	free(g);

	/* Disable the APIC: CPUID.1:EDX.APIC goes away. */
	apic_base = vcpu_get_msr(vcpu, MSR_IA32_APICBASE);
	EXPECT_TRUE(apic_base & MSR_IA32_APICBASE_ENABLE);
	vcpu_set_msr(vcpu, MSR_IA32_APICBASE,
		     apic_base & ~MSR_IA32_APICBASE_ENABLE);
	g = vcpu_get_cpuid2(vcpu);
	EXPECT_FALSE(cpuid2_find(g, 1, 0)->edx & CPUID1_EDX_APIC);
	free(g);
	expect_step(_metadata, vcpu, 3, &uc);
	EXPECT_FALSE(uc.args[2] & CPUID1_EDX_APIC);
	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, apic_base);
	g = vcpu_get_cpuid2(vcpu);
	EXPECT_TRUE(cpuid2_find(g, 1, 0)->edx & CPUID1_EDX_APIC);
	free(g);

	expect_step(_metadata, vcpu, 4, &uc);
	EXPECT_EQ(576, uc.args[1]);
	EXPECT_EQ(XFEATURE_MASK_FP, uc.args[3]);
	set_xcr0(vcpu, XFEATURE_MASK_FP | XFEATURE_MASK_SSE);
	expect_step(_metadata, vcpu, 5, &uc);
	EXPECT_EQ(576, uc.args[1]);
	EXPECT_EQ(XFEATURE_MASK_FP | XFEATURE_MASK_SSE, uc.args[3]);
	if (guest_xcr0_ymm) {
		set_xcr0(vcpu, XFEATURE_MASK_FP | XFEATURE_MASK_SSE |
			 XFEATURE_MASK_YMM);
		g = vcpu_get_cpuid2(vcpu);
		EXPECT_EQ(ymm->ebx + ymm->eax, cpuid2_find(g, 0xd, 0)->ebx);
		free(g);
		expect_step(_metadata, vcpu, 6, &uc);
		EXPECT_EQ(ymm->ebx + ymm->eax, uc.args[1]);
		EXPECT_EQ(7, uc.args[3]);
	}
	expect_step(_metadata, vcpu, 7, &uc);
	EXPECT_FALSE(uc.args[1] & CPUID1_ECX_OSXSAVE);
	EXPECT_TRUE(uc.args[2] & CPUID1_EDX_APIC);
	g = vcpu_get_cpuid2(vcpu);
	EXPECT_FALSE(cpuid2_find(g, 1, 0)->ecx & CPUID1_ECX_OSXSAVE);
	free(g);
	vcpu_expect_done(vcpu);
out:
	free(c);
	kvm_vm_free(vm);
}

/* CR4 bits the guest's CPUID does not offer are refused (EINVAL). */
TEST(set_sregs_cr4_follows_cpuid)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_cpuid_once);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *l1 = cpuid2_find(c, 1, 0);
	struct kvm_sregs sregs;

	ASSERT_NE(NULL, l1);
	if (!(l1->ecx & CPUID1_ECX_XSAVE))
		SKIP(goto out, "no XSAVE in the supported CPUID");

	/* CPUID without XSAVE: CR4.OSXSAVE is reserved. */
	l1->ecx &= ~(CPUID1_ECX_XSAVE | CPUID1_ECX_OSXSAVE);
	vcpu_set_cpuid2(vcpu, c);
	vcpu_sregs_get(vcpu, &sregs);
	sregs.cr4 |= X86_CR4_OSXSAVE;
	EXPECT_EQ(-1, __vcpu_sregs_set(vcpu, &sregs));
	EXPECT_EQ(EINVAL, errno);

	/* With XSAVE it is accepted. */
	l1->ecx |= CPUID1_ECX_XSAVE;
	vcpu_set_cpuid2(vcpu, c);
	EXPECT_EQ(0, __vcpu_sregs_set(vcpu, &sregs));
	vcpu_expect_sync(vcpu, cpuid2_find(c, 0, 0)->eax);
	vcpu_expect_done(vcpu);
out:
	free(c);
	kvm_vm_free(vm);
}

TEST(caps)
{
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_EXT_CPUID));
}

TEST_HARNESS_MAIN
