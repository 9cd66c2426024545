/* SPDX-License-Identifier: MIT */
/*
 * sched_point.h - the one hook through which the explorer (src/explore, a
 * later layer) takes control of a scenario.
 *
 * Every lock operation, every atomic RMW on shared state and every
 * page-table entry access calls sched_point(kind, object) *before* it acts.
 * In normal runs no hook is installed and the call is one relaxed load and a
 * predicted-not-taken branch.  The explorer installs a hook that may switch
 * to another scenario thread right there; that is what lets it choose every
 * interleaving.
 *
 * Blocking is a separate concern: every wait in mmirror ends in
 * base_futex_wait() (futex.h), which is the explorer's second hook point.
 */
#ifndef MMIRROR_SCHED_POINT_H
#define MMIRROR_SCHED_POINT_H

#include <mmirror/compiler.h>

enum sched_point_kind {
	SP_LOCK, /* about to acquire a lock (any kind) */
	SP_UNLOCK, /* about to release a lock */
	SP_ATOMIC, /* about to do an RMW on shared state */
	SP_PTE_READ, /* about to read a page-table entry */
	SP_PTE_WRITE, /* about to write a page-table entry */
	SP_WAIT, /* about to block (futex wait) */
	SP_WAKE, /* about to wake waiters */
	SP_RCU, /* RCU read-side boundary or grace period */
	SP_EVENT, /* anything else a layer wants to expose */
	/* in a spin-wait: cannot progress until another thread takes a step */
	SP_SPIN,
	SP__NR
};

typedef void (*sched_point_fn)(enum sched_point_kind kind, const void *obj);

/* The installed hook, NULL when nobody explores.  Written by
 * sched_point_set_hook() (release); read relaxed below: a thread that sees
 * the new hook a little late only misses a preemption opportunity, and the
 * explorer installs its hook before it starts any scenario thread. */
extern sched_point_fn sched_point_hook;

/* Install @fn (NULL to remove); returns the previous hook. */
sched_point_fn sched_point_set_hook(sched_point_fn fn);

static inline void sched_point(enum sched_point_kind kind, const void *obj)
{
	sched_point_fn fn =
		__atomic_load_n(&sched_point_hook, __ATOMIC_RELAXED);

	if (unlikely(fn))
		fn(kind, obj);
}

#endif /* MMIRROR_SCHED_POINT_H */
