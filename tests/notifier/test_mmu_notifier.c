// SPDX-License-Identifier: MIT
/*
 * Whole-mm mmu notifiers: registration and its errors, every callback of
 * several subscribers with the range, event and flags they were given and
 * in list order, ->release exactly once (at exit or at unregister,
 * whichever comes first), get/put sharing with free_notifier after a grace
 * period (and never inside a callback), the non-blockable failure path
 * (-EAGAIN only when not blockable; subscribers that had started get their
 * end; the interval part is ended too), the aging callbacks, the
 * end-without-start check, and a real-thread stress test in which threads
 * hammer the hooks while subscriptions come and go and every callback
 * checks that its subscription has not been retired (ASan: no use after
 * free; TSan: no race; plain build: the poison flag).  Every test ends
 * with leak checks (kmalloc_live_objects, mm_live_count, no warnings).
 */
#include <limits.h>
#include <sched.h>
#include "test_util.h"
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/rcupdate.h>
#include <mmirror/slab.h>
#include "notifier/internal.h"

static unsigned long warns_before;
static long objs_before, mms_before;

static int setup(void **state)
{
	objs_before = kmalloc_live_objects();
	mms_before = mm_live_count();
	warns_before = mm_warn_count();
	return 0;
}

static int teardown(void **state)
{
	fault_inject_off();
	mm_warn_set_quiet(false);
	rcu_barrier(); /* pending call_rcu frees */
	assert_int_equal(mm_live_count(), mms_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
	assert_int_equal(mm_warn_count(), warns_before);
	return 0;
}

#define PG 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON_PRIV (MAP_ANONYMOUS | MAP_PRIVATE)

/* ---- a recording subscriber --------------------------------------------- */

enum ev_kind { EV_RELEASE, EV_START, EV_END, EV_ARCH, EV_CFY, EV_CY, EV_TY };

struct ev {
	int id;
	enum ev_kind kind;
	const struct mmu_notifier_range *range; /* start/end: the pointer */
	struct mm_struct *mm;
	unsigned long start, end;
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner;
};

#define MAX_EV 256
static struct ev evlog[MAX_EV];
static int nev;

struct rec_sub {
	struct mmu_notifier mn;
	int id;
	int start_err; /* returned by start (see fail_blockable) */
	bool fail_blockable; /* also fail a blockable range */
	int young; /* returned by the aging callbacks */
	int nr[EV_TY + 1];
};

static struct rec_sub *to_rec(struct mmu_notifier *mn)
{
	return container_of(mn, struct rec_sub, mn);
}

static struct ev *rec_log(struct mmu_notifier *mn, enum ev_kind kind)
{
	struct rec_sub *r = to_rec(mn);
	struct ev *e;

	r->nr[kind]++;
	assert_true(nev < MAX_EV);
	e = &evlog[nev++];
	memset(e, 0, sizeof(*e));
	e->id = r->id;
	e->kind = kind;
	return e;
}

static void log_range(struct ev *e, const struct mmu_notifier_range *range)
{
	e->range = range;
	e->mm = range->mm;
	e->start = range->start;
	e->end = range->end;
	e->flags = range->flags;
	e->event = range->event;
	e->owner = range->owner;
}

static void rec_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	assert_true(rcu_read_lock_held());
	rec_log(mn, EV_RELEASE)->mm = mm;
}

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	struct rec_sub *r = to_rec(mn);

	assert_true(rcu_read_lock_held());
	log_range(rec_log(mn, EV_START), range);
	if (r->start_err &&
	    (r->fail_blockable || !mmu_notifier_range_blockable(range)))
		return r->start_err;
	return 0;
}

static void rec_end(struct mmu_notifier *mn,
		    const struct mmu_notifier_range *range)
{
	assert_true(rcu_read_lock_held());
	log_range(rec_log(mn, EV_END), range);
}

static void rec_arch(struct mmu_notifier *mn, struct mm_struct *mm,
		     unsigned long start, unsigned long end)
{
	struct ev *e = rec_log(mn, EV_ARCH);

	e->mm = mm;
	e->start = start;
	e->end = end;
}

static int rec_cfy(struct mmu_notifier *mn, struct mm_struct *mm,
		   unsigned long start, unsigned long end)
{
	struct ev *e = rec_log(mn, EV_CFY);

	e->mm = mm;
	e->start = start;
	e->end = end;
	return to_rec(mn)->young;
}

static int rec_cy(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long start, unsigned long end)
{
	struct ev *e = rec_log(mn, EV_CY);

	e->mm = mm;
	e->start = start;
	e->end = end;
	return to_rec(mn)->young;
}

static int rec_ty(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long address)
{
	struct ev *e = rec_log(mn, EV_TY);

	e->mm = mm;
	e->start = address;
	return to_rec(mn)->young;
}

static const struct mmu_notifier_ops rec_ops = {
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
	.arch_invalidate_secondary_tlbs = rec_arch,
	.clear_flush_young = rec_cfy,
	.clear_young = rec_cy,
	.test_young = rec_ty,
};

static void rec_init(struct rec_sub *r, int id)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->mn.ops = &rec_ops;
}

static void log_reset(void)
{
	nev = 0;
}

static void assert_ev(int i, int id, enum ev_kind kind)
{
	assert_true(i < nev);
	assert_int_equal(evlog[i].id, id);
	assert_int_equal(evlog[i].kind, kind);
}

static struct mm_struct *new_mm(void)
{
	struct mm_struct *mm = mm_alloc();

	assert_false(IS_ERR(mm));
	return mm;
}

/* ---- registration ------------------------------------------------------- */

static void test_register_errors(void **state)
{
	struct mm_struct *mm = new_mm();
	struct rec_sub a, b;
	struct mmu_notifier bare = { .ops = NULL };
	unsigned long w = mm_warn_count();

	rec_init(&a, 1);
	rec_init(&b, 2);

	/* Misuse is refused loudly. */
	mm_warn_set_quiet(true);
	assert_int_equal(mmu_notifier_register(NULL, mm), -EINVAL);
	assert_int_equal(mmu_notifier_register(&a.mn, NULL), -EINVAL);
	assert_int_equal(mmu_notifier_register(&bare, mm), -EINVAL);
	assert_int_equal(mm_warn_count(), w + 3);
	mm_warn_set_quiet(false);
	/* Nothing was published by the failures. */
	assert_false(mm_has_notifiers(mm));

	/* -ENOMEM: the first registration allocates the per-mm state. */
	fault_inject_nth(1);
	assert_int_equal(mmu_notifier_register(&a.mn, mm), -ENOMEM);
	assert_false(mm_has_notifiers(mm));
	assert_int_equal(atomic_read(&mm->mm_count), 1);

	assert_int_equal(mmu_notifier_register(&a.mn, mm), 0);
	assert_true(mm_has_notifiers(mm));
	assert_ptr_equal(a.mn.mm, mm);
	assert_int_equal(atomic_read(&mm->mm_count), 2); /* mmgrab */

	/* Twice on the same mm: -EINVAL, nothing changed. */
	mm_warn_set_quiet(true);
	assert_int_equal(mmu_notifier_register(&a.mn, mm), -EINVAL);
	assert_int_equal(mm_warn_count(), w + 4);
	/* Unregister from an mm it is not registered on. */
	mmu_notifier_unregister(&b.mn, mm);
	assert_int_equal(mm_warn_count(), w + 5);
	/* The _locked form, with mmap_lock held for write. */
	b.mn.ops = &rec_ops;
	mmap_write_lock(mm);
	assert_int_equal(__mmu_notifier_register(&b.mn, mm), 0);
	mmap_write_unlock(mm);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 5);
	assert_int_equal(atomic_read(&mm->mm_count), 3);

	mmu_notifier_unregister(&a.mn, mm);
	mmu_notifier_unregister(&b.mn, mm);
	assert_int_equal(a.nr[EV_RELEASE], 1);
	assert_int_equal(b.nr[EV_RELEASE], 1);
	assert_int_equal(atomic_read(&mm->mm_count), 1);

	/* An mm whose last user has gone (its struct still held). */
	mmgrab(mm);
	mm_exit(mm);
	assert_int_equal(mmu_notifier_register(&a.mn, mm), -EINVAL);
	mmap_write_lock(mm);
	assert_int_equal(__mmu_notifier_register(&b.mn, mm), -EINVAL);
	mmap_write_unlock(mm);
	assert_int_equal(a.nr[EV_RELEASE], 1);
	mmdrop(mm);
	warns_before += 5;
}

/* A fresh mm has no subscriptions: the wrappers do nothing. */
static void test_no_subscriptions(void **state)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;

	assert_false(mm_has_notifiers(mm));
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, 0, PG);
	mmu_notifier_invalidate_range_start(&range);
	assert_int_equal(range.flags, 0); /* not even touched */
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(mmu_notifier_invalidate_range_start_nonblock(&range),
			 0);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);
	assert_int_equal(mmu_notifier_clear_flush_young(mm, 0, PG), 0);
	assert_int_equal(mmu_notifier_clear_young(mm, 0, PG), 0);
	assert_int_equal(mmu_notifier_test_young(mm, 0), 0);
	mmu_notifier_release(mm);
	assert_null(mm->notifier_subscriptions);
	mm_exit(mm);
}

/* ---- callbacks ---------------------------------------------------------- */

static void test_callbacks(void **state)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier_range range;
	struct rec_sub s[3];
	int owner_tag;

	for (int i = 0; i < 3; i++) {
		rec_init(&s[i], i);
		assert_int_equal(mmu_notifier_register(&s[i].mn, mm), 0);
	}

	/* Blockable start/end through the wrappers: every subscriber, most
	 * recently registered first, with the caller's range. */
	log_reset();
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_MIGRATE, 0, mm,
				      0x10000, 0x30000, &owner_tag);
	mmu_notifier_invalidate_range_start(&range);
	assert_int_equal(nev, 3);
	for (int i = 0; i < 3; i++) {
		assert_ev(i, 2 - i, EV_START);
		assert_ptr_equal(evlog[i].range, &range);
		assert_ptr_equal(evlog[i].mm, mm);
		assert_int_equal(evlog[i].start, 0x10000);
		assert_int_equal(evlog[i].end, 0x30000);
		assert_int_equal(evlog[i].event, MMU_NOTIFY_MIGRATE);
		assert_int_equal(evlog[i].flags, MMU_NOTIFIER_RANGE_BLOCKABLE);
		assert_ptr_equal(evlog[i].owner, &owner_tag);
	}
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(nev, 6);
	for (int i = 3; i < 6; i++) {
		assert_ev(i, 5 - i, EV_END);
		assert_ptr_equal(evlog[i].range, &range);
		assert_int_equal(evlog[i].flags, MMU_NOTIFIER_RANGE_BLOCKABLE);
	}

	/* Non-blockable: the flag is cleared and the subscribers see it. */
	log_reset();
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP,
				MMU_NOTIFIER_RANGE_BLOCKABLE, mm, 0, PG);
	mmap_read_lock(mm); /* as the OOM reaper holds it */
	assert_int_equal(mmu_notifier_invalidate_range_start_nonblock(&range),
			 0);
	mmu_notifier_invalidate_range_end(&range);
	mmap_read_unlock(mm);
	assert_int_equal(nev, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(evlog[i].flags, 0);
		assert_int_equal(evlog[i].event, MMU_NOTIFY_UNMAP);
		assert_int_equal(evlog[i].end, PG);
	}

	/* Concurrent (interleaved) ranges are allowed. */
	{
		struct mmu_notifier_range r2;

		log_reset();
		mmu_notifier_range_init(&r2, MMU_NOTIFY_CLEAR, 0, mm, PG,
					2 * PG);
		mmu_notifier_invalidate_range_start(&range);
		mmu_notifier_invalidate_range_start(&r2);
		mmu_notifier_invalidate_range_end(&range);
		mmu_notifier_invalidate_range_end(&r2);
		assert_int_equal(nev, 12);
		assert_ptr_equal(evlog[11].range, &r2);
		assert_int_equal(evlog[11].event, MMU_NOTIFY_CLEAR);
	}

	/* Secondary TLBs. */
	log_reset();
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0x5000, 0x9000);
	assert_int_equal(nev, 3);
	for (int i = 0; i < 3; i++) {
		assert_ev(i, 2 - i, EV_ARCH);
		assert_ptr_equal(evlog[i].mm, mm);
		assert_int_equal(evlog[i].start, 0x5000);
		assert_int_equal(evlog[i].end, 0x9000);
	}

	/* An unregistered subscriber is no longer called. */
	mmu_notifier_unregister(&s[1].mn, mm);
	log_reset();
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(nev, 4);
	assert_ev(0, 2, EV_START);
	assert_ev(1, 0, EV_START);
	assert_ev(2, 2, EV_END);
	assert_ev(3, 0, EV_END);
	assert_int_equal(s[1].nr[EV_RELEASE], 1);

	/* A subscription without callbacks is simply skipped. */
	{
		static const struct mmu_notifier_ops empty_ops;
		struct mmu_notifier e = { .ops = &empty_ops };

		assert_int_equal(mmu_notifier_register(&e, mm), 0);
		log_reset();
		mmu_notifier_invalidate_range_start(&range);
		mmu_notifier_invalidate_range_end(&range);
		assert_int_equal(mmu_notifier_test_young(mm, 0), 0);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);
		assert_int_equal(nev, 4 + 2 + 2);
		mmu_notifier_unregister(&e, mm);
	}

	mmu_notifier_unregister(&s[0].mn, mm);
	mmu_notifier_unregister(&s[2].mn, mm);
	for (int i = 0; i < 3; i++)
		assert_int_equal(s[i].nr[EV_RELEASE], 1);
	mm_exit(mm);
}

/* ---- release: exactly once ---------------------------------------------- */

static void test_release_at_exit(void **state)
{
	struct mm_struct *mm = new_mm();
	struct rec_sub a, b;
	long addr;

	rec_init(&a, 1);
	rec_init(&b, 2);
	addr = vm_mmap(mm, 0, 16 * PG, RW, ANON_PRIV | MAP_POPULATE);
	assert_false(IS_ERR_VALUE(addr));
	assert_int_equal(mmu_notifier_register(&a.mn, mm), 0);
	assert_int_equal(mmu_notifier_register(&b.mn, mm), 0);

	/* The last user goes: ->release of each, once, before teardown;
	 * after it no callback (the exit zap does not reach them). */
	log_reset();
	mm_exit(mm);
	assert_int_equal(nev, 2);
	assert_ev(0, 2, EV_RELEASE);
	assert_ev(1, 1, EV_RELEASE);
	assert_ptr_equal(evlog[0].mm, mm);
	/* Still allocated: our subscriptions hold it. */
	assert_int_equal(mm_live_count(), mms_before + 1);
	assert_int_equal(atomic_read(&mm->mm_count), 2);

	/* Hooks on the dead mm reach nobody. */
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);
	assert_int_equal(nev, 2);

	/* Unregister after exit: no second release. */
	mmu_notifier_unregister(&a.mn, mm);
	assert_int_equal(a.nr[EV_RELEASE], 1);
	assert_int_equal(mm_live_count(), mms_before + 1);
	mmu_notifier_unregister(&b.mn, mm); /* frees the mm */
	assert_int_equal(b.nr[EV_RELEASE], 1);
	assert_int_equal(nev, 2);
}

static void test_release_at_unregister(void **state)
{
	struct mm_struct *mm = new_mm();
	struct rec_sub a, b;
	long addr;

	rec_init(&a, 1);
	rec_init(&b, 2);
	addr = vm_mmap(mm, 0, 16 * PG, RW, ANON_PRIV | MAP_POPULATE);
	assert_false(IS_ERR_VALUE(addr));
	assert_int_equal(mmu_notifier_register(&a.mn, mm), 0);
	assert_int_equal(mmu_notifier_register(&b.mn, mm), 0);

	log_reset();
	mmu_notifier_unregister(&a.mn, mm);
	assert_int_equal(nev, 1);
	assert_ev(0, 1, EV_RELEASE);
	assert_ptr_equal(evlog[0].mm, mm);

	/* Exit: only b is released; a sees nothing more. */
	mm_exit(mm);
	assert_int_equal(a.nr[EV_RELEASE], 1);
	assert_int_equal(b.nr[EV_RELEASE], 1);
	assert_int_equal(nev, 2);
	assert_ev(1, 2, EV_RELEASE);
	for (int k = EV_START; k <= EV_TY; k++)
		assert_int_equal(a.nr[k], 0);
	mmu_notifier_unregister(&b.mn, mm);
	assert_int_equal(b.nr[EV_RELEASE], 1);
}

/* Re-registering after unregister is a new subscription: a new release. */
static void test_reregister(void **state)
{
	struct mm_struct *mm = new_mm();
	struct rec_sub a;

	rec_init(&a, 1);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(mmu_notifier_register(&a.mn, mm), 0);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);
		mmu_notifier_unregister(&a.mn, mm);
		assert_int_equal(a.nr[EV_RELEASE], i);
		assert_int_equal(a.nr[EV_ARCH], i);
	}
	assert_int_equal(mmu_notifier_register(&a.mn, mm), 0);
	mm_exit(mm);
	assert_int_equal(a.nr[EV_RELEASE], 4);
	mmu_notifier_unregister(&a.mn, mm);
	assert_int_equal(a.nr[EV_RELEASE], 4);
}

/* ---- get / put ---------------------------------------------------------- */

struct shared_sub {
	struct mmu_notifier mn;
	int tag;
	bool put_in_release;
};

static long nr_alloc, nr_free; /* free_notifier runs on the RCU thread */
static bool in_callback;
static int alloc_mode; /* 0 ok, 1 NULL, 2 ERR_PTR(-EIO) */

static struct mmu_notifier *shared_alloc(struct mm_struct *mm)
{
	struct shared_sub *s;

	if (alloc_mode == 1)
		return NULL;
	if (alloc_mode == 2)
		return ERR_PTR(-EIO);
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	__atomic_fetch_add(&nr_alloc, 1, __ATOMIC_RELAXED);
	return &s->mn;
}

static void shared_free(struct mmu_notifier *mn)
{
	/* Never synchronously inside a callback or inside put(). */
	CHECK(!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE));
	kfree(container_of(mn, struct shared_sub, mn));
	__atomic_fetch_add(&nr_free, 1, __ATOMIC_RELEASE);
}

static void shared_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct shared_sub *s = container_of(mn, struct shared_sub, mn);

	s->tag++;
	if (s->put_in_release) {
		__atomic_store_n(&in_callback, true, __ATOMIC_RELEASE);
		mmu_notifier_put(mn);
		__atomic_store_n(&in_callback, false, __ATOMIC_RELEASE);
	}
}

static void shared_arch(struct mmu_notifier *mn, struct mm_struct *mm,
			unsigned long start, unsigned long end)
{
	container_of(mn, struct shared_sub, mn)->tag += 100;
}

static const struct mmu_notifier_ops shared_ops = {
	.release = shared_release,
	.arch_invalidate_secondary_tlbs = shared_arch,
	.alloc_notifier = shared_alloc,
	.free_notifier = shared_free,
};
static const struct mmu_notifier_ops shared_ops2 = {
	.alloc_notifier = shared_alloc,
	.free_notifier = shared_free,
};

static long frees(void)
{
	return __atomic_load_n(&nr_free, __ATOMIC_ACQUIRE);
}

static void test_get_put(void **state)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier *a, *b, *c;
	long f0 = frees(), a0 = nr_alloc;

	a = mmu_notifier_get(&shared_ops, mm);
	assert_false(IS_ERR(a));
	b = mmu_notifier_get(&shared_ops, mm);
	assert_ptr_equal(a, b); /* one per ops per mm */
	assert_int_equal(a->users, 2);
	c = mmu_notifier_get(&shared_ops2, mm);
	assert_false(IS_ERR(c));
	assert_ptr_not_equal(a, c);
	assert_int_equal(nr_alloc, a0 + 2);
	assert_int_equal(atomic_read(&mm->mm_count), 3);

	/* The _locked form finds the same one. */
	mmap_write_lock(mm);
	b = mmu_notifier_get_locked(&shared_ops, mm);
	mmap_write_unlock(mm);
	assert_ptr_equal(a, b);
	assert_int_equal(a->users, 3);
	mmu_notifier_put(b);
	mmu_notifier_put(b);
	assert_int_equal(a->users, 1);

	/* Still subscribed after a non-final put. */
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);
	assert_int_equal(container_of(a, struct shared_sub, mn)->tag, 100);

	/* The last put unlinks at once but frees only after a grace period:
	 * our read-side section holds it off. */
	rcu_read_lock();
	mmu_notifier_put(a);
	assert_int_equal(frees(), f0);
	/* A reader still standing on it may use it. */
	assert_int_equal(container_of(a, struct shared_sub, mn)->tag, 100);
	rcu_read_unlock();
	mmu_notifier_synchronize();
	assert_int_equal(frees(), f0 + 1);
	/* Unlinked: the hooks do not reach it (ASan would see a use after
	 * free otherwise). */
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, PG);

	/* A new get makes a new one; release at exit, then the puts. */
	a = mmu_notifier_get(&shared_ops, mm);
	assert_false(IS_ERR(a));
	assert_int_equal(nr_alloc, a0 + 3);
	mm_exit(mm);
	assert_int_equal(container_of(a, struct shared_sub, mn)->tag, 1);
	assert_int_equal(mm_live_count(), mms_before + 1);
	mmu_notifier_put(a);
	mmu_notifier_put(c);
	mmu_notifier_synchronize(); /* frees them and drops the mm */
	assert_int_equal(frees(), f0 + 3);
	assert_int_equal(mm_live_count(), mms_before);
}

static void test_get_errors(void **state)
{
	struct mm_struct *mm = new_mm();
	static const struct mmu_notifier_ops no_alloc = {
		.free_notifier = shared_free,
	};
	long f0 = frees();
	struct mmu_notifier *a;

	mm_warn_set_quiet(true);
	assert_ptr_equal(mmu_notifier_get(NULL, mm), ERR_PTR(-EINVAL));
	assert_ptr_equal(mmu_notifier_get(&shared_ops, NULL), ERR_PTR(-EINVAL));
	assert_ptr_equal(mmu_notifier_get(&no_alloc, mm), ERR_PTR(-EINVAL));
	assert_int_equal(mm_warn_count(), warns_before + 3);
	warns_before += 3;
	mm_warn_set_quiet(false);

	alloc_mode = 1;
	assert_ptr_equal(mmu_notifier_get(&shared_ops, mm), ERR_PTR(-ENOMEM));
	alloc_mode = 2;
	assert_ptr_equal(mmu_notifier_get(&shared_ops, mm), ERR_PTR(-EIO));
	alloc_mode = 0;

	/* Allocated, then registration fails: freed through free_notifier,
	 * synchronously (it was never visible). */
	fault_inject_nth(2); /* 1: alloc_notifier, 2: the per-mm state */
	assert_ptr_equal(mmu_notifier_get(&shared_ops, mm), ERR_PTR(-ENOMEM));
	assert_int_equal(frees(), f0 + 1);
	assert_false(mm_has_notifiers(mm));

	/* users overflow */
	a = mmu_notifier_get(&shared_ops, mm);
	assert_false(IS_ERR(a));
	a->users = UINT_MAX;
	assert_ptr_equal(mmu_notifier_get(&shared_ops, mm),
			 ERR_PTR(-EOVERFLOW));
	a->users = 1;

	/* An mm with no users left. */
	mmgrab(mm);
	mm_exit(mm);
	assert_ptr_equal(mmu_notifier_get(&shared_ops2, mm), ERR_PTR(-EINVAL));
	mmu_notifier_put(a);
	mmdrop(mm);
	mmu_notifier_synchronize();
	assert_int_equal(frees(), f0 + 2);
}

/* A put from inside ->release (at exit): the free waits for later. */
static void test_put_in_release(void **state)
{
	struct mm_struct *mm = new_mm();
	struct mmu_notifier *a;
	long f0 = frees();

	a = mmu_notifier_get(&shared_ops, mm);
	assert_false(IS_ERR(a));
	container_of(a, struct shared_sub, mn)->put_in_release = true;
	mm_exit(mm); /* release -> put -> call_rcu; shared_free CHECKs */
	mmu_notifier_synchronize();
	assert_int_equal(frees(), f0 + 1);
	assert_int_equal(mm_live_count(), mms_before);
}

/* ---- non-blockable failure ---------------------------------------------- */

static bool itv_invalidate(struct mmu_interval_notifier *sub,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops itv_ops = {
	.invalidate = itv_invalidate,
};

static void test_nonblock_failure(void **state)
{
	struct mm_struct *mm = new_mm();
	struct mmu_interval_notifier itv;
	struct mmu_notifier_subscriptions *subs;
	struct mmu_notifier_range range;
	struct rec_sub s[3];
	unsigned long seq;
	int ret;

	/* List order s2, s1, s0; s1 cannot proceed without sleeping. */
	for (int i = 0; i < 3; i++) {
		rec_init(&s[i], i);
		assert_int_equal(mmu_notifier_register(&s[i].mn, mm), 0);
	}
	s[1].start_err = -EAGAIN;
	memset(&itv, 0, sizeof(itv));
	assert_int_equal(
		mmu_interval_notifier_insert(&itv, mm, 0, 16 * PG, &itv_ops),
		0);
	subs = mm->notifier_subscriptions;
	seq = mmu_interval_read_begin(&itv);

	log_reset();
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, 0, 4 * PG);
	mmap_read_lock(mm);
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	mmap_read_unlock(mm);
	assert_int_equal(ret, -EAGAIN);
	/* s2 started and got its end; s1 failed (no end); s0 never saw it. */
	assert_int_equal(nev, 3);
	assert_ev(0, 2, EV_START);
	assert_ev(1, 1, EV_START);
	assert_ev(2, 2, EV_END);
	assert_ptr_equal(evlog[2].range, &range);
	assert_int_equal(s[0].nr[EV_START] + s[0].nr[EV_END], 0);
	/* The interval part was undone too: no invalidation is active
	 * (the interval subscriber was told, so its reads retry). */
	assert_int_equal(subs->invalidate_seq & 1, 0);
	assert_int_equal(subs->active_invalidate_ranges, 0);
	assert_true(mmu_interval_read_retry(&itv, seq));
	seq = mmu_interval_read_begin(&itv); /* does not block */
	assert_false(mmu_interval_read_retry(&itv, seq));

	/* A stray end after a failed start is caught and calls nobody. */
	mm_warn_set_quiet(true);
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(mm_warn_count(), warns_before + 1);
	assert_int_equal(nev, 3);

	/* A failure in a blockable range is a driver bug: WARN, and the
	 * range proceeds for everyone (the caller ends it). */
	log_reset();
	s[1].fail_blockable = true;
	mmu_notifier_invalidate_range_start(&range);
	assert_int_equal(mm_warn_count(), warns_before + 2);
	assert_int_equal(nev, 3);
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(nev, 6);
	assert_ev(3, 2, EV_END);
	assert_ev(4, 1, EV_END);
	assert_ev(5, 0, EV_END);

	/* Only -EAGAIN is a legal failure: others WARN but still fail. */
	log_reset();
	s[1].start_err = -ENOMEM;
	range.flags = 0;
	ret = __mmu_notifier_invalidate_range_start(&range);
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(mm_warn_count(), warns_before + 3);
	assert_int_equal(nev, 3);
	warns_before += 3;
	mm_warn_set_quiet(false);

	/* The first subscriber failing: nobody to end. */
	s[1].start_err = 0;
	s[2].start_err = -EAGAIN;
	log_reset();
	mmap_read_lock(mm);
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	mmap_read_unlock(mm);
	assert_int_equal(ret, -EAGAIN);
	assert_int_equal(nev, 1);
	assert_ev(0, 2, EV_START);
	assert_int_equal(subs->invalidate_seq & 1, 0);

	/* And success again once nobody fails. */
	s[2].start_err = 0;
	log_reset();
	assert_int_equal(mmu_notifier_invalidate_range_start_nonblock(&range),
			 0);
	assert_int_equal(subs->invalidate_seq & 1, 1);
	mmu_notifier_invalidate_range_end(&range);
	assert_int_equal(subs->invalidate_seq & 1, 0);
	assert_int_equal(nev, 6);

	mmu_interval_notifier_remove(&itv);
	for (int i = 0; i < 3; i++)
		mmu_notifier_unregister(&s[i].mn, mm);
	mm_exit(mm);
}

/* ---- aging -------------------------------------------------------------- */

static void test_aging(void **state)
{
	struct mm_struct *mm = new_mm();
	struct rec_sub s[3];

	for (int i = 0; i < 3; i++) {
		rec_init(&s[i], i);
		assert_int_equal(mmu_notifier_register(&s[i].mn, mm), 0);
	}

	/* clear(_flush)_young: everyone is called; the results OR'ed. */
	log_reset();
	assert_int_equal(mmu_notifier_clear_flush_young(mm, PG, 3 * PG), 0);
	assert_int_equal(nev, 3);
	s[1].young = 1;
	assert_int_equal(mmu_notifier_clear_flush_young(mm, PG, 3 * PG), 1);
	assert_int_equal(nev, 6);
	for (int i = 0; i < 6; i++) {
		assert_ev(i, 2 - i % 3, EV_CFY);
		assert_ptr_equal(evlog[i].mm, mm);
		assert_int_equal(evlog[i].start, PG);
		assert_int_equal(evlog[i].end, 3 * PG);
	}
	s[0].young = 1;
	s[1].young = 0;
	log_reset();
	assert_int_equal(mmu_notifier_clear_young(mm, 0, PG), 1);
	assert_int_equal(nev, 3);
	assert_ev(2, 0, EV_CY);
	s[0].young = 0;
	assert_int_equal(mmu_notifier_clear_young(mm, 0, PG), 0);

	/* test_young stops at the first young one. */
	log_reset();
	s[1].young = 1;
	assert_int_equal(mmu_notifier_test_young(mm, 7 * PG), 1);
	assert_int_equal(nev, 2);
	assert_ev(0, 2, EV_TY);
	assert_ev(1, 1, EV_TY);
	assert_int_equal(evlog[1].start, 7 * PG);
	s[1].young = 0;
	log_reset();
	assert_int_equal(mmu_notifier_test_young(mm, 7 * PG), 0);
	assert_int_equal(nev, 3);

	for (int i = 0; i < 3; i++)
		mmu_notifier_unregister(&s[i].mn, mm);
	mm_exit(mm);
}

/* ---- stress: no callback after unregister returns ----------------------- */

struct stress_sub {
	struct mmu_notifier mn;
	int dead; /* set when retired: WRITE_ONCE / READ_ONCE */
	long calls; /* atomic */
	long releases;
};

static void stress_check(struct mmu_notifier *mn)
{
	struct stress_sub *s = container_of(mn, struct stress_sub, mn);

	/* Pairs with the WRITE_ONCE after unregister / in free_notifier. */
	CHECK(!READ_ONCE(s->dead));
	__atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
	/* Stay a little: a callback still running when unregister returns
	 * is caught by the second check (and by ASan/TSan on the free). */
	for (int i = 0; i < 64; i++)
		cpu_relax();
	CHECK(!READ_ONCE(s->dead));
}

static void stress_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct stress_sub *s = container_of(mn, struct stress_sub, mn);

	/* Pairs with the WRITE_ONCE after unregister. */
	CHECK(!READ_ONCE(s->dead));
	CHECK(__atomic_add_fetch(&s->releases, 1, __ATOMIC_RELAXED) == 1);
}

static int stress_start(struct mmu_notifier *mn,
			const struct mmu_notifier_range *range)
{
	stress_check(mn);
	return 0;
}

static void stress_end(struct mmu_notifier *mn,
		       const struct mmu_notifier_range *range)
{
	stress_check(mn);
}

static void stress_arch(struct mmu_notifier *mn, struct mm_struct *mm,
			unsigned long start, unsigned long end)
{
	stress_check(mn);
}

static int stress_young(struct mmu_notifier *mn, struct mm_struct *mm,
			unsigned long start, unsigned long end)
{
	stress_check(mn);
	return 1;
}

static struct mmu_notifier *stress_alloc(struct mm_struct *mm)
{
	struct stress_sub *s = kzalloc(sizeof(*s), GFP_KERNEL);

	return s ? &s->mn : NULL;
}

static void stress_free(struct mmu_notifier *mn)
{
	struct stress_sub *s = container_of(mn, struct stress_sub, mn);

	/* Read by stress_check(); a grace period has passed since put. */
	WRITE_ONCE(s->dead, 1);
	kfree(s);
}

static const struct mmu_notifier_ops stress_ops = {
	.release = stress_release,
	.invalidate_range_start = stress_start,
	.invalidate_range_end = stress_end,
	.arch_invalidate_secondary_tlbs = stress_arch,
	.clear_young = stress_young,
	.alloc_notifier = stress_alloc,
	.free_notifier = stress_free,
};
/* Distinct ops so that get() makes a second shared subscription. */
static const struct mmu_notifier_ops stress_ops2 = {
	.invalidate_range_start = stress_start,
	.invalidate_range_end = stress_end,
	.clear_young = stress_young,
	.alloc_notifier = stress_alloc,
	.free_notifier = stress_free,
};

static struct mm_struct *stress_mm;
static int stress_stop;
static long hammer_rounds;

/* Invalidation brackets under mmap_lock, like every host-MMU path. */
static int hammer_ranges(void *arg)
{
	struct mmu_notifier_range range;
	unsigned long i = 0;

	/* Pairs with the WRITE_ONCE in the test body. */
	while (!READ_ONCE(stress_stop)) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, stress_mm,
					(i % 64) * PG, (i % 64 + 1) * PG);
		mmap_read_lock(stress_mm);
		if (i & 1) {
			mmu_notifier_invalidate_range_start(&range);
			mmu_notifier_invalidate_range_end(&range);
		} else if (!mmu_notifier_invalidate_range_start_nonblock(
				   &range)) {
			mmu_notifier_invalidate_range_end(&range);
		}
		mmap_read_unlock(stress_mm);
		__atomic_fetch_add(&hammer_rounds, 1, __ATOMIC_RELAXED);
		i++;
	}
	return 0;
}

/* Unpaired hooks without mmap_lock (TLB flush, aging). */
static int hammer_unlocked(void *arg)
{
	unsigned long i = 0;

	while (!READ_ONCE(stress_stop)) {
		mmu_notifier_arch_invalidate_secondary_tlbs(stress_mm, 0, PG);
		mmu_notifier_clear_young(stress_mm, 0, i % 64 * PG + PG);
		__atomic_fetch_add(&hammer_rounds, 1, __ATOMIC_RELAXED);
		i++;
	}
	return 0;
}

/*
 * Wait until some hammer made a whole round after now: of 3 more rounds
 * between 2 threads, one thread made 2, the second of which began after.
 */
static void hammer_wait(void)
{
	long r = __atomic_load_n(&hammer_rounds, __ATOMIC_RELAXED);

	/* Spin, not sched_yield(): the hammers never sleep, and a yield
	 * would hand them whole time slices. */
	while (__atomic_load_n(&hammer_rounds, __ATOMIC_RELAXED) < r + 3)
		cpu_relax();
}

#define GRAVE 4

static void test_stress_unregister(void **state)
{
	struct stress_sub *grave[GRAVE] = { NULL };
	struct task_struct *t[2];
	struct mmu_notifier *shared = NULL;
	int iters = TEST_SCALE(1000), g = 0;
	long seen = 0;

	stress_mm = new_mm();
	WRITE_ONCE(stress_stop, 0);
	t[0] = kthread_run(hammer_ranges, NULL, "mn-range");
	t[1] = kthread_run(hammer_unlocked, NULL, "mn-unlocked");
	for (int i = 0; i < 2; i++)
		assert_false(IS_ERR(t[i]));

	for (int i = 0; i < iters; i++) {
		struct stress_sub *s = kzalloc(sizeof(*s), GFP_KERNEL);

		assert_non_null(s);
		s->mn.ops = &stress_ops;
		assert_int_equal(mmu_notifier_register(&s->mn, stress_mm), 0);
		hammer_wait();

		/* Shared subscriptions come and go too. */
		if (i % 3 == 0) {
			shared = mmu_notifier_get(
				i % 2 ? &stress_ops : &stress_ops2, stress_mm);
			assert_false(IS_ERR(shared));
		} else if (shared) {
			mmu_notifier_put(shared);
			shared = NULL;
		}

		mmu_notifier_unregister(&s->mn, stress_mm);
		/* Released exactly once.  (It may have seen a start whose end
		 * came after the unlink: that end does not reach it.) */
		assert_int_equal(s->releases, 1);
		seen += !!__atomic_load_n(&s->calls, __ATOMIC_RELAXED);
		/* Read by stress_check() if a callback ran now. */
		WRITE_ONCE(s->dead, 1);
		/* Freed a few iterations later: late callbacks hit the flag
		 * in the plain build, freed memory under ASan. */
		kfree(grave[g]);
		grave[g] = s;
		g = (g + 1) % GRAVE;
	}
	if (shared)
		mmu_notifier_put(shared);

	WRITE_ONCE(stress_stop, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	for (int i = 0; i < GRAVE; i++)
		kfree(grave[i]);
	/* Every subscription was really called (else the test is empty). */
	assert_true(seen >= iters);
	mm_exit(stress_mm);
	mmu_notifier_synchronize();
}

/* Exit racing with unregister: still exactly one release each. */
static struct stress_sub race_sub[2];

static int race_unregister(void *arg)
{
	struct stress_sub *s = arg;

	mmu_notifier_unregister(&s->mn, stress_mm);
	return 0;
}

static void test_stress_exit_vs_unregister(void **state)
{
	int iters = TEST_SCALE(400);

	for (int i = 0; i < iters; i++) {
		struct task_struct *t;

		stress_mm = new_mm();
		for (int k = 0; k < 2; k++) {
			memset(&race_sub[k], 0, sizeof(race_sub[k]));
			race_sub[k].mn.ops = &stress_ops;
			assert_int_equal(mmu_notifier_register(&race_sub[k].mn,
							       stress_mm),
					 0);
		}
		mmgrab(stress_mm); /* the mm outlives both unregisters */
		t = kthread_run(race_unregister, &race_sub[0], "mn-unreg");
		assert_false(IS_ERR(t));
		mm_exit(stress_mm);
		assert_int_equal(kthread_join(t), 0);
		/* The thread's unregister returned: if exit released the
		 * subscription, that call has finished too. */
		assert_int_equal(race_sub[0].releases, 1);
		assert_int_equal(race_sub[1].releases, 1);
		mmu_notifier_unregister(&race_sub[1].mn, stress_mm);
		assert_int_equal(race_sub[1].releases, 1);
		mmdrop(stress_mm);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_register_errors),
		T(test_no_subscriptions),
		T(test_callbacks),
		T(test_release_at_exit),
		T(test_release_at_unregister),
		T(test_reregister),
		T(test_get_put),
		T(test_get_errors),
		T(test_put_in_release),
		T(test_nonblock_failure),
		T(test_aging),
		T(test_stress_unregister),
		T(test_stress_exit_vs_unregister),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
