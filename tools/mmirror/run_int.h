/* SPDX-License-Identifier: MIT */
/*
 * run_int.h - the interpreter's shared state (run.c: control flow and the
 * run's life; ops.c: one statement; objs.c: objects, statistics and
 * teardown).
 */
#ifndef MMIRROR_TOOLS_RUN_INT_H
#define MMIRROR_TOOLS_RUN_INT_H

#include "scenario.h"

struct scn_ctx {
	struct scenario *scn;
	const struct scn_opts *opts;
	FILE *out;
	atomic_long_t ops; /* statements executed, all threads */
	atomic_long_t failures; /* of them, those that failed */
	/* Set by the top-level thread only, when a declaration failed:
	 * nothing after it can run meaningfully.  Read by that thread. */
	bool aborted;
	u64 t0; /* CLOCK_MONOTONIC ns at the start */
	atomic_long_t next_progress; /* ns of the next progress line */
};

/* Where a statement runs: the scenario thread's name for messages. */
struct scn_tctx {
	struct scn_ctx *c;
	const char *thread; /* "main" or the thread block's name */
};

u64 scn_now_ns(void);

/* Run one non-block statement.  Return false to stop the run. */
bool scn_exec_op(struct scn_tctx *t, struct scn_stmt *s);
/* ops_mem.c: run @s if it is one of its statements (true), else false. */
bool scn_exec_mem(struct scn_tctx *t, struct scn_stmt *s);
/*
 * Judge @ret (and the @n words read into @w, for load/read/atomic)
 * against @s's expect clause and report the outcome.
 */
void scn_judge(struct scn_tctx *t, struct scn_stmt *s, int ret, const u64 *w,
	       size_t n);

/*
 * Report the outcome of @s: @ok or not, with @fmt saying what happened
 * (printed when verbose, or when it failed - the first few times per
 * statement, then only counted).
 */
__attribute__((format(printf, 4, 5))) void scn_outcome(struct scn_tctx *t,
						       struct scn_stmt *s,
						       bool ok, const char *fmt,
						       ...);

/* objs.c */
/* @r as [*va, *va + *len) at this moment; false if it is empty. */
bool scn_range_va(const struct scn_range *r, unsigned long *va,
		  unsigned long *len);
int scn_obj_create(struct scn_tctx *t, struct scn_stmt *s);
void scn_obj_destroy(struct scn_obj *o);
void scn_teardown(struct scenario *scn);
bool scn_stat(struct scn_obj *o, unsigned long idx, u64 *v);
void scn_print_stats(FILE *out, struct scenario *scn);
void scn_print_obj_stats(FILE *out, struct scn_obj *o);

#endif /* MMIRROR_TOOLS_RUN_INT_H */
