/* SPDX-License-Identifier: MIT */
/*
 * check_test_util.h - running a test under the coherence oracle: turn it
 * on with a clean slate, and at the end require exactly the violations the
 * test expects (usually none), printing the reports if not.
 */
#ifndef MMIRROR_CHECK_TEST_UTIL_H
#define MMIRROR_CHECK_TEST_UTIL_H

#include "test_util.h"
#include <mmirror/check.h>

static inline void oracle_begin(void)
{
	check_reset();
	check_set_output(stderr);
	check_enable();
}

/* Print every recorded violation (for a failing assertion's context). */
static inline void oracle_dump(void)
{
	const struct check_violation *v;

	for (unsigned long i = 0; (v = check_violation(i)); i++)
		check_print(stderr, v);
}

/* End of test: pin leaks are reported too; require zero violations. */
static inline void oracle_end_clean(void)
{
	unsigned long n = check_finish();

	if (n)
		oracle_dump();
	check_disable();
	assert_int_equal(n, 0);
}
#endif /* MMIRROR_CHECK_TEST_UTIL_H */
