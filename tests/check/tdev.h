/* SPDX-License-Identifier: MIT */
/*
 * tdev.h - a small mirror device for the oracle's tests: an interval
 * notifier, hmm_range_fault(), a device page table under a spinlock, and
 * every mapping and access reported to the oracle.  Correct by default
 * (the docs/hmm.md example driver plus check_* calls); each "broken"
 * switch turns one step of the protocol off, which is how the tests
 * provoke the oracle's rules on purpose:
 *
 *   ignore_invalidate  the callback publishes the sequence but keeps the
 *                      device's translations (and the device keeps
 *                      using them);
 *   skip_retry         the fault path installs what hmm_range_fault()
 *                      read without mmu_interval_read_retry() (seed 000);
 *   faulted/go         the fault path stops between reading the page
 *                      tables and installing: it completes @faulted and
 *                      waits for @go (forces the interleaving).
 */
#ifndef MMIRROR_TEST_CHECK_TDEV_H
#define MMIRROR_TEST_CHECK_TDEV_H

#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/completion.h>
#include <mmirror/hmm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

struct tdev {
	struct mmu_interval_notifier notifier;
	struct check_dev cdev;
	spinlock_t lock; /* guards pt; taken by the invalidate callback */
	struct mm_struct *mm;
	unsigned long start, npages;
	unsigned long *pt; /* hmm_pfns words; 0: no translation */
	bool ignore_invalidate, skip_retry;
	struct completion *faulted, *go;
};

static inline bool tdev_invalidate(struct mmu_interval_notifier *mni,
				   const struct mmu_notifier_range *range,
				   unsigned long cur_seq)
{
	struct tdev *d = container_of(mni, struct tdev, notifier);
	unsigned long end = d->start + (d->npages << PAGE_SHIFT);
	unsigned long s = max(range->start, d->start);
	unsigned long e = min(range->end, end);

	spin_lock(&d->lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (!d->ignore_invalidate && s < e) {
		for (unsigned long a = s; a < e; a += PAGE_SIZE)
			d->pt[(a - d->start) >> PAGE_SHIFT] = 0;
		check_unmap(&d->cdev, d->mm, s, e);
	}
	spin_unlock(&d->lock);
	return true;
}

static const struct mmu_interval_notifier_ops tdev_ops = {
	.invalidate = tdev_invalidate,
};

static inline void tdev_init(struct tdev *d, struct mm_struct *mm,
			     unsigned long start, unsigned long npages,
			     const char *name)
{
	memset(d, 0, sizeof(*d));
	spin_lock_init(&d->lock);
	d->mm = mm;
	d->start = start;
	d->npages = npages;
	d->pt = kcalloc(npages, sizeof(*d->pt), GFP_KERNEL);
	CHECK(d->pt);
	check_dev_init(&d->cdev, name);
	CHECK(!mmu_interval_notifier_insert(&d->notifier, mm, start,
					    npages << PAGE_SHIFT, &tdev_ops));
}

static inline void tdev_fini(struct tdev *d)
{
	mmu_interval_notifier_remove(&d->notifier);
	check_unmap(&d->cdev, d->mm, d->start,
		    d->start + (d->npages << PAGE_SHIFT));
	check_dev_fini(&d->cdev);
	kfree(d->pt);
}

/* Install @range's pfns (driver lock held). */
static inline void tdev_install(struct tdev *d, const struct hmm_range *range)
{
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT;

	for (unsigned long i = 0; i < n; i++) {
		unsigned long va = range->start + (i << PAGE_SHIFT);
		unsigned long w = range->hmm_pfns[i];

		d->pt[(va - d->start) >> PAGE_SHIFT] = w;
		check_map(&d->cdev, d->mm, va, w & ~HMM_PFN_FLAGS,
			  w & HMM_PFN_WRITE);
	}
}

/* Mirror [start, end) (page aligned, inside the device's range). */
static inline int tdev_fault(struct tdev *d, unsigned long start,
			     unsigned long end, bool write)
{
	unsigned long hmm_pfns[64];
	struct hmm_range range = {
		.notifier = &d->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = hmm_pfns,
		.default_flags =
			HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

	CHECK(end - start <=
	      sizeof(hmm_pfns) / sizeof(hmm_pfns[0]) * PAGE_SIZE);
	for (;;) {
		range.notifier_seq = mmu_interval_read_begin(&d->notifier);
		mmap_read_lock(d->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(d->mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		if (d->faulted) {
			complete(d->faulted);
			wait_for_completion(d->go);
		}
		spin_lock(&d->lock);
		if (!d->skip_retry &&
		    mmu_interval_read_retry(&d->notifier, range.notifier_seq)) {
			spin_unlock(&d->lock);
			continue;
		}
		tdev_install(d, &range);
		spin_unlock(&d->lock);
		return 0;
	}
}

/* One device access of @len bytes at @va through the device table. */
static inline int tdev_access(struct tdev *d, unsigned long va, void *buf,
			      size_t len, bool write)
{
	unsigned long w;
	int ret = -EFAULT;

	spin_lock(&d->lock);
	w = d->pt[(va - d->start) >> PAGE_SHIFT];
	if ((w & HMM_PFN_VALID) && (!write || (w & HMM_PFN_WRITE)))
		ret = write ? check_dev_write(&d->cdev, d->mm, va,
					      w & ~HMM_PFN_FLAGS, buf, len) :
			      check_dev_read(&d->cdev, d->mm, va,
					     w & ~HMM_PFN_FLAGS, buf, len);
	spin_unlock(&d->lock);
	return ret;
}

/* The frame the device translates @va to (0: none). */
static inline unsigned long tdev_pfn(struct tdev *d, unsigned long va)
{
	unsigned long w;

	spin_lock(&d->lock);
	w = d->pt[(va - d->start) >> PAGE_SHIFT];
	spin_unlock(&d->lock);
	return (w & HMM_PFN_VALID) ? (w & ~HMM_PFN_FLAGS) : 0;
}

/* Exactly one violation, of @rule, recorded first; returns it. */
static inline const struct check_violation *expect_one(enum check_rule rule)
{
	if (check_nr_violations(0) != 1 || check_nr_violations(rule) != 1)
		oracle_dump();
	assert_int_equal(check_nr_violations(rule), 1);
	assert_int_equal(check_nr_violations(0), 1);
	assert_non_null(check_violation(0));
	assert_int_equal(check_violation(0)->rule, rule);
	return check_violation(0);
}

#endif /* MMIRROR_TEST_CHECK_TDEV_H */
