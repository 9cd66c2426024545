// SPDX-License-Identifier: MIT
/*
 * seed000.c - the mirror of seed 000 that trusts a "valid" flag.
 *
 * THE FLAWED PROTOCOL (do not copy)
 *
 *	invalidate_range_start:  lock; valid = false; zap range; unlock
 *	invalidate_range_end:    lock; valid = true; unlock
 *	device fault:            read the CPU page table (no lock)
 *	                         lock; if (valid) install; unlock
 *
 * The flag says "no invalidation is in flight right now", not "nothing
 * was invalidated since I read the page table".  The read happens before
 * the lock, so a whole invalidation can fit between the read and the
 * check:
 *
 *	device fault                         munmap
 *	follow_pte_pfn(va) -> A
 *	                                     start: valid = false, zap
 *	                                     clear PTE, flush, free A
 *	                                     end:   valid = true
 *	lock; valid -> install A  ---------> stale translation (CHECK_STALE)
 *
 * Two overlapping invalidations break it a second way: the first end
 * sets valid while the second is still between its start and end.  The
 * correct protocol (drivers/mirror) compares a sequence count, under the
 * same lock, with the one sampled before the read.
 */
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include "flawed/fdev.h"
#include "flawed/seed000.h"

struct f000_dev {
	struct fdev fd; /* fd.lock guards valid too */
	bool valid;
};

static struct f000_dev *mn_to_dev(struct mmu_notifier *mn)
{
	return container_of(mn, struct f000_dev, fd.mn);
}

static int f000_start(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	struct f000_dev *dev = mn_to_dev(mn);

	spin_lock(&dev->fd.lock);
	dev->valid = false;
	fdev_zap(&dev->fd, range->start, range->end);
	spin_unlock(&dev->fd.lock);
	return 0;
}

static void f000_end(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	struct f000_dev *dev = mn_to_dev(mn);

	/* THE FLAW: "no invalidation now" is taken for "nothing changed". */
	spin_lock(&dev->fd.lock);
	dev->valid = true;
	spin_unlock(&dev->fd.lock);
}

static void f000_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct f000_dev *dev = mn_to_dev(mn);

	spin_lock(&dev->fd.lock);
	dev->valid = false;
	fdev_zap_all(&dev->fd);
	spin_unlock(&dev->fd.lock);
}

static const struct mmu_notifier_ops f000_ops = {
	.release = f000_release,
	.invalidate_range_start = f000_start,
	.invalidate_range_end = f000_end,
};

/**
 * f000_create() - a flawed mirror of @npages pages at @start of @mm.
 * @mm: the address space (with users).
 * @start: page-aligned start of the mirrored range.
 * @npages: its length in pages (1..4096).
 * @name: the device's name in oracle reports.
 *
 * Context: may sleep (registers a notifier: mmap_lock for write).
 * Return: the device, or NULL (bad arguments, no memory, mm exited).
 */
struct f000_dev *f000_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name)
{
	struct f000_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);

	if (!dev)
		return NULL;
	dev->valid = true;
	if (fdev_init(&dev->fd, mm, start, npages, name, &f000_ops)) {
		kfree(dev);
		return NULL;
	}
	return dev;
}

/**
 * f000_destroy() - unregister (waiting for callbacks) and free @dev.
 * @dev: from f000_create(), or NULL.
 *
 * Context: may sleep (grace period).  Not in a notifier callback.
 */
void f000_destroy(struct f000_dev *dev)
{
	if (!dev)
		return;
	fdev_fini(&dev->fd);
	kfree(dev);
}

/**
 * f000_fault() - read the CPU translation of @va and install it.
 * @dev: the device.
 * @va: an address inside the device range.
 *
 * This is the flawed step: the page-table read is not validated against
 * invalidations that ran between it and the install.
 *
 * Context: may sleep (mmap_lock).  Not with the device lock held.
 * Return: 0 installed; -EAGAIN an invalidation is in flight (the flag
 * said so); -EFAULT nothing mapped at @va; -EINVAL outside the range.
 */
int f000_fault(struct f000_dev *dev, unsigned long va)
{
	unsigned long pfn;
	u64 pte;
	int ret;

	va &= PAGE_MASK;
	if (!dev || !fdev_in_range(&dev->fd, va))
		return -EINVAL;
	mmap_read_lock(dev->fd.mm);
	ret = follow_pte_pfn(dev->fd.mm, va, &pfn, &pte);
	mmap_read_unlock(dev->fd.mm);
	if (ret || !(pte & _PAGE_PRESENT))
		return -EFAULT;
	fdev_pause_point(&dev->fd);
	spin_lock(&dev->fd.lock);
	if (!dev->valid) {
		spin_unlock(&dev->fd.lock);
		return -EAGAIN;
	}
	fdev_install(&dev->fd, va, pfn);
	spin_unlock(&dev->fd.lock);
	return 0;
}

/**
 * f000_fdev() - the device base of @dev: fdev_read(), fdev_pfn() and
 * fdev_set_pause() (fdev.h) work on it.
 * @dev: the device, or NULL.
 *
 * Context: any.  Return: its struct fdev (NULL for NULL).
 */
struct fdev *f000_fdev(struct f000_dev *dev)
{
	return dev ? &dev->fd : NULL;
}
