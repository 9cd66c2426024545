// SPDX-License-Identifier: MIT
/*
 * atomic.c - device-exclusive access for the mirror device: the kernel's
 * HMM_DMIRROR_EXCLUSIVE (dmirror_exclusive) and an atomic operation that
 * only an exclusive mapping allows (dmirror_atomic_add).
 *
 * dmirror_exclusive() holds mmap_lock for read, calls
 * make_device_exclusive() with the device as owner, and with the pages
 * still locked installs DPTE_ATOMIC entries under the driver mutex.  The
 * page lock keeps every CPU fault from restoring the entries before they
 * are installed (include/mmirror/exclusive.h).  What the page lock does
 * not hold off is a zap under mmap_lock for read (MADV_DONTNEED): it drops
 * the entry and runs our invalidate callback, which bumps excl_gen.  So
 * excl_gen is sampled before the make and compared under the mutex before
 * the install; if it moved, nothing is installed and the make is redone.
 * MMU_NOTIFY_EXCLUSIVE invalidations do not bump it (mirror.c): ours
 * would make every make see itself, and a redone make restores the
 * entries of the attempt before it (GUP faults on them).  None of them
 * can hit a page while a make holds it locked: a restore, or another
 * device's make (whose GUP restores first), needs the page lock.
 *
 * Lock order: mmap_lock -> page locks -> dm->mutex -> oracle.
 */
#include <mmirror/exclusive.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>

#include "mirror_priv.h"

/* Pages one make_device_exclusive() call covers at most. */
#define DMIRROR_EXCL_BATCH 64UL
/* Makes redone because an invalidation raced, before giving up. */
#define DMIRROR_EXCL_TRIES 64

/**
 * dmirror_zap_nonatomic() - drop the entries of [start, end) that are not
 * atomic
 * @dm: the device
 * @start: page aligned
 * @end: page aligned
 *
 * For the device's own MMU_NOTIFY_EXCLUSIVE invalidations (one page each).
 * Context: dm->mutex held.
 */
void dmirror_zap_nonatomic(struct dmirror *dm, unsigned long start,
			   unsigned long end)
{
	mutex_assert_held(&dm->mutex);
	for (unsigned long va = start; va < end; va += PAGE_SIZE) {
		unsigned long ent = dpt_lookup(&dm->pt, va);

		if (!(ent & DPTE_VALID) || (ent & DPTE_ATOMIC))
			continue;
		dpt_clear(&dm->pt, va, va + PAGE_SIZE, NULL, NULL);
		check_unmap(&dm->cdev, dm->mm, va, va + PAGE_SIZE);
	}
}

/* Install the atomic entries of [start, end).  Context: dm->mutex held. */
static int dmirror_atomic_map(struct dmirror *dm, unsigned long start,
			      unsigned long end, struct page **pages)
{
	unsigned long va = start;

	mutex_assert_held(&dm->mutex);
	for (unsigned long i = 0; va < end; i++, va += PAGE_SIZE) {
		unsigned long pfn = page_to_pfn(pages[i]);
		int ret = dpt_set(&dm->pt, va,
				  pfn | DPTE_VALID | DPTE_WRITE | DPTE_ATOMIC);

		if (ret)
			return ret;
		check_map(&dm->cdev, dm->mm, va, pfn, true);
	}
	return 0;
}

/* One batch: make, then install unless an invalidation raced. */
static int dmirror_exclusive_batch(struct dmirror *dm, unsigned long start,
				   unsigned long end, struct page **pages)
{
	unsigned long n = (end - start) >> PAGE_SHIFT, gen;
	bool raced;
	int ret;

	for (int tries = 0; tries < DMIRROR_EXCL_TRIES; tries++) {
		mutex_lock(&dm->mutex);
		gen = dm->excl_gen;
		mutex_unlock(&dm->mutex);
		mmap_read_lock(dm->mm);
		ret = make_device_exclusive(dm->mm, start, end, dm, pages);
		if (ret) {
			mmap_read_unlock(dm->mm);
			return ret;
		}
		mutex_lock(&dm->mutex);
		raced = dm->excl_gen != gen;
		if (!raced)
			ret = dmirror_atomic_map(dm, start, end, pages);
		mutex_unlock(&dm->mutex);
		/* Only now may a CPU fault restore the entries. */
		device_exclusive_release(pages, n);
		mmap_read_unlock(dm->mm);
		if (!raced)
			return ret;
		atomic_long_inc(&dm->retries);
	}
	return -EBUSY;
}

/**
 * dmirror_exclusive() - make [start, end) exclusive to the device
 * @dm: the device
 * @start: page aligned
 * @end: page aligned, > @start
 *
 * Context: may sleep; takes mmap_lock (read), page locks, dm->mutex.
 * Return: see mirror.h.
 */
int dmirror_exclusive(struct dmirror *dm, unsigned long start,
		      unsigned long end)
{
	struct page **pages;
	int ret = 0;

	if (!dm || !IS_ALIGNED(start, PAGE_SIZE) ||
	    !IS_ALIGNED(end, PAGE_SIZE) || end <= start ||
	    !dmirror_user_range_ok(dm, start, end - start))
		return -EINVAL;
	pages = kcalloc(DMIRROR_EXCL_BATCH, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	if (!mmget_not_zero(dm->mm)) {
		kfree(pages);
		return -EFAULT;
	}
	for (unsigned long s = start, e; !ret && s < end; s = e) {
		e = min(end, s + DMIRROR_EXCL_BATCH * PAGE_SIZE);
		ret = dmirror_exclusive_batch(dm, s, e, pages);
	}
	mmput(dm->mm);
	kfree(pages);
	return ret;
}

/**
 * dmirror_atomic_add() - an atomic add by the device, exclusive mappings
 * only
 * @dm: the device
 * @va: 8-byte aligned
 * @val: added
 * @old: the value before, if non-NULL
 *
 * The read and the write are one atomic step for the device because both
 * happen under dm->mutex through an entry no CPU access can use: any CPU
 * access must first restore the PTE, whose invalidation takes dm->mutex
 * and drops the entry.
 *
 * Context: may sleep (dm->mutex).  Return: see mirror.h.
 */
int dmirror_atomic_add(struct dmirror *dm, unsigned long va, u64 val, u64 *old)
{
	unsigned long ent, pfn;
	int ret = -EBUSY;
	u64 v;

	if (!dm || !IS_ALIGNED(va, sizeof(u64)) ||
	    !dmirror_user_range_ok(dm, va, sizeof(u64)))
		return -EINVAL;
	mutex_lock(&dm->mutex);
	ent = dpt_lookup(&dm->pt, va & PAGE_MASK);
	if ((ent & DPTE_VALID) && (ent & DPTE_ATOMIC)) {
		pfn = ent & DPTE_PFN_MASK;
		ret = check_dev_read(&dm->cdev, dm->mm, va, pfn, &v, sizeof(v));
		if (!ret) {
			if (old)
				*old = v;
			v += val;
			ret = check_dev_write(&dm->cdev, dm->mm, va, pfn, &v,
					      sizeof(v));
		}
		atomic_long_inc(&dm->atomics);
	}
	mutex_unlock(&dm->mutex);
	return ret;
}
