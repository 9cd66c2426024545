/* SPDX-License-Identifier: MIT */
/*
 * rwsem.h - reader/writer semaphores, kernel API (the mm's mmap_lock).
 *
 * Semantics (the full protocol is in src/base/rwsem.c):
 *  - Any number of readers, or one writer.
 *  - Writers are not starved: once a writer is queued, new down_read()
 *    calls queue behind it and down_read_trylock() fails, until that
 *    writer has had its turn.
 *  - Readers are not starved either: the wait queue is FIFO, and when the
 *    lock can go to readers, every reader queued before the next queued
 *    writer is let in together.
 *  - downgrade_write() turns a write hold into a read hold atomically and
 *    lets in the readers queued at the head of the queue.
 *  - Write ownership is tracked per thread (asserts; up_write by a
 *    non-owner WARNs and is refused).  Read holders are only counted.
 *  - Uncontended down/up are one atomic RMW each.
 */
#ifndef MMIRROR_RWSEM_H
#define MMIRROR_RWSEM_H

#include <mmirror/compiler.h>
#include <mmirror/list.h>
#include <mmirror/spinlock.h>

struct rw_semaphore {
	/* State word, layout in rwsem.c.  Atomic RMWs only. */
	long count;
	/* lock_owner_self() of the write holder, 0 otherwise. */
	unsigned long owner;
	/* Guards the wait list and the waiter counters; leaf lock. */
	spinlock_t wait_lock;
	struct list_head wait_list;
	/* Queued waiters by kind: written under wait_lock, read anywhere;
	 * a waiter is counted only after WAITERS is set in count. */
	unsigned int nr_waiting_readers;
	unsigned int nr_waiting_writers;
};

#define __RWSEM_INITIALIZER(name)                                    \
	{                                                            \
		.count = 0, .owner = 0,                              \
		.wait_lock = __SPIN_LOCK_UNLOCKED((name).wait_lock), \
		.wait_list = LIST_HEAD_INIT((name).wait_list),       \
		.nr_waiting_readers = 0, .nr_waiting_writers = 0,    \
	}
#define DECLARE_RWSEM(name) struct rw_semaphore name = __RWSEM_INITIALIZER(name)

/**
 * init_rwsem() - initialise an rwsem to the unlocked state.
 * @sem: the semaphore.
 *
 * Context: nobody else may be using @sem.
 */
void init_rwsem(struct rw_semaphore *sem);

/**
 * down_read() - acquire @sem for reading, sleeping while it is write-held
 * or while any waiter (in particular a writer) is queued.
 * @sem: the semaphore.
 *
 * Context: may sleep.
 */
void down_read(struct rw_semaphore *sem);

/**
 * down_read_killable() - down_read() that a fatal signal could interrupt.
 * mmirror has no signals: always acquires.
 * @sem: the semaphore.
 *
 * Return: 0.
 */
int down_read_killable(struct rw_semaphore *sem);

/**
 * down_read_trylock() - acquire @sem for reading without sleeping.
 * @sem: the semaphore.
 *
 * Fails while the lock is write-held or anybody is queued (writer
 * preference).
 *
 * Return: 1 if acquired, 0 otherwise.
 */
int down_read_trylock(struct rw_semaphore *sem);

/**
 * up_read() - release a read hold; wakes the queue head if it was the last.
 * @sem: the semaphore, read-held by the caller.
 *
 * Context: does not sleep (may spin briefly on the wait lock).
 */
void up_read(struct rw_semaphore *sem);

/**
 * down_write() - acquire @sem for writing, sleeping until it is free and
 * every waiter queued before the caller has had its turn.
 * @sem: the semaphore.
 *
 * Context: may sleep.
 */
void down_write(struct rw_semaphore *sem);

/**
 * down_write_killable() - down_write() that a fatal signal could
 * interrupt.  mmirror has no signals: always acquires.
 * @sem: the semaphore.
 *
 * Return: 0.
 */
int down_write_killable(struct rw_semaphore *sem);

/**
 * down_write_trylock() - acquire @sem for writing without sleeping.
 * @sem: the semaphore.
 *
 * May fail spuriously for an instant after a release, while a reader that
 * lost the race backs its speculative count out (as in the kernel).
 *
 * Return: 1 if acquired, 0 otherwise.
 */
int down_write_trylock(struct rw_semaphore *sem);

/**
 * up_write() - release the write hold and hand the lock to the queue head.
 * @sem: the semaphore, write-held by the caller.
 *
 * Release by a thread that does not write-hold @sem WARNs and is refused.
 */
void up_write(struct rw_semaphore *sem);

/**
 * downgrade_write() - atomically turn the caller's write hold into a read
 * hold; readers queued at the head of the queue are let in with it.
 * @sem: the semaphore, write-held by the caller.
 *
 * No writer can get in between.  Afterwards the caller releases with
 * up_read().
 */
void downgrade_write(struct rw_semaphore *sem);

/**
 * rwsem_is_locked() - is @sem held in either mode?  A snapshot only.
 * @sem: the semaphore.
 */
bool rwsem_is_locked(const struct rw_semaphore *sem);

/**
 * rwsem_is_contended() - is anybody queued on @sem?  A snapshot only.
 * @sem: the semaphore.
 */
bool rwsem_is_contended(const struct rw_semaphore *sem);

/**
 * rwsem_waiting_writers() / rwsem_waiting_readers() - how many writers /
 * readers are queued right now (a snapshot, for tests and statistics).
 * mmirror extension.
 * @sem: the semaphore.
 */
static inline unsigned int rwsem_waiting_writers(const struct rw_semaphore *sem)
{
	/* Acquire: pairs with the release increment in rwsem.c (so a
	 * counted waiter implies rwsem_is_contended()). */
	return smp_load_acquire(&sem->nr_waiting_writers);
}

static inline unsigned int rwsem_waiting_readers(const struct rw_semaphore *sem)
{
	/* Acquire: pairs with the release increment in rwsem.c (so a
	 * counted waiter implies rwsem_is_contended()). */
	return smp_load_acquire(&sem->nr_waiting_readers);
}

/**
 * rwsem_is_write_held_by_me() - does the caller hold @sem for writing?
 * @sem: the semaphore.
 *
 * Return: exact for the caller.
 */
static inline bool rwsem_is_write_held_by_me(const struct rw_semaphore *sem)
{
	/* Only the write holder (or the granter, before handing over) writes
	 * owner; the caller's own writes are always visible to it. */
	return READ_ONCE(sem->owner) == lock_owner_self();
}

/*
 * rwsem_is_held_by_me() (declared in spinlock.h for lockdep_assert_held):
 * write-held by the caller, or read-held by somebody.
 */

/* WARN unless @sem is write-held by the caller or read-held at all. */
#define rwsem_assert_held(sem) WARN_ON(!rwsem_is_held_by_me(sem))
/* WARN unless the caller holds @sem for writing. */
#define rwsem_assert_held_write(sem) WARN_ON(!rwsem_is_write_held_by_me(sem))

#endif /* MMIRROR_RWSEM_H */
