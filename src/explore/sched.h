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

/* What one child runs: a strategy and seed, or forced decisions. */
struct explore_params {
	enum explore_strategy strategy;
	unsigned int depth; /* PCT d */
	unsigned long seed;
	unsigned long max_steps;
	unsigned long pct_k; /* PCT: estimated steps per schedule */
	bool first_runnable; /* calibration: never preempt */
	const int *forced; /* replay: decisions to force, in order */
	size_t nr_forced;
};

/*
 * explore_child_main() - run @s once under @p in this (forked, single-
 * threaded) process and write the outcome to @fd; never returns.
 *
 * The outcome is text, one record a line:
 *   V <verdict> <steps> <violations> <preemptions> <diverged>
 *   T <thread> <name>
 *   D <decision> <decision> ...
 *   E <step> <thread> <kind> <text>
 *   M <report line>
 *   END
 */
void explore_child_main(const struct explore_scenario *s,
			const struct explore_params *p, int fd)
	__attribute__((noreturn));

const char *explore_trace_kind_name(int kind);

#endif /* MMIRROR_EXPLORE_SCHED_H */
