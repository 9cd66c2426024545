// SPDX-License-Identifier: MIT
/*
 * Wait queues: the sequence-word futex protocol described in wait.h (steps
 * W1..W6 for waiters, K1..K5 for wakers are named in the comments).
 */
#include <mmirror/futex.h>
#include <mmirror/wait.h>
#include "check_hooks.h"

void init_waitqueue_head(wait_queue_head_t *wq)
{
	WRITE_ONCE(wq->seq, 0);
	WRITE_ONCE(wq->waiters, 0);
}

void __wait_event_prepare(wait_queue_head_t *wq)
{
	/* Only reached when the condition was false: about to sleep. */
	might_sleep_named("wait_event");
	/* W1 */
	sched_point(SP_ATOMIC, &wq->waiters);
	__atomic_fetch_add(&wq->waiters, 1, __ATOMIC_RELAXED);
	/* W2: pairs with K2, the smp_mb() in wake_up (Dekker). */
	smp_mb();
}

void __wait_event_sleep(wait_queue_head_t *wq, u32 seq)
{
	/* W5: sleeps only while seq is still the value read at W3. */
	base_futex_wait(&wq->seq, seq);
}

void __wait_event_finish(wait_queue_head_t *wq)
{
	/* W6: a late wake_up that still counts us costs one futex call. */
	sched_point(SP_ATOMIC, &wq->waiters);
	__atomic_fetch_sub(&wq->waiters, 1, __ATOMIC_RELAXED);
}

void wake_up(wait_queue_head_t *wq)
{
	sched_point(SP_WAKE, wq);
	/* K2 + K3: wq_has_sleeper() is the fence paired with W2. */
	if (!wq_has_sleeper(wq))
		return;
	/* K4: release pairs with W3's acquire load of seq. */
	sched_point(SP_ATOMIC, &wq->seq);
	__atomic_fetch_add(&wq->seq, 1, __ATOMIC_RELEASE);
	/* K5 */
	base_futex_wake(&wq->seq, INT32_MAX);
}

void wake_up_all(wait_queue_head_t *wq)
{
	wake_up(wq);
}
