// SPDX-License-Identifier: MIT
/*
 * Spinlocks: test-and-test-and-set with bounded spinning, then
 * sched_yield().  The protocol and the owner rule are in spinlock.h.
 *
 * Also home of lock_owner_self(): a per-thread id drawn once from a global
 * counter, so ids are never reused even when threads come and go.
 */
#include <sched.h>
#include <mmirror/spinlock.h>
#include "trace.h"

/* Rounds of cpu_relax() before a waiter starts yielding the CPU. */
#define SPIN_RELAX_ROUNDS 128

__thread unsigned long __lock_owner_id;
static unsigned long lock_owner_next;

unsigned long __lock_owner_assign(void)
{
	/* Statistics-free id allocation: only uniqueness matters. */
	unsigned long id =
		__atomic_add_fetch(&lock_owner_next, 1, __ATOMIC_RELAXED);

	__lock_owner_id = id;
	return id;
}

void spin_lock_init(spinlock_t *lock)
{
	WRITE_ONCE(lock->locked, 0);
	WRITE_ONCE(lock->owner, 0);
}

/* One attempt: exchange 0 -> 1.  Acquire pairs with spin_unlock's release. */
static inline bool spin_try_acquire(spinlock_t *lock)
{
	return __atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

static __noinline void spin_lock_slow(spinlock_t *lock)
{
	unsigned int spins = 0;

	do {
		/*
		 * Test before test-and-set: wait on a relaxed read, which
		 * pairs with spin_unlock's release store of 0; the exchange
		 * above provides the acquire once we win.
		 */
		while (READ_ONCE(lock->locked)) {
			if (++spins < SPIN_RELAX_ROUNDS)
				cpu_relax();
			else
				sched_yield(); /* the holder may be preempted */
			/* The explorer runs the holder before us again. */
			sched_point(SP_SPIN, lock);
		}
	} while (!spin_try_acquire(lock));
}

void spin_lock(spinlock_t *lock)
{
	unsigned long me = lock_owner_self();

	/* Recursion deadlocks below; say so before hanging. */
	WARN_ON(READ_ONCE(lock->owner) == me);
	sched_point(SP_LOCK, lock);
	if (unlikely(!spin_try_acquire(lock)))
		spin_lock_slow(lock);
	/* Only the holder writes owner; read by spin_is_held_by_me(). */
	WRITE_ONCE(lock->owner, me);
	trace_event(TR_LOCK, "spin_lock %p", lock);
}

int spin_trylock(spinlock_t *lock)
{
	sched_point(SP_LOCK, lock);
	/* Pairs with spin_unlock's release; avoid the RMW when held. */
	if (READ_ONCE(lock->locked) || !spin_try_acquire(lock))
		return 0;
	WRITE_ONCE(lock->owner, lock_owner_self());
	trace_event(TR_LOCK, "spin_trylock %p", lock);
	return 1;
}

void spin_unlock(spinlock_t *lock)
{
	sched_point(SP_UNLOCK, lock);
	/* Exact for the caller: only the holder writes owner. */
	if (WARN_ON(READ_ONCE(lock->owner) != lock_owner_self()))
		return;
	trace_event(TR_UNLOCK, "spin_unlock %p", lock);
	WRITE_ONCE(lock->owner, 0);
	/*
	 * Release: the critical section (and the owner clear) happens before
	 * the next holder's acquire exchange.
	 */
	smp_store_release(&lock->locked, 0);
}
