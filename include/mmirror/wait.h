/* SPDX-License-Identifier: MIT */
/*
 * wait.h - wait queues and wait_event(), kernel API, on a futex.
 *
 * A wait queue here is not a list: it is two 32-bit words.
 *
 *   wq->seq      bumped (release RMW) by every wake_up*() that finds a
 *                waiter; the futex word waiters sleep on.
 *   wq->waiters  threads inside wait_event() on this queue.
 *
 * Waiter (wait_event):              Waker:
 *   W1 waiters += 1                   K1 make the condition true (store)
 *   W2 smp_mb()                       K2 smp_mb()
 *   loop:                             K3 if waiters == 0: done
 *   W3   s = load_acquire(seq)        K4 seq += 1 (release RMW)
 *   W4   if (condition) break         K5 futex_wake(seq, all)
 *   W5   futex_wait(seq, s)
 *   W6 waiters -= 1
 *
 * No lost wake-up, the two cases:
 *  - K3 reads waiters == 0: W1 was not visible.  W2 and K2 are full
 *    fences (store-buffering / Dekker): since the waker's K3 missed W1, the
 *    waiter's W4 (after W2) sees K1, so the waiter does not sleep.  One
 *    fence at W2 covers every iteration: W4 of any round comes after it.
 *  - K3 reads waiters > 0: K4 changes seq after K1.  If the waiter's W3
 *    read seq before K4, W5 either finds seq != s and returns, or is
 *    already queued and K5 wakes it (the futex checks and queues
 *    atomically against wakes).  If W3 read K4's value (or later), the
 *    acquire pairs with K4's release, so W4 sees K1: condition true.
 *
 * THE WAITQUEUE_ACTIVE CAVEAT (as in the kernel): waitqueue_active() alone
 * is a racy hint; a waker that wants to skip wake_up() by testing it must
 * put a full barrier (smp_mb) between making the condition true and the
 * test, i.e. use wq_has_sleeper().  wake_up() itself does that (K2).
 *
 * All our waiters are non-exclusive, so wake_up() wakes every waiter, as
 * the kernel's wake_up() does for non-exclusive waiters (each re-evaluates
 * its own condition).  wake_up_all() is the same.  Deviations from the
 * kernel: no exclusive waits, no custom wake functions, no timeouts or
 * signals, no wait_queue_entry list.  A 32-bit seq can wrap: a waiter
 * preempted between W3 and W5 across exactly 2^32 wake-ups would miss one
 * (not a practical concern).
 */
#ifndef MMIRROR_WAIT_H
#define MMIRROR_WAIT_H

#include <mmirror/atomic.h>
#include <mmirror/compiler.h>

typedef struct wait_queue_head {
	u32 seq; /* wake-up generation, the futex word */
	u32 waiters; /* threads inside wait_event() */
} wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) \
	{                                   \
		.seq = 0, .waiters = 0      \
	}
#define DECLARE_WAIT_QUEUE_HEAD(name) \
	wait_queue_head_t name = __WAIT_QUEUE_HEAD_INITIALIZER(name)

/**
 * init_waitqueue_head() - initialise an empty wait queue.
 * @wq: the wait queue.
 *
 * Context: nobody else may be using @wq.
 */
void init_waitqueue_head(wait_queue_head_t *wq);

/* wait_event() internals: W1+W2, W5, W6 of the protocol above. */
void __wait_event_prepare(wait_queue_head_t *wq);
void __wait_event_sleep(wait_queue_head_t *wq, u32 seq);
void __wait_event_finish(wait_queue_head_t *wq);

/* W3: the generation to sleep on, read before testing the condition. */
static inline u32 __wait_event_seq(const wait_queue_head_t *wq)
{
	/* Acquire: pairs with the release RMW on seq in wake_up*(). */
	return smp_load_acquire(&wq->seq);
}

/**
 * wait_event() - sleep until @condition is true.
 * @wq: the wait queue (an lvalue of type wait_queue_head_t) the waker uses.
 * @condition: a C expression, re-evaluated after every wake-up.
 *
 * Whoever makes @condition true must call wake_up(&wq) afterwards.  The
 * condition is evaluated without any lock; if it reads shared data, that
 * data must be accessed with READ_ONCE / atomics (or under a lock taken in
 * the expression).
 *
 * Context: may sleep.
 */
#define wait_event(wq, condition)                            \
	do {                                                 \
		u32 __we_seq;                                \
		if (condition)                               \
			break;                               \
		__wait_event_prepare(&(wq));                 \
		for (;;) {                                   \
			__we_seq = __wait_event_seq(&(wq));  \
			if (condition)                       \
				break;                       \
			__wait_event_sleep(&(wq), __we_seq); \
		}                                            \
		__wait_event_finish(&(wq));                  \
	} while (0)

/**
 * wake_up() - wake the threads in wait_event() on @wq so they re-test
 * their conditions.  Cheap (a fence and a load) when nobody waits.
 * @wq: the wait queue.
 *
 * Context: any; does not sleep.  Call it after making the condition true.
 */
void wake_up(wait_queue_head_t *wq);

/**
 * wake_up_all() - same as wake_up(): all waiters are non-exclusive.
 * @wq: the wait queue.
 */
void wake_up_all(wait_queue_head_t *wq);

/**
 * waitqueue_active() - is anybody in wait_event() on @wq?  Racy hint: see
 * the caveat at the top; prefer wq_has_sleeper().
 * @wq: the wait queue.
 */
static inline bool waitqueue_active(const wait_queue_head_t *wq)
{
	/* Pairs with the RMWs on waiters in __wait_event_prepare/finish. */
	return READ_ONCE(wq->waiters) != 0;
}

/**
 * wq_has_sleeper() - waitqueue_active() with the full barrier (K2) that
 * makes it safe after storing the condition.
 * @wq: the wait queue.
 */
static inline bool wq_has_sleeper(const wait_queue_head_t *wq)
{
	smp_mb(); /* pairs with the fence in __wait_event_prepare() */
	return waitqueue_active(wq);
}

#endif /* MMIRROR_WAIT_H */
