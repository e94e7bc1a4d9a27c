// SPDX-License-Identifier: GPL-2.0
/*
 * module_test.c - the hypervisor modules cannot be unloaded while a VM is
 * alive.  An open VM (or vCPU) fd holds a reference on the vendor module,
 * so delete_module() fails with EWOULDBLOCK (EAGAIN) as the kernel reports
 * a module in use, and the VM keeps working.  The core module is held by
 * the vendor module that uses it and is refused the same way.
 *
 * An open system fd alone pins the vendor module too (as on KVM, where
 * the vendor module owns /dev/kvm): its ioctls call into the backend, and
 * a backend unloaded under an open device would be called after it is
 * gone.
 *
 * Module names come from XKVM_VENDOR_MODULE / XKVM_CORE_MODULE (kvm_amd
 * and kvm in reference mode).  Successful unloading afterwards is not
 * tested: the modules must stay loaded for the tests that follow.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xkvm_util.h"

static int module_loaded(const char *name)
{
	char line[512];
	size_t len = strlen(name);
	FILE *f = fopen("/proc/modules", "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, len) && line[len] == ' ';
	fclose(f);
	return found;
}

static int try_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

/* Real-mode guest: out %al, $0x10; inc %al; jmp back. */
static const uint8_t counter_code[] = { 0xe6, 0x10, 0xfe, 0xc0, 0xeb, 0xfa };

static void expect_unload_refused(struct __test_metadata *_metadata,
				  const char *name)
{
	errno = 0;
	EXPECT_EQ(-1, try_unload(name));
	EXPECT_EQ(EWOULDBLOCK, errno)
		TH_LOG("delete_module(%s): %s", name, strerror(errno));
	EXPECT_EQ(1, module_loaded(name));
}

TEST(unload_refused_while_vm_alive)
{
	const char *vendor = xkvm_vendor_module();
	const char *core = xkvm_core_module();
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int loaded;

	if (!vendor)
		SKIP(return, "XKVM_VENDOR_MODULE not set");
	loaded = module_loaded(vendor);
	if (loaded < 0)
		SKIP(return, "no /proc/modules: kernel without module support");
	ASSERT_EQ(1, loaded) TH_LOG("%s is not loaded", vendor);

	vm = vm_create_realmode(&vcpu, counter_code, sizeof(counter_code));

	/* System, VM and vCPU fds open. */
	expect_unload_refused(_metadata, vendor);
	if (core)
		expect_unload_refused(_metadata, core);

	/* Only the VM and vCPU fds: the VM alone pins the module. */
	ASSERT_EQ(0, close(vm->kvm_fd));
	vm->kvm_fd = -1;
	expect_unload_refused(_metadata, vendor);

	/* Only the vCPU fd (it holds the VM). */
	ASSERT_EQ(0, close(vm->fd));
	vm->fd = -1;
	expect_unload_refused(_metadata, vendor);
	if (core)
		expect_unload_refused(_metadata, core);

	/* The refused unloads did not disturb the guest. */
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(0, *(uint8_t *)vcpu_io_data(vcpu));
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	EXPECT_EQ(1, *(uint8_t *)vcpu_io_data(vcpu));
	kvm_vm_free(vm);

	/* Still loaded, and the device still works. */
	EXPECT_EQ(1, module_loaded(vendor));
	vm = vm_create_realmode(&vcpu, counter_code, sizeof(counter_code));
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	kvm_vm_free(vm);
}

TEST(unload_refused_while_device_open)
{
	const char *vendor = xkvm_vendor_module();
	int kvm_fd;

	if (!vendor)
		SKIP(return, "XKVM_VENDOR_MODULE not set");
	if (module_loaded(vendor) < 0)
		SKIP(return, "no /proc/modules: kernel without module support");

	kvm_fd = kvm_open_dev();
	expect_unload_refused(_metadata, vendor);
	/* the device still answers: the backend is there */
	EXPECT_LT(0, ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(KVM_API_VERSION, ioctl(kvm_fd, KVM_GET_API_VERSION, 0));
	close(kvm_fd);
}

TEST_HARNESS_MAIN
