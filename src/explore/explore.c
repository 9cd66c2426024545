// SPDX-License-Identifier: MIT
/*
 * explore.c - the parent side of the explorer: fork one child per
 * schedule (sched.c runs it), up to opts->jobs at once, collect each
 * child's text report through a pipe, count verdicts, print the first bad
 * schedule, and replay recorded schedules.
 *
 * The parent never starts a scenario thread, so every child starts from
 * the same memory state and schedule i's outcome depends only on its
 * parameters, never on which job ran it or when: --jobs changes nothing
 * but the wall time.  The parent stays single-threaded (poll, no threads)
 * so that fork() is safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mmirror/compiler.h>
#include <mmirror/page.h>
#include "diagram.h"
#include "sched.h"
#include "strategy.h"

/* A child that takes longer than this is killed and counted as a crash. */
#define EXPLORE_WALL_LIMIT 60.0

struct outcome {
	int verdict;
	unsigned long steps, violations, preemptions;
	bool diverged; /* a forced decision was not possible */
	char *decisions; /* "d 0 1 ..." */
	struct explore_trail trail; /* decisions with their runnable sets */
	char *events; /* one line per event */
	char *messages; /* the oracle's report */
};

struct job {
	pid_t pid;
	int fd;
	unsigned long idx;
	char *buf;
	size_t len, cap;
	double start;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const verdict_names[] = {
	"ok", "violation", "deadlock", "crash", "step-limit",
};

static const char *const strategy_names[] = { "random", "pct", "dfs" };

static pid_t spawn(const struct explore_scenario *s,
		   const struct explore_params *p, int *fd)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	/* Buffered output would be written twice, once by the child. */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		explore_child_main(s, p, pfd[1]);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -errno;
	}
	*fd = pfd[0];
	return pid;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	BUG_ON(!d);
	return d;
}

static void append(char **dst, size_t *len, const char *line)
{
	size_t n = strlen(line);

	*dst = realloc(*dst, *len + n + 2);
	BUG_ON(!*dst);
	memcpy(*dst + *len, line, n);
	(*dst)[*len + n] = '\n';
	*len += n + 1;
	(*dst)[*len] = '\0';
}

/* One "E step thread kind text" record as the line users see. */
static void event_line(char **ev, size_t *len, char *rec, char names[][20])
{
	unsigned long step;
	int thread, kind, off = 0;
	char line[320];

	if (sscanf(rec, "E %lu %d %d %n", &step, &thread, &kind, &off) < 3)
		return;
	snprintf(line, sizeof(line), "%6lu  T%d %-15s %-12s %s", step, thread,
		 thread >= 0 && thread < EXPLORE_MAX_THREADS ? names[thread] :
							       "?",
		 explore_trace_kind_name(kind), rec + off);
	append(ev, len, line);
}

/* Parse a child's report; a missing END means it died mid-run. */
static void parse(char *buf, int status, struct outcome *o)
{
	static char names[EXPLORE_MAX_THREADS][20];
	size_t elen = 0, mlen = 0;
	char *save, *l, *dline = NULL, *rline = NULL;
	bool end = false;

	memset(o, 0, sizeof(*o));
	o->verdict = EXPLORE_CRASH;
	for (l = strtok_r(buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		unsigned int t;
		int v, dv;

		if (sscanf(l, "V %d %lu %lu %lu %d", &v, &o->steps,
			   &o->violations, &o->preemptions, &dv) == 5) {
			o->verdict = v;
			o->diverged = dv;
		} else if (l[0] == 'T' && sscanf(l, "T %u", &t) == 1 &&
			   t < EXPLORE_MAX_THREADS) {
			snprintf(names[t], sizeof(names[t]), "%s",
				 strchr(l + 2, ' ') ? strchr(l + 2, ' ') + 1 :
						      "");
		} else if (l[0] == 'D') {
			dline = l;
		} else if (l[0] == 'R') {
			rline = l;
		} else if (!strcmp(l, "END")) {
			end = true;
		} else if (l[0] == 'E') {
			event_line(&o->events, &elen, l, names);
		} else if (l[0] == 'M') {
			append(&o->messages, &mlen, l + 2);
		}
	}
	if (dline) {
		o->decisions = xstrdup(dline);
		o->decisions[0] = 'd';
	}
	if (!end || !WIFEXITED(status) || WEXITSTATUS(status)) {
		o->verdict = EXPLORE_CRASH;
		append(&o->messages, &mlen,
		       WIFSIGNALED(status) ? "child killed by a signal" :
		       end		   ? "child exited with an error" :
					     "child exited early");
		return;
	}
	/* A trail that does not parse only costs the DFS its branches. */
	explore_trail_parse(&o->trail, dline, rline);
}

static void outcome_free(struct outcome *o)
{
	free(o->decisions);
	free(o->events);
	free(o->messages);
	explore_trail_free(&o->trail);
}

static void job_read(struct job *j)
{
	ssize_t n;

	if (j->cap - j->len < 4096) {
		j->cap = j->cap * 2 + 8192;
		j->buf = realloc(j->buf, j->cap);
		BUG_ON(!j->buf);
	}
	n = read(j->fd, j->buf + j->len, j->cap - j->len - 1);
	if (n > 0) {
		j->len += n;
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	close(j->fd);
	j->fd = -1;
}

static void job_finish(struct job *j, struct outcome *o)
{
	int status = 0;

	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->buf[j->len] = '\0';
	parse(j->buf, status, o);
	free(j->buf);
	j->buf = NULL;
	j->len = j->cap = 0;
	j->pid = 0;
}

/*
 * What run_schedules() runs: @next fills the parameters (and a tag) of the
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

/* Start schedules while a job slot is free and @r has one to start. */
static int fill_jobs(const struct explore_scenario *s, struct runner *r,
		     struct job *jv, unsigned long *running)
{
	for (unsigned int i = 0; i < r->jobs; i++) {
		struct explore_params p;

		if (jv[i].pid)
			continue;
		if (!r->next(r->next_arg, &p, &jv[i].idx))
			break;
		jv[i].pid = spawn(s, &p, &jv[i].fd);
		if (jv[i].pid < 0) {
			jv[i].pid = 0;
			return -EAGAIN;
		}
		jv[i].start = now();
		(*running)++;
	}
	return 0;
}

/* Run what @r hands out until it has nothing left and every job ended. */
static int run_schedules(const struct explore_scenario *s, struct runner *r)
{
	struct job jv[64] = { 0 };
	struct pollfd pf[64];
	unsigned long running = 0;
	bool more = true;
	int err = 0;

	r->jobs = r->jobs < 1 ? 1 : r->jobs > 64 ? 64 : r->jobs;
	for (;;) {
		if (more && !err)
			err = fill_jobs(s, r, jv, &running);
		if (!running)
			break;
		for (unsigned int i = 0; i < r->jobs; i++) {
			pf[i].fd = jv[i].pid ? jv[i].fd : -1;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		poll(pf, r->jobs, 500);
		if (r->tick)
			r->tick(r->tick_arg);
		for (unsigned int i = 0; i < r->jobs; i++) {
			struct outcome o;

			if (!jv[i].pid)
				continue;
			if (pf[i].revents)
				job_read(&jv[i]);
			if (jv[i].fd >= 0 &&
			    now() - jv[i].start > EXPLORE_WALL_LIMIT)
				kill(jv[i].pid, SIGKILL);
			if (jv[i].fd >= 0)
				continue;
			job_finish(&jv[i], &o);
			running--;
			if (!r->done(r->done_arg, jv[i].idx, &o))
				more = false;
			outcome_free(&o);
		}
	}
	return err;
}

/* Schedules 0 .. n - 1 of @base: schedule i has seed base->seed + i. */
struct seq {
	const struct explore_params *base;
	unsigned long next, n;
};

static bool seq_next(void *arg, struct explore_params *p, unsigned long *tag)
{
	struct seq *q = arg;

	if (q->next >= q->n)
		return false;
	*p = *q->base;
	p->seed = q->base->seed + q->next;
	*tag = q->next++;
	return true;
}

/* Run the one schedule @p; its outcome goes to *@o (caller frees). */
static bool one_done(void *arg, unsigned long idx, struct outcome *o)
{
	(void)idx;
	*(struct outcome *)arg = *o;
	/* Ownership moves to @arg; run_schedules() frees *o. */
	memset(o, 0, sizeof(*o));
	return true;
}

static int run_one(const struct explore_scenario *s,
		   const struct explore_params *p, struct outcome *o)
{
	struct seq q = { .base = p, .n = 1 };
	struct runner r = { .next = seq_next,
			    .next_arg = &q,
			    .done = one_done,
			    .done_arg = o,
			    .jobs = 1 };

	memset(o, 0, sizeof(*o));
	o->verdict = EXPLORE_CRASH;
	return run_schedules(s, &r);
}

/* --- explore() --------------------------------------------------------- */

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

static char *schedule_text(const struct explore_scenario *s,
			   const struct explore_params *p, unsigned long seed,
			   const char *decisions)
{
	char *t = NULL;

	BUG_ON(asprintf(
		       &t,
		       "mmirror-schedule v1 scenario=%s strategy=%s seed=%lu depth=%u k=%lu max_steps=%lu\n%s\n",
		       s->name, strategy_names[p->strategy], seed, p->depth,
		       p->pct_k, p->max_steps, decisions ? decisions : "") < 0);
	return t;
}

static unsigned long nr_bad(const struct explore_result *r)
{
	return r->violations + r->deadlocks + r->crashes + r->step_limits;
}

/* @o becomes the first bad schedule: take its text, events and trail. */
static void keep_bad(struct collect *c, const struct explore_params *p,
		     struct outcome *o)
{
	struct explore_result *r = c->res;

	free(r->bad_schedule);
	free(r->bad_events);
	free(c->bad_messages);
	explore_trail_free(&c->bad_trail);
	r->bad_schedule = schedule_text(c->s, p, c->base->seed + r->first_bad,
					o->decisions);
	r->bad_events = o->events ? xstrdup(o->events) : xstrdup("");
	c->bad_messages = o->messages ? xstrdup(o->messages) : NULL;
	c->bad_trail = o->trail;
	memset(&o->trail, 0, sizeof(o->trail));
	r->bad_verdict = o->verdict;
	r->bad_preemptions = o->preemptions;
	r->bad_steps = o->steps;
}

/* About every second (see struct explore_opts): where the run stands. */
static void progress_tick(void *arg)
{
	struct collect *c = arg;
	struct explore_result *r = c->res;
	double t = now(), el = t - c->t0;

	if (!(c->opts->progress || (c->tty && el > 2.0)) ||
	    t - c->last_progress < 1.0)
		return;
	c->last_progress = t;
	fprintf(stderr, "explore %s: %lu", c->s->name, r->schedules);
	if (c->opts->schedules)
		fprintf(stderr, "/%lu", c->opts->schedules);
	fprintf(stderr,
		" schedules, %.0f/s, %lu violations, %lu deadlocks, %lu crashes, %.0f s\n",
		el > 0 ? r->schedules / el : 0.0, r->violations, r->deadlocks,
		r->crashes, el);
}

static bool collect_one(void *arg, unsigned long idx, struct outcome *o)
{
	struct collect *c = arg;
	struct explore_result *r = c->res;

	r->schedules++;
	switch (o->verdict) {
	case EXPLORE_OK:
		break;
	case EXPLORE_VIOLATION:
		r->violations++;
		break;
	case EXPLORE_DEADLOCK:
		r->deadlocks++;
		break;
	case EXPLORE_STEP_LIMIT:
		r->step_limits++;
		break;
	default:
		r->crashes++;
	}
	/* The lowest index, not the first to finish: --jobs must not matter. */
	if (o->verdict != EXPLORE_OK && idx < r->first_bad) {
		r->first_bad = idx;
		keep_bad(c, c->base, o);
		r->found_preemptions = o->preemptions;
		r->found_steps = o->steps;
	}
	progress_tick(c);
	return !(c->opts->stop_at_first && r->first_bad != ~0UL);
}

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
	outcome_free(o);
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
			    .tick = progress ? progress_tick : NULL,
			    .tick_arg = progress,
			    .jobs = jobs };
	int err;

	dfs_init(&d->f, d->base->depth);
	err = run_schedules(s, &r);
	*exhausted = !err && !d->f.nr && !d->truncated;
	free(d->prefix);
	dfs_destroy(&d->f, outcome_free_heap);
	return err;
}

static int explore_dfs(const struct explore_scenario *s, struct collect *c)
{
	struct dfs_run d = { .base = c->base,
			     .commit = collect_one,
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
	keep_bad(c, &p, o);
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

static int shrink(const struct explore_scenario *s, struct collect *c)
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
		err = run_one(s, &p, &o);
		free(cand);
		r->shrink_runs++;
		if (!err && shrink_better(r, &o)) {
			p.depth = o.preemptions;
			keep_bad(c, &p, &o);
			shrink_accepted(&st);
		}
		outcome_free(&o);
	}
	return err ? err : shrink_dfs(s, c);
}

/*
 * explore_print_diagram() - draw @events (the user-visible lines built by
 * event_line(): "step  Tn name kind text") as a CPU-column race diagram:
 * one column per thread, only the rows a race is explained by, long runs
 * of one thread elided, the violation row marked.
 */
static void explore_print_diagram(FILE *out, const char *events)
{
	char names[EXPLORE_MAX_THREADS][20] = { { 0 } };
	const char *name_ptrs[EXPLORE_MAX_THREADS];
	struct diagram_event *ev = NULL;
	unsigned int nr_threads = 0;
	size_t nr = 0, cap = 0;
	char *copy, *save, *l;

	if (!events || !(copy = strdup(events)))
		return;
	for (l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[20], kind[16];
		unsigned long step;
		int t, k, off = 0;

		if (sscanf(l, "%lu T%d %19s %15s %n", &step, &t, name, kind,
			   &off) < 4 ||
		    t < 0 || t >= EXPLORE_MAX_THREADS)
			continue;
		for (k = 0; k < TR__NR; k++)
			if (!strcmp(explore_trace_kind_name(k), kind))
				break;
		if (k == TR__NR)
			continue;
		if (nr == cap) {
			cap = cap ? 2 * cap : 64;
			ev = realloc(ev, cap * sizeof(*ev));
			BUG_ON(!ev);
		}
		ev[nr++] =
			(struct diagram_event){ .step = step,
						.thread = t,
						.kind = k,
						.text = l + off,
						.marked = k == TR_VIOLATION };
		snprintf(names[t], sizeof(names[t]), "%s", name);
		if ((unsigned int)t >= nr_threads)
			nr_threads = t + 1;
	}
	for (unsigned int i = 0; i < nr_threads; i++)
		name_ptrs[i] = names[i][0] ? names[i] : "?";
	if (nr) {
		fputs("race diagram (relevant events; full list: "
		      "explore_replay_events()):\n",
		      out);
		diagram_render(out, ev, nr, name_ptrs, nr_threads,
			       &(struct diagram_opts){ .relevant_only = true,
						       .max_run = 8 });
	}
	free(ev);
	free(copy);
}

static bool shrunk(const struct explore_result *r)
{
	return r->bad_preemptions != r->found_preemptions ||
	       r->bad_steps != r->found_steps;
}

/* The first bad schedule: where, how it shrank, messages, diagram. */
static void print_bad(FILE *out, struct collect *c)
{
	struct explore_result *r = c->res;

	fprintf(out, "first bad schedule: #%lu (seed %lu), %s\n", r->first_bad,
		c->base->seed + r->first_bad, verdict_names[r->bad_verdict]);
	if (shrunk(r))
		fprintf(out,
			"shrunk from %lu preemptions/%lu steps to %lu/%lu (%lu runs)\n",
			r->found_preemptions, r->found_steps,
			r->bad_preemptions, r->bad_steps, r->shrink_runs);
	else if (r->shrink_runs)
		fprintf(out,
			"not shrunk: no simpler schedule in %lu runs (%lu preemptions/%lu steps)\n",
			r->shrink_runs, r->bad_preemptions, r->bad_steps);
	if (c->bad_messages)
		fputs(c->bad_messages, out);
	explore_print_diagram(out, r->bad_events);
	fprintf(out, "schedule:\n%s", r->bad_schedule);
	fprintf(out,
		"replay: save the schedule to FILE, then: mmirror explore %s --replay FILE\n",
		c->s->name);
}

static void print_table(FILE *out, struct collect *c)
{
	const struct explore_params *p = c->base;
	struct explore_result *r = c->res;

	fprintf(out, "summary:\n  %-12s %s\n", "strategy",
		strategy_names[p->strategy]);
	if (p->strategy != EXPLORE_RANDOM)
		fprintf(out, "  %-12s %u%s\n", "depth", p->depth,
			p->strategy == EXPLORE_DFS ? " (preemption bound)" :
						     "");
	fprintf(out, "  %-12s %lu (limit %lu)\n", "schedules", r->schedules,
		c->opts->schedules);
	if (p->strategy == EXPLORE_DFS)
		fprintf(out, "  %-12s %s\n", "exhausted",
			r->exhausted ? "yes" : "no");
	fprintf(out, "  %-12s %lu\n  %-12s %lu\n  %-12s %lu\n", "ok",
		r->schedules - nr_bad(r), "violations", r->violations,
		"deadlocks", r->deadlocks);
	fprintf(out, "  %-12s %lu\n  %-12s %lu\n", "crashes", r->crashes,
		"step limits", r->step_limits);
	if (r->first_bad != ~0UL)
		fprintf(out, "  %-12s #%lu (seed %lu), %s\n", "first bad",
			r->first_bad, p->seed + r->first_bad,
			verdict_names[r->bad_verdict]);
	else
		fprintf(out, "  %-12s none\n", "first bad");
	fprintf(out, "  %-12s %.1f s\n  %-12s %.0f schedules/s\n", "time",
		r->seconds, "rate",
		r->seconds > 0 ? r->schedules / r->seconds : 0.0);
	if (r->first_bad == ~0UL)
		return;
	if (r->shrink_runs)
		fprintf(out,
			"  %-12s %lu/%lu -> %lu/%lu preemptions/steps (%lu runs)\n",
			"shrink", r->found_preemptions, r->found_steps,
			r->bad_preemptions, r->bad_steps, r->shrink_runs);
	else
		fprintf(out, "  %-12s off\n", "shrink");
}

static void print_summary(FILE *out, struct collect *c)
{
	struct explore_result *r = c->res;

	/* This line's format is stable: scripts read it. */
	fprintf(out,
		"explore %s: strategy=%s schedules=%lu violations=%lu deadlocks=%lu crashes=%lu step_limits=%lu (%.1f s, %.0f schedules/s)\n",
		c->s->name, strategy_names[c->base->strategy], r->schedules,
		r->violations, r->deadlocks, r->crashes, r->step_limits,
		r->seconds, r->seconds > 0 ? r->schedules / r->seconds : 0.0);
	if (r->first_bad != ~0UL)
		print_bad(out, c);
	print_table(out, c);
}

/*
 * Set the frame arena up in the parent, before the first fork, so that
 * children inherit it instead of each building one (building the default
 * 1 GiB arena's struct pages cost ~10 ms a schedule, 8x the rest).  The
 * explorer's scenarios are small: 64 MiB unless MMIRROR_MEM_MB says
 * otherwise or the caller already set memory up.  Deviation from normal
 * runs: a different arena size, so pfns in reports differ from theirs.
 */
#define EXPLORE_MEM_BYTES (64UL << 20)

static int explore_mem_prepare(void)
{
	const char *env = getenv("MMIRROR_MEM_MB");
	unsigned long bytes = EXPLORE_MEM_BYTES;
	int err;

	if (mem_initialized())
		return 0;
	if (env && atol(env) > 0)
		bytes = (unsigned long)atol(env) << 20;
	err = mem_init(bytes);
	return err == -EBUSY ? 0 : err;
}

/* Explore parameters from @opts; -EINVAL if they make no sense. */
static int explore_params_from(const struct explore_opts *opts,
			       struct explore_params *p)
{
	memset(p, 0, sizeof(*p));
	if (opts->strategy != EXPLORE_RANDOM && opts->strategy != EXPLORE_PCT &&
	    opts->strategy != EXPLORE_DFS)
		return -EINVAL;
	p->strategy = opts->strategy;
	/* DFS: bound 0 is meaningful (no preemption at all). */
	p->depth = opts->depth || p->strategy == EXPLORE_DFS ? opts->depth : 2;
	if (p->depth > EXPLORE_MAX_DEPTH && p->strategy == EXPLORE_PCT)
		return -EINVAL;
	p->seed = opts->seed;
	p->max_steps =
		opts->max_steps ? opts->max_steps : EXPLORE_DEFAULT_STEPS;
	return 0;
}

/*
 * PCT needs k: the decision points (points with two or more runnable
 * threads) of one non-preemptive run.
 */
static int pct_calibrate(const struct explore_scenario *s,
			 struct explore_params *p)
{
	struct explore_params cal = *p;
	struct outcome o;
	int err;

	cal.first_runnable = true;
	err = run_one(s, &cal, &o);
	p->pct_k = o.trail.n ? o.trail.n : 1;
	outcome_free(&o);
	return err;
}

int explore(const struct explore_scenario *s, const struct explore_opts *opts,
	    struct explore_result *res)
{
	struct explore_params p;
	struct collect c = { .s = s,
			     .opts = opts,
			     .base = &p,
			     .res = res,
			     .t0 = now(),
			     .tty = isatty(STDERR_FILENO) };

	struct seq q = { .base = &p, .n = opts ? opts->schedules : 0 };
	struct runner r = { .next = seq_next,
			    .next_arg = &q,
			    .done = collect_one,
			    .done_arg = &c,
			    .tick = progress_tick,
			    .tick_arg = &c,
			    .jobs = opts && opts->jobs ? opts->jobs : 1 };
	int err;

	c.last_progress = c.t0;
	if (!s || !s->run || !opts || !res)
		return -EINVAL;
	err = explore_mem_prepare();
	if (err)
		return err;
	memset(res, 0, sizeof(*res));
	res->first_bad = ~0UL;
	err = explore_params_from(opts, &p);
	if (!err && p.strategy == EXPLORE_PCT)
		err = pct_calibrate(s, &p);
	if (err)
		return err;
	if (p.strategy == EXPLORE_DFS)
		err = explore_dfs(s, &c);
	else
		err = run_schedules(s, &r);
	/* The rate is the search's: shrinking is reported on its own. */
	res->seconds = now() - c.t0;
	if (!err && res->first_bad != ~0UL && opts->shrink_budget >= 0)
		err = shrink(s, &c);
	print_summary(opts->out ? opts->out : stdout, &c);
	free(c.bad_messages);
	explore_trail_free(&c.bad_trail);
	return err;
}

void explore_result_free(struct explore_result *res)
{
	free(res->bad_schedule);
	free(res->bad_events);
	res->bad_schedule = NULL;
	res->bad_events = NULL;
}

/* --- replay ------------------------------------------------------------ */

static int parse_schedule(const struct explore_scenario *s, const char *text,
			  struct explore_params *p, int **dec)
{
	char name[128], strat[16];
	size_t n = 0, cap = 0;
	const char *l;

	memset(p, 0, sizeof(*p));
	*dec = NULL;
	if (sscanf(text,
		   "mmirror-schedule v1 scenario=%127s strategy=%15s seed=%lu depth=%u k=%lu max_steps=%lu",
		   name, strat, &p->seed, &p->depth, &p->pct_k,
		   &p->max_steps) != 6)
		return -EINVAL;
	if (strcmp(name, s->name))
		return -EINVAL;
	if (!strcmp(strat, "random"))
		p->strategy = EXPLORE_RANDOM;
	else if (!strcmp(strat, "pct"))
		p->strategy = EXPLORE_PCT;
	else if (!strcmp(strat, "dfs"))
		p->strategy = EXPLORE_DFS;
	else
		return -EINVAL;
	for (l = strchr(text, '\n'); l; l = strchr(l + 1, '\n')) {
		const char *q = l + 1;
		char *end;

		if (*q != 'd')
			continue;
		for (q++;; q = end) {
			long v = strtol(q, &end, 10);

			if (end == q)
				break;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				*dec = realloc(*dec, cap * sizeof(**dec));
				BUG_ON(!*dec);
			}
			(*dec)[n++] = (int)v;
		}
	}
	/*
	 * No decisions (a crashed child): the seed regenerates them; for
	 * DFS none means the default, non-preemptive schedule.
	 */
	p->forced = *dec;
	p->nr_forced = n;
	if (!n)
		p->forced = NULL;
	return 0;
}

static int replay(const struct explore_scenario *s, const char *schedule,
		  struct outcome *o)
{
	struct explore_params p;
	int *dec, err;

	if (!s || !s->run || !schedule)
		return -EINVAL;
	err = explore_mem_prepare();
	if (err)
		return err;
	memset(o, 0, sizeof(*o));
	err = parse_schedule(s, schedule, &p, &dec);
	if (!err)
		err = run_one(s, &p, o);
	free(dec);
	return err;
}

int explore_replay_events(const struct explore_scenario *s,
			  const char *schedule, char **events)
{
	struct outcome o;
	int err = replay(s, schedule, &o);

	*events = NULL;
	if (err)
		return err;
	*events = o.events ? o.events : xstrdup("");
	o.events = NULL;
	outcome_free(&o);
	return o.verdict;
}

int explore_replay(const struct explore_scenario *s, const char *schedule,
		   FILE *out)
{
	struct outcome o;
	int err = replay(s, schedule, &o);

	if (err)
		return err;
	out = out ? out : stdout;
	fprintf(out, "replay %s: %s (%lu steps, %lu preemptions)\n", s->name,
		verdict_names[o.verdict], o.steps, o.preemptions);
	if (o.messages)
		fputs(o.messages, out);
	explore_print_diagram(out, o.events);
	outcome_free(&o);
	return o.verdict;
}

const char *explore_trace_kind_name(int kind)
{
	static const char *const names[] = {
		"lock",	   "unlock",   "inv_start",  "inv_started",
		"inv_end", "callback", "pte",	     "tlb_flush",
		"fault",   "dev_map",  "dev_access", "VIOLATION",
		"note",
	};

	return kind >= 0 && kind < (int)ARRAY_SIZE(names) ? names[kind] : "?";
}
