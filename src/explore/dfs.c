// SPDX-License-Identifier: MIT
/*
 * dfs.c - the parent's systematic drivers: the DFS over decision prefixes
 * (dfs_next/dfs_done around explore_run_schedules(), the frontier itself is in
 * strategy.c) and the shrinking of the first bad schedule (ddmin plans,
 * then DFS with smaller preemption bounds).  Both run children through
 * explore.c and adopt finds with explore_keep_bad().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/compiler.h>
#include "explore_internal.h"

/* --- DFS ---------------------------------------------------------------- */

/*
 * The parent's DFS loop (the tree and its order: strategy.c).  Children
 * may finish in any order; outcomes are committed (counted, compared)
 * strictly in DFS order, from the top of the frontier, so --jobs changes
 * neither the set of schedules run within opts->schedules nor the first
 * bad one.  A node finished ahead of its turn keeps its outcome until then.
 */
struct dfs_run {
	struct dfs_frontier f;
	const struct explore_params *base;
	/* Sees each outcome in DFS order; false: stop. */
	bool (*commit)(void *arg, unsigned long idx, struct outcome *o);
	void *commit_arg;
	unsigned long limit; /* schedules to commit at most; 0: all */
	unsigned long committed;
	int *prefix; /* the last prefix handed out (freed at the next) */
	bool stopped, truncated;
};

#define DFS_WINDOW 256UL /* pending results held at most */

static bool dfs_next(void *arg, struct explore_params *p, unsigned long *tag)
{
	struct dfs_run *d = arg;
	unsigned long w = DFS_WINDOW, left;
	struct dfs_node *nd;

	if (d->stopped)
		return false;
	if (d->limit) {
		left = d->limit - d->committed;
		w = left < w ? left : w;
	}
	nd = dfs_next_pending(&d->f, w);
	if (!nd)
		return false;
	free(d->prefix);
	*p = *d->base;
	d->prefix = dfs_prefix(nd, &p->nr_forced);
	p->forced = d->prefix;
	nd->state = DFS_RUNNING;
	*tag = (unsigned long)(uintptr_t)nd;
	return true;
}

static void outcome_free_heap(void *o)
{
	explore_outcome_free(o);
	free(o);
}

static bool dfs_done(void *arg, unsigned long tag, struct outcome *o)
{
	struct dfs_node *nd = (struct dfs_node *)(uintptr_t)tag, *top;
	struct dfs_run *d = arg;
	struct outcome *res = malloc(sizeof(*res));

	BUG_ON(!res);
	memcpy(res, o, sizeof(*o));
	memset(o, 0, sizeof(*o));
	nd->result = res;
	nd->state = DFS_DONE;
	/* No trail (a crash): what lies below this prefix stays unknown. */
	if (res->verdict == EXPLORE_CRASH)
		d->truncated = true;
	else
		dfs_expand(&d->f, nd, &res->trail);
	while (!d->stopped && (top = dfs_top(&d->f)) &&
	       top->state == DFS_DONE) {
		res = top->result;
		top->result = NULL;
		if (!d->commit(d->commit_arg, d->committed++, res) ||
		    (d->limit && d->committed >= d->limit))
			d->stopped = true;
		outcome_free_heap(res);
		dfs_pop(&d->f);
	}
	return !d->stopped;
}

/*
 * Run the DFS with preemption bound base->depth, at most @limit schedules
 * (0: all), @jobs at a time, handing each outcome to @d->commit in DFS
 * order.  Return 0 or a negative errno; *@exhausted: the bounded space
 * was run to its end.
 */
static int dfs_search(const struct explore_scenario *s, struct dfs_run *d,
		      unsigned int jobs, struct collect *progress,
		      bool *exhausted)
{
	struct runner r = { .next = dfs_next,
			    .next_arg = d,
			    .done = dfs_done,
			    .done_arg = d,
			    .tick = progress ? explore_progress_tick : NULL,
			    .tick_arg = progress,
			    .jobs = jobs };
	int err;

	dfs_init(&d->f, d->base->depth);
	err = explore_run_schedules(s, &r);
	*exhausted = !err && !d->f.nr && !d->truncated;
	free(d->prefix);
	dfs_destroy(&d->f, outcome_free_heap);
	return err;
}

int explore_dfs(const struct explore_scenario *s, struct collect *c)
{
	struct dfs_run d = { .base = c->base,
			     .commit = explore_collect_one,
			     .commit_arg = c,
			     .limit = c->opts->schedules };

	return dfs_search(s, &d, c->opts->jobs ? c->opts->jobs : 1, c,
			  &c->res->exhausted);
}

/* --- shrinking ---------------------------------------------------------- */

#define SHRINK_DEFAULT_BUDGET 200

/* Is @o the same kind of bad as the best so far, and simpler? */
static bool shrink_better(const struct explore_result *r,
			  const struct outcome *o)
{
	if ((int)r->bad_verdict != o->verdict)
		return false;
	if (o->preemptions != r->bad_preemptions)
		return o->preemptions < r->bad_preemptions;
	return o->steps < r->bad_steps;
}

/*
 * Shrink the first bad schedule (strategy.c: ddmin over its non-default
 * decisions): run candidate plans, keep one that is bad in the same way
 * with fewer preemptions (or as many and fewer steps), go on from it, until
 * ddmin is done or the budget of child runs is spent.  Each candidate runs
 * under EXPLORE_DFS rules (the default where the plan says nothing), and
 * the adopted schedule is its run's complete decision list, which replays
 * exactly (strategy=dfs).
 */
/* One shrinking DFS run: adopt the first one simpler and as bad. */
static bool shrink_commit(void *arg, unsigned long idx, struct outcome *o)
{
	struct collect *c = arg;
	struct explore_result *r = c->res;
	struct explore_params p = *c->base;

	(void)idx;
	r->shrink_runs++;
	if (!shrink_better(r, o))
		return (long)r->shrink_runs < c->shrink_budget;
	p.strategy = EXPLORE_DFS;
	p.depth = o->preemptions;
	explore_keep_bad(c, &p, o);
	return false;
}

/*
 * After ddmin: DFS with bounds 0, 1, ... below the preemptions left, as
 * far as the budget goes.  A bound whose space is exhausted without a
 * find proves that many preemptions are not enough.
 */
static int shrink_dfs(const struct explore_scenario *s, struct collect *c)
{
	struct explore_params p = *c->base;
	struct explore_result *r = c->res;
	int err = 0;

	p.strategy = EXPLORE_DFS;
	p.forced = NULL;
	p.plan = NULL;
	for (p.depth = 0; !err && p.depth < r->bad_preemptions &&
			  (long)r->shrink_runs < c->shrink_budget;
	     p.depth++) {
		unsigned long before = r->bad_preemptions;
		struct dfs_run d = { .base = &p,
				     .commit = shrink_commit,
				     .commit_arg = c };
		bool exhausted;

		err = dfs_search(s, &d, c->opts->jobs ? c->opts->jobs : 1, NULL,
				 &exhausted);
		if (r->bad_preemptions < before)
			break;
	}
	return err;
}

int explore_shrink(const struct explore_scenario *s, struct collect *c)
{
	struct explore_params p = *c->base;
	struct explore_result *r = c->res;
	struct shrink_state st;
	int err = 0;

	c->shrink_budget = c->opts->shrink_budget ? c->opts->shrink_budget :
						    SHRINK_DEFAULT_BUDGET;
	p.strategy = EXPLORE_DFS;
	shrink_start(&st);
	while (!err && (long)r->shrink_runs < c->shrink_budget) {
		struct explore_plan *cand;
		struct outcome o;
		size_t n;

		cand = shrink_next(&st, &c->bad_trail, &n);
		if (cand == SHRINK_NO_MORE)
			break;
		p.plan = cand;
		p.nr_plan = n;
		err = explore_run_one(s, &p, &o);
		free(cand);
		r->shrink_runs++;
		if (!err && shrink_better(r, &o)) {
			p.depth = o.preemptions;
			explore_keep_bad(c, &p, &o);
			shrink_accepted(&st);
		}
		explore_outcome_free(&o);
	}
	return err ? err : shrink_dfs(s, c);
}
