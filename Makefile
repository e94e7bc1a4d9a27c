# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of the xkvm modules, plus the project's entry points:
#   make [KDIR=...]    build xkvm.ko, xkvm-amd.ko, xkvm-intel.ko
#   make check         the test run (nested emulated machines, xkvm and reference mode)
#   make demo          boot the AMD-V machine and run a guest on xkvm
#   make bench         exit round-trip benchmark, xkvm vs stock KVM
#   make clean

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

KDIR ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then \
		echo /lib/modules/$$(uname -r)/build; \
	else ls -d /lib/modules/*/build 2>/dev/null | sort -V | tail -n 1; fi)
PWD := $(shell pwd)

all: modules

modules:
	@test -n "$(KDIR)" || { echo "xkvm: no kernel build directory; install linux-headers or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD) modules

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(PWD) clean; fi
	rm -rf build

check:
	tools/testing/nested/run.sh

demo:
	tools/testing/nested/run.sh --demo

bench:
	tools/testing/nested/run.sh --bench

.PHONY: all modules clean check demo bench
endif
