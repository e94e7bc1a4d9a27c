# SPDX-License-Identifier: GPL-2.0
#
# vmm_lib.sh - helpers shared by the VMM tests of the nested harness
# (vmm_qemu_test.sh, vmm_migrate_test.sh), sourced by them (busybox sh)
# from /harness/vmm_lib.sh inside the emulated machine. It owns the
# set-up both need: QEMU's root under /host (the host's own root over
# virtio-9p, or the copy packed at /harness/qemuroot), switching between
# xkvm (reloaded with devkvm=1, so that a VMM opening /dev/kvm reaches
# it) and the stock KVM modules, and TAP lines. It prints nothing itself
# and never decides the test plan.
#
# Environment: the harness' env file (XKVM_CORE_MODULE, XKVM_VENDOR_MODULE,
# XKVM_9P_MODULES); /harness/<set>/{modules,params,vendor_params,unload}
# as guest-init.sh reads them.

H=${H:-/harness}

# mount_pseudo DIR: /dev, /proc, /sys and a tmpfs on /mnt in DIR.
mount_pseudo()
{
	mount -t devtmpfs devtmpfs "$1/dev" || mount --bind /dev "$1/dev"
	mount -t proc proc "$1/proc"
	mount -t sysfs sysfs "$1/sys"
	mount -t tmpfs tmpfs "$1/mnt"
}

# mount_9p_root DIR: the host's root, read-only over virtio-9p, on DIR.
mount_9p_root()
{
	local m
	[ -d "$1/usr" ] && return 0
	[ -f "$XKVM_9P_MODULES/order" ] || return 1
	mkdir -p "$1"
	for m in $(cat "$XKVM_9P_MODULES/order"); do
		insmod "$XKVM_9P_MODULES/$m" 2>/dev/null
	done
	mount -t 9p -o trans=virtio,version=9p2000.L,ro host "$1" || return 1
	mount_pseudo "$1"
}

# /host: QEMU packed into the initramfs at the same paths under
# /harness/qemuroot (a machine without virtio, e.g. Bochs, and the
# benchmark everywhere), or else the host's root over virtio-9p.
setup_host_root()
{
	[ -d /host/usr ] && return 0
	if [ -d /harness/qemuroot ]; then
		ln -s /harness/qemuroot /host
		mount_pseudo /host
	else
		mount_9p_root /host
	fi
}

# xkvm_load_devkvm: insmod xkvm's modules, the core with devkvm=1.
xkvm_load_devkvm()
{
	local d=$H/xkvm m
	# shellcheck disable=SC2046 # the parameters are words
	insmod "$d/xkvm.ko" devkvm=1 $(cat "$d/params" 2>/dev/null) || return 1
	for m in $(cat "$d/modules"); do
		[ "$m" = xkvm.ko ] && continue
		# shellcheck disable=SC2046 # the vendor module's parameters
		insmod "$d/$m" $(vendor_params xkvm "$m") || return 1
	done
}

# vendor_params SET FILE: NESTED_VENDOR_PARAMS if FILE is SET's vendor
# module, as guest-init.sh loads it.
vendor_params()
{
	case "$2" in
	*-intel.ko|*-amd.ko|*_intel.ko|*_amd.ko)
		cat "$H/$1/vendor_params" 2>/dev/null ;;
	esac
}

reload_with_devkvm()
{
	rmmod "$XKVM_VENDOR_MODULE" && rmmod "$XKVM_CORE_MODULE" || return 1
	xkvm_load_devkvm
}

# stock_load: insmod the stock KVM modules (the reference set) in order,
# leaving out those still loaded (dependencies such as irqbypass, which
# the reference set's unload list keeps).
stock_load()
{
	local m n
	for m in $(cat "$H/reference/modules"); do
		n=$(echo "${m%.ko}" | tr - _)
		[ -d "/sys/module/$n" ] && continue
		# shellcheck disable=SC2046
		insmod "$H/reference/$m" $(vendor_params reference "$m") || return 1
	done
}

# stock_unload: rmmod the stock vendor module and kvm.
stock_unload()
{
	local m
	for m in $(cat "$H/reference/unload"); do
		rmmod "$m" || return 1
	done
}

# tap_line N NAME WHY: "ok N NAME", or WHY and "not ok N NAME".
tap_line()
{
	if [ -n "$3" ]; then
		echo "# $2: $3"
		echo "not ok $1 $2"
		failed=1
	else
		echo "ok $1 $2"
	fi
}
