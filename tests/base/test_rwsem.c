// SPDX-License-Identifier: MIT
/*
 * rw-semaphores: trylock rules, owner asserts, downgrade, the deterministic
 * writer-preference and reader-batching orders, and a real-thread stress
 * test of the read/write invariant.
 *
 * Orders are made deterministic without timing: a test starts one thread,
 * waits (yielding) until rwsem_waiting_readers()/writers() shows it
 * queued, then starts the next.  Grants happen synchronously inside the
 * releasing call, so right after up_*()/downgrade_write() returns the
 * waiter counters tell exactly who was let in.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/rwsem.h>

static DECLARE_RWSEM(sem);

static void wait_queued(unsigned int readers, unsigned int writers)
{
	while (rwsem_waiting_readers(&sem) != readers ||
	       rwsem_waiting_writers(&sem) != writers)
		sched_yield();
}

static void test_trylock_rules(void **state)
{
	struct rw_semaphore s;

	init_rwsem(&s);
	assert_false(rwsem_is_locked(&s));
	down_read(&s);
	assert_true(rwsem_is_locked(&s));
	assert_int_equal(down_read_trylock(&s), 1); /* shared */
	assert_int_equal(down_write_trylock(&s), 0);
	up_read(&s);
	up_read(&s);
	assert_false(rwsem_is_locked(&s));

	assert_int_equal(down_write_trylock(&s), 1);
	assert_true(rwsem_is_write_held_by_me(&s));
	assert_int_equal(down_read_trylock(&s), 0);
	assert_int_equal(down_write_trylock(&s), 0);
	up_write(&s);
	assert_false(rwsem_is_locked(&s));

	down_write(&s);
	assert_int_equal(down_read_trylock(&s), 0);
	up_write(&s);
	assert_int_equal(down_read_killable(&s), 0);
	up_read(&s);
	assert_int_equal(down_write_killable(&s), 0);
	up_write(&s);
	assert_false(rwsem_is_locked(&s));
	assert_false(rwsem_is_contended(&s));
}

static void *foreign_up_write(void *arg)
{
	up_write(&sem);
	CHECK(!rwsem_is_write_held_by_me(&sem));
	return NULL;
}

static void test_owner_asserts(void **state)
{
	unsigned long w = mm_warn_count();
	pthread_t t;

	mm_warn_set_quiet(true);
	rwsem_assert_held(&sem);
	rwsem_assert_held_write(&sem);
	lockdep_assert_held(&sem);
	assert_int_equal(mm_warn_count(), w + 3);

	down_read(&sem);
	rwsem_assert_held(&sem);
	lockdep_assert_held(&sem);
	assert_int_equal(mm_warn_count(), w + 3);
	rwsem_assert_held_write(&sem); /* read is not write */
	assert_int_equal(mm_warn_count(), w + 4);
	up_write(&sem); /* not write-held: refused */
	assert_int_equal(mm_warn_count(), w + 5);
	assert_true(rwsem_is_locked(&sem));
	up_read(&sem);
	up_read(&sem); /* not held at all: refused */
	assert_int_equal(mm_warn_count(), w + 6);
	assert_false(rwsem_is_locked(&sem));

	down_write(&sem);
	rwsem_assert_held(&sem);
	rwsem_assert_held_write(&sem);
	assert_int_equal(mm_warn_count(), w + 6);
	pthread_create(&t, NULL, foreign_up_write, NULL);
	pthread_join(t, NULL);
	assert_int_equal(mm_warn_count(), w + 7);
	assert_true(rwsem_is_write_held_by_me(&sem)); /* refused */
	up_read(&sem); /* write-held: refused */
	assert_int_equal(mm_warn_count(), w + 8);
	assert_true(rwsem_is_write_held_by_me(&sem));
	up_write(&sem);
	assert_false(rwsem_is_locked(&sem));
	assert_int_equal(mm_warn_count(), w + 8);
	mm_warn_set_quiet(false);
}

static void test_downgrade_simple(void **state)
{
	down_write(&sem);
	downgrade_write(&sem);
	assert_false(rwsem_is_write_held_by_me(&sem));
	assert_true(rwsem_is_locked(&sem));
	assert_int_equal(down_write_trylock(&sem), 0);
	assert_int_equal(down_read_trylock(&sem), 1);
	up_read(&sem);
	up_read(&sem);
	assert_false(rwsem_is_locked(&sem));
}

/* Order log: every thread takes a ticket when it gets the lock. */
static int ticket;
static int got[8];

static void *reader(void *arg)
{
	long id = (long)arg;

	down_read(&sem);
	WRITE_ONCE(got[id], __atomic_add_fetch(&ticket, 1, __ATOMIC_SEQ_CST));
	up_read(&sem);
	return NULL;
}

static void *writer(void *arg)
{
	long id = (long)arg;

	down_write(&sem);
	CHECK(rwsem_is_write_held_by_me(&sem));
	WRITE_ONCE(got[id], __atomic_add_fetch(&ticket, 1, __ATOMIC_SEQ_CST));
	up_write(&sem);
	return NULL;
}

static void reset_log(void)
{
	ticket = 0;
	memset(got, 0, sizeof(got));
}

/*
 * Writer preference: main holds the read lock, a writer queues, then a new
 * reader can neither trylock nor down_read until the writer has been in.
 */
static void test_writer_not_starved(void **state)
{
	pthread_t w, r;

	reset_log();
	down_read(&sem);
	pthread_create(&w, NULL, writer, (void *)1L);
	wait_queued(0, 1);
	assert_true(rwsem_is_contended(&sem));
	assert_int_equal(down_read_trylock(&sem), 0);

	pthread_create(&r, NULL, reader, (void *)2L);
	wait_queued(1, 1);
	assert_int_equal(READ_ONCE(got[1]), 0);
	assert_int_equal(READ_ONCE(got[2]), 0);

	up_read(&sem); /* hands the lock to the writer */
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	assert_int_equal(got[1], 1); /* writer first */
	assert_int_equal(got[2], 2); /* then the reader queued behind it */
	assert_false(rwsem_is_locked(&sem));
	assert_false(rwsem_is_contended(&sem));
}

static int inside;

static void *batch_reader(void *arg)
{
	long id = (long)arg;

	down_read(&sem);
	WRITE_ONCE(got[id], __atomic_add_fetch(&ticket, 1, __ATOMIC_SEQ_CST));
	__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
	/* The whole batch is inside together: wait for the others. */
	while (__atomic_load_n(&inside, __ATOMIC_SEQ_CST) < 3)
		sched_yield();
	up_read(&sem);
	return NULL;
}

/*
 * Reader batching and FIFO: queue [R1 R2 R3 W4 R5] behind main's write
 * hold.  up_write lets R1..R3 in together (all three are inside at once),
 * W4 next, R5 last: R5 does not overtake the queued writer.
 */
static void test_readers_batched(void **state)
{
	pthread_t t[6];

	reset_log();
	inside = 0;
	down_write(&sem);
	for (long i = 1; i <= 3; i++) {
		pthread_create(&t[i], NULL, batch_reader, (void *)i);
		wait_queued(i, 0);
	}
	pthread_create(&t[4], NULL, writer, (void *)4L);
	wait_queued(3, 1);
	pthread_create(&t[5], NULL, reader, (void *)5L);
	wait_queued(4, 1);

	up_write(&sem);
	/* Granted synchronously: only W4 and R5 are still queued. */
	assert_int_equal(rwsem_waiting_readers(&sem), 1);
	assert_int_equal(rwsem_waiting_writers(&sem), 1);
	for (int i = 1; i <= 5; i++)
		pthread_join(t[i], NULL);
	for (int i = 1; i <= 3; i++)
		assert_in_range(got[i], 1, 3);
	assert_int_equal(got[4], 4);
	assert_int_equal(got[5], 5);
	assert_false(rwsem_is_locked(&sem));
}

static int reader_in;

static void *flag_reader(void *arg)
{
	down_read(&sem);
	__atomic_store_n(&reader_in, 1, __ATOMIC_SEQ_CST);
	/* Hold until main says go, proving we overlap main's read hold. */
	while (__atomic_load_n(&reader_in, __ATOMIC_SEQ_CST) != 2)
		sched_yield();
	up_read(&sem);
	return NULL;
}

/* downgrade_write lets the queued reader in while we still hold read. */
static void test_downgrade_wakes_readers(void **state)
{
	pthread_t r;

	reader_in = 0;
	down_write(&sem);
	pthread_create(&r, NULL, flag_reader, NULL);
	wait_queued(1, 0);
	downgrade_write(&sem);
	assert_int_equal(rwsem_waiting_readers(&sem), 0);
	while (__atomic_load_n(&reader_in, __ATOMIC_SEQ_CST) != 1)
		sched_yield();
	assert_int_equal(down_write_trylock(&sem), 0);
	__atomic_store_n(&reader_in, 2, __ATOMIC_SEQ_CST);
	pthread_join(r, NULL);
	rwsem_assert_held(&sem);
	up_read(&sem);
	assert_false(rwsem_is_locked(&sem));
}

/*
 * downgrade_write with a writer at the head of the queue: the reader
 * behind it stays queued (writer preference) until the writer is done.
 */
static void test_downgrade_keeps_writer_first(void **state)
{
	pthread_t w, r;

	reset_log();
	down_write(&sem);
	pthread_create(&w, NULL, writer, (void *)1L);
	wait_queued(0, 1);
	pthread_create(&r, NULL, reader, (void *)2L);
	wait_queued(1, 1);
	downgrade_write(&sem);
	assert_int_equal(rwsem_waiting_readers(&sem), 1);
	assert_int_equal(rwsem_waiting_writers(&sem), 1);
	assert_int_equal(down_read_trylock(&sem), 0);
	up_read(&sem);
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 2);
	assert_false(rwsem_is_locked(&sem));
}

/* Stress: writers keep a == b (plain variables) under the write lock. */
#define NREADERS 3
#define NWRITERS 2
#define ITERS 20000
static unsigned long data_a, data_b, nwrites;

/* Start gate: all stress threads begin together, so they really overlap. */
static int go;

static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static int writers_done;
static unsigned long nreads;

static void *stress_reader(void *arg)
{
	unsigned long n = 0;

	wait_go();
	/* Read for as long as the writers write (at least ITERS times). */
	for (int i = 0;
	     i < TEST_SCALE(ITERS) ||
	     __atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) < NWRITERS;
	     i++) {
		if ((i & 3) == 0) {
			if (!down_read_trylock(&sem))
				continue;
		} else {
			down_read(&sem);
		}
		CHECK(data_a == data_b);
		CHECK(!rwsem_is_write_held_by_me(&sem));
		up_read(&sem);
		n++;
	}
	__atomic_add_fetch(&nreads, n, __ATOMIC_RELAXED);
	return NULL;
}

static void *stress_writer(void *arg)
{
	wait_go();
	for (int i = 0; i < TEST_SCALE(ITERS); i++) {
		if ((i & 7) == 0 && down_write_trylock(&sem))
			;
		else
			down_write(&sem);
		data_a++;
		if (!(i & 255))
			sched_yield(); /* let readers pile up behind us */
		data_b++;
		nwrites++;
		if (i & 1) {
			downgrade_write(&sem);
			CHECK(data_a == data_b);
			up_read(&sem);
		} else {
			up_write(&sem);
		}
	}
	__atomic_add_fetch(&writers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t t[NREADERS + NWRITERS];
	unsigned long w = mm_warn_count();

	for (int i = 0; i < NREADERS; i++)
		pthread_create(&t[i], NULL, stress_reader, NULL);
	for (int i = 0; i < NWRITERS; i++)
		pthread_create(&t[NREADERS + i], NULL, stress_writer, NULL);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NREADERS + NWRITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(nwrites, (unsigned long)NWRITERS * TEST_SCALE(ITERS));
	assert_int_equal(data_a, nwrites);
	assert_int_equal(data_b, nwrites);
	assert_false(rwsem_is_locked(&sem));
	assert_false(rwsem_is_contended(&sem));
	assert_int_equal(rwsem_waiting_readers(&sem), 0);
	assert_int_equal(rwsem_waiting_writers(&sem), 0);
	assert_int_equal(mm_warn_count(), w);
	print_message("reads %lu, writes %lu\n", nreads, nwrites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trylock_rules),
		cmocka_unit_test(test_owner_asserts),
		cmocka_unit_test(test_downgrade_simple),
		cmocka_unit_test(test_writer_not_starved),
		cmocka_unit_test(test_readers_batched),
		cmocka_unit_test(test_downgrade_wakes_readers),
		cmocka_unit_test(test_downgrade_keeps_writer_first),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
