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

#define XCLI(...)                                                       \
	({                                                              \
		const char *a_[] = { "mmirror", "explore", __VA_ARGS__ };   \
		xcli(ARRAY_SIZE(a_), a_);                               \
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
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(XCLI(bad[i][0], bad[i][1], bad[i][2]),
				 SCN_EXIT_USAGE);
		assert_non_null(strstr(err_text, "mmirror explore: "));
	}
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
	assert_int_equal(XCLI("--list"), SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "seed000-flawed"));
	assert_non_null(strstr(out_text, "violation"));
	assert_non_null(strstr(out_text, "seed000-correct"));
}

/*
 * A found race saves its schedule; replaying it gives exit 0 again and the
 * diagram with the marked row.  PCT (depth 2: one preemption after the
 * device's page-table read) finds seed 000 within tens of schedules; a
 * random walk almost never lets a whole munmap run inside that window.
 */
static void test_find_and_replay(void **state)
{
	char path[128], *p;

	assert_int_equal(XCLI("seed000-flawed", "--strategy", "pct", "--depth",
			      "2", "--schedules", "2000", "--seed", "1"),
			 SCN_EXIT_OK);
	p = strstr(out_text, "schedule saved: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "schedule saved: %127s", path), 1);
	assert_int_equal(XCLI("seed000-flawed", "--replay", path),
			 SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "!!"));
	unlink(path);
	assert_int_equal(XCLI("seed000-correct", "--strategy", "pct",
			      "--depth", "2", "--schedules", "200"),
			 SCN_EXIT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_help_list),
		cmocka_unit_test(test_find_and_replay),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(out_text);
	free(err_text);
	return ret;
}
