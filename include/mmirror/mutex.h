/* SPDX-License-Identifier: MIT */
/*
 * mutex.h - sleeping mutual-exclusion locks, kernel API, on a futex.
 *
 * Protocol (the classic three-state futex mutex):
 *
 *   lock->state  0  unlocked
 *                1  locked, nobody sleeping
 *                2  locked, maybe somebody sleeping (unlock must wake)
 *
 *   lock:    cmpxchg 0 -> 1 (acquire).  On failure spin briefly, then
 *            exchange in 2 and sleep in base_futex_wait(state, 2) until
 *            an exchange to 2 returns 0.  A thread that took the lock
 *            that way leaves state at 2 (it cannot know whether others
 *            still sleep), costing at most one spurious wake.
 *   unlock:  exchange 0 (release); if the old value was 2, wake one
 *            sleeper.  A sleeper only ever sleeps while state == 2, and the
 *            futex re-checks that atomically, so no wake-up is lost.
 *
 *   lock->owner  lock_owner_self() of the holder, written by the holder
 *            after acquiring and cleared before releasing: exact for the
 *            calling thread, a hint for others.
 *
 * Uncontended lock and unlock are one atomic RMW each.  Not fair: a running
 * thread may take the lock before a woken sleeper (as the kernel's
 * optimistic spinning allows).  Unlock by a non-owner WARNs and is refused.
 */
#ifndef MMIRROR_MUTEX_H
#define MMIRROR_MUTEX_H

#include <mmirror/compiler.h>
#include <mmirror/spinlock.h> /* lock_owner_self, lockdep_assert_held */

struct mutex {
	u32 state; /* 0 / 1 / 2: see the protocol above */
	unsigned long owner; /* lock_owner_self() of the holder, 0 if free */
};

#define __MUTEX_INITIALIZER(name)      \
	{                              \
		.state = 0, .owner = 0 \
	}
#define DEFINE_MUTEX(name) struct mutex name = __MUTEX_INITIALIZER(name)

/**
 * mutex_init() - initialise a mutex to the unlocked state.
 * @lock: the mutex.
 *
 * Context: nobody else may be using @lock.
 */
void mutex_init(struct mutex *lock);

/**
 * mutex_lock() - acquire @lock, sleeping until it is available.
 * @lock: the mutex.
 *
 * Context: may sleep.  Recursive locking deadlocks (and WARNs first).
 */
void mutex_lock(struct mutex *lock);

/**
 * mutex_lock_killable() - mutex_lock() that could be interrupted by a
 * fatal signal.  There are no signals in mmirror: always acquires.
 * @lock: the mutex.
 *
 * Return: 0.
 */
int mutex_lock_killable(struct mutex *lock);

/**
 * mutex_trylock() - acquire @lock if it is free, without sleeping.
 * @lock: the mutex.
 *
 * Return: 1 if acquired, 0 if it was held (kernel convention, unlike
 * pthread_mutex_trylock).
 */
int mutex_trylock(struct mutex *lock);

/**
 * mutex_unlock() - release @lock and wake one sleeper if any.
 * @lock: the mutex, held by the caller.
 *
 * Unlock by a thread that does not hold @lock WARNs and does nothing.
 */
void mutex_unlock(struct mutex *lock);

/**
 * mutex_is_locked() - is @lock held by anyone?  A snapshot only.
 * @lock: the mutex.
 */
static inline bool mutex_is_locked(const struct mutex *lock)
{
	/* Pairs with the RMWs in mutex_lock / mutex_unlock. */
	return READ_ONCE(lock->state) != 0;
}

/* mutex_is_held_by_me() is declared in spinlock.h (lockdep_assert_held). */

/* WARN unless the caller holds @lock. */
#define mutex_assert_held(lock) WARN_ON(!mutex_is_held_by_me(lock))

#endif /* MMIRROR_MUTEX_H */
