/* SPDX-License-Identifier: MIT */
/*
 * strategy.h - how the explorer's child picks the next thread: uniform
 * random, PCT, or "never preempt" (calibration).  Called only by the
 * thread holding the token (sched.c), so no locking.
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
};

u64 explore_splitmix64(u64 *state);
void strategy_init(struct explore_strategy_state *st,
		   const struct explore_params *p);
void strategy_thread_new(struct explore_strategy_state *st, int idx);
void strategy_step(struct explore_strategy_state *st, unsigned long step,
		   int self);
int strategy_pick(struct explore_strategy_state *st, const int *run, int n,
		  int self);

#endif /* MMIRROR_EXPLORE_STRATEGY_H */
