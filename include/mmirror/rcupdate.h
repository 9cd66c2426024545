/* SPDX-License-Identifier: MIT */
/*
 * rcupdate.h - kernel-named RCU (read-copy update) over liburcu's
 * urcu-memb flavour.  docs/rcu.md explains the choice of flavour.
 *
 * The protocol, as in the kernel:
 *
 *   reader                               updater
 *   ------                               -------
 *   rcu_read_lock();                     new = kmalloc(); fill *new;
 *   p = rcu_dereference(gp);             old = gp (under the update lock);
 *   ... read *p ...                      rcu_assign_pointer(gp, new);
 *   rcu_read_unlock();                   synchronize_rcu();  (or call_rcu)
 *                                        kfree(old);
 *
 * 1. Publication: rcu_assign_pointer() is a release store; rcu_dereference()
 *    is an acquire load that pairs with it, so a reader that sees @new also
 *    sees every field the updater wrote before publishing it.
 * 2. Grace period: synchronize_rcu() returns only after every read-side
 *    critical section that was running when it was called has ended, and
 *    everything such a section did happens-before the return.  A reader
 *    that could still hold @old therefore is gone when kfree(old) runs.
 *    call_rcu(head, func) runs func(head) after such a grace period, on a
 *    liburcu worker thread; rcu_barrier() waits until every callback queued
 *    before it has finished.
 * 3. Read-side sections nest, never block on a grace period (that would
 *    wait for itself), and are per thread.  rcu_read_lock_held() reports
 *    whether the calling thread is inside one; rcu_dereference() WARNs
 *    (once per call site) when used outside one, as lockdep-RCU does.
 *    Update-side code that holds the lock protecting the pointer uses
 *    rcu_dereference_protected(p, lock_held) instead.
 *
 * Thread registration, which liburcu requires for every reader, is
 * automatic: the first rcu_read_lock() (or call_rcu()) of a thread registers
 * it, and it is unregistered when the thread exits (kthread exit path, or a
 * pthread key destructor for threads not made by kthread_run()).
 *
 * Why this header never includes liburcu: liburcu's flavour headers
 * #define the kernel names (rcu_read_lock, synchronize_rcu, call_rcu,
 * rcu_dereference, rcu_assign_pointer...) as macros that map to the flavour's
 * symbols, and declare their own struct rcu_head.  Any file that included
 * both theirs and ours would get the wrong one silently or a redefinition
 * error.  So mmirror owns the kernel names outright: they are real functions
 * and macros defined here, with our own struct rcu_head, and only
 * src/base/rcu.c includes <urcu/urcu-memb.h>, calling the flavour-prefixed
 * API (urcu_memb_*) with liburcu's struct renamed out of the way.  Drivers
 * and the rest of mmirror must not include <urcu*.h> themselves.
 *
 * Schedule points: read_lock, read_unlock, the start and end of a grace
 * period, call_rcu and rcu_barrier call sched_point(SP_RCU, obj) with obj
 * = &rcu_sp_events[RCU_SP_*], so the explorer can tell them apart.
 * Publication (rcu_assign_pointer) and rcu_dereference are, like
 * WRITE_ONCE/READ_ONCE, not schedule points.
 *
 * Blocking: synchronize_rcu() and rcu_barrier() wait inside liburcu (its
 * own futexes), not in base_futex_wait(); docs/rcu.md discusses what that
 * means for the explorer.
 */
#ifndef MMIRROR_RCUPDATE_H
#define MMIRROR_RCUPDATE_H

#include <mmirror/compiler.h>
#include <mmirror/atomic.h>

/* Sparse's marker for RCU-protected pointers: documentation only here. */
#ifndef __rcu
#define __rcu
#endif

struct rcu_head;
typedef void (*rcu_callback_t)(struct rcu_head *head);

/**
 * struct rcu_head - embed in an object to free it with call_rcu/kfree_rcu
 * @__urcu: private, liburcu's queue node and callback (its own struct
 *	rcu_head, whose size src/base/rcu.c checks at build time)
 * @func: the callback (or, for kfree_rcu, the encoded offset of the head)
 *
 * The head belongs to RCU from call_rcu() until the callback starts; the
 * callback usually frees the object that contains it.
 */
struct rcu_head {
	void *__urcu[2];
	rcu_callback_t func;
};

/* The objects passed to sched_point(SP_RCU, obj): &rcu_sp_events[event]. */
enum rcu_sp_event {
	RCU_SP_READ_LOCK,
	RCU_SP_READ_UNLOCK,
	RCU_SP_GP_START,
	RCU_SP_GP_END,
	RCU_SP_CALL_RCU,
	RCU_SP_BARRIER,
	RCU_SP__NR
};
extern const char rcu_sp_events[RCU_SP__NR];

/* Read-side nesting depth of the calling thread; use rcu_read_lock_held(). */
extern __thread unsigned int __rcu_read_nesting;

/**
 * rcu_read_lock() - enter an RCU read-side critical section
 *
 * Context: any thread; registers the thread with liburcu on first use.
 * Nests.  Never blocks (except for the one-time registration, which takes
 * liburcu's registry mutex).
 */
void rcu_read_lock(void);

/**
 * rcu_read_unlock() - leave an RCU read-side critical section
 *
 * Context: inside a section entered by rcu_read_lock() on this thread.
 * WARNs and does nothing if the thread is not in a section.
 */
void rcu_read_unlock(void);

/**
 * rcu_read_lock_held() - is the calling thread inside rcu_read_lock()?
 *
 * Return: true iff the thread's read-side nesting depth is positive.  Exact
 * (not the conservative "maybe" of a kernel without lockdep), so it can be
 * used in assertions: WARN_ON(!rcu_read_lock_held()).
 */
static inline bool rcu_read_lock_held(void)
{
	return __rcu_read_nesting != 0;
}

/**
 * synchronize_rcu() - wait for a full grace period
 *
 * Waits until every read-side critical section that had begun when it was
 * called has ended.  On return, all memory accesses of those sections
 * happen-before the caller's subsequent accesses (the caller may now free
 * what they could reach).
 *
 * Context: may sleep.  Must not be called inside a read-side section (it
 * would wait for itself) nor from a call_rcu callback: both WARN and return
 * at once without waiting.
 */
void synchronize_rcu(void);

/**
 * call_rcu() - run @func(@head) after a grace period
 * @head: the rcu_head embedded in the object; owned by RCU until @func runs
 * @func: the callback; runs on a liburcu worker thread, outside any
 *	read-side section, and must not block on a grace period
 *	(synchronize_rcu/rcu_barrier WARN there)
 *
 * Context: any thread, inside or outside a read-side section; never sleeps
 * except for the one-time registration and the creation of liburcu's
 * worker thread on first use.  Everything the caller did before call_rcu()
 * happens-before @func.  WARNs and does nothing on a NULL @head or @func.
 */
void call_rcu(struct rcu_head *head, rcu_callback_t func);

/**
 * rcu_barrier() - wait for every call_rcu callback queued so far to finish
 *
 * Unlike synchronize_rcu() this waits for callbacks, not readers: after it
 * returns, every callback queued (by any thread) before the call has run
 * to completion and its effects are visible to the caller.  Tests call it
 * before checking kmalloc_live_objects().
 *
 * Context: may sleep.  Not inside a read-side section nor from a callback
 * (WARN, returns at once).
 */
void rcu_barrier(void);

/**
 * rcu_thread_exit() - take the calling thread out of RCU now
 *
 * Unregisters the thread from liburcu if rcu_read_lock()/call_rcu()
 * registered it.  Called by the kthread exit path; threads not made by
 * kthread_run() get the same at exit from a pthread key destructor, so
 * nobody else needs to call it.  A thread that exits inside a read-side
 * section is a bug: WARN, and the section is closed so grace periods do
 * not wait forever for a dead thread.
 *
 * Context: the calling thread, outside any read-side section.  Idempotent;
 * a later rcu_read_lock() registers the thread again.
 */
void rcu_thread_exit(void);

/* kfree_rcu's back end: @offset is offsetof(object, rcu_head member). */
void __kfree_rcu(struct rcu_head *head, unsigned long offset);
#define KFREE_RCU_OFFSET_MAX 4096 /* offsets are encoded in head->func */

/**
 * kfree_rcu() - kfree(@ptr) after a grace period
 * @ptr: object from kmalloc, or NULL (nothing happens)
 * @rhf: name of the struct rcu_head member of *@ptr
 *
 * call_rcu() with a callback that kfree()s the enclosing object, without
 * writing one.  The member must lie within the first KFREE_RCU_OFFSET_MAX
 * bytes of the object (checked at build time).
 */
#define kfree_rcu(ptr, rhf)                                             \
	do {                                                            \
		__typeof__(ptr) ___p = (ptr);                           \
		BUILD_BUG_ON(offsetof(__typeof__(*(ptr)), rhf) >=       \
			     KFREE_RCU_OFFSET_MAX);                     \
		if (___p)                                               \
			__kfree_rcu(&___p->rhf,                         \
				    offsetof(__typeof__(*(ptr)), rhf)); \
	} while (0)

/*
 * Pointer publication and access.  @p is an lvalue of pointer type (the
 * RCU-protected pointer itself, not its address), as in the kernel.
 */

/**
 * rcu_dereference_check() - fetch an RCU-protected pointer for dereferencing
 * @p: the pointer (lvalue)
 * @c: extra condition under which the access is legal (e.g. "the update
 *	lock is held"); the call WARNs once if neither @c nor
 *	rcu_read_lock_held() holds
 *
 * Acquire load: pairs with the release store in rcu_assign_pointer().  The
 * kernel relies on the address dependency (memory_order_consume); C11
 * compilers implement consume as acquire, so we say acquire, which costs
 * nothing on x86 and is what ThreadSanitizer understands.
 */
#define rcu_dereference_check(p, c)                                  \
	({                                                           \
		WARN_ON_ONCE(!(c) && !rcu_read_lock_held());         \
		/* pairs with the release in rcu_assign_pointer() */ \
		__atomic_load_n(&(p), __ATOMIC_ACQUIRE);             \
	})

/* rcu_dereference(): the same, legal only inside rcu_read_lock(). */
#define rcu_dereference(p) rcu_dereference_check(p, 0)

/* rcu_dereference_raw(): no check (code with its own reason to be safe). */
#define rcu_dereference_raw(p)                               \
	/* pairs with the release in rcu_assign_pointer() */ \
	__atomic_load_n(&(p), __ATOMIC_ACQUIRE)

/**
 * rcu_dereference_protected() - fetch the pointer on the update side
 * @p: the pointer (lvalue)
 * @c: the condition that makes it stable, usually "update lock held";
 *	WARNs once if false
 *
 * A relaxed load: the caller holds whatever serializes the writers, so no
 * publication ordering is needed.
 */
#define rcu_dereference_protected(p, c)                               \
	({                                                            \
		WARN_ON_ONCE(!(c));                                   \
		/* writers are serialized by @c: no pairing needed */ \
		__atomic_load_n(&(p), __ATOMIC_RELAXED);              \
	})

/*
 * rcu_access_pointer(): the pointer's value, not to be dereferenced (NULL
 * tests, comparisons).  Relaxed; pairs with nothing.
 */
#define rcu_access_pointer(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)

/**
 * rcu_assign_pointer() - publish @v in the RCU-protected pointer @p
 *
 * Release store: everything written to *@v before is visible to a reader
 * whose rcu_dereference() (acquire) returns @v.
 */
#define rcu_assign_pointer(p, v)                                   \
	do {                                                       \
		__typeof__(p) ___v = (v);                          \
		/* pairs with the acquire in rcu_dereference*() */ \
		__atomic_store_n(&(p), ___v, __ATOMIC_RELEASE);    \
	} while (0)

/*
 * RCU_INIT_POINTER(): store without ordering, for NULL or for a pointer to
 * something readers cannot reach yet (initialization before publication).
 */
#define RCU_INIT_POINTER(p, v)                                  \
	do {                                                    \
		__typeof__(p) ___v = (v);                       \
		__atomic_store_n(&(p), ___v, __ATOMIC_RELAXED); \
	} while (0)

/**
 * rcu_replace_pointer() - publish @v in @p and return the old value
 * @c: the update-side condition, as for rcu_dereference_protected()
 */
#define rcu_replace_pointer(p, v, c)                                    \
	({                                                              \
		__typeof__(p) ___old = rcu_dereference_protected(p, c); \
		rcu_assign_pointer(p, v);                               \
		___old;                                                 \
	})

#endif /* MMIRROR_RCUPDATE_H */
