// SPDX-License-Identifier: MIT
/*
 * Reader/writer semaphores (the mmap_lock).
 *
 * STATE WORD (sem->count, a long changed only by atomic RMWs)
 *
 *   bit 0        RWSEM_WRITER_LOCKED  a writer holds the lock
 *   bit 1        RWSEM_FLAG_WAITERS   the wait list is not empty
 *   bits 2..7    unused (zero)
 *   bits 8..62   reader count, in units of RWSEM_READER_BIAS (1 << 8)
 *
 *   The reader count holds the granted read holders plus, transiently,
 *   "speculative" biases: down_read() adds its bias first and looks at the
 *   flags afterwards (one RMW on the fast path); a reader that finds
 *   WRITER_LOCKED or WAITERS set keeps its bias only until it takes the
 *   wait lock in the slow path, where it backs it out.
 *
 * INVARIANTS
 *
 *   I1  WAITERS is set  <=>  the wait list is non-empty, whenever wait_lock
 *       is free.  Both are changed only under wait_lock, and the RMW that
 *       grants the last waiter clears WAITERS in the same step.
 *   I2  While WAITERS is set, no fast path succeeds: down_read's fast path
 *       requires the flag clear and down_write's cmpxchg requires count == 0.
 *       So nobody overtakes a queued waiter: this is the writer preference
 *       (a queued writer blocks new readers) and also FIFO fairness.
 *   I3  Waiters acquire only by hand-off: the thread that runs
 *       rwsem_grant() (under wait_lock) changes the count on the waiter's
 *       behalf, dequeues it and only then publishes waiter->granted.
 *   I4  WRITER_LOCKED and a non-zero count of *granted* readers never
 *       coexist.
 *
 * FAST PATHS (no wait lock, one atomic RMW each)
 *
 *   down_read   fetch_add(BIAS), acquire.  Success iff the old value had
 *               neither WRITER_LOCKED nor WAITERS.
 *   up_read     fetch_sub(BIAS), release.  If that left no readers, no
 *               writer and WAITERS set: rwsem_wake().
 *   down_write  cmpxchg(0 -> WRITER_LOCKED), acquire.
 *   up_write    fetch_sub(WRITER_LOCKED), release.  If WAITERS was set:
 *               rwsem_wake().
 *   downgrade   fetch_add(BIAS - WRITER_LOCKED): writer bit off, one reader
 *               on, in one step.  If WAITERS was set: rwsem_wake().
 *
 * WAKE-UP PROTOCOL (slow paths, all under sem->wait_lock)
 *
 *   A blocked thread puts a struct rwsem_waiter (on its stack) at the tail
 *   of the wait list, sets WAITERS with an RMW if the list was empty, and
 *   then runs rwsem_grant() itself before dropping the wait lock.
 *   rwsem_grant() looks at the head of the queue and the count:
 *
 *     head is a writer: if no readers and no writer, cmpxchg in
 *         WRITER_LOCKED (clearing WAITERS if it is the last waiter) and
 *         hand the lock over.  Otherwise do nothing: whoever later makes
 *         the lock free will see WAITERS and call rwsem_wake().
 *     head is a reader: if no writer, add one BIAS for every reader queued
 *         before the first queued writer, in one cmpxchg, and hand the
 *         lock to all of them.
 *
 *   Hand-off (I3): set the new write owner if any, list_del the waiter,
 *   smp_store_release(&waiter->granted, 1), base_futex_wake() it.  The
 *   waiter sleeps in base_futex_wait(&waiter->granted, 0) until it reads
 *   granted != 0 with an acquire load.  After the release store the waiter
 *   may return and its stack frame be reused: the granter touches it no
 *   more, except that the futex wake may hit a recycled address, which at
 *   worst causes a spurious wake-up (all futex waits re-check and loop).
 *
 *   No lost wake-up.  Every change that can make the head grantable is an
 *   RMW on count (up_read, up_write, downgrade, a slow reader backing its
 *   bias out).  Either it reads WAITERS set and then calls rwsem_wake()
 *   (which takes wait_lock, so it runs rwsem_grant() after the enqueuer
 *   released it), or it precedes, in count's modification order, the
 *   enqueuer's RMW that set WAITERS, in which case the enqueuer's own
 *   rwsem_grant() call sees its effect.  A slow reader backs its bias out
 *   under wait_lock and then enqueues and grants, so a release that was
 *   hidden by its speculative bias is never missed.
 *
 *   Timeline of the writer-preference rule (R0 holds the lock for read):
 *
 *       R0               W                          R1
 *       down_read ok
 *                        down_write: cmpxchg fails
 *                        enqueue, set WAITERS
 *                        grant: readers > 0, wait
 *                                                   down_read: sees WAITERS
 *                                                   back out, enqueue
 *                                                   grant: head is W, wait
 *       up_read: count = WAITERS -> rwsem_wake
 *         grant W (WRITER_LOCKED)
 *                        ...write...
 *                        up_write: WAITERS -> rwsem_wake
 *                          grant R1 (+BIAS, clear WAITERS)
 *                                                   ...read...
 *
 * MEMORY ORDERING
 *
 *   Fast-path acquisitions are acquire RMWs, releases are release RMWs, on
 *   count.  A hand-off chains: the releaser's release RMW -> the granter's
 *   acq_rel cmpxchg on count (reads the release sequence) -> the granter's
 *   release store of waiter->granted -> the waiter's acquire load of it.
 *   So every critical section happens before the next one that excludes it.
 *
 * LOCK ORDER: sem->wait_lock is a leaf spinlock, taken inside the slow
 * paths only; nothing sleeps while holding it.
 */
#include <limits.h>
#include <mmirror/futex.h>
#include <mmirror/rwsem.h>
#include "check_hooks.h"
#include "trace.h"

#define RWSEM_WRITER_LOCKED (1L << 0)
#define RWSEM_FLAG_WAITERS (1L << 1)
#define RWSEM_READER_SHIFT 8
#define RWSEM_READER_BIAS (1L << RWSEM_READER_SHIFT)
#define RWSEM_READER_MASK (~(RWSEM_READER_BIAS - 1))
#define RWSEM_READ_FAILED_MASK (RWSEM_WRITER_LOCKED | RWSEM_FLAG_WAITERS)

/* Rounds a waiter polls its granted flag before sleeping in the futex. */
#define RWSEM_SPIN_ROUNDS 100

enum rwsem_waiter_type {
	RWSEM_WAITING_FOR_READ,
	RWSEM_WAITING_FOR_WRITE,
};

struct rwsem_waiter {
	struct list_head list; /* in sem->wait_list, under wait_lock */
	enum rwsem_waiter_type type;
	unsigned long task; /* lock_owner_self() of the waiter */
	u32 granted; /* 0 -> 1 by the granter (release) */
};

void init_rwsem(struct rw_semaphore *sem)
{
	WRITE_ONCE(sem->count, 0);
	WRITE_ONCE(sem->owner, 0);
	spin_lock_init(&sem->wait_lock);
	INIT_LIST_HEAD(&sem->wait_list);
	WRITE_ONCE(sem->nr_waiting_readers, 0);
	WRITE_ONCE(sem->nr_waiting_writers, 0);
}

static inline long rwsem_read_count(const struct rw_semaphore *sem)
{
	/* Pairs with the RMWs on count (coherence only; callers RMW next). */
	return READ_ONCE(sem->count);
}

static inline long rwsem_readers(long c)
{
	return (long)((unsigned long)c >> RWSEM_READER_SHIFT);
}

/* Hand @w the lock it was granted (the count already reflects it). */
static void rwsem_handoff(struct rw_semaphore *sem, struct rwsem_waiter *w)
{
	list_del(&w->list);
	if (w->type == RWSEM_WAITING_FOR_WRITE) {
		WRITE_ONCE(sem->nr_waiting_writers,
			   sem->nr_waiting_writers - 1);
		/* The new holder reads this only after its acquire below. */
		WRITE_ONCE(sem->owner, w->task);
	} else {
		WRITE_ONCE(sem->nr_waiting_readers,
			   sem->nr_waiting_readers - 1);
	}
	/*
	 * Release: pairs with the acquire load in rwsem_wait().  From here on
	 * @w may vanish; only its address is used below (a spurious wake-up at
	 * worst, see the protocol comment).
	 */
	smp_store_release(&w->granted, 1);
	base_futex_wake(&w->granted, 1);
}

/*
 * rwsem_grant() - give the lock to the head of the queue if it can have it.
 * Context: sem->wait_lock held.
 */
static void rwsem_grant(struct rw_semaphore *sem)
{
	struct rwsem_waiter *head, *w, *n;
	long c, new;
	unsigned long nr;
	bool more;

	spin_assert_held(&sem->wait_lock);
	c = rwsem_read_count(sem);
	for (;;) {
		head = list_first_entry_or_null(&sem->wait_list,
						struct rwsem_waiter, list);
		if (!head)
			return;
		if (head->type == RWSEM_WAITING_FOR_WRITE) {
			/*
			 * Readers (granted or speculative) or a writer: the
			 * one who clears them sees WAITERS and calls back.
			 */
			if (c & (RWSEM_READER_MASK | RWSEM_WRITER_LOCKED))
				return;
			new = c | RWSEM_WRITER_LOCKED;
			if (head->list.next == &sem->wait_list) /* last */
				new &= ~RWSEM_FLAG_WAITERS;
		} else {
			if (c & RWSEM_WRITER_LOCKED)
				return;
			/* Every reader before the first queued writer. */
			nr = 0;
			more = false;
			list_for_each_entry(w, &sem->wait_list, list) {
				if (w->type == RWSEM_WAITING_FOR_WRITE) {
					more = true;
					break;
				}
				nr++;
			}
			new = c + (long)nr *RWSEM_READER_BIAS;
			if (!more)
				new &= ~RWSEM_FLAG_WAITERS;
		}
		/*
		 * acq_rel: acquire pairs with the release RMW that freed the
		 * lock (release sequence on count); release publishes the
		 * grant to later RMWs.  Failure reloads c: a fast path raced.
		 */
		sched_point(SP_ATOMIC, &sem->count);
		if (__atomic_compare_exchange_n(&sem->count, &c, new, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
	}

	if (head->type == RWSEM_WAITING_FOR_WRITE) {
		rwsem_handoff(sem, head);
		return;
	}
	list_for_each_entry_safe(w, n, &sem->wait_list, list) {
		if (w->type == RWSEM_WAITING_FOR_WRITE)
			break;
		rwsem_handoff(sem, w);
	}
}

/* Run the queue after a release that saw WAITERS.  Context: any. */
static __noinline void rwsem_wake(struct rw_semaphore *sem)
{
	spin_lock(&sem->wait_lock);
	rwsem_grant(sem);
	spin_unlock(&sem->wait_lock);
}

/*
 * Queue @w, grant whatever can be granted (maybe @w itself), then sleep
 * until @w is granted.  Context: wait_lock held on entry, dropped inside.
 */
static void rwsem_queue_and_wait(struct rw_semaphore *sem,
				 struct rwsem_waiter *w)
{
	bool first = list_empty(&sem->wait_list);

	w->task = lock_owner_self();
	w->granted = 0;
	list_add_tail(&w->list, &sem->wait_list);
	if (first) {
		/* I1; acq_rel orders us against releasers (no lost wake). */
		sched_point(SP_ATOMIC, &sem->count);
		__atomic_fetch_or(&sem->count, RWSEM_FLAG_WAITERS,
				  __ATOMIC_ACQ_REL);
	}
	/*
	 * Count ourselves only now, with release: pairs with the acquire in
	 * rwsem_waiting_*(), so whoever sees us counted also sees WAITERS
	 * set (new readers are already being turned away).
	 */
	if (w->type == RWSEM_WAITING_FOR_WRITE)
		smp_store_release(&sem->nr_waiting_writers,
				  sem->nr_waiting_writers + 1);
	else
		smp_store_release(&sem->nr_waiting_readers,
				  sem->nr_waiting_readers + 1);
	rwsem_grant(sem);
	spin_unlock(&sem->wait_lock);

	/* Acquire: pairs with the release store in rwsem_handoff(). */
	for (int i = 0; i < RWSEM_SPIN_ROUNDS; i++) {
		if (smp_load_acquire(&w->granted))
			return;
		cpu_relax();
	}
	while (!smp_load_acquire(&w->granted)) {
		base_futex_wait(&w->granted, 0);
		sched_point(SP_LOCK, sem);
	}
}

static __noinline void rwsem_down_read_slow(struct rw_semaphore *sem)
{
	struct rwsem_waiter w = { .type = RWSEM_WAITING_FOR_READ };
	long c;

	spin_lock(&sem->wait_lock);
	/*
	 * Back out the speculative bias under wait_lock.  If it was hiding a
	 * release (an up_read that left the count non-zero because of us),
	 * our own rwsem_grant() below sees the free lock.
	 */
	sched_point(SP_ATOMIC, &sem->count);
	c = __atomic_sub_fetch(&sem->count, RWSEM_READER_BIAS,
			       __ATOMIC_ACQ_REL);
	/*
	 * Nobody queued and no writer any more: take the read lock directly
	 * rather than queue (same RMW count as a fast path retry).
	 */
	while (!(c & RWSEM_READ_FAILED_MASK)) {
		sched_point(SP_ATOMIC, &sem->count);
		if (__atomic_compare_exchange_n(
			    &sem->count, &c, c + RWSEM_READER_BIAS, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			spin_unlock(&sem->wait_lock);
			return;
		}
	}
	rwsem_queue_and_wait(sem, &w);
}

void down_read(struct rw_semaphore *sem)
{
	long c;

	might_sleep();
	sched_point(SP_LOCK, sem);
	/* Acquire: pairs with up_write's / up_read's release RMWs. */
	c = __atomic_fetch_add(&sem->count, RWSEM_READER_BIAS,
			       __ATOMIC_ACQUIRE);
	if (unlikely(c & RWSEM_READ_FAILED_MASK))
		rwsem_down_read_slow(sem);
	trace_event(TR_LOCK, "down_read %p", sem);
}

int down_read_killable(struct rw_semaphore *sem)
{
	down_read(sem);
	return 0;
}

int down_read_trylock(struct rw_semaphore *sem)
{
	long c;

	sched_point(SP_LOCK, sem);
	c = rwsem_read_count(sem);
	/* No speculative bias here: a failed trylock leaves no trace. */
	while (!(c & RWSEM_READ_FAILED_MASK)) {
		if (__atomic_compare_exchange_n(
			    &sem->count, &c, c + RWSEM_READER_BIAS, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			trace_event(TR_LOCK, "down_read_trylock %p", sem);
			return 1;
		}
	}
	return 0;
}

void up_read(struct rw_semaphore *sem)
{
	long c;

	sched_point(SP_UNLOCK, sem);
	c = rwsem_read_count(sem);
	if (WARN_ON(!rwsem_readers(c) || (c & RWSEM_WRITER_LOCKED)))
		return; /* not read-held: refuse to corrupt the count */
	trace_event(TR_UNLOCK, "up_read %p", sem);
	/* Release: pairs with the acquire of the next holder / granter. */
	c = __atomic_sub_fetch(&sem->count, RWSEM_READER_BIAS,
			       __ATOMIC_RELEASE);
	if (unlikely((c & RWSEM_FLAG_WAITERS) && !rwsem_readers(c) &&
		     !(c & RWSEM_WRITER_LOCKED)))
		rwsem_wake(sem);
}

static __noinline void rwsem_down_write_slow(struct rw_semaphore *sem)
{
	struct rwsem_waiter w = { .type = RWSEM_WAITING_FOR_WRITE };

	spin_lock(&sem->wait_lock);
	/* Owner is set by the granter (maybe ourselves, inside). */
	rwsem_queue_and_wait(sem, &w);
}

static inline bool rwsem_write_trylock(struct rw_semaphore *sem)
{
	long c = 0;

	/* Acquire: pairs with the release RMWs of up_read / up_write. */
	return __atomic_compare_exchange_n(&sem->count, &c, RWSEM_WRITER_LOCKED,
					   false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

void down_write(struct rw_semaphore *sem)
{
	unsigned long me = lock_owner_self();

	might_sleep();
	WARN_ON(READ_ONCE(sem->owner) == me); /* recursion: deadlock */
	sched_point(SP_LOCK, sem);
	if (likely(rwsem_write_trylock(sem)))
		/* Only the holder (or its granter) writes owner. */
		WRITE_ONCE(sem->owner, me);
	else
		rwsem_down_write_slow(sem);
	trace_event(TR_LOCK, "down_write %p", sem);
}

int down_write_killable(struct rw_semaphore *sem)
{
	down_write(sem);
	return 0;
}

int down_write_trylock(struct rw_semaphore *sem)
{
	sched_point(SP_LOCK, sem);
	if (rwsem_read_count(sem) != 0 || !rwsem_write_trylock(sem))
		return 0;
	WRITE_ONCE(sem->owner, lock_owner_self());
	trace_event(TR_LOCK, "down_write_trylock %p", sem);
	return 1;
}

void up_write(struct rw_semaphore *sem)
{
	long c;

	sched_point(SP_UNLOCK, sem);
	if (WARN_ON(!rwsem_is_write_held_by_me(sem)))
		return;
	trace_event(TR_UNLOCK, "up_write %p", sem);
	WRITE_ONCE(sem->owner, 0);
	/* Release: pairs with the acquire of the next holder / granter. */
	c = __atomic_fetch_sub(&sem->count, RWSEM_WRITER_LOCKED,
			       __ATOMIC_RELEASE);
	if (unlikely(c & RWSEM_FLAG_WAITERS))
		rwsem_wake(sem);
}

void downgrade_write(struct rw_semaphore *sem)
{
	long c;

	sched_point(SP_UNLOCK, sem);
	if (WARN_ON(!rwsem_is_write_held_by_me(sem)))
		return;
	trace_event(TR_UNLOCK, "downgrade_write %p", sem);
	WRITE_ONCE(sem->owner, 0);
	/*
	 * Writer bit off and one reader on in a single RMW: no writer can get
	 * in between.  Release: the write section happens before the readers
	 * we let in (through rwsem_grant's acq_rel cmpxchg).
	 */
	c = __atomic_fetch_add(&sem->count,
			       RWSEM_READER_BIAS - RWSEM_WRITER_LOCKED,
			       __ATOMIC_RELEASE);
	if (unlikely(c & RWSEM_FLAG_WAITERS))
		rwsem_wake(sem);
}

bool rwsem_is_locked(const struct rw_semaphore *sem)
{
	return rwsem_read_count(sem) &
	       (RWSEM_READER_MASK | RWSEM_WRITER_LOCKED);
}

bool rwsem_is_contended(const struct rw_semaphore *sem)
{
	return rwsem_read_count(sem) & RWSEM_FLAG_WAITERS;
}

bool rwsem_is_held_by_me(const struct rw_semaphore *sem)
{
	long c;

	if (rwsem_is_write_held_by_me(sem))
		return true;
	/* Read holders are only counted: "read-held by somebody". */
	c = rwsem_read_count(sem);
	return rwsem_readers(c) && !(c & RWSEM_WRITER_LOCKED);
}
