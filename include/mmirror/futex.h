/* SPDX-License-Identifier: MIT */
/*
 * futex.h - the single blocking primitive under every mmirror wait.
 *
 * Mutexes, rw-semaphores, completions, wait queues, RCU grace periods and
 * TLB-shootdown acknowledgements all sleep here and nowhere else
 * (DESIGN.md: "Every wait goes through src/base").  The explorer replaces
 * these two functions' behaviour to make a waiting thread non-runnable.
 *
 * Protocol, as for Linux futexes: a waiter publishes its intent in the
 * shared word's owner protocol, then calls base_futex_wait(word, seen),
 * which sleeps only if *word still equals @seen (checked atomically against
 * wakers).  A waker changes *word first, then calls base_futex_wake().
 * Spurious returns are allowed: every caller re-checks its condition.
 */
#ifndef MMIRROR_FUTEX_H
#define MMIRROR_FUTEX_H

#include <mmirror/compiler.h>

/* Sleep while *@word == @seen.  May return spuriously. */
void base_futex_wait(u32 *word, u32 seen);
/* Wake up to @nr sleepers on @word (INT32_MAX: all). */
void base_futex_wake(u32 *word, int nr);

#endif /* MMIRROR_FUTEX_H */
