/* SPDX-License-Identifier: MIT */
/*
 * lost_update.h - the explorer tests' smallest race: two threads each
 * read a counter, pass a sched point, and write it back plus one.  With
 * one preemption between a read and its write an update is lost and the
 * scenario calls explore_fail(); "locked-update" takes a mutex around
 * the same steps and can never lose one.  Shared by test_sched.c and
 * test_dfs.c (one translation unit each, so plain statics).
 */
#ifndef MMIRROR_TESTS_EXPLORE_LOST_UPDATE_H
#define MMIRROR_TESTS_EXPLORE_LOST_UPDATE_H

#include "../test_util.h"
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mutex.h>
#include <mmirror/sched_point.h>

/* Each schedule runs in its own forked child: plain globals are per run. */
static struct {
	int counter;
	struct mutex m;
} LU;

static int lu_setup(void **ctx)
{
	*ctx = NULL;
	LU.counter = 0;
	mutex_init(&LU.m);
	return 0;
}

/* ctx != NULL: the threads take the mutex. */
static int lu_locked_setup(void **ctx)
{
	lu_setup(ctx);
	*ctx = (void *)1;
	return 0;
}

static void lu_teardown(void *ctx)
{
	(void)ctx;
}

static int lu_inc(void *use_mutex)
{
	int v;

	if (use_mutex)
		mutex_lock(&LU.m);
	v = READ_ONCE(LU.counter);
	sched_point(SP_EVENT, &LU.counter);
	WRITE_ONCE(LU.counter, v + 1);
	if (use_mutex)
		mutex_unlock(&LU.m);
	return 0;
}

static void lu_run(void *ctx)
{
	struct task_struct *t1 = kthread_run(lu_inc, ctx, "t1");
	struct task_struct *t2 = kthread_run(lu_inc, ctx, "t2");

	assert_false(IS_ERR(t1));
	assert_false(IS_ERR(t2));
	kthread_join(t1);
	kthread_join(t2);
	if (LU.counter != 2)
		explore_fail("lost update: counter %d", LU.counter);
}

static const struct explore_scenario lost_update = {
	.name = "lost-update",
	.expect_violation = true,
	.setup = lu_setup,
	.run = lu_run,
	.teardown = lu_teardown,
};

static const struct explore_scenario locked_update = {
	.name = "locked-update",
	.setup = lu_locked_setup,
	.run = lu_run,
	.teardown = lu_teardown,
};

#endif /* MMIRROR_TESTS_EXPLORE_LOST_UPDATE_H */
