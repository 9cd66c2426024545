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
#include <mmirror/gup.h>
#include <mmirror/mm.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include "flawed/fdev.h"
#include "flawed/seed004.h"

#define F004_MAX_ACTIVE 8

/* One invalidation between its start and its end. */
struct f004_active {
	unsigned long start, end;
	bool used;
};

struct f004_dev {
	struct fdev fd; /* fd.lock guards active and nr_overflow too */
	struct f004_active active[F004_MAX_ACTIVE];
	/* Invalidations that found active[] full: treat all as active. */
	unsigned int nr_overflow;
};

static struct f004_dev *mn_to_dev(struct mmu_notifier *mn)
{
	return container_of(mn, struct f004_dev, fd.mn);
}

static int f004_start(struct mmu_notifier *mn,
		      const struct mmu_notifier_range *range)
{
	struct f004_dev *dev = mn_to_dev(mn);
	unsigned int i;

	spin_lock(&dev->fd.lock);
	for (i = 0; i < F004_MAX_ACTIVE && dev->active[i].used; i++)
		;
	if (i < F004_MAX_ACTIVE)
		dev->active[i] =
			(struct f004_active){ range->start, range->end, true };
	else
		dev->nr_overflow++;
	fdev_zap(&dev->fd, range->start, range->end);
	spin_unlock(&dev->fd.lock);
	return 0;
}

static void f004_end(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	struct f004_dev *dev = mn_to_dev(mn);
	unsigned int i;

	spin_lock(&dev->fd.lock);
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
	spin_unlock(&dev->fd.lock);
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

	spin_lock(&dev->fd.lock);
	fdev_zap_all(&dev->fd);
	spin_unlock(&dev->fd.lock);
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
	struct f004_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);

	if (!dev)
		return NULL;
	if (fdev_init(&dev->fd, mm, start, npages, name, &f004_ops)) {
		kfree(dev);
		return NULL;
	}
	return dev;
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
	fdev_fini(&dev->fd);
	kfree(dev);
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
	if (!dev || !fdev_in_range(&dev->fd, va))
		return -EINVAL;
	mmap_read_lock(dev->fd.mm);
	got = get_user_pages(dev->fd.mm, va, 1, 0, &page);
	mmap_read_unlock(dev->fd.mm);
	if (got != 1)
		return -EFAULT;
	fdev_pause_point(&dev->fd);
	spin_lock(&dev->fd.lock);
	if (f004_va_active(dev, va))
		ret = -EAGAIN;
	else
		fdev_install(&dev->fd, va, page_to_pfn(page));
	spin_unlock(&dev->fd.lock);
	/* No pin: the device relies on the notifier, as hmm does. */
	put_page(page);
	return ret;
}

/**
 * f004_fdev() - the device base of @dev: fdev_read(), fdev_pfn() and
 * fdev_set_pause() (fdev.h) work on it.
 * @dev: the device, or NULL.
 *
 * Context: any.  Return: its struct fdev (NULL for NULL).
 */
struct fdev *f004_fdev(struct f004_dev *dev)
{
	return dev ? &dev->fd : NULL;
}
