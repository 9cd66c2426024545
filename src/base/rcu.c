// SPDX-License-Identifier: MIT
/*
 * RCU glue: the kernel API of <mmirror/rcupdate.h> on liburcu's urcu-memb
 * flavour (sys_membarrier-based; docs/rcu.md says why).
 *
 * Per-thread state (all thread-local, so no ordering rules apply to it):
 *
 *   __rcu_read_nesting  our read-side depth.  Only the outermost
 *                       rcu_read_lock/unlock call into liburcu; inner levels
 *                       only count.  rcu_read_lock_held() reads it.
 *   rcu_reg             UNREGISTERED -> REGISTERED on the first
 *                       rcu_read_lock()/call_rcu() of the thread (liburcu
 *                       requires registration before either), back to
 *                       UNREGISTERED in rcu_thread_exit().  LIBURCU marks
 *                       liburcu's own call_rcu worker, which liburcu
 *                       registered itself: we must neither register it a
 *                       second time (that corrupts liburcu's registry) nor
 *                       unregister it.  The callback trampoline, which only
 *                       ever runs on such a worker, sets it.
 *   rcu_in_callback     true while a call_rcu callback runs (context checks)
 *
 * Unregistration at exit: registration also sets a pthread key whose
 * destructor calls rcu_thread_exit(), so a thread that never heard of
 * rcu_thread_exit() (main's helpers, raw pthreads in tests) still leaves
 * liburcu's registry before its TLS, which liburcu's grace periods read, is
 * freed.  kthreads call rcu_thread_exit() explicitly on their exit path,
 * earlier, so the kthread exit hook sees a thread already out of RCU.
 *
 * Name clash with liburcu: <urcu/urcu-memb.h> #defines the kernel names to
 * its flavour symbols while it declares them, and #undefs most of them at
 * its end (urcu/map/clear.h); urcu/pointer.h's rcu_dereference,
 * rcu_assign_pointer and friends stay defined, and call-rcu.h declares a
 * struct rcu_head of its own.  So this file, the only one that includes
 * liburcu, renames liburcu's struct to urcu_rcu_head around the include,
 * #undefs the pointer macros, and only then includes our header.
 *
 * We do not define _LGPL_SOURCE: the read-side fast path is then one call
 * into liburcu-memb.so per outermost rcu_read_lock/unlock instead of inlined
 * LGPL code in an MIT library.
 */
#define rcu_head urcu_rcu_head
#include <urcu/urcu-memb.h>
#undef rcu_head
#undef rcu_dereference
#undef rcu_assign_pointer
#undef rcu_set_pointer
#undef rcu_xchg_pointer
#undef rcu_cmpxchg_pointer

#include <pthread.h>
#include <stdint.h>
#include <mmirror/rcupdate.h>
#include <mmirror/sched_point.h>
#include <mmirror/slab.h>
#include "check_hooks.h"
#include "explore_hooks.h"

/* Our struct rcu_head carries liburcu's in its first words. */
BUILD_BUG_ON(sizeof(struct urcu_rcu_head) !=
	     sizeof(((struct rcu_head *)0)->__urcu));
BUILD_BUG_ON(_Alignof(struct urcu_rcu_head) > _Alignof(struct rcu_head));
BUILD_BUG_ON(offsetof(struct rcu_head, __urcu) != 0);

/* Only the addresses matter: sched_point(SP_RCU, &rcu_sp_events[i]). */
const char rcu_sp_events[RCU_SP__NR] = { 0 };

enum rcu_reg {
	RCU_UNREGISTERED,
	RCU_REGISTERED, /* by us; we unregister at thread exit */
	RCU_LIBURCU, /* liburcu's call_rcu worker: registered by liburcu */
};

__thread unsigned int __rcu_read_nesting;
static __thread enum rcu_reg rcu_reg;
static __thread bool rcu_in_callback;

/*
 * Explore mode (an ops table installed by src/explore, in a forked child
 * that runs one thread at a time): liburcu's grace periods would block
 * outside the explorer's control, so liburcu is not used at all.  Instead:
 * read-side sections only count (__rcu_read_nesting, and
 * __rcu_explore_sections for the outermost entries, which the explorer
 * reads to tell "still in the same section" from "left and re-entered");
 * synchronize_rcu() asks the explorer to wait, as a spin-wait, until every
 * thread that was in a section at the start has left it; call_rcu()
 * queues on rcu_ex_cbs, and callbacks run in the thread that completes
 * the next grace period, rcu_barrier(), or at the end of the schedule
 * (rcu_explore_flush()).  All of this state is touched only by the one
 * thread the explorer runs, whose token hand-off orders it.
 */
__thread unsigned long __rcu_explore_sections;
static struct rcu_head *rcu_ex_cbs, **rcu_ex_tail = &rcu_ex_cbs;
static unsigned long rcu_ex_inflight; /* detached, not yet run */

static pthread_key_t rcu_exit_key;
static bool rcu_exit_key_ok;

/*
 * ThreadSanitizer annotations.
 *
 * liburcu is not instrumented, so TSan sees none of the ordering a grace
 * period provides and would report every "reader reads *old ... updater
 * frees old after synchronize_rcu()" as a race.  We tell it about the
 * ordering with a release/acquire pair on a dummy address:
 *
 *   - the outermost rcu_read_unlock() does __tsan_release(&rcu_tsan_gp):
 *     the section's accesses are merged into that address's clock;
 *   - synchronize_rcu() does __tsan_acquire(&rcu_tsan_gp) after the grace
 *     period, and the callback trampoline does it before the callback runs
 *     (a callback always runs after a grace period that began after
 *     call_rcu() was called).
 *
 * Why this is sound: every reader that was in its section when the grace
 * period began has, by liburcu's guarantee, finished it (and so done its
 * release) before synchronize_rcu() returns, and all its accesses really
 * are ordered before the caller's later accesses (liburcu's membarrier /
 * smp_mb pairing).  Those are exactly the edges TSan now sees.  The only
 * inexactness is in the safe direction: a section that began *after* the
 * grace period started but ended before the acquire also contributes an
 * edge it is not owed, which can hide (never invent) a race between such a
 * late reader and the code after synchronize_rcu().  Such a reader cannot
 * have seen the pointer the updater removed before the grace period, so
 * the race it could hide is not an RCU-lifetime race.
 *
 * Two more pairs cover what liburcu's uninstrumented queue hides:
 * call_rcu() releases on the head and the trampoline acquires it (the
 * caller's writes to the object happen-before the callback), and the
 * trampoline releases &rcu_tsan_barrier after the callback, which
 * rcu_barrier() acquires (callbacks happen-before rcu_barrier's return).
 */
static char rcu_tsan_gp __maybe_unused, rcu_tsan_barrier __maybe_unused;
#ifdef MMIRROR_TSAN
extern void __tsan_acquire(void *addr);
extern void __tsan_release(void *addr);
#define rcu_tsan_acquire(a) __tsan_acquire((void *)(a))
#define rcu_tsan_release(a) __tsan_release((void *)(a))

/*
 * liburcu itself: its worker frees, with free(), memory that the
 * rcu_barrier() caller calloc()ed inside liburcu, ordered only by liburcu's
 * uninstrumented queue, which TSan reports as a race inside liburcu.
 * called_from_lib makes TSan ignore the interceptors (malloc, free,
 * pthread_mutex_*) that liburcu calls *directly*; our trampoline and the
 * user callbacks it calls are still fully checked (their free() is called
 * from our code, not liburcu's).  The TSan runtime looks this weak hook up
 * at start-up; it is linked whenever rcu.o is, i.e. whenever liburcu is.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-memb.so\n";
}
#else
#define rcu_tsan_acquire(a) ((void)(a))
#define rcu_tsan_release(a) ((void)(a))
#endif

static void rcu_invoke(struct rcu_head *head);
static void rcu_explore_gp(void);

static void rcu_exit_key_destructor(void *unused)
{
	rcu_thread_exit();
}

/*
 * Runs before main(), single-threaded, so the key needs no lock.  liburcu
 * initializes itself in its own constructor.
 */
__attribute__((constructor)) static void rcu_glue_init(void)
{
	rcu_exit_key_ok =
		pthread_key_create(&rcu_exit_key, rcu_exit_key_destructor) == 0;
}

static __noinline void rcu_register_self(void)
{
	/*
	 * Without the key, the thread would stay in liburcu's registry after
	 * its TLS is gone and the next grace period would read freed memory.
	 */
	BUG_ON(!rcu_exit_key_ok);
	urcu_memb_register_thread();
	rcu_reg = RCU_REGISTERED;
	BUG_ON(pthread_setspecific(rcu_exit_key, &rcu_exit_key));
}

static inline void rcu_ensure_registered(void)
{
	if (unlikely(rcu_reg == RCU_UNREGISTERED))
		rcu_register_self();
}

/* Close a section that the thread forgot to close (already WARNed). */
static void rcu_force_unlock(void)
{
	__rcu_read_nesting = 0;
	if (base_explore_ops())
		return;
	rcu_tsan_release(&rcu_tsan_gp);
	urcu_memb_read_unlock();
}

void rcu_read_lock(void)
{
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_READ_LOCK]);
	if (__rcu_read_nesting++ == 0) {
		if (base_explore_ops()) {
			__rcu_explore_sections++;
			return;
		}
		rcu_ensure_registered();
		urcu_memb_read_lock();
	}
}

void rcu_read_unlock(void)
{
	if (WARN_ON(__rcu_read_nesting == 0))
		return;
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_READ_UNLOCK]);
	if (--__rcu_read_nesting == 0 && !base_explore_ops()) {
		/* Publish the section's accesses to the grace periods. */
		rcu_tsan_release(&rcu_tsan_gp);
		urcu_memb_read_unlock();
	}
}

void synchronize_rcu(void)
{
	might_sleep();
	/* Waiting inside a section would wait for ourselves forever. */
	if (WARN_ON(rcu_read_lock_held()) || WARN_ON(rcu_in_callback))
		return;
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_GP_START]);
	if (base_explore_ops()) {
		rcu_explore_gp();
		sched_point(SP_RCU, &rcu_sp_events[RCU_SP_GP_END]);
		return;
	}
	urcu_memb_synchronize_rcu();
	/* Every pre-existing section ended: take their accesses' edges. */
	rcu_tsan_acquire(&rcu_tsan_gp);
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_GP_END]);
}

/*
 * The one callback liburcu ever sees: runs on liburcu's worker thread after
 * a grace period, then dispatches to the user's callback (or kfree_rcu).
 */
static void rcu_callback_trampoline(struct urcu_rcu_head *uhead)
{
	struct rcu_head *head =
		container_of((void *)uhead, struct rcu_head, __urcu);
	/* liburcu registered its worker itself; don't do it a second time. */
	if (rcu_reg == RCU_UNREGISTERED)
		rcu_reg = RCU_LIBURCU;

	/* Before reading head->func: pairs with the release in call_rcu(). */
	rcu_tsan_acquire(head);
	rcu_tsan_acquire(&rcu_tsan_gp);
	rcu_invoke(head);
	/* The callback's effects happen-before rcu_barrier()'s return. */
	rcu_tsan_release(&rcu_tsan_barrier);
}

/* Run one callback (or kfree_rcu) in callback context. */
static void rcu_invoke(struct rcu_head *head)
{
	rcu_callback_t func = head->func;

	rcu_in_callback = true;
	if ((uintptr_t)func < KFREE_RCU_OFFSET_MAX)
		kfree((char *)head - (uintptr_t)func);
	else
		func(head);
	rcu_in_callback = false;

	if (WARN_ON(rcu_read_lock_held()))
		rcu_force_unlock();
}

/* Explore mode: run a detached list of callbacks. */
static void rcu_explore_run(struct rcu_head *list)
{
	while (list) {
		struct rcu_head *next = list->__urcu[0];

		rcu_invoke(list);
		rcu_ex_inflight--;
		list = next;
	}
}

/* Explore mode: callbacks queued (not yet detached by a grace period). */
static unsigned long rcu_explore_queued(void)
{
	unsigned long n = 0;

	for (struct rcu_head *h = rcu_ex_cbs; h; h = h->__urcu[0])
		n++;
	return n;
}

/* Explore mode: one grace period, then the callbacks queued before it. */
static void rcu_explore_gp(void)
{
	struct rcu_head *list = rcu_ex_cbs;

	rcu_ex_cbs = NULL;
	rcu_ex_tail = &rcu_ex_cbs;
	base_explore_ops()->rcu_gp_wait();
	rcu_explore_run(list);
}

/**
 * rcu_explore_flush() - explore mode: run every callback still queued
 *
 * Context: the end of an explored schedule, one thread left, outside any
 * read-side section (so a grace period has trivially elapsed).
 */
void rcu_explore_flush(void)
{
	struct rcu_head *list = rcu_ex_cbs;

	rcu_ex_cbs = NULL;
	rcu_ex_tail = &rcu_ex_cbs;
	rcu_explore_run(list);
}

static void rcu_queue(struct rcu_head *head, rcu_callback_t func)
{
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_CALL_RCU]);
	if (base_explore_ops()) {
		head->func = func;
		head->__urcu[0] = NULL;
		*rcu_ex_tail = head;
		rcu_ex_tail = (struct rcu_head **)&head->__urcu[0];
		rcu_ex_inflight++;
		return;
	}
	/* liburcu's call_rcu() enters a read-side section internally. */
	rcu_ensure_registered();
	head->func = func;
	rcu_tsan_release(head);
	urcu_memb_call_rcu((struct urcu_rcu_head *)(void *)head->__urcu,
			   rcu_callback_trampoline);
}

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	if (WARN_ON(!head) || WARN_ON(!func))
		return;
	/* Values below the offset limit are reserved for kfree_rcu. */
	if (WARN_ON((uintptr_t)func < KFREE_RCU_OFFSET_MAX))
		return;
	rcu_queue(head, func);
}

void __kfree_rcu(struct rcu_head *head, unsigned long offset)
{
	if (WARN_ON(!head) || WARN_ON(offset >= KFREE_RCU_OFFSET_MAX))
		return;
	rcu_queue(head, (rcu_callback_t)(uintptr_t)offset);
}

void rcu_barrier(void)
{
	might_sleep();
	/*
	 * In a section, liburcu refuses (and prints); from a callback it
	 * would wait for the very worker it runs on.
	 */
	if (WARN_ON(rcu_read_lock_held()) || WARN_ON(rcu_in_callback))
		return;
	sched_point(SP_RCU, &rcu_sp_events[RCU_SP_BARRIER]);
	if (base_explore_ops()) {
		rcu_explore_gp();
		/* Another thread's grace period may still run older ones. */
		while (rcu_ex_inflight > rcu_explore_queued())
			sched_point(SP_SPIN, &rcu_ex_inflight);
		return;
	}
	urcu_memb_barrier();
	/* Pairs with the release after each callback in the trampoline. */
	rcu_tsan_acquire(&rcu_tsan_barrier);
}

void rcu_thread_exit(void)
{
	if (WARN_ON(rcu_read_lock_held()))
		rcu_force_unlock();
	if (rcu_reg != RCU_REGISTERED || base_explore_ops())
		return;
	urcu_memb_unregister_thread();
	rcu_reg = RCU_UNREGISTERED;
	/* Nothing left for the destructor (NULL: it will not run). */
	pthread_setspecific(rcu_exit_key, NULL);
}
