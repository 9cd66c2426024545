// SPDX-License-Identifier: MIT
/*
 * wait queues: wait_event returns at once on a true condition, sleeps
 * otherwise, wake_up is free when nobody waits, every waiter on a queue is
 * woken to re-test its own condition, and no wake-up is lost across many
 * ping-pong rounds between real threads.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(wq);
static int flag;

static void test_no_wait_when_true(void **state)
{
	wait_queue_head_t q;
	u32 seq;

	init_waitqueue_head(&q);
	assert_false(waitqueue_active(&q));
	assert_false(wq_has_sleeper(&q));
	seq = READ_ONCE(q.seq);
	wake_up(&q); /* nobody waits: no generation bump, no syscall */
	wake_up_all(&q);
	assert_int_equal(READ_ONCE(q.seq), seq);
	wait_event(q, 1 + 1 == 2);
	assert_false(waitqueue_active(&q));
}

static void *flag_waiter(void *arg)
{
	wait_event(wq, READ_ONCE(flag) != 0);
	CHECK(READ_ONCE(flag) != 0);
	return NULL;
}

/* A waiter blocks (visibly registered), and one wake_up releases it. */
static void test_wait_and_wake(void **state)
{
	pthread_t t;

	flag = 0;
	pthread_create(&t, NULL, flag_waiter, NULL);
	while (!waitqueue_active(&wq))
		sched_yield();
	WRITE_ONCE(flag, 1);
	wake_up(&wq);
	pthread_join(t, NULL);
	assert_false(waitqueue_active(&wq));
}

/*
 * Waiters with different conditions share one queue: waiter i waits for
 * released[i].  They go to sleep in the order 1..N and are released in the
 * order N..1, so each wake_up must reach a sleeper that is not the first in
 * line: a wake-one queue would wake waiter 1 (condition still false) and
 * leave waiter N asleep, hanging here.
 */
#define NSTAGES 4
static int released[NSTAGES + 1];
static int done[NSTAGES + 1];

static void *stage_waiter(void *arg)
{
	long i = (long)arg;

	wait_event(wq, __atomic_load_n(&released[i], __ATOMIC_ACQUIRE));
	__atomic_store_n(&done[i], 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_wake_up_reaches_all(void **state)
{
	pthread_t t[NSTAGES + 1];

	for (long i = 1; i <= NSTAGES; i++) {
		pthread_create(&t[i], NULL, stage_waiter, (void *)i);
		while (READ_ONCE(wq.waiters) != i)
			sched_yield();
	}
	for (int s = NSTAGES; s >= 1; s--) {
		__atomic_store_n(&released[s], 1, __ATOMIC_RELEASE);
		wake_up(&wq);
		while (!__atomic_load_n(&done[s], __ATOMIC_SEQ_CST))
			sched_yield();
		/* The others are still waiting. */
		for (int i = 1; i < s; i++)
			assert_false(
				__atomic_load_n(&done[i], __ATOMIC_SEQ_CST));
	}
	for (int i = 1; i <= NSTAGES; i++)
		pthread_join(t[i], NULL);
	assert_false(waitqueue_active(&wq));
}

/* Ping-pong: every round needs one wake-up; a lost one hangs the test. */
#define ROUNDS 50000
static DECLARE_WAIT_QUEUE_HEAD(ping);
static DECLARE_WAIT_QUEUE_HEAD(pong);
static int turn; /* 0: A's turn, 1: B's turn */
static unsigned long shared_data; /* plain: handed over with the turn */

/* Start gate: all stress threads begin together, so they really overlap. */
static int go;

static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *player(void *arg)
{
	long me = (long)arg;
	wait_queue_head_t *mine = me ? &pong : &ping;
	wait_queue_head_t *other = me ? &ping : &pong;

	wait_go();
	for (int i = 0; i < TEST_SCALE(ROUNDS); i++) {
		/* Acquire: pairs with the other player's release store. */
		wait_event(*mine, smp_load_acquire(&turn) == me);
		shared_data++;
		smp_store_release(&turn, !me);
		wake_up(other);
	}
	return NULL;
}

static void test_no_lost_wakeup(void **state)
{
	pthread_t a, b;

	turn = 0;
	shared_data = 0;
	pthread_create(&a, NULL, player, (void *)0L);
	pthread_create(&b, NULL, player, (void *)1L);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(shared_data, 2UL * TEST_SCALE(ROUNDS));
	assert_false(waitqueue_active(&ping));
	assert_false(waitqueue_active(&pong));
}

/* Many waiters, one condition: a counter reaching a target, many wakers. */
#define NWAITERS 3
#define NWAKERS 2
#define BUMPS 100000
static long counter;

static void *count_waiter(void *arg)
{
	long target = (long)NWAKERS * TEST_SCALE(BUMPS);

	wait_go();
	for (long seen = 0; seen < target;) {
		long want = seen + 1;

		wait_event(wq, READ_ONCE(counter) >= want);
		seen = READ_ONCE(counter);
	}
	return NULL;
}

static void *count_waker(void *arg)
{
	wait_go();
	for (int i = 0; i < TEST_SCALE(BUMPS); i++) {
		__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		wake_up_all(&wq);
	}
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t w[NWAITERS], k[NWAKERS];

	counter = 0;
	go = 0;
	for (int i = 0; i < NWAITERS; i++)
		pthread_create(&w[i], NULL, count_waiter, NULL);
	for (int i = 0; i < NWAKERS; i++)
		pthread_create(&k[i], NULL, count_waker, NULL);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NWAKERS; i++)
		pthread_join(k[i], NULL);
	for (int i = 0; i < NWAITERS; i++)
		pthread_join(w[i], NULL);
	assert_int_equal(counter, (long)NWAKERS * TEST_SCALE(BUMPS));
	assert_false(waitqueue_active(&wq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_wait_when_true),
		cmocka_unit_test(test_wait_and_wake),
		cmocka_unit_test(test_wake_up_reaches_all),
		cmocka_unit_test(test_no_lost_wakeup),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
