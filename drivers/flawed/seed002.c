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
 * The oracle sees the flaw through its object-lifetime rule: the device
 * is check_obj_alloc()ed at create, check_obj_free()d by either teardown
 * before the memory goes, and the callback says check_obj_access()
 * before it dereferences it.  A late callback is CHECK_USE_AFTER_FREE.
 *
 * THE QUARANTINE (a deviation from a real use after free).  The flawed
 * teardown tells the oracle "freed" at once, but releases the memory
 * with kfree_rcu(), as KASAN's quarantine delays reuse: the grace period
 * starts after the put, so it waits for every walker that found the
 * subscription before the unlink.  The late callback, once reported,
 * goes on to read the old, intact device (torn down, but not reused or
 * unmapped): the explorer ends the schedule with a clean violation and
 * real threads never crash.  A real driver would read whatever the
 * allocator put there next.
 */
#include <mmirror/atomic.h>
#include <mmirror/check.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/rcupdate.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "flawed/seed002.h"

struct f002_dev {
	struct check_dev cdev;
	struct mm_struct *mm;
	struct f002_sub *sub;
	spinlock_t lock; /* guards nr_invalidations */
	unsigned long nr_invalidations;
	struct rcu_head rcu; /* the flawed teardown's quarantine */
};

/* The shared subscription: freed by free_notifier after a grace period. */
struct f002_sub {
	struct mmu_notifier mn;
	/* Written by create (before any range this device cares about can
	 * start: it is set under nothing, so a callback may see NULL and
	 * skip) and read by the callbacks. */
	struct f002_dev *dev;
	struct f002_pause pause;
};

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
	/* The flawed teardown may have freed it under us: the oracle
	 * reports it (the quarantine keeps the memory, see above). */
	check_obj_access(dev, "f002_inv_start");
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

/*
 * The device is dead to the oracle, before its memory may go: first as
 * an object (a callback that uses it from now on is reported), then as
 * a device (the oracle forgets its translations and pins).
 */
static void f002_kill_dev(struct f002_dev *dev)
{
	check_obj_free(dev);
	check_dev_fini(&dev->cdev);
}

static void f002_free_dev(struct f002_dev *dev)
{
	f002_kill_dev(dev);
	kfree(dev);
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
	check_obj_alloc(dev, sizeof(*dev), "f002_dev");
	spin_lock_init(&dev->lock);
	dev->mm = mm;
	check_dev_init(&dev->cdev, name);
	mn = mmu_notifier_get(&f002_ops, mm);
	if (IS_ERR(mn)) {
		f002_free_dev(dev);
		return NULL;
	}
	dev->sub = mn_to_sub(mn);
	/* Read by f002_inv_start(). */
	WRITE_ONCE(dev->sub->dev, dev);
	return dev;
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
 * runs after this returns and reads the freed device.  The memory itself
 * is quarantined until a grace period after the put (see the top of the
 * file), so that read is reported, not performed on reused memory.
 *
 * Context: may sleep (it does not, which is the bug).
 */
void f002_destroy_flawed(struct f002_dev *dev)
{
	if (!dev)
		return;
	mmu_notifier_put(&dev->sub->mn);
	/* THE FLAW: kfree(dev) with a callback maybe still on the sub. */
	f002_kill_dev(dev);
	/* The quarantine: the memory outlives the late callbacks. */
	kfree_rcu(dev, rcu);
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
