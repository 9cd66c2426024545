// SPDX-License-Identifier: MIT
/*
 * WARN_ON/BUG_ON back ends.  Warnings are counted (relaxed atomic: the
 * count is statistics, read after the threads that warn have been joined).
 */
#include <stdio.h>
#include <stdlib.h>
#include <mmirror/compiler.h>

static unsigned long warn_count;
static bool warn_quiet;

void __warn(const char *file, int line, const char *expr)
{
	__atomic_fetch_add(&warn_count, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&warn_quiet, __ATOMIC_RELAXED))
		fprintf(stderr, "mmirror: WARNING at %s:%d: %s\n", file, line,
			expr);
}

void __bug(const char *file, int line, const char *expr)
{
	fprintf(stderr, "mmirror: BUG at %s:%d: %s\n", file, line, expr);
	abort();
}

unsigned long mm_warn_count(void)
{
	return __atomic_load_n(&warn_count, __ATOMIC_RELAXED);
}

void mm_warn_set_quiet(bool quiet)
{
	__atomic_store_n(&warn_quiet, quiet, __ATOMIC_RELAXED);
}
