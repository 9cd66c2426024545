// SPDX-License-Identifier: MIT
/*
 * kthread: creation, join and return values, names, current() identity,
 * the start/exit hook, kthread_stop, and error returns.
 */
#define _GNU_SOURCE /* pthread_getname_np */
#include "test_util.h"
#include <mmirror/atomic.h>
#include <mmirror/kthread.h>
#include <mmirror/rcupdate.h>
#include <mmirror/slab.h>

#define NTHREADS 6

struct probe {
	int in; /* argument */
	struct task_struct *self; /* current() seen by the thread */
	struct task_struct *self2;
	char name[TASK_COMM_LEN]; /* task_name(NULL) seen by the thread */
	char os_name[TASK_COMM_LEN];
	int pid;
};

static int probe_fn(void *data)
{
	struct probe *p = data;

	p->self = current();
	p->self2 = current();
	strcpy(p->name, task_name(NULL));
	pthread_getname_np(pthread_self(), p->os_name, sizeof(p->os_name));
	p->pid = task_pid_nr(NULL);
	return p->in * 10 + 1;
}

/* Join returns each thread's own result; every thread sees its own task. */
static void test_run_join_identity(void **state)
{
	long live = kmalloc_live_objects();
	struct task_struct *t[NTHREADS];
	struct probe p[NTHREADS];

	memset(p, 0, sizeof(p));
	for (int i = 0; i < NTHREADS; i++) {
		p[i].in = i;
		t[i] = kthread_run(probe_fn, &p[i], "probe/%d", i);
		assert_false(IS_ERR_OR_NULL(t[i]));
		assert_true(t[i]->flags & PF_KTHREAD);
		assert_string_equal(task_name(t[i]), t[i]->comm);
	}
	/* Tasks are kmalloc'd: visible to the leak counter until joined. */
	assert_int_equal(kmalloc_live_objects(), live + NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		char want[TASK_COMM_LEN];
		int pid = t[i]->pid;

		struct task_struct *task = t[i];

		snprintf(want, sizeof(want), "probe/%d", i);
		assert_int_equal(kthread_join(t[i]), i * 10 + 1);
		/* (Pointer values only: the task is freed by now.) */
		assert_ptr_equal(p[i].self, task);
		assert_ptr_equal(p[i].self2, task);
		assert_string_equal(p[i].name, want);
		assert_string_equal(p[i].os_name, want);
		assert_int_equal(p[i].pid, pid);
		assert_true(pid > 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(p[j].pid, pid);
	}
	assert_int_equal(kmalloc_live_objects(), live);
}

/* Names are truncated to 15 characters, for the task and the OS thread. */
static void test_long_name(void **state)
{
	struct probe p = { .in = 4 };
	struct task_struct *t;

	t = kthread_run(probe_fn, &p, "%s-%d", "abcdefghijklmnopqrstuvwxyz", 7);
	assert_false(IS_ERR_OR_NULL(t));
	assert_int_equal(strlen(t->comm), TASK_COMM_LEN - 1);
	assert_int_equal(kthread_join(t), 41);
	assert_string_equal(p.name, "abcdefghijklmno");
	assert_string_equal(p.os_name, "abcdefghijklmno");
}

/* main gets the initial task: pid 0, not joinable, stable. */
static void test_current_main(void **state)
{
	struct task_struct *me = current();

	assert_non_null(me);
	assert_ptr_equal(current(), me);
	assert_int_equal(task_pid_nr(NULL), 0);
	assert_int_equal(me->flags & PF_KTHREAD, 0);
	assert_true(strlen(task_name(NULL)) > 0);
	assert_false(kthread_should_stop());

	mm_warn_set_quiet(true);
	unsigned long w = mm_warn_count();
	assert_int_equal(kthread_join(me), -EINVAL);
	assert_int_equal(mm_warn_count(), w + 1);
	mm_warn_set_quiet(false);
}

/* A raw pthread (not made here) gets an adopted task of its own. */
static void *raw_thread(void *arg)
{
	struct probe *p = arg;

	p->self = current();
	p->self2 = current();
	p->pid = task_pid_nr(NULL);
	return NULL;
}

static void test_current_adopted(void **state)
{
	struct probe a = { 0 }, b = { 0 };
	pthread_t ta, tb;

	pthread_create(&ta, NULL, raw_thread, &a);
	pthread_create(&tb, NULL, raw_thread, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_non_null(a.self);
	assert_ptr_equal(a.self, a.self2);
	assert_true(a.pid > 0);
	assert_true(b.pid > 0);
	assert_int_not_equal(a.pid, b.pid);
	assert_ptr_not_equal(a.self, current());
	/* (Their tasks were freed at thread exit; ASan checks that.) */
}

/* The hook: every kthread reports START then EXIT, in itself. */
#define HOOK_MAX 64
static struct {
	struct task_struct *task;
	int pid;
	int starts, exits;
	bool current_ok;
	bool order_ok;
} hook_log[HOOK_MAX];
static int hook_n;
static u32 hook_lock;

static void hook_lock_acquire(void)
{
	while (xchg(&hook_lock, 1))
		cpu_relax();
}

static void test_hook(enum kthread_event ev, struct task_struct *t)
{
	int i;

	hook_lock_acquire();
	for (i = 0; i < hook_n; i++)
		if (hook_log[i].task == t && hook_log[i].pid == t->pid)
			break;
	if (i == hook_n && hook_n < HOOK_MAX) {
		hook_n++;
		hook_log[i].task = t;
		hook_log[i].pid = t->pid;
		hook_log[i].current_ok = true;
		hook_log[i].order_ok = true;
	}
	if (i < HOOK_MAX) {
		if (current() != t)
			hook_log[i].current_ok = false;
		if (ev == KTHREAD_START) {
			if (hook_log[i].starts || hook_log[i].exits)
				hook_log[i].order_ok = false;
			hook_log[i].starts++;
		} else {
			if (hook_log[i].starts != 1 || hook_log[i].exits)
				hook_log[i].order_ok = false;
			hook_log[i].exits++;
		}
	}
	smp_store_release(&hook_lock, 0);
}

static int nop_fn(void *data)
{
	/* RCU use on the way: the exit path must unregister us. */
	rcu_read_lock();
	rcu_read_unlock();
	return (int)(long)data;
}

static void test_creation_hook(void **state)
{
	struct task_struct *t[NTHREADS];
	int pids[NTHREADS];

	hook_n = 0;
	assert_null(kthread_set_hook(test_hook));
	for (long i = 0; i < NTHREADS; i++) {
		t[i] = kthread_run(nop_fn, (void *)i, "hooked%ld", i);
		assert_false(IS_ERR(t[i]));
		pids[i] = t[i]->pid;
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(kthread_join(t[i]), i);
	assert_ptr_equal(kthread_set_hook(NULL), test_hook);

	assert_int_equal(hook_n, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		int j;

		for (j = 0; j < hook_n; j++)
			if (hook_log[j].pid == pids[i])
				break;
		assert_true(j < hook_n);
		assert_int_equal(hook_log[j].starts, 1);
		assert_int_equal(hook_log[j].exits, 1);
		assert_true(hook_log[j].current_ok);
		assert_true(hook_log[j].order_ok);
	}

	/* Removed hook: no more calls. */
	struct task_struct *x = kthread_run(nop_fn, NULL, "unhooked");
	assert_false(IS_ERR(x));
	assert_int_equal(kthread_join(x), 0);
	assert_int_equal(hook_n, NTHREADS);
}

static int stoppable_fn(void *data)
{
	long *loops = data;

	while (!kthread_should_stop())
		(*loops)++;
	return 77;
}

static void test_stop(void **state)
{
	long loops = 0;
	struct task_struct *t = kthread_run(stoppable_fn, &loops, "stopme");

	assert_false(IS_ERR(t));
	assert_int_equal(kthread_stop(t), 77);
	assert_true(loops >= 0);
}

/* Bad input is refused with an errno, loudly, and nothing leaks. */
static void test_errors(void **state)
{
	long live = kmalloc_live_objects();
	unsigned long w = mm_warn_count();
	struct task_struct *t;

	mm_warn_set_quiet(true);
	t = kthread_run(NULL, NULL, "x");
	assert_true(IS_ERR(t));
	assert_int_equal(PTR_ERR(t), -EINVAL);
	t = kthread_run(nop_fn, NULL, NULL);
	assert_int_equal(PTR_ERR(t), -EINVAL);
	assert_int_equal(kthread_join(NULL), -EINVAL);
	assert_int_equal(kthread_join(ERR_PTR(-ENOMEM)), -EINVAL);
	assert_int_equal(kthread_stop(NULL), -EINVAL);
	assert_int_equal(mm_warn_count(), w + 5);
	mm_warn_set_quiet(false);

	/* Allocation failure is survived: -ENOMEM, and then it works again. */
	fault_inject_nth(1);
	t = kthread_run(nop_fn, NULL, "nomem");
	assert_int_equal(PTR_ERR(t), -ENOMEM);
	t = kthread_run(nop_fn, (void *)3L, "mem");
	assert_false(IS_ERR(t));
	assert_int_equal(kthread_join(t), 3);
	assert_int_equal(kmalloc_live_objects(), live);
}

static int self_join_fn(void *data)
{
	return kthread_join(current());
}

/* Joining yourself is refused instead of deadlocking. */
static void test_self_join(void **state)
{
	unsigned long w = mm_warn_count();
	struct task_struct *t;

	mm_warn_set_quiet(true);
	t = kthread_run(self_join_fn, NULL, "selfjoin");
	assert_false(IS_ERR(t));
	assert_int_equal(kthread_join(t), -EDEADLK);
	assert_int_equal(mm_warn_count(), w + 1);
	mm_warn_set_quiet(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_join_identity),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_current_main),
		cmocka_unit_test(test_current_adopted),
		cmocka_unit_test(test_creation_hook),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_self_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
