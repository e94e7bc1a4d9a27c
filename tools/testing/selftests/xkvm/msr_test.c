// SPDX-License-Identifier: GPL-2.0
/*
 * msr_test.c - the MSR ioctls and the guest's RDMSR/WRMSR: the E2BIG
 * protocol of KVM_GET_MSR_INDEX_LIST and KVM_GET_MSR_FEATURE_INDEX_LIST,
 * feature MSRs read on the system fd, KVM_GET/SET_MSRS counts (a batch
 * stops at the first MSR that fails), every listed MSR round-tripping
 * through KVM_GET_MSRS and KVM_SET_MSRS, the values of a new vCPU, KVM's
 * checks of host writes (EFER, canonical addresses, SYSENTER_*, PAT,
 * APIC base, HWCR, MTRRs) and of guest accesses (#GP for an unknown MSR
 * and for values KVM refuses), and the TSC, TSC_ADJUST and TSC_AUX MSRs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "x86_util.h"

#define PAT_DEFAULT		0x0007040600070406ULL
#define NONCANONICAL		0x0000800000000000ULL

/* MSRs every KVM lists in KVM_GET_MSR_INDEX_LIST (QEMU relies on them). */
static const uint32_t required_msrs[] = {
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR,
	MSR_IA32_TSC, MSR_IA32_CR_PAT, MSR_IA32_TSC_ADJUST,
	MSR_IA32_MISC_ENABLE, MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL,
};

static int msr_list_ioctl(unsigned long nr, struct kvm_msr_list *list)
{
	int fd = kvm_open_dev(), r, err;

	r = ioctl(fd, nr, list);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

static void check_list_protocol(struct __test_metadata *_metadata,
				unsigned long nr, const char *name)
{
	struct kvm_msr_list *list = kvm_get_msr_list(nr), *l;
	unsigned int n = list->nmsrs, i, j;

	TH_LOG("%s: %u MSRs", name, n);
	ASSERT_LT(0, n);

	/* Too small: E2BIG, and nmsrs says how many there are. */
	l = calloc(1, sizeof(*l) + (n + 10) * sizeof(uint32_t));
	ASSERT_NE(NULL, l);
	l->nmsrs = n - 1;
	EXPECT_EQ(-1, msr_list_ioctl(nr, l));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(n, l->nmsrs);

	/* Larger than needed: nmsrs is set to the real count. */
	l->nmsrs = n + 10;
	EXPECT_EQ(0, msr_list_ioctl(nr, l));
	EXPECT_EQ(n, l->nmsrs);
	EXPECT_EQ(0, memcmp(list->indices, l->indices, n * sizeof(uint32_t)));

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			EXPECT_NE(list->indices[i], list->indices[j]);
	free(l);
	free(list);
}

TEST(msr_index_list)
{
	struct kvm_msr_list *list;
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *e;
	unsigned int i;

	check_list_protocol(_metadata, KVM_GET_MSR_INDEX_LIST,
			    "KVM_GET_MSR_INDEX_LIST");
	list = kvm_get_msr_list(KVM_GET_MSR_INDEX_LIST);
	for (i = 0; i < ARRAY_SIZE(required_msrs); i++)
		EXPECT_TRUE(msr_list_has(list, required_msrs[i]))
			TH_LOG("MSR 0x%x is not listed", required_msrs[i]);
	/* TSC_AUX is saved and restored if the guest can have RDTSCP. */
	c = kvm_get_supported_cpuid();
	e = cpuid2_find(c, 0x80000001, 0);
	if (e && (e->edx & CPUID_EXT1_EDX_RDTSCP))
		EXPECT_TRUE(msr_list_has(list, MSR_TSC_AUX));
	free(c);
	free(list);
}

TEST(msr_feature_index_list)
{
	struct kvm_msr_list *list;
	struct kvm_msrs *m;
	unsigned int i;
	int fd;

	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_GET_MSR_FEATURES));
	check_list_protocol(_metadata, KVM_GET_MSR_FEATURE_INDEX_LIST,
			    "KVM_GET_MSR_FEATURE_INDEX_LIST");
	list = kvm_get_msr_list(KVM_GET_MSR_FEATURE_INDEX_LIST);
	EXPECT_TRUE(msr_list_has(list, MSR_IA32_UCODE_REV));

	/* All of them are readable on the system fd, in one batch. */
	fd = kvm_open_dev();
	m = msrs_alloc(list->nmsrs);
	for (i = 0; i < list->nmsrs; i++)
		m->entries[i].index = list->indices[i];
	EXPECT_EQ(list->nmsrs, ioctl(fd, KVM_GET_MSRS, m));
	free(m);

	/* A batch stops at the first MSR that is not a feature MSR. */
	m = msrs_alloc(3);
	m->entries[0].index = MSR_IA32_UCODE_REV;
	m->entries[1].index = MSR_UNKNOWN;
	m->entries[2].index = MSR_IA32_UCODE_REV;
	EXPECT_EQ(1, ioctl(fd, KVM_GET_MSRS, m));
	m->entries[0].index = MSR_EFER;
	EXPECT_EQ(0, ioctl(fd, KVM_GET_MSRS, m));
	m->nmsrs = 0;
	EXPECT_EQ(0, ioctl(fd, KVM_GET_MSRS, m));
	free(m);
	m = msrs_alloc(KVM_MAX_IO_MSRS);
	for (i = 0; i < KVM_MAX_IO_MSRS; i++)
		m->entries[i].index = MSR_IA32_UCODE_REV;
	EXPECT_EQ(-1, ioctl(fd, KVM_GET_MSRS, m));
	EXPECT_EQ(E2BIG, errno);
	m->nmsrs = KVM_MAX_IO_MSRS - 1;
	EXPECT_EQ(KVM_MAX_IO_MSRS - 1, ioctl(fd, KVM_GET_MSRS, m));
	/* Writing feature MSRs is not a system ioctl. */
	EXPECT_EQ(-1, ioctl(fd, KVM_SET_MSRS, m));
	free(m);
	close(fd);
	free(list);
}

TEST(get_set_msrs_counts)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	struct kvm_msrs *m = msrs_alloc(3), *big;
	unsigned int i;

	/* GET: stops at the unknown MSR. */
	m->entries[0].index = MSR_STAR;
	m->entries[1].index = MSR_UNKNOWN;
	m->entries[2].index = MSR_LSTAR;
	EXPECT_EQ(1, ioctl(vcpu->fd, KVM_GET_MSRS, m));

	/* SET: the MSRs before it are written, the ones after are not. */
	m->entries[0].data = 0x0023001000000000ULL;
	m->entries[1].data = 0;
	m->entries[2].data = 0xffffffff81000000ULL;
	EXPECT_EQ(1, ioctl(vcpu->fd, KVM_SET_MSRS, m));
	EXPECT_EQ(0x0023001000000000ULL, vcpu_get_msr(vcpu, MSR_STAR));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_LSTAR));

	/* A value KVM refuses stops the batch the same way. */
	m->entries[1].index = MSR_IA32_CR_PAT;
	m->entries[1].data = 0x0202020202020202ULL;	/* type 2: reserved */
	EXPECT_EQ(1, ioctl(vcpu->fd, KVM_SET_MSRS, m));
	EXPECT_EQ(PAT_DEFAULT, vcpu_get_msr(vcpu, MSR_IA32_CR_PAT));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_LSTAR));

	/* All good: all processed, in order. */
	m->entries[1].data = 0x0006060606060606ULL;
	EXPECT_EQ(3, ioctl(vcpu->fd, KVM_SET_MSRS, m));
	EXPECT_EQ(0x0006060606060606ULL, vcpu_get_msr(vcpu, MSR_IA32_CR_PAT));
	EXPECT_EQ(0xffffffff81000000ULL, vcpu_get_msr(vcpu, MSR_LSTAR));
	m->entries[0].data = m->entries[1].data = m->entries[2].data = 0;
	EXPECT_EQ(3, ioctl(vcpu->fd, KVM_GET_MSRS, m));
	EXPECT_EQ(0x0023001000000000ULL, m->entries[0].data);
	EXPECT_EQ(0x0006060606060606ULL, m->entries[1].data);
	EXPECT_EQ(0xffffffff81000000ULL, m->entries[2].data);

	/* The first MSR unknown: nothing processed. */
	m->entries[0].index = MSR_UNKNOWN;
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_GET_MSRS, m));
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_MSRS, m));

	/* Empty batches. */
	m->nmsrs = 0;
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_GET_MSRS, m));
	EXPECT_EQ(0, ioctl(vcpu->fd, KVM_SET_MSRS, m));
	free(m);

	/* nmsrs must stay below KVM's limit of 256. */
	big = msrs_alloc(KVM_MAX_IO_MSRS);
	for (i = 0; i < KVM_MAX_IO_MSRS; i++) {
		big->entries[i].index = MSR_STAR;
		big->entries[i].data = 0x0023001000000000ULL;
	}
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_GET_MSRS, big));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_SET_MSRS, big));
	EXPECT_EQ(E2BIG, errno);
	big->nmsrs = KVM_MAX_IO_MSRS - 1;
	EXPECT_EQ(KVM_MAX_IO_MSRS - 1, ioctl(vcpu->fd, KVM_GET_MSRS, big));
	EXPECT_EQ(KVM_MAX_IO_MSRS - 1, ioctl(vcpu->fd, KVM_SET_MSRS, big));
	free(big);

	/* A bad pointer. */
	EXPECT_EQ(-1, ioctl(vcpu->fd, KVM_GET_MSRS, NULL));
	EXPECT_EQ(EFAULT, errno);
	kvm_vm_free(vm);
}

static void guest_nothing(void)
{
	GUEST_DONE();
}

/* Listed MSRs whose value moves on its own: counters of time. */
static bool msr_is_counter(uint32_t idx)
{
	return idx == MSR_IA32_TSC || idx == HV_X64_MSR_VP_RUNTIME ||
	       idx == HV_X64_MSR_TIME_REF_COUNT;
}

/*
 * Listed MSRs KVM refuses to write (even with the value read) unless the
 * VM has an in-kernel LAPIC: the async-PF interrupt vector.
 */
static bool msr_needs_irqchip(uint32_t idx)
{
	return idx == MSR_KVM_ASYNC_PF_INT;
}

/*
 * What a VMM does on migration: read every listed MSR, write the values
 * back.  Each must be readable, take the value it read, and read it back.
 */
TEST(listed_msrs_round_trip)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_nothing);
	struct kvm_msr_list *list = kvm_get_msr_list(KVM_GET_MSR_INDEX_LIST);
	struct kvm_msrs *m;
	unsigned int i, n;

	free(vcpu_set_supported_cpuid(vcpu));
	for (i = 0; i < list->nmsrs; i++) {
		uint32_t idx = list->indices[i];
		uint64_t v = 0, v2 = 0;
		int r;

		r = __vcpu_get_msr(vcpu, idx, &v);
		EXPECT_EQ(1, r) TH_LOG("KVM_GET_MSRS of listed MSR 0x%x", idx);
		if (r != 1)
			continue;
		r = __vcpu_set_msr(vcpu, idx, v);
		if (msr_needs_irqchip(idx))
			continue;
		EXPECT_EQ(1, r)
			TH_LOG("KVM_SET_MSRS of listed MSR 0x%x = 0x%llx", idx,
			       (unsigned long long)v);
		EXPECT_EQ(1, __vcpu_get_msr(vcpu, idx, &v2));
		if (msr_is_counter(idx)) {
			EXPECT_LE(v, v2);
			EXPECT_GT(v + (1ULL << 40), v2);
		} else {
			EXPECT_EQ(v, v2) TH_LOG("MSR 0x%x", idx);
		}
	}

	/* The same in batches, as QEMU does it. */
	m = msrs_alloc(list->nmsrs);
	for (i = 0, n = 0; i < list->nmsrs && n < KVM_MAX_IO_MSRS - 1; i++)
		if (!msr_needs_irqchip(list->indices[i]))
			m->entries[n++].index = list->indices[i];
	m->nmsrs = n;
	EXPECT_EQ(n, ioctl(vcpu->fd, KVM_GET_MSRS, m));
	EXPECT_EQ(n, ioctl(vcpu->fd, KVM_SET_MSRS, m));
	free(m);

	/* The vCPU still runs. */
	vcpu_expect_done(vcpu);
	free(list);
	kvm_vm_free(vm);
}

TEST(new_vcpu_msr_values)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *bsp = vm_vcpu_add_raw(vm, 0);
	struct kvm_vcpu *ap = vm_vcpu_add_raw(vm, 1);
	struct kvm_sregs sregs;

	EXPECT_EQ(APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
		  MSR_IA32_APICBASE_BSP, vcpu_get_msr(bsp, MSR_IA32_APICBASE));
	EXPECT_EQ(APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE,
		  vcpu_get_msr(ap, MSR_IA32_APICBASE));
	vcpu_sregs_get(ap, &sregs);
	EXPECT_EQ(APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE,
		  sregs.apic_base);
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_EFER));
	EXPECT_EQ(PAT_DEFAULT, vcpu_get_msr(bsp, MSR_IA32_CR_PAT));
	EXPECT_EQ(MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL,
		  vcpu_get_msr(bsp, MSR_IA32_MISC_ENABLE));
	/* KVM's made-up microcode revision differs per vendor. */
	EXPECT_EQ(xkvm_vendor_is_amd() ? 0x01000065ULL : 0x100000000ULL,
		  vcpu_get_msr(bsp, MSR_IA32_UCODE_REV));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_IA32_TSC_ADJUST));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_STAR));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_LSTAR));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_KERNEL_GS_BASE));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_IA32_SYSENTER_CS));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_K7_HWCR));
	/* MTRRs: 8 variable, fixed, WC; all disabled. */
	EXPECT_EQ(0x508, vcpu_get_msr(bsp, MSR_MTRRcap));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_MTRRdefType));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_MTRR_PHYSMASK(7)));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_MTRRfix4K_F8000));
	/* Machine check: KVM_MAX_MCE_BANKS banks until KVM_X86_SETUP_MCE. */
	EXPECT_EQ(KVM_MAX_MCE_BANKS, vcpu_get_msr(bsp, MSR_IA32_MCG_CAP));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_IA32_MCG_STATUS));
	/* The legacy kvmclock MSRs read as "off". */
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_KVM_WALL_CLOCK));
	EXPECT_EQ(0, vcpu_get_msr(bsp, MSR_KVM_SYSTEM_TIME));
	vcpu_set_msr(bsp, MSR_KVM_SYSTEM_TIME, 0);
	kvm_vm_free(vm);
}

/* ---- host writes KVM checks ---- */

static void guest_sync_efer(void)
{
	GUEST_SYNC(rdmsr(MSR_EFER));
}

TEST(host_efer)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_sync_efer);
	uint64_t efer;

	free(vcpu_set_supported_cpuid(vcpu));
	efer = vcpu_get_msr(vcpu, MSR_EFER);
	EXPECT_EQ(EFER_LME | EFER_LMA, efer);

	/* EFER.LMA is the CPU's: a host write cannot change it. */
	vcpu_set_msr(vcpu, MSR_EFER, EFER_LME | EFER_SCE);
	EXPECT_EQ(EFER_LME | EFER_LMA | EFER_SCE, vcpu_get_msr(vcpu, MSR_EFER));
	/* Reserved bits: refused. */
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_EFER, efer | (1ULL << 63)));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_EFER, efer | (1ULL << 2)));
	EXPECT_EQ(EFER_LME | EFER_LMA | EFER_SCE, vcpu_get_msr(vcpu, MSR_EFER));
	vcpu_expect_sync(vcpu, EFER_LME | EFER_LMA | EFER_SCE);
	kvm_vm_free(vm);
}

TEST(host_address_msrs)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	static const uint32_t canonical_only[] = {
		MSR_LSTAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_FS_BASE,
		MSR_GS_BASE,
	};
	struct kvm_cpuid2 *c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(canonical_only); i++) {
		uint32_t idx = canonical_only[i];

		vcpu_set_msr(vcpu, idx, 0xffff800000001000ULL);
		EXPECT_EQ(0xffff800000001000ULL, vcpu_get_msr(vcpu, idx));
		/* Non-canonical: refused even from the host. */
		EXPECT_EQ(0, __vcpu_set_msr(vcpu, idx, NONCANONICAL))
			TH_LOG("MSR 0x%x took a non-canonical address", idx);
		EXPECT_EQ(0xffff800000001000ULL, vcpu_get_msr(vcpu, idx));
	}

	/* SYSENTER_CS keeps (at least) 32 bits. */
	vcpu_set_msr(vcpu, MSR_IA32_SYSENTER_CS, 0x12345678);
	EXPECT_EQ(0x12345678, vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_CS));

	/*
	 * SYSENTER_ESP/EIP: AMD CPUs keep only 32 bits (64-bit SYSENTER does
	 * not exist there).  KVM on AMD kept only those unless the guest
	 * claims to be an Intel CPU (6.1); newer KVM keeps all 64 bits.  With
	 * an Intel vendor, and on VT-x, all 64 bits are kept.
	 */
	vcpu_set_msr(vcpu, MSR_IA32_SYSENTER_EIP, 0xffffffff81234560ULL);
	vcpu_set_msr(vcpu, MSR_IA32_SYSENTER_ESP, 0xffffc90000001000ULL);
	if (xkvm_vendor_is_amd()) {
		uint64_t eip = vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_EIP);
		uint64_t esp = vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_ESP);

		TH_LOG("AMD vendor: SYSENTER_EIP 0x%llx, SYSENTER_ESP 0x%llx",
		       (unsigned long long)eip, (unsigned long long)esp);
		EXPECT_TRUE(eip == 0xffffffff81234560ULL || eip == 0x81234560ULL);
		EXPECT_TRUE(esp == 0xffffc90000001000ULL || esp == 0x00001000ULL);
		c = cpuid2_alloc(1);
		c->nent = 0;
		cpuid2_add(c, 0, 0, 0, 1, VENDOR_INTEL_EBX, VENDOR_INTEL_ECX,
			   VENDOR_INTEL_EDX);
		vcpu_set_cpuid2(vcpu, c);
		free(c);
		vcpu_set_msr(vcpu, MSR_IA32_SYSENTER_EIP, 0xffffffff81234560ULL);
		vcpu_set_msr(vcpu, MSR_IA32_SYSENTER_ESP, 0xffffc90000001000ULL);
	}
	EXPECT_EQ(0xffffffff81234560ULL,
		  vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_EIP));
	EXPECT_EQ(0xffffc90000001000ULL,
		  vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_ESP));
	kvm_vm_free(vm);
}

TEST(host_pat_apic_base_hwcr)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	uint64_t base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
			MSR_IA32_APICBASE_BSP;
	unsigned int i;

	/* PAT: each byte 0, 1, 4, 5, 6 or 7. */
	vcpu_set_msr(vcpu, MSR_IA32_CR_PAT, 0x0706050401000706ULL);
	EXPECT_EQ(0x0706050401000706ULL, vcpu_get_msr(vcpu, MSR_IA32_CR_PAT));
	for (i = 0; i < 8; i++) {
		uint64_t keep = PAT_DEFAULT & ~(0xffULL << (8 * i));

		EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_CR_PAT,
					    keep | (2ULL << (8 * i))));
		EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_CR_PAT,
					    keep | (3ULL << (8 * i))));
		EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_CR_PAT,
					    keep | (8ULL << (8 * i))));
	}
	EXPECT_EQ(0x0706050401000706ULL, vcpu_get_msr(vcpu, MSR_IA32_CR_PAT));

	/* APIC base: with a CPUID that has no x2APIC. */
	cpuid2_find(c, 1, 0)->ecx &= ~CPUID1_ECX_X2APIC;
	vcpu_set_cpuid2(vcpu, c);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_APICBASE, base | 1));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_APICBASE, base | 0x200));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_APICBASE,
				    base | MSR_IA32_APICBASE_X2APIC));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_APICBASE, base | (1ULL << 60)));
	EXPECT_EQ(base, vcpu_get_msr(vcpu, MSR_IA32_APICBASE));
	/* Moving it and disabling it are fine. */
	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, 0xfed00000ULL |
		     MSR_IA32_APICBASE_ENABLE);
	EXPECT_EQ(0xfed00000ULL | MSR_IA32_APICBASE_ENABLE,
		  vcpu_get_msr(vcpu, MSR_IA32_APICBASE));
	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, APIC_DEFAULT_PHYS_BASE);
	EXPECT_EQ(APIC_DEFAULT_PHYS_BASE, vcpu_get_msr(vcpu, MSR_IA32_APICBASE));
	/* x2APIC enabled while xAPIC is disabled is no valid mode. */
	cpuid2_find(c, 1, 0)->ecx |= CPUID1_ECX_X2APIC;
	vcpu_set_cpuid2(vcpu, c);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_APICBASE,
				    APIC_DEFAULT_PHYS_BASE |
				    MSR_IA32_APICBASE_X2APIC));

	/*
	 * HWCR: McStatusWrEn is the one writable bit; three bits Linux
	 * writes (TLB cache disable, flush filter, IGNNE) are ignored; others
	 * are refused.
	 */
	EXPECT_EQ(1, __vcpu_set_msr(vcpu, MSR_K7_HWCR, 0x148));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_K7_HWCR));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_K7_HWCR, 1ULL << 30));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_K7_HWCR, 1ULL << 0));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_K7_HWCR));
	EXPECT_EQ(1, __vcpu_set_msr(vcpu, MSR_K7_HWCR, HWCR_MCSTATUSWREN | 0x8));
	EXPECT_EQ(HWCR_MCSTATUSWREN, vcpu_get_msr(vcpu, MSR_K7_HWCR));

	/* UCODE_REV: the host sets what the guest reads. */
	vcpu_set_msr(vcpu, MSR_IA32_UCODE_REV, 0x0800820d00000000ULL);
	EXPECT_EQ(0x0800820d00000000ULL, vcpu_get_msr(vcpu, MSR_IA32_UCODE_REV));
	free(c);
	kvm_vm_free(vm);
}

TEST(host_mtrrs)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	struct kvm_cpuid2 *c = cpuid2_alloc(2);
	unsigned int i;

	/* MAXPHYADDR 40. */
	c->nent = 0;
	cpuid2_add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	cpuid2_add(c, 0x80000008, 0, 0, 0x3028, 0, 0, 0);
	vcpu_set_cpuid2(vcpu, c);
	free(c);

	/* MTRRcap is read-only. */
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRcap, 0x508));

	/* MTRRdefType: type in 7:0 (0, 1, 4, 5, 6), FE bit 10, E bit 11. */
	vcpu_set_msr(vcpu, MSR_MTRRdefType, 0xc06);
	EXPECT_EQ(0xc06, vcpu_get_msr(vcpu, MSR_MTRRdefType));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRdefType, 0x007)) TH_LOG("UC-");
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRdefType, 0x002));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRdefType, 0x003));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRdefType, 0x106));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRdefType, 0x1006));
	EXPECT_EQ(0xc06, vcpu_get_msr(vcpu, MSR_MTRRdefType));

	/* Fixed ranges: every byte a valid MTRR type. */
	vcpu_set_msr(vcpu, MSR_MTRRfix64K_00000, 0x0605040100060504ULL);
	EXPECT_EQ(0x0605040100060504ULL,
		  vcpu_get_msr(vcpu, MSR_MTRRfix64K_00000));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRfix16K_80000,
					    0x0606060606060606ULL ^
					    (1ULL << (8 * i))))
			TH_LOG("byte %u = 7", i);
		EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRRfix4K_F8000,
					    0x0606060606060606ULL ^
					    (4ULL << (8 * i))))
			TH_LOG("byte %u = 2", i);
	}
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_MTRRfix16K_80000));

	/* Variable ranges: address bits within MAXPHYADDR. */
	vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(0), 0x80000006ULL);
	vcpu_set_msr(vcpu, MSR_MTRR_PHYSMASK(0), 0xff80000800ULL);
	EXPECT_EQ(0x80000006ULL, vcpu_get_msr(vcpu, MSR_MTRR_PHYSBASE(0)));
	EXPECT_EQ(0xff80000800ULL, vcpu_get_msr(vcpu, MSR_MTRR_PHYSMASK(0)));
	vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(7), 0xff00000000ULL);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(1), 0x80000007ULL));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(1), 0x80000106ULL));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(1),
				    (1ULL << 40) | 6));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSMASK(1), 0xff80000801ULL));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSMASK(1),
				    (1ULL << 40) | 0x800));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_MTRR_PHYSBASE(1)));
	/* There are 8 pairs, no ninth. */
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_MTRR_PHYSBASE(8), 6));
	kvm_vm_free(vm);
}

/* ---- the guest's RDMSR and WRMSR ---- */

struct msr_op {
	uint32_t msr;
	uint32_t write;
	uint64_t val;		/* written */
	uint64_t want_vector;	/* GUEST_NO_FAULT or a vector */
	uint64_t check_read;	/* reads: compare the value read */
	uint64_t want;		/* ... with this */
};

#define MAX_OPS		48
static struct msr_op ops[MAX_OPS];
static uint64_t nr_ops;

static void guest_msr_ops(void)
{
	uint64_t i;

	for (i = 0; i < nr_ops; i++) {
		uint64_t v = 0;
		uint8_t vec;

		if (ops[i].write)
			vec = wrmsr_safe(ops[i].msr, ops[i].val);
		else
			vec = rdmsr_safe(ops[i].msr, &v);
		GUEST_SYNC_ARGS(i, vec, v, guest_fault_error);
	}
	GUEST_DONE();
}

static void op_add(uint32_t msr, bool write, uint64_t val, uint8_t vector,
		   bool check, uint64_t want)
{
	struct msr_op *o = &ops[nr_ops++];

	TEST_ASSERT(nr_ops <= MAX_OPS, "too many MSR ops");
	o->msr = msr;
	o->write = write;
	o->val = val;
	o->want_vector = vector;
	o->check_read = check;
	o->want = want;
}

#define WR_OK(msr, v)		op_add(msr, true, v, GUEST_NO_FAULT, false, 0)
#define WR_GP(msr, v)		op_add(msr, true, v, GP_VECTOR, false, 0)
#define RD_IS(msr, v)		op_add(msr, false, 0, GUEST_NO_FAULT, true, v)
#define RD_OK(msr)		op_add(msr, false, 0, GUEST_NO_FAULT, false, 0)
#define RD_GP(msr)		op_add(msr, false, 0, GP_VECTOR, false, 0)

/* Run the ops; every mismatch is logged; returns how many. */
static int run_ops(struct __test_metadata *_metadata, struct kvm_vm *vm,
		   struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	uint64_t i;
	int bad = 0;

	sync_global_to_guest(vm, ops);
	sync_global_to_guest(vm, nr_ops);
	for (i = 0; i < nr_ops; i++) {
		struct msr_op *o = &ops[i];

		if (vcpu_run_ucall(vcpu, &uc) != UCALL_SYNC || uc.args[0] != i) {
			TH_LOG("op %llu: no sync", (unsigned long long)i);
			return bad + 1;
		}
		if (uc.args[1] != o->want_vector ||
		    (o->want_vector == GP_VECTOR && uc.args[3] != 0) ||
		    (o->check_read && uc.args[1] == GUEST_NO_FAULT &&
		     uc.args[2] != o->want)) {
			char what[64], want[64];

			bad++;
			if (o->write)
				snprintf(what, sizeof(what), "WRMSR 0x%x = 0x%llx",
					 o->msr, (unsigned long long)o->val);
			else
				snprintf(what, sizeof(what), "RDMSR 0x%x", o->msr);
			if (o->check_read)
				snprintf(want, sizeof(want), ", read 0x%llx",
					 (unsigned long long)o->want);
			else
				want[0] = 0;
			TH_LOG("guest %s: vector %lld (error %llu), read 0x%llx; wanted vector %lld%s",
			       what,
			       uc.args[1] == GUEST_NO_FAULT ? -1LL :
			       (long long)uc.args[1],
			       (unsigned long long)uc.args[3],
			       (unsigned long long)uc.args[2],
			       o->want_vector == GUEST_NO_FAULT ? -1LL :
			       (long long)o->want_vector, want);
		}
	}
	vcpu_expect_done(vcpu);
	return bad;
}

TEST(guest_rdmsr_wrmsr)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_msr_ops);
	uint64_t misc;

	vm_install_fault_skipper(vm);
	free(vcpu_set_supported_cpuid(vcpu));
	vcpu_set_msr(vcpu, MSR_CSTAR, 0xffffffff81000040ULL);
	misc = vcpu_get_msr(vcpu, MSR_IA32_MISC_ENABLE);

	nr_ops = 0;
	/* Values the host set; values the guest sets. */
	RD_IS(MSR_CSTAR, 0xffffffff81000040ULL);
	WR_OK(MSR_STAR, 0x0023001000000000ULL);
	WR_OK(MSR_LSTAR, 0xffffffff81000000ULL);
	WR_OK(MSR_SYSCALL_MASK, 0x47700);
	WR_OK(MSR_KERNEL_GS_BASE, 0xffff888000000000ULL);
	WR_OK(MSR_IA32_SYSENTER_CS, 0x10);
	WR_OK(MSR_IA32_CR_PAT, 0x0007010600070106ULL);
	RD_IS(MSR_STAR, 0x0023001000000000ULL);
	RD_IS(MSR_IA32_CR_PAT, 0x0007010600070106ULL);
	/* Unknown MSRs: #GP(0). */
	RD_GP(MSR_UNKNOWN);
	WR_GP(MSR_UNKNOWN, 0);
	RD_GP(0xc0011fff);
	/*
	 * Values KVM refuses: #GP, nothing written.  (Not the syscall MSRs
	 * with a non-canonical address: KVM lets the CPU handle those, and an
	 * emulated CPU may not check.)
	 */
	WR_GP(MSR_IA32_CR_PAT, 0x0007040600070402ULL);
	RD_IS(MSR_LSTAR, 0xffffffff81000000ULL);
	/* EFER: reserved bits, LME while paging. */
	WR_GP(MSR_EFER, EFER_LME | EFER_LMA | (1ULL << 2));
	WR_GP(MSR_EFER, EFER_LMA);
	WR_OK(MSR_EFER, EFER_LME | EFER_LMA | EFER_SCE);
	RD_IS(MSR_EFER, EFER_LME | EFER_LMA | EFER_SCE);
	/* UCODE_REV: a guest write is ignored. */
	vcpu_set_msr(vcpu, MSR_IA32_UCODE_REV, 0x0800820d00000000ULL);
	WR_OK(MSR_IA32_UCODE_REV, 0x1234);
	RD_IS(MSR_IA32_UCODE_REV, 0x0800820d00000000ULL);
	/* MISC_ENABLE: the PMU bits are read-only, EMON writes ignored. */
	WR_GP(MSR_IA32_MISC_ENABLE, misc & ~MISC_ENABLE_BTS_UNAVAIL);
	WR_OK(MSR_IA32_MISC_ENABLE, misc | MISC_ENABLE_EMON);
	RD_IS(MSR_IA32_MISC_ENABLE, misc);
	/* MTRRs. */
	RD_IS(MSR_MTRRcap, 0x508);
	WR_GP(MSR_MTRRcap, 0x508);
	WR_OK(MSR_MTRRdefType, 0xc06);
	WR_GP(MSR_MTRRdefType, 0xc07);
	RD_IS(MSR_MTRRdefType, 0xc06);
	/* MCG_CAP is read-only; HWCR takes McStatusWrEn only. */
	RD_IS(MSR_IA32_MCG_CAP, KVM_MAX_MCE_BANKS);
	WR_GP(MSR_IA32_MCG_CAP, KVM_MAX_MCE_BANKS);
	WR_GP(MSR_K7_HWCR, 1ULL << 30);
	WR_OK(MSR_K7_HWCR, HWCR_MCSTATUSWREN);
	RD_IS(MSR_K7_HWCR, HWCR_MCSTATUSWREN);
	EXPECT_EQ(0, run_ops(_metadata, vm, vcpu));

	/* The guest's writes are what the host reads. */
	EXPECT_EQ(0x0023001000000000ULL, vcpu_get_msr(vcpu, MSR_STAR));
	EXPECT_EQ(0xffffffff81000000ULL, vcpu_get_msr(vcpu, MSR_LSTAR));
	EXPECT_EQ(0x47700, vcpu_get_msr(vcpu, MSR_SYSCALL_MASK));
	EXPECT_EQ(0xffff888000000000ULL, vcpu_get_msr(vcpu, MSR_KERNEL_GS_BASE));
	EXPECT_EQ(0x10, vcpu_get_msr(vcpu, MSR_IA32_SYSENTER_CS));
	EXPECT_EQ(0x0007010600070106ULL, vcpu_get_msr(vcpu, MSR_IA32_CR_PAT));
	EXPECT_EQ(EFER_LME | EFER_LMA | EFER_SCE, vcpu_get_msr(vcpu, MSR_EFER));
	EXPECT_EQ(0xc06, vcpu_get_msr(vcpu, MSR_MTRRdefType));
	kvm_vm_free(vm);
}

/* EFER.SCE needs no CPUID bit on KVM; LME/NX do. */
TEST(guest_efer_cpuid)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_msr_ops);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid2_find(c, 0x80000001, 0);

	vm_install_fault_skipper(vm);
	ASSERT_NE(NULL, e);
	e->edx &= ~CPUID_EXT1_EDX_SYSCALL;
	e->edx &= ~(1U << 20);	/* NX */
	vcpu_set_cpuid2(vcpu, c);
	nr_ops = 0;
	WR_OK(MSR_EFER, EFER_LME | EFER_LMA | EFER_SCE);
	WR_GP(MSR_EFER, EFER_LME | EFER_LMA | EFER_NX);
	RD_IS(MSR_EFER, EFER_LME | EFER_LMA | EFER_SCE);
	EXPECT_EQ(0, run_ops(_metadata, vm, vcpu));
	free(c);
	kvm_vm_free(vm);
}

/* ---- machine check ---- */

TEST(mce_caps)
{
	uint64_t cap = 0;
	int fd = kvm_open_dev();

	EXPECT_EQ(KVM_MAX_MCE_BANKS, kvm_check_cap(KVM_CAP_MCE));
	ASSERT_EQ(0, ioctl(fd, KVM_X86_GET_MCE_CAP_SUPPORTED, &cap));
	TH_LOG("supported MCG_CAP 0x%llx", (unsigned long long)cap);
	EXPECT_TRUE(cap & MCG_CTL_P);
	/* The bank count is KVM_CAP_MCE's, not part of the bits. */
	EXPECT_EQ(0, cap & 0xff);
	close(fd);
}

static int setup_mce(struct kvm_vcpu *vcpu, uint64_t cap)
{
	return ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap);
}

TEST(setup_mce_and_msrs)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_vcpu *vcpu = vm_vcpu_add_raw(vm, 0);
	uint64_t sup = 0, bad_bit, v;
	unsigned int i;
	int fd = kvm_open_dev();

	ASSERT_EQ(0, ioctl(fd, KVM_X86_GET_MCE_CAP_SUPPORTED, &sup));
	close(fd);
	for (bad_bit = 1ULL << 8; bad_bit; bad_bit <<= 1)
		if (!(bad_bit & (sup | 0xff | 0xff0000)))
			break;

	/* Bank count 1..32; only supported bits (and 23:16) besides. */
	EXPECT_EQ(-1, setup_mce(vcpu, sup | 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setup_mce(vcpu, sup | (KVM_MAX_MCE_BANKS + 1)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setup_mce(vcpu, sup | 4 | bad_bit));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KVM_MAX_MCE_BANKS, vcpu_get_msr(vcpu, MSR_IA32_MCG_CAP));
	EXPECT_EQ(0, setup_mce(vcpu, KVM_MAX_MCE_BANKS));
	EXPECT_EQ(0, setup_mce(vcpu, 0x0a0000 | 1));

	/* 4 banks with MCG_CTL: MCG_CTL and every MCi_CTL all ones. */
	EXPECT_EQ(0, setup_mce(vcpu, MCG_CTL_P | 4));
	EXPECT_EQ(MCG_CTL_P | 4, vcpu_get_msr(vcpu, MSR_IA32_MCG_CAP));
	EXPECT_EQ(~0ULL, vcpu_get_msr(vcpu, MSR_IA32_MCG_CTL));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(~0ULL, vcpu_get_msr(vcpu, MSR_IA32_MCx_CTL(i)));
		EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_IA32_MCx_STATUS(i)));
	}
	/* No bank 4. */
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(4), 0));
	EXPECT_EQ(0, __vcpu_get_msr(vcpu, MSR_IA32_MCx_CTL(4), &v));
	EXPECT_EQ(0, __vcpu_get_msr(vcpu, MSR_IA32_MCx_MISC(4), &v));
	/* MCG_CAP is read-only, even for the host (even its own value). */
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCG_CAP, MCG_CTL_P | 4));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCG_CAP, MCG_CTL_P | 5));
	EXPECT_EQ(MCG_CTL_P | 4, vcpu_get_msr(vcpu, MSR_IA32_MCG_CAP));

	/* MCG_CTL: all zeros or all ones. */
	vcpu_set_msr(vcpu, MSR_IA32_MCG_CTL, 0);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCG_CTL, 1));
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_IA32_MCG_CTL));
	vcpu_set_msr(vcpu, MSR_IA32_MCG_CTL, ~0ULL);

	/* MCi_CTL: 0 or all ones, bit 10 and bit 0 may be clear. */
	vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(1), 0);
	vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(1), ~0ULL & ~(1ULL << 10));
	EXPECT_EQ(~0ULL & ~(1ULL << 10), vcpu_get_msr(vcpu, MSR_IA32_MCx_CTL(1)));
	vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(2), ~0ULL & ~1ULL);
	vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(2), ~0ULL & ~0x401ULL);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(3), 0x1234));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(3), ~0ULL << 1 << 1));
	EXPECT_EQ(~0ULL, vcpu_get_msr(vcpu, MSR_IA32_MCx_CTL(3)));

	/* The host may write any status, address and misc value. */
	vcpu_set_msr(vcpu, MSR_IA32_MCx_STATUS(3), 0xb200000000000135ULL);
	vcpu_set_msr(vcpu, MSR_IA32_MCx_ADDR(3), 0x12345000);
	vcpu_set_msr(vcpu, MSR_IA32_MCx_MISC(3), 0x86);
	EXPECT_EQ(0xb200000000000135ULL,
		  vcpu_get_msr(vcpu, MSR_IA32_MCx_STATUS(3)));
	EXPECT_EQ(0x12345000, vcpu_get_msr(vcpu, MSR_IA32_MCx_ADDR(3)));
	EXPECT_EQ(0x86, vcpu_get_msr(vcpu, MSR_IA32_MCx_MISC(3)));
	vcpu_set_msr(vcpu, MSR_IA32_MCG_STATUS, 0x5);
	EXPECT_EQ(0x5, vcpu_get_msr(vcpu, MSR_IA32_MCG_STATUS));

	/* Without MCG_CTL_P: MCG_CTL reads (host) and takes only 0. */
	EXPECT_EQ(0, setup_mce(vcpu, 2));
	EXPECT_EQ(2, vcpu_get_msr(vcpu, MSR_IA32_MCG_CAP));
	EXPECT_EQ(1, __vcpu_get_msr(vcpu, MSR_IA32_MCG_CTL, &v));
	vcpu_set_msr(vcpu, MSR_IA32_MCG_CTL, 0);
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCG_CTL, ~0ULL));
	EXPECT_EQ(0, __vcpu_set_msr(vcpu, MSR_IA32_MCx_CTL(2), 0));
	kvm_vm_free(vm);
}

/* MCi_STATUS: the guest may write non-zero only with HWCR.McStatusWrEn,
 * and only if it is an AMD guest. */
TEST(guest_mce_msrs)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_msr_ops);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *l0 = cpuid2_find(c, 0, 0);
	bool amd_guest;

	vm_install_fault_skipper(vm);
	ASSERT_NE(NULL, l0);
	amd_guest = l0->ebx == VENDOR_AMD_EBX;
	vcpu_set_cpuid2(vcpu, c);
	ASSERT_EQ(0, setup_mce(vcpu, MCG_CTL_P | 4));

	nr_ops = 0;
	RD_IS(MSR_IA32_MCG_CAP, MCG_CTL_P | 4);
	WR_GP(MSR_IA32_MCG_CAP, MCG_CTL_P | 4);
	RD_IS(MSR_IA32_MCG_CTL, ~0ULL);
	WR_GP(MSR_IA32_MCG_CTL, 0x1);
	WR_OK(MSR_IA32_MCG_CTL, 0);
	RD_IS(MSR_IA32_MCx_CTL(3), ~0ULL);
	WR_GP(MSR_IA32_MCx_CTL(3), 0x1234);
	WR_OK(MSR_IA32_MCx_CTL(3), ~0ULL & ~(1ULL << 10));
	RD_IS(MSR_IA32_MCx_CTL(3), ~0ULL & ~(1ULL << 10));
	RD_GP(MSR_IA32_MCx_CTL(4));
	RD_GP(MSR_IA32_MCx_STATUS(4));
	WR_GP(MSR_IA32_MCx_STATUS(1), 0x5);
	WR_OK(MSR_IA32_MCx_STATUS(1), 0);
	WR_OK(MSR_IA32_MCx_ADDR(1), 0x1000);
	RD_IS(MSR_IA32_MCx_ADDR(1), 0x1000);
	WR_OK(MSR_K7_HWCR, HWCR_MCSTATUSWREN);
	if (amd_guest) {
		WR_OK(MSR_IA32_MCx_STATUS(1), 0x5);
		RD_IS(MSR_IA32_MCx_STATUS(1), 0x5);
	} else {
		WR_GP(MSR_IA32_MCx_STATUS(1), 0x5);
	}
	EXPECT_EQ(0, run_ops(_metadata, vm, vcpu));
	kvm_vm_free(vm);

	/* The same CPU claiming to be Intel: HWCR does not help. */
	vm = vm_create_with_one_vcpu(&vcpu, guest_msr_ops);
	vm_install_fault_skipper(vm);
	l0->ebx = VENDOR_INTEL_EBX;
	l0->ecx = VENDOR_INTEL_ECX;
	l0->edx = VENDOR_INTEL_EDX;
	vcpu_set_cpuid2(vcpu, c);
	ASSERT_EQ(0, setup_mce(vcpu, MCG_CTL_P | 4));
	vcpu_set_msr(vcpu, MSR_K7_HWCR, HWCR_MCSTATUSWREN);
	nr_ops = 0;
	WR_GP(MSR_IA32_MCx_STATUS(1), 0x5);
	WR_OK(MSR_IA32_MCx_STATUS(1), 0);
	EXPECT_EQ(0, run_ops(_metadata, vm, vcpu));
	free(c);
	kvm_vm_free(vm);
}

/* ---- TSC ---- */

static void guest_tsc(void)
{
	uint64_t t0, t1;

	/* 1: the TSC the host set. */
	GUEST_SYNC_ARGS(1, rdtsc(), 0, 0);
	/* 2: WRMSR to the TSC moves TSC_ADJUST by the same amount. */
	t0 = rdtsc();
	wrmsr(MSR_IA32_TSC, t0 + (1ULL << 37));
	t1 = rdtsc();
	GUEST_SYNC_ARGS(2, t0, t1, 0);
	/* 3: WRMSR to TSC_ADJUST moves the TSC. */
	t0 = rdtsc();
	wrmsr(MSR_IA32_TSC_ADJUST, rdmsr(MSR_IA32_TSC_ADJUST) + (1ULL << 37));
	t1 = rdtsc();
	GUEST_SYNC_ARGS(3, t0, t1, rdmsr(MSR_IA32_TSC_ADJUST));
	/* 4: a host write of TSC_ADJUST does not move the TSC. */
	t0 = rdtsc();
	GUEST_SYNC_ARGS(4, t0, 0, 0);
	t1 = rdtsc();
	GUEST_SYNC_ARGS(5, t0, t1, rdmsr(MSR_IA32_TSC_ADJUST));
}

#define TSC_SLACK	(1ULL << 36)	/* ~25 s at 2.5 GHz: slow emulators */

TEST(tsc_and_tsc_adjust)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_tsc);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *l7 = cpuid2_find(c, 7, 0);
	uint64_t tsc, adj;
	struct ucall uc;

	ASSERT_NE(NULL, l7);
	l7->ebx |= CPUID7_EBX_TSC_ADJUST;
	vcpu_set_cpuid2(vcpu, c);
	free(c);

	/* A host write sets the TSC, not TSC_ADJUST. */
	vcpu_set_msr(vcpu, MSR_IA32_TSC, 1ULL << 40);
	tsc = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	EXPECT_LE(1ULL << 40, tsc);
	EXPECT_GT((1ULL << 40) + TSC_SLACK, tsc);
	EXPECT_EQ(0, vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST));

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_LE(1ULL << 40, uc.args[1]);
	EXPECT_GT((1ULL << 40) + TSC_SLACK, uc.args[1]);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_LE(uc.args[1] + (1ULL << 37), uc.args[2]);
	EXPECT_GT(uc.args[1] + (1ULL << 37) + TSC_SLACK, uc.args[2]);
	adj = vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST);
	EXPECT_GE(1ULL << 37, adj);
	EXPECT_LT((1ULL << 37) - TSC_SLACK, adj);

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(3, uc.args[0]);
	EXPECT_LE(uc.args[1] + (1ULL << 37), uc.args[2]);
	EXPECT_GT(uc.args[1] + (1ULL << 37) + TSC_SLACK, uc.args[2]);
	EXPECT_EQ(adj + (1ULL << 37), uc.args[3]);
	EXPECT_EQ(adj + (1ULL << 37), vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST));

	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(4, uc.args[0]);
	vcpu_set_msr(vcpu, MSR_IA32_TSC_ADJUST, 12345);
	EXPECT_EQ(12345, vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST));
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	ASSERT_EQ(5, uc.args[0]);
	EXPECT_LT(uc.args[1], uc.args[2]);
	EXPECT_GT(uc.args[1] + TSC_SLACK, uc.args[2]);
	EXPECT_EQ(12345, uc.args[3]);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static void guest_tsc_aux(void)
{
	uint32_t lo, hi, aux;

	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	GUEST_SYNC_ARGS(aux, rdmsr(MSR_TSC_AUX), 0, 0);
	wrmsr(MSR_TSC_AUX, 0x77);
	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	GUEST_SYNC_ARGS(aux, 0, 0, 0);
}

/* TSC_AUX exists if the guest can have RDTSCP; RDTSCP returns it. */
TEST(tsc_aux)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_tsc_aux);
	struct kvm_cpuid2 *c = kvm_get_supported_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid2_find(c, 0x80000001, 0);
	struct ucall uc;

	if (!e || !(e->edx & CPUID_EXT1_EDX_RDTSCP))
		SKIP(goto out, "no RDTSCP in the supported CPUID");
	vcpu_set_cpuid2(vcpu, c);
	/* Bits 63:32 are dropped for a non-Intel guest. */
	if (cpuid2_find(c, 0, 0)->ebx != VENDOR_INTEL_EBX) {
		vcpu_set_msr(vcpu, MSR_TSC_AUX, 0xffffffff00000005ULL);
		EXPECT_EQ(5, vcpu_get_msr(vcpu, MSR_TSC_AUX));
	}
	vcpu_set_msr(vcpu, MSR_TSC_AUX, 5);
	EXPECT_EQ(5, vcpu_get_msr(vcpu, MSR_TSC_AUX));
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(5, uc.args[0]);
	EXPECT_EQ(5, uc.args[1]);
	ASSERT_EQ(UCALL_SYNC, vcpu_run_ucall(vcpu, &uc));
	EXPECT_EQ(0x77, uc.args[0]);
	EXPECT_EQ(0x77, vcpu_get_msr(vcpu, MSR_TSC_AUX));
	vcpu_expect_done(vcpu);
out:
	free(c);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
