/* SPDX-License-Identifier: MIT */
/*
 * test_util.h - what every mmirror test includes: cmocka, and a few helpers.
 * cmocka wants <stdarg.h>, <stddef.h>, <setjmp.h> before <cmocka.h>.
 */
#ifndef MMIRROR_TEST_UTIL_H
#define MMIRROR_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

/* Deterministic PRNG for property tests: splitmix64. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Scale for stress loops: sanitizer builds run fewer iterations. */
#if defined(MMIRROR_TSAN) || defined(MMIRROR_ASAN)
#define TEST_SCALE(n) ((n) / 4 ? (n) / 4 : 1)
#else
#define TEST_SCALE(n) (n)
#endif

/*
 * CHECK() for threads other than the test's own: cmocka's assertions
 * longjmp and are not thread-safe, so a worker thread prints and aborts.
 */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* MMIRROR_TEST_UTIL_H */
