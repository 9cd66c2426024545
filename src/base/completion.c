// SPDX-License-Identifier: MIT
/*
 * Completions: the done-counter futex protocol described in completion.h.
 */
#include <mmirror/completion.h>
#include <mmirror/futex.h>
#include "check_hooks.h"

void init_completion(struct completion *x)
{
	WRITE_ONCE(x->done, 0);
	WRITE_ONCE(x->waiters, 0);
	WRITE_ONCE(x->completers, 0);
}

void reinit_completion(struct completion *x)
{
	WRITE_ONCE(x->done, 0);
}

/*
 * After changing done: is anybody waiting?  The full fence orders our RMW
 * on done before this read; it pairs with the fence in
 * wait_for_completion() between "waiters += 1" and its read of done
 * (store-buffering / Dekker: at least one side sees the other).
 */
static inline bool completion_has_waiters(struct completion *x)
{
	smp_mb();
	/* Pairs with the RMWs on waiters in wait_for_completion(). */
	return READ_ONCE(x->waiters) != 0;
}

/* complete*() is about to touch x: see "Lifetime" in completion.h. */
static inline void completer_enter(struct completion *x)
{
	/* Fully ordered: a waiter that sees our done change sees this. */
	__atomic_fetch_add(&x->completers, 1, __ATOMIC_SEQ_CST);
}

/* Our last access to x is done; from here a waiter may free it. */
static inline void completer_exit(struct completion *x)
{
	/* Release: pairs with the acquire in completion_wait_completers(). */
	__atomic_fetch_sub(&x->completers, 1, __ATOMIC_RELEASE);
}

void complete(struct completion *x)
{
	unsigned int d;

	completer_enter(x);
	d = READ_ONCE(x->done);
	do {
		if (d == COMPLETION_ALL)
			goto out; /* complete_all()ed: nothing to count */
		/* Counting up to ALL would turn into complete_all(). */
		if (WARN_ON_ONCE(d == COMPLETION_ALL - 1))
			goto out;
		/* try_cmpxchg is fully ordered (release for the waiter). */
	} while (!try_cmpxchg(&x->done, &d, d + 1));
	if (completion_has_waiters(x))
		base_futex_wake(&x->done, 1);
out:
	completer_exit(x);
}

void complete_all(struct completion *x)
{
	completer_enter(x);
	xchg(&x->done, COMPLETION_ALL); /* fully ordered */
	if (completion_has_waiters(x))
		base_futex_wake(&x->done, INT32_MAX);
	completer_exit(x);
}

/*
 * A wait consumed done: before the caller may free x, let every completer
 * that could still touch it leave.  The one that made done non-zero
 * entered before its RMW on done, which we acquired, so we see it here.
 */
static void completion_wait_completers(struct completion *x)
{
	/* Acquire: pairs with the release in completer_exit(). */
	while (__atomic_load_n(&x->completers, __ATOMIC_ACQUIRE)) {
		/* Only a completer can end this: let the explorer run one. */
		sched_point(SP_SPIN, &x->completers);
		cpu_relax();
	}
}

/* Take one completion if available.  True if done (consumed or ALL). */
static bool completion_consume(struct completion *x)
{
	/* Acquire: pairs with complete()'s / complete_all()'s RMW. */
	unsigned int d = smp_load_acquire(&x->done);

	while (d != 0) {
		if (d == COMPLETION_ALL)
			return true;
		/* Fully ordered: acquires what complete() released. */
		if (try_cmpxchg(&x->done, &d, d - 1))
			return true;
	}
	return false;
}

void wait_for_completion(struct completion *x)
{
	might_sleep();
	if (completion_consume(x)) {
		completion_wait_completers(x);
		return;
	}

	/* Count ourselves before the last look at done (Dekker, see .h). */
	sched_point(SP_ATOMIC, &x->waiters);
	__atomic_fetch_add(&x->waiters, 1, __ATOMIC_RELAXED);
	smp_mb(); /* pairs with the fence in completion_has_waiters() */
	while (!completion_consume(x))
		base_futex_wait(&x->done, 0); /* sleeps only if still 0 */
	sched_point(SP_ATOMIC, &x->waiters);
	__atomic_fetch_sub(&x->waiters, 1, __ATOMIC_RELAXED);
	completion_wait_completers(x);
}

bool try_wait_for_completion(struct completion *x)
{
	if (!completion_consume(x))
		return false;
	completion_wait_completers(x);
	return true;
}
