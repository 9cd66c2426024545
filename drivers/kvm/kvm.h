/* SPDX-License-Identifier: MIT */
/*
 * kvm.h - a KVM-style shadow MMU.
 *
 * A VM maps guest-physical memory onto the host virtual memory of an mm
 * through memory slots, and caches gfn -> pfn translations in a shadow
 * page table (SPTEs with writable and accessed bits) under mmu_lock.  One
 * whole-mm mmu_notifier keeps it coherent: invalidate_range_start raises
 * an in-progress count and zaps the SPTEs of the range, invalidate_range_end
 * lowers it and bumps mmu_invalidate_seq.  A vCPU faulting an SPTE samples
 * the sequence, resolves the host page with GUP, takes mmu_lock and
 * retries if an invalidation is in progress or the sequence moved.
 * clear_flush_young/clear_young/test_young report and clear SPTE accessed
 * bits (aging); release drops every SPTE.  Every guest access goes
 * through the coherence oracle.  drivers/kvm/README.md: protocol and lock
 * order.
 */
#ifndef DRIVERS_KVM_H
#define DRIVERS_KVM_H

#include <mmirror/mm_types.h>

struct kvm;
struct kvm_vcpu;

#define KVM_MEM_READONLY 0x2 /* the kernel's value: guest writes fault */
#define KVM_MAX_MEMSLOTS 32

struct kvm_stats {
	unsigned long faults; /* SPTEs installed by vCPU faults */
	unsigned long retries; /* faults retried (in progress / seq moved) */
	unsigned long zapped; /* SPTEs dropped by invalidations */
	unsigned long invalidations; /* invalidate_range_start calls */
	unsigned long young_cleared; /* accessed bits cleared by aging */
	unsigned long guest_reads, guest_writes; /* completed accesses */
	bool released; /* the notifier's release ran */
};

/* A VM over @mm named @name.  ERR_PTR(-EINVAL/-ENOMEM/-EFAULT). */
struct kvm *kvm_create(struct mm_struct *mm, const char *name);
/* Destroy the VM (vCPUs first): unregister the notifier, free SPTEs. */
void kvm_destroy(struct kvm *kvm);

/*
 * kvm_set_memory_region() - slot @slot maps guest-physical [gpa, gpa +
 * size) onto host virtual [hva, hva + size) (page-aligned); @flags is 0 or
 * KVM_MEM_READONLY; @size 0 deletes the slot (zapping its SPTEs).
 * Return 0, -EINVAL, -EEXIST (overlaps another slot).
 */
int kvm_set_memory_region(struct kvm *kvm, unsigned int slot, unsigned long gpa,
			  unsigned long hva, unsigned long size,
			  unsigned int flags);

struct kvm_vcpu *kvm_vcpu_create(struct kvm *kvm, unsigned int id);
void kvm_vcpu_destroy(struct kvm_vcpu *vcpu);
/*
 * kvm_vcpu_read()/kvm_vcpu_write() - the guest running on @vcpu (the
 * calling thread) accesses @len bytes at @gpa through the SPTEs, faulting
 * them as needed.  Return 0; -EFAULT (no slot, host memory unmapped or
 * PROT_NONE, the VM was released); -EPERM (write to a read-only slot or
 * read-only host memory); -EINVAL.
 */
int kvm_vcpu_read(struct kvm_vcpu *vcpu, unsigned long gpa, void *buf,
		  size_t len);
int kvm_vcpu_write(struct kvm_vcpu *vcpu, unsigned long gpa, const void *buf,
		   size_t len);
/* SPTEs present now. */
unsigned long kvm_nr_sptes(struct kvm *kvm);
void kvm_get_stats(struct kvm *kvm, struct kvm_stats *stats);

#endif /* DRIVERS_KVM_H */
