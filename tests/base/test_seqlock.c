// SPDX-License-Identifier: MIT
/*
 * seqcount / seqlock: sequence parity, retry detection, readers waiting
 * out a write, and a stress test where readers must never accept a torn
 * pair.  Protected data is read with READ_ONCE and written with WRITE_ONCE
 * (the data rule in seqlock.h), so TSan stays silent.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/seqlock.h>

static seqcount_t sc = SEQCNT_ZERO(sc);
static DEFINE_SEQLOCK(sl);

static void test_parity_and_retry(void **state)
{
	seqcount_t s;
	unsigned int seq;

	seqcount_init(&s);
	seq = read_seqcount_begin(&s);
	assert_int_equal(seq, 0);
	assert_false(read_seqcount_retry(&s, seq));

	write_seqcount_begin(&s);
	assert_int_equal(raw_read_seqcount(&s) & 1, 1); /* odd: in progress */
	assert_true(read_seqcount_retry(&s, seq));
	write_seqcount_end(&s);
	assert_int_equal(raw_read_seqcount(&s), 2);
	assert_true(read_seqcount_retry(&s, seq)); /* a write overlapped */

	seq = read_seqcount_begin(&s);
	assert_int_equal(seq, 2);
	assert_false(read_seqcount_retry(&s, seq));
}

static void test_seqlock_basic(void **state)
{
	seqlock_t l;
	unsigned int seq;

	seqlock_init(&l);
	seq = read_seqbegin(&l);
	assert_false(read_seqretry(&l, seq));
	write_seqlock(&l);
	assert_true(spin_is_held_by_me(&l.lock));
	assert_true(read_seqretry(&l, seq));
	write_sequnlock(&l);
	assert_false(spin_is_locked(&l.lock));
	assert_true(read_seqretry(&l, seq));
	seq = read_seqbegin(&l);
	assert_false(read_seqretry(&l, seq));

	read_seqlock_excl(&l);
	assert_true(spin_is_held_by_me(&l.lock));
	read_sequnlock_excl(&l);
	assert_false(read_seqretry(&l, seq)); /* excl readers do not bump */
}

static unsigned int begun_seq;
static int begun;

static void *begin_reader(void *arg)
{
	unsigned int seq = read_seqcount_begin(&sc);

	WRITE_ONCE(begun_seq, seq);
	__atomic_store_n(&begun, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * A reader that starts while a write is in progress waits it out: the value
 * it returns is the even value after the write, never the odd one.
 */
static void test_begin_waits_for_writer(void **state)
{
	pthread_t t;
	unsigned int before = raw_read_seqcount(&sc);

	write_seqcount_begin(&sc);
	pthread_create(&t, NULL, begin_reader, NULL);
	for (int i = 0; i < 100; i++)
		sched_yield(); /* give it every chance to return early */
	assert_int_equal(__atomic_load_n(&begun, __ATOMIC_SEQ_CST), 0);
	write_seqcount_end(&sc);
	pthread_join(t, NULL);
	assert_int_equal(begun, 1);
	assert_int_equal(begun_seq, before + 2);
}

/* Stress: writers keep y == 3 * x + 1 across two separate stores. */
#define NREADERS 2
#define NWRITERS 2
#define ITERS 500000
static unsigned long x, y = 1;
static unsigned long retries, accepted;
static int writers_done;

/* Start gate: all stress threads begin together, so they really overlap. */
static int go;

static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *stress_writer(void *arg)
{
	wait_go();
	for (int i = 0; i < TEST_SCALE(ITERS); i++) {
		write_seqlock(&sl);
		unsigned long nx = READ_ONCE(x) + 1;
		WRITE_ONCE(x, nx);
		if (!(i & 1023))
			sched_yield(); /* readers see the odd count */
		WRITE_ONCE(y, 3 * nx + 1);
		write_sequnlock(&sl);
	}
	__atomic_add_fetch(&writers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *stress_reader(void *arg)
{
	unsigned long r = 0, a = 0;

	wait_go();
	/* Read for as long as the writers write (at least ITERS times). */
	for (int i = 0;
	     i < TEST_SCALE(ITERS) ||
	     __atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) < NWRITERS;
	     i++) {
		unsigned long vx, vy;
		unsigned int seq;

		for (;;) {
			seq = read_seqbegin(&sl);
			vx = READ_ONCE(x);
			vy = READ_ONCE(y);
			if (!read_seqretry(&sl, seq))
				break;
			r++;
		}
		CHECK(vy == 3 * vx + 1); /* never a torn pair */
		a++;
	}
	__atomic_add_fetch(&retries, r, __ATOMIC_RELAXED);
	__atomic_add_fetch(&accepted, a, __ATOMIC_RELAXED);
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t t[NREADERS + NWRITERS];

	for (int i = 0; i < NREADERS; i++)
		pthread_create(&t[i], NULL, stress_reader, NULL);
	for (int i = 0; i < NWRITERS; i++)
		pthread_create(&t[NREADERS + i], NULL, stress_writer, NULL);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NREADERS + NWRITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(writers_done, NWRITERS);
	assert_int_equal(x, (unsigned long)NWRITERS * TEST_SCALE(ITERS));
	assert_int_equal(y, 3 * x + 1);
	assert_true(accepted >= (unsigned long)NREADERS * TEST_SCALE(ITERS));
	assert_int_equal(raw_read_seqcount(&sl.seqcount),
			 2u * NWRITERS * TEST_SCALE(ITERS));
	print_message("reads %lu, retries %lu\n", accepted, retries);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parity_and_retry),
		cmocka_unit_test(test_seqlock_basic),
		cmocka_unit_test(test_begin_waits_for_writer),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
