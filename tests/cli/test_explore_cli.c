// SPDX-License-Identifier: MIT
/*
 * `mmirror explore`: option validation (exit 2 with a clear message),
 * --help and --list, an unknown scenario, and the exit status against the
 * scenario's expectation.  Needs src/explore's explore() and
 * tools/mmirror/explore_scenarios.c (hence .wip until they exist).
 */
#include "test_util.h"
#include <unistd.h>
#include "scenario.h"

static char *out_text, *err_text;

static int xcli(int argc, const char **argv)
{
	size_t no = 0, ne = 0;
	FILE *out, *err;
	int ret;

	free(out_text);
	free(err_text);
	out = open_memstream(&out_text, &no);
	err = open_memstream(&err_text, &ne);
	ret = mmirror_main(argc, (char **)argv, out, err);
	fclose(out);
	fclose(err);
	return ret;
}

#define XCLI(...)                                                         \
	({                                                                \
		const char *a_[] = { "mmirror", "explore", __VA_ARGS__ }; \
		xcli(ARRAY_SIZE(a_), a_);                                 \
	})

static void test_bad_options(void **state)
{
	static const char *const bad[][3] = {
		{ "seed000-flawed", "--strategy", "bfs" },
		{ "seed000-flawed", "--depth", "0" },
		{ "seed000-flawed", "--depth", "x" },
		{ "seed000-flawed", "--schedules", "-3" },
		{ "seed000-flawed", "--jobs", "0" },
		{ "seed000-flawed", "--max-steps", "12z" },
		{ "seed000-flawed", "--bogus", "1" },
		{ "seed000-flawed", "other", "--no-stop" },
		{ "seed000-flawed", "--shrink-budget", "x" },
		{ "seed000-flawed", "--shrink-budget", "-1" },
		{ "seed000-flawed", "--depth", "65" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(XCLI(bad[i][0], bad[i][1], bad[i][2]),
				 SCN_EXIT_USAGE);
		assert_non_null(strstr(err_text, "mmirror explore: "));
	}
	/* One clear message, not a second "unknown option" one. */
	assert_int_equal(XCLI("seed000-flawed", "--depth", "x"),
			 SCN_EXIT_USAGE);
	assert_null(strstr(err_text, "unknown option"));
	/* --depth 0 is a DFS bound only; PCT's depth is 1..16. */
	assert_int_equal(
		XCLI("seed000-flawed", "--strategy", "pct", "--depth", "0"),
		SCN_EXIT_USAGE);
	assert_int_equal(
		XCLI("seed000-flawed", "--strategy", "pct", "--depth", "17"),
		SCN_EXIT_USAGE);
	assert_non_null(strstr(err_text, "--depth"));
	assert_int_equal(XCLI("seed000-flawed", "--replay"), SCN_EXIT_USAGE);
	assert_int_equal(XCLI("--no-stop"), SCN_EXIT_USAGE);
	assert_non_null(strstr(err_text, "missing SCENARIO"));
	assert_int_equal(XCLI("no-such-scenario"), SCN_EXIT_USAGE);
	assert_non_null(strstr(err_text, "unknown scenario"));
	assert_int_equal(XCLI("seed000-flawed", "--replay", "/nonexistent"),
			 SCN_EXIT_USAGE);
}

static void test_help_list(void **state)
{
	assert_int_equal(XCLI("--help"), SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "usage: mmirror explore"));
	assert_non_null(strstr(out_text, "--shrink-budget"));
	assert_non_null(strstr(out_text, "dfs"));
	assert_int_equal(XCLI("--list"), SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "seed000-flawed"));
	assert_non_null(strstr(out_text, "violation"));
	assert_non_null(strstr(out_text, "seed000-correct"));
}

/*
 * A found race saves its schedule; replaying it gives exit 0 again and the
 * diagram with the marked row.  PCT (depth 2: one preemption after the
 * device's page-table read) finds seed 000 only now and then (its
 * scenario as of session 3: the first find from seed 1 is schedule
 * #1492, seed 1493); --seed 1490 starts near it so that the test stays
 * quick under the sanitizers, and 2000 schedules leave a margin.
 */
static void test_find_and_replay(void **state)
{
	char path[128], *p;

	assert_int_equal(XCLI("seed000-flawed", "--strategy", "pct", "--depth",
			      "2", "--schedules", "2000", "--seed", "1490"),
			 SCN_EXIT_OK);
	p = strstr(out_text, "schedule saved: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "schedule saved: %127s", path), 1);
	assert_int_equal(XCLI("seed000-flawed", "--replay", path), SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "!!"));
	unlink(path);
	assert_int_equal(XCLI("seed000-correct", "--strategy", "pct", "--depth",
			      "2", "--schedules", "200"),
			 SCN_EXIT_OK);
}

/*
 * DFS: bound 1 finds seed 000 and saves a strategy=dfs schedule that
 * replays; bound 0 exhausts the correct driver's space; the summary
 * table says so; shrinking is reported or off.
 */
static void test_dfs(void **state)
{
	char path[128], *p;

	assert_int_equal(XCLI("seed000-flawed", "--strategy", "dfs", "--depth",
			      "1", "--jobs", "2"),
			 SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "strategy=dfs"));
	assert_non_null(strstr(out_text, "space not exhausted"));
	assert_non_null(strstr(out_text, "summary:"));
	assert_non_null(strstr(out_text, "  first bad    #"));
	assert_non_null(strstr(out_text, "  shrink       "));
	p = strstr(out_text, "schedule saved: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "schedule saved: %127s", path), 1);
	assert_int_equal(XCLI("seed000-flawed", "--replay", path), SCN_EXIT_OK);
	/* "replay NAME: violation (N steps, 1 preemptions)" */
	assert_non_null(strstr(out_text, ": violation ("));
	assert_non_null(strstr(out_text, " 1 preemptions)"));
	unlink(path);
	assert_int_equal(
		XCLI("seed000-correct", "--strategy", "dfs", "--depth", "0"),
		SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "space exhausted; expected none: ok"));
	assert_non_null(strstr(out_text, "  exhausted    yes"));
	assert_int_equal(XCLI("seed000-flawed", "--strategy", "dfs", "--depth",
			      "1", "--shrink-budget", "0"),
			 SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "  shrink       off"));
	assert_null(strstr(out_text, "shrunk from"));
	p = strstr(out_text, "schedule saved: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "schedule saved: %127s", path), 1);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_help_list),
		cmocka_unit_test(test_find_and_replay),
		cmocka_unit_test(test_dfs),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(out_text);
	free(err_text);
	return ret;
}
