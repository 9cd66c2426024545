// SPDX-License-Identifier: MIT
/*
 * interval.c - mmu interval notifiers: subscriptions to one address range
 * of an mm, found through an interval tree, and the collision-retry
 * sequence count that lets a driver know, under its own lock, whether
 * what it read from the CPU page tables is still true (seeds 000, 004).
 *
 * THE PROTOCOL
 *
 * Per mm (struct mmu_notifier_subscriptions, internal.h):
 *   invalidate_seq            even: no invalidation is running;
 *                             odd: at least one is (between the first
 *                             start and the last end).
 *   active_invalidate_ranges  how many invalidations are running.  They
 *                             may be concurrent (madvise under mmap_lock
 *                             for read, from several threads): the seq
 *                             goes odd at the first start (0 -> 1 active)
 *                             and even at the last end (1 -> 0), so every
 *                             invalidation of one "busy period" sees the
 *                             same odd value.
 *   itree                     the subscriptions, by [start, last].
 *   deferred_list             inserts and removes that arrived while the
 *                             seq was odd, applied at the last end.
 *   wq                        read_begin()/remove() wait here for the seq
 *                             to move on.
 * Per subscription:
 *   invalidate_seq            the odd seq of the last invalidation that
 *                             called it (set by the driver's callback with
 *                             mmu_interval_set_seq(), under the DRIVER's
 *                             lock), or an odd value older than anything
 *                             running at insert.
 *
 * The three states of a subscription, seen from a driver:
 *
 *   idle          mm seq even, or odd but sub seq != mm seq: no
 *                 invalidation has called this subscription in the
 *                 current busy period.  read_begin() returns at once.
 *   invalidating  sub seq == mm seq (odd): an invalidation that covers the
 *                 range has called the driver and has not ended; the CPU
 *                 page tables may be half changed.  read_begin() sleeps
 *                 until the mm seq changes (the last end).
 *   collided      the sub seq differs from what read_begin() returned:
 *                 read_retry(), under the driver lock, says so and the
 *                 driver throws away what it read and starts again.
 *
 * A driver's fault path and an invalidation, side by side:
 *
 *   driver (device fault)             host MMU (munmap, mprotect, ...)
 *   seq = mmu_interval_read_begin()
 *   read CPU page tables (pfns)       invalidate_range_start():
 *                                       mm seq -> odd (cur_seq)
 *                                       ops->invalidate(sub, cur_seq):
 *                                         driver_lock
 *                                         mmu_interval_set_seq(cur_seq)
 *                                         drop device translations
 *                                         driver_unlock
 *                                     change CPU PTEs, flush TLBs
 *                                     invalidate_range_end():
 *                                       mm seq -> even, wake_up_all
 *   driver_lock
 *   if mmu_interval_read_retry(seq):
 *     unlock, goto again
 *   program the device with the pfns
 *   driver_unlock
 *
 * Either the driver's locked section comes before the callback's (then
 * the pfns were read before start returned, i.e. before any PTE changed,
 * and the callback, which comes after, drops what the driver programmed),
 * or after it (then the sub seq is cur_seq, which read_begin() cannot
 * have returned: read_begin() never returns the seq of a running
 * invalidation that called this subscription, it waits for the end, and
 * cur_seq is newer than any seq it returned earlier).  The driver lock
 * orders the two; no barrier of ours is needed for this part.
 *
 * WHY A "VALID" FLAG IS NOT ENOUGH (seed 000).  Replace the sequence by a
 * flag that start clears and end sets again (HMM's old range->valid):
 *
 *   CPU0 (munmap)                     CPU1 (device fault)
 *                                     valid == true: go on
 *                                     read CPU PTE: pfn A
 *   invalidate_range_start()
 *     driver_lock
 *     valid = false
 *     zap device PTEs (none yet)
 *     driver_unlock
 *   clear the CPU PTE, free page A
 *   invalidate_range_end()
 *     valid = true
 *                                     driver_lock
 *                                     valid == true: program pfn A
 *                                     driver_unlock
 *                                     *** the device maps freed page A
 *
 * CPU1 looked at the flag before and after; both times it said "valid",
 * and the whole invalidation fitted in between (an ABA problem).  A flag
 * tells "is an invalidation running now", never "did one run since I
 * looked".  The sequence count answers the second question: start hands
 * the callback a new odd cur_seq, the callback stores it in the
 * subscription, and end does NOT restore the old value, so CPU1's
 * read_retry() under the driver lock compares the seq it got from
 * read_begin() with the subscription's and sees that they differ.
 *
 * Deferred inserts and removes.  Invalidations walk the tree WITHOUT the
 * subscriptions lock (callbacks sleep), so the tree must not change while
 * any runs: it is frozen from the first start to the last end.  An insert
 * in that window is queued on deferred_list and its subscription gets
 * sub seq = the current odd mm seq, so it reads as "invalidating" (its
 * read_begin() waits for the last end): a running invalidation may cover
 * its range without having called it.  A remove in that window is queued
 * too and then waits for the last end, after which no callback for the
 * subscription can run.  The last end applies the queue under the lock.
 * Queuing instead of waiting for the tree to be free keeps insert and
 * remove from livelocking against a stream of overlapping invalidations.
 *
 * LOCKING AND ORDERING
 *   subscriptions->lock (spinlock) guards invalidate_seq (writes),
 *   active_invalidate_ranges, itree and deferred_list.  It is a leaf
 *   except for the interval tree code; never held across a callback or a
 *   wait.  Writes of invalidate_seq are WRITE_ONCE because wait_event()
 *   conditions read it without the lock (READ_ONCE); wake_up_all() after
 *   the unlock orders the write before the waiter's re-test (wait.h K1-K5).
 *   The tree walk outside the lock is safe because every tree change
 *   happens under the lock with active_invalidate_ranges == 0, and every
 *   walk happens between its own increment and decrement of that count,
 *   both under the lock: the lock's release/acquire orders each change
 *   before every later walk.
 *   sub->invalidate_seq is written by the driver (mmu_interval_set_seq,
 *   WRITE_ONCE, under the driver lock) and by insert (WRITE_ONCE, under
 *   subscriptions->lock), read by read_begin() (READ_ONCE under
 *   subscriptions->lock) and read_retry() (READ_ONCE under the driver
 *   lock).
 *   Order: mmap_lock -> subscriptions->lock.  Callbacks run with whatever
 *   the invalidating path holds (mmap_lock, maybe) and no lock of ours.
 *
 *   has_itree flips to true only under mmap_lock held for write, so an
 *   invalidation running under mmap_lock (every host-MMU path that
 *   brackets PTE changes) either saw it or starts after it.
 */
#include "base/check_hooks.h"
#include "internal.h"

#include <mmirror/mm.h>
#include <mmirror/spinlock.h>

/* Is any invalidation running?  Caller holds subscriptions->lock. */
static bool mn_itree_is_invalidating(struct mmu_notifier_subscriptions *subs)
{
	lockdep_assert_held(&subs->lock);
	/* The seq is odd exactly while the count is non-zero. */
	WARN_ON(!(subs->invalidate_seq & 1) != !subs->active_invalidate_ranges);
	return subs->invalidate_seq & 1;
}

/**
 * mn_itree_init() - initialise the interval half of fresh subscriptions.
 * @subscriptions: the per-mm state, not yet published.
 *
 * Context: called by mmu_notifier_subscriptions_get() before the release
 * store that publishes @subscriptions; no locking needed.
 */
void mn_itree_init(struct mmu_notifier_subscriptions *subscriptions)
{
	/* Even (idle), and not 0 so that "seq - 1" at insert is odd and
	 * does not wrap. */
	subscriptions->invalidate_seq = 2;
	subscriptions->active_invalidate_ranges = 0;
	subscriptions->itree = RB_ROOT_CACHED;
	init_waitqueue_head(&subscriptions->wq);
	INIT_LIST_HEAD(&subscriptions->deferred_list);
}

static struct mmu_interval_notifier *
mn_itree_node_sub(struct interval_tree_node *node)
{
	return node ? container_of(node, struct mmu_interval_notifier,
				   interval_tree) :
		      NULL;
}

/*
 * Count one more running invalidation (the first makes the seq odd),
 * return the current odd seq in *seq and the first subscription
 * overlapping the range.  From here until the matching mn_itree_inv_end()
 * the tree is frozen and may be walked without the lock.
 */
static struct mmu_interval_notifier *
mn_itree_inv_start_range(struct mmu_notifier_subscriptions *subs,
			 const struct mmu_notifier_range *range,
			 unsigned long *seq)
{
	struct interval_tree_node *node = NULL;

	spin_lock(&subs->lock);
	if (subs->active_invalidate_ranges++ == 0) {
		WARN_ON(subs->invalidate_seq & 1);
		/* Pairs with READ_ONCE in the wait_event() conditions of
		 * read_begin()/remove(); odd: a busy period begins. */
		WRITE_ONCE(subs->invalidate_seq, subs->invalidate_seq + 1);
	}
	*seq = subs->invalidate_seq;
	/* range->end is exclusive, the tree's last is inclusive. */
	if (likely(range->end > range->start))
		node = interval_tree_iter_first(&subs->itree, range->start,
						range->end - 1);
	spin_unlock(&subs->lock);
	return mn_itree_node_sub(node);
}

/* The next subscription overlapping the range; the tree is frozen. */
static struct mmu_interval_notifier *
mn_itree_inv_next(struct mmu_interval_notifier *sub,
		  const struct mmu_notifier_range *range)
{
	return mn_itree_node_sub(interval_tree_iter_next(
		&sub->interval_tree, range->start, range->end - 1));
}

/*
 * Apply the inserts and removes queued while the tree was frozen.
 * Caller holds subs->lock and has just ended the busy period.  A queued
 * subscription that is not in the tree is an insert; one in the tree is
 * a remove (its remover is waiting for the seq to move on).
 */
static void mn_itree_apply_deferred(struct mmu_notifier_subscriptions *subs)
{
	struct mmu_interval_notifier *sub, *tmp;

	lockdep_assert_held(&subs->lock);
	list_for_each_entry_safe(sub, tmp, &subs->deferred_list,
				 deferred_item) {
		if (interval_tree_node_inserted(&sub->interval_tree))
			interval_tree_remove(&sub->interval_tree, &subs->itree);
		else
			interval_tree_insert(&sub->interval_tree, &subs->itree);
		list_del_init(&sub->deferred_item);
	}
}

/**
 * mn_itree_inv_end() - one invalidation ends.
 * @subscriptions: the mm's subscriptions.
 *
 * The last one of a busy period makes the seq even, applies the deferred
 * inserts/removes, and wakes read_begin()/remove() waiters.  Called by
 * __mmu_notifier_invalidate_range_end(), and by mn_itree_invalidate()
 * itself when it fails.
 *
 * Context: any; takes subscriptions->lock; does not sleep.
 */
void mn_itree_inv_end(struct mmu_notifier_subscriptions *subscriptions)
{
	struct mmu_notifier_subscriptions *subs = subscriptions;

	spin_lock(&subs->lock);
	/* An end without a start (DESIGN.md protocol rule 6). */
	if (WARN_ON(!subs->active_invalidate_ranges)) {
		spin_unlock(&subs->lock);
		return;
	}
	if (--subs->active_invalidate_ranges) {
		spin_unlock(&subs->lock);
		return;
	}
	/* Pairs with READ_ONCE in the wait_event() conditions; even: the
	 * busy period is over and no callback of it runs any more. */
	WRITE_ONCE(subs->invalidate_seq, subs->invalidate_seq + 1);
	mn_itree_apply_deferred(subs);
	spin_unlock(&subs->lock);
	/* After the seq store: wake_up_all() has the fence (wait.h K2). */
	wake_up_all(&subs->wq);
}

/**
 * mn_itree_invalidate() - call every interval subscription overlapping
 * [range->start, range->end).
 * @subscriptions: the mm's subscriptions (has_itree is set).
 * @range: the range about to change.
 *
 * Starts one invalidation (the seq is odd until the matching
 * mn_itree_inv_end()) and passes its odd seq to each callback as cur_seq.
 *
 * Context: may sleep if @range is blockable (the callbacks may).
 * Return: 0, the caller must call mn_itree_inv_end() later; or -EAGAIN if
 * @range is not blockable and a callback refused: then this invalidation
 * was already ended here and the caller must not end it.
 */
int mn_itree_invalidate(struct mmu_notifier_subscriptions *subscriptions,
			const struct mmu_notifier_range *range)
{
	struct mmu_interval_notifier *sub;
	unsigned long cur_seq;

	for (sub = mn_itree_inv_start_range(subscriptions, range, &cur_seq);
	     sub; sub = mn_itree_inv_next(sub, range)) {
		mn_trace_cb(sub, "invalidate");
		check_hook_callback(sub, "invalidate");
		if (sub->ops->invalidate(sub, range, cur_seq))
			continue;
		/* Only a non-blockable range may be refused. */
		if (WARN_ON(mmu_notifier_range_blockable(range)))
			continue;
		/*
		 * Undo our half: the callbacks already made have set their
		 * subscriptions' seq to cur_seq, which is harmless (a reader
		 * retries once); ending here makes the seq move on so their
		 * read_begin() does not wait for an end that never comes.
		 */
		mn_itree_inv_end(subscriptions);
		return -EAGAIN;
	}
	return 0;
}

/* -EINVAL checks shared by both insert forms. */
static int mn_itree_check_args(struct mmu_interval_notifier *sub,
			       struct mm_struct *mm, unsigned long start,
			       unsigned long length,
			       const struct mmu_interval_notifier_ops *ops)
{
	if (WARN_ON(!sub || !mm || !ops || !ops->invalidate))
		return -EINVAL;
	/* Bad ranges are a caller's runtime error, not a bug: no warning. */
	if (!length || start + length < start || start + length > mm->task_size)
		return -EINVAL;
	return 0;
}

/*
 * Make sure @mm has subscriptions with the interval tree in use.
 * Context: mmap_lock held for write (see has_itree in the top comment).
 * Return: the subscriptions, or NULL on -ENOMEM.
 */
static struct mmu_notifier_subscriptions *mn_itree_enable(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subs;

	mmap_assert_write_locked(mm);
	subs = mmu_notifier_subscriptions_get(mm);
	if (!subs)
		return NULL;
	spin_lock(&subs->lock);
	/* Read locklessly by __mmu_notifier_invalidate_range_start/end:
	 * they run under mmap_lock, which we hold for write. */
	WRITE_ONCE(subs->has_itree, true);
	spin_unlock(&subs->lock);
	return subs;
}

/* The insert proper; subs exist with has_itree set. */
static void __mmu_interval_notifier_insert(
	struct mmu_interval_notifier *sub, struct mm_struct *mm,
	struct mmu_notifier_subscriptions *subs, unsigned long start,
	unsigned long length, const struct mmu_interval_notifier_ops *ops)
{
	sub->mm = mm;
	sub->ops = ops;
	INIT_LIST_HEAD(&sub->deferred_item);
	interval_tree_node_init(&sub->interval_tree);
	sub->interval_tree.start = start;
	sub->interval_tree.last = start + length - 1;
	/* Pairs with mmdrop() in mmu_interval_notifier_remove(). */
	mmgrab(mm);
	check_hook_sub_state(sub, true);

	spin_lock(&subs->lock);
	if (mn_itree_is_invalidating(subs)) {
		/*
		 * The tree is frozen, and a running invalidation may cover
		 * our range without calling us: read as "invalidating"
		 * (sub seq == mm seq) until the last end inserts us.
		 * WRITE_ONCE: pairs with READ_ONCE in read_retry().
		 */
		WRITE_ONCE(sub->invalidate_seq, subs->invalidate_seq);
		list_add_tail(&sub->deferred_item, &subs->deferred_list);
	} else {
		/* Odd, older than any seq a future invalidation will use,
		 * and != the even mm seq: idle. */
		WRITE_ONCE(sub->invalidate_seq, subs->invalidate_seq - 1);
		interval_tree_insert(&sub->interval_tree, &subs->itree);
	}
	spin_unlock(&subs->lock);
}

/**
 * mmu_interval_notifier_insert() - subscribe @sub to [start, start+length)
 * of @mm.
 * @sub: the subscription, embedded in the driver's object; not in use.
 * @mm: the address space; the caller holds a reference on it.
 * @start: first address (any alignment).
 * @length: bytes, > 0; the range must lie inside the address space.
 * @ops: ops->invalidate is required.
 *
 * If invalidations are running the insert is deferred to the last end;
 * until then @sub reads as invalidating (read_begin() waits).  Holds a
 * reference on @mm (mmgrab) until mmu_interval_notifier_remove().
 *
 * Context: may sleep; takes mmap_lock (for write the first time @mm gets
 * an interval subscription, else for read).  Must not be called with
 * mmap_lock held (use _insert_locked()).
 * Return: 0; -EINVAL for NULL arguments or a bad range; -ENOMEM if the
 * per-mm subscriptions could not be allocated.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *sub,
				 struct mm_struct *mm, unsigned long start,
				 unsigned long length,
				 const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subs;
	int ret;

	ret = mn_itree_check_args(sub, mm, start, length, ops);
	if (ret)
		return ret;

	/* Acquire: pairs with the release store that publishes them in
	 * mmu_notifier_subscriptions_get(). */
	subs = smp_load_acquire(&mm->notifier_subscriptions);
	if (!subs || !READ_ONCE(subs->has_itree)) {
		mmap_write_lock(mm);
		subs = mn_itree_enable(mm);
		if (!subs) {
			mmap_write_unlock(mm);
			return -ENOMEM;
		}
		/* Keep out writers between enabling and inserting. */
		mmap_write_downgrade(mm);
	} else {
		mmap_read_lock(mm);
	}
	__mmu_interval_notifier_insert(sub, mm, subs, start, length, ops);
	mmap_read_unlock(mm);
	return 0;
}

/**
 * mmu_interval_notifier_insert_locked() - mmu_interval_notifier_insert()
 * for a caller that holds mmap_lock.
 * @sub: see mmu_interval_notifier_insert().
 * @mm: see mmu_interval_notifier_insert().
 * @start: see mmu_interval_notifier_insert().
 * @length: see mmu_interval_notifier_insert().
 * @ops: see mmu_interval_notifier_insert().
 *
 * Context: mmap_lock held; held for WRITE if this is the first interval
 * subscription of @mm (the subscriptions are made and has_itree set under
 * it, as in the kernel, where _insert_locked always needs it for write).
 * Return: as mmu_interval_notifier_insert(); -EINVAL (and a warning) if
 * the lock is not held as required.
 */
int mmu_interval_notifier_insert_locked(
	struct mmu_interval_notifier *sub, struct mm_struct *mm,
	unsigned long start, unsigned long length,
	const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subs;
	int ret;

	ret = mn_itree_check_args(sub, mm, start, length, ops);
	if (ret)
		return ret;
	if (WARN_ON(!rwsem_is_held_by_me(&mm->mmap_lock)))
		return -EINVAL;

	/* Pairs with the release store in mmu_notifier_subscriptions_get();
	 * stable while we hold mmap_lock. */
	subs = smp_load_acquire(&mm->notifier_subscriptions);
	if (!subs || !READ_ONCE(subs->has_itree)) {
		if (WARN_ON(!rwsem_is_write_held_by_me(&mm->mmap_lock)))
			return -EINVAL;
		subs = mn_itree_enable(mm);
		if (!subs)
			return -ENOMEM;
	}
	__mmu_interval_notifier_insert(sub, mm, subs, start, length, ops);
	return 0;
}

/* Has the mm seq moved past @seq (an odd value seen while it ran)? */
static bool mn_itree_seq_passed(struct mmu_notifier_subscriptions *subs,
				unsigned long seq)
{
	/* Lockless: pairs with the WRITE_ONCEs of invalidate_seq in
	 * mn_itree_inv_start_range()/mn_itree_inv_end(); the waker's
	 * wake_up_all() orders the store before our re-test. */
	return READ_ONCE(subs->invalidate_seq) != seq;
}

/**
 * mmu_interval_notifier_remove() - unsubscribe @sub.
 * @sub: a subscription inserted by mmu_interval_notifier_insert*().
 *
 * If invalidations are running, the removal is deferred to the last end
 * and this waits for it: when remove returns, no invalidate callback of
 * @sub runs or will run, and @sub may be freed.  Drops the reference on
 * the mm taken at insert.
 *
 * Context: may sleep.  The caller must not hold any lock an invalidate
 * callback takes (nor mmap_lock, which an invalidating path may hold
 * while waiting on such a lock), and must not call it from a callback.
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *sub)
{
	struct mmu_notifier_subscriptions *subs;
	struct mm_struct *mm;
	unsigned long seq = 0;

	if (WARN_ON(!sub || !sub->mm))
		return;
	mm = sub->mm;
	/* Set before our insert; pairs with the publishing release. */
	subs = smp_load_acquire(&mm->notifier_subscriptions);
	if (WARN_ON(!subs))
		return;

	spin_lock(&subs->lock);
	if (mn_itree_is_invalidating(subs)) {
		if (!interval_tree_node_inserted(&sub->interval_tree)) {
			/* Never in the tree: cancel the queued insert; no
			 * callback can have seen @sub. */
			if (WARN_ON(list_empty(&sub->deferred_item))) {
				spin_unlock(&subs->lock);
				return;
			}
			list_del_init(&sub->deferred_item);
		} else {
			/* A second remove of the same subscription. */
			if (WARN_ON(!list_empty(&sub->deferred_item))) {
				spin_unlock(&subs->lock);
				return;
			}
			/* Running invalidations may be calling us. */
			list_add_tail(&sub->deferred_item,
				      &subs->deferred_list);
			seq = subs->invalidate_seq;
		}
	} else {
		/* Not inserted, or removed twice. */
		if (WARN_ON(!interval_tree_node_inserted(
			    &sub->interval_tree))) {
			spin_unlock(&subs->lock);
			return;
		}
		/* No invalidation runs, so no callback does. */
		interval_tree_remove(&sub->interval_tree, &subs->itree);
	}
	spin_unlock(&subs->lock);

	/* The last end of the busy period removes @sub, then the seq moves
	 * on: after that no walk can reach @sub. */
	if (seq)
		wait_event(subs->wq, mn_itree_seq_passed(subs, seq));

	/* No callback of @sub can run any more: one would be a violation. */
	check_hook_sub_state(sub, false);
	/* Pairs with mmgrab() in __mmu_interval_notifier_insert(). */
	mmdrop(mm);
}

/**
 * mmu_interval_read_begin() - begin a read of the CPU page tables for
 * @sub's range.
 * @sub: an inserted subscription.
 *
 * If an invalidation that called @sub (or an insert deferred by one) is
 * running, waits until the busy period ends.  Then returns @sub's seq, to
 * be checked by mmu_interval_read_retry() under the driver lock once the
 * driver has read what it needs and before it uses it.
 *
 * Context: may sleep; the caller must not hold the driver lock the
 * callback takes (nor anything an invalidating path waits for).
 * Return: the sequence number (odd).
 */
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *sub)
{
	struct mmu_notifier_subscriptions *subs;
	unsigned long seq;
	bool invalidating;

	/* Set before the insert that made @sub usable. */
	subs = smp_load_acquire(&sub->mm->notifier_subscriptions);
	/*
	 * Under subs->lock the mm seq is stable; the sub seq is not (the
	 * driver writes it under its own lock), but either value is fine:
	 *  - an older one: the callback that will store cur_seq comes
	 *    later, and read_retry() under the driver lock sees it;
	 *  - cur_seq == the odd mm seq: the invalidation is running, wait.
	 * READ_ONCE pairs with WRITE_ONCE in mmu_interval_set_seq() and in
	 * __mmu_interval_notifier_insert().
	 */
	spin_lock(&subs->lock);
	seq = READ_ONCE(sub->invalidate_seq);
	invalidating = seq == subs->invalidate_seq;
	spin_unlock(&subs->lock);

	/*
	 * The next value of the mm seq is even: no invalidation that called
	 * @sub with this seq runs any more.  A new one that starts after
	 * will store a newer cur_seq, and read_retry() catches it.
	 */
	if (invalidating)
		wait_event(subs->wq, mn_itree_seq_passed(subs, seq));
	return seq;
}
