/* SPDX-License-Identifier: MIT */
/*
 * explore.h - the deterministic explorer: run a scenario's threads one at
 * a time under a controlled scheduler, choose the interleaving at every
 * sched_point(), find races, replay them exactly, draw them.
 *
 * A scenario is C code: setup() builds the world (processes, mappings,
 * devices) single-threaded, run() is the scenario's main thread, which may
 * start more threads with kthread_run() and must join them, teardown()
 * destroys everything.  Under the explorer only one of the scenario's
 * threads runs at any moment; at each schedule point the strategy picks
 * the next.  A blocked thread (futex wait: mutex, rwsem, completion, wait
 * queue; a spin on something another thread must change; an RCU grace
 * period) is not runnable; when no thread is runnable and some are
 * blocked, the run ends with a deadlock.
 *
 * Each schedule runs in a child process forked from the explorer before
 * any scenario thread exists, so every schedule starts from the same
 * memory state, a deadlocked or crashed schedule is simply killed, and
 * --jobs splits the work across processes.
 *
 * A schedule is recorded as its decisions (which thread ran after each
 * point); replaying the decisions re-executes it exactly.
 */
#ifndef MMIRROR_EXPLORE_H
#define MMIRROR_EXPLORE_H

#include <stdio.h>
#include <mmirror/compiler.h>

struct explore_scenario {
	const char *name; /* "seed000-flawed", "seed000-correct", ... */
	const char *summary; /* one line for --list */
	/* true: a correct explorer finds a violation (a flawed driver);
	 * false: no schedule may violate (its correct counterpart). */
	bool expect_violation;
	/* Build the world; return 0 or a negative errno.  *ctx is the
	 * scenario's state, passed to run() and teardown(). */
	int (*setup)(void **ctx);
	/* The scenario's main thread; starts/joins its own threads. */
	void (*run)(void *ctx);
	/* Destroy what setup built (also after a violation). */
	void (*teardown)(void *ctx);
};

/* The built-in scenarios (tools/mmirror/explore_*.c register theirs). */
void explore_register(const struct explore_scenario *s);
const struct explore_scenario *explore_find(const char *name);
/* Iterate: the @i-th registered scenario, or NULL past the end. */
const struct explore_scenario *explore_scenario_at(unsigned int i);

enum explore_strategy {
	EXPLORE_RANDOM, /* uniform random choice at each point */
	EXPLORE_PCT, /* priority-based with @depth change points */
	EXPLORE_DFS, /* bounded exhaustive, preemption bound @depth */
};

struct explore_opts {
	enum explore_strategy strategy;
	unsigned int depth; /* PCT depth d / DFS preemption bound */
	unsigned long schedules; /* how many to run (DFS: at most) */
	unsigned long seed; /* first schedule's seed; schedule i: seed + i */
	unsigned int jobs; /* child processes running in parallel */
	unsigned long max_steps; /* per schedule; 0 = default (100000) */
	bool stop_at_first; /* stop when a violation is found */
	/* A progress line on stderr about every second (also without this
	 * when stderr is a terminal and the run lasts over 2 s). */
	bool progress;
	/* Child runs spent shrinking the first bad schedule: 0 = the default
	 * (200), negative = do not shrink. */
	long shrink_budget;
	FILE *out; /* reports and diagrams (stdout if NULL) */
};

enum explore_verdict {
	EXPLORE_OK, /* ran to the end, no violation */
	EXPLORE_VIOLATION, /* the oracle reported a violation */
	EXPLORE_DEADLOCK, /* no runnable thread, some blocked */
	EXPLORE_CRASH, /* the child died (signal, sanitizer, BUG) */
	EXPLORE_STEP_LIMIT, /* max_steps reached (livelock?) */
};

/* What one exploration found. */
struct explore_result {
	unsigned long schedules; /* run */
	unsigned long violations, deadlocks, crashes, step_limits;
	unsigned long first_bad; /* index of the first bad schedule, or ~0 */
	double seconds;
	/* The first bad schedule's decisions (malloc'd; NULL if none) in the
	 * text form explore_replay() reads. */
	char *bad_schedule;
	/* The first bad schedule's event list (malloc'd text, or NULL). */
	char *bad_events;
	enum explore_verdict bad_verdict;
	/* DFS: every schedule within the preemption bound was run (false
	 * when --schedules, stop_at_first or a crash cut the search short). */
	bool exhausted;
	/* The first bad schedule as found and as shown (bad_schedule and
	 * bad_events are the shrunk one; first_bad is where it was found). */
	unsigned long found_preemptions, found_steps;
	unsigned long bad_preemptions, bad_steps;
	unsigned long shrink_runs; /* child runs the shrinking took */
};

/*
 * explore() - run @s under @opts.  Prints a summary line, for the first
 * bad schedule (shrunk to fewest preemptions, then fewest steps, unless
 * opts->shrink_budget < 0) the report, the race diagram and the replay
 * command, then a summary table, to opts->out.  DFS (EXPLORE_DFS) runs
 * every schedule with at most opts->depth preemptions once, in a fixed
 * order, up to opts->schedules (0: no limit) and sets res->exhausted.
 * Return 0 or a negative errno (bad options).
 */
int explore(const struct explore_scenario *s, const struct explore_opts *opts,
	    struct explore_result *res);
/*
 * explore_replay() - re-execute the schedule in @schedule (the text
 * recorded by explore(), also what --replay FILE reads) and print its
 * verdict and diagram.  Return the verdict, or a negative errno.
 */
int explore_replay(const struct explore_scenario *s, const char *schedule,
		   FILE *out);
void explore_result_free(struct explore_result *res);

/*
 * explore_fail() - a scenario's own assertion failed: count a violation
 * for this schedule and mark the row in its event list (TR_VIOLATION).
 * Call only from a scenario thread while explore() runs it.
 */
void explore_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * explore_replay_events() - as explore_replay(), but print nothing: store
 * the schedule's event list (malloc'd text, one event a line, the same
 * text explore() stores in res->bad_events) in *@events.  Return the
 * verdict, or a negative errno.
 */
int explore_replay_events(const struct explore_scenario *s,
			  const char *schedule, char **events);

#endif /* MMIRROR_EXPLORE_H */
