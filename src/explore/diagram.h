/* SPDX-License-Identifier: MIT */
/*
 * diagram.h - the CPU-column race diagram, in the style of seed 000: one
 * column per thread, time flowing down, each row one event in its
 * thread's column and blank space in the others.
 *
 *    step  T0 main           | T1 fault
 *    ----  ----------------- | -----------------
 *       3  inv_start 0x1000  |
 *       5                    | dev map 0x1000
 * >>    9                    | !! dev write 0x1000 !!
 *
 * The explorer records (step, thread, kind, text) per schedule from the
 * trace sink (src/base/trace.h) and hands the array to diagram_render().
 * The renderer only formats: it never allocates on behalf of the caller
 * and keeps no state, so any thread may call it.
 *
 * Lock events: in relevant-only mode a lock/unlock row is kept only if the
 * lock "matters", i.e. at least two threads of the trace take it (a lock
 * one thread alone takes orders nothing between threads).  A lock is
 * named by its event text with the first word removed: "lock &dev->lock"
 * and "unlock &dev->lock" name the same lock.  Texts of one word name
 * themselves.  Lock tracers must follow that convention.
 */
#ifndef MMIRROR_EXPLORE_DIAGRAM_H
#define MMIRROR_EXPLORE_DIAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "base/trace.h"

/* One recorded event: @thread indexes the caller's thread-name array. */
struct diagram_event {
	unsigned long step; /* the schedule step it happened at */
	unsigned int thread;
	enum trace_kind kind;
	const char *text; /* one line; control characters print as ' ' */
	bool marked; /* the violating access: '>>' and '!! ... !!' */
};

struct diagram_opts {
	/* Keep only the kinds a race is explained by (see above). */
	bool relevant_only;
	/*
	 * Elide a run of more than @max_run consecutive rows of one thread
	 * down to its first max_run/2 and last max_run/2 - 1 rows around a
	 * "... K more steps of NAME ..." row.  Only lock, unlock and note
	 * rows are ever hidden: marked rows and notifier, PTE, TLB, fault
	 * and device rows are always shown.
	 * 0: never elide.  Values below 3 count as 3.
	 */
	unsigned int max_run;
	/* A column's widest text; longer texts wrap.  0: 40. */
	unsigned int max_width;
	/* Lines per event once wrapped; the last ends "...".  0: no limit. */
	unsigned int max_lines;
};

bool diagram_kind_relevant(enum trace_kind kind);
int diagram_render(FILE *out, const struct diagram_event *ev, size_t nr,
		   const char *const *names, unsigned int nr_threads,
		   const struct diagram_opts *opts);

#endif /* MMIRROR_EXPLORE_DIAGRAM_H */
