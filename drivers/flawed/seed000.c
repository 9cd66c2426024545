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
#include <mmirror/check.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "flawed/seed000.h"

struct f000_dev {
	struct mmu_notifier mn;
	struct check_dev cdev;
	/* Guards valid and pt; taken by both notifier callbacks. */
	spinlock_t lock;
	bool valid;
	struct mm_struct *mm;
	unsigned long start, npages;
	unsigned long *pt; /* pfn + 1 per page; 0: no translation */
	struct f000_pause pause;
};

static struct f000_dev *mn_to_dev(struct mmu_notifier *mn)
{
	return container_of(mn, struct f000_dev, mn);
}

/* Drop the translations of [s, e) within the device range (lock held). */
static void f000_zap(struct f000_dev *dev, unsigned long s, unsigned long e)
{
	unsigned long end = dev->start + (dev->npages << PAGE_SHIFT);

	s = max(s, dev->start);
	e = min(e, end);
	if (s >= e)
		return;
	for (unsigned long a = s; a < e; a += PAGE_SIZE)
		dev->pt[(a - dev->start) >> PAGE_SHIFT] = 0;
	check_unmap(&dev->cdev, dev->mm, s, e);
}

static int f000_start(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	struct f000_dev *dev = mn_to_dev(mn);

	spin_lock(&dev->lock);
	dev->valid = false;
	f000_zap(dev, range->start, range->end);
	spin_unlock(&dev->lock);
	return 0;
}

static void f000_end(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	struct f000_dev *dev = mn_to_dev(mn);

	/* THE FLAW: "no invalidation now" is taken for "nothing changed". */
	spin_lock(&dev->lock);
	dev->valid = true;
	spin_unlock(&dev->lock);
}

static void f000_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct f000_dev *dev = mn_to_dev(mn);

	spin_lock(&dev->lock);
	dev->valid = false;
	f000_zap(dev, dev->start, dev->start + (dev->npages << PAGE_SHIFT));
	spin_unlock(&dev->lock);
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
	struct f000_dev *dev;

	if (!mm || (start & ~PAGE_MASK) || !npages || npages > 4096)
		return NULL;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return NULL;
	dev->pt = kcalloc(npages, sizeof(*dev->pt), GFP_KERNEL);
	if (!dev->pt)
		goto free_dev;
	spin_lock_init(&dev->lock);
	dev->valid = true;
	dev->mm = mm;
	dev->start = start;
	dev->npages = npages;
	check_dev_init(&dev->cdev, name);
	dev->mn.ops = &f000_ops;
	if (mmu_notifier_register(&dev->mn, mm))
		goto fini;
	return dev;
fini:
	check_dev_fini(&dev->cdev);
	kfree(dev->pt);
free_dev:
	kfree(dev);
	return NULL;
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
	mmu_notifier_unregister(&dev->mn, dev->mm);
	check_dev_fini(&dev->cdev);
	kfree(dev->pt);
	kfree(dev);
}

static bool f000_in_range(struct f000_dev *dev, unsigned long va)
{
	return va >= dev->start &&
	       ((va - dev->start) >> PAGE_SHIFT) < dev->npages;
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
	if (!dev || !f000_in_range(dev, va))
		return -EINVAL;
	mmap_read_lock(dev->mm);
	ret = follow_pte_pfn(dev->mm, va, &pfn, &pte);
	mmap_read_unlock(dev->mm);
	if (ret || !(pte & _PAGE_PRESENT))
		return -EFAULT;
	if (dev->pause.read_done) {
		complete(dev->pause.read_done);
		wait_for_completion(dev->pause.go);
	}
	spin_lock(&dev->lock);
	if (!dev->valid) {
		spin_unlock(&dev->lock);
		return -EAGAIN;
	}
	dev->pt[(va - dev->start) >> PAGE_SHIFT] = pfn + 1;
	check_map(&dev->cdev, dev->mm, va, pfn, false);
	spin_unlock(&dev->lock);
	return 0;
}

/**
 * f000_read() - a device read of @len bytes at @va through its table.
 * @dev: the device.
 * @va: the address (the access stays within its page).
 * @buf: where the bytes go.
 * @len: how many.
 *
 * Context: any (takes the device spinlock).
 * Return: 0; -EFAULT no translation; -EINVAL bad arguments.
 */
int f000_read(struct f000_dev *dev, unsigned long va, void *buf, size_t len)
{
	unsigned long w;
	int ret = -EFAULT;

	if (!dev || !f000_in_range(dev, va))
		return -EINVAL;
	spin_lock(&dev->lock);
	w = dev->pt[(va - dev->start) >> PAGE_SHIFT];
	if (w)
		ret = check_dev_read(&dev->cdev, dev->mm, va, w - 1, buf, len);
	spin_unlock(&dev->lock);
	return ret;
}

/**
 * f000_pfn() - the frame @dev translates @va to, 0 if none.
 * @dev: the device.
 * @va: an address inside the device range.
 *
 * Context: any.  Return: the pfn or 0.
 */
unsigned long f000_pfn(struct f000_dev *dev, unsigned long va)
{
	unsigned long w;

	if (!dev || !f000_in_range(dev, va))
		return 0;
	spin_lock(&dev->lock);
	w = dev->pt[(va - dev->start) >> PAGE_SHIFT];
	spin_unlock(&dev->lock);
	return w ? w - 1 : 0;
}

/**
 * f000_set_pause() - install (or clear, @pause NULL) the test hook.
 * @dev: the device, not faulting at the moment.
 * @pause: completions the fault path signals/waits between read and
 *         install.
 *
 * Context: single-threaded with respect to @dev's fault path.
 */
void f000_set_pause(struct f000_dev *dev, const struct f000_pause *pause)
{
	if (!dev)
		return;
	if (pause)
		dev->pause = *pause;
	else
		dev->pause = (struct f000_pause){ 0 };
}
