// SPDX-License-Identifier: MIT
/*
 * report.c - what the explorer prints: the progress line, the summary
 * line (a stable format), the first bad schedule with its race diagram,
 * the summary table, and the names of verdicts, strategies and trace
 * kinds.  Runs in the parent only, which is single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/compiler.h>
#include "diagram.h"
#include "explore_internal.h"

const char *const explore_verdict_names[] = {
	"ok", "violation", "deadlock", "crash", "step-limit",
};

const char *const explore_strategy_names[] = { "random", "pct", "dfs" };

static unsigned long nr_bad(const struct explore_result *r)
{
	return r->violations + r->deadlocks + r->crashes + r->step_limits;
}

/* About every second (see struct explore_opts): where the run stands. */
void explore_progress_tick(void *arg)
{
	struct collect *c = arg;
	struct explore_result *r = c->res;
	double t = explore_now(), el = t - c->t0;

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

/*
 * explore_print_diagram() - draw @events (the user-visible lines built by
 * event_line(): "step  Tn name kind text") as a CPU-column race diagram:
 * one column per thread, only the rows a race is explained by, long runs
 * of one thread elided, the violation row marked.
 */
/*
 * How many of @ev to draw: everything up to the last violation and the
 * few events of the same moment after it (DIAGRAM_AFTER); what follows is
 * the scenario's teardown, which explains nothing.  No violation (a
 * deadlock, a crash): all of it.
 */
#define DIAGRAM_AFTER 2

static size_t diagram_cut(const struct diagram_event *ev, size_t nr)
{
	size_t last = nr;

	for (size_t i = 0; i < nr; i++)
		if (ev[i].marked)
			last = i;
	if (last == nr)
		return nr;
	return last + 1 + DIAGRAM_AFTER < nr ? last + 1 + DIAGRAM_AFTER : nr;
}

void explore_print_diagram(FILE *out, const char *events)
{
	char names[EXPLORE_MAX_THREADS][20] = { { 0 } };
	const char *name_ptrs[EXPLORE_MAX_THREADS];
	struct diagram_event *ev = NULL;
	unsigned int nr_threads = 0;
	size_t nr = 0, cap = 0, shown;
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
	shown = diagram_cut(ev, nr);
	if (shown) {
		fputs("race diagram (relevant events; full list: "
		      "explore_replay_events()):\n",
		      out);
		diagram_render(out, ev, shown, name_ptrs, nr_threads,
			       &(struct diagram_opts){ .relevant_only = true,
						       .max_run = 8,
						       .max_width = 48 });
		if (shown < nr)
			fprintf(out,
				"         (%zu later events: the scenario's "
				"teardown)\n",
				nr - shown);
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
		c->base->seed + r->first_bad,
		explore_verdict_names[r->bad_verdict]);
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
		explore_strategy_names[p->strategy]);
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
			explore_verdict_names[r->bad_verdict]);
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

void explore_print_summary(FILE *out, struct collect *c)
{
	struct explore_result *r = c->res;

	/* This line's format is stable: scripts read it. */
	fprintf(out,
		"explore %s: strategy=%s schedules=%lu violations=%lu deadlocks=%lu crashes=%lu step_limits=%lu (%.1f s, %.0f schedules/s)\n",
		c->s->name, explore_strategy_names[c->base->strategy],
		r->schedules, r->violations, r->deadlocks, r->crashes,
		r->step_limits, r->seconds,
		r->seconds > 0 ? r->schedules / r->seconds : 0.0);
	if (r->first_bad != ~0UL)
		print_bad(out, c);
	print_table(out, c);
}

const char *explore_trace_kind_name(int kind)
{
	static const char *const names[] = {
		"lock",	      "unlock", "inv_start", "inv_started", "inv_end",
		"callback",   "pte",	"tlb_flush", "fault",	    "dev_map",
		"dev_access", "obj",	"VIOLATION", "note",
	};

	return kind >= 0 && kind < (int)ARRAY_SIZE(names) ? names[kind] : "?";
}
