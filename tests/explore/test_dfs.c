// SPDX-License-Identifier: MIT
/*
 * The explorer's bounded DFS: it runs every schedule within the
 * preemption bound exactly once (counted against a derived formula), says
 * when the space is exhausted, finds the lost update with one preemption
 * but not with none, proves the locked update clean, gives the same
 * schedules and first bad one with --jobs 2, and replays what it finds.
 *
 * The counting scenario: the main thread M starts a thread A, passes N
 * sched points, joins A; A passes N sched points and exits.  Its schedules
 * with exactly p preemptions (docs/explore.md derives this):
 *   p = 0: 1;  p = 2k - 1: C(N,k) C(N,k-1) + C(N,k-1)^2;
 *   p = 2k: C(N,k)^2 + C(N,k-1) C(N,k);
 * so at most 0, 1, 2 preemptions give 1, N + 2 and N^2 + 2N + 2
 * schedules, and all of them C(2N+2, N+1): every way to merge the two
 * threads' N + 1 stretches between points, the extra join point giving
 * back exactly the merges in which A finishes first.
 */
#include "../test_util.h"
#include <stdlib.h>
#include <string.h>
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mutex.h>
#include <mmirror/sched_point.h>
#include "lost_update.h"

/* Each schedule runs in its own forked child: plain globals are per run. */
static struct {
	int counter;
	struct mutex m;
} W;

static int nsteps; /* set by the parent before explore(); children inherit */
static FILE *devnull;

static int w_setup(void **ctx)
{
	*ctx = NULL;
	mutex_init(&W.m);
	return 0;
}

static void w_teardown(void *ctx)
{
	(void)ctx;
}

static int steps(void *arg)
{
	(void)arg;
	for (int i = 0; i < nsteps; i++)
		sched_point(SP_EVENT, &W);
	return 0;
}

static void two_run(void *ctx)
{
	struct task_struct *a = kthread_run(steps, ctx, "a");

	assert_false(IS_ERR(a));
	steps(ctx);
	kthread_join(a);
}

static const struct explore_scenario two_scn = {
	.name = "two-threads",
	.setup = w_setup,
	.run = two_run,
	.teardown = w_teardown,
};

static struct explore_result dfs(const struct explore_scenario *s,
				 unsigned int bound, unsigned long limit,
				 unsigned int jobs, bool stop)
{
	struct explore_opts o = {
		.strategy = EXPLORE_DFS,
		.depth = bound,
		.schedules = limit,
		.seed = 1,
		.jobs = jobs,
		.stop_at_first = stop,
		.out = devnull,
	};
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	return r;
}

static unsigned long binom(unsigned int n, unsigned int k)
{
	unsigned long r = 1;

	if (k > n)
		return 0;
	for (unsigned int i = 1; i <= k; i++)
		r = r * (n - k + i) / i;
	return r;
}

/* Schedules of two_scn with exactly @p preemptions (see the top). */
static unsigned long exactly(unsigned int n, unsigned int p)
{
	unsigned int k = (p + 1) / 2;

	if (p == 0)
		return 1;
	if (p % 2)
		return binom(n, k) * binom(n, k - 1) +
		       binom(n, k - 1) * binom(n, k - 1);
	return binom(n, k) * binom(n, k) + binom(n, k - 1) * binom(n, k);
}

static void test_counts(void **state)
{
	(void)state;
	for (nsteps = 1; nsteps <= 4; nsteps++) {
		unsigned long want = 0;

		for (unsigned int b = 0; b <= 2 * (unsigned int)nsteps + 1;
		     b++) {
			struct explore_result r;

			want += exactly(nsteps, b);
			/* Sanitizer builds fork slowly: N = 4 at 0, 1, 2, all. */
			if (nsteps == 4 && b > 2 &&
			    b < 2 * (unsigned int)nsteps + 1)
				continue;
			r = dfs(&two_scn, b, 0, 1, true);
			assert_int_equal(r.schedules, want);
			assert_true(r.exhausted);
			assert_int_equal(r.violations + r.deadlocks +
						 r.crashes + r.step_limits,
					 0);
			explore_result_free(&r);
		}
		/* The closed forms the derivation gives. */
		assert_int_equal(want, binom(2 * nsteps + 2, nsteps + 1));
		assert_int_equal(exactly(nsteps, 1), nsteps + 1);
		assert_int_equal(exactly(nsteps, 2), nsteps * nsteps + nsteps);
	}
}

static void test_limit(void **state)
{
	struct explore_result r;

	(void)state;
	nsteps = 4;
	r = dfs(&two_scn, 2, 7, 1, true);
	assert_int_equal(r.schedules, 7);
	assert_false(r.exhausted);
	r = dfs(&two_scn, 2, 26, 1, true);
	assert_int_equal(r.schedules, 26);
	assert_true(r.exhausted);
}

static void test_lost_update(void **state)
{
	struct explore_result r;
	char *ev;

	(void)state;
	/* Without a preemption each increment runs whole: never lost. */
	r = dfs(&lost_update, 0, 0, 1, true);
	assert_true(r.exhausted);
	assert_true(r.schedules >= 1);
	assert_int_equal(r.violations + r.deadlocks + r.crashes, 0);
	r = dfs(&lost_update, 1, 0, 1, true);
	assert_int_equal(r.violations, 1);
	assert_false(r.exhausted);
	assert_int_equal(r.bad_verdict, EXPLORE_VIOLATION);
	assert_int_equal(r.bad_preemptions, 1);
	assert_non_null(strstr(r.bad_schedule, "strategy=dfs"));
	assert_int_equal(
		explore_replay_events(&lost_update, r.bad_schedule, &ev),
		EXPLORE_VIOLATION);
	assert_string_equal(ev, r.bad_events);
	free(ev);
	explore_result_free(&r);
	/* Every one of them, and the locked version never. */
	r = dfs(&lost_update, 1, 0, 1, false);
	assert_true(r.exhausted);
	assert_true(r.violations >= 2);
	explore_result_free(&r);
	r = dfs(&locked_update, 2, 0, 1, false);
	assert_true(r.exhausted);
	assert_true(r.schedules > 10);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	assert_null(r.bad_schedule);
}

static void same(const struct explore_result *a, const struct explore_result *b)
{
	assert_int_equal(a->schedules, b->schedules);
	assert_int_equal(a->violations, b->violations);
	assert_int_equal(a->deadlocks, b->deadlocks);
	assert_int_equal(a->exhausted, b->exhausted);
	assert_int_equal(a->first_bad, b->first_bad);
	if (a->bad_schedule) {
		assert_string_equal(a->bad_schedule, b->bad_schedule);
		assert_string_equal(a->bad_events, b->bad_events);
	} else {
		assert_null(b->bad_schedule);
	}
}

static void test_jobs_same(void **state)
{
	static const struct {
		const struct explore_scenario *s;
		unsigned int bound;
		unsigned long limit;
		bool stop;
	} cases[] = {
		{ &two_scn, 3, 0, true },	{ &lost_update, 2, 0, false },
		{ &lost_update, 2, 0, true },	{ &lost_update, 2, 9, false },
		{ &locked_update, 2, 0, true }, { &locked_update, 3, 25, true },
	};

	(void)state;
	nsteps = 3;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct explore_result a, b;

		a = dfs(cases[i].s, cases[i].bound, cases[i].limit, 1,
			cases[i].stop);
		b = dfs(cases[i].s, cases[i].bound, cases[i].limit, 2,
			cases[i].stop);
		same(&a, &b);
		explore_result_free(&a);
		explore_result_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_lost_update),
		cmocka_unit_test(test_jobs_same),
	};

	/* EXPLORE_VERBOSE=1 shows the summaries and the bad schedules. */
	devnull = getenv("EXPLORE_VERBOSE") ? stderr : fopen("/dev/null", "w");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
