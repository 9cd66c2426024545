// SPDX-License-Identifier: MIT
/*
 * The oracle's translated-access rules, one test each: a test-local
 * driver (tdev.h) broken in one way provokes exactly one violation of
 * exactly that rule, and the report names the va, the frame and the
 * device.  Then the oracle's own bookkeeping: shadows travel with COW
 * copies, disable/reset forget what they must, a device that mapped while
 * the oracle was off is not held to the registry.
 */
#include "tdev.h"

#define NP 8

struct env {
	struct mm_leak_check leaks;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	unsigned long a;
	struct tdev d;
};

static void env_up(struct env *e, const char *name)
{
	mm_leak_check_begin(&e->leaks);
	e->mm = mm_alloc();
	assert_false(IS_ERR(e->mm));
	e->cpu = cpu_create(e->mm);
	assert_false(IS_ERR(e->cpu));
	e->a = test_map(e->mm, NP * PAGE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE);
	tdev_init(&e->d, e->mm, e->a, NP, name);
	oracle_begin();
	check_set_output(NULL);
}

static void env_down(struct env *e)
{
	check_disable();
	tdev_fini(&e->d);
	cpu_destroy(e->cpu);
	mm_exit(e->mm);
	check_reset();
	mm_leak_check_end(&e->leaks);
}

static void expect_at(const struct check_violation *v, struct env *e,
		      unsigned long va, unsigned long pfn, const char *dev)
{
	assert_ptr_equal(v->mm, e->mm);
	assert_int_equal(v->va, va);
	assert_int_equal(v->pfn, pfn);
	assert_string_equal(v->device, dev);
	assert_string_equal(v->thread, "main");
}

/* A correct driver on a correct host: nothing to report. */
static void test_correct_driver(void **state)
{
	struct env e;
	u64 v = 0x1111, r = 0;

	(void)state;
	env_up(&e, "good");
	assert_int_equal(tdev_fault(&e.d, e.a, e.a + NP * PAGE_SIZE, true), 0);
	assert_int_equal(tdev_access(&e.d, e.a + 8, &v, 8, true), 0);
	assert_int_equal(test_load(e.cpu, e.a + 8), 0x1111);
	test_store(e.cpu, e.a + 16, 0x2222);
	assert_int_equal(tdev_access(&e.d, e.a + 16, &r, 8, false), 0);
	assert_int_equal(r, 0x2222);
	/* Invalidations the driver honours. */
	assert_int_equal(vm_mprotect(e.mm, e.a, PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(tdev_access(&e.d, e.a + 8, &v, 8, true), -EFAULT);
	assert_int_equal(vm_munmap(e.mm, e.a + PAGE_SIZE, PAGE_SIZE), 0);
	assert_int_equal(tdev_access(&e.d, e.a + PAGE_SIZE, &r, 8, false),
			 -EFAULT);
	assert_int_equal(tdev_fault(&e.d, e.a, e.a + PAGE_SIZE, false), 0);
	assert_int_equal(tdev_access(&e.d, e.a + 8, &r, 8, false), 0);
	assert_int_equal(r, 0x1111);
	assert_int_equal(check_finish(), 0);
	env_down(&e);
}

/* (ii) The callback ignores mprotect(PROT_READ); the device writes on. */
static void test_permission_after_mprotect(void **state)
{
	struct env e;
	unsigned long va, pfn;
	u64 v = 7;

	(void)state;
	env_up(&e, "wr-on");
	e.d.ignore_invalidate = true;
	va = e.a + 2 * PAGE_SIZE;
	assert_int_equal(tdev_fault(&e.d, va, va + PAGE_SIZE, true), 0);
	pfn = tdev_pfn(&e.d, va);
	assert_int_equal(tdev_access(&e.d, va + 8, &v, 8, true), 0);
	assert_int_equal(check_nr_violations(0), 0);
	assert_int_equal(vm_mprotect(e.mm, va, PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(tdev_access(&e.d, va + 8, &v, 8, true), 0);
	expect_at(expect_one(CHECK_PERMISSION), &e, va + 8, pfn, "wr-on");
	/* A read through it is a stale access instead. */
	check_reset();
	assert_int_equal(tdev_access(&e.d, va, &v, 8, false), 0);
	expect_at(expect_one(CHECK_STALE), &e, va, pfn, "wr-on");
	env_down(&e);
}

/* The translation outlives munmap, and the frame is freed. */
static void test_use_after_free(void **state)
{
	struct env e;
	unsigned long va, pfn;
	u64 v = 0;

	(void)state;
	env_up(&e, "uaf");
	e.d.ignore_invalidate = true;
	va = e.a + 3 * PAGE_SIZE;
	assert_int_equal(tdev_fault(&e.d, va, va + PAGE_SIZE, true), 0);
	pfn = tdev_pfn(&e.d, va);
	assert_int_equal(vm_munmap(e.mm, va, PAGE_SIZE), 0);
	assert_int_equal(tdev_access(&e.d, va + 24, &v, 8, false), 0);
	expect_at(expect_one(CHECK_USE_AFTER_FREE), &e, va + 24, pfn, "uaf");
	assert_non_null(strstr(check_violation(0)->events, "maps"));
	assert_non_null(strstr(check_violation(0)->events, "UNMAP"));
	env_down(&e);
}

/* A checked device write, then the frame changes behind every checked
 * path (a simulated host bug): the next CPU load and device read see it. */
static void test_lost_write(void **state)
{
	struct env e;
	unsigned long va, pfn;
	u64 v = 0xabcdef, r;

	(void)state;
	env_up(&e, "lw");
	va = e.a + 4 * PAGE_SIZE;
	assert_int_equal(tdev_fault(&e.d, va, va + PAGE_SIZE, true), 0);
	pfn = tdev_pfn(&e.d, va);
	assert_int_equal(tdev_access(&e.d, va + 32, &v, 8, true), 0);
	assert_int_equal(test_load(e.cpu, va + 32), 0xabcdef);
	assert_int_equal(check_nr_violations(0), 0);
	__atomic_store_n((u64 *)pfn_to_virt(pfn) + 4, 0x5, __ATOMIC_RELAXED);
	assert_int_equal(test_load(e.cpu, va + 32), 0x5);
	expect_at(expect_one(CHECK_LOST_WRITE), &e, va + 32, pfn, "cpu");
	check_reset();
	/* After a reset the shadow is gone: nothing to compare. */
	assert_int_equal(tdev_access(&e.d, va + 32, &r, 8, false), 0);
	assert_int_equal(check_nr_violations(0), 0);
	/* A CPU store is tracked too; the device read catches the loss. */
	test_store(e.cpu, va + 40, 0x77);
	__atomic_store_n((u64 *)pfn_to_virt(pfn) + 5, 0x8, __ATOMIC_RELAXED);
	assert_int_equal(tdev_access(&e.d, va + 40, &r, 8, false), 0);
	expect_at(expect_one(CHECK_LOST_WRITE), &e, va + 40, pfn, "lw");
	env_down(&e);
}

/* An access the device never registered. */
static void test_unregistered(void **state)
{
	struct env e;
	unsigned long va, pfn;
	u64 r;

	(void)state;
	env_up(&e, "unreg");
	va = e.a + 5 * PAGE_SIZE;
	test_store(e.cpu, va, 1);
	pfn = test_pfn_at(e.mm, va, NULL);
	assert_int_equal(check_dev_read(&e.d.cdev, e.mm, va, pfn, &r, 8), 0);
	assert_int_equal(r, 1);
	expect_at(expect_one(CHECK_PROTOCOL), &e, va, pfn, "unreg");
	/* Argument checks: nothing accessed, nothing reported. */
	assert_int_equal(
		check_dev_read(&e.d.cdev, e.mm, va + PAGE_SIZE - 4, pfn, &r, 8),
		-EINVAL);
	assert_int_equal(check_dev_read(&e.d.cdev, e.mm, va, max_pfn, &r, 8),
			 -EINVAL);
	assert_int_equal(check_dev_write(NULL, e.mm, va, pfn, &r, 8), -EINVAL);
	assert_int_equal(check_nr_violations(0), 1);
	env_down(&e);
}

/* The CPU PTE moved to another frame behind the device (COW) while the
 * driver ignored the invalidation: stale, not a use after free (the old
 * frame is still the child's). */
static void test_stale_after_cow(void **state)
{
	struct env e;
	struct mm_struct *child;
	unsigned long va, pfn;
	u64 r;

	(void)state;
	env_up(&e, "cow");
	e.d.ignore_invalidate = true;
	va = e.a + 6 * PAGE_SIZE;
	assert_int_equal(tdev_fault(&e.d, va, va + PAGE_SIZE, false), 0);
	pfn = tdev_pfn(&e.d, va);
	child = mm_fork(e.mm);
	assert_false(IS_ERR(child));
	test_store(e.cpu, va, 3); /* COW: the parent moves to a new frame */
	assert_int_not_equal(test_pfn_at(e.mm, va, NULL), pfn);
	assert_int_equal(tdev_access(&e.d, va, &r, 8, false), 0);
	expect_at(expect_one(CHECK_STALE), &e, va, pfn, "cow");
	check_disable();
	mm_exit(child);
	env_down(&e);
}

/* COW copies carry the shadow: a word written before fork and lost from
 * the parent's copy afterwards is caught. */
static void test_shadow_follows_cow(void **state)
{
	struct env e;
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	unsigned long va, pfn;

	(void)state;
	env_up(&e, "sh");
	va = e.a + 7 * PAGE_SIZE;
	test_store(e.cpu, va + 8, 0x11);
	child = mm_fork(e.mm);
	ccpu = cpu_create(child);
	test_store(e.cpu, va, 0x22); /* the parent copies */
	pfn = test_pfn_at(e.mm, va, NULL);
	assert_int_equal(test_load(e.cpu, va + 8), 0x11);
	assert_int_equal(test_load(ccpu, va + 8), 0x11);
	assert_int_equal(check_nr_violations(0), 0);
	__atomic_store_n((u64 *)pfn_to_virt(pfn) + 1, 0, __ATOMIC_RELAXED);
	assert_int_equal(test_load(e.cpu, va + 8), 0);
	expect_at(expect_one(CHECK_LOST_WRITE), &e, va + 8, pfn, "cpu");
	assert_int_equal(test_load(ccpu, va + 8), 0x11);
	assert_int_equal(check_nr_violations(0), 1);
	check_disable();
	cpu_destroy(ccpu);
	mm_exit(child);
	env_down(&e);
}

/* Off means off; a device that mapped while off is not held to the
 * registry; disable drops shadows that could no longer be trusted. */
static void test_enable_disable(void **state)
{
	struct env e;
	unsigned long va;
	u64 r = 5;

	(void)state;
	env_up(&e, "onoff");
	va = e.a;
	check_disable();
	assert_false(check_enabled());
	assert_int_equal(tdev_fault(&e.d, va, va + PAGE_SIZE, true), 0);
	check_enable();
	assert_int_equal(tdev_access(&e.d, va, &r, 8, true), 0);
	assert_int_equal(check_nr_violations(0), 0);
	/* Tracked write, then an untracked CPU store while off. */
	check_disable();
	test_store(e.cpu, va, 9);
	check_enable();
	assert_int_equal(test_load(e.cpu, va), 9);
	assert_int_equal(check_nr_violations(0), 0);
	assert_string_equal(check_rule_name(CHECK_LOST_WRITE), "lost-write");
	assert_int_equal(check_rule_by_name("pin"), CHECK_PIN);
	assert_int_equal(check_rule_by_name("nope"), 0);
	assert_null(check_rule_name(0));
	env_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_correct_driver),
		cmocka_unit_test(test_permission_after_mprotect),
		cmocka_unit_test(test_use_after_free),
		cmocka_unit_test(test_lost_write),
		cmocka_unit_test(test_unregistered),
		cmocka_unit_test(test_stale_after_cow),
		cmocka_unit_test(test_shadow_follows_cow),
		cmocka_unit_test(test_enable_disable),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
