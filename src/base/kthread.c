// SPDX-License-Identifier: MIT
/*
 * kthread: thread creation, identity (current()) and the explorer's thread
 * start/exit hook.  The life of a kthread and the rules are in
 * <mmirror/kthread.h>; this file adds the memory-ordering details.
 *
 * Shared task fields and who orders them:
 *  - comm, pid, flags, threadfn, data: written by the creator before
 *    pthread_create(), which orders them before everything the new thread
 *    does; read-only afterwards.
 *  - thread: written by pthread_create() in the creator; read only by the
 *    joiner, who got the task pointer from the creator after that.
 *  - result: written by the thread before its release store of exited;
 *    read by the joiner after the acquire load that sees exited == 1.
 *  - should_stop: release store in kthread_stop(), acquire load in
 *    kthread_should_stop() (orders what the stopper did before asking).
 *  - exited: the futex word kthread_join() sleeps on.
 *
 * The task stays allocated until kthread_join() returns from
 * pthread_join(), i.e. until the thread has fully terminated, so the
 * thread may touch its task (futex wake included) up to its last
 * instruction.
 */
#define _GNU_SOURCE /* pthread_setname_np, pthread_getname_np */
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <mmirror/atomic.h>
#include <mmirror/futex.h>
#include <mmirror/kthread.h>
#include <mmirror/rcupdate.h>
#include <mmirror/sched_point.h>
#include <mmirror/slab.h>
#include "explore_hooks.h"

__thread struct task_struct *__current_task;

/* pids: 0 is the initial thread, kthreads and adopted threads count up. */
static atomic_t kthread_last_pid = ATOMIC_INIT(0);
static struct task_struct init_task;

/* Frees adopted tasks of threads kthread_run() did not create. */
static pthread_key_t adopted_key;
static bool adopted_key_ok;

/*
 * The explorer's hook.  Written by kthread_set_hook() (xchg, acq_rel); read
 * with acquire in kthread_call_hook() so that whatever the explorer set up
 * before installing it is visible to the thread calling it.
 */
static kthread_hook_fn kthread_hook;

static void adopted_task_free(void *p)
{
	if (__current_task == p)
		__current_task = NULL;
	free(p);
}

/* Before main(), single-threaded: no lock needed around the key. */
__attribute__((constructor)) static void kthread_glue_init(void)
{
	adopted_key_ok =
		pthread_key_create(&adopted_key, adopted_task_free) == 0;
}

kthread_hook_fn kthread_set_hook(kthread_hook_fn fn)
{
	/* Pairs with the acquire load in kthread_call_hook(). */
	return xchg(&kthread_hook, fn);
}

static void kthread_call_hook(enum kthread_event event, struct task_struct *t)
{
	/* Pairs with the xchg in kthread_set_hook(). */
	kthread_hook_fn fn = __atomic_load_n(&kthread_hook, __ATOMIC_ACQUIRE);

	if (fn)
		fn(event, t);
}

static void *kthread_main(void *arg)
{
	struct task_struct *t = arg;

	__current_task = t;
	/* <= 15 characters by construction, so this cannot fail. */
	pthread_setname_np(pthread_self(), t->comm);
	kthread_call_hook(KTHREAD_START, t);

	t->result = t->threadfn(t->data);

	/* Out of RCU before the explorer hears that the thread is gone. */
	rcu_thread_exit();
	kthread_call_hook(KTHREAD_EXIT, t);
	/* Pairs with the acquire load in kthread_join(); publishes result. */
	smp_store_release(&t->exited, 1);
	base_futex_wake(&t->exited, INT_MAX);
	return NULL;
}

struct task_struct *kthread_run(int (*threadfn)(void *data), void *data,
				const char *namefmt, ...)
{
	const struct base_explore_ops *ex;
	struct task_struct *t;
	va_list ap;
	int err;

	if (WARN_ON(!threadfn) || WARN_ON(!namefmt))
		return ERR_PTR(-EINVAL);
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return ERR_PTR(-ENOMEM);
	va_start(ap, namefmt);
	vsnprintf(t->comm, sizeof(t->comm), namefmt, ap);
	va_end(ap);
	t->pid = atomic_inc_return(&kthread_last_pid);
	t->flags = PF_KTHREAD;
	t->threadfn = threadfn;
	t->data = data;

	/*
	 * The explorer gives the thread its slot here, in the creator, so the
	 * set of threads it schedules does not depend on when the new thread
	 * reaches its start hook.  pthread_create() orders t->explore before
	 * everything the new thread does.
	 */
	ex = base_explore_ops();
	if (ex)
		ex->kthread_prepare(t);
	err = pthread_create(&t->thread, NULL, kthread_main, t);
	if (ex)
		ex->kthread_created(t, !err);
	if (err) {
		kfree(t);
		return ERR_PTR(err == EAGAIN ? -EAGAIN : -err);
	}
	return t;
}

int kthread_join(struct task_struct *task)
{
	int ret;

	if (WARN_ON(IS_ERR_OR_NULL(task)) ||
	    WARN_ON(!(task->flags & PF_KTHREAD)))
		return -EINVAL;
	if (WARN_ON(task == __current_task))
		return -EDEADLK;

	/* Pairs with the release store at the end of kthread_main(). */
	while (!smp_load_acquire(&task->exited))
		base_futex_wait(&task->exited, 0);
	/* The thread is past its mmirror work; this only reaps it. */
	WARN_ON(pthread_join(task->thread, NULL));
	ret = task->result;
	kfree(task);
	return ret;
}

int kthread_stop(struct task_struct *task)
{
	if (WARN_ON(IS_ERR_OR_NULL(task)) ||
	    WARN_ON(!(task->flags & PF_KTHREAD)))
		return -EINVAL;
	/* Pairs with the acquire load in kthread_should_stop(). */
	smp_store_release(&task->should_stop, true);
	return kthread_join(task);
}

void cond_resched(void)
{
	sched_point(SP_EVENT, NULL);
	sched_yield();
}

bool kthread_should_stop(void)
{
	struct task_struct *t = current();

	/* Pairs with the release store in kthread_stop(). */
	return smp_load_acquire(&t->should_stop);
}

/*
 * First current() in a thread kthread_run() did not make.  Only the calling
 * thread ever writes the task it adopts here, so no ordering is needed
 * beyond the TLS pointer, which is the thread's own.
 */
struct task_struct *__current_slow(void)
{
	struct task_struct *t;

	if (syscall(SYS_gettid) == getpid()) {
		t = &init_task;
		t->pid = 0;
	} else {
		BUG_ON(!adopted_key_ok);
		/*
		 * calloc, not kmalloc: the task lives as long as a thread
		 * mmirror does not own, so it is not an mmirror object
		 * for the leak counters.  current() cannot fail.
		 */
		t = calloc(1, sizeof(*t));
		BUG_ON(!t);
		t->pid = atomic_inc_return(&kthread_last_pid);
		BUG_ON(pthread_setspecific(adopted_key, t));
	}
	if (pthread_getname_np(pthread_self(), t->comm, sizeof(t->comm)))
		snprintf(t->comm, sizeof(t->comm), "task-%d", t->pid);
	__current_task = t;
	return t;
}

const char *task_name(const struct task_struct *task)
{
	return (task ? task : current())->comm;
}

int task_pid_nr(const struct task_struct *task)
{
	return (task ? task : current())->pid;
}
