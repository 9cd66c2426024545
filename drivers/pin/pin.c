// SPDX-License-Identifier: MIT
/*
 * pin.c - a pinning device (vfio type1 / hfi1 style); see pin.h and
 * drivers/pin/README.md.
 *
 * Plain mode (flags 0), the vfio contract: registration pins every page of
 * the range with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) and the device
 * owns those frames until deregistration.  DMA goes to the pinned frames,
 * never through the page tables, so munmap, MADV_DONTNEED, mprotect or
 * fork change nothing the device sees; the frames cannot be freed under
 * it because the pin holds a reference.
 *
 * Cache mode (PINDEV_CACHE), the hfi1 mmu_rb contract: each region also
 * has an interval notifier over its range.  An invalidation that may
 * change which frame backs a va of the range (pin_event_evicts()) unpins
 * the whole region and marks it evicted; the next DMA re-pins what is
 * mapped then, or fails with -EFAULT.  Re-pinning follows the interval
 * collision-retry protocol:
 *
 *	seq = mmu_interval_read_begin()
 *	mmget_not_zero; mmap_read_lock; pin_user_pages; mmap_read_unlock
 *	region lock
 *	  mmu_interval_read_retry(seq)?  -> unlock, unpin, start again
 *	  publish pages[], pinned = true
 *	region unlock
 *
 *   DMA thread                          munmap (mmap_lock for write)
 *   read_begin -> seq
 *   pin_user_pages -> old frames
 *                                       invalidate_range_start
 *                                         region lock, set_seq, unlock
 *                                       zap PTEs
 *   region lock
 *   read_retry(seq): true -> unpin, retry (never publish the old frames)
 *
 * Lock order: mmap_lock -> (interval notifier machinery) -> region->lock
 * -> the oracle's leaf locks.  The region lock is a spinlock taken by the
 * invalidate callback, which may run with mmap_lock held for write
 * (munmap, exit): so nothing ever takes mmap_lock, sleeps or pins under
 * the region lock.  dev->lock guards only the region list and nests under
 * nothing.  Statistics are atomics, taken under no lock.
 */
#include <mmirror/check.h>
#include <mmirror/gup.h>
#include <mmirror/list.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

#include "pin.h"

#define PIN_GUP_FLAGS (FOLL_WRITE | FOLL_LONGTERM)
/* The locked-memory limit of one region (vfio: RLIMIT_MEMLOCK, -ENOMEM). */
#define PIN_MAX_BYTES (1UL << 32)

struct pindev {
	struct check_dev check; /* the oracle's view of this device */
	unsigned int flags;
	spinlock_t lock; /* guards regions; takes no other lock */
	struct list_head regions;
	/* Statistics: atomics, so the region lock never nests a dev lock. */
	atomic_long_t pinned, pin_calls, evictions, dma_reads, dma_writes;
};

struct pin_region {
	struct pindev *dev;
	struct list_head node; /* on dev->regions, under dev->lock */
	struct mm_struct *mm; /* mmgrab()ed for the region's life */
	unsigned long start; /* [start, start + npages pages) */
	unsigned long npages;
	struct mmu_interval_notifier notifier; /* PINDEV_CACHE only */
	/*
	 * lock: guards pinned and pages[].  Held across every DMA so that an
	 * eviction (which takes it) waits for the DMA in flight and no DMA
	 * starts on pages being unpinned.  A spinlock: the invalidate
	 * callback takes it, maybe in a non-blockable range.
	 */
	spinlock_t lock;
	bool pinned; /* pages[] hold our pins */
	struct page *pages[]; /* npages entries */
};

static bool pin_cache(const struct pindev *dev)
{
	return dev->flags & PINDEV_CACHE;
}

/* --- pinning and unpinning --------------------------------------------- */

/*
 * pin_range_locked() - pin all @npages from @start, or nothing.  A short
 * count from pin_user_pages() only says where it stopped (the range left a
 * VMA, a page could not be faulted): ask again from there, which pins more
 * (the failure was transient, e.g. an allocation) or gives the error, so
 * the caller gets the real errno (vfio also pins piece by piece).
 * Context: mmap_lock held for read.
 * Return 0 or a negative errno; -EFAULT if GUP stops without one.
 */
static int pin_range_locked(struct pin_region *r, struct page **pages)
{
	unsigned long done = 0;
	long n;

	while (done < r->npages) {
		n = pin_user_pages(r->mm, r->start + (done << PAGE_SHIFT),
				   r->npages - done, PIN_GUP_FLAGS,
				   pages + done);
		atomic_long_inc(&r->dev->pin_calls);
		if (n <= 0) {
			/* All or nothing: a half-pinned region is useless. */
			unpin_user_pages(pages, done);
			return n ? n : -EFAULT;
		}
		done += n;
	}
	return 0;
}

/*
 * pin_pages() - pin all of @r's range into @pages, or nothing.
 * Context: no lock held; takes mmap_lock for read; may sleep.
 * Return 0; -EFAULT (the mm exited, a hole, PROT_NONE or read-only
 * memory); pin_user_pages()'s other errors (-ENOMEM, -EINVAL).
 */
static int pin_pages(struct pin_region *r, struct page **pages)
{
	int ret;

	/* The process may be exiting: pinning would fault into a dying mm. */
	if (!mmget_not_zero(r->mm))
		return -EFAULT;
	mmap_read_lock(r->mm);
	ret = pin_range_locked(r, pages);
	mmap_read_unlock(r->mm);
	/* May be the last user: exit then runs our (unpublished) callback. */
	mmput(r->mm);
	if (ret)
		return ret;
	for (unsigned long i = 0; i < r->npages; i++)
		check_pin_note(&r->dev->check, pages[i]);
	return 0;
}

/*
 * unpin_pages() - drop our pins on @pages (@r->npages of them), telling
 * the oracle first (a pin it forgets after the unpin would look like a
 * pin of a frame already released).  Context: any; does not sleep.
 */
static void unpin_pages(struct pin_region *r, struct page **pages, bool dirty)
{
	for (unsigned long i = 0; i < r->npages; i++)
		check_pin_forget(&r->dev->check, pages[i]);
	unpin_user_pages_dirty_lock(pages, r->npages, dirty);
}

/* Context: region lock held. */
static void region_unpin_locked(struct pin_region *r)
{
	spin_assert_held(&r->lock);
	/* The device may have written any page: mark them all dirty. */
	unpin_pages(r, r->pages, true);
	r->pinned = false;
	atomic_long_sub(r->npages, &r->dev->pinned);
}

/*
 * region_repin() - PINDEV_CACHE: pin what is mapped now and publish it,
 * unless an invalidation of the range began meanwhile (then again).
 * Context: no lock held; may sleep.  Return 0 (pinned, by us or by a
 * concurrent re-pin), or pin_pages()'s error.
 */
static int region_repin(struct pin_region *r)
{
	struct page **pages = kcalloc(r->npages, sizeof(*pages), GFP_KERNEL);
	unsigned long seq;
	bool done;
	int ret;

	if (!pages)
		return -ENOMEM;
	do {
		/* Sample before pinning: see the protocol at the top. */
		seq = mmu_interval_read_begin(&r->notifier);
		ret = pin_pages(r, pages);
		if (ret)
			break;
		spin_lock(&r->lock);
		/* Another DMA's re-pin won: use its pages, drop ours. */
		done = r->pinned;
		if (!done && !mmu_interval_read_retry(&r->notifier, seq)) {
			for (unsigned long i = 0; i < r->npages; i++)
				r->pages[i] = pages[i];
			r->pinned = true;
			atomic_long_add(r->npages, &r->dev->pinned);
			spin_unlock(&r->lock);
			break;
		}
		spin_unlock(&r->lock);
		/* Never used for DMA: nothing to mark dirty. */
		unpin_pages(r, pages, false);
	} while (!done);
	kfree(pages);
	return ret;
}

/* --- the interval notifier (PINDEV_CACHE) --------------------------------- */

/*
 * pin_event_evicts() - may @event change the frame behind a va of the
 * range, or take away the write permission the pin was taken for?
 *
 * Evict on UNMAP (munmap, mremap's old range), CLEAR (MADV_DONTNEED, COW,
 * huge-page split: a split keeps the frames but cannot be told from the
 * others), PROTECTION_VMA (mprotect: a cache must not keep DMA-writing
 * memory the process made read-only; the re-pin with FOLL_WRITE then
 * fails), RELEASE (exit), MIGRATE and EXCLUSIVE (the CPU mapping moves
 * away from the frame).  Keep the pins on PROTECTION_PAGE (fork: pinned
 * pages stay mapped writable in the parent and the child gets a copy) and
 * SOFT_DIRTY (write-protection only, same frames).  hfi1 evicts on every
 * event; these two are the ones where that is provably useless.
 */
static bool pin_event_evicts(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return false;
	default:
		return true;
	}
}

/*
 * pin_invalidate() - the range of a region is about to change: publish
 * the sequence (failing any re-pin in flight) and, for an evicting event,
 * unpin the whole region under its lock, after the DMA in flight.
 * Context: interval notifier callback; mmap_lock may be held for write.
 * Return false only for a non-blockable range whose lock is contended.
 */
static bool pin_invalidate(struct mmu_interval_notifier *mni,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	struct pin_region *r = container_of(mni, struct pin_region, notifier);

	/* A DMA may hold the lock for a while: do not wait for it when the
	 * caller (the OOM reaper) may not block. */
	if (mmu_notifier_range_blockable(range))
		spin_lock(&r->lock);
	else if (!spin_trylock(&r->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	if (r->pinned && pin_event_evicts(range->event)) {
		region_unpin_locked(r);
		atomic_long_inc(&r->dev->evictions);
	}
	spin_unlock(&r->lock);
	return true;
}

static const struct mmu_interval_notifier_ops pin_mni_ops = {
	.invalidate = pin_invalidate,
};

/* --- device ------------------------------------------------------------ */

/**
 * pindev_create() - a pinning device.
 * @name: its name in oracle reports (truncated to 31 characters).
 * @flags: 0 or PINDEV_CACHE.
 *
 * Context: may sleep.
 * Return: the device, ERR_PTR(-EINVAL) (NULL @name, unknown @flags) or
 * ERR_PTR(-ENOMEM).
 */
struct pindev *pindev_create(const char *name, unsigned int flags)
{
	struct pindev *dev;

	if (!name || (flags & ~PINDEV_CACHE))
		return ERR_PTR(-EINVAL);
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->flags = flags;
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->regions);
	check_dev_init(&dev->check, name);
	return dev;
}

/**
 * pindev_destroy() - deregister every region left, then free @dev.
 * @dev: the device; NULL or an ERR_PTR is ignored.
 *
 * Context: may sleep; no DMA on @dev may be in flight or start.
 */
void pindev_destroy(struct pindev *dev)
{
	struct pin_region *r;

	if (IS_ERR_OR_NULL(dev))
		return;
	for (;;) {
		spin_lock(&dev->lock);
		r = list_first_entry_or_null(&dev->regions, struct pin_region,
					     node);
		spin_unlock(&dev->lock);
		if (!r)
			break;
		pindev_deregister(r);
	}
	check_dev_fini(&dev->check);
	kfree(dev);
}

/**
 * pindev_get_stats() - a snapshot of @dev's counters.
 * @dev: the device.
 * @stats: filled in (each counter read once; not one atomic snapshot).
 *
 * Context: any.
 */
void pindev_get_stats(struct pindev *dev, struct pindev_stats *stats)
{
	stats->pinned = atomic_long_read(&dev->pinned);
	stats->pin_calls = atomic_long_read(&dev->pin_calls);
	stats->evictions = atomic_long_read(&dev->evictions);
	stats->dma_reads = atomic_long_read(&dev->dma_reads);
	stats->dma_writes = atomic_long_read(&dev->dma_writes);
}

/* --- regions ----------------------------------------------------------- */

static struct pin_region *region_alloc(struct pindev *dev, struct mm_struct *mm,
				       unsigned long va, unsigned long len)
{
	unsigned long npages = len >> PAGE_SHIFT;
	struct pin_region *r;

	if (IS_ERR_OR_NULL(dev) || IS_ERR_OR_NULL(mm) || !len ||
	    ((va | len) & ~PAGE_MASK) || va + len < va ||
	    va + len > mm->task_size)
		return ERR_PTR(-EINVAL);
	if (len > PIN_MAX_BYTES)
		return ERR_PTR(-ENOMEM);
	r = kzalloc(sizeof(*r) + npages * sizeof(r->pages[0]), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->dev = dev;
	r->mm = mm;
	r->start = va;
	r->npages = npages;
	spin_lock_init(&r->lock);
	INIT_LIST_HEAD(&r->node);
	mmgrab(mm);
	return r;
}

static void region_free(struct pin_region *r)
{
	mmdrop(r->mm);
	kfree(r);
}

/* PINDEV_CACHE: subscribe, then pin through the re-pin protocol. */
static int region_init_cache(struct pin_region *r)
{
	int ret = mmu_interval_notifier_insert(&r->notifier, r->mm, r->start,
					       r->npages << PAGE_SHIFT,
					       &pin_mni_ops);

	if (ret)
		return ret;
	ret = region_repin(r);
	if (ret)
		mmu_interval_notifier_remove(&r->notifier);
	return ret;
}

/* Plain: pin once, for the region's life. */
static int region_init_plain(struct pin_region *r)
{
	int ret = pin_pages(r, r->pages);

	if (ret)
		return ret;
	r->pinned = true;
	atomic_long_add(r->npages, &r->dev->pinned);
	return 0;
}

/**
 * pindev_register() - pin [@va, @va + @len) of @mm for DMA by @dev.
 * @dev: the device.
 * @mm: the address space (the caller holds a reference on it).
 * @va: start, page-aligned.
 * @len: length in bytes, page-aligned, not 0.
 *
 * Every page is pinned with FOLL_WRITE | FOLL_LONGTERM (all or nothing).
 * With PINDEV_CACHE the region also gets an interval notifier.
 * Context: no driver lock held; takes mmap_lock for read; may sleep.
 * Return: the region; ERR_PTR(-EINVAL) (bad arguments), -EFAULT (a hole,
 * PROT_NONE or read-only memory, the mm exited), -ENOMEM (no memory, or
 * @len above the 4 GiB locked-memory limit of a region).  On error nothing
 * stays pinned.
 */
struct pin_region *pindev_register(struct pindev *dev, struct mm_struct *mm,
				   unsigned long va, unsigned long len)
{
	struct pin_region *r = region_alloc(dev, mm, va, len);
	int ret;

	if (IS_ERR(r))
		return r;
	ret = pin_cache(dev) ? region_init_cache(r) : region_init_plain(r);
	if (ret) {
		region_free(r);
		return ERR_PTR(ret);
	}
	spin_lock(&dev->lock);
	list_add_tail(&r->node, &dev->regions);
	spin_unlock(&dev->lock);
	return r;
}

/**
 * pindev_deregister() - unpin @r's pages (marking them dirty) and free it.
 * @r: a region of pindev_register(); NULL or an ERR_PTR is ignored.
 *
 * With PINDEV_CACHE the notifier goes first, so no eviction can race with
 * the final unpin.  Context: may sleep (notifier removal); no DMA on @r
 * may be in flight or start.
 */
void pindev_deregister(struct pin_region *r)
{
	struct pindev *dev;

	if (IS_ERR_OR_NULL(r))
		return;
	dev = r->dev;
	if (pin_cache(dev))
		mmu_interval_notifier_remove(&r->notifier);
	spin_lock(&r->lock);
	if (r->pinned)
		region_unpin_locked(r);
	spin_unlock(&r->lock);
	spin_lock(&dev->lock);
	list_del_init(&r->node);
	spin_unlock(&dev->lock);
	region_free(r);
}

/**
 * pindev_region_pinned() - pages @r holds pinned now (0 while evicted).
 * @r: the region.
 *
 * Context: any; a snapshot.
 */
unsigned long pindev_region_pinned(struct pin_region *r)
{
	unsigned long n;

	if (IS_ERR_OR_NULL(r))
		return 0;
	spin_lock(&r->lock);
	n = r->pinned ? r->npages : 0;
	spin_unlock(&r->lock);
	return n;
}

/* --- DMA ----------------------------------------------------------------- */

/* Context: region lock held, region pinned. */
static int dma_locked(struct pin_region *r, unsigned long va, char *buf,
		      size_t len, bool write)
{
	while (len) {
		struct page *page = r->pages[(va - r->start) >> PAGE_SHIFT];
		size_t off = va & ~PAGE_MASK;
		size_t n = min(len, PAGE_SIZE - off);
		int ret = write ? check_pin_write(&r->dev->check, page, off,
						  buf, n) :
				  check_pin_read(&r->dev->check, page, off, buf,
						 n);

		if (ret)
			return ret;
		va += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static int pin_dma(struct pin_region *r, unsigned long va, char *buf,
		   size_t len, bool write)
{
	int ret;

	if (IS_ERR_OR_NULL(r) || !buf || !len || va < r->start ||
	    va + len < va || va + len > r->start + (r->npages << PAGE_SHIFT))
		return -EINVAL;
	for (;;) {
		spin_lock(&r->lock);
		if (r->pinned) {
			ret = dma_locked(r, va, buf, len, write);
			spin_unlock(&r->lock);
			break;
		}
		spin_unlock(&r->lock);
		/* Only a cache region is ever unpinned while registered. */
		if (WARN_ON(!pin_cache(r->dev)))
			return -EFAULT;
		ret = region_repin(r);
		if (ret)
			return ret;
	}
	if (!ret)
		atomic_long_inc(write ? &r->dev->dma_writes :
					&r->dev->dma_reads);
	return ret;
}

/**
 * pindev_dma_read() - the device reads @len bytes at @va of @r's range
 * from the pinned frames into @buf.
 * @r: the region.
 * @va: inside the region; [@va, @va + @len) must be too.
 * @buf: destination.
 * @len: bytes, not 0.
 *
 * An evicted PINDEV_CACHE region is re-pinned first.
 * Context: no driver lock held; may sleep (re-pin).
 * Return: 0; -EINVAL (bad arguments, outside the region); re-pin errors
 * (-EFAULT: no longer mapped writable; -ENOMEM).
 */
int pindev_dma_read(struct pin_region *r, unsigned long va, void *buf,
		    size_t len)
{
	return pin_dma(r, va, buf, len, false);
}

/**
 * pindev_dma_write() - the device writes @len bytes of @buf at @va of
 * @r's range into the pinned frames.  As pindev_dma_read().
 * @r: the region.
 * @va: inside the region.
 * @buf: source.
 * @len: bytes, not 0.
 *
 * Context and return: as pindev_dma_read().
 */
int pindev_dma_write(struct pin_region *r, unsigned long va, const void *buf,
		     size_t len)
{
	/* pin_dma() only reads @buf when @write. */
	return pin_dma(r, va, (char *)buf, len, true);
}
