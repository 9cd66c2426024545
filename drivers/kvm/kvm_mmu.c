// SPDX-License-Identifier: MIT
/*
 * kvm_mmu.c - the shadow MMU of a VM: SPTEs keyed by gfn, vCPU page
 * faults and guest accesses through the SPTEs.
 *
 * THE FAULT PROTOCOL (KVM's mmu_invalidate_seq)
 *
 *   vCPU fault on gfn                     host MMU (munmap, COW, ...)
 *   mmu_seq = READ_ONCE(seq); smp_rmb()
 *   slot lookup (mmu_lock): gfn -> hva
 *   GUP the host page (takes a ref)       invalidate_range_start:
 *                                           lock; in_progress++;
 *                                           zap SPTEs of the range; unlock
 *                                         change PTEs, free frames
 *                                         invalidate_range_end:
 *                                           lock; seq++; in_progress--;
 *                                           unlock
 *   lock mmu_lock
 *   in_progress over hva, or seq != mmu_seq?  unlock, put_page, retry
 *   install SPTE, check_map
 *   unlock; put_page
 *
 * If the GUP read the page tables before a change, the start of that
 * change's invalidation either came before our locked section (we see
 * in_progress, or, if its end came too, a new seq) or after it (then it
 * zaps what we installed).  The reference GUP took only keeps the frame
 * alive up to the install: from then on the notifier protects the
 * translation, so the reference is dropped at once, as KVM does.
 *
 * "MAP WRITABLE IF THE PTE ALLOWS": a read fault in a writable slot first
 * tries a no-fault GUP for writing.  It succeeds only when the host PTE
 * is present and writable right now (the page is the mm's own, no COW
 * pending); then the SPTE is writable and a later guest write needs no
 * second fault.  Otherwise the read fault maps read-only (the zero page,
 * a COW-shared page), and a guest write faults again with FOLL_WRITE,
 * whose host fault (COW break) invalidates the read-only SPTE first.
 */
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include "kvm_internal.h"

/* ==== the SPTE table (mmu_lock held) ===================================== */

static struct kvm_spte *kvm_spte_lookup(struct kvm *kvm, unsigned long gfn)
{
	struct interval_tree_node *n =
		interval_tree_iter_first(&kvm->sptes, gfn, gfn);

	return n ? container_of(n, struct kvm_spte, node) : NULL;
}

typedef int (*kvm_spte_fn)(struct kvm *kvm, struct kvm_spte *spte);

/* Apply @fn to every SPTE of gfns [gfn_start, gfn_end); OR the results. */
static int kvm_for_gfn_range(struct kvm *kvm, unsigned long gfn_start,
			     unsigned long gfn_end, kvm_spte_fn fn)
{
	struct interval_tree_node *n, *tmp;
	int ret = 0;

	spin_assert_held(&kvm->mmu_lock);
	if (gfn_start >= gfn_end)
		return 0;
	interval_tree_for_each_safe(n, tmp, &kvm->sptes, gfn_start, gfn_end - 1)
		ret |= fn(kvm, container_of(n, struct kvm_spte, node));
	return ret;
}

/*
 * Apply @fn to every SPTE whose host page lies in [start, end): through
 * each slot that maps part of it (slots may alias one hva).
 */
static int kvm_for_hva_range(struct kvm *kvm, unsigned long start,
			     unsigned long end, kvm_spte_fn fn)
{
	int ret = 0;

	for (int i = 0; i < KVM_MAX_MEMSLOTS; i++) {
		const struct kvm_memory_slot *slot = &kvm->slots[i];
		unsigned long s, e, slot_end;

		if (!slot->npages)
			continue;
		slot_end = slot->hva + (slot->npages << PAGE_SHIFT);
		s = max(start & PAGE_MASK, slot->hva);
		e = min(PAGE_ALIGN(end), slot_end);
		if (s >= e)
			continue;
		ret |= kvm_for_gfn_range(
			kvm, slot->base_gfn + ((s - slot->hva) >> PAGE_SHIFT),
			slot->base_gfn + ((e - slot->hva) >> PAGE_SHIFT), fn);
	}
	return ret;
}

static int kvm_spte_zap(struct kvm *kvm, struct kvm_spte *spte)
{
	interval_tree_remove(&spte->node, &kvm->sptes);
	kvm->nr_sptes--;
	kvm->stats.zapped++;
	check_unmap(&kvm->cdev, kvm->mm, spte->hva, spte->hva + PAGE_SIZE);
	kfree(spte);
	return 0;
}

static int kvm_spte_age(struct kvm *kvm, struct kvm_spte *spte)
{
	if (!spte->accessed)
		return 0;
	spte->accessed = false;
	kvm->stats.young_cleared++;
	return 1;
}

static int kvm_spte_test_age(struct kvm *kvm, struct kvm_spte *spte)
{
	return spte->accessed;
}

/* Drop the SPTEs of host pages in [start, end).  mmu_lock held. */
void kvm_zap_hva_range(struct kvm *kvm, unsigned long start, unsigned long end)
{
	kvm_for_hva_range(kvm, start, end, kvm_spte_zap);
}

/* Drop the SPTEs of gfns [gfn_start, gfn_end).  mmu_lock held. */
void kvm_zap_gfn_range(struct kvm *kvm, unsigned long gfn_start,
		       unsigned long gfn_end)
{
	kvm_for_gfn_range(kvm, gfn_start, gfn_end, kvm_spte_zap);
}

/*
 * Were SPTEs of host pages in [start, end) accessed?  Clear the bits if
 * @clear.  mmu_lock held.  Return 1 if any was young.
 */
int kvm_age_hva_range(struct kvm *kvm, unsigned long start, unsigned long end,
		      bool clear)
{
	return kvm_for_hva_range(kvm, start, end,
				 clear ? kvm_spte_age : kvm_spte_test_age);
}

/* Drop every SPTE (release, destroy).  mmu_lock held. */
void kvm_free_sptes(struct kvm *kvm)
{
	kvm_for_gfn_range(kvm, 0, ~0UL, kvm_spte_zap);
}

/* ==== vCPU faults ======================================================== */

/* One fault in progress. */
struct kvm_fault {
	unsigned long gfn;
	bool write;
	unsigned long mmu_seq; /* sampled before the slot and GUP reads */
	unsigned long hva;
	bool slot_writable;
	struct page *page; /* GUP reference, dropped after the install */
	bool map_writable;
};

/* The slot holding @gfn, or NULL.  mmu_lock held. */
static const struct kvm_memory_slot *kvm_gfn_to_slot(struct kvm *kvm,
						     unsigned long gfn)
{
	for (int i = 0; i < KVM_MAX_MEMSLOTS; i++) {
		const struct kvm_memory_slot *slot = &kvm->slots[i];

		if (slot->npages && gfn >= slot->base_gfn &&
		    gfn - slot->base_gfn < slot->npages)
			return slot;
	}
	return NULL;
}

/* Sample the sequence, then translate gfn -> hva through the slots. */
static int kvm_fault_prepare(struct kvm *kvm, struct kvm_fault *f)
{
	const struct kvm_memory_slot *slot;
	int ret = 0;

	/*
	 * Pairs with the smp_wmb() before the seq++ in
	 * kvm_mmu_notifier_invalidate_range_end() (and the seq++ of a slot
	 * change under mmu_lock): if the page-table reads of the GUP below
	 * see a PTE changed by an invalidation whose end we have not seen,
	 * fine; if they see the old PTE, this load saw the old seq, so the
	 * check under mmu_lock catches any end that came since.
	 */
	f->mmu_seq = READ_ONCE(kvm->mmu_invalidate_seq);
	smp_rmb();
	spin_lock(&kvm->mmu_lock);
	slot = kvm_gfn_to_slot(kvm, f->gfn);
	if (kvm->released || !slot) {
		ret = -EFAULT;
	} else {
		f->hva = slot->hva + ((f->gfn - slot->base_gfn) << PAGE_SHIFT);
		f->slot_writable = !(slot->flags & KVM_MEM_READONLY);
	}
	spin_unlock(&kvm->mmu_lock);
	if (!ret && f->write && !f->slot_writable)
		ret = -EPERM;
	return ret;
}

/* Why GUP of @hva failed: -EPERM for a write to readable, read-only
 * memory, else -EFAULT (or -ENOMEM).  Caller holds an mm user. */
static int kvm_gup_errno(struct mm_struct *mm, unsigned long hva, bool write,
			 long gup_ret)
{
	struct vm_area_struct *vma;
	int ret = gup_ret == -ENOMEM ? -ENOMEM : -EFAULT;

	if (!write || ret == -ENOMEM)
		return ret;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, hva);
	if (vma && (vma->vm_flags & VM_READ) && !(vma->vm_flags & VM_WRITE))
		ret = -EPERM;
	mmap_read_unlock(mm);
	return ret;
}

/* The host page behind f->hva (KVM's hva_to_pfn): fast, then slow. */
static int kvm_hva_to_page(struct kvm *kvm, struct kvm_fault *f)
{
	struct mm_struct *mm = kvm->mm;
	bool try_write = f->write || f->slot_writable;
	long n;
	int ret = 0;

	/* GUP needs a live address space: a vCPU of an exited mm faults. */
	if (!mmget_not_zero(mm))
		return -EFAULT;
	/* Fast path, no fault: writable only if the PTE allows it now. */
	n = get_user_pages_fast(mm, f->hva, 1,
				FOLL_NOFAULT | (try_write ? FOLL_WRITE : 0),
				&f->page);
	if (n == 1) {
		f->map_writable = try_write;
		goto out;
	}
	/* Slow path: fault the page in for the access the guest made. */
	n = get_user_pages_unlocked(mm, f->hva, 1, &f->page,
				    f->write ? FOLL_WRITE : 0);
	if (n == 1)
		f->map_writable = f->write;
	else
		ret = kvm_gup_errno(mm, f->hva, f->write, n);
out:
	mmput(mm);
	return ret;
}

/*
 * Install the SPTE unless an invalidation got in the way.  Return 0,
 * -EAGAIN (retry the fault) or -EFAULT (the VM was released).
 * *@spare is consumed if a new SPTE is needed.
 */
static int kvm_install_spte(struct kvm *kvm, struct kvm_fault *f,
			    struct kvm_spte **spare)
{
	unsigned long pfn = page_to_pfn(f->page);
	struct kvm_spte *spte;

	spin_lock(&kvm->mmu_lock);
	if (kvm->released) {
		spin_unlock(&kvm->mmu_lock);
		return -EFAULT;
	}
	if ((kvm->mmu_invalidate_in_progress &&
	     f->hva >= kvm->mmu_invalidate_range_start &&
	     f->hva < kvm->mmu_invalidate_range_end) ||
	    kvm->mmu_invalidate_seq != f->mmu_seq) {
		kvm->stats.retries++;
		spin_unlock(&kvm->mmu_lock);
		return -EAGAIN;
	}
	spte = kvm_spte_lookup(kvm, f->gfn);
	if (!spte) {
		spte = *spare;
		*spare = NULL;
		spte->node.start = spte->node.last = f->gfn;
		interval_tree_insert(&spte->node, &kvm->sptes);
		kvm->nr_sptes++;
	}
	spte->hva = f->hva;
	spte->pfn = pfn;
	spte->writable = f->map_writable;
	spte->accessed = true;
	check_map(&kvm->cdev, kvm->mm, f->hva, pfn, f->map_writable);
	kvm->stats.faults++;
	spin_unlock(&kvm->mmu_lock);
	return 0;
}

/* One attempt; -EAGAIN asks for another. */
static int kvm_fault_once(struct kvm *kvm, unsigned long gfn, bool write)
{
	struct kvm_fault f = { .gfn = gfn, .write = write };
	struct kvm_spte *spare;
	int ret;

	ret = kvm_fault_prepare(kvm, &f);
	if (ret)
		return ret;
	/* Like KVM's memory caches: allocate before taking mmu_lock. */
	spare = kzalloc(sizeof(*spare), GFP_KERNEL);
	if (!spare)
		return -ENOMEM;
	interval_tree_node_init(&spare->node);
	ret = kvm_hva_to_page(kvm, &f);
	if (!ret) {
		/* The guest may write through a writable SPTE as soon as it
		 * is installed: mark the page's content newer than any copy
		 * of it first (harmless if the install has to retry). */
		if (f.map_writable)
			SetPageDirty(compound_head(f.page));
		ret = kvm_install_spte(kvm, &f, &spare);
		put_page(f.page);
	}
	kfree(spare);
	return ret;
}

/* Fault gfn in (writable if @write), retrying past invalidations. */
static int kvm_mmu_page_fault(struct kvm *kvm, unsigned long gfn, bool write)
{
	int ret;

	for (;;) {
		ret = kvm_fault_once(kvm, gfn, write);
		if (ret != -EAGAIN)
			return ret;
		/*
		 * An invalidation is in progress over gfn or just ended.  KVM
		 * re-enters the guest and faults again; with more vCPUs than
		 * host CPUs that loop would starve the thread running the
		 * invalidation (the stress test saw its mutator slowed ~20x),
		 * so give it the CPU first, as the vCPU run loop does.
		 */
		cond_resched();
	}
}

/* ==== guest accesses ===================================================== */

/* Access @n bytes at @gpa (one page) through the SPTE, faulting it. */
static int kvm_access_page(struct kvm *kvm, unsigned long gpa, char *buf,
			   size_t n, bool write)
{
	unsigned long gfn = gpa >> PAGE_SHIFT;
	struct kvm_spte *spte;
	int ret;

	for (;;) {
		spin_lock(&kvm->mmu_lock);
		if (kvm->released) {
			spin_unlock(&kvm->mmu_lock);
			return -EFAULT;
		}
		spte = kvm_spte_lookup(kvm, gfn);
		if (spte && (!write || spte->writable)) {
			unsigned long va = spte->hva + (gpa & ~PAGE_MASK);

			spte->accessed = true;
			ret = write ? check_dev_write(&kvm->cdev, kvm->mm, va,
						      spte->pfn, buf, n) :
				      check_dev_read(&kvm->cdev, kvm->mm, va,
						     spte->pfn, buf, n);
			spin_unlock(&kvm->mmu_lock);
			return ret;
		}
		spin_unlock(&kvm->mmu_lock);
		ret = kvm_mmu_page_fault(kvm, gfn, write);
		if (ret)
			return ret;
	}
}

static int kvm_vcpu_access(struct kvm_vcpu *vcpu, unsigned long gpa, char *buf,
			   size_t len, bool write)
{
	unsigned long end = gpa + len;
	struct kvm *kvm;
	int ret;

	if (!vcpu || !buf || !len || end < gpa)
		return -EINVAL;
	kvm = vcpu->kvm;
	while (gpa < end) {
		size_t n = min(end, (gpa & PAGE_MASK) + PAGE_SIZE) - gpa;

		ret = kvm_access_page(kvm, gpa, buf, n, write);
		if (ret)
			return ret;
		gpa += n;
		buf += n;
	}
	spin_lock(&kvm->mmu_lock);
	if (write)
		kvm->stats.guest_writes++;
	else
		kvm->stats.guest_reads++;
	spin_unlock(&kvm->mmu_lock);
	return 0;
}

/**
 * kvm_vcpu_read() - the guest on @vcpu reads @len bytes at @gpa.
 * @vcpu: the vCPU (used by the calling thread only)
 * @gpa: guest-physical address
 * @buf: destination
 * @len: bytes, > 0
 *
 * Each page goes through its SPTE (marking it accessed), faulted first if
 * missing.
 * Context: may sleep (faults); takes mmu_lock.
 * Return: 0; -EFAULT (no slot, host memory unmapped or PROT_NONE, VM
 * released); -EINVAL; -ENOMEM.
 */
int kvm_vcpu_read(struct kvm_vcpu *vcpu, unsigned long gpa, void *buf,
		  size_t len)
{
	return kvm_vcpu_access(vcpu, gpa, buf, len, false);
}

/**
 * kvm_vcpu_write() - the guest on @vcpu writes @len bytes at @gpa.
 * @vcpu: the vCPU (used by the calling thread only)
 * @gpa: guest-physical address
 * @buf: source
 * @len: bytes, > 0
 *
 * Context: as kvm_vcpu_read().
 * Return: as kvm_vcpu_read(), and -EPERM for a read-only slot or
 * read-only host memory.
 */
int kvm_vcpu_write(struct kvm_vcpu *vcpu, unsigned long gpa, const void *buf,
		   size_t len)
{
	/* The data is only read from @buf for a write. */
	return kvm_vcpu_access(vcpu, gpa, (char *)buf, len, true);
}
