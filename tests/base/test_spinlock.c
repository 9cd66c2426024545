// SPDX-License-Identifier: MIT
/* spinlocks: trylock results, owner tracking and asserts, mutual exclusion. */
#include "test_util.h"
#include <sched.h>
#include <mmirror/spinlock.h>

static DEFINE_SPINLOCK(lock);

static void test_lock_trylock(void **state)
{
	spinlock_t l;

	spin_lock_init(&l);
	assert_false(spin_is_locked(&l));
	assert_false(spin_is_held_by_me(&l));
	spin_lock(&l);
	assert_true(spin_is_locked(&l));
	assert_true(spin_is_held_by_me(&l));
	assert_int_equal(spin_trylock(&l), 0);
	spin_unlock(&l);
	assert_false(spin_is_locked(&l));
	assert_int_equal(spin_trylock(&l), 1);
	assert_true(spin_is_held_by_me(&l));
	spin_unlock(&l);
	assert_false(spin_is_locked(&l));
}

static void test_owner_ids(void **state)
{
	unsigned long me = lock_owner_self();

	assert_true(me != 0);
	assert_int_equal(lock_owner_self(), me);
}

static void *unlock_foreign(void *arg)
{
	/* Not ours: WARNs and must leave the lock held by main. */
	spin_unlock(arg);
	CHECK(!spin_is_held_by_me(arg));
	return NULL;
}

static void test_owner_asserts(void **state)
{
	unsigned long w = mm_warn_count();
	pthread_t t;

	mm_warn_set_quiet(true);
	spin_assert_held(&lock);
	assert_int_equal(mm_warn_count(), w + 1);
	lockdep_assert_held(&lock);
	assert_int_equal(mm_warn_count(), w + 2);

	spin_lock(&lock);
	spin_assert_held(&lock);
	lockdep_assert_held(&lock);
	assert_int_equal(mm_warn_count(), w + 2);
	spin_assert_not_held(&lock);
	assert_int_equal(mm_warn_count(), w + 3);

	pthread_create(&t, NULL, unlock_foreign, &lock);
	pthread_join(t, NULL);
	assert_int_equal(mm_warn_count(), w + 4);
	assert_true(spin_is_locked(&lock)); /* refused */
	assert_true(spin_is_held_by_me(&lock));
	spin_unlock(&lock);
	assert_int_equal(mm_warn_count(), w + 4);

	spin_unlock(&lock); /* double unlock */
	assert_int_equal(mm_warn_count(), w + 5);
	assert_false(spin_is_locked(&lock));
	mm_warn_set_quiet(false);
}

#define NTHREADS 4
#define ITERS 1000000
static unsigned long counter; /* plain: protected by lock */
static unsigned long trylock_wins;

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
		if ((i & 7) == 0 && spin_trylock(&lock)) {
			trylock_wins++;
		} else {
			spin_lock(&lock);
		}
		CHECK(spin_is_held_by_me(&lock));
		counter++;
		spin_unlock(&lock);
	}
	return NULL;
}

/* More threads than CPUs: exact count, no data race (TSan), no WARN. */
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
	assert_false(spin_is_locked(&lock));
	assert_int_equal(mm_warn_count(), w);
	print_message("trylock wins: %lu\n", trylock_wins);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_trylock),
		cmocka_unit_test(test_owner_ids),
		cmocka_unit_test(test_owner_asserts),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
