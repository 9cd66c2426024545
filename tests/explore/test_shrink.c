// SPDX-License-Identifier: MIT
/*
 * Shrinking a bad schedule: a lost update that needs exactly one
 * preemption, buried in noise (each thread passes many sched points before
 * and after its read-modify-write), is found by the random walk with many
 * preemptions and shown with one; the shown schedule replays to the same
 * verdict and events; --shrink-budget < 0 leaves it alone; a deadlock
 * shrinks too, and to one preemption.
 */
#include "../test_util.h"
#include <stdlib.h>
#include <string.h>
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mutex.h>
#include <mmirror/sched_point.h>

#define NOISE 12

/* Each schedule runs in its own forked child: plain globals are per run. */
static struct {
	int counter, noise;
	struct mutex a, b;
} W;

static FILE *devnull;

static int w_setup(void **ctx)
{
	*ctx = NULL;
	mutex_init(&W.a);
	mutex_init(&W.b);
	return 0;
}

static void w_teardown(void *ctx)
{
	(void)ctx;
}

static void noise(void)
{
	for (int i = 0; i < NOISE; i++)
		sched_point(SP_EVENT, &W.noise);
}

static int noisy_inc(void *arg)
{
	int v;

	(void)arg;
	noise();
	v = READ_ONCE(W.counter);
	sched_point(SP_EVENT, &W.counter);
	WRITE_ONCE(W.counter, v + 1);
	noise();
	return 0;
}

static void run2(int (*fn)(void *), void *a, void *b)
{
	struct task_struct *t1 = kthread_run(fn, a, "t1");
	struct task_struct *t2 = kthread_run(fn, b, "t2");

	assert_false(IS_ERR(t1));
	assert_false(IS_ERR(t2));
	kthread_join(t1);
	kthread_join(t2);
}

static void noisy_run(void *ctx)
{
	(void)ctx;
	run2(noisy_inc, NULL, NULL);
	if (W.counter != 2)
		explore_fail("lost update: counter %d", W.counter);
}

static const struct explore_scenario noisy_update = {
	.name = "noisy-update",
	.expect_violation = true,
	.setup = w_setup,
	.run = noisy_run,
	.teardown = w_teardown,
};

static int abba(void *first)
{
	struct mutex *x = first ? &W.a : &W.b, *y = first ? &W.b : &W.a;

	noise();
	mutex_lock(x);
	mutex_lock(y);
	mutex_unlock(y);
	mutex_unlock(x);
	noise();
	return 0;
}

static void abba_run(void *ctx)
{
	(void)ctx;
	run2(abba, (void *)1, NULL);
}

static const struct explore_scenario abba_scn = {
	.name = "noisy-abba",
	.expect_violation = true,
	.setup = w_setup,
	.run = abba_run,
	.teardown = w_teardown,
};

static struct explore_result go(const struct explore_scenario *s,
				unsigned long seed, long budget)
{
	struct explore_opts o = {
		.strategy = EXPLORE_RANDOM,
		.schedules = 200,
		.seed = seed,
		.jobs = 1,
		.stop_at_first = true,
		.shrink_budget = budget,
		.out = devnull,
	};
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	assert_non_null(r.bad_schedule);
	return r;
}

/* The shown schedule replays to the same verdict, events, preemptions. */
static void check_replays(const struct explore_scenario *s,
			  const struct explore_result *r)
{
	char *ev, *out = NULL, want[64];
	size_t len = 0;
	FILE *f;

	assert_int_equal(explore_replay_events(s, r->bad_schedule, &ev),
			 r->bad_verdict);
	assert_string_equal(ev, r->bad_events);
	free(ev);
	f = open_memstream(&out, &len);
	assert_int_equal(explore_replay(s, r->bad_schedule, f), r->bad_verdict);
	fclose(f);
	snprintf(want, sizeof(want), "(%lu steps, %lu preemptions)",
		 r->bad_steps, r->bad_preemptions);
	assert_non_null(strstr(out, want));
	free(out);
}

static void test_shrinks_to_one(void **state)
{
	(void)state;
	static const unsigned long seeds[] = { 1, 20, 300, 4000 };

	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
		struct explore_result r = go(&noisy_update, seeds[i], 0);

		assert_int_equal(r.bad_verdict, EXPLORE_VIOLATION);
		/* Random preempts all over the place ... */
		assert_true(r.found_preemptions > 3);
		/* ... one preemption is all the bug needs. */
		assert_int_equal(r.bad_preemptions, 1);
		assert_true(r.shrink_runs > 0 && r.shrink_runs <= 200);
		assert_true(r.bad_steps <= r.found_steps);
		assert_non_null(strstr(r.bad_schedule, "strategy=dfs"));
		check_replays(&noisy_update, &r);
		explore_result_free(&r);
	}
}

static void test_budget(void **state)
{
	struct explore_result r;

	(void)state;
	r = go(&noisy_update, 1, -1);
	assert_int_equal(r.shrink_runs, 0);
	assert_int_equal(r.bad_preemptions, r.found_preemptions);
	assert_non_null(strstr(r.bad_schedule, "strategy=random"));
	check_replays(&noisy_update, &r);
	explore_result_free(&r);
	r = go(&noisy_update, 1, 3);
	assert_true(r.shrink_runs <= 3);
	check_replays(&noisy_update, &r);
	explore_result_free(&r);
}

static void test_deadlock(void **state)
{
	struct explore_result r;

	(void)state;
	r = go(&abba_scn, 2, 0);
	assert_int_equal(r.bad_verdict, EXPLORE_DEADLOCK);
	assert_true(r.found_preemptions > 1);
	assert_int_equal(r.bad_preemptions, 1);
	assert_non_null(strstr(r.bad_events, "deadlock: T1"));
	check_replays(&abba_scn, &r);
	explore_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shrinks_to_one),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_deadlock),
	};

	/* EXPLORE_VERBOSE=1 shows the summaries and the bad schedules. */
	devnull = getenv("EXPLORE_VERBOSE") ? stderr : fopen("/dev/null", "w");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
