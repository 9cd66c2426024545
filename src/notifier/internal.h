/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the per-mm notifier state shared by mmu_notifier.c (the
 * whole-mm list, registration, the hooks' entry points) and interval.c
 * (interval subscriptions and the collision-retry sequence).
 */
#ifndef MMIRROR_NOTIFIER_INTERNAL_H
#define MMIRROR_NOTIFIER_INTERNAL_H

#include <mmirror/mmu_notifier.h>
#include <mmirror/wait.h>
#include "base/trace.h"

/*
 * struct mmu_notifier_subscriptions - one per mm, allocated at the first
 * subscription of either kind (under mmap_lock held for write) and
 * published with a release store to mm->notifier_subscriptions; freed at
 * the last mmdrop().
 */
struct mmu_notifier_subscriptions {
	/* --- whole-mm subscriptions (mmu_notifier.c) --- */
	struct list_head list; /* struct mmu_notifier.hlist; RCU readers,
				 * writers under @lock */
	bool has_itree; /* interval subscriptions were ever added */
	spinlock_t lock; /* list writers, and everything below */

	/* --- interval subscriptions (interval.c) --- */
	unsigned long invalidate_seq; /* odd while any invalidation runs */
	unsigned long active_invalidate_ranges;
	struct rb_root_cached itree;
	wait_queue_head_t wq; /* read_begin / remove waiters */
	struct list_head deferred_list; /* inserts/removes during invalidate */
};

/*
 * The existing subscriptions of @mm, or new ones published now.
 * Context: mmap_lock held for write.  NULL on -ENOMEM.
 */
struct mmu_notifier_subscriptions *
mmu_notifier_subscriptions_get(struct mm_struct *mm);

/* interval.c's side of the hooks (subscriptions->has_itree is set). */
int mn_itree_invalidate(struct mmu_notifier_subscriptions *subscriptions,
			const struct mmu_notifier_range *range);
void mn_itree_inv_end(struct mmu_notifier_subscriptions *subscriptions);
void mn_itree_init(struct mmu_notifier_subscriptions *subscriptions);

/* A diagram row for a callback about to run (src/explore/diagram.h). */
static inline void mn_trace_cb(const void *sub, const char *what)
{
	trace_event(TR_CALLBACK, "cb %s %p", what, sub);
}

#endif /* MMIRROR_NOTIFIER_INTERNAL_H */
