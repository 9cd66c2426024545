/* SPDX-License-Identifier: MIT */
/*
 * kvm_internal.h - the structures shared by kvm.c (the VM, memory slots,
 * the mmu_notifier callbacks) and kvm_mmu.c (SPTEs, vCPU faults, guest
 * accesses).  drivers/kvm/README.md has the protocol and the lock order.
 */
#ifndef DRIVERS_KVM_INTERNAL_H
#define DRIVERS_KVM_INTERNAL_H

#include <mmirror/check.h>
#include <mmirror/interval_tree.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/mutex.h>
#include <mmirror/spinlock.h>
#include "kvm.h"

/* One memory slot: guest frames [base_gfn, base_gfn + npages) live at
 * host virtual [hva, hva + npages * PAGE_SIZE).  npages == 0: unused. */
struct kvm_memory_slot {
	unsigned long base_gfn;
	unsigned long npages;
	unsigned long hva;
	unsigned int flags;
};

/* One shadow PTE: gfn -> pfn; every field under mmu_lock. */
struct kvm_spte {
	struct interval_tree_node node; /* [gfn, gfn] in kvm->sptes */
	unsigned long hva; /* the host page it mirrors */
	unsigned long pfn;
	bool writable;
	bool accessed;
};

/*
 * struct kvm - a VM.
 * @slots_lock: serialises memory-slot updates (a mutex: taken before
 *              mmu_lock, never under it).
 * @mmu_lock:   guards @slots (writers also hold slots_lock), @sptes,
 *              @nr_sptes, the invalidate state, @released and @stats.
 * @mmu_invalidate_in_progress: invalidate_range_start calls whose end has
 *              not run; while > 0, no SPTE may be installed for an hva in
 *              [@mmu_invalidate_range_start, @mmu_invalidate_range_end).
 * @mmu_invalidate_seq: bumped by every invalidate_range_end and every
 *              memory-slot change; a fault that sampled an older value
 *              retries.  Written under mmu_lock, read locklessly once
 *              per fault (see kvm_mmu.c).
 */
struct kvm {
	struct mm_struct *mm;
	char name[32];
	struct check_dev cdev;
	struct mmu_notifier mn;
	struct mutex slots_lock;
	spinlock_t mmu_lock;
	struct kvm_memory_slot slots[KVM_MAX_MEMSLOTS];
	struct rb_root_cached sptes;
	unsigned long nr_sptes;
	unsigned long mmu_invalidate_in_progress;
	unsigned long mmu_invalidate_seq;
	unsigned long mmu_invalidate_range_start;
	unsigned long mmu_invalidate_range_end;
	bool released;
	struct kvm_stats stats;
	atomic_t online_vcpus;
};

struct kvm_vcpu {
	struct kvm *kvm;
	unsigned int id;
};

/* kvm_mmu.c: SPTE table operations, mmu_lock held. */
void kvm_zap_hva_range(struct kvm *kvm, unsigned long start, unsigned long end);
void kvm_zap_gfn_range(struct kvm *kvm, unsigned long gfn_start,
		       unsigned long gfn_end);
int kvm_age_hva_range(struct kvm *kvm, unsigned long start, unsigned long end,
		      bool clear);
void kvm_free_sptes(struct kvm *kvm);

#endif /* DRIVERS_KVM_INTERNAL_H */
