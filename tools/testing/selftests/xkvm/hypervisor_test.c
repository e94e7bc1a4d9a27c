// SPDX-License-Identifier: GPL-2.0
/*
 * hypervisor_test.c - the hypervisor and the physical CPUs:
 *  - CPU hotplug: a CPU taken offline and brought back online runs guests
 *    again (the hypervisor re-enables virtualisation on it);
 *  - another hypervisor holding the CPUs: loading xkvm's vendor module
 *    while the stock KVM module owns AMD-V/VT-x fails with EBUSY and a log
 *    line, and the host stays up.  This case needs the stock modules
 *    loaded, so it runs in reference mode and skips in xkvm mode; it
 *    finds xkvm's modules in XKVM_XKVM_MODULE_DIR (default
 *    /harness/xkvm, where the nested harness puts them).
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

static void guest_spin_sync(void)
{
	int i;

	for (i = 0; i < 4; i++)
		GUEST_SYNC(i);
	GUEST_DONE();
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), r;

	if (fd < 0)
		return -1;
	r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return r;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "cannot pin to CPU %d", cpu);
}

TEST(cpu_offline_online_runs_guests)
{
	const char *ctl = "/sys/devices/system/cpu/cpu1/online";
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (access(ctl, W_OK))
		SKIP(return, "CPU 1 cannot be taken offline here");
	pin_to(0);
	ASSERT_EQ(0, write_file(ctl, "0"));
	vm = vm_create_with_one_vcpu(&vcpu, guest_spin_sync);
	vcpu_expect_sync(vcpu, 0);
	ASSERT_EQ(0, write_file(ctl, "1"));
	/* the vCPU thread moves to the CPU that just came back */
	pin_to(1);
	vcpu_expect_sync(vcpu, 1);
	vcpu_expect_sync(vcpu, 2);
	pin_to(0);
	vcpu_expect_sync(vcpu, 3);
	vcpu_expect_done(vcpu);
	kvm_vm_free(vm);
}

static int load_module(const char *dir, const char *file)
{
	char path[512];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	r = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return r;
}

/* Does the kernel log, since @mark bytes, contain @needle? */
static bool klog_has(const char *needle)
{
	static char buf[1 << 18];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

TEST(xkvm_refuses_cpus_another_hypervisor_owns)
{
	const char *dir = getenv("XKVM_XKVM_MODULE_DIR");
	const char *vendor = xkvm_vendor_module();
	const char *file, *msg;
	struct kvm_vm *vm;

	if (!xkvm_reference_mode())
		SKIP(return, "needs the stock KVM modules loaded: runs in reference mode");
	if (!strcmp(vendor, "kvm_amd")) {
		file = "xkvm-amd.ko";
		msg = "another hypervisor owns AMD-V";
	} else if (!strcmp(vendor, "kvm_intel")) {
		file = "xkvm-intel.ko";
		msg = "another hypervisor owns VT-x";
	} else {
		SKIP(return, "unknown vendor module %s", vendor);
	}
	if (!dir)
		dir = "/harness/xkvm";

	/* a live VM makes every KVM version hold the CPUs */
	vm = vm_create_barebones();
	if (load_module(dir, "xkvm.ko") == -ENOENT)
		SKIP(kvm_vm_free(vm); return, "no xkvm modules in %s", dir);
	EXPECT_EQ(-EBUSY, load_module(dir, file));
	EXPECT_TRUE(klog_has(msg)) TH_LOG("no \"%s\" in the kernel log", msg);
	/* stock KVM is unharmed: its VM still runs a vCPU */
	kvm_vm_free(vm);
	vm = vm_create_with_one_vcpu((struct kvm_vcpu *[]){ NULL }, guest_spin_sync);
	kvm_vm_free(vm);
	EXPECT_EQ(0, syscall(SYS_delete_module, "xkvm", O_NONBLOCK));
}

TEST_HARNESS_MAIN
