/* SPDX-License-Identifier: MIT */
/*
 * mmu_notifier.h - how secondary MMUs learn of every change to the primary
 * page tables (seeds 002 and 004).
 *
 * Two kinds of subscription to an mm:
 *
 *  - struct mmu_notifier: a whole-mm subscription with callbacks for every
 *    invalidation (start/end), secondary-TLB invalidation, aging, and
 *    release at exit.  KVM-style shadow MMUs use it.
 *  - struct mmu_interval_notifier: a subscription to one address range,
 *    found through an interval tree, with a sequence count that lets a
 *    driver tell, under its own lock, whether what it read from the page
 *    tables is still true (the collision-retry protocol, docs/notifier.md).
 *
 * The host MMU brackets every change to a present PTE:
 *
 *	mmu_notifier_range_init(&range, EVENT, flags, mm, start, end);
 *	mmu_notifier_invalidate_range_start(&range);
 *	... clear / downgrade entries, TLB flush (which also calls
 *	    arch_invalidate_secondary_tlbs) ...
 *	mmu_notifier_invalidate_range_end(&range);
 *
 * Between start and end, no secondary MMU may establish a translation in
 * the range (it may read the page tables, but must not use the result:
 * that is what the interval sequence count enforces).  The wrappers cost
 * one predicted branch when the mm has no subscriptions.
 *
 * Kernel names and semantics throughout; deviations are listed in
 * docs/notifier.md.
 */
#ifndef MMIRROR_MMU_NOTIFIER_H
#define MMIRROR_MMU_NOTIFIER_H

#include <mmirror/interval_tree.h>
#include <mmirror/mm_types.h>
#include <mmirror/rcupdate.h>

struct mmu_notifier;
struct mmu_notifier_subscriptions; /* per mm, src/notifier */

/* Why a range is being invalidated. */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0, /* munmap, mremap's old range */
	MMU_NOTIFY_CLEAR, /* MADV_DONTNEED, COW, huge-page split */
	MMU_NOTIFY_PROTECTION_VMA, /* mprotect */
	MMU_NOTIFY_PROTECTION_PAGE, /* fork write-protecting the parent */
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE, /* exit: the mm's last user is gone */
	MMU_NOTIFY_MIGRATE, /* migration (owner says whose) */
	MMU_NOTIFY_EXCLUSIVE, /* device-exclusive entries */
};

#define MMU_NOTIFIER_RANGE_BLOCKABLE (1 << 0)

struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end; /* exclusive */
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner; /* MIGRATE/EXCLUSIVE: the device causing it */
};

static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event,
					   unsigned int flags,
					   struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	range->event = event;
	range->mm = mm;
	range->start = start;
	range->end = end;
	range->flags = flags;
	range->owner = NULL;
}

static inline void
mmu_notifier_range_init_owner(struct mmu_notifier_range *range,
			      enum mmu_notifier_event event, unsigned int flags,
			      struct mm_struct *mm, unsigned long start,
			      unsigned long end, void *owner)
{
	mmu_notifier_range_init(range, event, flags, mm, start, end);
	range->owner = owner;
}

/* ==== whole-mm subscriptions ========================================== */

struct mmu_notifier_ops {
	/*
	 * release: the mm is being torn down (exit) or the subscription is
	 * being unregistered, whichever comes first; called exactly once.
	 * After it the secondary MMU must not touch the mm's pages.
	 */
	void (*release)(struct mmu_notifier *sub, struct mm_struct *mm);
	/* Aging: clear (and flush) / clear / test the secondary accessed
	 * bits of [start, end); return whether any was young. */
	int (*clear_flush_young)(struct mmu_notifier *sub, struct mm_struct *mm,
				 unsigned long start, unsigned long end);
	int (*clear_young)(struct mmu_notifier *sub, struct mm_struct *mm,
			   unsigned long start, unsigned long end);
	int (*test_young)(struct mmu_notifier *sub, struct mm_struct *mm,
			  unsigned long address);
	/*
	 * invalidate_range_start/end: bracket a change of the primary page
	 * tables in range->[start, end).  start must drop every secondary
	 * translation in the range and prevent new ones until the matching
	 * end.  start may return -EAGAIN only if the range is not blockable.
	 * Calls for different ranges may run concurrently.
	 */
	int (*invalidate_range_start)(struct mmu_notifier *sub,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *sub,
				     const struct mmu_notifier_range *range);
	/* A PTE in [start, end) changed: flush secondary TLBs that share the
	 * CPU page tables (IOMMU SVA style).  Called from the TLB flush. */
	void (*arch_invalidate_secondary_tlbs)(struct mmu_notifier *sub,
					       struct mm_struct *mm,
					       unsigned long start,
					       unsigned long end);
	/* mmu_notifier_get/put: make and free the shared subscription. */
	struct mmu_notifier *(*alloc_notifier)(struct mm_struct *mm);
	void (*free_notifier)(struct mmu_notifier *sub);
};

/*
 * struct mmu_notifier - embed in the driver's structure.  The core owns
 * @hlist and the counts; the driver sets @ops.
 */
struct mmu_notifier {
	struct list_head hlist; /* in the mm's list, RCU-protected */
	const struct mmu_notifier_ops *ops;
	struct mm_struct *mm;
	struct rcu_head rcu;
	unsigned int users; /* mmu_notifier_get() references */
	bool released; /* ->release ran (exactly once) */
};

/*
 * mmu_notifier_register() - subscribe @sub to @mm.  Takes mmap_lock for
 * write; __mmu_notifier_register() expects it held.  Holds a reference on
 * @mm (mmgrab) until unregister.  Return 0, -EINVAL (NULL, already
 * registered, mm gone), -ENOMEM.
 */
int mmu_notifier_register(struct mmu_notifier *sub, struct mm_struct *mm);
int __mmu_notifier_register(struct mmu_notifier *sub, struct mm_struct *mm);
/*
 * mmu_notifier_unregister() - unsubscribe; runs ->release if exit did not
 * already, and returns only when no callback of @sub runs or will run.
 * Context: may sleep (waits for a grace period).
 */
void mmu_notifier_unregister(struct mmu_notifier *sub, struct mm_struct *mm);
/*
 * mmu_notifier_get() - the one subscription with @ops on @mm, made with
 * ops->alloc_notifier on first use; each get is paired with a put.
 * Return the subscription or ERR_PTR(-ENOMEM/-EINVAL).  Takes mmap_lock.
 */
struct mmu_notifier *mmu_notifier_get(const struct mmu_notifier_ops *ops,
				      struct mm_struct *mm);
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm);
/* Drop a get() reference; the last one unsubscribes and frees through
 * ops->free_notifier after a grace period (never inside a callback). */
void mmu_notifier_put(struct mmu_notifier *sub);
/* Wait until every free_notifier queued by mmu_notifier_put() has run
 * (call before unloading the code that provides it). */
void mmu_notifier_synchronize(void);

/* ==== interval subscriptions ============================================ */

struct mmu_interval_notifier;

struct mmu_interval_notifier_ops {
	/*
	 * invalidate: [range->start, range->end) overlaps the subscription
	 * and is about to change.  The driver takes its lock, calls
	 * mmu_interval_set_seq(sub, cur_seq), drops its translations in the
	 * overlap, unlocks.  Return false only if the range is not blockable
	 * and the driver would have to sleep.
	 */
	bool (*invalidate)(struct mmu_interval_notifier *sub,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq);
};

struct mmu_interval_notifier {
	struct interval_tree_node interval_tree;
	const struct mmu_interval_notifier_ops *ops;
	struct mm_struct *mm;
	struct list_head deferred_item; /* insert/remove during invalidation */
	unsigned long invalidate_seq; /* written by set_seq, read by retry */
};

/*
 * mmu_interval_notifier_insert() - subscribe to [start, start + length).
 * Takes mmap_lock for read (_locked: caller holds it).  If invalidations
 * are running, the insert is deferred until the last one ends (the
 * subscription is "invalidating" until then).  Holds a reference on @mm.
 * Return 0, -EINVAL (bad range or arguments), -ENOMEM.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *sub,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long length,
				 const struct mmu_interval_notifier_ops *ops);
int mmu_interval_notifier_insert_locked(
	struct mmu_interval_notifier *sub, struct mm_struct *mm,
	unsigned long start, unsigned long length,
	const struct mmu_interval_notifier_ops *ops);
/*
 * mmu_interval_notifier_remove() - unsubscribe; returns only when no
 * invalidate callback of @sub is running or can run.  May sleep.
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *sub);

/*
 * mmu_interval_read_begin() - start a read of the page tables for @sub's
 * range: waits while an invalidation covering it is running, returns the
 * sequence to check later with mmu_interval_read_retry().  May sleep.
 */
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *sub);

/*
 * mmu_interval_read_retry() - under the driver lock that its invalidate
 * callback takes: true if an invalidation began since read_begin returned
 * @seq (the pages read must not be used; retry).  This is the check that
 * makes the protocol correct (seed 000).
 */
static inline bool mmu_interval_read_retry(struct mmu_interval_notifier *sub,
					   unsigned long seq)
{
	/* Pairs with WRITE_ONCE in mmu_interval_set_seq(), which the
	 * invalidate callback does under the same driver lock. */
	return READ_ONCE(sub->invalidate_seq) != seq;
}

/*
 * mmu_interval_check_retry() - the same test without the driver lock: a
 * hint to bail out early (a false answer proves nothing).
 */
static inline bool mmu_interval_check_retry(struct mmu_interval_notifier *sub,
					    unsigned long seq)
{
	/* Pairs with WRITE_ONCE in mmu_interval_set_seq(). */
	return READ_ONCE(sub->invalidate_seq) != seq;
}

/*
 * mmu_interval_set_seq() - called by the invalidate callback, under the
 * driver lock, with the cur_seq it was given.
 */
static inline void mmu_interval_set_seq(struct mmu_interval_notifier *sub,
					unsigned long cur_seq)
{
	/* Read by mmu_interval_read_retry()/check_retry(). */
	WRITE_ONCE(sub->invalidate_seq, cur_seq);
}

/* ==== hooks the host MMU calls ========================================== */

#ifndef MMIRROR_NO_NOTIFIER_HOOKS
static inline bool mm_has_notifiers(struct mm_struct *mm)
{
	/* Pairs with the release store that publishes the subscriptions in
	 * the first registration (src/notifier). */
	return unlikely(smp_load_acquire(&mm->notifier_subscriptions) != NULL);
}
#else
/* A build without the hooks, only to measure what they cost (bench). */
static inline bool mm_has_notifiers(struct mm_struct *mm)
{
	return false;
}
#endif

int __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range);
void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range);
void __mmu_notifier_arch_invalidate_secondary_tlbs(struct mm_struct *mm,
						   unsigned long start,
						   unsigned long end);
void __mmu_notifier_release(struct mm_struct *mm);
int __mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start,
				     unsigned long end);
int __mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start,
			       unsigned long end);
int __mmu_notifier_test_young(struct mm_struct *mm, unsigned long address);
/* Free the per-mm subscriptions at the last mmdrop(). */
void __mmu_notifier_subscriptions_destroy(struct mm_struct *mm);

static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(range->mm)) {
		range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
		__mmu_notifier_invalidate_range_start(range);
	}
}

/* The OOM-reaper form: may fail with -EAGAIN; then nothing was started
 * and the caller must skip the range (no end call). */
static inline int
mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	if (!mm_has_notifiers(range->mm))
		return 0;
	range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	return __mmu_notifier_invalidate_range_start(range);
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(range->mm))
		__mmu_notifier_invalidate_range_end(range);
}

static inline void mmu_notifier_arch_invalidate_secondary_tlbs(
	struct mm_struct *mm, unsigned long start, unsigned long end)
{
	if (mm_has_notifiers(mm))
		__mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
}

static inline void mmu_notifier_release(struct mm_struct *mm)
{
	if (mm_has_notifiers(mm))
		__mmu_notifier_release(mm);
}

static inline int mmu_notifier_clear_flush_young(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return mm_has_notifiers(mm) ?
		       __mmu_notifier_clear_flush_young(mm, start, end) :
		       0;
}

static inline int mmu_notifier_clear_young(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return mm_has_notifiers(mm) ?
		       __mmu_notifier_clear_young(mm, start, end) :
		       0;
}

static inline int mmu_notifier_test_young(struct mm_struct *mm,
					  unsigned long address)
{
	return mm_has_notifiers(mm) ? __mmu_notifier_test_young(mm, address) :
				      0;
}

#endif /* MMIRROR_MMU_NOTIFIER_H */
