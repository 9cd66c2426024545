// SPDX-License-Identifier: MIT
/*
 * Mutexes: the three-state futex protocol described in mutex.h.
 *
 * Memory ordering: every acquisition ends in an acquire RMW on ->state
 * (the cmpxchg 0 -> 1 or an exchange to 2 that returned 0); every release
 * is the release exchange to 0 in mutex_unlock().  They pair, so each
 * critical section happens before the next one.
 */
#include <limits.h>
#include <mmirror/futex.h>
#include <mmirror/mutex.h>
#include "check_hooks.h"
#include "trace.h"

/* Rounds of optimistic spinning before sleeping in the futex. */
#define MUTEX_SPIN_ROUNDS 100

void mutex_init(struct mutex *lock)
{
	WRITE_ONCE(lock->state, 0);
	WRITE_ONCE(lock->owner, 0);
}

static inline bool mutex_cmpxchg_acquire(struct mutex *lock, u32 old, u32 new)
{
	return __atomic_compare_exchange_n(&lock->state, &old, new, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static __noinline void mutex_lock_slow(struct mutex *lock)
{
	u32 c;

	/* Brief optimistic spin: the holder may be about to release. */
	for (int i = 0; i < MUTEX_SPIN_ROUNDS; i++) {
		/* Pairs with mutex_unlock's release exchange. */
		c = READ_ONCE(lock->state);
		if (c == 0 && mutex_cmpxchg_acquire(lock, 0, 1))
			return;
		if (c == 2)
			break; /* others already sleep: join them */
		cpu_relax();
	}

	/*
	 * Announce a sleeper by exchanging in 2.  If the old value was 0 we
	 * now own the lock (with state 2: possibly one spurious wake later).
	 * Otherwise sleep while state is still 2; mutex_unlock exchanges 0
	 * before waking, and the futex re-checks the word atomically.
	 */
	while (__atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE) != 0) {
		base_futex_wait(&lock->state, 2);
		sched_point(SP_LOCK, lock);
	}
}

void mutex_lock(struct mutex *lock)
{
	unsigned long me = lock_owner_self();

	might_sleep();
	WARN_ON(READ_ONCE(lock->owner) == me); /* recursion: deadlock */
	sched_point(SP_LOCK, lock);
	if (unlikely(!mutex_cmpxchg_acquire(lock, 0, 1)))
		mutex_lock_slow(lock);
	/* Only the holder writes owner; read by mutex_is_held_by_me(). */
	WRITE_ONCE(lock->owner, me);
	trace_event(TR_LOCK, "mutex_lock %p", lock);
}

int mutex_lock_killable(struct mutex *lock)
{
	mutex_lock(lock);
	return 0;
}

int mutex_trylock(struct mutex *lock)
{
	sched_point(SP_LOCK, lock);
	/* Pairs with mutex_unlock's release exchange. */
	if (READ_ONCE(lock->state) != 0 || !mutex_cmpxchg_acquire(lock, 0, 1))
		return 0;
	WRITE_ONCE(lock->owner, lock_owner_self());
	trace_event(TR_LOCK, "mutex_trylock %p", lock);
	return 1;
}

void mutex_unlock(struct mutex *lock)
{
	sched_point(SP_UNLOCK, lock);
	if (WARN_ON(READ_ONCE(lock->owner) != lock_owner_self()))
		return;
	trace_event(TR_UNLOCK, "mutex_unlock %p", lock);
	WRITE_ONCE(lock->owner, 0);
	/*
	 * Release: pairs with the acquire RMWs of the next holder.  State 2
	 * means somebody may sleep: wake one; it re-exchanges 2, so if more
	 * sleepers remain the next unlock wakes the next one.
	 */
	if (__atomic_exchange_n(&lock->state, 0, __ATOMIC_RELEASE) == 2)
		base_futex_wake(&lock->state, 1);
}

bool mutex_is_held_by_me(const struct mutex *lock)
{
	/* Exact for the caller: only the holder writes owner. */
	return READ_ONCE(lock->owner) == lock_owner_self();
}
