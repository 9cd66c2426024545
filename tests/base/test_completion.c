// SPDX-License-Identifier: MIT
/*
 * completions: complete() counts, complete_all() is permanent until
 * reinit, each complete() releases exactly one wait, sleepers are woken,
 * and a producer/consumer stress test loses no completion.
 */
#include "test_util.h"
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/completion.h>

static DECLARE_COMPLETION(comp);

static void test_counting(void **state)
{
	struct completion c;

	init_completion(&c);
	assert_false(completion_done(&c));
	assert_false(try_wait_for_completion(&c));
	complete(&c);
	complete(&c);
	complete(&c);
	assert_true(completion_done(&c));
	for (int i = 0; i < 3; i++)
		assert_true(try_wait_for_completion(&c));
	assert_false(try_wait_for_completion(&c));
	assert_false(completion_done(&c));
	complete(&c);
	wait_for_completion(&c); /* available: returns at once */
	assert_false(completion_done(&c));
}

static void test_complete_all(void **state)
{
	struct completion c;

	init_completion(&c);
	complete(&c);
	complete_all(&c);
	for (int i = 0; i < 5; i++) {
		assert_true(try_wait_for_completion(&c));
		wait_for_completion(&c);
	}
	complete(&c); /* no effect on an all-done completion */
	assert_true(completion_done(&c));
	reinit_completion(&c);
	assert_false(completion_done(&c));
	assert_false(try_wait_for_completion(&c));
	complete(&c);
	assert_true(try_wait_for_completion(&c));
	assert_false(try_wait_for_completion(&c));
}

#define NWAITERS 3
static int issued; /* completes issued so far (by main) */
static int returned; /* waits returned so far */

static void *waiter(void *arg)
{
	wait_for_completion(&comp);
	/* Never more waits returned than completions issued. */
	int r = __atomic_add_fetch(&returned, 1, __ATOMIC_SEQ_CST);
	CHECK(r <= __atomic_load_n(&issued, __ATOMIC_SEQ_CST));
	return NULL;
}

static void wait_sleepers(unsigned int n)
{
	while (READ_ONCE(comp.waiters) != n)
		sched_yield();
}

/* Three sleepers, three complete()s one at a time: one return each. */
static void test_complete_wakes_one(void **state)
{
	pthread_t t[NWAITERS];

	reinit_completion(&comp);
	for (int i = 0; i < NWAITERS; i++)
		pthread_create(&t[i], NULL, waiter, NULL);
	wait_sleepers(NWAITERS);
	for (int i = 1; i <= NWAITERS; i++) {
		__atomic_store_n(&issued, i, __ATOMIC_SEQ_CST);
		complete(&comp);
		while (__atomic_load_n(&returned, __ATOMIC_SEQ_CST) != i)
			sched_yield();
		assert_false(completion_done(&comp)); /* consumed */
	}
	for (int i = 0; i < NWAITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(returned, NWAITERS);
	assert_int_equal(READ_ONCE(comp.waiters), 0);
}

/* complete_all() wakes every sleeper at once and stays done. */
static void test_complete_all_wakes_all(void **state)
{
	pthread_t t[NWAITERS];

	reinit_completion(&comp);
	returned = 0;
	for (int i = 0; i < NWAITERS; i++)
		pthread_create(&t[i], NULL, waiter, NULL);
	wait_sleepers(NWAITERS);
	__atomic_store_n(&issued, NWAITERS, __ATOMIC_SEQ_CST);
	complete_all(&comp);
	for (int i = 0; i < NWAITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(returned, NWAITERS);
	assert_true(completion_done(&comp));
	reinit_completion(&comp);
}

/* Producer/consumer: every complete() is consumed by exactly one wait. */
#define NPROD 2
#define NCONS 3
#define PER_PROD 200000
static struct completion pc;
static unsigned long payload[NPROD]; /* plain: published by complete() */
static unsigned long consumed;

/* Start gate: all stress threads begin together, so they really overlap. */
static int go;

static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *producer(void *arg)
{
	long id = (long)arg;

	wait_go();
	for (int i = 0; i < TEST_SCALE(PER_PROD); i++) {
		payload[id]++; /* only this producer writes it */
		complete(&pc);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long n = (long)arg;

	wait_go();
	for (long i = 0; i < n; i++)
		wait_for_completion(&pc);
	__atomic_add_fetch(&consumed, n, __ATOMIC_RELAXED);
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t p[NPROD], c[NCONS];
	long total = (long)NPROD * TEST_SCALE(PER_PROD);

	init_completion(&pc);
	for (long i = 0; i < NCONS; i++) {
		long n = total / NCONS + (i < total % NCONS);
		pthread_create(&c[i], NULL, consumer, (void *)n);
	}
	for (long i = 0; i < NPROD; i++)
		pthread_create(&p[i], NULL, producer, (void *)i);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NPROD; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < NCONS; i++)
		pthread_join(c[i], NULL);
	assert_int_equal(consumed, total);
	assert_false(completion_done(&pc));
	assert_int_equal(READ_ONCE(pc.waiters), 0);
	for (int i = 0; i < NPROD; i++)
		assert_int_equal(payload[i], TEST_SCALE(PER_PROD));
}

/*
 * A completion may be freed as soon as a wait on it returns (the usual
 * on-stack or in-a-request pattern): complete() must not touch it after
 * the waiter can see done change.  Each round hands a fresh heap
 * completion to the completer and frees it the moment the wait returns;
 * ASan reports the use after free if complete() still reads it.
 */
#define HANDOFFS 20000
static struct completion *volatile slot;

static void *handoff_completer(void *arg)
{
	for (int i = 0; i < TEST_SCALE(HANDOFFS); i++) {
		struct completion *x;

		while (!(x = __atomic_load_n(&slot, __ATOMIC_ACQUIRE)))
			sched_yield();
		__atomic_store_n(&slot, NULL, __ATOMIC_RELAXED);
		complete(x);
	}
	return NULL;
}

static void test_free_after_wait(void **state)
{
	pthread_t t;

	pthread_create(&t, NULL, handoff_completer, NULL);
	for (int i = 0; i < TEST_SCALE(HANDOFFS); i++) {
		struct completion *x = malloc(sizeof(*x));

		assert_non_null(x);
		init_completion(x);
		__atomic_store_n(&slot, x, __ATOMIC_RELEASE);
		if (i & 1)
			wait_for_completion(x);
		else
			while (!try_wait_for_completion(x))
				sched_yield();
		assert_int_equal(READ_ONCE(x->completers), 0);
		memset(x, 0xa5, sizeof(*x));
		free(x);
	}
	pthread_join(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_complete_all),
		cmocka_unit_test(test_complete_wakes_one),
		cmocka_unit_test(test_complete_all_wakes_all),
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_free_after_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
