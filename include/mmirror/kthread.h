/* SPDX-License-Identifier: MIT */
/*
 * kthread.h - every mmirror thread is made here (DESIGN.md: "Threads are
 * created through src/base too, so the explorer knows every thread of a
 * scenario").
 *
 * Life of a kthread:
 *
 *   creator                              new thread
 *   -------                              ----------
 *   t = kthread_run(fn, data, "n%d", i)
 *     allocate task, name it, pid
 *     pthread_create ------------------> current() = t; set OS thread name
 *   (returns t at once)                  hook(KTHREAD_START, t)
 *                                        t->result = fn(data)
 *                                        rcu_thread_exit()
 *                                        hook(KTHREAD_EXIT, t)
 *                                        t->exited = 1 (release), futex wake
 *   kthread_join(t)
 *     futex-wait until t->exited (acquire)
 *     pthread_join, read result, free t
 *
 * Rules:
 *  - Every thread created by kthread_run() must be joined exactly once, by
 *    kthread_join() or kthread_stop(), which free the task: after that the
 *    pointer is dead.  Never join a task twice or join yourself.
 *  - current() works in every thread.  In a thread kthread_run() did not
 *    make (main, liburcu's worker, a raw pthread in a test) it returns a
 *    task made on first use: pid 0 "main"-style for the process's initial
 *    thread, a fresh pid otherwise.  Such "adopted" tasks cannot be
 *    joined; a non-main one is freed when its thread exits.  They are not
 *    counted by kmalloc_live_objects(): they live as long as a thread
 *    mmirror does not own.
 *  - The hook (kthread_set_hook) runs in the thread itself, at the start
 *    before @fn and at the exit after @fn returned, for kthreads only.  It
 *    is how the explorer learns about, and takes control of, every thread
 *    of a scenario.  Install it before creating the threads it must see.
 *  - Waiting for a thread to exit ends in base_futex_wait() like every
 *    other mmirror wait; the pthread_join() after it only reaps a thread
 *    that has already finished its mmirror work.
 */
#ifndef MMIRROR_KTHREAD_H
#define MMIRROR_KTHREAD_H

#include <pthread.h>
#include <mmirror/compiler.h>

#define TASK_COMM_LEN 16 /* name, NUL included: pthread_setname_np's limit */

#define PF_KTHREAD 0x1u /* created by kthread_run(): joinable */

/**
 * struct task_struct - one mmirror thread
 * @comm: its name, at most TASK_COMM_LEN - 1 characters
 * @pid: mmirror thread id: 0 for the initial thread, then 1, 2, ... in
 *	creation order, never reused.  Not the OS tid.
 * @flags: PF_KTHREAD or 0 (adopted)
 * @explore: free for the explorer's per-thread state (NULL otherwise)
 *
 * The remaining fields are private to src/base/kthread.c.
 */
struct task_struct {
	char comm[TASK_COMM_LEN];
	int pid;
	unsigned int flags;
	void *explore;

	int (*threadfn)(void *data);
	void *data;
	int result;
	u32 exited; /* futex word: 0 running, 1 done (release store) */
	bool should_stop; /* kthread_stop() asked (release store) */
	pthread_t thread;
};

enum kthread_event {
	KTHREAD_START, /* in the new thread, before its function runs */
	KTHREAD_EXIT, /* in the thread, after its function returned */
};

typedef void (*kthread_hook_fn)(enum kthread_event event,
				struct task_struct *task);

/**
 * kthread_set_hook() - install the thread start/exit hook
 * @fn: called as fn(event, task) in each kthread at start and exit; NULL
 *	removes the hook
 *
 * Context: install before creating the threads the hook must see; threads
 * already running may or may not see the change.
 * Return: the previous hook.
 */
kthread_hook_fn kthread_set_hook(kthread_hook_fn fn);

/**
 * kthread_run() - create and start a thread running @threadfn(@data)
 * @threadfn: the thread's function; its return value is what
 *	kthread_join() returns
 * @data: its argument
 * @namefmt: printf-style name, truncated to TASK_COMM_LEN - 1 characters
 *	(also set as the OS thread name)
 *
 * Context: any thread; may sleep (allocation, thread creation).
 * Return: the new task, or ERR_PTR(-EINVAL) for a NULL @threadfn or
 * @namefmt, ERR_PTR(-ENOMEM) if the task cannot be allocated (failure
 * injection applies), ERR_PTR(-EAGAIN) if the system refuses a thread.
 */
__attribute__((format(printf, 3, 4))) struct task_struct *
kthread_run(int (*threadfn)(void *data), void *data, const char *namefmt, ...);

/**
 * kthread_join() - wait for a kthread to finish, free it, return its result
 * @task: a task returned by kthread_run(), not joined before
 *
 * Context: may sleep; not from @task itself.
 * Return: @threadfn's return value; -EINVAL (WARN) for a NULL/ERR_PTR or
 * adopted task, -EDEADLK (WARN) when a thread joins itself.
 */
int kthread_join(struct task_struct *task);

/**
 * kthread_stop() - ask a kthread to stop, then join it
 * @task: as for kthread_join()
 *
 * Sets the flag kthread_should_stop() reports in @task and joins it.  The
 * thread must poll kthread_should_stop(); if it sleeps, whoever owns what
 * it sleeps on must wake it.
 * Return: as kthread_join().
 */
int kthread_stop(struct task_struct *task);

/**
 * kthread_should_stop() - has kthread_stop() been called on this thread?
 *
 * Context: a kthread; false in adopted threads.
 */
bool kthread_should_stop(void);

/**
 * cond_resched() - let other threads run before retrying.
 *
 * For retry loops that would otherwise spin while another thread finishes
 * what they wait for (a vCPU re-entering the guest while an invalidation
 * is in progress).  A schedule point, then a yield of the host CPU.
 *
 * Context: any; does not sleep.
 */
void cond_resched(void);

/* The calling thread's task; private, use current(). */
extern __thread struct task_struct *__current_task;
struct task_struct *__current_slow(void);

/**
 * current() - the calling thread's task
 *
 * Never NULL, never fails: a thread not made by kthread_run() gets an
 * adopted task on first use.
 */
static inline struct task_struct *current(void)
{
	struct task_struct *t = __current_task;

	return likely(t) ? t : __current_slow();
}

/* task_name() - @task's name (current()'s if @task is NULL). */
const char *task_name(const struct task_struct *task);

/* task_pid_nr() - @task's mmirror pid (current()'s if @task is NULL). */
int task_pid_nr(const struct task_struct *task);

#endif /* MMIRROR_KTHREAD_H */
