// SPDX-License-Identifier: MIT
/* mutexes: trylock, owner asserts, the futex sleep/wake path, exclusion. */
#include "test_util.h"
#include <sched.h>
#include <mmirror/mutex.h>

static DEFINE_MUTEX(mtx);

static void test_lock_trylock(void **state)
{
	struct mutex m;

	mutex_init(&m);
	assert_false(mutex_is_locked(&m));
	mutex_lock(&m);
	assert_true(mutex_is_locked(&m));
	assert_true(mutex_is_held_by_me(&m));
	assert_int_equal(mutex_trylock(&m), 0);
	mutex_unlock(&m);
	assert_false(mutex_is_locked(&m));
	assert_int_equal(mutex_trylock(&m), 1);
	assert_int_equal(mutex_lock_killable(&mtx), 0);
	mutex_unlock(&mtx);
	mutex_unlock(&m);
	assert_false(mutex_is_locked(&m));
}

static void *foreign_unlock(void *arg)
{
	mutex_unlock(arg);
	CHECK(!mutex_is_held_by_me(arg));
	return NULL;
}

static void test_owner_asserts(void **state)
{
	unsigned long w = mm_warn_count();
	pthread_t t;

	mm_warn_set_quiet(true);
	mutex_assert_held(&mtx);
	lockdep_assert_held(&mtx);
	assert_int_equal(mm_warn_count(), w + 2);
	mutex_lock(&mtx);
	mutex_assert_held(&mtx);
	lockdep_assert_held(&mtx);
	assert_int_equal(mm_warn_count(), w + 2);

	pthread_create(&t, NULL, foreign_unlock, &mtx);
	pthread_join(t, NULL);
	assert_int_equal(mm_warn_count(), w + 3);
	assert_true(mutex_is_locked(&mtx)); /* refused */
	assert_true(mutex_is_held_by_me(&mtx));
	mutex_unlock(&mtx);
	mutex_unlock(&mtx); /* double unlock */
	assert_int_equal(mm_warn_count(), w + 4);
	assert_false(mutex_is_locked(&mtx));
	mm_warn_set_quiet(false);
}

static int got_it;

static void *blocker(void *arg)
{
	mutex_lock(&mtx);
	WRITE_ONCE(got_it, 1);
	mutex_unlock(&mtx);
	return NULL;
}

/*
 * Deterministic sleep/wake: a second thread blocks until it has announced
 * itself as a sleeper (state 2), gets the lock only after our unlock, and
 * the lock ends free.
 */
static void test_sleep_and_wake(void **state)
{
	pthread_t t;

	mutex_lock(&mtx);
	pthread_create(&t, NULL, blocker, NULL);
	while (READ_ONCE(mtx.state) != 2)
		sched_yield();
	assert_int_equal(READ_ONCE(got_it), 0);
	mutex_unlock(&mtx);
	pthread_join(t, NULL);
	assert_int_equal(got_it, 1);
	assert_false(mutex_is_locked(&mtx));
}

#define NTHREADS 4
#define ITERS 400000
static unsigned long counter; /* plain: protected by mtx */

/* Start gate: all stress threads begin together, so they really overlap. */
static int go;

static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *hammer(void *arg)
{
	wait_go();
	for (int i = 0; i < TEST_SCALE(ITERS); i++) {
		if (!(i & 3) && mutex_trylock(&mtx))
			;
		else
			mutex_lock(&mtx);
		CHECK(mutex_is_held_by_me(&mtx));
		counter++;
		if (!(i & 1023))
			sched_yield(); /* force sleepers now and then */
		mutex_unlock(&mtx);
	}
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t t[NTHREADS];
	unsigned long w = mm_warn_count();

	counter = 0;
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter, (unsigned long)NTHREADS * TEST_SCALE(ITERS));
	assert_false(mutex_is_locked(&mtx));
	assert_int_equal(mm_warn_count(), w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_trylock),
		cmocka_unit_test(test_owner_asserts),
		cmocka_unit_test(test_sleep_and_wake),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
