/* SPDX-License-Identifier: MIT */
/*
 * sched.h - private interface between the explorer's parent side
 * (explore.c: forking, collecting, reporting) and its child side
 * (sched.c: running one schedule under the controlled scheduler).
 */
#ifndef MMIRROR_EXPLORE_SCHED_H
#define MMIRROR_EXPLORE_SCHED_H

#include <stddef.h>
#include <mmirror/explore.h>

#define EXPLORE_MAX_THREADS 64
#define EXPLORE_MAX_DEPTH 16
#define EXPLORE_DEFAULT_STEPS 100000UL

/*
 * One planned decision (the shrinker's): when thread @cur, having passed
 * @points sched points, asks for the next thread (@runnable: while it
 * could itself go on), choose @choice if it can run.  Naming decisions by
 * thread and point instead of by position keeps the others in place when
 * one is dropped.
 */
struct explore_plan {
	int cur;
	unsigned long points;
	bool runnable;
	int choice;
};

/* What one child runs: a strategy and seed, or forced decisions. */
struct explore_params {
	enum explore_strategy strategy;
	unsigned int depth; /* PCT d */
	unsigned long seed;
	unsigned long max_steps;
	unsigned long pct_k; /* PCT: decision points per schedule */
	bool first_runnable; /* calibration: never preempt */
	/*
	 * Replay, DFS prefix, shrink candidate: decisions to force, in
	 * order.  Past the end (or where a forced thread is not runnable)
	 * EXPLORE_DFS continues with the default choice (the current thread
	 * if it can run, else the lowest-indexed runnable one); the other
	 * strategies mark the run diverged and take the lowest index.
	 */
	const int *forced;
	size_t nr_forced;
	/* Shrinking: planned decisions, the default everywhere else. */
	const struct explore_plan *plan;
	size_t nr_plan;
};

/*
 * explore_child_main() - run @s once under @p in this (forked, single-
 * threaded) process and write the outcome to @fd; never returns.
 *
 * The outcome is text, one record a line:
 *   V <verdict> <steps> <violations> <preemptions> <diverged>
 *   T <thread> <name>
 *   D <decision> <decision> ...
 *   R <mask>:<self>:<cur>:<points> ...
 *   E <step> <thread> <kind> <text>
 *   M <report line>
 *   END
 *
 * D lists the thread chosen at each decision point (a point where two or
 * more threads could run); R gives, for the same points in the same
 * order, the runnable set as a hexadecimal bit mask, the current
 * thread's index if it is in that set ("-" if it is not: it blocked,
 * spins or exited), the thread that asked and how many sched points it
 * had passed.  Choosing another thread than a listed <self> is a
 * preemption; the DFS (explore.c) branches on these sets, the shrinker
 * names decisions by <cur>:<points>.
 */
void explore_child_main(const struct explore_scenario *s,
			const struct explore_params *p, int fd)
	__attribute__((noreturn));

const char *explore_trace_kind_name(int kind);

#endif /* MMIRROR_EXPLORE_SCHED_H */
