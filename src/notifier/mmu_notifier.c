// SPDX-License-Identifier: MIT
/*
 * mmu_notifier.c - whole-mm subscriptions: registration, lifetime, and the
 * entry points the host MMU calls (seeds 002 and 004).  Interval
 * subscriptions live in interval.c; the per-mm state both share is
 * src/notifier/internal.h.
 *
 * THE PER-MM STATE
 *
 * An mm gets a struct mmu_notifier_subscriptions at its first subscription
 * of either kind (mmu_notifier_subscriptions_get(), mmap_lock held for
 * write).  It is published with a release store to
 * mm->notifier_subscriptions, paired with the acquire load in
 * mm_has_notifiers(): a hook that sees the pointer sees an initialised
 * list, lock and interval tree.  It is never unpublished: it lives until
 * the last mmdrop(), which calls __mmu_notifier_subscriptions_destroy().
 * Every subscription holds an mm_count reference (mmgrab), so the state
 * outlives every subscription, registered or released.
 *
 * THE LIST PROTOCOL (RCU)
 *
 *	readers (hooks)                     writers (register, unregister,
 *	                                    put, release at exit)
 *	rcu_read_lock()                     spin_lock(&subscriptions->lock)
 *	for each sub: acquire-load ->next     link:   fill sub, release-store
 *	    call sub->ops->X()                        prev->next = sub
 *	rcu_read_unlock()                     unlink: prev->next = sub->next,
 *	                                              sub->next kept for
 *	                                              readers standing on sub,
 *	                                              sub->hlist.prev = NULL
 *	                                    spin_unlock()
 *	                                    synchronize_rcu() / call_rcu()
 *	                                    before the memory may be reused
 *
 * A reader that loaded a pointer to @sub may keep walking through it after
 * @sub is unlinked; the grace period after the unlink waits for that
 * reader.  Hence the guarantee of mmu_notifier_unregister(): when it
 * returns, no callback of @sub is running and none will start, because
 * every callback runs inside a read-side section that started before the
 * unlink or does not find @sub at all.  New subscriptions are added at the
 * head (most recent first, as the kernel's hlist_add_head_rcu()).
 *
 * RELEASE, EXACTLY ONCE
 *
 *	exit (__mmu_notifier_release)       mmu_notifier_unregister(sub)
 *	rcu_read_lock()                     if claim(sub): ->release(sub)
 *	for each sub: if claim(sub):        lock; unlink sub if linked; unlock
 *	    ->release(sub)                  synchronize_rcu()
 *	rcu_read_unlock()                   mmdrop()
 *	lock; unlink all; unlock
 *	synchronize_rcu()
 *
 * claim(sub) tests and sets sub->released under subscriptions->lock, so of
 * the two paths exactly one calls ->release.  If exit claims it, it does
 * so inside its read-side section, which began before unregister's claim
 * failed; unregister's synchronize_rcu() therefore also waits for exit's
 * ->release call to return.  After exit the subscriptions are unlinked but
 * still allocated (the driver owns them): a later unregister or put finds
 * them unlinked, skips ->release, waits a grace period and drops the mm.
 * This is the answer to seed 002's use-after-free: the driver frees its
 * structure only after unregister (or, for get/put, the core frees it
 * through ->free_notifier after a grace period), and a walker can never be
 * standing on it then.
 *
 * RANGE INVALIDATION
 *
 * start calls the interval tree first (mn_itree_invalidate), then every
 * list subscription in list order.  A start may fail only if the range is
 * not blockable (-EAGAIN): the walk stops at the failing subscription,
 * the ones before it get their ->invalidate_range_end, the interval part
 * is ended (mn_itree_inv_end), and the caller must skip the range without
 * calling end.  A failure in a blockable range is a driver bug: WARN and
 * carry on, since the caller will call end for everyone.  end calls the
 * interval tree's end, then every list subscription's end.  A per-mm count
 * of started-but-not-ended ranges catches an end without a start.
 *
 * WHAT CALLBACKS MAY DO
 *
 * Callbacks run inside an RCU (liburcu-memb) read-side section, with no
 * notifier lock held, while the caller may hold mmap_lock (read or write)
 * and page-table locks of its own.  They may take their own locks
 * (spinlocks, mutexes, rwsems that are not mmap_lock), wait briefly and
 * allocate; a blocking callback delays grace periods, nothing more.  They
 * must not wait for a grace period: no synchronize_rcu(), rcu_barrier(),
 * mmu_notifier_unregister(), mmu_notifier_synchronize() or
 * mmu_interval_notifier_remove() (they would wait for the section they
 * run in).  mmu_notifier_put() is allowed: it frees through call_rcu().
 */
#include <limits.h>
#include <mmirror/mm.h>
#include <mmirror/rcupdate.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "base/check_hooks.h"
#include "internal.h"

/*
 * The state this file keeps beside the shared struct: allocated and freed
 * only here, so it wraps the shared part.
 */
struct mn_mm_state {
	struct mmu_notifier_subscriptions subscriptions;
	/* Ranges whose start succeeded and whose end has not run yet. */
	atomic_long_t active_ranges;
};

static struct mn_mm_state *
mn_state(struct mmu_notifier_subscriptions *subscriptions)
{
	return container_of(subscriptions, struct mn_mm_state, subscriptions);
}

/* The published state of @mm, or NULL; callers with a subscription or an
 * active range know it is published. */
static struct mmu_notifier_subscriptions *mn_subscriptions(struct mm_struct *mm)
{
	/* Pairs with smp_store_release() in mmu_notifier_subscriptions_get. */
	return smp_load_acquire(&mm->notifier_subscriptions);
}

/* ==== RCU list helpers ================================================= */

/*
 * The kernel's list_add_rcu / list_del_rcu / list_for_each_entry_rcu over
 * the plain list.h list_head.  ->next is the only field readers touch; it
 * is always written with an atomic store (release where it publishes) and
 * read by readers with an acquire load.  ->prev is writer-only (under
 * subscriptions->lock); NULL marks an unlinked entry.
 */
static void mn_hlist_add_head_rcu(struct list_head *new, struct list_head *head)
{
	struct list_head *next = head->next;

	WRITE_ONCE(new->next, next); /* not yet reachable by readers */
	new->prev = head;
	next->prev = new;
	/* Publish: pairs with the acquire loads in mn_hlist_next_rcu(). */
	rcu_assign_pointer(head->next, new);
}

static void mn_hlist_del_rcu(struct list_head *entry)
{
	struct list_head *prev = entry->prev, *next = entry->next;

	next->prev = prev;
	/* Readers either still see @entry (and its intact ->next) or skip
	 * it; no ordering needed for an unlink: paired acquire loads read
	 * either value. */
	WRITE_ONCE(prev->next, next);
	entry->prev = NULL; /* unlinked; ->next stays for readers on it */
}

static bool mn_hlist_linked(const struct list_head *entry)
{
	return entry->prev != NULL;
}

static struct list_head *mn_hlist_next_rcu(struct list_head *pos)
{
	/* Pairs with rcu_assign_pointer() in mn_hlist_add_head_rcu() (and
	 * the WRITE_ONCE in mn_hlist_del_rcu(), which publishes nothing). */
	return rcu_dereference_raw(pos->next);
}

/*
 * Walk the subscriptions: for (sub = mn_hlist_first(s); sub;
 * sub = mn_hlist_next(s, sub)).  The caller is inside rcu_read_lock() or
 * holds subscriptions->lock.
 */
static struct mmu_notifier *
mn_hlist_entry(struct mmu_notifier_subscriptions *subscriptions,
	       struct list_head *pos)
{
	if (pos == &subscriptions->list)
		return NULL;
	return list_entry(pos, struct mmu_notifier, hlist);
}

static struct mmu_notifier *
mn_hlist_first(struct mmu_notifier_subscriptions *subscriptions)
{
	return mn_hlist_entry(subscriptions,
			      mn_hlist_next_rcu(&subscriptions->list));
}

static struct mmu_notifier *
mn_hlist_next(struct mmu_notifier_subscriptions *subscriptions,
	      struct mmu_notifier *sub)
{
	return mn_hlist_entry(subscriptions, mn_hlist_next_rcu(&sub->hlist));
}

/* ==== per-mm state ===================================================== */

/**
 * mmu_notifier_subscriptions_get() - the per-mm state, made on first use
 * @mm: the address space
 *
 * Context: mmap_lock held for write (so the first publication cannot race
 * with another one, nor with an invalidation bracket, all of which run
 * under mmap_lock).  May allocate.
 * Return: the subscriptions, or NULL if the allocation failed.
 */
struct mmu_notifier_subscriptions *
mmu_notifier_subscriptions_get(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;
	struct mn_mm_state *state;

	mmap_assert_write_locked(mm);
	/* Only written under mmap_lock held for write, which we hold. */
	subscriptions = READ_ONCE(mm->notifier_subscriptions);
	if (subscriptions)
		return subscriptions;

	state = kzalloc(sizeof(*state), GFP_KERNEL);
	if (!state)
		return NULL;
	subscriptions = &state->subscriptions;
	INIT_LIST_HEAD(&subscriptions->list);
	spin_lock_init(&subscriptions->lock);
	subscriptions->has_itree = false;
	atomic_long_set(&state->active_ranges, 0);
	mn_itree_init(subscriptions);
	/* Publish the initialised state: pairs with the acquire load in
	 * mm_has_notifiers() and mn_subscriptions(). */
	smp_store_release(&mm->notifier_subscriptions, subscriptions);
	return subscriptions;
}

/**
 * __mmu_notifier_subscriptions_destroy() - free the per-mm state
 * @mm: the address space, at its last mmdrop()
 *
 * Every subscription holds an mm reference, so none may remain: WARN if
 * one does (it would be left pointing at freed memory), and if a range was
 * started and never ended.
 * Context: the last reference to @mm is gone; nobody else can see it.
 */
void __mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;

	/* Nobody else holds @mm any more: no pairing needed. */
	subscriptions = READ_ONCE(mm->notifier_subscriptions);
	if (!subscriptions)
		return;
	WARN_ON(!list_empty(&subscriptions->list));
	WARN_ON(atomic_long_read(&mn_state(subscriptions)->active_ranges));
	WRITE_ONCE(mm->notifier_subscriptions, NULL);
	kfree(mn_state(subscriptions));
}

/* ==== registration ====================================================== */

/* Is @sub in the list?  Caller holds subscriptions->lock. */
static bool mn_hlist_contains(struct mmu_notifier_subscriptions *subscriptions,
			      struct mmu_notifier *sub)
{
	struct mmu_notifier *pos;

	spin_assert_held(&subscriptions->lock);
	for (pos = mn_hlist_first(subscriptions); pos;
	     pos = mn_hlist_next(subscriptions, pos))
		if (pos == sub)
			return true;
	return false;
}

/**
 * __mmu_notifier_register() - subscribe @sub to every change of @mm
 * @sub: the subscription, with ->ops set; not registered anywhere
 * @mm: the address space
 *
 * Takes an mm_count reference (mmgrab) that mmu_notifier_unregister() or
 * the last mmu_notifier_put() drops.  From the moment this returns 0,
 * every invalidation of @mm calls @sub.
 *
 * Context: mmap_lock held for write.  As in the kernel the caller must
 * hold a user reference on @mm (mmget), so exit cannot run concurrently;
 * an mm whose users are already gone is refused.
 * Return: 0; -EINVAL for NULL @sub/@mm/@sub->ops, an mm with no users, or
 * @sub already registered on @mm; -ENOMEM.
 */
int __mmu_notifier_register(struct mmu_notifier *sub, struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;

	if (WARN_ON(!sub || !mm || !sub->ops))
		return -EINVAL;
	mmap_assert_write_locked(mm);
	if (!atomic_read(&mm->mm_users))
		return -EINVAL;

	subscriptions = mmu_notifier_subscriptions_get(mm);
	if (!subscriptions)
		return -ENOMEM;

	spin_lock(&subscriptions->lock);
	if (WARN_ON(mn_hlist_contains(subscriptions, sub))) {
		spin_unlock(&subscriptions->lock);
		return -EINVAL;
	}
	mmgrab(mm);
	sub->mm = mm;
	sub->users = 1;
	sub->released = false;
	/* Callbacks are legal again (oracle, protocol rule). */
	check_hook_sub_state(sub, true);
	/* Every field above is written before the release store that makes
	 * @sub reachable. */
	mn_hlist_add_head_rcu(&sub->hlist, &subscriptions->list);
	spin_unlock(&subscriptions->lock);
	return 0;
}

/**
 * mmu_notifier_register() - __mmu_notifier_register() taking mmap_lock
 * @sub: as for __mmu_notifier_register()
 * @mm: the address space
 *
 * Pins the address space (mmget_not_zero) for the duration, so an mm whose
 * last user has gone is refused with -EINVAL.
 * Context: may sleep; not with mmap_lock held.
 * Return: as __mmu_notifier_register().
 */
int mmu_notifier_register(struct mmu_notifier *sub, struct mm_struct *mm)
{
	int ret;

	if (WARN_ON(!sub || !mm))
		return -EINVAL;
	if (!mmget_not_zero(mm))
		return -EINVAL;
	mmap_write_lock(mm);
	ret = __mmu_notifier_register(sub, mm);
	mmap_write_unlock(mm);
	/* After the unlock: if this was the last user, mmput() runs exit,
	 * which takes mmap_lock and releases @sub. */
	mmput(mm);
	return ret;
}

/*
 * Claim the one ->release call of @sub.  The test-and-set under the lock
 * orders exit against unregister (see RELEASE, EXACTLY ONCE above).
 */
static bool mn_claim_release(struct mmu_notifier_subscriptions *subscriptions,
			     struct mmu_notifier *sub)
{
	bool claimed;

	spin_lock(&subscriptions->lock);
	claimed = !sub->released;
	sub->released = true;
	spin_unlock(&subscriptions->lock);
	return claimed;
}

/* Call ->release; caller claimed it and is inside rcu_read_lock(). */
static void mn_call_release(struct mmu_notifier *sub, struct mm_struct *mm)
{
	if (sub->ops->release) {
		mn_trace_cb(sub, "release");
		check_hook_callback(sub, "release");
		sub->ops->release(sub, mm);
	}
}

/**
 * mmu_notifier_unregister() - unsubscribe @sub from @mm
 * @sub: a subscription registered with mmu_notifier_register()
 * @mm: the mm it was registered on
 *
 * Runs ->release unless exit already did (exactly one of the two does),
 * unlinks @sub, and waits a grace period: when this returns no callback
 * of @sub is running or will run, and the driver may free @sub.  Drops the
 * mm reference taken at registration.
 *
 * Context: may sleep (grace period).  Not inside a notifier callback or
 * any RCU read-side section (it would wait for itself): WARN and return.
 */
void mmu_notifier_unregister(struct mmu_notifier *sub, struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;

	if (WARN_ON(!sub || !mm || sub->mm != mm))
		return;
	if (WARN_ON(rcu_read_lock_held()))
		return;
	subscriptions = mn_subscriptions(mm);
	if (WARN_ON(!subscriptions))
		return;

	if (mn_claim_release(subscriptions, sub)) {
		/* A read-side section like every other callback. */
		rcu_read_lock();
		mn_call_release(sub, mm);
		rcu_read_unlock();
	}

	spin_lock(&subscriptions->lock);
	if (mn_hlist_linked(&sub->hlist))
		mn_hlist_del_rcu(&sub->hlist);
	spin_unlock(&subscriptions->lock);

	/* Every walker that could still reach @sub (and exit's ->release
	 * call, if exit claimed it) is in a section that began before the
	 * unlink: wait for all of them. */
	synchronize_rcu();
	/* From here a callback of @sub is a protocol violation (oracle). */
	check_hook_sub_state(sub, false);
	mmdrop(mm);
}

/* ==== shared subscriptions: get / put =================================== */

/* Take another reference on the subscription with @ops, if any. */
static struct mmu_notifier *
mn_hlist_find_get(struct mmu_notifier_subscriptions *subscriptions,
		  const struct mmu_notifier_ops *ops)
{
	struct mmu_notifier *sub, *found = NULL;

	spin_lock(&subscriptions->lock);
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub)) {
		if (sub->ops != ops)
			continue;
		if (sub->users == UINT_MAX)
			found = ERR_PTR(-EOVERFLOW);
		else {
			sub->users++;
			found = sub;
		}
		break;
	}
	spin_unlock(&subscriptions->lock);
	return found;
}

/**
 * mmu_notifier_get_locked() - the shared subscription with @ops on @mm
 * @ops: the driver's ops; must provide alloc_notifier and free_notifier
 * @mm: the address space
 *
 * Returns the existing subscription with @ops (one more user), or makes one
 * with ops->alloc_notifier() and registers it.  Pair with
 * mmu_notifier_put().
 *
 * Context: mmap_lock held for write; may allocate.
 * Return: the subscription; ERR_PTR(-EINVAL) for bad arguments or an mm
 * without users, ERR_PTR(-ENOMEM), ERR_PTR(-EOVERFLOW) for too many users,
 * or the error alloc_notifier returned.
 */
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;
	struct mmu_notifier *sub;
	int ret;

	if (WARN_ON(!ops || !mm || !ops->alloc_notifier || !ops->free_notifier))
		return ERR_PTR(-EINVAL);
	mmap_assert_write_locked(mm);

	/* Only published under mmap_lock, which we hold for write. */
	subscriptions = READ_ONCE(mm->notifier_subscriptions);
	if (subscriptions) {
		sub = mn_hlist_find_get(subscriptions, ops);
		if (sub)
			return sub;
	}

	sub = ops->alloc_notifier(mm);
	if (IS_ERR(sub))
		return sub;
	if (!sub)
		return ERR_PTR(-ENOMEM);
	sub->ops = ops;
	ret = __mmu_notifier_register(sub, mm);
	if (ret) {
		ops->free_notifier(sub);
		return ERR_PTR(ret);
	}
	return sub;
}

/**
 * mmu_notifier_get() - mmu_notifier_get_locked() taking mmap_lock
 * @ops: as for mmu_notifier_get_locked()
 * @mm: the address space
 *
 * Context: may sleep; not with mmap_lock held.
 * Return: as mmu_notifier_get_locked().
 */
struct mmu_notifier *mmu_notifier_get(const struct mmu_notifier_ops *ops,
				      struct mm_struct *mm)
{
	struct mmu_notifier *sub;

	if (WARN_ON(!ops || !mm))
		return ERR_PTR(-EINVAL);
	if (!mmget_not_zero(mm))
		return ERR_PTR(-EINVAL);
	mmap_write_lock(mm);
	sub = mmu_notifier_get_locked(ops, mm);
	mmap_write_unlock(mm);
	mmput(mm);
	return sub;
}

/* After the grace period that followed the last put: free, drop the mm. */
static void mn_free_rcu(struct rcu_head *rcu)
{
	struct mmu_notifier *sub = container_of(rcu, struct mmu_notifier, rcu);
	struct mm_struct *mm = sub->mm;

	/* Before the free: a callback of @sub from now on is a violation. */
	check_hook_sub_state(sub, false);
	sub->ops->free_notifier(sub);
	/* May be the last reference: frees the per-mm state too. */
	mmdrop(mm);
}

/**
 * mmu_notifier_put() - drop a reference from mmu_notifier_get()
 * @sub: the shared subscription
 *
 * The last put unlinks @sub and, after a grace period, frees it with
 * ops->free_notifier() and drops the mm reference.  Does not call
 * ->release (as in the kernel: the driver is done with the mm when it
 * drops its last reference; ->release only tells it of an exit first).
 *
 * Context: any thread, including a notifier callback: never waits.
 * free_notifier runs later on the RCU callback thread, never inside this
 * call; mmu_notifier_synchronize() waits for it.
 */
void mmu_notifier_put(struct mmu_notifier *sub)
{
	struct mmu_notifier_subscriptions *subscriptions;

	if (WARN_ON(!sub || !sub->mm))
		return;
	subscriptions = mn_subscriptions(sub->mm);
	if (WARN_ON(!subscriptions))
		return;

	spin_lock(&subscriptions->lock);
	if (WARN_ON(!sub->users) || --sub->users) {
		spin_unlock(&subscriptions->lock);
		return;
	}
	if (mn_hlist_linked(&sub->hlist))
		mn_hlist_del_rcu(&sub->hlist);
	spin_unlock(&subscriptions->lock);

	/* Readers still standing on @sub finish before mn_free_rcu(). */
	call_rcu(&sub->rcu, mn_free_rcu);
}

/**
 * mmu_notifier_synchronize() - wait for every pending free_notifier
 *
 * Every free_notifier queued by an mmu_notifier_put() that returned before
 * this call has run when it returns (call before unloading the code that
 * provides the ops).
 * Context: may sleep; not inside a callback or RCU read-side section.
 */
void mmu_notifier_synchronize(void)
{
	rcu_barrier();
}

/* ==== release at exit =================================================== */

/* Call ->release of every subscription not yet released, then unlink all. */
static void mn_hlist_release(struct mmu_notifier_subscriptions *subscriptions,
			     struct mm_struct *mm)
{
	struct mmu_notifier *sub;

	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub))
		if (mn_claim_release(subscriptions, sub))
			mn_call_release(sub, mm);
	rcu_read_unlock();

	/* Unlinked but not freed: the driver still owns each subscription
	 * and ends it with unregister or put, which find it unlinked. */
	spin_lock(&subscriptions->lock);
	while (!list_empty(&subscriptions->list))
		mn_hlist_del_rcu(subscriptions->list.next);
	spin_unlock(&subscriptions->lock);

	/* No callback of any subscription runs after exit's release. */
	synchronize_rcu();
}

/**
 * __mmu_notifier_release() - the mm's last user is gone: release all
 * @mm: the address space, at the start of exit_mmap()
 *
 * Calls ->release of every whole-mm subscription that unregister has not
 * already released, exactly once, before the address space is torn down;
 * then unlinks them all (they stay allocated until their owner's
 * unregister/put).  Interval subscriptions learn of the exit from the
 * exit-time invalidation (MMU_NOTIFY_RELEASE) that follows.
 *
 * Context: may sleep (callbacks, grace period); no RCU read-side section.
 */
void __mmu_notifier_release(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);

	if (WARN_ON(!subscriptions) || WARN_ON(rcu_read_lock_held()))
		return;
	mn_hlist_release(subscriptions, mm);
}

/* ==== range invalidation ================================================ */

static bool mn_has_itree(struct mmu_notifier_subscriptions *subscriptions)
{
	/* Set by interval.c under mmap_lock held for write; every
	 * start/end bracket runs under mmap_lock, so a bracket sees one
	 * value at both ends. */
	return READ_ONCE(subscriptions->has_itree);
}

/*
 * A start failed at @failed (after @started subscriptions had succeeded):
 * end those, in list order.  Registration needs mmap_lock for write, which
 * the non-blockable caller holds for read, so no subscription appeared in
 * front; one unregistered meanwhile is simply not reached (it no longer
 * wants callbacks), and @started bounds the walk if @failed itself went.
 */
static void
mn_hlist_undo_start(struct mmu_notifier_subscriptions *subscriptions,
		    const struct mmu_notifier_range *range,
		    struct mmu_notifier *failed, unsigned long started)
{
	struct mmu_notifier *sub;

	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub)) {
		if (sub == failed || !started--)
			break;
		if (sub->ops->invalidate_range_end) {
			mn_trace_cb(sub, "invalidate_range_end");
			check_hook_callback(sub, "invalidate_range_end");
			sub->ops->invalidate_range_end(sub, range);
		}
	}
}

static int mn_hlist_invalidate_range_start(
	struct mmu_notifier_subscriptions *subscriptions,
	const struct mmu_notifier_range *range)
{
	bool blockable = mmu_notifier_range_blockable(range);
	struct mmu_notifier *sub;
	unsigned long started = 0;
	int ret = 0;

	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub)) {
		int err = 0;

		if (sub->ops->invalidate_range_start) {
			mn_trace_cb(sub, "invalidate_range_start");
			check_hook_callback(sub, "invalidate_range_start");
			err = sub->ops->invalidate_range_start(sub, range);
		}
		if (err) {
			/* Only a non-blockable range may fail, and only
			 * with -EAGAIN; a blockable failure is ignored (the
			 * caller ends the range for everyone). */
			if (WARN_ON(blockable))
				err = 0;
			else
				WARN_ON(err != -EAGAIN);
		}
		if (err) {
			mn_hlist_undo_start(subscriptions, range, sub, started);
			ret = err;
			break;
		}
		started++;
	}
	rcu_read_unlock();
	return ret;
}

/* The interval tree, then the list; on failure nothing is left started. */
static int
mn_invalidate_range_start_all(struct mmu_notifier_subscriptions *subscriptions,
			      const struct mmu_notifier_range *range)
{
	bool itree = mn_has_itree(subscriptions);
	int ret;

	if (itree) {
		/* On failure interval.c has already undone its part. */
		ret = mn_itree_invalidate(subscriptions, range);
		if (ret)
			return ret;
	}
	ret = mn_hlist_invalidate_range_start(subscriptions, range);
	if (ret) {
		if (itree)
			mn_itree_inv_end(subscriptions);
		return ret;
	}
	atomic_long_inc(&mn_state(subscriptions)->active_ranges);
	return 0;
}

/**
 * __mmu_notifier_invalidate_range_start() - [start, end) is about to change
 * @range: the range, event and flags (mmu_notifier_range_init())
 *
 * Calls the overlapping interval subscriptions, then every whole-mm
 * subscription's ->invalidate_range_start.  Use through
 * mmu_notifier_invalidate_range_start() (blockable; never fails) or
 * mmu_notifier_invalidate_range_start_nonblock().
 *
 * Context: the caller holds mmap_lock (read or write); may sleep if the
 * range is blockable.  Pairs with __mmu_notifier_invalidate_range_end()
 * on success.
 * Return: 0; -EAGAIN (only for a non-blockable range) if a subscriber
 * could not proceed without sleeping: nothing is left started (the
 * subscribers that had started got their end) and the caller must not
 * call end.
 */
int __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subscriptions;
	int ret;

	if (WARN_ON(!range || !range->mm))
		return -EINVAL;
	subscriptions = mn_subscriptions(range->mm);
	if (WARN_ON(!subscriptions))
		return 0;

	trace_event(TR_INV_START, "inv_start %#lx-%#lx ev %d", range->start,
		    range->end, range->event);
	check_hook_inv_begin(range);
	/* Callbacks of a non-blockable range may not sleep (oracle). */
	if (!mmu_notifier_range_blockable(range))
		check_nonblock_enter(range);
	ret = mn_invalidate_range_start_all(subscriptions, range);
	if (!mmu_notifier_range_blockable(range))
		check_nonblock_exit();
	/* Every callback has returned: what is still registered in the
	 * range is stale from here on (oracle, before any PTE changes). */
	check_hook_inv_started(range, ret);
	trace_event(TR_INV_STARTED, "inv_start %#lx-%#lx done%s", range->start,
		    range->end, ret ? " (-EAGAIN)" : "");
	return ret;
}

/**
 * __mmu_notifier_invalidate_range_end() - the change of @range is done
 * @range: the range given to the successful start
 *
 * Ends the interval invalidation (waking readers once the last one ends),
 * then calls every whole-mm subscription's ->invalidate_range_end.
 * WARNs if no range is active (an end without a start).
 *
 * Context: as for the start; after the TLB flush.
 */
void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subscriptions;
	struct mmu_notifier *sub;
	long active;

	if (WARN_ON(!range || !range->mm))
		return;
	subscriptions = mn_subscriptions(range->mm);
	if (WARN_ON(!subscriptions))
		return;

	/* Before anything: an end the oracle never saw start is reported
	 * there with the range pointer as the key. */
	trace_event(TR_INV_END, "inv_end %#lx-%#lx", range->start, range->end);
	check_hook_inv_end(range);
	active =
		atomic_long_dec_return(&mn_state(subscriptions)->active_ranges);
	if (WARN_ON(active < 0)) {
		/* An end without a start: undo our count, call nobody. */
		atomic_long_inc(&mn_state(subscriptions)->active_ranges);
		return;
	}

	if (mn_has_itree(subscriptions))
		mn_itree_inv_end(subscriptions);

	/* The kernel's non_block_start(): ends of a non-blockable range do
	 * not sleep either (oracle). */
	if (!mmu_notifier_range_blockable(range))
		check_nonblock_enter(range);
	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub)) {
		if (sub->ops->invalidate_range_end) {
			mn_trace_cb(sub, "invalidate_range_end");
			check_hook_callback(sub, "invalidate_range_end");
			sub->ops->invalidate_range_end(sub, range);
		}
	}
	rcu_read_unlock();
	if (!mmu_notifier_range_blockable(range))
		check_nonblock_exit();
}

/**
 * __mmu_notifier_arch_invalidate_secondary_tlbs() - PTEs in [start, end)
 * changed: flush the secondary TLBs that share the CPU page tables
 * @mm: the address space
 * @start: first address
 * @end: end, exclusive
 *
 * Context: from the TLB flush, page-table locks possibly held; the
 * callbacks must not sleep.
 */
void __mmu_notifier_arch_invalidate_secondary_tlbs(struct mm_struct *mm,
						   unsigned long start,
						   unsigned long end)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *sub;

	if (WARN_ON(!subscriptions))
		return;
	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub))
		if (sub->ops->arch_invalidate_secondary_tlbs) {
			mn_trace_cb(sub, "arch_invalidate_secondary_tlbs");
			check_hook_callback(sub,
					    "arch_invalidate_secondary_tlbs");
			sub->ops->arch_invalidate_secondary_tlbs(sub, mm, start,
								 end);
		}
	rcu_read_unlock();
}

/* ==== aging ============================================================= */

/**
 * __mmu_notifier_clear_flush_young() - clear and flush the secondary
 * accessed bits of [start, end)
 * @mm: the address space
 * @start: first address
 * @end: end, exclusive
 *
 * Every subscription is called (each must clear its bits).
 * Context: from the aging pass (rmap walk); callbacks must not sleep.
 * Return: non-zero iff any subscription reported a young translation.
 */
int __mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start,
				     unsigned long end)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *sub;
	int young = 0;

	if (WARN_ON(!subscriptions))
		return 0;
	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub))
		if (sub->ops->clear_flush_young) {
			mn_trace_cb(sub, "clear_flush_young");
			check_hook_callback(sub, "clear_flush_young");
			young |= sub->ops->clear_flush_young(sub, mm, start,
							     end);
		}
	rcu_read_unlock();
	return young;
}

/**
 * __mmu_notifier_clear_young() - clear the secondary accessed bits of
 * [start, end) without flushing secondary TLBs
 * @mm: the address space
 * @start: first address
 * @end: end, exclusive
 *
 * Context and return: as __mmu_notifier_clear_flush_young().
 */
int __mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start,
			       unsigned long end)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *sub;
	int young = 0;

	if (WARN_ON(!subscriptions))
		return 0;
	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub))
		if (sub->ops->clear_young) {
			mn_trace_cb(sub, "clear_young");
			check_hook_callback(sub, "clear_young");
			young |= sub->ops->clear_young(sub, mm, start, end);
		}
	rcu_read_unlock();
	return young;
}

/**
 * __mmu_notifier_test_young() - is @address young in any secondary MMU?
 * @mm: the address space
 * @address: the page
 *
 * Stops at the first subscription that says yes (nothing is cleared).
 * Context: as __mmu_notifier_clear_flush_young().
 * Return: non-zero iff some subscription reported @address young.
 */
int __mmu_notifier_test_young(struct mm_struct *mm, unsigned long address)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *sub;
	int young = 0;

	if (WARN_ON(!subscriptions))
		return 0;
	rcu_read_lock();
	for (sub = mn_hlist_first(subscriptions); sub;
	     sub = mn_hlist_next(subscriptions, sub)) {
		if (sub->ops->test_young) {
			mn_trace_cb(sub, "test_young");
			check_hook_callback(sub, "test_young");
			young = sub->ops->test_young(sub, mm, address);
			if (young)
				break;
		}
	}
	rcu_read_unlock();
	return young;
}
