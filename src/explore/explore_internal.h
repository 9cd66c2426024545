/* SPDX-License-Identifier: MIT */
/*
 * explore_internal.h - what the parent side of the explorer shares between
 * its three files.  The parent is single-threaded (poll, no threads, so
 * that fork() is safe): nothing here takes a lock.
 *
 *   explore.c - the core: fork one child per schedule (sched.c runs it),
 *               collect each child's report into a struct outcome, count
 *               verdicts into the struct collect, explore() and replay.
 *   dfs.c     - the DFS driver over decision prefixes (the frontier is in
 *               strategy.c) and the shrinking driver for the first bad
 *               schedule; both run children through explore_run_schedules().
 *   report.c  - the printing: progress line, summary line and table, the
 *               first bad schedule with its race diagram, and the names of
 *               verdicts, strategies and trace kinds.
 */
#ifndef MMIRROR_EXPLORE_INTERNAL_H
#define MMIRROR_EXPLORE_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include "sched.h"
#include "strategy.h"

/* One child's report as the core parsed it. */
struct outcome {
	int verdict;
	unsigned long steps, violations, preemptions;
	bool diverged; /* a forced decision was not possible */
	char *decisions; /* "d 0 1 ..." */
	struct explore_trail trail; /* decisions with their runnable sets */
	char *events; /* one line per event */
	char *messages; /* the oracle's report */
};

/*
 * What explore_run_schedules() runs: @next fills the parameters (and a tag) of the
 * next schedule to start, or returns false if there is none right now;
 * @done sees each outcome (in completion order) and returns false to stop
 * starting new ones; @tick, if set, runs about twice a second.
 */
struct runner {
	bool (*next)(void *arg, struct explore_params *p, unsigned long *tag);
	void *next_arg;
	bool (*done)(void *arg, unsigned long tag, struct outcome *o);
	void *done_arg;
	void (*tick)(void *arg);
	void *tick_arg;
	unsigned int jobs;
};

/* explore()'s state: the counts, the first bad schedule, progress. */
struct collect {
	const struct explore_scenario *s;
	const struct explore_opts *opts;
	const struct explore_params *base;
	struct explore_result *res;
	char *bad_messages;
	struct explore_trail bad_trail; /* for shrinking */
	long shrink_budget; /* child runs */
	double t0, last_progress;
	bool tty;
};

/* report.c: indexed by enum explore_verdict and enum explore_strategy. */
extern const char *const explore_verdict_names[];
extern const char *const explore_strategy_names[];

/* explore.c: the core. */

/* CLOCK_MONOTONIC in seconds. */
double explore_now(void);
/* strdup() that cannot fail (BUG_ON). */
char *explore_xstrdup(const char *s);
/* Free what a struct outcome owns, not the outcome itself. */
void explore_outcome_free(struct outcome *o);
/* Run what @r hands out until it has nothing left and every job ended. */
int explore_run_schedules(const struct explore_scenario *s, struct runner *r);
/* Run the one schedule @p; its outcome goes to *@o (caller frees). */
int explore_run_one(const struct explore_scenario *s,
		    const struct explore_params *p, struct outcome *o);
/* @o becomes the first bad schedule: take its text, events and trail. */
void explore_keep_bad(struct collect *c, const struct explore_params *p,
		      struct outcome *o);
/* runner->done of explore(): count @o's verdict, keep the first bad one. */
bool explore_collect_one(void *arg, unsigned long idx, struct outcome *o);

/* dfs.c: the DFS and the shrinking drivers. */

/* Run the DFS of explore() (at most opts->schedules), committing to @c. */
int explore_dfs(const struct explore_scenario *s, struct collect *c);
/* Shrink the first bad schedule in @c within opts->shrink_budget runs. */
int explore_shrink(const struct explore_scenario *s, struct collect *c);

/* report.c: printing. */

/* runner->tick of explore(): the progress line, about once a second. */
void explore_progress_tick(void *arg);
/* Draw the event lines built by the core as a CPU-column race diagram. */
void explore_print_diagram(FILE *out, const char *events);
/* The summary line, the first bad schedule if any, the summary table. */
void explore_print_summary(FILE *out, struct collect *c);

#endif /* MMIRROR_EXPLORE_INTERNAL_H */
