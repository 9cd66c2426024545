/* SPDX-License-Identifier: MIT */
/*
 * check_hooks.h - how the host MMU feeds the coherence oracle without
 * knowing it exists.
 *
 * src/check sits above src/mm, src/notifier and src/gup (DESIGN.md): they
 * may not include it.  So the oracle is reached through one table of
 * function pointers defined here, at the bottom, and installed by
 * check_enable() (src/check/hooks.c):
 *
 *	check_hooks     NULL while the oracle is off; else the oracle's
 *	                table.  Written with smp_store_release() by
 *	                check_enable()/check_disable(), read once per hook
 *	                site with smp_load_acquire() (check_hooks_get()), so
 *	                a hook that sees the table sees the oracle's state
 *	                initialised.  The table and the state behind it are
 *	                never freed: a hook that loaded the pointer just
 *	                before check_disable() may still run, harmlessly.
 *
 * Cost when off: every hook site is one load and one predicted branch
 * (the static inline wrappers below).  The benchmarks run that way.
 *
 * Non-blockable callbacks: src/notifier raises this thread's nonblock
 * depth around the callbacks of a range that may not sleep
 * (mmu_notifier_range_blockable() false: the OOM reaper).  The sleeping
 * primitives of src/base call might_sleep(), which reports a protocol
 * violation when the depth is non-zero.  The depth is per thread and is
 * maintained whether or not the oracle is on (it is only touched on the
 * non-blockable path, which is rare).
 *
 * Context of every hook: whatever the host holds at that site (PTE locks,
 * a CPU's tlb_lock, mmap_lock, driver spinlocks in callbacks).  So every
 * hook takes only the oracle's own leaf locks and never sleeps; see
 * docs/check.md for the full lock order.
 */
#ifndef MMIRROR_BASE_CHECK_HOOKS_H
#define MMIRROR_BASE_CHECK_HOOKS_H

#include <mmirror/atomic.h>
#include <mmirror/compiler.h>

struct mm_struct;
struct page;
struct mmu_notifier_range;

struct check_hooks {
	/* src/notifier: __mmu_notifier_invalidate_range_start() begins. */
	void (*inv_begin)(const struct mmu_notifier_range *range);
	/* ... returns @ret (0: every callback done, the range is live). */
	void (*inv_started)(const struct mmu_notifier_range *range, int ret);
	/* __mmu_notifier_invalidate_range_end() begins. */
	void (*inv_end)(const struct mmu_notifier_range *range);
	/* A notifier callback of subscription @sub is about to be called. */
	void (*callback)(const void *sub, const char *what);
	/* @sub was registered/inserted (@live) or unregistered/removed. */
	void (*sub_state)(const void *sub, bool live);
	/* A sleeping primitive inside a non-blockable callback. */
	void (*might_sleep)(const char *what);

	/* src/mm: a block of 2^@order frames is being freed (gen not yet
	 * bumped). */
	void (*page_free)(struct page *page, unsigned int order);
	/* Copy @src's bytes into @dst (COW, fork of a pinned page): the
	 * oracle does the copy itself, with the shadow. */
	void (*copy_page)(struct page *dst, struct page *src);
	/* A CPU of @mm moves @len bytes at @va through frame @pfn; the
	 * oracle does the move itself (@word: one aligned u64). */
	void (*cpu_access)(struct mm_struct *mm, unsigned long va,
			   unsigned long pfn, char *buf, size_t len, bool write,
			   bool word);
	/* Swap-out: copy @page's bytes into @buf, the content of swap slot
	 * @slot; the oracle moves the frame's shadow to the slot. */
	void (*swap_write)(struct page *page, unsigned long slot, void *buf);
	/* Swap-in: copy @buf (slot @slot) into @page, shadow included. */
	void (*swap_read)(struct page *page, unsigned long slot,
			  const void *buf);
	/* Slot @slot is free: its content (and shadow) is gone. */
	void (*swap_free)(unsigned long slot);
	/* @mm's struct is being freed (last mmdrop). */
	void (*mm_free)(struct mm_struct *mm);

	/* src/gup: unpinning @n pins of @head would go below zero. */
	void (*unpin_underflow)(struct page *head, int n);
	/* GUP-fast grabbed @page at @addr; @gen was its generation when the
	 * leaf entry was read. */
	void (*gup_fast_grabbed)(struct page *page, unsigned long addr,
				 unsigned long gen);
};

/* Written by check_enable()/check_disable() only (smp_store_release). */
extern const struct check_hooks *check_hooks;

/**
 * check_hooks_get() - the oracle's hook table, or NULL when it is off.
 *
 * Context: any.  Return: the table; callers test it with unlikely().
 */
static inline const struct check_hooks *check_hooks_get(void)
{
	/* Pairs with smp_store_release() in check_hooks_install(). */
	return smp_load_acquire(&check_hooks);
}

/**
 * check_hooks_install() - publish @hooks (NULL: the oracle is off).
 * @hooks: a table that lives for the rest of the process, or NULL.
 *
 * Context: any; src/check only.
 */
void check_hooks_install(const struct check_hooks *hooks);

/* --- non-blockable callbacks --------------------------------------------- */

/*
 * This thread's depth of non-blockable callback sections, and the range
 * of the innermost one (for the report).  Thread-local: no ordering.
 */
extern __thread int check_nonblock_depth;
extern __thread const struct mmu_notifier_range *check_nonblock_range;

static inline void check_nonblock_enter(const struct mmu_notifier_range *range)
{
	check_nonblock_depth++;
	check_nonblock_range = range;
}

static inline void check_nonblock_exit(void)
{
	if (!--check_nonblock_depth)
		check_nonblock_range = NULL;
}

/**
 * might_sleep() - the caller is about to sleep (or may): report it if
 * this thread is inside a non-blockable notifier callback.
 * @what: the primitive, for the report ("mutex_lock", ...).
 *
 * Context: any.  Trylocks do not call it: they never sleep.
 */
static inline void might_sleep_named(const char *what)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h) && check_nonblock_depth)
		h->might_sleep(what);
}
#define might_sleep() might_sleep_named(__func__)

/* --- the wrappers the hook sites use ----------------------------------- */

static inline void check_hook_callback(const void *sub, const char *what)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->callback(sub, what);
}

static inline void check_hook_sub_state(const void *sub, bool live)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->sub_state(sub, live);
}

/* GUP-fast: the generation to compare later, or ~0UL when off. */
static inline unsigned long check_gup_fast_gen(const unsigned long *genp)
{
	if (likely(!check_hooks_get()))
		return ~0UL;
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	return READ_ONCE(*genp);
}

static inline void check_hook_gup_fast(struct page *page, unsigned long addr,
				       unsigned long gen)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h) && gen != ~0UL)
		h->gup_fast_grabbed(page, addr, gen);
}

static inline void check_hook_inv_begin(const struct mmu_notifier_range *range)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->inv_begin(range);
}

static inline void
check_hook_inv_started(const struct mmu_notifier_range *range, int ret)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->inv_started(range, ret);
}

static inline void check_hook_inv_end(const struct mmu_notifier_range *range)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->inv_end(range);
}

static inline void check_hook_page_free(struct page *page, unsigned int order)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->page_free(page, order);
}

/* True if the oracle copied the page (the caller must not copy again). */
static inline bool check_hook_copy_page(struct page *dst, struct page *src)
{
	const struct check_hooks *h = check_hooks_get();

	if (likely(!h))
		return false;
	h->copy_page(dst, src);
	return true;
}

/* True if the oracle moved the bytes (the caller must not move them). */
static inline bool check_hook_cpu_access(struct mm_struct *mm, unsigned long va,
					 unsigned long pfn, char *buf,
					 size_t len, bool write, bool word)
{
	const struct check_hooks *h = check_hooks_get();

	if (likely(!h))
		return false;
	h->cpu_access(mm, va, pfn, buf, len, write, word);
	return true;
}

/* True if the oracle moved the bytes (the caller must not move them). */
static inline bool check_hook_swap_write(struct page *page, unsigned long slot,
					 void *buf)
{
	const struct check_hooks *h = check_hooks_get();

	if (likely(!h))
		return false;
	h->swap_write(page, slot, buf);
	return true;
}

static inline bool check_hook_swap_read(struct page *page, unsigned long slot,
					const void *buf)
{
	const struct check_hooks *h = check_hooks_get();

	if (likely(!h))
		return false;
	h->swap_read(page, slot, buf);
	return true;
}

/* Slot shadows made while the oracle was on are dropped wholesale by
 * check_disable(), so a free while it is off needs no hook. */
static inline void check_hook_swap_free(unsigned long slot)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->swap_free(slot);
}

static inline void check_hook_mm_free(struct mm_struct *mm)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->mm_free(mm);
}

static inline void check_hook_unpin_underflow(struct page *head, int n)
{
	const struct check_hooks *h = check_hooks_get();

	if (unlikely(h))
		h->unpin_underflow(head, n);
}

#endif /* MMIRROR_BASE_CHECK_HOOKS_H */
