// SPDX-License-Identifier: MIT
/* atomics, bit ops, slab accounting and failure injection. */
#include "test_util.h"
#include <mmirror/atomic.h>
#include <mmirror/slab.h>

static void test_cmpxchg_xchg(void **state)
{
	unsigned long v = 5;

	assert_int_equal(cmpxchg(&v, 4UL, 9UL), 5);
	assert_int_equal(v, 5);
	assert_int_equal(cmpxchg(&v, 5UL, 9UL), 5);
	assert_int_equal(v, 9);
	assert_int_equal(xchg(&v, 1UL), 9);
	assert_int_equal(v, 1);

	unsigned long old = 7;
	assert_false(try_cmpxchg(&v, &old, 3UL));
	assert_int_equal(old, 1);
	assert_true(try_cmpxchg(&v, &old, 3UL));
	assert_int_equal(READ_ONCE(v), 3);
}

static void test_atomic_ops(void **state)
{
	atomic_t a = ATOMIC_INIT(1);

	atomic_t two = ATOMIC_INIT(2);

	assert_false(atomic_dec_and_test(&two));
	assert_true(atomic_dec_and_test(&a));
	assert_false(atomic_inc_not_zero(&a));
	atomic_set(&a, 3);
	assert_true(atomic_inc_not_zero(&a));
	assert_int_equal(atomic_read(&a), 4);
	assert_int_equal(atomic_add_return(6, &a), 10);
	assert_int_equal(atomic_cmpxchg(&a, 10, 2), 10);
	assert_int_equal(atomic_xchg(&a, 8), 2);
	assert_false(atomic_add_unless(&a, 1, 8));
	assert_int_equal(atomic_read(&a), 8);
}

static void test_bits(void **state)
{
	unsigned long w = 0;

	set_bit(3, &w);
	assert_true(test_bit(3, &w));
	assert_true(test_and_set_bit(3, &w));
	assert_false(test_and_set_bit(63, &w));
	assert_int_equal(w, BIT(3) | BIT(63));
	assert_true(test_and_clear_bit(63, &w));
	clear_bit_unlock(3, &w);
	assert_int_equal(w, 0);
}

#define NTHREADS 4
static atomic_long_t counter;
static unsigned long word;

static void *hammer(void *arg)
{
	long bit = (long)arg;

	for (int i = 0; i < TEST_SCALE(100000); i++) {
		atomic_long_inc(&counter);
		set_bit(bit, &word);
		clear_bit(bit, &word);
	}
	return NULL;
}

/* Concurrent RMWs lose nothing: the count is exact, the word ends clear. */
static void test_concurrent_rmw(void **state)
{
	pthread_t t[NTHREADS];

	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_long_read(&counter),
			 (long)NTHREADS * TEST_SCALE(100000));
	assert_int_equal(word, 0);
}

static void test_slab_accounting(void **state)
{
	long base = kmalloc_live_objects();
	char *p = kzalloc(64, GFP_KERNEL), *q;

	assert_non_null(p);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(kmalloc_live_objects(), base + 1);
	kfree(p);
	kfree(NULL);
	assert_int_equal(kmalloc_live_objects(), base);

	/* Unknown gfp bits are refused loudly, not ignored. */
	mm_warn_set_quiet(true);
	assert_null(kmalloc(8, 0x80000000u));
	mm_warn_set_quiet(false);
	assert_null(kcalloc(SIZE_MAX / 2, 4, GFP_KERNEL));

	fault_inject_nth(2);
	p = kmalloc(8, GFP_KERNEL);
	q = kmalloc(8, GFP_KERNEL);
	assert_non_null(p);
	assert_null(q); /* the second one failed */
	q = kmalloc(8, GFP_KERNEL);
	assert_non_null(q); /* once only */
	kfree(p);
	kfree(q);

	long before = fault_inject_count();
	fault_inject_random(42, 500);
	int failed = 0;
	for (int i = 0; i < 1000; i++) {
		p = kmalloc(8, GFP_KERNEL);
		failed += !p;
		kfree(p);
	}
	/* __GFP_NOFAIL is never injected. */
	p = kmalloc(8, __GFP_NOFAIL);
	assert_non_null(p);
	kfree(p);
	fault_inject_off();
	assert_in_range(failed, 350, 650);
	assert_int_equal(fault_inject_count() - before, failed);
	assert_int_equal(kmalloc_live_objects(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmpxchg_xchg),
		cmocka_unit_test(test_atomic_ops),
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_concurrent_rmw),
		cmocka_unit_test(test_slab_accounting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
