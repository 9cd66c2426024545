// SPDX-License-Identifier: MIT
/*
 * explore_cli.c - `mmirror explore`: run a registered scenario under the
 * deterministic explorer (include/mmirror/explore.h), list scenarios,
 * replay a saved schedule.
 *
 * Exit status: 0 the result matches the scenario's expectation (a flawed
 * scenario: a violation, deadlock or crash was found; a correct one:
 * none in every schedule run); 1 it does not; 2 bad arguments, unknown
 * scenario, unreadable schedule file, or the explorer refused the
 * options.  A found schedule is saved to ./mmirror-SCENARIO-SEED.sched
 * and the command that replays it is printed with it.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mmirror/explore.h>
#include "explore_scenarios.h"
#include "scenario.h"

struct xcli {
	const char *scenario, *replay;
	struct explore_opts o;
	bool list, help;
};

static void explore_usage(FILE *f)
{
	fprintf(f,
		"usage: mmirror explore SCENARIO [--strategy random|pct|dfs]\n"
		"         [--depth D] [--schedules N] [--seed S] [--jobs J]\n"
		"         [--max-steps N] [--shrink-budget N] [--no-stop]\n"
		"         [--progress]\n"
		"       mmirror explore SCENARIO --replay FILE\n"
		"       mmirror explore --list\n"
		"\n"
		"Runs SCENARIO's threads one at a time under a controlled\n"
		"scheduler, N schedules (default 10000) from seed S (default\n"
		"1), J at a time, with strategy random (default), pct (depth\n"
		"D in 1..16, default 3) or dfs: every schedule with at most D\n"
		"preemptions (default 2, 0 allowed) once, up to N, saying\n"
		"whether that space was exhausted.  The first bad schedule is\n"
		"shrunk (fewest preemptions, then fewest steps; at most\n"
		"--shrink-budget runs, default 200, 0: do not shrink),\n"
		"printed as a CPU-column race diagram, saved to\n"
		"./mmirror-SCENARIO-SEED.sched, and shown with the command\n"
		"that replays it.  --no-stop: go on after it.  --progress: a\n"
		"progress line on stderr every second (also when stderr is a\n"
		"terminal and the run lasts over 2 s).  A summary table ends\n"
		"the output.\n"
		"\n"
		"exit status: 0 the result matches the scenario's expectation\n"
		"(a flawed scenario's race was found; a correct one survived);\n"
		"1 it does not; 2 bad arguments.\n");
}

/* Parse a decimal in [min, max] into *@v; print why not. */
static bool parse_ulong(const char *opt, const char *s, unsigned long min,
			unsigned long max, unsigned long *v, FILE *err)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+') {
		fprintf(err, "mmirror explore: %s needs a number\n", opt);
		return false;
	}
	*v = strtoul(s, &end, 10);
	if (errno || *end || *v < min || *v > max) {
		fprintf(err, "mmirror explore: %s '%s': want %lu..%lu\n", opt,
			s, min, max);
		return false;
	}
	return true;
}

static bool parse_strategy(const char *s, enum explore_strategy *st, FILE *err)
{
	static const char *const names[] = { "random", "pct", "dfs" };
	static const enum explore_strategy val[] = { EXPLORE_RANDOM,
						     EXPLORE_PCT, EXPLORE_DFS };

	for (size_t i = 0; s && i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*st = val[i];
			return true;
		}
	}
	fprintf(err,
		"mmirror explore: --strategy '%s': want random, pct "
		"or dfs\n",
		s ? s : "");
	return false;
}

/* One option at argv[*i] (its value, if any, at argv[*i + 1]). */
/* A numeric option's value into *@v (unsigned int or unsigned long). */
static bool parse_num(const char *a, const char *v, struct xcli *x, bool *known,
		      FILE *err)
{
	static const struct {
		const char *name;
		unsigned long min, max;
		size_t off;
		bool is_uint;
	} num[] = {
		{ "--depth", 0, 64, offsetof(struct explore_opts, depth), 1 },
		{ "--schedules", 1, ULONG_MAX,
		  offsetof(struct explore_opts, schedules), 0 },
		{ "--seed", 0, ULONG_MAX, offsetof(struct explore_opts, seed),
		  0 },
		{ "--jobs", 1, 256, offsetof(struct explore_opts, jobs), 1 },
		{ "--max-steps", 1, ULONG_MAX,
		  offsetof(struct explore_opts, max_steps), 0 },
	};
	unsigned long n;

	*known = true;
	if (!strcmp(a, "--shrink-budget")) {
		if (!parse_ulong(a, v, 0, 1000000, &n, err))
			return false;
		/* 0 turns shrinking off; the API's 0 means the default. */
		x->o.shrink_budget = n ? (long)n : -1;
		return true;
	}
	for (size_t k = 0; k < ARRAY_SIZE(num); k++) {
		char *f = (char *)&x->o + num[k].off;

		if (strcmp(a, num[k].name))
			continue;
		if (!parse_ulong(a, v, num[k].min, num[k].max, &n, err))
			return false;
		if (num[k].is_uint)
			*(unsigned int *)f = (unsigned int)n;
		else
			*(unsigned long *)f = n;
		return true;
	}
	*known = false;
	return false;
}

/* One option at argv[*i] (its value, if any, at argv[*i + 1]). */
static bool parse_opt(struct xcli *x, int argc, char **argv, int *i, FILE *err)
{
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	bool ok, known;

	ok = parse_num(a, v, x, &known, err);
	if (!known && !strcmp(a, "--strategy")) {
		known = true;
		ok = parse_strategy(v, &x->o.strategy, err);
	} else if (!known && !strcmp(a, "--replay")) {
		known = true;
		ok = v != NULL;
		x->replay = v;
		if (!ok)
			fprintf(err,
				"mmirror explore: --replay needs a FILE\n");
	}
	if (known) {
		*i += 1;
		return ok;
	}
	if (!strcmp(a, "--no-stop"))
		x->o.stop_at_first = false;
	else if (!strcmp(a, "--progress"))
		x->o.progress = true;
	else if (!strcmp(a, "--list"))
		x->list = true;
	else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		x->help = true;
	else {
		fprintf(err, "mmirror explore: unknown option '%s'\n", a);
		return false;
	}
	return true;
}

#define DEPTH_UNSET UINT_MAX

/* --depth against --strategy: its meaning and range depend on it. */
static int check_depth(struct xcli *x, FILE *err)
{
	if (x->o.depth == DEPTH_UNSET) {
		x->o.depth = x->o.strategy == EXPLORE_DFS ? 2 : 3;
		return 0;
	}
	if (x->o.strategy == EXPLORE_DFS)
		return 0;
	if (x->o.depth < 1 || x->o.depth > 16) {
		fprintf(err,
			"mmirror explore: --depth '%u': want 1..16 "
			"(0..64 with --strategy dfs)\n",
			x->o.depth);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct xcli *x, int argc, char **argv, FILE *err)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			if (x->scenario) {
				fprintf(err,
					"mmirror explore: one SCENARIO "
					"only ('%s' and '%s')\n",
					x->scenario, argv[i]);
				return -EINVAL;
			}
			x->scenario = argv[i];
		} else if (!parse_opt(x, argc, argv, &i, err)) {
			return -EINVAL;
		}
	}
	if (x->help || x->list)
		return 0;
	if (!x->scenario) {
		fprintf(err, "mmirror explore: missing SCENARIO (try "
			     "'mmirror explore --list')\n");
		return -EINVAL;
	}
	return check_depth(x, err);
}

static int list_scenarios(FILE *out)
{
	const struct explore_scenario *s;

	fprintf(out, "%-24s %-10s %s\n", "SCENARIO", "EXPECTED", "SUMMARY");
	for (unsigned int i = 0; (s = explore_scenario_at(i)); i++)
		fprintf(out, "%-24s %-10s %s\n", s->name,
			s->expect_violation ? "violation" : "clean",
			s->summary ? s->summary : "");
	return SCN_EXIT_OK;
}

/* Read all of @path; NULL (message printed) on error. */
static char *read_text(const char *path, FILE *err)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(err, "mmirror explore: cannot open '%s': %s\n", path,
			strerror(errno));
		return NULL;
	}
	do {
		char *nb = realloc(buf, cap += 4096);

		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		n += fread(buf + n, 1, cap - n - 1, f);
	} while (n == cap - 1);
	if (buf)
		buf[n] = '\0';
	if (!buf || ferror(f)) {
		fprintf(err, "mmirror explore: cannot read '%s'\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int do_replay(const struct explore_scenario *s, const char *path,
		     FILE *out, FILE *err)
{
	char *text = read_text(path, err);
	int v;

	if (!text)
		return SCN_EXIT_USAGE;
	v = explore_replay(s, text, out);
	free(text);
	if (v < 0) {
		fprintf(err, "mmirror explore: cannot replay '%s': %s\n", path,
			strerror(-v));
		return SCN_EXIT_USAGE;
	}
	return (v != EXPLORE_OK) == s->expect_violation ? SCN_EXIT_OK :
							  SCN_EXIT_FAILED;
}

/* Save the bad schedule and print how to replay it. */
static void save_schedule(const struct explore_scenario *s,
			  const struct explore_opts *o,
			  const struct explore_result *r, FILE *out)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "mmirror-%s-%lu.sched", s->name,
		 o->seed + r->first_bad);
	f = fopen(path, "w");
	if (!f || fputs(r->bad_schedule, f) < 0) {
		fprintf(out, "cannot save the schedule to %s: %s\n", path,
			strerror(errno));
	} else {
		fprintf(out,
			"schedule saved: %s\nreplay: mmirror explore %s "
			"--replay %s\n",
			path, s->name, path);
	}
	if (f)
		fclose(f);
}

static int do_explore(const struct explore_scenario *s, struct xcli *x,
		      FILE *out, FILE *err)
{
	struct explore_result r = { 0 };
	unsigned long bad;
	int ret;

	x->o.out = out;
	ret = explore(s, &x->o, &r);
	if (ret < 0) {
		fprintf(err, "mmirror explore: %s: %s\n", s->name,
			strerror(-ret));
		return SCN_EXIT_USAGE;
	}
	bad = r.violations + r.deadlocks + r.crashes;
	if (r.bad_schedule)
		save_schedule(s, &x->o, &r, out);
	fprintf(out,
		"%s: %lu schedules, %lu violations, %lu deadlocks, "
		"%lu crashes, %lu step limits, %.1f s%s; expected %s: %s\n",
		s->name, r.schedules, r.violations, r.deadlocks, r.crashes,
		r.step_limits, r.seconds,
		x->o.strategy != EXPLORE_DFS ? "" :
		r.exhausted		     ? ", space exhausted" :
					       ", space not exhausted",
		s->expect_violation ? "a violation" : "none",
		(bad != 0) == s->expect_violation ? "ok" : "MISMATCH");
	explore_result_free(&r);
	return (bad != 0) == s->expect_violation ? SCN_EXIT_OK :
						   SCN_EXIT_FAILED;
}

/**
 * mmirror_explore_main() - `mmirror explore ARGS` (argv[0] is "explore").
 * @argc: argument count.
 * @argv: arguments.
 * @out: reports, diagrams, the list.
 * @err: usage errors.
 *
 * Context: process context, before any scenario thread exists (the
 * explorer forks per schedule).
 * Return: the exit status (see the top of this file).
 */
int mmirror_explore_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct xcli x = { .o = { .strategy = EXPLORE_RANDOM,
				 .depth = DEPTH_UNSET,
				 .schedules = 10000,
				 .seed = 1,
				 .jobs = 1,
				 .stop_at_first = true } };
	const struct explore_scenario *s;

	if (parse_args(&x, argc, argv, err)) {
		explore_usage(err);
		return SCN_EXIT_USAGE;
	}
	if (x.help) {
		explore_usage(out);
		return SCN_EXIT_OK;
	}
	explore_scenarios_init();
	if (x.list)
		return list_scenarios(out);
	s = explore_find(x.scenario);
	if (!s) {
		fprintf(err,
			"mmirror explore: unknown scenario '%s' (try "
			"'mmirror explore --list')\n",
			x.scenario);
		return SCN_EXIT_USAGE;
	}
	if (x.replay)
		return do_replay(s, x.replay, out, err);
	return do_explore(s, &x, out, err);
}
