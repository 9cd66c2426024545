// SPDX-License-Identifier: MIT
/*
 * seed004.c - the pre-consolidation driver of seed 004.
 *
 * THE FLAWED PROTOCOL (do not copy)
 *
 *	invalidate_range_start:  lock; add [start, end) to active[];
 *	                         zap range; unlock
 *	invalidate_range_end:    lock; remove it from active[]; unlock
 *	device fault:            get_user_pages(va) -> page (no lock)
 *	                         lock; if va in no active range: install;
 *	                         unlock; put_page
 *
 * The list answers "is an invalidation of va running now?", which is the
 * wrong question: get_user_pages() ran before the lock, and a whole
 * invalidation may have started, cleared the PTE and ended in between.
 * The reference GUP took keeps the frame allocated, so nothing crashes:
 * the device simply maps a frame the process no longer has at va.
 *
 *	device fault                         munmap / MADV_DONTNEED
 *	get_user_pages(va) -> A (ref)
 *	                                     start: active += range, zap
 *	                                     clear PTE, flush
 *	                                     end:   active -= range
 *	lock; va not active -> install A --> stale translation (CHECK_STALE)
 *	put_page(A): A freed; the device still translates va to it
 *
 * This is why the interval notifier exists (seed 004): a sequence count
 * sampled before GUP and re-checked under the driver lock catches an
 * invalidation that has already ended.
 */
#include <mmirror/check.h>
#include <mmirror/gup.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "flawed/seed004.h"

#define F004_MAX_ACTIVE 8

/* One invalidation between its start and its end. */
struct f004_active {
	unsigned long start, end;
	bool used;
};

struct f004_dev {
	struct mmu_notifier mn;
	struct check_dev cdev;
	/* Guards active, nr_overflow and pt; taken by both callbacks. */
	spinlock_t lock;
	struct f004_active active[F004_MAX_ACTIVE];
	/* Invalidations that found active[] full: treat all as active. */
	unsigned int nr_overflow;
	struct mm_struct *mm;
	unsigned long start, npages;
	unsigned long *pt; /* pfn + 1 per page; 0: no translation */
	struct f004_pause pause;
};

static struct f004_dev *mn_to_dev(struct mmu_notifier *mn)
{
	return container_of(mn, struct f004_dev, mn);
}

/* Drop the translations of [s, e) within the device range (lock held). */
static void f004_zap(struct f004_dev *dev, unsigned long s, unsigned long e)
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

static int f004_start(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	struct f004_dev *dev = mn_to_dev(mn);
	unsigned int i;

	spin_lock(&dev->lock);
	for (i = 0; i < F004_MAX_ACTIVE && dev->active[i].used; i++)
		;
	if (i < F004_MAX_ACTIVE)
		dev->active[i] =
			(struct f004_active){ range->start, range->end, true };
	else
		dev->nr_overflow++;
	f004_zap(dev, range->start, range->end);
	spin_unlock(&dev->lock);
	return 0;
}

static void f004_end(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	struct f004_dev *dev = mn_to_dev(mn);
	unsigned int i;

	spin_lock(&dev->lock);
	for (i = 0; i < F004_MAX_ACTIVE; i++) {
		struct f004_active *a = &dev->active[i];

		if (a->used && a->start == range->start &&
		    a->end == range->end) {
			a->used = false;
			break;
		}
	}
	if (i == F004_MAX_ACTIVE && !WARN_ON(!dev->nr_overflow))
		dev->nr_overflow--;
	spin_unlock(&dev->lock);
}

/* THE FLAW: "no invalidation of va runs now" is taken for "nothing
 * changed va since get_user_pages()".  Lock held. */
static bool f004_va_active(struct f004_dev *dev, unsigned long va)
{
	if (dev->nr_overflow)
		return true;
	for (unsigned int i = 0; i < F004_MAX_ACTIVE; i++) {
		struct f004_active *a = &dev->active[i];

		if (a->used && va < a->end && va + PAGE_SIZE > a->start)
			return true;
	}
	return false;
}

static void f004_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct f004_dev *dev = mn_to_dev(mn);

	spin_lock(&dev->lock);
	f004_zap(dev, dev->start, dev->start + (dev->npages << PAGE_SHIFT));
	spin_unlock(&dev->lock);
}

static const struct mmu_notifier_ops f004_ops = {
	.release = f004_release,
	.invalidate_range_start = f004_start,
	.invalidate_range_end = f004_end,
};

/**
 * f004_create() - a flawed mirror of @npages pages at @start of @mm.
 * @mm: the address space (with users).
 * @start: page-aligned start of the mirrored range.
 * @npages: its length in pages (1..4096).
 * @name: the device's name in oracle reports.
 *
 * Context: may sleep (registers a notifier: mmap_lock for write).
 * Return: the device, or NULL (bad arguments, no memory, mm exited).
 */
struct f004_dev *f004_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name)
{
	struct f004_dev *dev;

	if (!mm || (start & ~PAGE_MASK) || !npages || npages > 4096)
		return NULL;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return NULL;
	dev->pt = kcalloc(npages, sizeof(*dev->pt), GFP_KERNEL);
	if (!dev->pt)
		goto free_dev;
	spin_lock_init(&dev->lock);
	dev->mm = mm;
	dev->start = start;
	dev->npages = npages;
	check_dev_init(&dev->cdev, name);
	dev->mn.ops = &f004_ops;
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
 * f004_destroy() - unregister (waiting for callbacks) and free @dev.
 * @dev: from f004_create(), or NULL.
 *
 * Context: may sleep (grace period).  Not in a notifier callback.
 */
void f004_destroy(struct f004_dev *dev)
{
	if (!dev)
		return;
	mmu_notifier_unregister(&dev->mn, dev->mm);
	check_dev_fini(&dev->cdev);
	kfree(dev->pt);
	kfree(dev);
}

static bool f004_in_range(struct f004_dev *dev, unsigned long va)
{
	return va >= dev->start &&
	       ((va - dev->start) >> PAGE_SHIFT) < dev->npages;
}

/**
 * f004_fault() - get_user_pages() @va and install the page it returned.
 * @dev: the device.
 * @va: an address inside the device range.
 *
 * This is the flawed step: the GUP result is checked only against the
 * invalidations running at install time, not those that ran since.
 *
 * Context: may sleep (mmap_lock, faults).  Not with the device lock held.
 * Return: 0 installed; -EAGAIN an invalidation of @va is in flight;
 * -EFAULT GUP failed; -EINVAL outside the range.
 */
int f004_fault(struct f004_dev *dev, unsigned long va)
{
	struct page *page;
	long got;
	int ret = 0;

	va &= PAGE_MASK;
	if (!dev || !f004_in_range(dev, va))
		return -EINVAL;
	mmap_read_lock(dev->mm);
	got = get_user_pages(dev->mm, va, 1, 0, &page);
	mmap_read_unlock(dev->mm);
	if (got != 1)
		return -EFAULT;
	if (dev->pause.read_done) {
		complete(dev->pause.read_done);
		wait_for_completion(dev->pause.go);
	}
	spin_lock(&dev->lock);
	if (f004_va_active(dev, va)) {
		ret = -EAGAIN;
	} else {
		dev->pt[(va - dev->start) >> PAGE_SHIFT] =
			page_to_pfn(page) + 1;
		check_map(&dev->cdev, dev->mm, va, page_to_pfn(page), false);
	}
	spin_unlock(&dev->lock);
	/* No pin: the device relies on the notifier, as hmm does. */
	put_page(page);
	return ret;
}

/**
 * f004_read() - a device read of @len bytes at @va through its table.
 * @dev: the device.
 * @va: the address (the access stays within its page).
 * @buf: where the bytes go.
 * @len: how many.
 *
 * Context: any (takes the device spinlock).
 * Return: 0; -EFAULT no translation; -EINVAL bad arguments.
 */
int f004_read(struct f004_dev *dev, unsigned long va, void *buf, size_t len)
{
	unsigned long w;
	int ret = -EFAULT;

	if (!dev || !f004_in_range(dev, va))
		return -EINVAL;
	spin_lock(&dev->lock);
	w = dev->pt[(va - dev->start) >> PAGE_SHIFT];
	if (w)
		ret = check_dev_read(&dev->cdev, dev->mm, va, w - 1, buf, len);
	spin_unlock(&dev->lock);
	return ret;
}

/**
 * f004_pfn() - the frame @dev translates @va to, 0 if none.
 * @dev: the device.
 * @va: an address inside the device range.
 *
 * Context: any.  Return: the pfn or 0.
 */
unsigned long f004_pfn(struct f004_dev *dev, unsigned long va)
{
	unsigned long w;

	if (!dev || !f004_in_range(dev, va))
		return 0;
	spin_lock(&dev->lock);
	w = dev->pt[(va - dev->start) >> PAGE_SHIFT];
	spin_unlock(&dev->lock);
	return w ? w - 1 : 0;
}

/**
 * f004_set_pause() - install (or clear, @pause NULL) the test hook.
 * @dev: the device, not faulting at the moment.
 * @pause: completions the fault path signals/waits between read and
 *         install.
 *
 * Context: single-threaded with respect to @dev's fault path.
 */
void f004_set_pause(struct f004_dev *dev, const struct f004_pause *pause)
{
	if (!dev)
		return;
	if (pause)
		dev->pause = *pause;
	else
		dev->pause = (struct f004_pause){ 0 };
}
