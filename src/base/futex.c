// SPDX-License-Identifier: MIT
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <mmirror/futex.h>
#include <mmirror/sched_point.h>

/*
 * Private futexes: every mmirror thread lives in one process.  EAGAIN (the
 * word changed), EINTR and spurious wake-ups all simply return; callers loop.
 */
void base_futex_wait(u32 *word, u32 seen)
{
	sched_point(SP_WAIT, word);
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void base_futex_wake(u32 *word, int nr)
{
	sched_point(SP_WAKE, word);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}
