/* SPDX-License-Identifier: MIT */
/*
 * strategy.h - how the explorer's child picks the next thread: uniform
 * random, PCT, or "never preempt" (calibration, DFS continuation).  Called
 * only by the thread holding the token (sched.c), so no locking.
 *
 * The parent's side of the systematic strategies lives here too: the DFS
 * frontier of decision prefixes and the shrinker's candidate schedules,
 * both built from the decision trails children report.  The parent is
 * single-threaded: no locking either.
 */
#ifndef MMIRROR_EXPLORE_STRATEGY_H
#define MMIRROR_EXPLORE_STRATEGY_H

#include "sched.h"

struct explore_strategy_state {
	enum explore_strategy kind;
	bool first_runnable;
	u64 rng;
	unsigned long prio[EXPLORE_MAX_THREADS]; /* PCT: higher runs */
	unsigned long change[EXPLORE_MAX_DEPTH]; /* PCT change points */
	unsigned int nr_change;
	unsigned long spins; /* PCT: SP_SPINs seen (strategy_spin) */
};

u64 explore_splitmix64(u64 *state);
void strategy_init(struct explore_strategy_state *st,
		   const struct explore_params *p);
void strategy_thread_new(struct explore_strategy_state *st, int idx);
void strategy_step(struct explore_strategy_state *st, unsigned long step,
		   int self);
int strategy_pick(struct explore_strategy_state *st, const int *run, int n,
		  int self);
void strategy_spin(struct explore_strategy_state *st, int self);

/* --- parent side: decision trails ------------------------------------- */

/* One run's decision points as its child reported them (sched.h: D, R). */
struct explore_trail {
	size_t n;
	int *dec; /* the thread chosen */
	u64 *mask; /* the runnable set */
	signed char *self; /* the current thread if in @mask, else -1 */
	signed char *cur; /* the thread that asked */
	unsigned long *points; /* the sched points it had passed */
};

int explore_trail_parse(struct explore_trail *t, const char *d_line,
			const char *r_line);
void explore_trail_free(struct explore_trail *t);
int explore_trail_default(const struct explore_trail *t, size_t i);
unsigned int explore_trail_preemptions(const struct explore_trail *t, size_t n);

/* --- parent side: the DFS frontier --------------------------------------- */

enum dfs_state { DFS_PENDING, DFS_RUNNING, DFS_DONE };

/* The decisions a family of prefixes shares (refcounted). */
struct dfs_base {
	unsigned int ref;
	size_t n;
	int dec[];
};

/* One prefix: base->dec[0, pos) then @choice; the root has no base. */
struct dfs_node {
	struct dfs_base *base;
	size_t pos;
	int choice;
	unsigned int preempt; /* preemptions in the prefix */
	enum dfs_state state;
	void *result; /* DFS_DONE: the caller's */
};

/*
 * The frontier, ordered: v[nr - 1] is the next schedule in DFS order and
 * every node below it comes later.
 */
struct dfs_frontier {
	struct dfs_node **v;
	size_t nr, cap;
	unsigned int bound;
};

void dfs_init(struct dfs_frontier *f, unsigned int bound);
void dfs_destroy(struct dfs_frontier *f, void (*free_result)(void *));
struct dfs_node *dfs_next_pending(struct dfs_frontier *f, size_t window);
int *dfs_prefix(const struct dfs_node *nd, size_t *n);
void dfs_expand(struct dfs_frontier *f, struct dfs_node *nd,
		const struct explore_trail *t);
struct dfs_node *dfs_top(struct dfs_frontier *f);
void dfs_pop(struct dfs_frontier *f);

/* --- parent side: shrinking ------------------------------------------ */

#define SHRINK_NO_MORE ((struct explore_plan *)-1)

/* Where the delta debugging of a bad schedule stands (strategy.c). */
struct shrink_state {
	enum {
		SHRINK_DDMIN, /* drop chunks of decisions */
		SHRINK_ONE, /* keep one preemption (moved by -1, 0, +1) */
		SHRINK_EARLIER, /* move one preemption a point earlier */
	} phase;
	size_t gran, chunk; /* ddmin: chunks, the next one to drop */
	size_t idx; /* SHRINK_ONE, SHRINK_EARLIER: the next candidate */
};

void shrink_start(struct shrink_state *st);
void shrink_accepted(struct shrink_state *st);
struct explore_plan *shrink_next(struct shrink_state *st,
				 const struct explore_trail *t, size_t *n);

#endif /* MMIRROR_EXPLORE_STRATEGY_H */
