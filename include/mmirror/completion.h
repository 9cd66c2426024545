/* SPDX-License-Identifier: MIT */
/*
 * completion.h - completions, kernel API and semantics, on a futex.
 *
 * Protocol:
 *
 *   x->done   number of completions not yet consumed, or COMPLETION_ALL
 *             (UINT_MAX) after complete_all(): then every wait returns at
 *             once, without consuming, until reinit_completion().
 *   x->waiters  threads inside wait_for_completion() (to skip the futex
 *             wake-up syscall when nobody waits).
 *
 *   complete():      done += 1 (unless ALL); if waiters: wake one.
 *   complete_all():  done = ALL;              if waiters: wake all.
 *   wait:            waiters += 1; loop { d = done; if d == ALL return;
 *                    if d > 0 and cmpxchg(done, d, d - 1) return;
 *                    if d == 0 futex_wait(done, 0) }; waiters -= 1.
 *
 *   No lost wake-up: the waiter's "waiters += 1" and the completer's
 *   "done += 1" are each followed by a full fence (smp_mb) and a read of
 *   the other word (Dekker): either the completer sees the waiter counted
 *   and wakes it, or the waiter sees done > 0.  And a
 *   waiter that read done == 0 sleeps only if done is still 0 when the
 *   futex checks it atomically against the wake.
 *
 *   Ordering: complete() is a release (fully ordered RMW), a successful
 *   wait an acquire (the fully ordered cmpxchg / load that saw it), so
 *   everything before complete() happens before the wait returns.
 *
 * Lifetime: a waiter may free the completion (or return from the frame
 * holding it) as soon as its wait returns, but complete() still reads
 * waiters and wakes the futex after done += 1.  So complete() counts
 * itself in x->completers around its accesses, and a wait that consumed
 * done waits (spinning: the completer is a few instructions from the end)
 * until no completer is left.  The kernel gets the same guarantee from
 * x->wait.lock, which complete() holds and the waiter takes before it
 * returns.
 *
 * Each complete() lets exactly one wait return; a wake-up can be taken by
 * a thread that was not asleep (a new waiter consuming done first), in
 * which case the woken one just sleeps again.  Deviations from the kernel:
 * no timeouts, no interruptible/killable variants, no swait queue.
 */
#ifndef MMIRROR_COMPLETION_H
#define MMIRROR_COMPLETION_H

#include <limits.h>
#include <mmirror/atomic.h>
#include <mmirror/compiler.h>

#define COMPLETION_ALL UINT_MAX

struct completion {
	unsigned int done; /* see the protocol above; the futex word */
	unsigned int waiters; /* threads in wait_for_completion() */
	unsigned int completers; /* complete*() calls still touching x */
};

#define COMPLETION_INITIALIZER(work)                     \
	{                                                \
		.done = 0, .waiters = 0, .completers = 0 \
	}
#define DECLARE_COMPLETION(work) \
	struct completion work = COMPLETION_INITIALIZER(work)
#define DECLARE_COMPLETION_ONSTACK(work) DECLARE_COMPLETION(work)

/**
 * init_completion() - initialise @x as not done.
 * @x: the completion.
 *
 * Context: nobody else may be using @x.
 */
void init_completion(struct completion *x);

/**
 * reinit_completion() - reset @x to not done (also after complete_all()).
 * @x: the completion.
 *
 * Context: no thread may be waiting on @x or completing it concurrently.
 */
void reinit_completion(struct completion *x);

/**
 * complete() - signal one completion: lets exactly one wait return (now or
 * later), waking one waiter if any sleeps.
 * @x: the completion.
 *
 * Context: any; does not sleep.  Everything before it happens before the
 * return of the wait that consumes it.
 */
void complete(struct completion *x);

/**
 * complete_all() - mark @x done for good: every current and future wait
 * returns at once, until reinit_completion().
 * @x: the completion.
 *
 * Context: any; does not sleep.
 */
void complete_all(struct completion *x);

/**
 * wait_for_completion() - sleep until @x is completed, consuming one
 * completion (none after complete_all()).
 * @x: the completion.
 *
 * Context: may sleep.
 */
void wait_for_completion(struct completion *x);

/**
 * try_wait_for_completion() - consume a completion if one is available.
 * @x: the completion.
 *
 * Return: true if a completion was consumed (or @x is complete_all()ed),
 * false if waiting would have been needed.  Never sleeps.
 */
bool try_wait_for_completion(struct completion *x);

/**
 * completion_done() - would a wait return at once?
 * @x: the completion.
 *
 * Return: true if a completion is pending (a snapshot).
 */
static inline bool completion_done(const struct completion *x)
{
	/* Acquire: pairs with the fully ordered RMW in complete(). */
	return smp_load_acquire(&x->done) != 0;
}

#endif /* MMIRROR_COMPLETION_H */
