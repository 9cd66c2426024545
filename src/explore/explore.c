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

/* A child that takes longer than this is killed and counted as a crash. */
#define EXPLORE_WALL_LIMIT 60.0

struct outcome {
	int verdict;
	unsigned long steps, violations, preemptions;
	char *decisions; /* "d 0 1 ..." */
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
	snprintf(line, sizeof(line), "%6lu  T%d %-15s %-12s %s", step,
		 thread,
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
	bool end = false;
	char *save, *l;

	memset(o, 0, sizeof(*o));
	o->verdict = EXPLORE_CRASH;
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned int t;
		int v, dv;

		if (sscanf(l, "V %d %lu %lu %lu %d", &v, &o->steps,
			   &o->violations, &o->preemptions, &dv) == 5) {
			o->verdict = v;
		} else if (l[0] == 'T' && sscanf(l, "T %u", &t) == 1 &&
			   t < EXPLORE_MAX_THREADS) {
			snprintf(names[t], sizeof(names[t]), "%s",
				 strchr(l + 2, ' ') ? strchr(l + 2, ' ') + 1 :
						      "");
		} else if (l[0] == 'D') {
			free(o->decisions);
			o->decisions = xstrdup(l);
			o->decisions[0] = 'd';
		} else if (!strcmp(l, "END")) {
			end = true;
		} else if (l[0] == 'E') {
			event_line(&o->events, &elen, l, names);
		} else if (l[0] == 'M') {
			append(&o->messages, &mlen, l + 2);
		}
	}
	if (!end || !WIFEXITED(status) || WEXITSTATUS(status)) {
		o->verdict = EXPLORE_CRASH;
		append(&o->messages, &mlen,
		       WIFSIGNALED(status) ? "child killed by a signal" :
		       end ? "child exited with an error" :
			     "child exited early");
	}
}

static void outcome_free(struct outcome *o)
{
	free(o->decisions);
	free(o->events);
	free(o->messages);
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

typedef bool (*outcome_fn)(void *arg, unsigned long idx, struct outcome *o);

/*
 * Run schedules [0, n): schedule i with params from @mk(i).  @fn sees each
 * outcome (in completion order) and returns false to stop launching.
 */
static int run_schedules(const struct explore_scenario *s,
			 struct explore_params *base, unsigned long n,
			 unsigned int jobs, outcome_fn fn, void *arg)
{
	struct job jv[64] = { 0 };
	struct explore_params p[64];
	struct pollfd pf[64];
	unsigned long next = 0, running = 0;
	bool more = true;

	if (jobs > 64)
		jobs = 64;
	while (running || (more && next < n)) {
		for (unsigned int i = 0; i < jobs && more && next < n; i++) {
			if (jv[i].pid)
				continue;
			p[i] = *base;
			p[i].seed = base->seed + next;
			jv[i].pid = spawn(s, &p[i], &jv[i].fd);
			if (jv[i].pid < 0) {
				jv[i].pid = 0;
				return -EAGAIN;
			}
			jv[i].idx = next++;
			jv[i].start = now();
			running++;
		}
		for (unsigned int i = 0; i < jobs; i++) {
			pf[i].fd = jv[i].pid ? jv[i].fd : -1;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		poll(pf, jobs, 500);
		for (unsigned int i = 0; i < jobs; i++) {
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
			if (!fn(arg, jv[i].idx, &o))
				more = false;
			outcome_free(&o);
		}
	}
	return 0;
}

/* --- explore() --------------------------------------------------------- */

struct collect {
	const struct explore_scenario *s;
	const struct explore_opts *opts;
	const struct explore_params *base;
	struct explore_result *res;
	char *bad_messages;
	double t0, last_progress;
};

static char *schedule_text(const struct explore_scenario *s,
			   const struct explore_params *p, unsigned long seed,
			   const char *decisions)
{
	char *t = NULL;

	BUG_ON(asprintf(&t,
			"mmirror-schedule v1 scenario=%s strategy=%s seed=%lu depth=%u k=%lu max_steps=%lu\n%s\n",
			s->name, strategy_names[p->strategy], seed, p->depth,
			p->pct_k, p->max_steps,
			decisions ? decisions : "") < 0);
	return t;
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
		free(r->bad_schedule);
		free(r->bad_events);
		free(c->bad_messages);
		r->bad_schedule = schedule_text(c->s, c->base,
						c->base->seed + idx,
						o->decisions);
		r->bad_events = o->events ? xstrdup(o->events) : xstrdup("");
		c->bad_messages = o->messages ? xstrdup(o->messages) : NULL;
		r->bad_verdict = o->verdict;
	}
	if (c->opts->progress && now() - c->last_progress >= 1.0) {
		c->last_progress = now();
		fprintf(stderr, "%s: %lu schedules, %.0f/s, %lu bad\n",
			c->s->name, r->schedules,
			r->schedules / (now() - c->t0),
			r->violations + r->deadlocks + r->crashes +
				r->step_limits);
	}
	return !(c->opts->stop_at_first && r->first_bad != ~0UL);
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
	for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[20], kind[16];
		unsigned long step;
		int t, k, off = 0;

		if (sscanf(l, "%lu T%d %19s %15s %n", &step, &t, name, kind,
			   &off) < 4 || t < 0 || t >= EXPLORE_MAX_THREADS)
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
		ev[nr++] = (struct diagram_event){ .step = step, .thread = t,
						   .kind = k, .text = l + off,
						   .marked = k == TR_VIOLATION };
		snprintf(names[t], sizeof(names[t]), "%s", name);
		if ((unsigned int)t >= nr_threads)
			nr_threads = t + 1;
	}
	for (unsigned int i = 0; i < nr_threads; i++)
		name_ptrs[i] = names[i][0] ? names[i] : "?";
	if (nr) {
		fputs("race diagram (relevant events; full list: "
		      "explore_replay_events()):\n", out);
		diagram_render(out, ev, nr, name_ptrs, nr_threads,
			       &(struct diagram_opts){ .relevant_only = true,
						       .max_run = 8 });
	}
	free(ev);
	free(copy);
}

static void print_summary(FILE *out, struct collect *c)
{
	struct explore_result *r = c->res;

	fprintf(out,
		"explore %s: strategy=%s schedules=%lu violations=%lu deadlocks=%lu crashes=%lu step_limits=%lu (%.1f s, %.0f schedules/s)\n",
		c->s->name, strategy_names[c->base->strategy], r->schedules,
		r->violations, r->deadlocks, r->crashes, r->step_limits,
		r->seconds, r->seconds > 0 ? r->schedules / r->seconds : 0.0);
	if (r->first_bad == ~0UL)
		return;
	fprintf(out, "first bad schedule: #%lu (seed %lu), %s\n",
		r->first_bad, c->base->seed + r->first_bad,
		verdict_names[r->bad_verdict]);
	if (c->bad_messages)
		fputs(c->bad_messages, out);
	explore_print_diagram(out, r->bad_events);
	fprintf(out, "schedule:\n%s", r->bad_schedule);
	fprintf(out, "replay: save the schedule to FILE, then: mmirror explore %s --replay FILE\n",
		c->s->name);
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

static bool calibrate_one(void *arg, unsigned long idx, struct outcome *o)
{
	(void)idx;
	*(unsigned long *)arg = o->steps;
	return true;
}

int explore(const struct explore_scenario *s, const struct explore_opts *opts,
	    struct explore_result *res)
{
	struct explore_params p = { 0 };
	double t0 = now();
	struct collect c = { .s = s, .opts = opts, .base = &p, .res = res,
			     .t0 = t0 };
	int err;

	if (!s || !s->run || !opts || !res)
		return -EINVAL;
	err = explore_mem_prepare();
	if (err)
		return err;
	memset(res, 0, sizeof(*res));
	res->first_bad = ~0UL;
	if (opts->strategy == EXPLORE_DFS)
		return -EOPNOTSUPP;
	if (opts->strategy != EXPLORE_RANDOM && opts->strategy != EXPLORE_PCT)
		return -EINVAL;
	p.strategy = opts->strategy;
	p.depth = opts->depth ? opts->depth : 2;
	if (p.depth > EXPLORE_MAX_DEPTH)
		return -EINVAL;
	p.seed = opts->seed;
	p.max_steps = opts->max_steps ? opts->max_steps :
					EXPLORE_DEFAULT_STEPS;
	if (p.strategy == EXPLORE_PCT) {
		/* PCT needs k: the length of one non-preemptive run. */
		struct explore_params cal = p;

		cal.first_runnable = true;
		err = run_schedules(s, &cal, 1, 1, calibrate_one, &p.pct_k);
		if (err)
			return err;
		if (!p.pct_k)
			p.pct_k = 1;
	}
	err = run_schedules(s, &p, opts->schedules,
			    opts->jobs ? opts->jobs : 1, collect_one, &c);
	res->seconds = now() - t0;
	print_summary(opts->out ? opts->out : stdout, &c);
	free(c.bad_messages);
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
	/* No decisions (a crashed child): the seed regenerates them. */
	p->forced = *dec;
	p->nr_forced = n;
	if (!n)
		p->forced = NULL;
	return 0;
}

struct replay {
	struct outcome o;
};

static bool replay_one(void *arg, unsigned long idx, struct outcome *o)
{
	struct replay *r = arg;

	(void)idx;
	r->o = *o;
	/* Ownership moves to @r; run_schedules frees *o. */
	memset(o, 0, sizeof(*o));
	return true;
}

static int replay(const struct explore_scenario *s, const char *schedule,
		  struct outcome *o)
{
	struct explore_params p;
	struct replay r = { 0 };
	int *dec, err;

	if (!s || !s->run || !schedule)
		return -EINVAL;
	err = explore_mem_prepare();
	if (err)
		return err;
	err = parse_schedule(s, schedule, &p, &dec);
	if (!err)
		err = run_schedules(s, &p, 1, 1, replay_one, &r);
	free(dec);
	*o = r.o;
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
		"lock", "unlock", "inv_start", "inv_started", "inv_end",
		"callback", "pte", "tlb_flush", "fault", "dev_map",
		"dev_access", "VIOLATION", "note",
	};

	return kind >= 0 && kind < (int)ARRAY_SIZE(names) ? names[kind] : "?";
}
