/* SPDX-License-Identifier: MIT */
/*
 * spinlock.h - kernel-style spinlocks, and the owner identity every mmirror
 * lock uses for its "held by me" assertions.
 *
 * Protocol (test-and-test-and-set):
 *
 *   lock->locked  0 = free, 1 = held.  Acquired by an acquire exchange
 *                 0 -> 1; released by a release store of 0.  Waiters spin on
 *                 a plain relaxed read (no cache-line ping-pong while the
 *                 holder works) and only try the exchange when they see 0.
 *   lock->owner   lock_owner_self() of the holder, written by the holder
 *                 right after it acquired and cleared right before it
 *                 releases; 0 when free.  Only the holder ever writes it, so
 *                 "owner == me" is exact for the calling thread; for any
 *                 other thread it is only a hint (asserts, debugging).
 *
 * Waiting: mmirror runs more threads than CPUs (2 cores), so a holder can be
 * preempted while others wait.  A waiter spins with cpu_relax() for a
 * bounded number of rounds, then calls sched_yield() between rounds so a
 * preempted holder gets the CPU back instead of the waiter burning its whole
 * time slice.  Every round also passes a sched_point(SP_LOCK) so the
 * explorer can switch to the holder.  A spinlock never sleeps in a futex:
 * hold it only for short, non-blocking sections (it is the leaf lock under
 * mutexes, rwsems and wait lists).
 *
 * Deviations from the kernel: no preemption or interrupt control (there is
 * nothing to disable in user space), no lockdep: only owner assertions.
 * A test-and-test-and-set lock rather than a queued/ticket lock: with more
 * threads than CPUs a FIFO lock hands the lock to a waiter that may be
 * preempted, stalling everyone behind it.
 */
#ifndef MMIRROR_SPINLOCK_H
#define MMIRROR_SPINLOCK_H

#include <mmirror/atomic.h>
#include <mmirror/compiler.h>

/*
 * lock_owner_self() - a non-zero identity of the calling thread, unique for
 * the life of the process (never reused, unlike a TLS address or a tid).
 * Every mmirror lock records it as its owner.
 */
extern __thread unsigned long __lock_owner_id;
unsigned long __lock_owner_assign(void);

static inline unsigned long lock_owner_self(void)
{
	unsigned long id = __lock_owner_id;

	return likely(id) ? id : __lock_owner_assign();
}

typedef struct spinlock {
	u32 locked; /* 0 free, 1 held: see the protocol above */
	unsigned long owner; /* lock_owner_self() of the holder, 0 if free */
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(name)      \
	{                               \
		.locked = 0, .owner = 0 \
	}
#define DEFINE_SPINLOCK(name) spinlock_t name = __SPIN_LOCK_UNLOCKED(name)

/**
 * spin_lock_init() - initialise a spinlock to the unlocked state.
 * @lock: the lock.
 *
 * Context: nobody else may be using @lock.
 */
void spin_lock_init(spinlock_t *lock);

/**
 * spin_lock() - acquire @lock, spinning (then yielding) until it is free.
 * @lock: the lock.
 *
 * Context: does not sleep in a futex, but may sched_yield().  Recursive
 * acquisition is a deadlock and WARNs first.
 */
void spin_lock(spinlock_t *lock);

/**
 * spin_trylock() - acquire @lock if it is free, without waiting.
 * @lock: the lock.
 *
 * Return: 1 if the lock was acquired, 0 if it was held.
 */
int spin_trylock(spinlock_t *lock);

/**
 * spin_unlock() - release @lock.
 * @lock: the lock, held by the caller.
 *
 * Releasing a lock the caller does not hold WARNs and leaves the lock as it
 * was (so the real holder keeps its mutual exclusion).
 */
void spin_unlock(spinlock_t *lock);

/**
 * spin_is_locked() - is @lock held by anyone?
 * @lock: the lock.
 *
 * Return: a snapshot only, for assertions and heuristics.
 */
static inline bool spin_is_locked(const spinlock_t *lock)
{
	/* Pairs with the exchange in spin_lock / release in spin_unlock. */
	return READ_ONCE(lock->locked) != 0;
}

/**
 * spin_is_held_by_me() - does the calling thread hold @lock?
 * @lock: the lock.
 *
 * Return: exact for the caller (only the holder writes @lock->owner).
 */
static inline bool spin_is_held_by_me(const spinlock_t *lock)
{
	/* Pairs with the holder's WRITE_ONCE(owner) in spin_lock/unlock. */
	return READ_ONCE(lock->owner) == lock_owner_self();
}

/* WARN unless the caller holds @lock. */
#define spin_assert_held(lock) WARN_ON(!spin_is_held_by_me(lock))
/* WARN if the caller holds @lock (e.g. before a call that takes it). */
#define spin_assert_not_held(lock) WARN_ON(spin_is_held_by_me(lock))

/*
 * lockdep_assert_held(lock) - the kernel's spelling, for any mmirror lock:
 * WARNs unless the caller holds @lock (a spinlock_t, struct mutex or struct
 * rw_semaphore).  For an rwsem "held" means write-held by the caller or
 * read-held by somebody: read holders are counted, not tracked.  The
 * helpers are declared here so the macro works whichever lock header was
 * included; they are defined beside their locks.
 */
struct mutex;
struct rw_semaphore;
bool mutex_is_held_by_me(const struct mutex *lock);
bool rwsem_is_held_by_me(const struct rw_semaphore *sem);

static inline bool __spin_is_held_by_me_fn(const spinlock_t *lock)
{
	return spin_is_held_by_me(lock);
}

#define lock_is_held_by_me(lock) \
	_Generic((lock),                                           \
		spinlock_t *: __spin_is_held_by_me_fn,             \
		const spinlock_t *: __spin_is_held_by_me_fn,       \
		struct mutex *: mutex_is_held_by_me,               \
		const struct mutex *: mutex_is_held_by_me,         \
		struct rw_semaphore *: rwsem_is_held_by_me,        \
		const struct rw_semaphore *: rwsem_is_held_by_me)(lock)

#define lockdep_assert_held(lock) WARN_ON(!lock_is_held_by_me(lock))

#endif /* MMIRROR_SPINLOCK_H */
