// SPDX-License-Identifier: GPL-2.0
/*
 * firecracker_test.c - a minimal VMM shaped like Firecracker (v1.16), the
 * strictest of the VMMs xkvm must run unmodified (see
 * ../shared/notes/vmm-requirements.md section 4.1):
 *
 * - the start-up checks: API version 12 and Firecracker's fourteen
 *   required capabilities, each checked on its own and named when missing,
 *   and the union of what QEMU 7.2, Firecracker and kvmtool require;
 * - the VM set up in Firecracker's order: KVM_SET_TSS_ADDR,
 *   KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2 (speaker dummy), memory, a vCPU
 *   with the supported CPUID, the boot MSRs, LINT0 = ExtINT and
 *   LINT1 = NMI through KVM_GET/SET_LAPIC, its TSC rate read and set back,
 *   and started directly in 64-bit mode (no real mode);
 * - a device in Firecracker's style: a virtio-mmio QueueNotify register
 *   whose doorbell is an ioeventfd (datamatch = queue index) and whose
 *   interrupt is an irqfd on an MSI route.  A device thread waits on the
 *   doorbell eventfd and answers through the irqfd; the guest rings,
 *   halts with interrupts on and counts the answers in its handler.  Every
 *   exit that reaches userspace is checked: only the guest's ucalls may
 *   (Firecracker treats KVM_EXIT_HLT as an error), and a write with
 *   another queue index is an ordinary KVM_EXIT_MMIO.
 *
 * Passes on stock KVM in reference mode too.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "x86_util.h"
#include "irqchip_util.h"
#include "xkvm_util.h"

/* Firecracker's memory map: the first virtio-mmio device, QueueNotify. */
#define MMIO_DEV_GPA		0xd0000000ULL
#define MMIO_QUEUE_NOTIFY	0x50
#define DOORBELL_GPA		(MMIO_DEV_GPA + MMIO_QUEUE_NOTIFY)
#define DOORBELL_QUEUE		0
#define TSS_ADDR		0xfffbd000UL

/* The device's interrupt: GSI 24 (past the IOAPIC's pins), MSI to APIC 0. */
#define DEV_GSI			24
#define DEV_VECTOR		0x41
#define MSI_ADDR_BASE		0xfee00000U

#define ROUNDS			64
#define WATCHDOG_MS		60000

/* ---------------------------- guest side ---------------------------- */

static volatile uint64_t answers;

static void on_device_irq(struct ex_regs *regs)
{
	answers++;
	xapic_write(APIC_EOI, 0);
}

static void guest_device(void)
{
	uint64_t i;

	xapic_write(APIC_SPIV, APIC_SPIV_ENABLE | 0xff);
	for (i = 0; i < ROUNDS; i++) {
		mmio_write32(DOORBELL_GPA, DOORBELL_QUEUE);
		/*
		 * Halt until the device answers.  STI's shadow covers the HLT,
		 * so an answer that is already pending wakes it at once.
		 */
		while (answers == i)
			__asm__ __volatile__("sti; hlt; cli" : : : "memory");
		GUEST_ASSERT_EQ(answers, i + 1);
	}
	GUEST_SYNC(1);
	/* Another queue's index: no ioeventfd matches, userspace serves it. */
	mmio_write32(DOORBELL_GPA, 1);
	GUEST_DONE();
}

/* ----------------------------- host side ----------------------------- */

struct named_cap {
	long cap;
	const char *name;
};

#define CAP(c) { KVM_CAP_##c, #c }

/* src/vmm/src/arch/x86_64/kvm.rs: checked one by one at start-up. */
static const struct named_cap firecracker_caps[] = {
	CAP(IRQCHIP), CAP(IOEVENTFD), CAP(IRQFD), CAP(USER_MEMORY),
	CAP(SET_TSS_ADDR), CAP(PIT2), CAP(PIT_STATE2), CAP(ADJUST_CLOCK),
	CAP(DEBUGREGS), CAP(MP_STATE), CAP(VCPU_EVENTS), CAP(XCRS),
	CAP(XSAVE), CAP(EXT_CPUID),
};

/* QEMU 7.2 + Firecracker + kvmtool (vmm-requirements.md section 4.3). */
static const struct named_cap union_caps[] = {
	CAP(IRQCHIP), CAP(HLT), CAP(USER_MEMORY), CAP(SET_TSS_ADDR),
	CAP(EXT_CPUID), CAP(MP_STATE), CAP(COALESCED_MMIO),
	CAP(DESTROY_MEMORY_REGION_WORKS), CAP(IRQ_ROUTING),
	CAP(IRQ_INJECT_STATUS), CAP(JOIN_MEMORY_REGIONS_WORKS), CAP(MCE),
	CAP(IRQFD), CAP(PIT2), CAP(PIT_STATE2), CAP(IOEVENTFD),
	CAP(ADJUST_CLOCK), CAP(VCPU_EVENTS), CAP(DEBUGREGS), CAP(XSAVE),
	CAP(XCRS),
};

static int missing_caps(int kvm_fd, const struct named_cap *caps, int n,
			struct __test_metadata *_metadata)
{
	int i, missing = 0;

	for (i = 0; i < n; i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) > 0)
			continue;
		TH_LOG("KVM_CAP_%s (%ld) is missing", caps[i].name, caps[i].cap);
		missing++;
	}
	return missing;
}

TEST(startup_checks)
{
	int fd = kvm_open_dev();

	ASSERT_EQ(KVM_API_VERSION, ioctl(fd, KVM_GET_API_VERSION, 0));
	EXPECT_EQ(0, missing_caps(fd, firecracker_caps,
				  ARRAY_SIZE(firecracker_caps), _metadata));
	EXPECT_EQ(0, missing_caps(fd, union_caps, ARRAY_SIZE(union_caps),
				  _metadata));
	/* kvmtool maps the coalesced ring at this page of the vCPU mmap */
	EXPECT_EQ(KVM_COALESCED_MMIO_PAGE_OFFSET,
		  ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
	close(fd);
}

/* The VM as Firecracker builds it, up to the vCPU's registers. */
static struct kvm_vm *firecracker_vm(struct kvm_vcpu **vcpu,
				     struct __test_metadata *_metadata)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_vm *vm = vm_create_long_mode();
	struct kvm_lapic_state lapic;
	uint32_t *lvt0, *lvt1;
	int khz;

	EXPECT_EQ(0, ioctl(vm->fd, KVM_SET_TSS_ADDR, TSS_ADDR));
	EXPECT_EQ(0, ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	EXPECT_EQ(0, ioctl(vm->fd, KVM_CREATE_PIT2, &pit));
	*vcpu = vm_vcpu_add(vm, 0, guest_device);
	virt_map(vm, APIC_GVA, APIC_GVA, PAGE_SIZE);
	virt_map(vm, MMIO_DEV_GPA, MMIO_DEV_GPA, PAGE_SIZE);
	vm_install_exception_handler(vm, DEV_VECTOR, on_device_irq);

	/* msr.rs: fast strings, MTRRs on with write-back default */
	vcpu_set_msr(*vcpu, MSR_IA32_MISC_ENABLE, 1);
	vcpu_set_msr(*vcpu, MSR_MTRRdefType, 0xc06);

	/* interrupts.rs: LINT0 = ExtINT, LINT1 = NMI */
	ASSERT_EQ(0, ioctl((*vcpu)->fd, KVM_GET_LAPIC, &lapic));
	lvt0 = (uint32_t *)&lapic.regs[APIC_LVT0];
	lvt1 = (uint32_t *)&lapic.regs[APIC_LVT1];
	*lvt0 = (*lvt0 & ~APIC_DM_MASK) | APIC_DM_EXTINT;
	*lvt1 = (*lvt1 & ~APIC_DM_MASK) | APIC_DM_NMI;
	ASSERT_EQ(0, ioctl((*vcpu)->fd, KVM_SET_LAPIC, &lapic));

	/* vcpu.rs: the TSC rate is read and, on restore, set back */
	khz = ioctl((*vcpu)->fd, KVM_GET_TSC_KHZ, 0);
	ASSERT_GT(khz, 0);
	EXPECT_EQ(0, ioctl((*vcpu)->fd, KVM_SET_TSC_KHZ, khz));
	EXPECT_EQ(khz, ioctl((*vcpu)->fd, KVM_GET_TSC_KHZ, 0));
	return vm;
}

/* GSIs 0-23 to the IOAPIC (0-15 also to the PICs, GSI 0 to pin 2) + MSI. */
static void set_routing_with_msi(struct kvm_vm *vm,
				 struct __test_metadata *_metadata)
{
	struct kvm_irq_routing *r = irq_routing_isa(IRQ_ROUTING_GSI0_PIN2, 1);

	/* physical, APIC ID 0; fixed, edge */
	irq_routing_add_msi(r, DEV_GSI, MSI_ADDR_BASE, DEV_VECTOR);
	ASSERT_EQ(0, __irq_routing_set(vm, r));
	free(r);
}

struct device {
	int doorbell;		/* ioeventfd */
	int irq;		/* irqfd */
	int stop;		/* eventfd: end the thread */
	uint64_t served;
	int error;
};

/* The device thread: every doorbell is answered with one interrupt. */
static void *device_thread(void *arg)
{
	struct device *d = arg;
	struct pollfd p[2] = {
		{ .fd = d->doorbell, .events = POLLIN },
		{ .fd = d->stop, .events = POLLIN },
	};
	uint64_t cnt, one = 1;

	for (;;) {
		if (poll(p, 2, WATCHDOG_MS) <= 0) {
			d->error = ETIMEDOUT;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (read(d->doorbell, &cnt, sizeof(cnt)) != sizeof(cnt)) {
			d->error = errno;
			return NULL;
		}
		/* one ring per halt: the guest waits for each answer */
		d->served += cnt;
		if (write(d->irq, &one, sizeof(one)) != sizeof(one)) {
			d->error = errno;
			return NULL;
		}
	}
}

static void on_watchdog(int sig)
{
}

TEST(doorbell_ioeventfd_irqfd_msi)
{
	struct sigaction sa = { .sa_handler = on_watchdog };
	struct device d = { 0 };
	struct kvm_ioeventfd io = {
		.addr = DOORBELL_GPA,
		.len = 4,
		.datamatch = DOORBELL_QUEUE,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	struct kvm_irqfd irqfd = { .gsi = DEV_GSI };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	pthread_t t;
	uint64_t one = 1, cmd;
	int r;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	vm = firecracker_vm(&vcpu, _metadata);
	set_routing_with_msi(vm, _metadata);

	d.doorbell = eventfd(0, EFD_CLOEXEC);
	d.irq = eventfd(0, EFD_CLOEXEC);
	d.stop = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(d.doorbell, 0);
	ASSERT_GE(d.irq, 0);
	ASSERT_GE(d.stop, 0);
	io.fd = d.doorbell;
	ASSERT_EQ(0, ioctl(vm->fd, KVM_IOEVENTFD, &io));
	irqfd.fd = d.irq;
	ASSERT_EQ(0, ioctl(vm->fd, KVM_IRQFD, &irqfd));
	ASSERT_EQ(0, pthread_create(&t, NULL, device_thread, &d));

	/* Only the ucall may come out: no HLT, no MMIO for the doorbell. */
	r = vcpu_run_timed(vcpu, WATCHDOG_MS, SIGUSR1);
	ASSERT_EQ(0, r) TH_LOG("KVM_RUN: %d, errno %d (EINTR: the watchdog; the guest waited for good)",
			       r, errno);
	cmd = get_ucall(vcpu, &uc);
	ASSERT_NE(UCALL_NONE, cmd) TH_LOG("exit to userspace: %s%s",
					  exit_reason_str(vcpu->run->exit_reason),
					  exit_details(vcpu));
	ASSERT_EQ(UCALL_SYNC, cmd) TH_LOG("%s", ucall_describe(&uc));
	ASSERT_EQ(1, uc.args[0]);

	ASSERT_EQ(sizeof(one), write(d.stop, &one, sizeof(one)));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, d.error);
	EXPECT_EQ(ROUNDS, d.served);

	/* Queue 1: the ioeventfd does not match, the VMM sees the write. */
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MMIO);
	EXPECT_EQ(DOORBELL_GPA, vcpu->run->mmio.phys_addr);
	EXPECT_EQ(1, vcpu->run->mmio.is_write);
	EXPECT_EQ(4, vcpu->run->mmio.len);
	EXPECT_EQ(1, *(uint32_t *)vcpu->run->mmio.data);
	vcpu_expect_done(vcpu);

	close(d.doorbell);
	close(d.irq);
	close(d.stop);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
