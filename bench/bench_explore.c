// SPDX-License-Identifier: MIT
/*
 * bench_explore - how fast the explorer runs schedules, and how fast each
 * strategy finds each seed race, against real-thread stress given the
 * same time.
 *
 * What is measured, and how (docs/benchmarks.md has the table):
 *
 *  1. Throughput: every registered "seedNNN-correct" scenario, PCT depth
 *     2, a fixed number of schedules, with --jobs 1 and --jobs J: schedules
 *     per second of wall time, fork of the child and its report included.
 *
 *  2. Hunt: every "seedNNN-flawed" scenario with PCT (depth 2), random and
 *     DFS (preemption bound 2), stopping at the first bad schedule, capped
 *     at --cap schedules.  PCT and random run once per seed 1..N; DFS is
 *     deterministic (no seed), so it runs once.  Printed: how many runs
 *     found the race, the median number of schedules to the first bad one
 *     (first_bad + 1) and the median wall time to it; a run that did not
 *     find it counts as "more than the cap", so a median over runs that
 *     mostly failed prints as ">cap".
 *
 *  3. Stress: the same flawed scenario with real threads (no explorer,
 *     the oracle on), run back to back in a forked child for as long as
 *     PCT's median time to the first violation (at least --stress-min
 *     seconds), N times: how many of those windows saw any violation (or
 *     a crash) at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mmirror/check.h>
#include <mmirror/explore.h>
#include "bench_util.h"
#include "explore_scenarios.h"

#define MAX_SEEDS 64

static struct {
	unsigned int seeds; /* runs per (race, strategy) */
	unsigned long cap; /* schedules per run at most */
	unsigned long tput; /* schedules for the throughput figure */
	unsigned int jobs;
	double stress_min; /* seconds per stress window, at least */
	const char *only; /* scenario name prefix, or NULL */
	FILE *devnull;
} cfg = { 20, 10000, 2000, 2, 1.0, NULL, NULL };

static const char *const strat_name[] = { "random", "pct", "dfs" };

static bool selected(const struct explore_scenario *s, bool flawed)
{
	if (strncmp(s->name, "seed", 4) || s->expect_violation != flawed)
		return false;
	return !cfg.only || !strncmp(s->name, cfg.only, strlen(cfg.only));
}

/* One explore() run; a negative errno if it could not run at all. */
static int run(const struct explore_scenario *s, enum explore_strategy st,
	       unsigned long seed, unsigned long n, unsigned int jobs,
	       bool stop, struct explore_result *r)
{
	struct explore_opts o = { .strategy = st,
				  .depth = 2,
				  .schedules = n,
				  .seed = seed,
				  .jobs = jobs,
				  .stop_at_first = stop,
				  .out = cfg.devnull };

	return explore(s, &o, r);
}

static void throughput(void)
{
	const struct explore_scenario *s;
	struct explore_result r;

	printf("\n1. throughput: PCT depth 2, %lu schedules, seed 1\n\n",
	       cfg.tput);
	printf("| scenario | jobs 1 (schedules/s) | jobs %u (schedules/s) |\n",
	       cfg.jobs);
	printf("| --- | --- | --- |\n");
	for (unsigned int i = 0; (s = explore_scenario_at(i)); i++) {
		double rate[2];

		if (!selected(s, false))
			continue;
		for (int j = 0; j < 2; j++) {
			if (run(s, EXPLORE_PCT, 1, cfg.tput, j ? cfg.jobs : 1,
				false, &r))
				bench_die("explore", -1);
			rate[j] = r.schedules / r.seconds;
			explore_result_free(&r);
		}
		printf("| %s | %.0f | %.0f |\n", s->name, rate[0], rate[1]);
		fflush(stdout);
	}
}

struct hunt {
	unsigned int runs, found;
	double sched[MAX_SEEDS], secs[MAX_SEEDS];
	int err;
};

static void hunt(const struct explore_scenario *s, enum explore_strategy st,
		 struct hunt *h)
{
	unsigned int runs = st == EXPLORE_DFS ? 1 : cfg.seeds;
	struct explore_result r;

	memset(h, 0, sizeof(*h));
	for (unsigned int i = 0; i < runs; i++) {
		h->err = run(s, st, i + 1, cfg.cap, cfg.jobs, true, &r);
		if (h->err)
			return;
		h->runs++;
		if (r.first_bad != ~0UL) {
			h->found++;
			h->sched[i] = (double)r.first_bad + 1;
			h->secs[i] = r.seconds;
		} else {
			/* Not found: above every found value, so the
			 * median is ">cap" when most runs failed. */
			h->sched[i] = 1e300;
			h->secs[i] = 1e300;
		}
		explore_result_free(&r);
		fprintf(stderr, "\r%s %s: run %u/%u   ", s->name,
			strat_name[st], i + 1, runs);
	}
	fprintf(stderr, "\r%60s\r", "");
}

static void print_median(double *v, unsigned int n, const char *fmt)
{
	double m = bench_median(v, (int)n);

	if (m >= 1e300)
		printf(" >cap |");
	else
		printf(fmt, m);
}

/*
 * Real threads for @secs seconds in a forked child (a flawed driver may
 * really touch freed memory): setup/run/teardown back to back under the
 * oracle.  Return 1 if any round saw a violation or the child died, 0 if
 * not, and the rounds run in *@rounds.
 */
static int stress_window(const struct explore_scenario *s, double secs,
			 unsigned long *rounds)
{
	int pfd[2], status = 0;
	unsigned long rep[2] = { 0, 0 };
	pid_t pid;

	if (pipe(pfd))
		bench_die("pipe", errno);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		double end = bench_now_ns() + secs * 1e9;

		close(pfd[0]);
		check_set_output(NULL);
		check_enable();
		while (bench_now_ns() < end && !rep[1]) {
			void *ctx = NULL;

			if (s->setup && s->setup(&ctx))
				_exit(3);
			s->run(ctx);
			if (s->teardown)
				s->teardown(ctx);
			rep[0]++;
			rep[1] = check_nr_violations(0);
		}
		if (write(pfd[1], rep, sizeof(rep)) != sizeof(rep))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], rep, sizeof(rep)) != sizeof(rep))
		rep[1] = 1; /* died mid-round: a crash is a find too */
	close(pfd[0]);
	waitpid(pid, &status, 0);
	*rounds = rep[0];
	return rep[1] || !WIFEXITED(status) || WEXITSTATUS(status);
}

static void stress(const struct explore_scenario *s, double secs)
{
	unsigned long rounds = 0, total = 0;
	unsigned int hits = 0;

	if (secs < cfg.stress_min)
		secs = cfg.stress_min;
	for (unsigned int i = 0; i < cfg.seeds; i++) {
		hits += stress_window(s, secs, &rounds);
		total += rounds;
		fprintf(stderr, "\r%s stress: window %u/%u   ", s->name, i + 1,
			cfg.seeds);
	}
	fprintf(stderr, "\r%60s\r", "");
	printf("| %s | real-thread stress | %u/%u windows of %.2f s | %.0f rounds/window | - |\n",
	       s->name, hits, cfg.seeds, secs, (double)total / cfg.seeds);
}

static void hunt_all(void)
{
	static const enum explore_strategy order[] = { EXPLORE_PCT,
						       EXPLORE_RANDOM,
						       EXPLORE_DFS };
	const struct explore_scenario *s;

	printf("\n2-3. time to first violation: %u seeds (DFS: 1 run), cap %lu schedules, --jobs %u\n\n",
	       cfg.seeds, cfg.cap, cfg.jobs);
	printf("| race | strategy | found | median schedules | median seconds |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	for (unsigned int i = 0; (s = explore_scenario_at(i)); i++) {
		double pct_secs = 0;

		if (!selected(s, true))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
			struct hunt h;

			hunt(s, order[k], &h);
			printf("| %s | %s%s |", s->name, strat_name[order[k]],
			       order[k] == EXPLORE_RANDOM ? "" : " d=2");
			if (h.err) {
				printf(" not run: %s | - | - |\n",
				       strerror(-h.err));
				continue;
			}
			printf(" %u/%u |", h.found, h.runs);
			print_median(h.sched, h.runs, " %.0f |");
			if (order[k] == EXPLORE_PCT) {
				double tmp[MAX_SEEDS];

				memcpy(tmp, h.secs, sizeof(tmp));
				pct_secs = bench_median(tmp, (int)h.runs);
			}
			print_median(h.secs, h.runs, " %.3f |");
			printf("\n");
			fflush(stdout);
		}
		stress(s, pct_secs < 1e300 ? pct_secs : cfg.stress_min);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_explore [--quick] [--seeds N] [--cap N] [--jobs J]\n"
		"                     [--stress-min SECONDS] [--only PREFIX]\n"
		"  --quick        5 seeds, cap 2000, 500 throughput schedules\n"
		"  --seeds N      runs per race and strategy (1..%d, default 20)\n"
		"  --cap N        schedules per run at most (default 10000)\n"
		"  --jobs J       child processes in parallel (default 2)\n"
		"  --stress-min S shortest real-thread window (default 1.0)\n"
		"  --only PREFIX  only scenarios whose name starts with PREFIX\n",
		MAX_SEEDS);
}

static bool parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			cfg.seeds = 5;
			cfg.cap = 2000;
			cfg.tput = 500;
		} else if (!strcmp(a, "--seeds") && v) {
			cfg.seeds = (unsigned int)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--cap") && v) {
			cfg.cap = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--jobs") && v) {
			cfg.jobs = (unsigned int)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--stress-min") && v) {
			cfg.stress_min = strtod(v, NULL);
			i++;
		} else if (!strcmp(a, "--only") && v) {
			cfg.only = v;
			i++;
		} else {
			usage(strcmp(a, "--help") ? stderr : stdout);
			exit(strcmp(a, "--help") ? 2 : 0);
		}
	}
	if (!cfg.seeds || cfg.seeds > MAX_SEEDS || !cfg.cap || !cfg.jobs ||
	    cfg.jobs > 64 || !(cfg.stress_min > 0)) {
		usage(stderr);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	char model[128];
	int cpus;

	bench_name = "bench_explore";
	if (!parse_args(argc, argv))
		return 2;
	cfg.devnull = fopen("/dev/null", "w");
	if (!cfg.devnull)
		bench_die("fopen /dev/null", errno);
	explore_scenarios_init();
	cpus = bench_cpu_model(model, sizeof(model));
	printf("bench_explore: %s, %d CPUs, build %s\n", model, cpus,
#if defined(__OPTIMIZE__) && !defined(MMIRROR_ASAN) && !defined(MMIRROR_TSAN)
	       "optimized, no sanitizers"
#else
	       "NOT optimized or sanitized: numbers are not meaningful"
#endif
	);
	{
		char load[128];

		bench_read_sys("/proc/loadavg", load, sizeof(load));
		printf("load average at start: %s (other work on the machine slows the timed figures, not the counts)\n",
		       load);
	}
	printf("each schedule runs in a forked child; times are wall clock, fork and report included\n");
	throughput();
	hunt_all();
	return 0;
}
