// SPDX-License-Identifier: MIT
/*
 * kvm.c - a VM: creation and destruction, memory slots, vCPUs, and the
 * whole-mm mmu_notifier that keeps the shadow MMU (kvm_mmu.c) coherent.
 *
 * THE NOTIFIER
 *
 *   invalidate_range_start: under mmu_lock, in_progress++ (and widen the
 *     range being invalidated), zap the SPTEs of the range.  From here to
 *     the matching end no fault may install an SPTE there: the fault path
 *     checks in_progress under the same lock.  mmu_lock is a spinlock, so
 *     a non-blockable start (OOM reaper) is served the same way.
 *   invalidate_range_end: under mmu_lock, seq++ then in_progress--, so a
 *     fault that sampled seq before this range's PTE change and installs
 *     after in_progress dropped still sees the seq move and retries.
 *   clear_flush_young/clear_young/test_young: under mmu_lock, report and
 *     clear (or only test) the accessed bits of the SPTEs of the range.
 *     No secondary TLB to flush: the SPTE is the only copy.
 *   release (exit, or unregister if exit did not come first): under
 *     mmu_lock, drop every SPTE and mark the VM released; every later
 *     guest access fails with -EFAULT.
 *
 * LOCK ORDER
 *   kvm->slots_lock (mutex) -> kvm->mmu_lock (spinlock) -> oracle locks.
 *   The host MMU calls the notifier with mmap_lock (or the anon_vma lock
 *   while aging) held: mmap_lock/anon_vma lock -> mmu_lock.  The fault
 *   path never holds mmu_lock across GUP (which takes mmap_lock and may
 *   trigger an invalidation of its own).
 */
#include <stdio.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include "kvm_internal.h"

/* ==== the mmu_notifier =================================================== */

static struct kvm *mn_to_kvm(struct mmu_notifier *mn)
{
	return container_of(mn, struct kvm, mn);
}

static int
kvm_mmu_notifier_invalidate_range_start(struct mmu_notifier *mn,
					const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mn_to_kvm(mn);

	spin_lock(&kvm->mmu_lock);
	/* Ranges of concurrent invalidations are merged, as KVM does: the
	 * union is only consulted while one of them runs. */
	if (!kvm->mmu_invalidate_in_progress++) {
		kvm->mmu_invalidate_range_start = range->start;
		kvm->mmu_invalidate_range_end = range->end;
	} else {
		kvm->mmu_invalidate_range_start =
			min(kvm->mmu_invalidate_range_start, range->start);
		kvm->mmu_invalidate_range_end =
			max(kvm->mmu_invalidate_range_end, range->end);
	}
	kvm->stats.invalidations++;
	kvm_zap_hva_range(kvm, range->start, range->end);
	spin_unlock(&kvm->mmu_lock);
	return 0;
}

static void
kvm_mmu_notifier_invalidate_range_end(struct mmu_notifier *mn,
				      const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mn_to_kvm(mn);

	spin_lock(&kvm->mmu_lock);
	/*
	 * The host changed the PTEs of the range before calling end; order
	 * those stores before the new seq.  Pairs with the smp_rmb() after
	 * READ_ONCE(mmu_invalidate_seq) in kvm_fault_prepare(): a fault that
	 * reads this seq then reads the new PTEs.
	 */
	smp_wmb();
	WRITE_ONCE(kvm->mmu_invalidate_seq, kvm->mmu_invalidate_seq + 1);
	if (!WARN_ON(!kvm->mmu_invalidate_in_progress))
		kvm->mmu_invalidate_in_progress--;
	spin_unlock(&kvm->mmu_lock);
}

static int kvm_mmu_notifier_clear_flush_young(struct mmu_notifier *mn,
					      struct mm_struct *mm,
					      unsigned long start,
					      unsigned long end)
{
	struct kvm *kvm = mn_to_kvm(mn);
	int young;

	spin_lock(&kvm->mmu_lock);
	young = kvm_age_hva_range(kvm, start, end, true);
	spin_unlock(&kvm->mmu_lock);
	return young;
}

static int kvm_mmu_notifier_clear_young(struct mmu_notifier *mn,
					struct mm_struct *mm,
					unsigned long start, unsigned long end)
{
	/* No TLB of ours caches the accessed bit: same as the flush form. */
	return kvm_mmu_notifier_clear_flush_young(mn, mm, start, end);
}

static int kvm_mmu_notifier_test_young(struct mmu_notifier *mn,
				       struct mm_struct *mm,
				       unsigned long address)
{
	struct kvm *kvm = mn_to_kvm(mn);
	unsigned long start = address & PAGE_MASK;
	int young;

	spin_lock(&kvm->mmu_lock);
	young = kvm_age_hva_range(kvm, start, start + PAGE_SIZE, false);
	spin_unlock(&kvm->mmu_lock);
	return young;
}

static void kvm_mmu_notifier_release(struct mmu_notifier *mn,
				     struct mm_struct *mm)
{
	struct kvm *kvm = mn_to_kvm(mn);

	spin_lock(&kvm->mmu_lock);
	kvm->released = true;
	kvm_free_sptes(kvm);
	spin_unlock(&kvm->mmu_lock);
}

static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {
	.release = kvm_mmu_notifier_release,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_young,
	.test_young = kvm_mmu_notifier_test_young,
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
};

/* ==== the VM ============================================================= */

/**
 * kvm_create() - a VM over @mm.
 * @mm: the host address space (must still have users)
 * @name: for reports
 *
 * Registers the VM's mmu_notifier, which holds an mm_count reference on
 * @mm until kvm_destroy().
 * Context: may sleep (takes mmap_lock for write).
 * Return: the VM or ERR_PTR(-EINVAL/-ENOMEM/-EFAULT: @mm exited).
 */
struct kvm *kvm_create(struct mm_struct *mm, const char *name)
{
	struct kvm *kvm;
	int ret;

	if (!mm || !name)
		return ERR_PTR(-EINVAL);
	if (!mmget_not_zero(mm))
		return ERR_PTR(-EFAULT);
	kvm = kzalloc(sizeof(*kvm), GFP_KERNEL);
	if (!kvm) {
		mmput(mm);
		return ERR_PTR(-ENOMEM);
	}
	kvm->mm = mm;
	snprintf(kvm->name, sizeof(kvm->name), "%s", name);
	mutex_init(&kvm->slots_lock);
	spin_lock_init(&kvm->mmu_lock);
	kvm->sptes = RB_ROOT_CACHED;
	atomic_set(&kvm->online_vcpus, 0);
	check_dev_init(&kvm->cdev, kvm->name);
	kvm->mn.ops = &kvm_mmu_notifier_ops;
	ret = mmu_notifier_register(&kvm->mn, mm);
	mmput(mm);
	if (ret) {
		check_dev_fini(&kvm->cdev);
		kfree(kvm);
		return ERR_PTR(ret);
	}
	return kvm;
}

/**
 * kvm_destroy() - unregister the notifier (running release if exit did
 * not), drop the SPTEs, free the VM.
 * @kvm: the VM; its vCPUs must be destroyed first (WARN otherwise)
 *
 * Context: may sleep (unregister waits for a grace period).
 */
void kvm_destroy(struct kvm *kvm)
{
	if (!kvm)
		return;
	WARN_ON(atomic_read(&kvm->online_vcpus));
	/* After it no callback runs; release ran here or at exit. */
	mmu_notifier_unregister(&kvm->mn, kvm->mm);
	spin_lock(&kvm->mmu_lock);
	WARN_ON(kvm->nr_sptes);
	kvm_free_sptes(kvm);
	spin_unlock(&kvm->mmu_lock);
	check_dev_fini(&kvm->cdev);
	kfree(kvm);
}

/* ==== memory slots ======================================================= */

static int kvm_check_region(struct kvm *kvm, unsigned int slot,
			    unsigned long gpa, unsigned long hva,
			    unsigned long size, unsigned int flags)
{
	if (!kvm || slot >= KVM_MAX_MEMSLOTS || (flags & ~KVM_MEM_READONLY))
		return -EINVAL;
	if (!size)
		return 0;
	if ((gpa | hva | size) & ~PAGE_MASK)
		return -EINVAL;
	if (gpa + size < gpa || hva + size < hva ||
	    hva + size > kvm->mm->task_size)
		return -EINVAL;
	return 0;
}

/* Does [gfn, gfn + npages) overlap a slot other than @slot? */
static bool kvm_slot_overlaps(struct kvm *kvm, unsigned int slot,
			      unsigned long gfn, unsigned long npages)
{
	for (unsigned int i = 0; i < KVM_MAX_MEMSLOTS; i++) {
		const struct kvm_memory_slot *s = &kvm->slots[i];

		if (i != slot && s->npages && gfn < s->base_gfn + s->npages &&
		    s->base_gfn < gfn + npages)
			return true;
	}
	return false;
}

/**
 * kvm_set_memory_region() - create, replace or (@size 0) delete slot @slot.
 * @kvm: the VM
 * @slot: 0 .. KVM_MAX_MEMSLOTS - 1
 * @gpa: guest-physical start (page-aligned)
 * @hva: host virtual start (page-aligned)
 * @size: bytes (page-aligned), 0 to delete
 * @flags: 0 or KVM_MEM_READONLY
 *
 * The slot's old SPTEs are zapped and the invalidate seq bumped, so a
 * fault that translated through the old slot retries.
 * Context: may sleep (slots_lock).
 * Return: 0, -EINVAL, -EEXIST (the gpa range overlaps another slot).
 */
int kvm_set_memory_region(struct kvm *kvm, unsigned int slot, unsigned long gpa,
			  unsigned long hva, unsigned long size,
			  unsigned int flags)
{
	struct kvm_memory_slot new = {
		.base_gfn = gpa >> PAGE_SHIFT,
		.npages = size >> PAGE_SHIFT,
		.hva = hva,
		.flags = flags,
	};
	struct kvm_memory_slot *old;
	int ret = kvm_check_region(kvm, slot, gpa, hva, size, flags);

	if (ret)
		return ret;
	mutex_lock(&kvm->slots_lock);
	if (size && kvm_slot_overlaps(kvm, slot, new.base_gfn, new.npages)) {
		mutex_unlock(&kvm->slots_lock);
		return -EEXIST;
	}
	spin_lock(&kvm->mmu_lock);
	old = &kvm->slots[slot];
	if (old->npages)
		kvm_zap_gfn_range(kvm, old->base_gfn,
				  old->base_gfn + old->npages);
	*old = size ? new : (struct kvm_memory_slot){ 0 };
	/* Read locklessly by kvm_fault_prepare() (READ_ONCE). */
	WRITE_ONCE(kvm->mmu_invalidate_seq, kvm->mmu_invalidate_seq + 1);
	spin_unlock(&kvm->mmu_lock);
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

/* ==== vCPUs and statistics =============================================== */

/**
 * kvm_vcpu_create() - a vCPU of @kvm.
 * @kvm: the VM
 * @id: its number (for the caller's bookkeeping)
 *
 * Return: the vCPU, or NULL (NULL @kvm, -ENOMEM).
 */
struct kvm_vcpu *kvm_vcpu_create(struct kvm *kvm, unsigned int id)
{
	struct kvm_vcpu *vcpu;

	if (!kvm)
		return NULL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL);
	if (!vcpu)
		return NULL;
	vcpu->kvm = kvm;
	vcpu->id = id;
	atomic_inc(&kvm->online_vcpus);
	return vcpu;
}

/* kvm_vcpu_destroy() - free @vcpu (no access may be running on it). */
void kvm_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	if (!vcpu)
		return;
	atomic_dec(&vcpu->kvm->online_vcpus);
	kfree(vcpu);
}

/**
 * kvm_nr_sptes() - SPTEs present now (a snapshot).
 * @kvm: the VM
 *
 * Context: takes mmu_lock.
 */
unsigned long kvm_nr_sptes(struct kvm *kvm)
{
	unsigned long n;

	spin_lock(&kvm->mmu_lock);
	n = kvm->nr_sptes;
	spin_unlock(&kvm->mmu_lock);
	return n;
}

/**
 * kvm_get_stats() - a snapshot of @kvm's counters.
 * @kvm: the VM
 * @stats: filled in
 *
 * Context: takes mmu_lock.
 */
void kvm_get_stats(struct kvm *kvm, struct kvm_stats *stats)
{
	spin_lock(&kvm->mmu_lock);
	*stats = kvm->stats;
	stats->released = kvm->released;
	spin_unlock(&kvm->mmu_lock);
}
