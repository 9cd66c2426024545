// SPDX-License-Identifier: MIT
/*
 * mirror.c - an HMM mirror device (mirror.h): its interval notifier, the
 * fault protocol that fills its page table, and snapshots.  The engines
 * that execute device reads and writes are in engine.c.
 *
 * THE PROTOCOL (README.md has the timeline)
 *
 * A device page-table entry may only be installed from a page-table read
 * that no invalidation has overtaken.  dmirror_fault_range() samples the
 * notifier's sequence (mmu_interval_read_begin), reads and faults the CPU
 * page tables (hmm_range_fault under mmap_lock for read), then takes the
 * driver mutex and asks mmu_interval_read_retry() whether an invalidation
 * began in between: if so, what it read may already be freed or
 * downgraded and it starts over.  The invalidate callback publishes the
 * new sequence and drops the overlapping entries under the same mutex, so
 * an install either happens entirely before the callback (which then drops
 * it) or sees the new sequence and retries.  Device accesses look their
 * entry up and use it under the mutex too, so no access can run through an
 * entry after the callback that drops it returned.
 *
 * Lock order: devmem_sem -> mmap_lock -> dmirror->mutex -> the oracle's
 * leaf locks.  hmm_range_fault() is never called with the mutex held.
 *
 * Device memory (devmem.c): hmm_range_fault() runs with dev_private_owner
 * = dm, so our device-private pages come back VALID with their device pfn
 * and are mapped and accessed like any page; the oracle treats a
 * device-private entry as a mapping of its pfn.
 */
#include <mmirror/hmm.h>
#include <mmirror/memremap.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>

#include "mirror_priv.h"

/* Pages a snapshot reads per hmm_range_fault() call (bounds its buffer). */
#define DMIRROR_SNAPSHOT_BATCH 4096UL

/* --- invalidation ---------------------------------------------------- */

/* Coalesces the dropped pages into runs for check_unmap(). */
struct dmirror_unmap_run {
	struct dmirror *dm;
	unsigned long start, end; /* the run being built; empty if equal */
};

static void dmirror_unmap_flush(struct dmirror_unmap_run *run)
{
	if (run->start != run->end)
		check_unmap(&run->dm->cdev, run->dm->mm, run->start, run->end);
	run->start = run->end = 0;
}

static void dmirror_unmap_one(void *arg, unsigned long va)
{
	struct dmirror_unmap_run *run = arg;

	if (run->start == run->end || va != run->end) {
		dmirror_unmap_flush(run);
		run->start = va;
	}
	run->end = va + PAGE_SIZE;
}

/*
 * dmirror_zap() - drop the device entries of [start, end) and tell the
 * oracle, run by run (only pages that had entries: the range may be the
 * whole address space).  Context: dm->mutex held.
 */
static void dmirror_zap(struct dmirror *dm, unsigned long start,
			unsigned long end)
{
	struct dmirror_unmap_run run = { .dm = dm };

	mutex_assert_held(&dm->mutex);
	dpt_clear(&dm->pt, start, end, dmirror_unmap_one, &run);
	dmirror_unmap_flush(&run);
}

/*
 * The interval notifier's callback: [range->start, range->end) is about to
 * change.  Context: whatever the invalidating path holds (mmap_lock
 * often); takes dm->mutex, or only tries to for a non-blockable range.
 */
static bool dmirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct dmirror *dm = container_of(mni, struct dmirror, notifier);

	/*
	 * Our own migrations (MMU_NOTIFY_MIGRATE, owner dm) are zapped here
	 * like any invalidation.  The kernel's test_hmm skips them and
	 * erases its entries itself during the copy, unordered against
	 * device accesses: an access in between uses a translation whose
	 * invalidation already began - a stale access to the oracle.
	 * devmem.c maps the moved pages afterwards, read_retry-checked.
	 */
	if (mmu_notifier_range_blockable(range))
		mutex_lock(&dm->mutex);
	else if (!mutex_trylock(&dm->mutex))
		return false;
	/* Under the mutex: read_retry() of a racing fault sees it. */
	mmu_interval_set_seq(mni, cur_seq);
	/*
	 * Our own make_device_exclusive() keeps our exclusive (atomic)
	 * mappings, as nouveau does; everything else is dropped.
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == dm) {
		dmirror_zap_nonatomic(dm, range->start, range->end);
	} else {
		dmirror_zap(dm, range->start, range->end);
		/* EXCLUSIVE ones cannot hit pages a make holds locked. */
		if (range->event != MMU_NOTIFY_EXCLUSIVE)
			dm->excl_gen++;
	}
	if (range->event != MMU_NOTIFY_MIGRATE || range->owner != dm)
		dm->migrate_gen++;
	atomic_long_inc(&dm->invalidations);
	mutex_unlock(&dm->mutex);
	return true;
}

static const struct mmu_interval_notifier_ops dmirror_notifier_ops = {
	.invalidate = dmirror_invalidate,
};

/* --- faults ------------------------------------------------------------ */

/*
 * Install the result of a successful hmm_range_fault(): every page is
 * VALID (a fault was asked of each).  Context: dm->mutex held, read_retry
 * just said the result is current.  Return 0 or -ENOMEM.
 */
static int dmirror_install(struct dmirror *dm, const struct hmm_range *range)
{
	unsigned long va = range->start;

	mutex_assert_held(&dm->mutex);
	for (unsigned long i = 0; va < range->end; i++, va += PAGE_SIZE) {
		unsigned long w = range->hmm_pfns[i];
		unsigned long pfn = w & ~HMM_PFN_FLAGS;
		bool writable = w & HMM_PFN_WRITE;
		int ret;

		if (WARN_ON(!(w & HMM_PFN_VALID)))
			return -EFAULT;
		ret = dpt_set(&dm->pt, va,
			      pfn | DPTE_VALID | (writable ? DPTE_WRITE : 0));
		if (ret)
			return ret;
		check_map(&dm->cdev, dm->mm, va, pfn, writable);
	}
	return 0;
}

/*
 * dmirror_range_fault_locked() - the collision-retry loop, up to the lock.
 * @dm: the device
 * @range: notifier, start, end, hmm_pfns and flags set; notifier_seq is
 *         filled here
 *
 * read_begin -> hmm_range_fault under mmap_lock (-EBUSY: again) -> the
 * driver mutex -> read_retry (an invalidation began since read_begin:
 * unlock and again).  On success the output words in @range are what the
 * CPU page tables said at a moment no invalidation had begun to change
 * them, and stay true until the caller unlocks: a new invalidation of the
 * range must take the mutex in dmirror_invalidate() first.
 *
 * Context: holds a user reference on the mm; no lock held; may sleep.
 * Return: 0 with dm->mutex held, or hmm_range_fault()'s error without it.
 */
static int dmirror_range_fault_locked(struct dmirror *dm,
				      struct hmm_range *range)
{
	int ret;

	for (;;) {
		/* Sample the sequence before reading the page tables. */
		range->notifier_seq = mmu_interval_read_begin(&dm->notifier);
		mmap_read_lock(dm->mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(dm->mm);
		if (ret == -EBUSY) {
			atomic_long_inc(&dm->retries);
			continue;
		}
		if (ret)
			return ret;
		mutex_lock(&dm->mutex);
		/* The check that makes it correct. */
		if (!mmu_interval_read_retry(&dm->notifier,
					     range->notifier_seq))
			return 0;
		mutex_unlock(&dm->mutex);
		atomic_long_inc(&dm->retries);
	}
}

/*
 * After a write fault: the first page of @range that is one of our device
 * pages but read-only (NULL if none), its address through @va.  Context: dm->mutex held, read_retry
 * just passed (the pages are still mapped, so alive).
 */
static struct page *dmirror_find_ro_devpage(struct dmirror *dm,
					    const struct hmm_range *range,
					    unsigned long *va)
{
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT;

	for (unsigned long i = 0; i < n; i++) {
		unsigned long w = range->hmm_pfns[i];

		if ((w & HMM_PFN_WRITE) ||
		    !dmirror_is_own_devpage(dm, hmm_pfn_to_page(w)))
			continue;
		*va = range->start + (i << PAGE_SHIFT);
		return hmm_pfn_to_page(w);
	}
	return NULL;
}

/**
 * dmirror_fault_range() - make [start, end) present in the device table
 * @eng: the engine faulting (its pfns buffer is used)
 * @start: page aligned
 * @end: page aligned, at most DMIRROR_FAULT_BATCH pages after @start
 * @write: make the entries writable (a write fault: breaks COW)
 *
 * The read_begin -> hmm_range_fault -> lock -> read_retry loop.  Entries
 * the CPU maps writable are installed writable even for a read fault.
 * Our device-private pages are installed with their device pfn; a write
 * fault that finds one read-only moves it to system memory first
 * (dmirror_migrate_to_system) and faults again, which breaks COW.
 *
 * Context: an engine thread holding a user reference on the mm (mmget);
 * no lock held; may sleep.
 * Return: 0; -EFAULT (no VMA or PROT_NONE in the range: hmm_range_fault's
 * answer for an unmirrorable VMA, or the fault failed); -EPERM (@write in
 * a VMA without VM_WRITE); -ENOMEM.
 */
int dmirror_fault_range(struct dmirror_engine *eng, unsigned long start,
			unsigned long end, bool write)
{
	struct dmirror *dm = eng->dm;
	struct hmm_range range = {
		.notifier = &dm->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = eng->pfns,
		.default_flags =
			HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
		/* Our device pages are reported, not faulted back. */
		.dev_private_owner = dm,
	};
	int ret;

	if (WARN_ON((end - start) >> PAGE_SHIFT > DMIRROR_FAULT_BATCH))
		return -EINVAL;
	for (;;) {
		struct page *page = NULL;
		unsigned long va;

		ret = dmirror_range_fault_locked(dm, &range);
		if (ret)
			return ret;
		if (write)
			page = dmirror_find_ro_devpage(dm, &range, &va);
		if (!page)
			break;
		/*
		 * hmm_range_fault() reports our device pages as they are
		 * and cannot make a read-only one (fork shared it) writable:
		 * move it to system memory, where the next fault breaks COW.
		 */
		mutex_unlock(&dm->mutex);
		atomic_long_inc(&dm->retries);
		ret = dmirror_devpage_to_system(dm, va, page);
		if (ret)
			return ret;
	}
	atomic_long_inc(&dm->faults);
	ret = dmirror_install(dm, &range);
	mutex_unlock(&dm->mutex);
	return ret;
}

/* --- snapshots --------------------------------------------------------- */

/*
 * The DMIRROR_PROT_* byte of one hmm_range_fault() output word.  Context:
 * dm->mutex held after a passed read_retry (a VALID page is still mapped).
 */
static unsigned char dmirror_prot(struct dmirror *dm, unsigned long w)
{
	struct page *page;
	unsigned char prot;

	if (w & HMM_PFN_ERROR)
		return DMIRROR_PROT_ERROR;
	if (!(w & HMM_PFN_VALID))
		return DMIRROR_PROT_NONE;
	page = hmm_pfn_to_page(w);
	/*
	 * With dev_private_owner = dm, hmm_range_fault() reports only our
	 * device pages; another device's are NONE (or faulted back), so
	 * REMOTE does not occur.  Kept for completeness.
	 */
	if (is_device_private_page(page))
		prot = page->pgmap->owner == dm ?
			       DMIRROR_PROT_DEV_PRIVATE_LOCAL :
			       DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else
		prot = is_zero_pfn(w & ~HMM_PFN_FLAGS) ? DMIRROR_PROT_ZERO : 0;
	/* Writable implies readable: READ | WRITE (the kernel's dmirror
	 * reports WRITE alone). */
	prot |= DMIRROR_PROT_READ;
	if (w & HMM_PFN_WRITE)
		prot |= DMIRROR_PROT_WRITE;
	if (hmm_pfn_to_map_order(w) == PMD_SHIFT - PAGE_SHIFT)
		prot |= DMIRROR_PROT_PMD;
	else if (hmm_pfn_to_map_order(w) == PUD_SHIFT - PAGE_SHIFT)
		prot |= DMIRROR_PROT_PUD;
	return prot;
}

/* One batch of a snapshot, retried until no invalidation overtook it. */
static int dmirror_snapshot_batch(struct dmirror *dm, struct hmm_range *range,
				  unsigned char *states)
{
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT;
	int ret;

	/* Under the mutex, as a fault would: the states are those of one
	 * moment no invalidation had begun to change. */
	ret = dmirror_range_fault_locked(dm, range);
	if (ret)
		return ret;
	for (unsigned long i = 0; i < n; i++)
		states[i] = dmirror_prot(dm, range->hmm_pfns[i]);
	mutex_unlock(&dm->mutex);
	return 0;
}

/**
 * dmirror_snapshot() - the CPU's view of [start, end), one byte a page
 * @dm: the device
 * @start: page aligned
 * @end: page aligned, >= @start, within the address space
 * @states: (end - start) / PAGE_SIZE DMIRROR_PROT_* bytes out
 *
 * hmm_range_fault() without fault flags: nothing is faulted and the
 * device table is not touched.  ERROR for pages without a VMA or in one
 * that cannot be mirrored (PROT_NONE included: no VM_READ), NONE for pages
 * the CPU does not map, else READ (| WRITE if the CPU may write), | ZERO
 * for the zero page,
 * | PMD or PUD for pages of a huge leaf; DEV_PRIVATE_LOCAL | READ (| WRITE)
 * for our device-private pages (another device's read as NONE).
 *
 * Context: may sleep; takes mmap_lock (read), then dm->mutex.
 * Return: 0; -EINVAL (bad arguments); -EFAULT (the mm exited); -ENOMEM.
 */
int dmirror_snapshot(struct dmirror *dm, unsigned long start, unsigned long end,
		     unsigned char *states)
{
	unsigned long n = (end - start) >> PAGE_SHIFT;
	struct hmm_range range = {
		.notifier = &dm->notifier,
		/* Ours are reported (LOCAL); others are not faulted back. */
		.dev_private_owner = dm,
	};
	int ret = 0;

	if (!dm || !states || !IS_ALIGNED(start, PAGE_SIZE) ||
	    !IS_ALIGNED(end, PAGE_SIZE) || end < start ||
	    end > dm->mm->task_size)
		return -EINVAL;
	if (start == end)
		return 0;
	range.hmm_pfns = kcalloc(min(n, DMIRROR_SNAPSHOT_BATCH),
				 sizeof(unsigned long), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(dm->mm)) {
		kfree(range.hmm_pfns);
		return -EFAULT;
	}
	for (range.start = start; !ret && range.start < end;
	     range.start = range.end) {
		range.end = min(end, range.start + DMIRROR_SNAPSHOT_BATCH *
							   PAGE_SIZE);
		ret = dmirror_snapshot_batch(
			dm, &range,
			states + ((range.start - start) >> PAGE_SHIFT));
	}
	mmput(dm->mm);
	kfree(range.hmm_pfns);
	return ret;
}

/* --- the device -------------------------------------------------------- */

static void dmirror_free(struct dmirror *dm)
{
	for (unsigned int i = 0; i < DMIRROR_MAX_ENGINES; i++)
		kfree(dm->engines[i].pfns);
	kfree(dm);
}

static struct dmirror *dmirror_alloc(struct mm_struct *mm, const char *name,
				     unsigned int nr_engines)
{
	struct dmirror *dm = kzalloc(sizeof(*dm), GFP_KERNEL);

	if (!dm)
		return NULL;
	dm->mm = mm;
	dm->nr_engines = nr_engines;
	mutex_init(&dm->mutex);
	init_rwsem(&dm->devmem_sem);
	dpt_init(&dm->pt, mm->task_size);
	spin_lock_init(&dm->queue_lock);
	INIT_LIST_HEAD(&dm->queue);
	init_waitqueue_head(&dm->queue_wq);
	init_waitqueue_head(&dm->done_wq);
	for (unsigned int i = 0; i < nr_engines; i++) {
		dm->engines[i].dm = dm;
		dm->engines[i].pfns = kcalloc(
			DMIRROR_FAULT_BATCH, sizeof(unsigned long), GFP_KERNEL);
		if (!dm->engines[i].pfns) {
			dmirror_free(dm);
			return NULL;
		}
	}
	check_dev_init(&dm->cdev, name ? name : "dmirror");
	return dm;
}

/**
 * dmirror_create() - a device mirroring @mm
 * @mm: the address space; the caller holds a reference on the struct
 * @name: for oracle reports (NULL: "dmirror"), at most 31 characters kept
 * @nr_engines: engine threads, 1..16
 *
 * Subscribes one interval notifier to the whole address space [0,
 * task_size) and starts the engines.
 *
 * Context: may sleep; takes mmap_lock.  Not from a notifier callback.
 * Return: the device; ERR_PTR(-EINVAL) for a NULL @mm or a bad
 * @nr_engines, ERR_PTR(-EFAULT) if @mm has exited, ERR_PTR(-ENOMEM).
 */
struct dmirror *dmirror_create(struct mm_struct *mm, const char *name,
			       unsigned int nr_engines)
{
	struct dmirror *dm;
	int ret;

	if (!mm || !nr_engines || nr_engines > DMIRROR_MAX_ENGINES)
		return ERR_PTR(-EINVAL);
	if (!mmget_not_zero(mm))
		return ERR_PTR(-EFAULT);
	dm = dmirror_alloc(mm, name, nr_engines);
	if (!dm) {
		mmput(mm);
		return ERR_PTR(-ENOMEM);
	}
	/* dm->mm stays valid until dmirror_destroy() is done with it,
	 * after the notifier dropped its own reference. */
	mmgrab(mm);
	ret = mmu_interval_notifier_insert(&dm->notifier, mm, 0, mm->task_size,
					   &dmirror_notifier_ops);
	mmput(mm);
	if (ret)
		goto fail;
	ret = dmirror_engines_start(dm);
	if (!ret)
		return dm;
	mmu_interval_notifier_remove(&dm->notifier);
fail:
	check_dev_fini(&dm->cdev);
	dmirror_free(dm);
	mmdrop(mm);
	return ERR_PTR(ret);
}

/**
 * dmirror_destroy() - stop the engines, unsubscribe, free the device
 * @dm: the device (NULL or an ERR_PTR: nothing happens)
 *
 * Jobs already queued are completed first, then the device memory is
 * released (its pages evicted to system memory) while the notifier still
 * zaps the table.  No other call on @dm may run or follow.  Context: may
 * sleep; not from a notifier callback; no mmap_lock held.
 */
void dmirror_destroy(struct dmirror *dm)
{
	struct mm_struct *mm;

	if (IS_ERR_OR_NULL(dm))
		return;
	dmirror_engines_stop(dm);
	/*
	 * Device memory before the notifier goes: the eviction's MIGRATE
	 * invalidations must still zap our entries of device pfns (and tell
	 * the oracle) before memunmap_pages() frees those frames.
	 */
	dmirror_devmem_release(dm);
	/* Returns once no callback runs or can run: the table is ours. */
	mmu_interval_notifier_remove(&dm->notifier);
	mutex_lock(&dm->mutex);
	dmirror_zap(dm, 0, dm->mm->task_size);
	mutex_unlock(&dm->mutex);
	check_dev_fini(&dm->cdev);
	mm = dm->mm;
	dmirror_free(dm);
	mmdrop(mm);
}

/**
 * dmirror_get_stats() - the device's counters now
 * @dm: the device
 * @stats: out
 *
 * Context: may sleep (takes dm->mutex for the entry count).
 */
void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *stats)
{
	stats->reads = atomic_long_read(&dm->reads);
	stats->writes = atomic_long_read(&dm->writes);
	stats->faults = atomic_long_read(&dm->faults);
	stats->retries = atomic_long_read(&dm->retries);
	stats->invalidations = atomic_long_read(&dm->invalidations);
	stats->atomics = atomic_long_read(&dm->atomics);
	mutex_lock(&dm->mutex);
	stats->entries = dm->pt.nr;
	mutex_unlock(&dm->mutex);
}

/**
 * dmirror_name() - the name given at creation (the oracle's device name)
 * @dm: the device
 *
 * Context: any.  Return: a string that lives as long as @dm.
 */
const char *dmirror_name(const struct dmirror *dm)
{
	return dm->cdev.name;
}
