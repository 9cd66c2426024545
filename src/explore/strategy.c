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
 *
 * Spinning.  A thread that passes SP_SPIN (a retry loop waiting for some
 * other thread's step) drops below every priority given so far, the
 * lowest band, later spins lower still.  Without it a high-priority
 * spinner is taken off the run queue only until any other thread steps,
 * then runs again, and the thread it waits for - if it has the lowest
 * priority - may never run: a livelock PCT made, not the code (Linux's
 * scheduler is fair).  Lowering a yielding thread is the usual fix in PCT
 * implementations; the bound above assumes no spins.
 *
 * Priority bands, high to low: initial (above PCT_SPIN_BAND +
 * EXPLORE_MAX_DEPTH), change points (PCT_SPIN_BAND + 1 ..
 * PCT_SPIN_BAND + d - 1), spins (PCT_SPIN_BAND - 1 down to 1).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
	/* DFS past its forced prefix: the non-preemptive default. */
	st->first_runnable = p->first_runnable || p->strategy == EXPLORE_DFS;
	st->rng = p->seed * 0x2545f4914f6cdd1dULL + 1;
	if (d > EXPLORE_MAX_DEPTH)
		d = EXPLORE_MAX_DEPTH;
	st->nr_change = d - 1;
	for (unsigned int i = 0; i < st->nr_change; i++)
		st->change[i] = 1 + explore_splitmix64(&st->rng) % k;
}

#define PCT_SPIN_BAND (1UL << 20)

/* A new thread @idx: its PCT priority, random but distinct. */
void strategy_thread_new(struct explore_strategy_state *st, int idx)
{
	u64 r = explore_splitmix64(&st->rng) >> 24;

	/* Above every change-point priority; idx breaks ties. */
	st->prio[idx] = ((r + PCT_SPIN_BAND + EXPLORE_MAX_DEPTH) << 7) |
			(unsigned long)idx;
}

/* @self passed SP_SPIN: below everybody (file comment). */
void strategy_spin(struct explore_strategy_state *st, int self)
{
	if (st->kind != EXPLORE_PCT || self < 0)
		return;
	if (st->spins < PCT_SPIN_BAND - 1)
		st->spins++;
	st->prio[self] = PCT_SPIN_BAND - st->spins;
}

/*
 * Decision point @step (1-based) is reached with @self running: apply a
 * PCT change point if due.  PCT's "steps" are the points where at least
 * two threads are runnable, not every sched point: a change point at a
 * step with one runnable thread (setup, a lone thread's run) could lower
 * no priority that matters, so counting those would only dilute k and
 * the 1/(n k^(d-1)) bound with steps that cannot expose a bug.
 */
void strategy_step(struct explore_strategy_state *st, unsigned long step,
		   int self)
{
	if (st->kind != EXPLORE_PCT)
		return;
	for (unsigned int i = 0; i < st->nr_change; i++)
		if (st->change[i] == step)
			st->prio[self] = PCT_SPIN_BAND + st->nr_change - i;
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

/* --- parent side: decision trails ------------------------------------- */

/* ":cur:points" of one R token; advances *@l past it. */
static int r_line_cur(const char **l, signed char *cur, unsigned long *points)
{
	char *end;
	long c;

	if (**l != ':')
		return -EINVAL;
	c = strtol(*l + 1, &end, 10);
	if (end == *l + 1 || *end != ':' || c < 0 || c >= EXPLORE_MAX_THREADS)
		return -EINVAL;
	*cur = (signed char)c;
	*l = end + 1;
	*points = strtoul(*l, &end, 10);
	if (end == *l)
		return -EINVAL;
	*l = end;
	return 0;
}

/**
 * explore_trail_parse() - read a child's D and R records into @t
 * @t: the trail to fill (freed with explore_trail_free())
 * @d_line: "D c c ..." (or NULL)
 * @r_line: "R mask:self ..." (or NULL: no runnable sets, e.g. a crash)
 *
 * Context: the parent.
 * Return: 0, or -EINVAL if the records are malformed or disagree.
 */
int explore_trail_parse(struct explore_trail *t, const char *d_line,
			const char *r_line)
{
	size_t cap = 0;
	char *end;

	memset(t, 0, sizeof(*t));
	if (!d_line || !r_line)
		return 0;
	for (const char *q = d_line + 1;; q = end) {
		long c = strtol(q, &end, 10);

		if (end == q)
			break;
		if (t->n == cap) {
			cap = cap ? 2 * cap : 256;
			t->dec = realloc(t->dec, cap * sizeof(*t->dec));
			t->mask = realloc(t->mask, cap * sizeof(*t->mask));
			t->self = realloc(t->self, cap * sizeof(*t->self));
			t->cur = realloc(t->cur, cap * sizeof(*t->cur));
			t->points =
				realloc(t->points, cap * sizeof(*t->points));
			BUG_ON(!t->dec || !t->mask || !t->self || !t->cur ||
			       !t->points);
		}
		t->dec[t->n++] = (int)c;
	}
	r_line++;
	for (size_t i = 0; i < t->n; i++) {
		t->mask[i] = strtoull(r_line, &end, 16);
		if (end == r_line || *end != ':')
			goto bad;
		r_line = end + 1;
		if (*r_line == '-') {
			t->self[i] = -1;
			r_line++;
		} else {
			long self = strtol(r_line, &end, 10);

			if (end == r_line || self < 0 ||
			    self >= EXPLORE_MAX_THREADS ||
			    !(t->mask[i] >> self & 1))
				goto bad;
			t->self[i] = (signed char)self;
			r_line = end;
		}
		if (r_line_cur(&r_line, &t->cur[i], &t->points[i]))
			goto bad;
		if (t->dec[i] < 0 || t->dec[i] >= EXPLORE_MAX_THREADS ||
		    !(t->mask[i] >> t->dec[i] & 1))
			goto bad;
	}
	return 0;
bad:
	explore_trail_free(t);
	return -EINVAL;
}

/**
 * explore_trail_free() - free what explore_trail_parse() allocated
 * @t: the trail (left empty, may be parsed into again)
 *
 * Context: the parent.
 */
void explore_trail_free(struct explore_trail *t)
{
	free(t->dec);
	free(t->mask);
	free(t->self);
	free(t->cur);
	free(t->points);
	memset(t, 0, sizeof(*t));
}

/**
 * explore_trail_default() - the non-preemptive choice at decision @i
 * @t: a trail
 * @i: a decision index, < @t->n
 *
 * Context: the parent.
 * Return: the running thread if it could go on, else the lowest-indexed
 * runnable thread (what a DFS child continues with).
 */
int explore_trail_default(const struct explore_trail *t, size_t i)
{
	return t->self[i] >= 0 ? t->self[i] : __builtin_ctzll(t->mask[i]);
}

/**
 * explore_trail_preemptions() - count preemptions in a trail's prefix
 * @t: a trail
 * @n: how many of its first decisions to look at
 *
 * Context: the parent.
 * Return: the decisions among them that switched away from a thread that
 * could have gone on.
 */
unsigned int explore_trail_preemptions(const struct explore_trail *t, size_t n)
{
	unsigned int p = 0;

	for (size_t i = 0; i < n && i < t->n; i++)
		p += t->self[i] >= 0 && t->dec[i] != t->self[i];
	return p;
}

/* --- parent side: the DFS frontier ------------------------------------- */

/*
 * Stateless DFS over decision prefixes (docs/explore.md).  A node is a
 * prefix; running it forces the prefix and continues without preempting,
 * so the run is the one schedule whose last non-default decision ends the
 * prefix.  Its children branch at every later decision point, to every
 * other runnable thread, within the preemption bound.  Every schedule is
 * then run exactly once: it is the run of the prefix ending at its last
 * non-default decision, and that prefix has exactly one parent (the one
 * ending at the previous non-default decision).
 *
 * Order: schedules compare by their decisions ranked per point (the
 * default first, then the others by thread index).  A node's children come
 * right after it and before its later siblings; among the children,
 * deeper branch points come first.  The frontier keeps that order as a
 * stack, so the next schedule is always its top.
 */
static void dfs_push_at(struct dfs_frontier *f, size_t at,
			struct dfs_node **nodes, size_t nr)
{
	if (f->nr + nr > f->cap) {
		f->cap = (f->nr + nr) * 2;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		BUG_ON(!f->v);
	}
	memmove(f->v + at + nr, f->v + at, (f->nr - at) * sizeof(*f->v));
	memcpy(f->v + at, nodes, nr * sizeof(*nodes));
	f->nr += nr;
}

static struct dfs_node *dfs_node_new(struct dfs_base *b, size_t pos, int choice,
				     unsigned int preempt)
{
	struct dfs_node *nd = calloc(1, sizeof(*nd));

	BUG_ON(!nd);
	nd->base = b;
	nd->pos = pos;
	nd->choice = choice;
	nd->preempt = preempt;
	if (b)
		b->ref++;
	return nd;
}

static void dfs_node_free(struct dfs_node *nd)
{
	if (nd->base && !--nd->base->ref)
		free(nd->base);
	free(nd);
}

/**
 * dfs_init() - a frontier holding the empty prefix
 * @f: the frontier
 * @bound: the most preemptions a schedule may have
 *
 * Context: the parent.
 */
void dfs_init(struct dfs_frontier *f, unsigned int bound)
{
	struct dfs_node *root = dfs_node_new(NULL, 0, -1, 0);

	memset(f, 0, sizeof(*f));
	f->bound = bound;
	dfs_push_at(f, 0, &root, 1);
}

/**
 * dfs_destroy() - free a frontier and what is left in it
 * @f: the frontier
 * @free_result: frees a node's result (nodes that finished, uncommitted)
 *
 * Context: the parent.
 */
void dfs_destroy(struct dfs_frontier *f, void (*free_result)(void *))
{
	for (size_t i = 0; i < f->nr; i++) {
		if (f->v[i]->result)
			free_result(f->v[i]->result);
		dfs_node_free(f->v[i]);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/**
 * dfs_next_pending() - the next prefix worth starting
 * @f: the frontier
 * @window: how many of the next schedules in DFS order may still count
 *
 * A node further down than @window can only move further away (new
 * children go above it), so it is never worth running.
 *
 * Context: the parent.
 * Return: the earliest pending node among the next @window, or NULL.
 */
struct dfs_node *dfs_next_pending(struct dfs_frontier *f, size_t window)
{
	for (size_t k = 0; k < window && k < f->nr; k++)
		if (f->v[f->nr - 1 - k]->state == DFS_PENDING)
			return f->v[f->nr - 1 - k];
	return NULL;
}

/**
 * dfs_prefix() - the decisions a node forces
 * @nd: the node
 * @n: their number
 *
 * Context: the parent.
 * Return: a malloc'd array, or NULL for the empty prefix (the root).
 */
int *dfs_prefix(const struct dfs_node *nd, size_t *n)
{
	int *d;

	*n = nd->base ? nd->pos + 1 : 0;
	if (!*n)
		return NULL;
	d = malloc(*n * sizeof(*d));
	BUG_ON(!d);
	memcpy(d, nd->base->dec, nd->pos * sizeof(*d));
	d[nd->pos] = nd->choice;
	return d;
}

/**
 * dfs_expand() - add the children of @nd, whose run reported @t
 * @f: the frontier holding @nd
 * @nd: a node that ran
 * @t: its run's decisions and runnable sets
 *
 * Children go right below @nd (after it in DFS order, before everything
 * that was after it).
 *
 * Context: the parent.
 */
void dfs_expand(struct dfs_frontier *f, struct dfs_node *nd,
		const struct explore_trail *t)
{
	size_t from = nd->base ? nd->pos + 1 : 0, at = 0, nr = 0, cap = 0;
	struct dfs_node **kids = NULL;
	struct dfs_base *b;

	while (at < f->nr && f->v[at] != nd)
		at++;
	BUG_ON(at == f->nr);
	if (t->n <= from)
		return;
	b = malloc(sizeof(*b) + t->n * sizeof(int));
	BUG_ON(!b);
	b->ref = 1;
	b->n = t->n;
	memcpy(b->dec, t->dec, t->n * sizeof(int));
	/* Pushed largest first: shallow branch points, high indexes. */
	for (size_t i = from; i < t->n; i++) {
		int dflt = explore_trail_default(t, i);
		unsigned int pre = nd->preempt + (t->self[i] >= 0);

		if (pre > f->bound)
			continue;
		for (int c = EXPLORE_MAX_THREADS - 1; c >= 0; c--) {
			if (!(t->mask[i] >> c & 1) || c == dflt)
				continue;
			if (nr == cap) {
				cap = cap ? 2 * cap : 64;
				kids = realloc(kids, cap * sizeof(*kids));
				BUG_ON(!kids);
			}
			kids[nr++] = dfs_node_new(b, i, c, pre);
		}
	}
	if (nr)
		dfs_push_at(f, at, kids, nr);
	free(kids);
	if (!--b->ref)
		free(b);
}

/**
 * dfs_top() - the next schedule in DFS order
 * @f: the frontier
 *
 * Context: the parent.
 * Return: the top node, or NULL when the search is over.
 */
struct dfs_node *dfs_top(struct dfs_frontier *f)
{
	return f->nr ? f->v[f->nr - 1] : NULL;
}

/**
 * dfs_pop() - drop the top node, its outcome committed
 * @f: a non-empty frontier (the caller took the node's result)
 *
 * Context: the parent.
 */
void dfs_pop(struct dfs_frontier *f)
{
	dfs_node_free(f->v[--f->nr]);
}

/* --- parent side: shrinking -------------------------------------------- */

/*
 * Shrinking is delta debugging (Zeller's ddmin) over the bad schedule's
 * non-default decisions, each named by the thread that took it and its
 * sched-point count (struct explore_plan), so that dropping some leaves
 * the others where they were in their threads' code even though every
 * later decision index moves.  Split the m decisions into g chunks; try
 * the plan without each chunk in turn; on a success (the explorer keeps a
 * run that is bad in the same way and simpler) start over from the new
 * schedule with g - 1 chunks, else double g; when single decisions cannot
 * be dropped, try each preemption one sched point earlier (fewer steps).
 * Dropping a chunk is what removes a preemption together with the
 * switch back that keeps the two threads in step, which dropping single
 * decisions cannot.
 */

static bool is_default(const struct explore_trail *t, size_t i)
{
	return t->dec[i] == explore_trail_default(t, i);
}

static bool is_preemption(const struct explore_trail *t, size_t i)
{
	return t->self[i] >= 0 && t->dec[i] != t->self[i];
}

/*
 * A plan from the non-default decisions of @t: drop those with rank in
 * [@lo, @hi); with @only < SIZE_MAX keep, of the preemptions, only the
 * @only-th; move the @moved-th preemption by @delta sched points.
 */
struct plan_spec {
	size_t lo, hi, only, moved;
	long delta;
};

static struct explore_plan *shrink_plan(const struct explore_trail *t,
					const struct plan_spec *ps, size_t *n)
{
	struct explore_plan *plan = malloc((t->n + 1) * sizeof(*plan));
	size_t k = 0, np = 0;

	BUG_ON(!plan);
	*n = 0;
	for (size_t i = 0; i < t->n; i++) {
		long pts = (long)t->points[i];
		bool drop;

		if (is_default(t, i))
			continue;
		drop = k >= ps->lo && k < ps->hi;
		k++;
		if (is_preemption(t, i)) {
			if (np == ps->moved)
				pts += ps->delta;
			drop |= ps->only != SIZE_MAX && np != ps->only;
			np++;
		}
		if (drop || pts < 0)
			continue;
		plan[(*n)++] = (struct explore_plan){
			.cur = t->cur[i],
			.points = (unsigned long)pts,
			.runnable = t->self[i] >= 0,
			.choice = t->dec[i],
		};
	}
	return plan;
}

/**
 * shrink_start() - begin shrinking a bad schedule (ddmin with 2 chunks)
 * @st: the state
 *
 * Context: the parent.
 */
void shrink_start(struct shrink_state *st)
{
	*st = (struct shrink_state){ .gran = 2 };
}

/**
 * shrink_accepted() - the last candidate became the best schedule
 * @st: the state
 *
 * Go on from the new schedule (ddmin: with one chunk fewer).
 *
 * Context: the parent.
 */
void shrink_accepted(struct shrink_state *st)
{
	if (st->phase == SHRINK_EARLIER)
		return;
	st->gran = st->phase == SHRINK_DDMIN && st->gran > 2 ? st->gran - 1 : 2;
	st->phase = SHRINK_DDMIN;
	st->chunk = 0;
	st->idx = 0;
}

/* ddmin's next chunk to drop, or false when single ones were tried. */
static bool ddmin_next(struct shrink_state *st, size_t m, struct plan_spec *ps)
{
	while (m) {
		size_t g = st->gran < m ? st->gran : m;

		if (st->chunk < g) {
			ps->lo = st->chunk * m / g;
			ps->hi = ++st->chunk * m / g;
			return true;
		}
		if (g >= m)
			break;
		st->gran = 2 * g;
		st->chunk = 0;
	}
	return false;
}

/**
 * shrink_next() - the next candidate plan for the best schedule @t
 * @st: where the shrinking is (shrink_start(), shrink_accepted())
 * @t: the best bad schedule so far
 * @n: the plan's length
 *
 * Context: the parent.
 * Return: the plan (malloc'd), or SHRINK_NO_MORE when all was tried.
 */
struct explore_plan *shrink_next(struct shrink_state *st,
				 const struct explore_trail *t, size_t *n)
{
	static const long deltas[] = { 0, 1, -1 };
	size_t m = 0, np = explore_trail_preemptions(t, t->n);
	struct plan_spec ps = { .only = SIZE_MAX, .moved = SIZE_MAX };

	for (size_t i = 0; i < t->n; i++)
		m += !is_default(t, i);
	if (st->phase == SHRINK_DDMIN && ddmin_next(st, m, &ps))
		return shrink_plan(t, &ps, n);
	if (st->phase == SHRINK_DDMIN)
		st->phase = np > 1 ? SHRINK_ONE : SHRINK_EARLIER;
	if (st->phase == SHRINK_ONE) {
		if (st->idx < np * ARRAY_SIZE(deltas)) {
			ps.only = ps.moved = np - 1 - st->idx / 3;
			ps.delta = deltas[st->idx++ % 3];
			return shrink_plan(t, &ps, n);
		}
		st->phase = SHRINK_EARLIER;
		st->idx = 0;
	}
	if (st->idx >= np)
		return SHRINK_NO_MORE;
	ps.moved = st->idx++;
	ps.delta = -1;
	return shrink_plan(t, &ps, n);
}
