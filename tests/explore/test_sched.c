// SPDX-License-Identifier: MIT
/*
 * The explorer's scheduler core: finds a lost update (random and PCT) but
 * never with a mutex, reports an ABBA deadlock, replays a bad schedule
 * exactly, runs every blocking primitive, and gives the same counts with
 * one job or two.
 */
#include "../test_util.h"
#include <stdlib.h>
#include <string.h>
#include <mmirror/completion.h>
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mutex.h>
#include <mmirror/rcupdate.h>
#include <mmirror/rwsem.h>
#include <mmirror/sched_point.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include <mmirror/wait.h>
#include "lost_update.h"

/* Each schedule runs in its own forked child: plain globals are per run. */
static struct {
	int counter;
	struct mutex m, a, b;
	struct completion done;
	wait_queue_head_t wq;
	int flag;
	struct rw_semaphore sem;
	spinlock_t lock;
	int *rcu_ptr;
	int cb_ran;
	struct rcu_head head;
} W;

static FILE *devnull;

static int w_setup(void **ctx)
{
	*ctx = NULL;
	mutex_init(&W.m);
	mutex_init(&W.a);
	mutex_init(&W.b);
	init_completion(&W.done);
	init_waitqueue_head(&W.wq);
	init_rwsem(&W.sem);
	spin_lock_init(&W.lock);
	return 0;
}

static void w_teardown(void *ctx)
{
	(void)ctx;
}

static void run2(int (*fn)(void *), void *a, void *b)
{
	struct task_struct *t1 = kthread_run(fn, a, "t1");
	struct task_struct *t2 = kthread_run(fn, b, "t2");

	assert_false(IS_ERR(t1));
	assert_false(IS_ERR(t2));
	kthread_join(t1);
	kthread_join(t2);
}

static struct explore_result go(const struct explore_scenario *s,
				enum explore_strategy st, unsigned long n,
				unsigned long seed, unsigned int jobs)
{
	struct explore_opts o = {
		.strategy = st,
		.depth = 2,
		.schedules = n,
		.seed = seed,
		.jobs = jobs,
		.out = devnull,
	};
	struct explore_result r;

	assert_int_equal(explore(s, &o, &r), 0);
	assert_int_equal(r.schedules, n);
	return r;
}

static void test_lost_update_found(void **state)
{
	struct explore_result r;

	(void)state;
	r = go(&lost_update, EXPLORE_RANDOM, 50, 1, 1);
	assert_true(r.violations > 0);
	assert_true(r.first_bad < 50);
	assert_int_equal(r.deadlocks + r.crashes + r.step_limits, 0);
	explore_result_free(&r);
	r = go(&lost_update, EXPLORE_PCT, 50, 1, 1);
	assert_true(r.violations > 0);
	assert_int_equal(r.deadlocks + r.crashes + r.step_limits, 0);
	explore_result_free(&r);
}

static void test_locked_never(void **state)
{
	struct explore_result r;

	(void)state;
	r = go(&locked_update, EXPLORE_RANDOM, 400, 7, 2);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	assert_null(r.bad_schedule);
	r = go(&locked_update, EXPLORE_PCT, 400, 7, 2);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
}

static int abba(void *first)
{
	struct mutex *x = first ? &W.a : &W.b, *y = first ? &W.b : &W.a;

	mutex_lock(x);
	mutex_lock(y);
	mutex_unlock(y);
	mutex_unlock(x);
	return 0;
}

static void abba_run(void *ctx)
{
	(void)ctx;
	run2(abba, (void *)1, NULL);
}

static const struct explore_scenario abba_scn = {
	.name = "abba",
	.expect_violation = true,
	.setup = w_setup,
	.run = abba_run,
	.teardown = w_teardown,
};

static void test_abba_deadlock(void **state)
{
	struct explore_result r;

	(void)state;
	/* Few: a deadlocked child is slow to end under TSan. */
	r = go(&abba_scn, EXPLORE_RANDOM, 30, 3, 1);
	assert_true(r.deadlocks > 0);
	assert_int_equal(r.violations + r.crashes + r.step_limits, 0);
	assert_int_equal(r.bad_verdict, EXPLORE_DEADLOCK);
	assert_non_null(strstr(r.bad_events, "deadlock: T1"));
	assert_non_null(strstr(r.bad_events, "deadlock: T2"));
	explore_result_free(&r);
}

static void check_replay(const struct explore_scenario *s,
			 enum explore_verdict want, enum explore_strategy st)
{
	struct explore_result r = go(s, st, 100, 11, 1);

	assert_non_null(r.bad_schedule);
	assert_int_equal(r.bad_verdict, want);
	for (int i = 0; i < 3; i++) {
		char *ev;

		assert_int_equal(explore_replay_events(s, r.bad_schedule, &ev),
				 want);
		assert_string_equal(ev, r.bad_events);
		free(ev);
	}
	assert_int_equal(explore_replay(s, r.bad_schedule, devnull), want);
	explore_result_free(&r);
}

static void test_replay_exact(void **state)
{
	(void)state;
	check_replay(&lost_update, EXPLORE_VIOLATION, EXPLORE_RANDOM);
	check_replay(&lost_update, EXPLORE_VIOLATION, EXPLORE_PCT);
	check_replay(&abba_scn, EXPLORE_DEADLOCK, EXPLORE_PCT);
}

/* --- every primitive under the explorer -------------------------------- */

static int prim_worker(void *arg)
{
	int *p;

	/* completion */
	if (arg) {
		complete(&W.done);
	} else {
		wait_for_completion(&W.done);
	}
	/* wait queue */
	if (arg) {
		WRITE_ONCE(W.flag, 1);
		wake_up_all(&W.wq);
	} else {
		wait_event(W.wq, READ_ONCE(W.flag));
	}
	/* rwsem: one writer, one reader */
	if (arg) {
		down_write(&W.sem);
		W.counter++;
		up_write(&W.sem);
	} else {
		down_read(&W.sem);
		(void)READ_ONCE(W.counter);
		up_read(&W.sem);
	}
	/* spinlock contention */
	for (int i = 0; i < 3; i++) {
		spin_lock(&W.lock);
		W.counter++;
		spin_unlock(&W.lock);
	}
	/* RCU: a reader vs. a replace + synchronize_rcu + free */
	if (arg) {
		int *old, *new = kmalloc(sizeof(*new), GFP_KERNEL);

		*new = 2;
		spin_lock(&W.lock);
		old = rcu_dereference_protected(W.rcu_ptr, true);
		rcu_assign_pointer(W.rcu_ptr, new);
		spin_unlock(&W.lock);
		synchronize_rcu();
		kfree(old);
	} else {
		rcu_read_lock();
		p = rcu_dereference(W.rcu_ptr);
		sched_point(SP_EVENT, p);
		if (*p != 1 && *p != 2)
			explore_fail("rcu: bad value %d", *p);
		rcu_read_unlock();
	}
	return 0;
}

static void cb(struct rcu_head *h)
{
	(void)h;
	W.cb_ran++;
}

static void prim_run(void *ctx)
{
	(void)ctx;
	W.rcu_ptr = kmalloc(sizeof(int), GFP_KERNEL);
	*W.rcu_ptr = 1;
	call_rcu(&W.head, cb);
	run2(prim_worker, NULL, (void *)1);
	rcu_barrier();
	if (W.cb_ran != 1 || W.counter != 7)
		explore_fail("cb_ran %d counter %d", W.cb_ran, W.counter);
	kfree(W.rcu_ptr);
}

static const struct explore_scenario prim_scn = {
	.name = "primitives",
	.setup = w_setup,
	.run = prim_run,
	.teardown = w_teardown,
};

static void test_primitives(void **state)
{
	struct explore_result r;

	(void)state;
	r = go(&prim_scn, EXPLORE_RANDOM, 100, 5, 2);
	if (r.bad_events)
		fputs(r.bad_events, stderr);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
	r = go(&prim_scn, EXPLORE_PCT, 100, 5, 2);
	assert_int_equal(r.violations + r.deadlocks + r.crashes + r.step_limits,
			 0);
}

static void test_jobs_same(void **state)
{
	struct explore_result a, b;

	(void)state;
	a = go(&lost_update, EXPLORE_RANDOM, 100, 100, 1);
	b = go(&lost_update, EXPLORE_RANDOM, 100, 100, 2);
	assert_true(a.violations > 0);
	assert_int_equal(a.violations, b.violations);
	assert_int_equal(a.first_bad, b.first_bad);
	assert_string_equal(a.bad_events, b.bad_events);
	assert_string_equal(a.bad_schedule, b.bad_schedule);
	explore_result_free(&a);
	explore_result_free(&b);
}

static void test_bad_opts(void **state)
{
	struct explore_opts o = { .strategy = (enum explore_strategy)7,
				  .schedules = 1 };
	struct explore_result r;

	(void)state;
	assert_int_equal(explore(&lost_update, &o, &r), -EINVAL);
	o.strategy = EXPLORE_PCT;
	o.depth = 99;
	assert_int_equal(explore(&lost_update, &o, &r), -EINVAL);
	assert_int_equal(explore_replay(&lost_update, "garbage", devnull),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_update_found),
		cmocka_unit_test(test_locked_never),
		cmocka_unit_test(test_abba_deadlock),
		cmocka_unit_test(test_replay_exact),
		cmocka_unit_test(test_primitives),
		cmocka_unit_test(test_jobs_same),
		cmocka_unit_test(test_bad_opts),
	};

	/* EXPLORE_VERBOSE=1 shows the summaries and the bad schedules. */
	devnull = getenv("EXPLORE_VERBOSE") ? stderr : fopen("/dev/null", "w");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
