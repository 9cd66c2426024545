// SPDX-License-Identifier: MIT
/*
 * odp_mr.c - memory regions of the ODP NIC: registration, the page list,
 * page faults through hmm_range_fault() and the interval notifier's
 * invalidate callback.
 *
 * THE PAGE-LIST PROTOCOL (mlx5 ODP)
 *
 *   fault (engine or prefetch)            invalidate (host MMU)
 *   seq = mmu_interval_read_begin()
 *   mmap_read_lock
 *   hmm_range_fault() (-EBUSY: again)
 *   mmap_read_unlock
 *                                         mutex_lock(umem_mutex)
 *                                         mmu_interval_set_seq(cur_seq)
 *                                         zap the overlap, check_unmap
 *                                         mutex_unlock(umem_mutex)
 *   mutex_lock(umem_mutex)
 *   read_retry(seq)? unlock, again
 *   fill the page list, check_map
 *   mutex_unlock(umem_mutex)
 *
 * umem_mutex orders the fill against the zap: a fill that comes first is
 * zapped by the callback; a fill that comes after sees the new seq and
 * throws its pfns away.  The engine performs every DMA page under the
 * same mutex, so when the callback has the mutex no DMA page is in flight
 * through an entry it is about to zap, and once it returns no DMA can use
 * one (the host may then free the frames).
 */
#include <mmirror/hmm.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include "odp_internal.h"

/* ==== invalidation ======================================================= */

/* Drop the valid entries of [start, end) (inside @mr).  umem_mutex held. */
static void odp_mr_zap(struct odp_mr *mr, unsigned long start,
		       unsigned long end)
{
	unsigned long i = (start - mr->va) >> PAGE_SHIFT;
	unsigned long last = (end - mr->va) >> PAGE_SHIFT;

	mutex_assert_held(&mr->umem_mutex);
	for (; i < last; i++) {
		if (!mr->pages[i].valid)
			continue;
		mr->pages[i].valid = false;
		mr->nmapped--;
	}
	check_unmap(&mr->dev->cdev, mr->mm, start, end);
}

/*
 * odp_mr_invalidate() - the interval notifier callback: publish cur_seq
 * and zap the overlap, under umem_mutex (which also waits for the DMA
 * page the engine may be performing on this MR).
 *
 * Context: called by the host MMU, possibly under mmap_lock; may sleep
 * when @range is blockable.  A non-blockable range (OOM reaper) only
 * trylocks: sleeping there is forbidden.
 * Return: true, or false if not blockable and the mutex is busy.
 */
static bool odp_mr_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct odp_mr *mr = container_of(mni, struct odp_mr, notifier);
	unsigned long start = max(range->start, mr->va);
	unsigned long end = min(range->end, mr->va + mr->len);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&mr->umem_mutex);
	else if (!mutex_trylock(&mr->umem_mutex))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	if (start < end)
		odp_mr_zap(mr, start, end);
	mutex_unlock(&mr->umem_mutex);
	atomic_long_inc(&mr->dev->invalidations);
	return true;
}

static const struct mmu_interval_notifier_ops odp_mr_ops = {
	.invalidate = odp_mr_invalidate,
};

/* ==== faults ============================================================= */

/*
 * Program the page list from a snapshot that passed read_retry.
 * umem_mutex held.  The NIC writes only through an MR that allows it.
 */
static void odp_mr_fill(struct odp_mr *mr, const struct hmm_range *range)
{
	unsigned long first = (range->start - mr->va) >> PAGE_SHIFT;
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT;

	mutex_assert_held(&mr->umem_mutex);
	for (unsigned long i = 0; i < n; i++) {
		struct odp_pte *pte = &mr->pages[first + i];
		unsigned long w = range->hmm_pfns[i];

		if (WARN_ON(!(w & HMM_PFN_VALID)))
			continue;
		if (!pte->valid)
			mr->nmapped++;
		pte->pfn = w & ~HMM_PFN_FLAGS;
		pte->writable =
			(w & HMM_PFN_WRITE) && (mr->access & ODP_ACCESS_WRITE);
		pte->valid = true;
		check_map(&mr->dev->cdev, mr->mm,
			  range->start + (i << PAGE_SHIFT), pte->pfn,
			  pte->writable);
	}
}

/* The read_begin .. read_retry loop; the caller holds an mm user. */
static int odp_mr_fault_locked_mm(struct odp_mr *mr, struct hmm_range *range)
{
	int ret;

	for (;;) {
		/* Sample the sequence BEFORE reading the page tables. */
		range->notifier_seq = mmu_interval_read_begin(&mr->notifier);
		mmap_read_lock(mr->mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mr->mm);
		if (ret == -EBUSY) {
			atomic_long_inc(&mr->dev->retries);
			continue;
		}
		if (ret)
			return ret;
		mutex_lock(&mr->umem_mutex);
		if (mmu_interval_read_retry(&mr->notifier,
					    range->notifier_seq)) {
			mutex_unlock(&mr->umem_mutex);
			atomic_long_inc(&mr->dev->retries);
			continue;
		}
		odp_mr_fill(mr, range);
		mutex_unlock(&mr->umem_mutex);
		return 0;
	}
}

/**
 * odp_mr_fault() - fault [start, end) of @mr into its page list.
 * @mr: the MR
 * @start: page-aligned, inside @mr
 * @end: page-aligned, inside @mr, > @start
 * @write: the pages must be writable (COW broken)
 * @faulted: if not NULL, receives the number of pages programmed
 *
 * Context: no lock held (an invalidation the fault triggers takes
 * umem_mutex); may sleep.  Takes an mm user for the duration, so a dying
 * mm is never faulted into.
 * Return: 0; -EFAULT (unmapped, PROT_NONE, the mm is gone); -EPERM (write
 * to a read-only VMA); -ENOMEM.
 */
int odp_mr_fault(struct odp_mr *mr, unsigned long start, unsigned long end,
		 bool write, unsigned long *faulted)
{
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	struct hmm_range range = {
		.notifier = &mr->notifier,
		.start = start,
		.end = end,
		.default_flags =
			HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

	WARN_ON(mutex_is_held_by_me(&mr->umem_mutex));
	range.hmm_pfns = kcalloc(npages, sizeof(unsigned long), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(mr->mm)) {
		kfree(range.hmm_pfns);
		return -EFAULT;
	}
	ret = odp_mr_fault_locked_mm(mr, &range);
	mmput(mr->mm);
	kfree(range.hmm_pfns);
	if (!ret && faulted)
		*faulted = npages;
	return ret;
}

/* ==== registration ======================================================= */

static int odp_mr_check_args(struct odp_dev *dev, struct mm_struct *mm,
			     unsigned long va, unsigned long len,
			     unsigned int access)
{
	if (!dev || !mm || !len || (access & ~ODP_ACCESS_WRITE))
		return -EINVAL;
	if ((va | len) & ~PAGE_MASK || va + len < va ||
	    va + len > mm->task_size)
		return -EINVAL;
	return 0;
}

static struct odp_mr *odp_mr_alloc(struct odp_dev *dev, struct mm_struct *mm,
				   unsigned long va, unsigned long len,
				   unsigned int access)
{
	struct odp_mr *mr = kzalloc(sizeof(*mr), GFP_KERNEL);

	if (!mr)
		return NULL;
	mr->npages = len >> PAGE_SHIFT;
	mr->pages = kcalloc(mr->npages, sizeof(*mr->pages), GFP_KERNEL);
	if (!mr->pages) {
		kfree(mr);
		return NULL;
	}
	mr->dev = dev;
	mr->mm = mm;
	mr->va = va;
	mr->len = len;
	mr->access = access;
	mutex_init(&mr->umem_mutex);
	atomic_long_set(&mr->in_flight, 0);
	INIT_LIST_HEAD(&mr->node);
	return mr;
}

/**
 * odp_reg_mr() - register [va, va + len) of @mm with @dev.
 * @dev: the NIC
 * @mm: the address space (must still have users)
 * @va: page-aligned start
 * @len: page-aligned length, > 0
 * @access: ODP_ACCESS_* flags
 *
 * Nothing is faulted: the page list starts empty.
 * Context: may sleep (takes mmap_lock to insert the notifier).
 * Return: the MR, or ERR_PTR(-EINVAL/-ENOMEM/-EFAULT if @mm exited).
 */
struct odp_mr *odp_reg_mr(struct odp_dev *dev, struct mm_struct *mm,
			  unsigned long va, unsigned long len,
			  unsigned int access)
{
	struct odp_mr *mr;
	int ret = odp_mr_check_args(dev, mm, va, len, access);

	if (ret)
		return ERR_PTR(ret);
	if (!mmget_not_zero(mm))
		return ERR_PTR(-EFAULT);
	mr = odp_mr_alloc(dev, mm, va, len, access);
	if (!mr) {
		mmput(mm);
		return ERR_PTR(-ENOMEM);
	}
	/* The notifier holds an mm_count reference until removed. */
	ret = mmu_interval_notifier_insert(&mr->notifier, mm, va, len,
					   &odp_mr_ops);
	mmput(mm);
	if (ret) {
		kfree(mr->pages);
		kfree(mr);
		return ERR_PTR(ret);
	}
	spin_lock(&dev->lock);
	list_add_tail(&mr->node, &dev->mrs);
	spin_unlock(&dev->lock);
	return mr;
}

/**
 * odp_dereg_mr() - deregister @mr: refuse new DMA, wait for the DMA in
 * flight on it, drop its page list, remove its notifier, free it.
 * @mr: the MR (later use is the caller's bug)
 *
 * Context: may sleep; not from the engine.
 */
void odp_dereg_mr(struct odp_mr *mr)
{
	struct odp_dev *dev;

	if (!mr)
		return;
	dev = mr->dev;
	spin_lock(&dev->lock);
	mr->dying = true; /* odp_dma_post() tests it under the same lock */
	list_del_init(&mr->node);
	spin_unlock(&dev->lock);
	/* in_flight can only fall from now on: tell its waiters. */
	wake_up(&dev->mr_wq);
	/*
	 * Acquire: pairs with the fully ordered atomic_long_dec_return() in
	 * odp_engine_finish() (then its wake_up(&dev->mr_wq)), so the
	 * engine's last accesses to @mr happen before we free it.
	 */
	wait_event(dev->mr_wq, atomic_long_read_acquire(&mr->in_flight) == 0);
	mutex_lock(&mr->umem_mutex);
	odp_mr_zap(mr, mr->va, mr->va + mr->len);
	mutex_unlock(&mr->umem_mutex);
	/* After this no invalidate callback runs on @mr. */
	mmu_interval_notifier_remove(&mr->notifier);
	kfree(mr->pages);
	kfree(mr);
}

/**
 * odp_prefetch() - fault [va, va + len) of @mr into its page list.
 * @mr: the MR
 * @va: start (rounded down to a page)
 * @len: bytes (> 0)
 * @write: make the pages writable (the MR must allow remote writes)
 *
 * Context: may sleep; no driver lock held.
 * Return: 0, -EFAULT, -EPERM, -EINVAL (outside the MR), -ENOMEM.
 */
int odp_prefetch(struct odp_mr *mr, unsigned long va, unsigned long len,
		 bool write)
{
	unsigned long start, end, n = 0;
	int ret;

	if (!mr || !odp_mr_contains(mr, va, len))
		return -EINVAL;
	if (write && !(mr->access & ODP_ACCESS_WRITE))
		return -EPERM;
	start = va & PAGE_MASK;
	end = PAGE_ALIGN(va + len);
	ret = odp_mr_fault(mr, start, end, write, &n);
	if (!ret)
		atomic_long_add(n, &mr->dev->prefetched);
	return ret;
}

/**
 * odp_mr_mapped() - pages of @mr's page list valid now (a snapshot).
 * @mr: the MR
 *
 * Context: may sleep (takes umem_mutex).
 */
unsigned long odp_mr_mapped(struct odp_mr *mr)
{
	unsigned long n;

	mutex_lock(&mr->umem_mutex);
	n = mr->nmapped;
	mutex_unlock(&mr->umem_mutex);
	return n;
}
