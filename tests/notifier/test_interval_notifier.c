// SPDX-License-Identifier: MIT
/*
 * mmu interval notifiers, the protocol (src/notifier/interval.c): only the
 * subscriptions overlapping an invalidation are called (end exclusive);
 * concurrent invalidations keep the seq odd until the last end and share
 * one cur_seq; read_begin blocks while an invalidation that called the
 * subscription runs and wakes at the end, and does not block for one that
 * did not; read_retry catches an invalidation that fitted entirely
 * between read_begin and the check (the seed 000 ABA); inserts and removes
 * during an invalidation are deferred to the last end; remove waits for a
 * running callback; a refused non-blockable range returns -EAGAIN with the
 * state balanced; argument errors, -ENOMEM, and no leaks (mm references,
 * allocations, warnings).
 *
 * Blocking is checked without timing: a thread is known to be asleep when
 * it is registered on the wait queue (waitqueue_active), and then must
 * still not have returned after many sched_yield()s.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "notifier/internal.h"

#define MAX_CALLS 16
#define YIELDS 2000

/* A test subscriber: records its calls under its own (driver) lock. */
struct tsub {
	struct mmu_interval_notifier mni;
	spinlock_t lock; /* the "driver lock" */
	int id;
	int calls;
	unsigned long last_seq;
	unsigned long last_start, last_end;
	unsigned int last_flags;
	bool refuse_nonblock; /* return false for non-blockable ranges */
	bool block; /* wait on gate before returning */
};

static int call_order[MAX_CALLS];
static int ncall_order;

/* The gate a blocking callback waits on. */
static DECLARE_WAIT_QUEUE_HEAD(gate_wq);
static int gate_open;
static int in_callback;
static int callback_done;

static bool tsub_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct tsub *t = container_of(mni, struct tsub, mni);

	if (t->refuse_nonblock && !mmu_notifier_range_blockable(range))
		return false;
	if (t->block) {
		__atomic_store_n(&in_callback, 1, __ATOMIC_SEQ_CST);
		wait_event(gate_wq,
			   __atomic_load_n(&gate_open, __ATOMIC_ACQUIRE));
	}
	spin_lock(&t->lock);
	mmu_interval_set_seq(mni, cur_seq);
	t->calls++;
	t->last_seq = cur_seq;
	t->last_start = range->start;
	t->last_end = range->end;
	t->last_flags = range->flags;
	if (ncall_order < MAX_CALLS)
		call_order[ncall_order++] = t->id;
	spin_unlock(&t->lock);
	if (t->block)
		__atomic_store_n(&callback_done, 1, __ATOMIC_SEQ_CST);
	return true;
}

static const struct mmu_interval_notifier_ops tsub_ops = {
	.invalidate = tsub_invalidate,
};

static void tsub_init(struct tsub *t, int id)
{
	memset(t, 0, sizeof(*t));
	spin_lock_init(&t->lock);
	t->id = id;
}

static void tsub_insert(struct tsub *t, int id, struct mm_struct *mm,
			unsigned long start, unsigned long len)
{
	tsub_init(t, id);
	assert_int_equal(mmu_interval_notifier_insert(&t->mni, mm, start, len,
						      &tsub_ops),
			 0);
}

static struct mmu_notifier_subscriptions *subs_of(struct mm_struct *mm)
{
	return smp_load_acquire(&mm->notifier_subscriptions);
}

static unsigned long mm_seq(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *s = subs_of(mm);
	unsigned long seq;

	spin_lock(&s->lock);
	seq = s->invalidate_seq;
	spin_unlock(&s->lock);
	return seq;
}

static unsigned long mm_active(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *s = subs_of(mm);
	unsigned long n;

	spin_lock(&s->lock);
	n = s->active_invalidate_ranges;
	spin_unlock(&s->lock);
	return n;
}

static bool tsub_in_tree(struct tsub *t)
{
	struct mmu_notifier_subscriptions *s = subs_of(t->mni.mm);
	bool in;

	spin_lock(&s->lock);
	in = interval_tree_node_inserted(&t->mni.interval_tree);
	spin_unlock(&s->lock);
	return in;
}

static void inv_start(struct mmu_notifier_range *r, struct mm_struct *mm,
		      unsigned long start, unsigned long end)
{
	mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(r);
}

static void inv(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct mmu_notifier_range r;

	inv_start(&r, mm, start, end);
	mmu_notifier_invalidate_range_end(&r);
}

static long objs_before, mms_before;
static unsigned long warns_before;

static int setup(void **state)
{
	objs_before = kmalloc_live_objects();
	mms_before = mm_live_count();
	warns_before = mm_warn_count();
	ncall_order = 0;
	gate_open = 0;
	in_callback = 0;
	callback_done = 0;
	return 0;
}

static int teardown(void **state)
{
	fault_inject_off();
	mm_warn_set_quiet(false);
	assert_int_equal(mm_live_count(), mms_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
	assert_int_equal(mm_warn_count(), warns_before);
	return 0;
}

#define A_START 0x100000UL
#define PG 4096UL

/* ---- overlap filtering ---------------------------------------------------- */

/* Only overlapping subscriptions are called; [start, end) is exclusive. */
static void test_overlap_filtering(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct tsub a, b, c, *t[3] = { &a, &b, &c };
	struct {
		unsigned long start, end;
		int a, b, c;
	} cases[] = {
		/* a = [1M, 1M+4K), b = [1M+4K, 1M+12K), c = [1M+64K, +1) */
		{ A_START - PG, A_START, 0, 0, 0 }, /* ends where a starts */
		{ A_START - PG, A_START + 1, 1, 0, 0 },
		{ A_START + PG - 1, A_START + PG, 1, 0, 0 }, /* a's last byte */
		{ A_START + PG, A_START + PG + 1, 0, 1, 0 }, /* b's first */
		{ A_START + PG - 1, A_START + PG + 1, 1, 1, 0 },
		{ A_START + 3 * PG, A_START + 16 * PG, 0, 0, 0 }, /* gap */
		{ A_START + 16 * PG, A_START + 16 * PG + 1, 0, 0, 1 },
		{ A_START + 16 * PG + 1, A_START + 32 * PG, 0, 0, 0 },
		{ 0, mm->task_size, 1, 1, 1 },
	};

	tsub_insert(&a, 1, mm, A_START, PG);
	tsub_insert(&b, 2, mm, A_START + PG, 2 * PG);
	tsub_insert(&c, 3, mm, A_START + 16 * PG, 1);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int before[3] = { a.calls, b.calls, c.calls };
		struct mmu_notifier_range r;
		unsigned long seq;

		ncall_order = 0;
		inv_start(&r, mm, cases[i].start, cases[i].end);
		seq = mm_seq(mm);
		assert_true(seq & 1);
		assert_int_equal(a.calls - before[0], cases[i].a);
		assert_int_equal(b.calls - before[1], cases[i].b);
		assert_int_equal(c.calls - before[2], cases[i].c);
		/* Each call saw the range, the odd seq, blockable. */
		for (int k = 0; k < 3; k++) {
			if (t[k]->calls == before[k])
				continue;
			assert_int_equal(t[k]->last_seq, seq);
			assert_int_equal(t[k]->last_start, cases[i].start);
			assert_int_equal(t[k]->last_end, cases[i].end);
			assert_true(t[k]->last_flags &
				    MMU_NOTIFIER_RANGE_BLOCKABLE);
		}
		/* In address order. */
		for (int k = 1; k < ncall_order; k++)
			assert_true(call_order[k - 1] < call_order[k]);
		mmu_notifier_invalidate_range_end(&r);
		assert_int_equal(mm_seq(mm), seq + 1);
	}
	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&b.mni);
	mmu_interval_notifier_remove(&c.mni);
	/* Removed: no more calls. */
	inv(mm, 0, mm->task_size);
	assert_int_equal(a.calls, 4);
	assert_int_equal(b.calls, 3);
	assert_int_equal(c.calls, 2);
	mm_exit(mm);
}

/* Many random subscriptions against random ranges, checked by brute force. */
static void test_overlap_random(void **state)
{
	enum { N = 200, ROUNDS = 300 };
	struct mm_struct *mm = mm_alloc();
	static struct tsub t[N];
	static int before[N];
	uint64_t rs = 42;

	for (int i = 0; i < N; i++) {
		unsigned long s = (test_rand(&rs) % 4096) * 256;
		unsigned long l = 1 + test_rand(&rs) % 8192;

		tsub_insert(&t[i], i, mm, s, l);
	}
	for (int r = 0; r < ROUNDS; r++) {
		unsigned long s =
			(test_rand(&rs) % 4096) * 256 + test_rand(&rs) % 3;
		unsigned long e = s + 1 + test_rand(&rs) % 8192;

		for (int i = 0; i < N; i++)
			before[i] = t[i].calls;
		inv(mm, s, e);
		for (int i = 0; i < N; i++) {
			unsigned long ss = t[i].mni.interval_tree.start;
			unsigned long sl = t[i].mni.interval_tree.last;
			bool overlap = ss < e && s <= sl;

			assert_int_equal(t[i].calls - before[i], overlap);
		}
	}
	for (int i = 0; i < N; i++)
		mmu_interval_notifier_remove(&t[i].mni);
	mm_exit(mm);
}

/* ---- concurrent invalidations ------------------------------------------- */

static void test_concurrent_invalidations(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range r1, r2;
	struct tsub a, b;
	unsigned long seq0, seq;

	tsub_insert(&a, 1, mm, A_START, PG);
	tsub_insert(&b, 2, mm, A_START + 8 * PG, PG);
	seq0 = mm_seq(mm);
	assert_false(seq0 & 1);
	assert_int_equal(mm_active(mm), 0);

	inv_start(&r1, mm, A_START, A_START + PG);
	seq = mm_seq(mm);
	assert_int_equal(seq, seq0 + 1);
	assert_int_equal(mm_active(mm), 1);
	inv_start(&r2, mm, A_START + 8 * PG, A_START + 9 * PG);
	/* Same busy period, same odd seq, both callbacks got it. */
	assert_int_equal(mm_seq(mm), seq);
	assert_int_equal(mm_active(mm), 2);
	assert_int_equal(a.last_seq, seq);
	assert_int_equal(b.last_seq, seq);

	mmu_notifier_invalidate_range_end(&r1);
	assert_int_equal(mm_seq(mm), seq); /* still odd */
	assert_int_equal(mm_active(mm), 1);
	mmu_notifier_invalidate_range_end(&r2);
	assert_int_equal(mm_seq(mm), seq + 1);
	assert_int_equal(mm_active(mm), 0);

	/* The next busy period uses a new odd seq. */
	inv(mm, A_START, A_START + 1);
	assert_int_equal(a.last_seq, seq + 2);
	assert_int_equal(mm_seq(mm), seq + 3);

	/* An end without a start is a protocol violation: warned, ignored. */
	mm_warn_set_quiet(true);
	mn_itree_inv_end(subs_of(mm));
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), warns_before + 1);
	warns_before++;
	assert_int_equal(mm_seq(mm), seq + 3);

	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&b.mni);
	mm_exit(mm);
}

/* ---- read_begin / read_retry -------------------------------------------- */

struct reader {
	struct mmu_interval_notifier *mni;
	unsigned long seq;
	int done;
};

static void *reader_fn(void *arg)
{
	struct reader *rd = arg;

	rd->seq = mmu_interval_read_begin(rd->mni);
	__atomic_store_n(&rd->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Wait until @rd returned or sleeps on @wq; return whether it returned. */
static bool reader_settle(struct reader *rd, wait_queue_head_t *wq)
{
	for (;;) {
		if (__atomic_load_n(&rd->done, __ATOMIC_SEQ_CST))
			return true;
		if (waitqueue_active(wq))
			break;
		sched_yield();
	}
	/* Asleep: must stay so. */
	for (int i = 0; i < YIELDS; i++)
		sched_yield();
	return __atomic_load_n(&rd->done, __ATOMIC_SEQ_CST);
}

/* read_begin sleeps while an invalidation covering it runs; wakes at end. */
static void test_read_begin_blocks(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct reader rd = { 0 };
	struct mmu_notifier_range r;
	unsigned long seq;
	struct tsub a;
	pthread_t th;

	tsub_insert(&a, 1, mm, A_START, 4 * PG);
	inv_start(&r, mm, A_START + PG, A_START + 2 * PG);
	seq = mm_seq(mm);
	assert_int_equal(a.last_seq, seq);

	rd.mni = &a.mni;
	pthread_create(&th, NULL, reader_fn, &rd);
	assert_false(reader_settle(&rd, &subs_of(mm)->wq));
	mmu_notifier_invalidate_range_end(&r);
	pthread_join(th, NULL);
	assert_true(rd.done);
	/* The seq of the invalidation that called it; valid until the next. */
	assert_int_equal(rd.seq, seq);
	spin_lock(&a.lock);
	assert_false(mmu_interval_read_retry(&a.mni, rd.seq));
	spin_unlock(&a.lock);
	assert_false(waitqueue_active(&subs_of(mm)->wq));

	mmu_interval_notifier_remove(&a.mni);
	mm_exit(mm);
}

/* ... but not for an invalidation that does not cover it. */
static void test_read_begin_no_block_other_range(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct reader rd = { 0 };
	struct mmu_notifier_range r, r2;
	struct tsub a, b;
	pthread_t th;

	tsub_insert(&a, 1, mm, A_START, PG);
	tsub_insert(&b, 2, mm, A_START + 4 * PG, PG);
	inv_start(&r, mm, A_START + 4 * PG, A_START + 5 * PG); /* b only */
	assert_true(mm_seq(mm) & 1);
	assert_int_equal(a.calls, 0);

	rd.mni = &a.mni;
	pthread_create(&th, NULL, reader_fn, &rd);
	assert_true(reader_settle(&rd, &subs_of(mm)->wq));
	pthread_join(th, NULL);
	/* a's seq from insert: odd, not the running one. */
	assert_true(rd.seq & 1);
	assert_int_not_equal(rd.seq, mm_seq(mm));

	/* A second, concurrent invalidation now covers a: collided. */
	inv_start(&r2, mm, A_START, A_START + PG);
	assert_true(mmu_interval_check_retry(&a.mni, rd.seq));
	spin_lock(&a.lock);
	assert_true(mmu_interval_read_retry(&a.mni, rd.seq));
	spin_unlock(&a.lock);
	mmu_notifier_invalidate_range_end(&r);
	/* Still covered by r2: now read_begin does block. */
	memset(&rd, 0, sizeof(rd));
	rd.mni = &a.mni;
	pthread_create(&th, NULL, reader_fn, &rd);
	assert_false(reader_settle(&rd, &subs_of(mm)->wq));
	mmu_notifier_invalidate_range_end(&r2);
	pthread_join(th, NULL);
	assert_int_equal(rd.seq, a.last_seq);

	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&b.mni);
	mm_exit(mm);
}

/*
 * read_retry: false while nothing touched the range (even with other
 * ranges invalidated), true once an invalidation of the range began, and
 * still true after it ENDED: the seed 000 ABA a valid flag misses.
 */
static void test_read_retry(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range r;
	unsigned long seq;
	struct tsub a;

	tsub_insert(&a, 1, mm, A_START, PG);
	seq = mmu_interval_read_begin(&a.mni);
	inv(mm, A_START + PG, A_START + 2 * PG); /* adjacent: no overlap */
	spin_lock(&a.lock);
	assert_false(mmu_interval_read_retry(&a.mni, seq));
	spin_unlock(&a.lock);

	inv_start(&r, mm, A_START, A_START + PG);
	spin_lock(&a.lock);
	assert_true(mmu_interval_read_retry(&a.mni, seq));
	spin_unlock(&a.lock);
	mmu_notifier_invalidate_range_end(&r);
	spin_lock(&a.lock);
	assert_true(mmu_interval_read_retry(&a.mni, seq)); /* ABA closed */
	spin_unlock(&a.lock);

	/* A fresh read_begin is valid again, until the next invalidation. */
	seq = mmu_interval_read_begin(&a.mni);
	assert_false(mmu_interval_check_retry(&a.mni, seq));
	inv(mm, A_START + PG - 1, A_START + PG);
	assert_true(mmu_interval_check_retry(&a.mni, seq));

	mmu_interval_notifier_remove(&a.mni);
	mm_exit(mm);
}

/* ---- deferred insert / remove ------------------------------------------- */

static void test_insert_during_invalidation(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range r1, r2;
	struct reader rd = { 0 };
	struct tsub a, d, e;
	unsigned long seq;
	pthread_t th;

	tsub_insert(&a, 1, mm, A_START, PG);
	inv_start(&r1, mm, A_START, A_START + 64 * PG);
	seq = mm_seq(mm);
	tsub_insert(&d, 2, mm, A_START + PG, PG);
	/* Deferred: not in the tree, reads as invalidating. */
	assert_false(tsub_in_tree(&d));
	assert_int_equal(d.mni.invalidate_seq, seq);
	/* A concurrent invalidation over it does not call it either. */
	inv_start(&r2, mm, A_START, A_START + 64 * PG);
	assert_int_equal(d.calls, 0);
	assert_int_equal(a.calls, 2);

	/* Its read_begin waits for the last end. */
	rd.mni = &d.mni;
	pthread_create(&th, NULL, reader_fn, &rd);
	assert_false(reader_settle(&rd, &subs_of(mm)->wq));
	mmu_notifier_invalidate_range_end(&r1);
	assert_false(tsub_in_tree(&d)); /* not the last end yet */
	assert_false(reader_settle(&rd, &subs_of(mm)->wq));
	/* An insert then a remove, both during the busy period: cancelled
	 * without waiting, never called. */
	tsub_insert(&e, 3, mm, A_START + 2 * PG, PG);
	mmu_interval_notifier_remove(&e.mni);
	mmu_notifier_invalidate_range_end(&r2);
	pthread_join(th, NULL);
	assert_int_equal(rd.seq, seq);
	assert_true(tsub_in_tree(&d));
	assert_false(tsub_in_tree(&e));

	/* Applied: the next invalidation calls it. */
	inv(mm, A_START + PG, A_START + 2 * PG);
	assert_int_equal(d.calls, 1);
	assert_int_equal(e.calls, 0);
	spin_lock(&d.lock);
	assert_true(mmu_interval_read_retry(&d.mni, rd.seq));
	spin_unlock(&d.lock);

	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&d.mni);
	mm_exit(mm);
}

struct remover {
	struct mmu_interval_notifier *mni;
	int done;
	int cb_done_at_return; /* callback_done seen when remove returned */
};

static void *remover_fn(void *arg)
{
	struct remover *rm = arg;

	mmu_interval_notifier_remove(rm->mni);
	rm->cb_done_at_return =
		__atomic_load_n(&callback_done, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rm->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static bool remover_settle(struct remover *rm, wait_queue_head_t *wq)
{
	for (;;) {
		if (__atomic_load_n(&rm->done, __ATOMIC_SEQ_CST))
			return true;
		if (waitqueue_active(wq))
			break;
		sched_yield();
	}
	for (int i = 0; i < YIELDS; i++)
		sched_yield();
	return __atomic_load_n(&rm->done, __ATOMIC_SEQ_CST);
}

/* A remove during an invalidation is deferred and waits for the end. */
static void test_remove_during_invalidation(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct remover rm = { 0 };
	struct mmu_notifier_range r, r2;
	struct tsub a;
	pthread_t th;
	int count;

	tsub_insert(&a, 1, mm, A_START, PG);
	count = atomic_read(&mm->mm_count);
	inv_start(&r, mm, A_START, A_START + PG);
	rm.mni = &a.mni;
	pthread_create(&th, NULL, remover_fn, &rm);
	assert_false(remover_settle(&rm, &subs_of(mm)->wq));
	/* Still in the tree: a concurrent invalidation may still call it,
	 * which is why remove must wait. */
	assert_true(tsub_in_tree(&a));
	inv_start(&r2, mm, A_START, A_START + PG);
	assert_int_equal(a.calls, 2);
	mmu_notifier_invalidate_range_end(&r);
	assert_false(remover_settle(&rm, &subs_of(mm)->wq));
	mmu_notifier_invalidate_range_end(&r2);
	pthread_join(th, NULL);
	assert_false(tsub_in_tree(&a));
	assert_int_equal(atomic_read(&mm->mm_count), count - 1);
	inv(mm, 0, mm->task_size);
	assert_int_equal(a.calls, 2);
	mm_exit(mm);
}

struct invalidator {
	struct mm_struct *mm;
	unsigned long start, end;
	int done;
};

static void *invalidator_fn(void *arg)
{
	struct invalidator *iv = arg;

	inv(iv->mm, iv->start, iv->end);
	__atomic_store_n(&iv->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* remove() does not return while a callback of its subscription runs. */
static void test_remove_waits_for_callback(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct invalidator iv = { mm, A_START, A_START + PG, 0 };
	struct remover rm = { 0 };
	pthread_t ti, tr;
	struct tsub a;

	tsub_insert(&a, 1, mm, A_START, PG);
	a.block = true;
	pthread_create(&ti, NULL, invalidator_fn, &iv);
	while (!__atomic_load_n(&in_callback, __ATOMIC_SEQ_CST))
		sched_yield();

	rm.mni = &a.mni;
	pthread_create(&tr, NULL, remover_fn, &rm);
	assert_false(remover_settle(&rm, &subs_of(mm)->wq));
	assert_false(__atomic_load_n(&iv.done, __ATOMIC_SEQ_CST));

	__atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
	wake_up(&gate_wq);
	pthread_join(tr, NULL);
	pthread_join(ti, NULL);
	/* When remove returned, the callback had finished. */
	assert_true(rm.cb_done_at_return);
	assert_int_equal(a.calls, 1);
	inv(mm, A_START, A_START + PG);
	assert_int_equal(a.calls, 1);
	mm_exit(mm);
}

/* ---- non-blockable ranges ----------------------------------------------- */

static void test_nonblock_failure(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range r;
	struct tsub a, b, c;
	unsigned long seq0;
	int ret;

	tsub_insert(&a, 1, mm, A_START, PG);
	tsub_insert(&b, 2, mm, A_START + PG, PG);
	tsub_insert(&c, 3, mm, A_START + 2 * PG, PG);
	b.refuse_nonblock = true;
	seq0 = mm_seq(mm);

	/* A non-blockable range b does not refuse works. */
	mmu_notifier_range_init(&r, MMU_NOTIFY_UNMAP, 0, mm, A_START,
				A_START + PG);
	assert_int_equal(mmu_notifier_invalidate_range_start_nonblock(&r), 0);
	assert_false(a.last_flags & MMU_NOTIFIER_RANGE_BLOCKABLE);
	mmu_notifier_invalidate_range_end(&r);
	assert_int_equal(mm_seq(mm), seq0 + 2);

	/* b refuses: -EAGAIN, a was called, c was not, nothing left
	 * running (the seq is even, read_begin does not wait). */
	mmu_notifier_range_init(&r, MMU_NOTIFY_UNMAP, 0, mm, A_START,
				A_START + 3 * PG);
	ret = mmu_notifier_invalidate_range_start_nonblock(&r);
	assert_int_equal(ret, -EAGAIN);
	assert_int_equal(a.calls, 2);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(mm_active(mm), 0);
	assert_int_equal(mm_seq(mm), seq0 + 4);
	assert_int_equal(mmu_interval_read_begin(&a.mni), seq0 + 3);
	/* a's seq moved: a reader that began before must retry. */
	assert_true(mmu_interval_check_retry(&a.mni, seq0 + 1));

	/* The same range, blockable: everyone is called. */
	inv(mm, A_START, A_START + 3 * PG);
	assert_int_equal(a.calls, 3);
	assert_int_equal(b.calls, 1);
	assert_int_equal(c.calls, 1);

	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&b.mni);
	mmu_interval_notifier_remove(&c.mni);
	mm_exit(mm);
}

static bool refuse_always(struct mmu_interval_notifier *mni,
			  const struct mmu_notifier_range *range,
			  unsigned long cur_seq)
{
	return false;
}

static const struct mmu_interval_notifier_ops refuse_ops = {
	.invalidate = refuse_always,
};

/* A callback refusing a blockable range: WARN, the walk goes on. */
static void test_refuse_blockable_warns(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_interval_notifier bad;
	struct tsub a;

	assert_int_equal(mmu_interval_notifier_insert(&bad, mm, A_START, PG,
						      &refuse_ops),
			 0);
	tsub_insert(&a, 1, mm, A_START + PG, PG);
	mm_warn_set_quiet(true);
	inv(mm, A_START, A_START + 2 * PG);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), warns_before + 1);
	warns_before++;
	assert_int_equal(a.calls, 1);
	assert_int_equal(mm_active(mm), 0);
	mmu_interval_notifier_remove(&bad);
	mmu_interval_notifier_remove(&a.mni);
	mm_exit(mm);
}

/* ---- arguments, locking, errors, lifetime ------------------------------- */

static void test_insert_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_interval_notifier_ops no_cb = { 0 };
	struct tsub a;
	unsigned long ts = mm->task_size;

	tsub_init(&a, 1);
	/* Bad ranges: -EINVAL, no warning. */
	assert_int_equal(
		mmu_interval_notifier_insert(&a.mni, mm, A_START, 0, &tsub_ops),
		-EINVAL);
	assert_int_equal(mmu_interval_notifier_insert(&a.mni, mm, ~0UL - 10,
						      100, &tsub_ops),
			 -EINVAL);
	assert_int_equal(mmu_interval_notifier_insert(&a.mni, mm, ts - PG,
						      PG + 1, &tsub_ops),
			 -EINVAL);
	assert_int_equal(
		mmu_interval_notifier_insert(&a.mni, mm, ts, 1, &tsub_ops),
		-EINVAL);
	assert_int_equal(mmu_interval_notifier_insert_locked(
				 &a.mni, mm, A_START, 0, &tsub_ops),
			 -EINVAL);
	assert_int_equal(mm_warn_count(), warns_before);
	/* Nothing was created for them. */
	assert_null(subs_of(mm));

	/* NULLs: API misuse, warned. */
	mm_warn_set_quiet(true);
	assert_int_equal(
		mmu_interval_notifier_insert(NULL, mm, A_START, PG, &tsub_ops),
		-EINVAL);
	assert_int_equal(mmu_interval_notifier_insert(&a.mni, NULL, A_START, PG,
						      &tsub_ops),
			 -EINVAL);
	assert_int_equal(
		mmu_interval_notifier_insert(&a.mni, mm, A_START, PG, NULL),
		-EINVAL);
	assert_int_equal(
		mmu_interval_notifier_insert(&a.mni, mm, A_START, PG, &no_cb),
		-EINVAL);
	/* _locked without the lock. */
	assert_int_equal(mmu_interval_notifier_insert_locked(
				 &a.mni, mm, A_START, PG, &tsub_ops),
			 -EINVAL);
	/* _locked with the read lock, but the first interval insert needs
	 * it for write. */
	mmap_read_lock(mm);
	assert_int_equal(mmu_interval_notifier_insert_locked(
				 &a.mni, mm, A_START, PG, &tsub_ops),
			 -EINVAL);
	mmap_read_unlock(mm);
	mmu_interval_notifier_remove(NULL);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), warns_before + 7);
	warns_before += 7;
	assert_null(subs_of(mm));

	/* The whole address space is a valid range. */
	assert_int_equal(
		mmu_interval_notifier_insert(&a.mni, mm, 0, ts, &tsub_ops), 0);
	inv(mm, ts - 1, ts);
	assert_int_equal(a.calls, 1);
	mmu_interval_notifier_remove(&a.mni);
	mm_exit(mm);
}

/* _locked: write lock for the first, read lock is enough afterwards. */
static void test_insert_locked(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct tsub a, b;

	tsub_init(&a, 1);
	tsub_init(&b, 2);
	mmap_write_lock(mm);
	assert_int_equal(mmu_interval_notifier_insert_locked(
				 &a.mni, mm, A_START, PG, &tsub_ops),
			 0);
	mmap_write_unlock(mm);
	assert_non_null(subs_of(mm));
	assert_true(subs_of(mm)->has_itree);
	mmap_read_lock(mm);
	assert_int_equal(mmu_interval_notifier_insert_locked(
				 &b.mni, mm, A_START, PG, &tsub_ops),
			 0);
	mmap_read_unlock(mm);
	inv(mm, A_START, A_START + 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	mmu_interval_notifier_remove(&a.mni);
	mmu_interval_notifier_remove(&b.mni);
	mm_exit(mm);
}

/* Misuse of remove: twice, or never inserted.  Warned, no harm. */
static void test_remove_misuse(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range r;
	struct tsub a;
	int count;

	tsub_insert(&a, 1, mm, A_START, PG);
	mmu_interval_notifier_remove(&a.mni);
	count = atomic_read(&mm->mm_count);
	mm_warn_set_quiet(true);
	mmu_interval_notifier_remove(&a.mni); /* idle */
	inv_start(&r, mm, 0, PG);
	mmu_interval_notifier_remove(&a.mni); /* during an invalidation */
	mmu_notifier_invalidate_range_end(&r);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), warns_before + 2);
	warns_before += 2;
	assert_int_equal(atomic_read(&mm->mm_count), count);
	mm_exit(mm);
}

/* -ENOMEM when the per-mm subscriptions cannot be allocated. */
static void test_insert_enomem(void **state)
{
	struct mm_struct *mm = mm_alloc();
	int count = atomic_read(&mm->mm_count);
	struct tsub a;

	tsub_init(&a, 1);
	fault_inject_nth(1);
	assert_int_equal(mmu_interval_notifier_insert(&a.mni, mm, A_START, PG,
						      &tsub_ops),
			 -ENOMEM);
	fault_inject_off();
	assert_null(subs_of(mm));
	assert_int_equal(atomic_read(&mm->mm_count), count);
	/* And it works afterwards. */
	tsub_insert(&a, 1, mm, A_START, PG);
	assert_int_equal(atomic_read(&mm->mm_count), count + 1);
	mmu_interval_notifier_remove(&a.mni);
	assert_int_equal(atomic_read(&mm->mm_count), count);
	mm_exit(mm);
}

/* A subscription keeps the mm struct alive past exit; remove frees it. */
static void test_mm_lifetime(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct tsub a, b;

	tsub_insert(&a, 1, mm, A_START, PG);
	tsub_insert(&b, 2, mm, A_START, PG);
	mm_exit(mm);
	assert_int_equal(mm_live_count(), mms_before + 1);
	mmu_interval_notifier_remove(&a.mni);
	assert_int_equal(mm_live_count(), mms_before + 1);
	mmu_interval_notifier_remove(&b.mni);
	assert_int_equal(mm_live_count(), mms_before);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_overlap_filtering),
		T(test_overlap_random),
		T(test_concurrent_invalidations),
		T(test_read_begin_blocks),
		T(test_read_begin_no_block_other_range),
		T(test_read_retry),
		T(test_insert_during_invalidation),
		T(test_remove_during_invalidation),
		T(test_remove_waits_for_callback),
		T(test_nonblock_failure),
		T(test_refuse_blockable_warns),
		T(test_insert_args),
		T(test_insert_locked),
		T(test_remove_misuse),
		T(test_insert_enomem),
		T(test_mm_lifetime),
	};

	/* Physical memory set up before the first setup() samples it. */
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
