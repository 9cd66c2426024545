// SPDX-License-Identifier: MIT
/*
 * Seed 003 under the explorer (tools/mmirror/explore_seed003.c): device
 * removal racing GUP-fast, the three combinations of the seed.
 *
 *   seed003-flawed   no zap, no pgmap check: PCT (depth 2, seed 1) finds
 *                    the use after free within 10000 schedules, and the
 *                    recorded schedule replays to the same violation and
 *                    the same event list, every time;
 *   seed003-checked  no zap, pgmap check: survives;
 *   seed003-correct  zap + flush, no pgmap check: survives.
 *
 * Then the two safe ones with real threads under the oracle, every frame
 * and object accounted for.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/explore.h>
#include <mmirror/gup.h>
#include <mmirror/memremap.h>

extern const struct explore_scenario explore_seed003_flawed;
extern const struct explore_scenario explore_seed003_checked;
extern const struct explore_scenario explore_seed003_correct;

static FILE *devnull;

static struct explore_result go(const struct explore_scenario *s,
				unsigned long n, bool stop)
{
	struct explore_opts o = {
		.strategy = EXPLORE_PCT,
		.depth = 2,
		.schedules = n,
		.seed = 1,
		.jobs = 1,
		.stop_at_first = stop,
		.out = devnull,
	};
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	return r;
}

static void test_flawed_found_and_replayed(void **state)
{
	struct explore_result r;
	char *ev = NULL;

	(void)state;
	r = go(&explore_seed003_flawed, 10000, true);
	assert_true(r.violations > 0);
	assert_true(r.first_bad < 10000);
	assert_int_equal(r.bad_verdict, EXPLORE_VIOLATION);
	assert_int_equal(r.deadlocks + r.crashes + r.step_limits, 0);
	assert_non_null(r.bad_schedule);
	assert_non_null(r.bad_events);
	/* The oracle's use-after-free row is the marked one. */
	assert_non_null(strstr(r.bad_events, "use-after-free"));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(explore_replay_events(&explore_seed003_flawed,
						       r.bad_schedule, &ev),
				 EXPLORE_VIOLATION);
		assert_string_equal(ev, r.bad_events);
		free(ev);
	}
	assert_int_equal(explore_replay(&explore_seed003_flawed, r.bad_schedule,
					devnull),
			 EXPLORE_VIOLATION);
	explore_result_free(&r);
}

static void survives(const struct explore_scenario *s, unsigned long n)
{
	struct explore_result r = go(s, n, false);

	assert_int_equal(r.schedules, n);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	explore_result_free(&r);
}

static void test_checked_survives(void **state)
{
	(void)state;
	survives(&explore_seed003_checked, TEST_SCALE(300));
}

static void test_correct_survives(void **state)
{
	(void)state;
	survives(&explore_seed003_correct, TEST_SCALE(300));
}

/* The safe combinations with real threads: no violation, nothing left. */
static void real_threads(const struct explore_scenario *s, unsigned int n)
{
	struct mm_leak_check lc;

	mm_leak_check_begin(&lc);
	oracle_begin();
	for (unsigned int i = 0; i < n; i++) {
		void *ctx = NULL;

		assert_int_equal(s->setup(&ctx), 0);
		s->run(ctx);
		s->teardown(ctx);
	}
	oracle_end_clean();
	assert_int_equal(memremap_nr_pgmaps(), 0);
	mm_leak_check_end(&lc);
}

static void test_real_threads(void **state)
{
	(void)state;
	real_threads(&explore_seed003_correct, TEST_SCALE(200));
	real_threads(&explore_seed003_checked, TEST_SCALE(200));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flawed_found_and_replayed),
		cmocka_unit_test(test_checked_survives),
		cmocka_unit_test(test_correct_survives),
		cmocka_unit_test(test_real_threads),
	};
	int ret;

	devnull = fopen("/dev/null", "w");
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	fclose(devnull);
	return ret;
}
