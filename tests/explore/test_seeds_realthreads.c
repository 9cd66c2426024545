// SPDX-License-Identifier: MIT
/*
 * The seed scenarios of tools/mmirror/explore_scenarios.c without the
 * explorer.
 *
 * Real threads: each correct scenario runs setup/run/teardown many times
 * under the oracle and must never report a violation, and every frame,
 * object and mm must come back.  The flawed scenarios run too (they may
 * or may not hit their narrow window; they must not crash or leak):
 * seed002-flawed's freed device is quarantined until a grace period
 * after the put, so a late callback is reported by the oracle, never a
 * real use of freed memory (drivers/flawed/seed002.c).
 *
 * Forced: each flaw is shown with completions (drivers/flawed pause
 * hooks), like tests/check/test_seed000.c: the interleaving the explorer
 * is meant to find, and the rule the oracle reports for it.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/kthread.h>
#include <mmirror/mmu_notifier.h>
#include "explore_scenarios.h"
#include "flawed/seed000.h"
#include "flawed/seed002.h"
#include "flawed/seed004.h"

#define ROUNDS 200

static void run_once(const struct explore_scenario *s)
{
	void *ctx = NULL;

	assert_int_equal(s->setup(&ctx), 0);
	s->run(ctx);
	s->teardown(ctx);
}

static void run_clean(const struct explore_scenario *s, unsigned int rounds)
{
	struct mm_leak_check lc;

	mm_leak_check_begin(&lc);
	oracle_begin();
	for (unsigned int i = 0; i < rounds; i++)
		run_once(s);
	oracle_end_clean();
	mm_leak_check_end(&lc);
}

static void test_seed000_correct(void **state)
{
	(void)state;
	run_clean(&explore_seed000_correct, ROUNDS);
}

static void test_seed002_correct(void **state)
{
	(void)state;
	run_clean(&explore_seed002_correct, ROUNDS);
}

static void test_seed004_correct(void **state)
{
	(void)state;
	run_clean(&explore_seed004_correct, ROUNDS);
}

/* Flawed scenarios with real threads: violations allowed, leaks and
 * crashes not. */
static void test_flawed_real_threads_no_leak(void **state)
{
	struct mm_leak_check lc;

	(void)state;
	mm_leak_check_begin(&lc);
	oracle_begin();
	check_set_output(NULL);
	for (unsigned int i = 0; i < ROUNDS / 4; i++) {
		run_once(&explore_seed000_flawed);
		run_once(&explore_seed004_flawed);
		run_once(&explore_seed002_flawed);
	}
	check_disable();
	check_reset();
	mm_leak_check_end(&lc);
}

/* --- forced interleavings ------------------------------------------------ */

struct world {
	struct f000_dev *d0;
	struct f002_dev *d2;
	struct f004_dev *d4;
	struct mm_struct *mm;
	unsigned long va, pfn;
	struct completion paused, go;
	struct mm_leak_check lc;
};

static void world_up(struct world *w)
{
	struct sim_cpu *cpu;

	memset(w, 0, sizeof(*w));
	mm_leak_check_begin(&w->lc);
	w->mm = mm_alloc();
	w->va = test_map(w->mm, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE);
	cpu = cpu_create(w->mm);
	test_store(cpu, w->va, 0x5eed);
	cpu_destroy(cpu);
	w->pfn = test_pfn_at(w->mm, w->va, NULL);
	assert_int_not_equal(w->pfn, 0);
	init_completion(&w->paused);
	init_completion(&w->go);
	oracle_begin();
	check_set_output(NULL);
}

static void world_down(struct world *w)
{
	check_disable();
	mm_exit(w->mm);
	check_reset();
}

/* The one report (of @rule) of a device that kept @w's first page. */
static void expect_report(struct world *w, enum check_rule rule,
			  const char *device)
{
	const struct check_violation *v;

	if (check_nr_violations(0) != 1 || check_nr_violations(rule) != 1)
		oracle_dump();
	assert_int_equal(check_nr_violations(rule), 1);
	assert_int_equal(check_nr_violations(0), 1);
	v = check_violation(0);
	assert_int_equal(v->rule, rule);
	assert_ptr_equal(v->mm, w->mm);
	assert_int_equal(v->va, w->va);
	assert_int_equal(v->pfn, w->pfn);
	assert_string_equal(v->device, device);
	assert_non_null(strstr(v->events, "invalidate_range_start UNMAP"));
}

static int fault_thread(void *arg)
{
	struct world *w = arg;

	check_set_thread_name("device");
	return w->d0 ? f000_fault(w->d0, w->va) : f004_fault(w->d4, w->va);
}

/*
 *   device (f000/f004)                 test thread
 *   read the PTE / GUP: frame A
 *   complete(paused), wait(go) ---->
 *                                      vm_munmap(va): start (flag/list
 *                                      says "busy"), zap, free, end
 *                                      (flag/list says "quiet" again)
 *   <---- complete(go)
 *   lock; quiet: install A; unlock
 *                                      device read of va -> CHECK_STALE
 */
static void force_fault_vs_munmap(struct world *w)
{
	struct task_struct *t = kthread_run(fault_thread, w, "device");

	assert_false(IS_ERR(t));
	wait_for_completion(&w->paused);
	assert_int_equal(vm_munmap(w->mm, w->va, PAGE_SIZE), 0);
	assert_int_equal(test_pfn_at(w->mm, w->va, NULL), 0);
	complete(&w->go);
	/* The flawed driver installed what it read. */
	assert_int_equal(kthread_join(t), 0);
}

static void test_seed000_flawed_forced(void **state)
{
	struct world w;
	struct fdev_pause p = { &w.paused, &w.go };
	u64 v;

	(void)state;
	world_up(&w);
	w.d0 = f000_create(w.mm, w.va, 2, "f000");
	assert_non_null(w.d0);
	fdev_set_pause(f000_fdev(w.d0), &p);
	force_fault_vs_munmap(&w);
	assert_int_equal(fdev_pfn(f000_fdev(w.d0), w.va), w.pfn);
	assert_int_equal(fdev_read(f000_fdev(w.d0), w.va, &v, sizeof(v)), 0);
	expect_report(&w, CHECK_STALE, "f000");
	assert_non_null(
		strstr(check_violation(0)->events, "invalidate_range_end"));
	f000_destroy(w.d0);
	world_down(&w);
	mm_leak_check_end(&w.lc);
}

static void test_seed004_flawed_forced(void **state)
{
	struct world w;
	struct fdev_pause p = { &w.paused, &w.go };
	u64 v;

	(void)state;
	world_up(&w);
	w.d4 = f004_create(w.mm, w.va, 2, "f004");
	assert_non_null(w.d4);
	fdev_set_pause(f004_fdev(w.d4), &p);
	force_fault_vs_munmap(&w);
	assert_int_equal(fdev_pfn(f004_fdev(w.d4), w.va), w.pfn);
	/* GUP's reference went with put_page(): the frame the device
	 * installed after the invalidation is freed, so its access is
	 * reported as the worse of the two rules it breaks. */
	assert_int_equal(fdev_read(f004_fdev(w.d4), w.va, &v, sizeof(v)), 0);
	expect_report(&w, CHECK_USE_AFTER_FREE, "f004");
	f004_destroy(w.d4);
	world_down(&w);
	mm_leak_check_end(&w.lc);
}

static int munmap_thread(void *arg)
{
	struct world *w = arg;

	return vm_munmap(w->mm, w->va, PAGE_SIZE);
}

static int close_correct_thread(void *arg)
{
	struct world *w = arg;

	f002_destroy(w->d2);
	return 0;
}

/*
 *   munmap                             test thread
 *   invalidate_range_start: the walk
 *   finds sub, callback entered
 *   complete(paused), wait(go) ---->
 *                                      flawed: put (unlink), free dev
 *                                      correct: put, synchronize (waits
 *                                      for the callback), free dev
 *   <---- complete(go)
 *   callback reads sub->dev: flawed -> freed device (CHECK_USE_AFTER_FREE)
 */
static void force_callback_vs_close(struct world *w, bool flawed)
{
	struct f002_pause p = { &w->paused, &w->go };
	struct task_struct *unm, *cls = NULL;

	w->d2 = f002_create(w->mm, "f002");
	assert_non_null(w->d2);
	f002_set_pause(w->d2, &p);
	unm = kthread_run(munmap_thread, w, "munmap");
	assert_false(IS_ERR(unm));
	wait_for_completion(&w->paused);
	if (flawed) {
		check_set_thread_name("close");
		f002_destroy_flawed(w->d2);
		check_set_thread_name(NULL);
	} else {
		cls = kthread_run(close_correct_thread, w, "close");
		assert_false(IS_ERR(cls));
	}
	complete(&w->go);
	assert_int_equal(kthread_join(unm), 0);
	if (cls)
		assert_int_equal(kthread_join(cls), 0);
}

static void test_seed002_flawed_forced(void **state)
{
	const struct check_violation *v;
	struct world w;

	(void)state;
	world_up(&w);
	force_callback_vs_close(&w, true);
	/* The core kept its promise (the sub lived until the grace
	 * period), so no protocol report: the driver's own object died
	 * under its callback. */
	if (check_nr_violations(0) != 1)
		oracle_dump();
	assert_int_equal(check_nr_violations(CHECK_USE_AFTER_FREE), 1);
	assert_int_equal(check_nr_violations(0), 1);
	v = check_violation(0);
	assert_string_equal(v->device, "f002_dev");
	assert_string_equal(v->thread, "munmap");
	assert_non_null(strstr(v->what, "f002_inv_start"));
	assert_non_null(strstr(v->what, "by close"));
	assert_non_null(strstr(v->events, "close: check_obj_free f002_dev"));
	world_down(&w);
	/* The flawed destroy does not wait for the put's deferred free nor
	 * for its own (the quarantined device): the test does, before it
	 * counts what came back. */
	mmu_notifier_synchronize();
	mm_leak_check_end(&w.lc);
}

static void test_seed002_correct_forced(void **state)
{
	struct world w;

	(void)state;
	world_up(&w);
	force_callback_vs_close(&w, false);
	assert_int_equal(check_nr_violations(0), 0);
	world_down(&w);
	mm_leak_check_end(&w.lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed000_flawed_forced),
		cmocka_unit_test(test_seed004_flawed_forced),
		cmocka_unit_test(test_seed002_flawed_forced),
		cmocka_unit_test(test_seed002_correct_forced),
		cmocka_unit_test(test_seed000_correct),
		cmocka_unit_test(test_seed004_correct),
		cmocka_unit_test(test_seed002_correct),
		cmocka_unit_test(test_flawed_real_threads_no_leak),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	explore_scenarios_init();
	assert_ptr_equal(explore_find("seed000-flawed"),
			 &explore_seed000_flawed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
