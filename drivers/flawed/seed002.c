// SPDX-License-Identifier: MIT
/*
 * seed002.c - the notifier user of seed 002 that frees what a callback
 * still uses.
 *
 * The subscription is shared (mmu_notifier_get/put) and points at the
 * device.  mmu_notifier_put() unlinks it at once but frees it only after
 * a grace period, because a walker of the mm's list may be standing on it
 * and about to call it: "no more callbacks" is only true once
 * mmu_notifier_synchronize() has returned.  The flawed teardown frees the
 * device right after the put:
 *
 *	munmap (invalidate_range_start)      f002_destroy_flawed()
 *	rcu_read_lock; walk: sub found
 *	                                     mmu_notifier_put(sub): unlink
 *	                                     kfree(dev)
 *	f002_inv_start(sub): sub->dev  ----> use after free
 *	rcu_read_unlock
 *	                                     (grace period) free_notifier(sub)
 *
 * The correct teardown (f002_destroy) puts, then waits with
 * mmu_notifier_synchronize() for the free_notifier, which runs only after
 * every such walker is gone, and only then frees the device.
 *
 * The oracle has no hook for a driver's own objects, so this driver
 * carries its own KASAN stand-in: the subscription (alive until the grace
 * period) remembers that its device was freed, and a callback that would
 * dereference it WARNs and counts instead.  If the free happens between
 * that test and the dereference, the use after free is real: ASan reports
 * it.
 */
#include <mmirror/atomic.h>
#include <mmirror/check.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "flawed/seed002.h"

struct f002_dev {
	struct check_dev cdev;
	struct mm_struct *mm;
	struct f002_sub *sub;
	spinlock_t lock; /* guards nr_invalidations */
	unsigned long nr_invalidations;
};

/* The shared subscription: freed by free_notifier after a grace period. */
struct f002_sub {
	struct mmu_notifier mn;
	/* Written by create (before any range this device cares about can
	 * start: it is set under nothing, so a callback may see NULL and
	 * skip) and read by the callbacks. */
	struct f002_dev *dev;
	/* Written by f002_destroy_flawed() before it frees dev; read by
	 * the callbacks (the KASAN stand-in). */
	bool dev_freed;
	struct f002_pause pause;
};

static atomic_long_t f002_nr_late;

static struct f002_sub *mn_to_sub(struct mmu_notifier *mn)
{
	return container_of(mn, struct f002_sub, mn);
}

static void f002_pause_point(struct f002_sub *sub)
{
	struct f002_pause p = sub->pause;

	if (!p.in_callback)
		return;
	sub->pause = (struct f002_pause){ 0 };
	complete(p.in_callback);
	wait_for_completion(p.go);
}

static int f002_inv_start(struct mmu_notifier *mn,
			  const struct mmu_notifier_range *range)
{
	struct f002_sub *sub = mn_to_sub(mn);
	struct f002_dev *dev;

	f002_pause_point(sub);
	/* Pairs with WRITE_ONCE in f002_create(). */
	dev = READ_ONCE(sub->dev);
	if (!dev)
		return 0;
	/* Pairs with WRITE_ONCE in f002_destroy_flawed(). */
	if (WARN_ON(READ_ONCE(sub->dev_freed))) {
		atomic_long_inc(&f002_nr_late);
		return 0;
	}
	spin_lock(&dev->lock);
	dev->nr_invalidations++;
	check_unmap(&dev->cdev, dev->mm, range->start, range->end);
	spin_unlock(&dev->lock);
	return 0;
}

static struct mmu_notifier *f002_alloc(struct mm_struct *mm)
{
	struct f002_sub *sub = kzalloc(sizeof(*sub), GFP_KERNEL);

	return sub ? &sub->mn : NULL;
}

static void f002_free(struct mmu_notifier *mn)
{
	kfree(mn_to_sub(mn));
}

static const struct mmu_notifier_ops f002_ops = {
	.invalidate_range_start = f002_inv_start,
	.alloc_notifier = f002_alloc,
	.free_notifier = f002_free,
};

/**
 * f002_create() - a device subscribed to @mm through mmu_notifier_get().
 * @mm: the address space (with users).
 * @name: the device's name in oracle reports.
 *
 * One device per mm (the subscription is shared per ops and mm).
 * Context: may sleep (mmap_lock for write).
 * Return: the device or NULL (no memory, mm exited).
 */
struct f002_dev *f002_create(struct mm_struct *mm, const char *name)
{
	struct f002_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	struct mmu_notifier *mn;

	if (!dev)
		return NULL;
	spin_lock_init(&dev->lock);
	dev->mm = mm;
	check_dev_init(&dev->cdev, name);
	mn = mmu_notifier_get(&f002_ops, mm);
	if (IS_ERR(mn)) {
		check_dev_fini(&dev->cdev);
		kfree(dev);
		return NULL;
	}
	dev->sub = mn_to_sub(mn);
	/* Read by f002_inv_start(). */
	WRITE_ONCE(dev->sub->dev, dev);
	return dev;
}

static void f002_free_dev(struct f002_dev *dev)
{
	check_dev_fini(&dev->cdev);
	kfree(dev);
}

/**
 * f002_destroy() - the correct teardown: put, wait, then free.
 * @dev: from f002_create(), or NULL.
 *
 * mmu_notifier_synchronize() returns after the put's free_notifier ran,
 * which is after a grace period, so no callback can still be reading
 * sub->dev when the device is freed.
 *
 * Context: may sleep.  Not in a notifier callback.
 */
void f002_destroy(struct f002_dev *dev)
{
	if (!dev)
		return;
	mmu_notifier_put(&dev->sub->mn);
	mmu_notifier_synchronize();
	f002_free_dev(dev);
}

/**
 * f002_destroy_flawed() - the broken teardown: put and free at once.
 * @dev: from f002_create(), or NULL.
 *
 * A callback that found the subscription before the put's unlink still
 * runs after this returns and reads the freed device.
 *
 * Context: may sleep (it does not, which is the bug).
 */
void f002_destroy_flawed(struct f002_dev *dev)
{
	struct f002_sub *sub;

	if (!dev)
		return;
	sub = dev->sub;
	/* Read by f002_inv_start(); sub lives until the grace period. */
	WRITE_ONCE(sub->dev_freed, true);
	mmu_notifier_put(&sub->mn);
	f002_free_dev(dev);
}

/**
 * f002_set_pause() - install (or clear, @pause NULL) the test hook.
 * @dev: the device.
 * @pause: completions for the next invalidate_range_start callback.
 *
 * Context: no callback of @dev running.
 */
void f002_set_pause(struct f002_dev *dev, const struct f002_pause *pause)
{
	if (!dev)
		return;
	dev->sub->pause = pause ? *pause : (struct f002_pause){ 0 };
}

/**
 * f002_late_callbacks() - callbacks that ran on a freed device.
 *
 * Context: any.  Return: the count since the program started.
 */
unsigned long f002_late_callbacks(void)
{
	return atomic_long_read(&f002_nr_late);
}
