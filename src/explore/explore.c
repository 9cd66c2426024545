// SPDX-License-Identifier: MIT
/*
 * explore.c - the parent side of the explorer: fork one child per
 * schedule (sched.c runs it), up to opts->jobs at once, collect each
 * child's text report through a pipe, count verdicts, print the first bad
 * schedule, and replay recorded schedules.  The DFS and shrinking drivers
 * are in dfs.c, the printing in report.c (explore_internal.h).
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
#include "explore_internal.h"

/* A child that takes longer than this is killed and counted as a crash. */
#define EXPLORE_WALL_LIMIT 60.0

struct job {
	pid_t pid;
	int fd;
	unsigned long idx;
	char *buf;
	size_t len, cap;
	double start;
};

double explore_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

char *explore_xstrdup(const char *s)
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
		o->decisions = explore_xstrdup(dline);
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

void explore_outcome_free(struct outcome *o)
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
		jv[i].start = explore_now();
		(*running)++;
	}
	return 0;
}

/* Run what @r hands out until it has nothing left and every job ended. */
int explore_run_schedules(const struct explore_scenario *s, struct runner *r)
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
			    explore_now() - jv[i].start > EXPLORE_WALL_LIMIT)
				kill(jv[i].pid, SIGKILL);
			if (jv[i].fd >= 0)
				continue;
			job_finish(&jv[i], &o);
			running--;
			if (!r->done(r->done_arg, jv[i].idx, &o))
				more = false;
			explore_outcome_free(&o);
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
	/* Ownership moves to @arg; explore_run_schedules() frees *o. */
	memset(o, 0, sizeof(*o));
	return true;
}

int explore_run_one(const struct explore_scenario *s,
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
	return explore_run_schedules(s, &r);
}

/* --- explore() --------------------------------------------------------- */

static char *schedule_text(const struct explore_scenario *s,
			   const struct explore_params *p, unsigned long seed,
			   const char *decisions)
{
	char *t = NULL;

	BUG_ON(asprintf(
		       &t,
		       "mmirror-schedule v1 scenario=%s strategy=%s seed=%lu depth=%u k=%lu max_steps=%lu\n%s\n",
		       s->name, explore_strategy_names[p->strategy], seed,
		       p->depth, p->pct_k, p->max_steps,
		       decisions ? decisions : "") < 0);
	return t;
}

/* @o becomes the first bad schedule: take its text, events and trail. */
void explore_keep_bad(struct collect *c, const struct explore_params *p,
		      struct outcome *o)
{
	struct explore_result *r = c->res;

	free(r->bad_schedule);
	free(r->bad_events);
	free(c->bad_messages);
	explore_trail_free(&c->bad_trail);
	r->bad_schedule = schedule_text(c->s, p, c->base->seed + r->first_bad,
					o->decisions);
	r->bad_events =
		o->events ? explore_xstrdup(o->events) : explore_xstrdup("");
	c->bad_messages = o->messages ? explore_xstrdup(o->messages) : NULL;
	c->bad_trail = o->trail;
	memset(&o->trail, 0, sizeof(o->trail));
	r->bad_verdict = o->verdict;
	r->bad_preemptions = o->preemptions;
	r->bad_steps = o->steps;
}

bool explore_collect_one(void *arg, unsigned long idx, struct outcome *o)
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
		explore_keep_bad(c, c->base, o);
		r->found_preemptions = o->preemptions;
		r->found_steps = o->steps;
	}
	explore_progress_tick(c);
	return !(c->opts->stop_at_first && r->first_bad != ~0UL);
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
	err = explore_run_one(s, &cal, &o);
	p->pct_k = o.trail.n ? o.trail.n : 1;
	explore_outcome_free(&o);
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
			     .t0 = explore_now(),
			     .tty = isatty(STDERR_FILENO) };

	struct seq q = { .base = &p, .n = opts ? opts->schedules : 0 };
	struct runner r = { .next = seq_next,
			    .next_arg = &q,
			    .done = explore_collect_one,
			    .done_arg = &c,
			    .tick = explore_progress_tick,
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
		err = explore_run_schedules(s, &r);
	/* The rate is the search's: shrinking is reported on its own. */
	res->seconds = explore_now() - c.t0;
	if (!err && res->first_bad != ~0UL && opts->shrink_budget >= 0)
		err = explore_shrink(s, &c);
	explore_print_summary(opts->out ? opts->out : stdout, &c);
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
		err = explore_run_one(s, &p, o);
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
	*events = o.events ? o.events : explore_xstrdup("");
	o.events = NULL;
	explore_outcome_free(&o);
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
		explore_verdict_names[o.verdict], o.steps, o.preemptions);
	if (o.messages)
		fputs(o.messages, out);
	explore_print_diagram(out, o.events);
	explore_outcome_free(&o);
	return o.verdict;
}
