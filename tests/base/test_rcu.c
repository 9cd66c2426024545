// SPDX-License-Identifier: MIT
/*
 * RCU: nesting and rcu_read_lock_held(), publication, call_rcu/kfree_rcu
 * and rcu_barrier, grace periods waiting for pre-existing readers, the
 * misuse WARNs, thread-exit unregistration, and a real-thread stress test
 * in which readers check every field of objects that updaters retire with
 * synchronize_rcu() and call_rcu()/kfree_rcu() (ASan: no use after free;
 * TSan: no race; plain build: poisoned or recycled memory fails the
 * checksum).
 */
#include <sched.h>
#include "test_util.h"
#include <mmirror/atomic.h>
#include <mmirror/kthread.h>
#include <mmirror/rcupdate.h>
#include <mmirror/slab.h>

/* ---- objects with a checksum over every field ---- */

#define OBJ_MAGIC 0x5243554f424a4543ULL /* "RCUOBJEC" */
#define OBJ_DEAD 0xdeaddeaddeaddeadULL
#define OBJ_WORDS 16

struct obj {
	u64 magic;
	u64 seq;
	u64 data[OBJ_WORDS];
	u64 sum;
	struct rcu_head rcu;
};

static u64 obj_sum(const struct obj *o)
{
	u64 s = o->magic ^ (o->seq * 0x9E3779B97F4A7C15ULL);

	for (int i = 0; i < OBJ_WORDS; i++)
		s = (s ^ o->data[i]) * 0x100000001B3ULL;
	return s;
}

static struct obj *obj_new(u64 seq)
{
	struct obj *o = kmalloc(sizeof(*o), GFP_KERNEL);

	if (!o)
		return NULL;
	o->magic = OBJ_MAGIC;
	o->seq = seq;
	for (int i = 0; i < OBJ_WORDS; i++)
		o->data[i] = seq * 31 + i * 0x0101010101010101ULL;
	o->sum = obj_sum(o);
	return o;
}

/* Plain reads of every field: they race with nothing iff RCU works. */
static bool obj_ok(const struct obj *o)
{
	return o->magic == OBJ_MAGIC && o->sum == obj_sum(o);
}

/* Scribble over a retired object before freeing it (no reader may see). */
static void obj_poison_free(struct obj *o)
{
	memset(o, 0x6b, offsetof(struct obj, rcu));
	o->magic = OBJ_DEAD;
	kfree(o);
}

static void obj_free_cb(struct rcu_head *head)
{
	obj_poison_free(container_of(head, struct obj, rcu));
}

/* ---- unit tests ---- */

static void test_nesting(void **state)
{
	unsigned long w = mm_warn_count();

	assert_false(rcu_read_lock_held());
	rcu_read_lock();
	assert_true(rcu_read_lock_held());
	rcu_read_lock();
	rcu_read_lock();
	rcu_read_unlock();
	assert_true(rcu_read_lock_held());
	rcu_read_unlock();
	assert_true(rcu_read_lock_held());
	rcu_read_unlock();
	assert_false(rcu_read_lock_held());
	/* Outside any section a grace period completes at once. */
	synchronize_rcu();
	assert_int_equal(mm_warn_count(), w);

	/* An unlock without a lock is refused loudly. */
	mm_warn_set_quiet(true);
	rcu_read_unlock();
	assert_int_equal(mm_warn_count(), w + 1);
	assert_false(rcu_read_lock_held());
	mm_warn_set_quiet(false);
}

static struct obj *gp_obj __rcu;

static struct obj *deref_outside(void)
{
	return rcu_dereference(gp_obj); /* one call site: warns once */
}

static void test_publication(void **state)
{
	long live = kmalloc_live_objects();
	unsigned long w = mm_warn_count();
	struct obj *a = obj_new(1), *b = obj_new(2), *p;

	RCU_INIT_POINTER(gp_obj, NULL);
	assert_null(rcu_access_pointer(gp_obj));
	rcu_assign_pointer(gp_obj, a);
	rcu_read_lock();
	p = rcu_dereference(gp_obj);
	assert_ptr_equal(p, a);
	assert_true(obj_ok(p));
	rcu_read_unlock();

	p = rcu_replace_pointer(gp_obj, b, true);
	assert_ptr_equal(p, a);
	assert_ptr_equal(rcu_dereference_protected(gp_obj, true), b);
	assert_ptr_equal(rcu_dereference_raw(gp_obj), b);
	assert_int_equal(mm_warn_count(), w);

	/* lockdep-RCU style checks: outside a section, or condition false. */
	mm_warn_set_quiet(true);
	assert_ptr_equal(deref_outside(), b);
	assert_int_equal(mm_warn_count(), w + 1);
	assert_ptr_equal(deref_outside(), b);
	assert_int_equal(mm_warn_count(), w + 1); /* once per site */
	assert_ptr_equal(rcu_dereference_protected(gp_obj, false), b);
	assert_int_equal(mm_warn_count(), w + 2);
	assert_ptr_equal(rcu_dereference_check(gp_obj, true), b);
	assert_int_equal(mm_warn_count(), w + 2);
	mm_warn_set_quiet(false);

	RCU_INIT_POINTER(gp_obj, NULL);
	synchronize_rcu();
	kfree(a);
	kfree(b);
	assert_int_equal(kmalloc_live_objects(), live);
}

static int cb_ran;
static bool cb_in_section;

static void count_cb(struct rcu_head *head)
{
	/* Plain: ordered before rcu_barrier()'s return. */
	cb_ran++;
	cb_in_section = cb_in_section || rcu_read_lock_held();
	kfree(container_of(head, struct obj, rcu));
}

struct kfree_me {
	char pad[100];
	struct rcu_head rh;
	int tail;
};

static void test_call_rcu_barrier(void **state)
{
	long live = kmalloc_live_objects();
	struct kfree_me *k;

	cb_ran = 0;
	for (int i = 0; i < 10; i++)
		call_rcu(&obj_new(i)->rcu, count_cb);
	/* Callbacks may queue from inside a read-side section. */
	rcu_read_lock();
	call_rcu(&obj_new(10)->rcu, count_cb);
	rcu_read_unlock();
	k = kzalloc(sizeof(*k), GFP_KERNEL);
	kfree_rcu(k, rh);
	k = NULL;
	kfree_rcu(k, rh); /* NULL: nothing */

	rcu_barrier();
	assert_int_equal(cb_ran, 11);
	assert_false(cb_in_section);
	assert_int_equal(kmalloc_live_objects(), live);
}

/*
 * A grace period waits for a reader that was inside its section when the
 * grace period (or the call_rcu) began, and the reader's last write inside
 * the section is visible after it.  The window in which main lets a broken
 * implementation finish early is a bounded number of yields: it can only
 * make the test miss a bug, never fail a correct implementation.
 */
#define WINDOW_YIELDS 200000
static u32 reader_in, reader_go;
static int reader_left; /* plain: written in the section */
static int sync_saw_left = -1; /* plain: read after synchronize_rcu */
static int cb_saw_left = -1; /* plain: read in the callback */
static int sync_done, cb_done; /* READ_ONCE/WRITE_ONCE flags for main */

static int held_reader_fn(void *data)
{
	rcu_read_lock();
	WRITE_ONCE(reader_in, 1); /* main READ_ONCEs it */
	while (!READ_ONCE(reader_go)) /* pairs with WRITE_ONCE in main */
		sched_yield();
	reader_left = 1;
	rcu_read_unlock();
	return 0;
}

static int synchronizer_fn(void *data)
{
	synchronize_rcu();
	sync_saw_left = reader_left;
	WRITE_ONCE(sync_done, 1);
	return 0;
}

static void left_cb(struct rcu_head *head)
{
	cb_saw_left = reader_left;
	WRITE_ONCE(cb_done, 1);
	kfree(container_of(head, struct obj, rcu));
}

static void test_gp_waits_for_reader(void **state)
{
	struct task_struct *r, *s;
	int i, early_sync, early_cb;

	r = kthread_run(held_reader_fn, NULL, "held-reader");
	assert_false(IS_ERR(r));
	while (!READ_ONCE(reader_in)) /* pairs with WRITE_ONCE in reader */
		sched_yield();
	s = kthread_run(synchronizer_fn, NULL, "synchronizer");
	assert_false(IS_ERR(s));
	call_rcu(&obj_new(0)->rcu, left_cb);
	for (i = 0; i < WINDOW_YIELDS; i++) {
		if (READ_ONCE(sync_done) && READ_ONCE(cb_done))
			break;
		sched_yield();
	}
	early_sync = READ_ONCE(sync_done);
	early_cb = READ_ONCE(cb_done);
	/* Release the reader before asserting: a failure must not hang. */
	WRITE_ONCE(reader_go, 1);
	assert_int_equal(kthread_join(r), 0);
	assert_int_equal(kthread_join(s), 0);
	rcu_barrier();
	/* Neither may have finished while the reader was still inside. */
	assert_int_equal(early_sync, 0);
	assert_int_equal(early_cb, 0);
	assert_int_equal(sync_saw_left, 1);
	assert_int_equal(cb_saw_left, 1);
}

static int warn_cb_count;
static void sync_in_cb(struct rcu_head *head)
{
	unsigned long w = mm_warn_count();

	synchronize_rcu(); /* callbacks may not wait: WARN, no wait */
	rcu_barrier(); /* would deadlock on its own worker: WARN */
	warn_cb_count = (int)(mm_warn_count() - w);
	kfree(container_of(head, struct obj, rcu));
}

/* Misuse is loud and does not hang. */
static void test_warn_misuse(void **state)
{
	unsigned long w = mm_warn_count();
	struct rcu_head h;

	mm_warn_set_quiet(true);
	rcu_read_lock();
	synchronize_rcu(); /* would wait for itself */
	assert_int_equal(mm_warn_count(), w + 1);
	rcu_barrier();
	assert_int_equal(mm_warn_count(), w + 2);
	assert_true(rcu_read_lock_held());
	rcu_read_unlock();

	call_rcu(NULL, count_cb);
	call_rcu(&h, NULL);
	call_rcu(&h, (rcu_callback_t)(uintptr_t)8);
	assert_int_equal(mm_warn_count(), w + 5);

	call_rcu(&obj_new(0)->rcu, sync_in_cb);
	rcu_barrier();
	assert_int_equal(warn_cb_count, 2);
	assert_int_equal(mm_warn_count(), w + 7);
	mm_warn_set_quiet(false);
}

/* A kthread that exits inside a section: WARN, and GPs still complete. */
static int exit_locked_fn(void *data)
{
	rcu_read_lock();
	rcu_read_lock();
	return 5;
}

static void *raw_reader(void *arg)
{
	rcu_read_lock();
	rcu_read_unlock();
	if (arg)
		rcu_read_lock(); /* exit inside: the key destructor fixes it */
	return NULL;
}

static void test_thread_exit(void **state)
{
	unsigned long w = mm_warn_count();
	struct task_struct *t;

	mm_warn_set_quiet(true);
	t = kthread_run(exit_locked_fn, NULL, "exit-locked");
	assert_false(IS_ERR(t));
	assert_int_equal(kthread_join(t), 5);
	assert_int_equal(mm_warn_count(), w + 1);
	synchronize_rcu(); /* hangs if the dead reader was still counted */

	/*
	 * Raw pthreads register lazily and are unregistered by the key
	 * destructor.  Many of them come and go (reusing each other's
	 * stacks and TLS) with grace periods in between: a stale registry
	 * entry would hang or crash liburcu here.
	 */
	for (long i = 0; i < 64; i++) {
		pthread_t th;

		pthread_create(&th, NULL, raw_reader,
			       (void *)(long)(i % 8 == 7));
		pthread_join(th, NULL);
		synchronize_rcu();
	}
	assert_int_equal(mm_warn_count(), w + 1 + 8);
	mm_warn_set_quiet(false);
}

/* ---- stress: readers vs. updaters retiring objects ---- */

#define NREADERS 3
static struct obj *slot_sync __rcu; /* retired with synchronize_rcu */
static struct obj *slot_cb __rcu; /* retired with call_rcu/kfree_rcu */
static int stress_stop;
static atomic_long_t stress_reads, stress_bad;

/*
 * Check one object a reader holds: every field is consistent, and nothing
 * changes while the reader holds it (published objects are immutable, so
 * a change means it was freed, poisoned or reused under the reader).
 * Every few sections the reader is preempted while holding the pointer:
 * a grace period that does not wait for it frees the object right then.
 */
static long reader_check(const struct obj *o, u64 *last_seq, long n)
{
	struct obj before;
	long bad = 0;

	if (!o)
		return 0;
	memcpy(&before, o, offsetof(struct obj, rcu));
	if (!(n & 15))
		sched_yield();
	bad += !obj_ok(o);
	bad += memcmp(&before, o, offsetof(struct obj, rcu)) != 0;
	/* Publication order: a later section never sees an older object. */
	bad += o->seq < *last_seq;
	*last_seq = o->seq;
	return bad;
}

static int reader_fn(void *data)
{
	u64 last_sync = 0, last_cb = 0;
	long reads = 0, bad = 0;

	while (!READ_ONCE(stress_stop)) { /* pairs with WRITE_ONCE in main */
		rcu_read_lock();
		bad += reader_check(rcu_dereference(slot_sync), &last_sync,
				    reads);
		bad += reader_check(rcu_dereference(slot_cb), &last_cb,
				    reads + 8);
		rcu_read_unlock();
		reads++;
		if (!(reads & 63))
			sched_yield(); /* let the updaters' grace periods end */
	}
	atomic_long_add(reads, &stress_reads);
	atomic_long_add(bad, &stress_bad);
	return 0;
}

static int sync_updater_fn(void *data)
{
	long n = (long)data;

	for (long i = 1; i <= n; i++) {
		struct obj *new = obj_new(i), *old;

		if (!new)
			return -ENOMEM;
		old = rcu_replace_pointer(slot_sync, new, true);
		synchronize_rcu();
		if (old)
			obj_poison_free(old);
		/* Let readers run into the next update (catch a no-op GP). */
		if (!(i & 15))
			sched_yield();
	}
	return 0;
}

static int cb_updater_fn(void *data)
{
	long n = (long)data;

	for (long i = 1; i <= n; i++) {
		struct obj *new = obj_new(i), *old;

		if (!new)
			return -ENOMEM;
		old = rcu_replace_pointer(slot_cb, new, true);
		if (!old)
			continue;
		if (i & 1)
			call_rcu(&old->rcu, obj_free_cb);
		else
			kfree_rcu(old, rcu);
	}
	return 0;
}

static void test_stress(void **state)
{
	long live = kmalloc_live_objects();
	struct task_struct *rd[NREADERS], *us, *uc;

	RCU_INIT_POINTER(slot_sync, NULL);
	RCU_INIT_POINTER(slot_cb, NULL);
	WRITE_ONCE(stress_stop, 0);
	for (int i = 0; i < NREADERS; i++) {
		rd[i] = kthread_run(reader_fn, NULL, "rcu-reader%d", i);
		assert_false(IS_ERR(rd[i]));
	}
	us = kthread_run(sync_updater_fn, (void *)(long)TEST_SCALE(2000),
			 "rcu-sync-upd");
	uc = kthread_run(cb_updater_fn, (void *)(long)TEST_SCALE(20000),
			 "rcu-cb-upd");
	assert_false(IS_ERR(us));
	assert_false(IS_ERR(uc));
	assert_int_equal(kthread_join(us), 0);
	assert_int_equal(kthread_join(uc), 0);
	WRITE_ONCE(stress_stop, 1);
	for (int i = 0; i < NREADERS; i++)
		assert_int_equal(kthread_join(rd[i]), 0);

	assert_true(atomic_long_read(&stress_reads) > 0);
	assert_int_equal(atomic_long_read(&stress_bad), 0);

	/* Readers are gone: the last objects can go at once. */
	kfree(rcu_replace_pointer(slot_sync, NULL, true));
	kfree(rcu_replace_pointer(slot_cb, NULL, true));
	rcu_barrier();
	assert_int_equal(kmalloc_live_objects(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_publication),
		cmocka_unit_test(test_call_rcu_barrier),
		cmocka_unit_test(test_gp_waits_for_reader),
		cmocka_unit_test(test_warn_misuse),
		cmocka_unit_test(test_thread_exit),
		cmocka_unit_test(test_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
