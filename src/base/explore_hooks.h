/* SPDX-License-Identifier: MIT */
/*
 * explore_hooks.h - what src/base lets the explorer (src/explore) replace
 * while it runs a schedule.  Private to libmmirror.
 *
 * The explorer installs one ops table in a forked child before the
 * scenario starts and never removes it (the child exits).  Every hook may
 * decline (return false) for a thread the explorer does not control, and
 * the caller then falls back to the normal path.
 *
 * Ordering: base_explore_set() is a release store, base_explore_ops() an
 * acquire load, so a thread that sees the table sees what the explorer set
 * up before installing it.  Threads the explorer controls are created after
 * the store, so they always see it.
 */
#ifndef MMIRROR_BASE_EXPLORE_HOOKS_H
#define MMIRROR_BASE_EXPLORE_HOOKS_H

#include <mmirror/compiler.h>

struct task_struct;

struct base_explore_ops {
	/* base_futex_wait(): block the caller (if *word == seen). */
	bool (*futex_wait)(u32 *word, u32 seen);
	/* base_futex_wake(): make up to @nr blocked threads runnable. */
	bool (*futex_wake)(u32 *word, int nr);
	/* kthread_run(), in the creator, just before / after creating. */
	void (*kthread_prepare)(struct task_struct *t);
	void (*kthread_created)(struct task_struct *t, bool ok);
	/* synchronize_rcu(): wait until every pre-existing reader left. */
	void (*rcu_gp_wait)(void);
};

extern const struct base_explore_ops *base_explore;

static inline const struct base_explore_ops *base_explore_ops(void)
{
	/* Pairs with the release store in base_explore_set(). */
	return __atomic_load_n(&base_explore, __ATOMIC_ACQUIRE);
}

/* Install @ops (NULL: normal mode).  Before any controlled thread exists. */
void base_explore_set(const struct base_explore_ops *ops);

/* RCU sections entered by this thread (outermost), for the GP model. */
extern __thread unsigned long __rcu_explore_sections;
/* Run every call_rcu callback still queued in explore mode. */
void rcu_explore_flush(void);

#endif /* MMIRROR_BASE_EXPLORE_HOOKS_H */
