// SPDX-License-Identifier: MIT
/*
 * strategy.c - the explorer's choice of the next thread.
 *
 * PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010): every
 * thread gets a distinct random initial priority >= d; d - 1 change points
 * are drawn uniformly from steps 1..k; when the running thread reaches the
 * i-th change point its priority drops to d - i (below every initial
 * priority, later changes lower).  At every point the highest-priority
 * runnable thread runs.  A bug of depth d is then found with probability
 * at least 1 / (n k^(d-1)) per schedule (docs/explore.md).
 */
#include "strategy.h"

/* splitmix64 (Steele, Lea, Flood): a seed gives one fixed stream. */
u64 explore_splitmix64(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/**
 * strategy_init() - set up the strategy for one schedule
 * @st: the state to fill
 * @p: the schedule's parameters (seed, depth, estimated length)
 *
 * Context: the child, before any scenario thread exists.
 */
void strategy_init(struct explore_strategy_state *st,
		   const struct explore_params *p)
{
	unsigned int d = p->depth ? p->depth : 1;
	unsigned long k = p->pct_k ? p->pct_k : 1;

	*st = (struct explore_strategy_state){ .kind = p->strategy };
	st->first_runnable = p->first_runnable;
	st->rng = p->seed * 0x2545f4914f6cdd1dULL + 1;
	if (d > EXPLORE_MAX_DEPTH)
		d = EXPLORE_MAX_DEPTH;
	st->nr_change = d - 1;
	for (unsigned int i = 0; i < st->nr_change; i++)
		st->change[i] = 1 + explore_splitmix64(&st->rng) % k;
}

/* A new thread @idx: its PCT priority, random but distinct. */
void strategy_thread_new(struct explore_strategy_state *st, int idx)
{
	u64 r = explore_splitmix64(&st->rng) >> 24;

	/* Above every change-point priority; idx breaks ties. */
	st->prio[idx] = ((r + EXPLORE_MAX_DEPTH) << 7) | (unsigned long)idx;
}

/* Step @step was taken by @self: apply a PCT change point if due. */
void strategy_step(struct explore_strategy_state *st, unsigned long step,
		   int self)
{
	if (st->kind != EXPLORE_PCT)
		return;
	for (unsigned int i = 0; i < st->nr_change; i++)
		if (st->change[i] == step)
			st->prio[self] = st->nr_change - i;
}

/**
 * strategy_pick() - choose among @n >= 2 runnable threads
 * @st: the strategy state
 * @run: the runnable thread indexes, ascending
 * @n: how many
 * @self: the thread asking, or -1 (it exited)
 *
 * Return: the chosen thread index, one of @run.
 */
int strategy_pick(struct explore_strategy_state *st, const int *run, int n,
		  int self)
{
	int best = run[0];

	if (st->first_runnable) {
		for (int i = 0; i < n; i++)
			if (run[i] == self)
				return self;
		return run[0];
	}
	if (st->kind == EXPLORE_RANDOM)
		return run[explore_splitmix64(&st->rng) % (u64)n];
	for (int i = 1; i < n; i++)
		if (st->prio[run[i]] > st->prio[best])
			best = run[i];
	return best;
}
