// SPDX-License-Identifier: MIT
/*
 * The oracle's object-lifetime rule (check_obj_alloc/free/access): an
 * access to a driver object after check_obj_free() is one
 * CHECK_USE_AFTER_FREE report naming the object, the freeing thread and
 * the accessing one; a new object at the same address is live again;
 * addresses the oracle was never told about are ignored; the table is
 * bounded and forgotten at disable/reset; concurrent users (real
 * threads, TSan) never get a false report.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/kthread.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

struct tobj {
	spinlock_t lock;
	unsigned long a, b, c;
};

static void objlife_begin(void)
{
	oracle_begin();
	check_set_output(NULL);
	check_set_thread_name("tester");
}

static void objlife_end(void)
{
	check_disable();
	check_reset();
	check_set_thread_name(NULL);
}

static int free_thread(void *arg)
{
	check_obj_free(arg);
	return 0;
}

/* Free @o from a kthread named "freer" (the report must say so). */
static void free_elsewhere(struct tobj *o)
{
	struct task_struct *t = kthread_run(free_thread, o, "freer");

	assert_false(IS_ERR(t));
	assert_int_equal(kthread_join(t), 0);
}

static void test_access_after_free_reported(void **state)
{
	struct tobj *o = kzalloc(sizeof(*o), GFP_KERNEL);
	const struct check_violation *v;

	(void)state;
	assert_non_null(o);
	spin_lock_init(&o->lock);
	objlife_begin();
	check_obj_alloc(o, sizeof(*o), "tobj");
	/* Live: under a driver spinlock, as a callback would. */
	spin_lock(&o->lock);
	check_obj_access(o, "tobj_live");
	check_obj_access(&o->c, "tobj_live");
	spin_unlock(&o->lock);
	assert_int_equal(check_nr_violations(0), 0);
	free_elsewhere(o);
	/* A field inside the dead object, not only its start. */
	check_obj_access(&o->b, "tobj_late");
	assert_int_equal(check_nr_violations(CHECK_USE_AFTER_FREE), 1);
	assert_int_equal(check_nr_violations(0), 1);
	v = check_violation(0);
	assert_int_equal(v->rule, CHECK_USE_AFTER_FREE);
	assert_null(v->mm);
	assert_int_equal(v->va, 0);
	assert_int_equal(v->pfn, ~0UL);
	assert_string_equal(v->device, "tobj");
	assert_string_equal(v->thread, "tester");
	assert_non_null(strstr(v->what, "tobj_late"));
	assert_non_null(strstr(v->what, "by freer"));
	/* Its history: born, used, freed (by whom), then the late use. */
	assert_non_null(strstr(v->events, "tester: check_obj_alloc tobj"));
	assert_non_null(strstr(v->events, "tobj_live uses tobj"));
	assert_non_null(strstr(v->events, "freer: check_obj_free tobj"));
	assert_non_null(strstr(v->events, "tester: tobj_late uses tobj"));
	assert_true(strstr(v->events, "check_obj_alloc") <
		    strstr(v->events, "check_obj_free"));
	/* Once per freed object. */
	check_obj_access(o, "tobj_late");
	assert_int_equal(check_nr_violations(0), 1);
	objlife_end();
	kfree(o);
}

static void test_realloc_same_address_not_reported(void **state)
{
	static char mem[256];

	(void)state;
	objlife_begin();
	check_obj_alloc(mem, 64, "tobj");
	check_obj_free(mem);
	/* The same address, a new object: live again. */
	check_obj_alloc(mem, 128, "tobj2");
	check_obj_access(mem, "user");
	check_obj_access(mem + 100, "user");
	assert_int_equal(check_nr_violations(0), 0);
	/* Reuse at an offset forgets every object it overlaps. */
	check_obj_free(mem);
	check_obj_alloc(mem + 32, 64, "tobj3");
	check_obj_access(mem, "user");
	check_obj_access(mem + 40, "user");
	check_obj_access(mem + 120, "user");
	assert_int_equal(check_nr_violations(0), 0);
	/* ... and the new object is held to the rule. */
	check_obj_free(mem + 32);
	check_obj_access(mem + 40, "user");
	assert_int_equal(check_nr_violations(CHECK_USE_AFTER_FREE), 1);
	assert_string_equal(check_violation(0)->device, "tobj3");
	objlife_end();
}

static void test_unknown_ignored(void **state)
{
	static char mem[128];

	(void)state;
	objlife_begin();
	check_obj_access(mem, "user");
	check_obj_free(mem + 8);
	check_obj_access(NULL, "user");
	check_obj_free(NULL);
	check_obj_alloc(NULL, 8, "null");
	check_obj_alloc(mem, 32, "tobj");
	/* Not the start of the object: not a free of it. */
	check_obj_free(mem + 8);
	check_obj_access(mem, "user");
	check_obj_free(mem);
	/* Just past the dead object's end, and just before it. */
	check_obj_access(mem + 32, "user");
	check_obj_access((void *)((uintptr_t)mem - 1), "user");
	assert_int_equal(check_nr_violations(0), 0);
	objlife_end();
}

static void test_double_free_reported(void **state)
{
	static char mem[64];

	(void)state;
	objlife_begin();
	check_obj_alloc(mem, sizeof(mem), "tobj");
	check_obj_free(mem);
	check_obj_free(mem);
	assert_int_equal(check_nr_violations(CHECK_USE_AFTER_FREE), 1);
	assert_non_null(strstr(check_violation(0)->what, "frees again"));
	objlife_end();
}

/* Off: nothing recorded; disable and reset forget every object (its
 * address may be reused unseen while the oracle is off). */
static void test_off_disable_reset_forget(void **state)
{
	static char mem[64];

	(void)state;
	check_disable();
	check_obj_alloc(mem, sizeof(mem), "tobj");
	check_obj_free(mem);
	objlife_begin();
	check_obj_access(mem, "user");
	assert_int_equal(check_nr_violations(0), 0);

	check_obj_alloc(mem, sizeof(mem), "tobj");
	check_obj_free(mem);
	check_disable();
	check_enable();
	check_obj_access(mem, "user");
	assert_int_equal(check_nr_violations(0), 0);

	check_obj_alloc(mem, sizeof(mem), "tobj");
	check_obj_free(mem);
	check_reset();
	check_obj_access(mem, "user");
	assert_int_equal(check_nr_violations(0), 0);
	objlife_end();
}

/* At most CHECK_OBJ_MAX objects: the oldest are forgotten, never
 * reported falsely. */
static void test_bounded(void **state)
{
	enum { N = CHECK_OBJ_MAX + 16 };
	char *mem = calloc(N, 16);

	(void)state;
	assert_non_null(mem);
	objlife_begin();
	check_obj_alloc(mem, 16, "oldest");
	check_obj_free(mem);
	for (unsigned int i = 1; i < N; i++)
		check_obj_alloc(mem + 16 * i, 16, "tobj");
	check_obj_access(mem, "user");
	assert_int_equal(check_nr_violations(0), 0);
	check_obj_free(mem + 16 * (N - 1));
	check_obj_access(mem + 16 * (N - 1), "user");
	assert_int_equal(check_nr_violations(0), 1);
	objlife_end();
	free(mem);
}

/* --- real threads -------------------------------------------------------- */

#define NTHREADS 4
#define UAF_EVERY 64

static unsigned int iters(void)
{
	return TEST_SCALE(4096);
}

/*
 * Each thread allocates, uses and frees real memory, so the allocator
 * hands one thread's freed address to another: a new object there must
 * never be reported.  Every UAF_EVERY rounds a thread uses its object
 * after check_obj_free() (but before kfree): exactly those are reported.
 */
static int churn_thread(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < iters(); i++) {
		struct tobj *o = kmalloc(sizeof(*o), GFP_KERNEL);

		if (!o)
			return -ENOMEM;
		check_obj_alloc(o, sizeof(*o), "churn");
		check_obj_access(&o->a, "churn_use");
		o->a = i;
		check_obj_free(o);
		if (i % UAF_EVERY == 0)
			check_obj_access(&o->b, "churn_late");
		kfree(o);
	}
	return 0;
}

static void test_concurrent_real_threads(void **state)
{
	struct task_struct *t[NTHREADS];
	struct mm_leak_check lc;
	unsigned long expect = 0;

	(void)state;
	mm_leak_check_begin(&lc);
	objlife_begin();
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = kthread_run(churn_thread, NULL, "churn%d", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	for (unsigned int i = 0; i < iters(); i++)
		expect += i % UAF_EVERY == 0;
	expect *= NTHREADS;
	assert_int_equal(check_nr_violations(CHECK_USE_AFTER_FREE), expect);
	assert_int_equal(check_nr_violations(0), expect);
	assert_non_null(strstr(check_violation(0)->what, "churn_late"));
	objlife_end();
	mm_leak_check_end(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_after_free_reported),
		cmocka_unit_test(test_realloc_same_address_not_reported),
		cmocka_unit_test(test_unknown_ignored),
		cmocka_unit_test(test_double_free_reported),
		cmocka_unit_test(test_off_disable_reset_forget),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_concurrent_real_threads),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
