// SPDX-License-Identifier: MIT
/*
 * The seed races under the explorer, with fixed seeds (issue 7's floor):
 * every registered "seedNNN-flawed" scenario is found within 10,000 PCT
 * schedules, as an oracle violation (not a crash or a deadlock), and its
 * bad schedule replays to the same verdict and the same event list, twice;
 * every "seedNNN-correct" scenario survives 20,000 PCT schedules with no
 * bad schedule at all.
 *
 * The scenarios are taken from the registry, so a seed registered later
 * is covered without touching this file; the test fails if fewer than the
 * seeds named in want_pairs[] are registered.
 *
 * Sanitizer builds run each schedule 10-15 times slower (fork of an
 * instrumented process, shadow memory), so there the correct scenarios
 * run 1,000 schedules: the counts are asserted by the plain build, the
 * sanitizer builds check that exploring the seeds is memory- and
 * race-clean.  A flawed scenario is found at the same index in every
 * build (schedule i depends only on its seed), so all builds assert the
 * 10,000 bound.
 */
#include "../test_util.h"
#include <stdlib.h>
#include <string.h>
#include <mmirror/explore.h>
#include "../../tools/mmirror/explore_scenarios.h"

#define FIND_WITHIN 10000UL
#if defined(MMIRROR_ASAN) || defined(MMIRROR_TSAN)
#define SURVIVE 1000UL
#else
#define SURVIVE 20000UL
#endif

/* The seeds this test insists on; more registered ones are run too. */
static const char *const want_pairs[] = { "seed000", "seed001", "seed002",
					  "seed003", "seed004" };

static FILE *devnull;

static bool is_seed(const struct explore_scenario *s)
{
	return !strncmp(s->name, "seed", 4);
}

static void find_flawed(const struct explore_scenario *s)
{
	struct explore_opts o = { .strategy = EXPLORE_PCT,
				  .depth = 2,
				  .schedules = FIND_WITHIN,
				  .seed = 1,
				  .jobs = 2,
				  .stop_at_first = true,
				  .out = devnull };
	struct explore_result r;
	char *ev1 = NULL, *ev2 = NULL;

	assert_int_equal(explore(s, &o, &r), 0);
	if (r.first_bad == ~0UL)
		printf("  %-18s NOT found in %lu schedules\n", s->name,
		       r.schedules);
	else
		printf("  %-18s found at schedule %lu (%.1f s)\n", s->name,
		       r.first_bad, r.seconds);
	assert_true(r.first_bad < FIND_WITHIN);
	assert_int_equal(r.bad_verdict, EXPLORE_VIOLATION);
	assert_int_equal(r.crashes + r.deadlocks + r.step_limits, 0);
	assert_non_null(r.bad_schedule);
	/* The recorded schedule fails again, identically, every time. */
	assert_int_equal(explore_replay_events(s, r.bad_schedule, &ev1),
			 EXPLORE_VIOLATION);
	assert_int_equal(explore_replay_events(s, r.bad_schedule, &ev2),
			 EXPLORE_VIOLATION);
	assert_string_equal(ev1, ev2);
	assert_non_null(strstr(ev1, "VIOLATION"));
	free(ev1);
	free(ev2);
	explore_result_free(&r);
}

static void survive_correct(const struct explore_scenario *s)
{
	struct explore_opts o = { .strategy = EXPLORE_PCT,
				  .depth = 2,
				  .schedules = SURVIVE,
				  .seed = 1,
				  .jobs = 2,
				  .out = devnull };
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	printf("  %-18s %lu schedules clean (%.1f s)\n", s->name, r.schedules,
	       r.seconds);
	assert_int_equal(r.schedules, SURVIVE);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	assert_true(r.first_bad == ~0UL);
	explore_result_free(&r);
}

static void test_every_seed(void **state)
{
	const struct explore_scenario *s;
	unsigned int n = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(want_pairs); i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s-flawed", want_pairs[i]);
		assert_non_null(explore_find(name));
		snprintf(name, sizeof(name), "%s-correct", want_pairs[i]);
		assert_non_null(explore_find(name));
	}
	for (unsigned int i = 0; (s = explore_scenario_at(i)); i++) {
		if (!is_seed(s))
			continue;
		n++;
		if (s->expect_violation)
			find_flawed(s);
		else
			survive_correct(s);
	}
	assert_true(n >= 2 * ARRAY_SIZE(want_pairs));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_seed),
	};

	devnull = fopen("/dev/null", "w");
	if (!devnull)
		return 1;
	explore_scenarios_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
