// SPDX-License-Identifier: MIT
/*
 * Device-private memory under the explorer (tools/mmirror/
 * explore_devmem.c): every registered "devmem-*" scenario - migration to
 * device memory and back, release while mapped, fork of device pages,
 * each racing a CPU and the device - survives PCT (depth 2 and 3) and
 * random schedules with no violation, deadlock, crash or step limit.
 * Sanitizer builds run fewer schedules (each costs 10-15x there); the
 * counts are the plain build's job.
 */
#include "../test_util.h"
#include <string.h>
#include <mmirror/explore.h>
#include "../../tools/mmirror/explore_scenarios.h"

#if defined(MMIRROR_ASAN) || defined(MMIRROR_TSAN)
#define SCHEDULES 150UL
#else
#define SCHEDULES 1500UL
#endif

static FILE *devnull;

static void survive(const struct explore_scenario *s, enum explore_strategy how,
		    unsigned int depth)
{
	struct explore_opts o = { .strategy = how,
				  .depth = depth,
				  .schedules = SCHEDULES,
				  .seed = 1,
				  .jobs = 2,
				  .out = devnull };
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	printf("  %-16s %s d%u: %lu schedules clean (%.1f s)\n", s->name,
	       how == EXPLORE_PCT ? "pct" : "random", depth, r.schedules,
	       r.seconds);
	assert_int_equal(r.schedules, SCHEDULES);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	explore_result_free(&r);
}

static void test_devmem_scenarios(void **state)
{
	const struct explore_scenario *s;
	unsigned int n = 0;

	(void)state;
	for (unsigned int i = 0; (s = explore_scenario_at(i)); i++) {
		if (strncmp(s->name, "devmem-", 7))
			continue;
		assert_false(s->expect_violation);
		survive(s, EXPLORE_PCT, 2);
		survive(s, EXPLORE_PCT, 3);
		survive(s, EXPLORE_RANDOM, 0);
		n++;
	}
	assert_int_equal(n, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devmem_scenarios),
	};

	devnull = fopen("/dev/null", "w");
	if (!devnull)
		return 1;
	explore_scenarios_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
