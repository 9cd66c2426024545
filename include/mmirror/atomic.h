/* SPDX-License-Identifier: MIT */
/*
 * atomic.h - kernel memory-model vocabulary on the C11 model.
 *
 * READ_ONCE/WRITE_ONCE are relaxed atomic accesses (__atomic builtins, the
 * same memory model as <stdatomic.h> but usable on plain, non-_Atomic
 * objects, which is how the kernel uses them: any page-table word or flag
 * can be read once).  They forbid tearing, fusing and re-reading; they give
 * no ordering.  Ordering comes from smp_load_acquire/smp_store_release, the
 * value-returning RMWs (fully ordered, as in the kernel) and the barriers.
 *
 * Pairing rule (DESIGN.md): every READ_ONCE of shared state names, in a
 * comment beside it, the WRITE_ONCE / RMW it pairs with.
 *
 * Every RMW on shared state calls sched_point() first so the explorer can
 * preempt there; plain READ_ONCE/WRITE_ONCE do not (page-table entry
 * accessors add their own point, see pgtable.h).
 */
#ifndef MMIRROR_ATOMIC_H
#define MMIRROR_ATOMIC_H

#include <stdatomic.h>
#include <mmirror/compiler.h>
#include <mmirror/sched_point.h>

#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#define barrier() __asm__ __volatile__("" ::: "memory")
#define smp_mb() atomic_thread_fence(memory_order_seq_cst)
#define smp_rmb() atomic_thread_fence(memory_order_acquire)
#define smp_wmb() atomic_thread_fence(memory_order_release)
/* RMWs below are already fully ordered; these exist for the kernel idiom. */
#define smp_mb__before_atomic() smp_mb()
#define smp_mb__after_atomic() smp_mb()

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	barrier();
#endif
}

/*
 * cmpxchg(ptr, old, new): returns the value found; it stored @new iff that
 * equals @old.  Fully ordered on success and failure (kernel semantics).
 */
#define cmpxchg(ptr, old, new)                                           \
	({                                                               \
		__typeof__(*(ptr)) __old = (old);                        \
		sched_point(SP_ATOMIC, (ptr));                           \
		__atomic_compare_exchange_n((ptr), &__old, (new), false, \
					    __ATOMIC_SEQ_CST,            \
					    __ATOMIC_SEQ_CST);           \
		__old;                                                   \
	})

/* try_cmpxchg: bool result; on failure *oldp is updated to what was found. */
#define try_cmpxchg(ptr, oldp, new)                                      \
	({                                                               \
		sched_point(SP_ATOMIC, (ptr));                           \
		__atomic_compare_exchange_n((ptr), (oldp), (new), false, \
					    __ATOMIC_SEQ_CST,            \
					    __ATOMIC_SEQ_CST);           \
	})

#define xchg(ptr, v)                                               \
	({                                                         \
		sched_point(SP_ATOMIC, (ptr));                     \
		__atomic_exchange_n((ptr), (v), __ATOMIC_SEQ_CST); \
	})

/*
 * atomic_t / atomic_long_t, kernel API.  Non-returning ops are relaxed,
 * value-returning ops are fully ordered, as in the kernel.  (Names that
 * <stdatomic.h> already owns, like atomic_fetch_add, are not redefined.)
 */
typedef struct {
	int counter;
} atomic_t;
typedef struct {
	long counter;
} atomic_long_t;

#define ATOMIC_INIT(i) \
	{              \
		(i)    \
	}

#define __MMIRROR_ATOMIC_OPS(pfx, T, V)                                       \
	static inline V pfx##_read(const T *v)                                \
	{                                                                     \
		return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);        \
	}                                                                     \
	static inline void pfx##_set(T *v, V i)                               \
	{                                                                     \
		__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);           \
	}                                                                     \
	static inline V pfx##_read_acquire(const T *v)                        \
	{                                                                     \
		return __atomic_load_n(&v->counter, __ATOMIC_ACQUIRE);        \
	}                                                                     \
	static inline void pfx##_set_release(T *v, V i)                       \
	{                                                                     \
		__atomic_store_n(&v->counter, i, __ATOMIC_RELEASE);           \
	}                                                                     \
	static inline void pfx##_add(V i, T *v)                               \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		__atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);         \
	}                                                                     \
	static inline void pfx##_sub(V i, T *v)                               \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);         \
	}                                                                     \
	static inline void pfx##_inc(T *v)                                    \
	{                                                                     \
		pfx##_add(1, v);                                              \
	}                                                                     \
	static inline void pfx##_dec(T *v)                                    \
	{                                                                     \
		pfx##_sub(1, v);                                              \
	}                                                                     \
	static inline V pfx##_add_return(V i, T *v)                           \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);  \
	}                                                                     \
	static inline V pfx##_sub_return(V i, T *v)                           \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);  \
	}                                                                     \
	static inline V pfx##_inc_return(T *v)                                \
	{                                                                     \
		return pfx##_add_return(1, v);                                \
	}                                                                     \
	static inline V pfx##_dec_return(T *v)                                \
	{                                                                     \
		return pfx##_sub_return(1, v);                                \
	}                                                                     \
	static inline bool pfx##_dec_and_test(T *v)                           \
	{                                                                     \
		return pfx##_sub_return(1, v) == 0;                           \
	}                                                                     \
	static inline bool pfx##_inc_and_test(T *v)                           \
	{                                                                     \
		return pfx##_add_return(1, v) == 0;                           \
	}                                                                     \
	static inline V pfx##_xchg(T *v, V i)                                 \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		return __atomic_exchange_n(&v->counter, i, __ATOMIC_SEQ_CST); \
	}                                                                     \
	static inline V pfx##_cmpxchg(T *v, V old, V new)                     \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		__atomic_compare_exchange_n(&v->counter, &old, new, false,    \
					    __ATOMIC_SEQ_CST,                 \
					    __ATOMIC_SEQ_CST);                \
		return old;                                                   \
	}                                                                     \
	static inline bool pfx##_try_cmpxchg(T *v, V *old, V new)             \
	{                                                                     \
		sched_point(SP_ATOMIC, v);                                    \
		return __atomic_compare_exchange_n(&v->counter, old, new,     \
						   false, __ATOMIC_SEQ_CST,   \
						   __ATOMIC_SEQ_CST);         \
	}                                                                     \
	/* Add @a unless the value is @u; true if it added. */                \
	static inline bool pfx##_add_unless(T *v, V a, V u)                   \
	{                                                                     \
		V c = pfx##_read(v);                                          \
		do {                                                          \
			if (c == u)                                           \
				return false;                                 \
		} while (!pfx##_try_cmpxchg(v, &c, c + a));                   \
		return true;                                                  \
	}                                                                     \
	static inline bool pfx##_inc_not_zero(T *v)                           \
	{                                                                     \
		return pfx##_add_unless(v, 1, 0);                             \
	}

__MMIRROR_ATOMIC_OPS(atomic, atomic_t, int)
__MMIRROR_ATOMIC_OPS(atomic_long, atomic_long_t, long)

/*
 * Bit operations on unsigned long words (page flags).  set_bit/clear_bit are
 * atomic and relaxed; test_and_* are fully ordered; the __ forms are
 * non-atomic, for words nobody else can see yet.
 */
#define BITS_PER_LONG 64
#define BIT(n) (1UL << (n))

static inline bool test_bit(long nr, const unsigned long *addr)
{
	return (__atomic_load_n(addr, __ATOMIC_RELAXED) >> nr) & 1;
}
static inline void set_bit(long nr, unsigned long *addr)
{
	sched_point(SP_ATOMIC, addr);
	__atomic_fetch_or(addr, BIT(nr), __ATOMIC_RELAXED);
}
static inline void clear_bit(long nr, unsigned long *addr)
{
	sched_point(SP_ATOMIC, addr);
	__atomic_fetch_and(addr, ~BIT(nr), __ATOMIC_RELAXED);
}
static inline bool test_and_set_bit(long nr, unsigned long *addr)
{
	sched_point(SP_ATOMIC, addr);
	return __atomic_fetch_or(addr, BIT(nr), __ATOMIC_SEQ_CST) & BIT(nr);
}
static inline bool test_and_clear_bit(long nr, unsigned long *addr)
{
	sched_point(SP_ATOMIC, addr);
	return __atomic_fetch_and(addr, ~BIT(nr), __ATOMIC_SEQ_CST) & BIT(nr);
}
/* Unlock-style clear: release ordering, pairs with test_and_set_bit. */
static inline void clear_bit_unlock(long nr, unsigned long *addr)
{
	sched_point(SP_ATOMIC, addr);
	__atomic_fetch_and(addr, ~BIT(nr), __ATOMIC_RELEASE);
}
static inline void __set_bit(long nr, unsigned long *addr)
{
	*addr |= BIT(nr);
}
static inline void __clear_bit(long nr, unsigned long *addr)
{
	*addr &= ~BIT(nr);
}

#endif /* MMIRROR_ATOMIC_H */
