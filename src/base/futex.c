// SPDX-License-Identifier: MIT
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <mmirror/futex.h>
#include <mmirror/sched_point.h>
#include "explore_hooks.h"

const struct base_explore_ops *base_explore;

void base_explore_set(const struct base_explore_ops *ops)
{
	/* Pairs with the acquire load in base_explore_ops(). */
	__atomic_store_n(&base_explore, ops, __ATOMIC_RELEASE);
}

/*
 * Private futexes: every mmirror thread lives in one process.  EAGAIN (the
 * word changed), EINTR and spurious wake-ups all simply return; callers loop.
 * Under the explorer a controlled thread does not sleep in the kernel: the
 * explorer marks it blocked on @word and runs another thread.
 */
void base_futex_wait(u32 *word, u32 seen)
{
	const struct base_explore_ops *ex;

	sched_point(SP_WAIT, word);
	ex = base_explore_ops();
	if (unlikely(ex) && ex->futex_wait(word, seen))
		return;
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void base_futex_wake(u32 *word, int nr)
{
	const struct base_explore_ops *ex;

	sched_point(SP_WAKE, word);
	ex = base_explore_ops();
	if (unlikely(ex) && ex->futex_wake(word, nr))
		return;
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}
