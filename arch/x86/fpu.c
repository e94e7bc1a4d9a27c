// SPDX-License-Identifier: GPL-2.0
/*
 * fpu.c - the guest's FPU/SSE/AVX state and XCR0 as userspace sees them:
 * KVM_GET/SET_FPU (legacy FXSAVE layout), KVM_GET/SET_XSAVE (4 KiB
 * standard-format buffer), KVM_GET/SET_XCRS.
 *
 * Outside KVM_RUN the guest state lives in the guest fpstate in memory
 * (fpu_swap_kvm_fpstate saved it), so these ioctls, serialised by the
 * vCPU mutex, read and write it there; PKRU lives in vcpu->arch.pkru.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>

#include <xkvm_x86.h>

#define XKVM_MAX_XCRS	16

static struct fxregs_state *xkvm_guest_fxsave(struct xkvm_vcpu *vcpu)
{
	return &vcpu->arch.guest_fpu.fpstate->regs.fxsave;
}

static long xkvm_get_fpu(struct xkvm_vcpu *vcpu, struct kvm_fpu __user *uarg)
{
	struct fxregs_state *fx = xkvm_guest_fxsave(vcpu);
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	memcpy(fpu.fpr, fx->st_space, sizeof(fpu.fpr));
	fpu.fcw = fx->cwd;
	fpu.fsw = fx->swd;
	fpu.ftwx = fx->twd;
	fpu.last_opcode = fx->fop;
	fpu.last_ip = fx->rip;
	fpu.last_dp = fx->rdp;
	memcpy(fpu.xmm, fx->xmm_space, sizeof(fpu.xmm));
	/* KVM leaves mxcsr zero here; userspace uses KVM_GET_XSAVE for it */
	return copy_to_user(uarg, &fpu, sizeof(fpu)) ? -EFAULT : 0;
}

static long xkvm_set_fpu(struct xkvm_vcpu *vcpu, struct kvm_fpu __user *uarg)
{
	struct fxregs_state *fx = xkvm_guest_fxsave(vcpu);
	struct kvm_fpu fpu;

	if (copy_from_user(&fpu, uarg, sizeof(fpu)))
		return -EFAULT;
	memcpy(fx->st_space, fpu.fpr, sizeof(fpu.fpr));
	fx->cwd = fpu.fcw;
	fx->swd = fpu.fsw;
	fx->twd = fpu.ftwx;
	fx->fop = fpu.last_opcode;
	fx->rip = fpu.last_ip;
	fx->rdp = fpu.last_dp;
	memcpy(fx->xmm_space, fpu.xmm, sizeof(fx->xmm_space));
	return 0;
}

static long xkvm_get_xsave(struct xkvm_vcpu *vcpu, struct kvm_xsave __user *uarg)
{
	struct kvm_xsave *x;
	long r = 0;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	fpu_copy_guest_fpstate_to_uabi(&vcpu->arch.guest_fpu, x->region,
				       sizeof(x->region),
				       xkvm_x86_supported_xcr0(), vcpu->arch.pkru);
	if (copy_to_user(uarg, x, sizeof(*x)))
		r = -EFAULT;
	kfree(x);
	return r;
}

static long xkvm_set_xsave(struct xkvm_vcpu *vcpu, struct kvm_xsave __user *uarg)
{
	struct kvm_xsave *x;
	long r;

	x = memdup_user(uarg, sizeof(*x));
	if (IS_ERR(x))
		return PTR_ERR(x);
	/* PKRU is kept beside the fpstate (run.c switches it) */
	r = fpu_copy_uabi_to_guest_fpstate(&vcpu->arch.guest_fpu, x->region,
					   xkvm_x86_supported_xcr0(),
					   &vcpu->arch.pkru);
	kfree(x);
	return r;
}

/*
 * XCR0 rules of XSETBV, shared by the XSETBV exit and KVM_SET_XCRS: only
 * features the guest's CPUID leaf 0xD offers.
 */
bool xkvm_x86_xcr0_valid(struct xkvm_vcpu *vcpu, u64 xcr0)
{
	if (!(xcr0 & XFEATURE_MASK_FP))
		return false;
	if (xcr0 & ~xkvm_x86_guest_supported_xcr0(vcpu))
		return false;
	if ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE))
		return false;
	if ((xcr0 & XFEATURE_MASK_AVX512) &&
	    (xcr0 & XFEATURE_MASK_AVX512) != XFEATURE_MASK_AVX512)
		return false;
	if ((xcr0 & XFEATURE_MASK_AVX512) && !(xcr0 & XFEATURE_MASK_YMM))
		return false;
	return true;
}

static long xkvm_get_xcrs(struct xkvm_vcpu *vcpu, struct kvm_xcrs __user *uarg)
{
	struct kvm_xcrs xcrs;

	memset(&xcrs, 0, sizeof(xcrs));
	if (boot_cpu_has(X86_FEATURE_XSAVE)) {
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = XCR_XFEATURE_ENABLED_MASK;
		xcrs.xcrs[0].value = vcpu->arch.xcr0;
	}
	return copy_to_user(uarg, &xcrs, sizeof(xcrs)) ? -EFAULT : 0;
}

static long xkvm_set_xcrs(struct xkvm_vcpu *vcpu, struct kvm_xcrs __user *uarg)
{
	struct kvm_xcrs xcrs;
	u32 i;

	if (copy_from_user(&xcrs, uarg, sizeof(xcrs)))
		return -EFAULT;
	if (!boot_cpu_has(X86_FEATURE_XSAVE) || xcrs.flags ||
	    xcrs.nr_xcrs > XKVM_MAX_XCRS)
		return -EINVAL;
	for (i = 0; i < xcrs.nr_xcrs; i++) {
		if (xcrs.xcrs[i].xcr != XCR_XFEATURE_ENABLED_MASK)
			continue;
		if (!xkvm_x86_xcr0_valid(vcpu, xcrs.xcrs[i].value))
			return -EINVAL;
		vcpu->arch.xcr0 = xcrs.xcrs[i].value;
		break;
	}
	return 0;
}

long xkvm_x86_fpu_ioctl(struct xkvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp)
{
	switch (ioctl) {
	case KVM_GET_FPU:
		return xkvm_get_fpu(vcpu, argp);
	case KVM_SET_FPU:
		return xkvm_set_fpu(vcpu, argp);
	case KVM_GET_XSAVE:
	case KVM_GET_XSAVE2:	/* the same 4 KiB: nothing is larger (no AMX) */
		return xkvm_get_xsave(vcpu, argp);
	case KVM_SET_XSAVE:
		return xkvm_set_xsave(vcpu, argp);
	case KVM_GET_XCRS:
		return xkvm_get_xcrs(vcpu, argp);
	case KVM_SET_XCRS:
		return xkvm_set_xcrs(vcpu, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
