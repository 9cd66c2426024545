// SPDX-License-Identifier: MIT
/*
 * (i) Seed 000 caught deterministically: a mirror driver that skips
 * mmu_interval_read_retry().  Completions force the interleaving:
 *
 *   driver thread                      test / munmap thread
 *   hmm_range_fault(): pfn A
 *   complete(faulted), wait(go) ---->
 *                                      vm_munmap(): start, zap, flush,
 *                                      free A, end      (variant 1)
 *                                      vm_munmap() stopped in its TLB
 *                                      flush, between start and end
 *                                                       (variant 2)
 *   <---- complete(go)
 *   no read_retry: install pfn A, access   -> CHECK_STALE
 *
 * Variant 1: the invalidation is over; the device maps a frame the CPU
 * page table no longer maps.  Variant 2: the invalidation is in flight;
 * the translation is born stale.  The correct driver, same interleaving,
 * retries and reports nothing.
 */
#include "tdev.h"
#include <mmirror/kthread.h>

struct race {
	struct mm_struct *mm;
	unsigned long va;
	struct tdev d;
	struct completion faulted, go, in_flush, release;
	bool block_flush;
	struct mmu_notifier blocker;
	u64 read;
};

static void blocker_flush(struct mmu_notifier *sub, struct mm_struct *mm,
			  unsigned long start, unsigned long end)
{
	struct race *r = container_of(sub, struct race, blocker);

	if (!READ_ONCE(r->block_flush))
		return;
	WRITE_ONCE(r->block_flush, false);
	complete(&r->in_flush);
	wait_for_completion(&r->release);
}

static const struct mmu_notifier_ops blocker_ops = {
	.arch_invalidate_secondary_tlbs = blocker_flush,
};

static int driver_thread(void *arg)
{
	struct race *r = arg;
	int ret;

	check_set_thread_name("driver");
	ret = tdev_fault(&r->d, r->va, r->va + PAGE_SIZE, false);
	/* The correct driver retried and found the page gone. */
	if (ret == -EFAULT && !r->d.skip_retry)
		return 0;
	CHECK(ret == 0);
	CHECK(tdev_access(&r->d, r->va, &r->read, 8, false) == 0);
	return 1;
}

static int munmap_thread(void *arg)
{
	struct race *r = arg;

	CHECK(vm_munmap(r->mm, r->va, PAGE_SIZE) == 0);
	return 0;
}

static void race_up(struct race *r, bool skip_retry)
{
	struct sim_cpu *cpu;

	memset(r, 0, sizeof(*r));
	r->mm = mm_alloc();
	r->va = test_map(r->mm, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE);
	cpu = cpu_create(r->mm);
	test_store(cpu, r->va, 0x5eed);
	cpu_destroy(cpu);
	init_completion(&r->faulted);
	init_completion(&r->go);
	init_completion(&r->in_flush);
	init_completion(&r->release);
	tdev_init(&r->d, r->mm, r->va, 4, "mirror");
	r->d.skip_retry = skip_retry;
	r->d.faulted = &r->faulted;
	r->d.go = &r->go;
	r->blocker.ops = &blocker_ops;
	assert_int_equal(mmu_notifier_register(&r->blocker, r->mm), 0);
	oracle_begin();
	check_set_output(NULL);
}

static void race_down(struct race *r)
{
	check_disable();
	mmu_notifier_unregister(&r->blocker, r->mm);
	tdev_fini(&r->d);
	mm_exit(r->mm);
	check_reset();
}

/* The driver has read the page tables; let the device go on after
 * @munmap_done, then collect it.  Returns the driver's result. */
static int race_run(struct race *r, bool in_flight)
{
	struct task_struct *drv, *unm;
	int ret;

	drv = kthread_run(driver_thread, r, "driver");
	assert_false(IS_ERR(drv));
	wait_for_completion(&r->faulted);
	r->d.faulted = NULL; /* the retry, if any, does not stop */
	WRITE_ONCE(r->block_flush, in_flight);
	unm = kthread_run(munmap_thread, r, "munmap");
	assert_false(IS_ERR(unm));
	if (in_flight)
		wait_for_completion(&r->in_flush);
	else
		assert_int_equal(kthread_join(unm), 0);
	complete(&r->go);
	if (!in_flight)
		return kthread_join(drv);
	/* The correct driver's retry waits for the end: let it come. */
	if (!r->d.skip_retry)
		complete(&r->release);
	ret = kthread_join(drv);
	if (r->d.skip_retry)
		complete(&r->release);
	assert_int_equal(kthread_join(unm), 0);
	return ret;
}

static void check_stale_report(struct race *r, unsigned long pfn)
{
	const struct check_violation *v = expect_one(CHECK_STALE);

	assert_ptr_equal(v->mm, r->mm);
	assert_int_equal(v->va, r->va);
	assert_int_equal(v->pfn, pfn);
	assert_string_equal(v->device, "mirror");
	assert_string_equal(v->thread, "driver");
	assert_non_null(strstr(v->events, "invalidate_range_start UNMAP"));
	assert_non_null(strstr(v->events, "mirror maps"));
}

static void test_seed000_after_invalidation(void **state)
{
	struct race r;
	unsigned long pfn;

	(void)state;
	race_up(&r, true);
	pfn = test_pfn_at(r.mm, r.va, NULL);
	assert_int_equal(race_run(&r, false), 1);
	assert_int_equal(tdev_pfn(&r.d, r.va), pfn);
	check_stale_report(&r, pfn);
	assert_non_null(strstr(check_violation(0)->what, "no longer maps"));
	assert_non_null(
		strstr(check_violation(0)->events, "invalidate_range_end"));
	race_down(&r);
}

static void test_seed000_in_flight(void **state)
{
	struct race r;
	unsigned long pfn;

	(void)state;
	race_up(&r, true);
	pfn = test_pfn_at(r.mm, r.va, NULL);
	assert_int_equal(race_run(&r, true), 1);
	assert_int_equal(r.read, 0x5eed); /* the frame was not freed yet */
	check_stale_report(&r, pfn);
	assert_non_null(strstr(check_violation(0)->what, "invalidation"));
	race_down(&r);
}

static void test_seed000_correct_driver(void **state)
{
	struct race r;

	(void)state;
	for (int in_flight = 0; in_flight < 2; in_flight++) {
		race_up(&r, false);
		assert_int_equal(race_run(&r, in_flight), 0);
		assert_int_equal(check_nr_violations(0), 0);
		race_down(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed000_after_invalidation),
		cmocka_unit_test(test_seed000_in_flight),
		cmocka_unit_test(test_seed000_correct_driver),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
