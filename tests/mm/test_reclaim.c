// SPDX-License-Identifier: MIT
/*
 * The LRU, aging and reclaim: pages join and leave the LRU, aging clears
 * accessed bits and asks secondary MMUs (clear_flush_young), a page young
 * on either MMU survives reclaim, reclaim brackets each unmap with an
 * MMU_NOTIFY_CLEAR invalidation of exactly that page (mapped at start,
 * a swap entry at end), and the pressure knobs (frame limit, kswapd)
 * keep memory bounded without losing data.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/mmu_notifier.h>
#include <mmirror/swap.h>

#define RW (PROT_READ | PROT_WRITE)

static struct mm_leak_check leak;

/*
 * A recording subscriber.  Its callbacks run in whichever thread reclaims
 * (the test's direct reclaim and kswapd at once), so every field is
 * updated with relaxed atomics; the test reads them once those threads
 * are done (kswapd_stop() joins), which orders the updates before.
 */
#define R_INC(f) __atomic_add_fetch(&R.f, 1, __ATOMIC_RELAXED)
#define R_SET(f, v) __atomic_store_n(&R.f, (v), __ATOMIC_RELAXED)
#define R_GET(f) __atomic_load_n(&R.f, __ATOMIC_RELAXED)
static struct {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	int cfy_calls; /* clear_flush_young calls */
	unsigned long cfy_start, cfy_end; /* the last one's range */
	unsigned long young_addr; /* report this page young (0: none) */
	int starts, ends, clear_events;
	bool bad_bracket; /* a CLEAR range not one page, or wrong state */
} R;

static int rec_cfy(struct mmu_notifier *mn, struct mm_struct *mm,
		   unsigned long start, unsigned long end)
{
	unsigned long young = __atomic_load_n(&R.young_addr, __ATOMIC_RELAXED);

	R_INC(cfy_calls);
	R_SET(cfy_start, start);
	R_SET(cfy_end, end);
	return young >= start && young < end;
}

static bool mapped(unsigned long va)
{
	return test_pfn_at(R.mm, va, NULL) != 0;
}

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	R_INC(starts);
	if (range->event == MMU_NOTIFY_CLEAR) {
		R_INC(clear_events);
		if (range->end - range->start != PAGE_SIZE ||
		    !mapped(range->start))
			R_SET(bad_bracket, true);
	}
	return 0;
}

static void rec_end(struct mmu_notifier *mn,
		    const struct mmu_notifier_range *range)
{
	R_INC(ends);
	if (range->event == MMU_NOTIFY_CLEAR && mapped(range->start))
		R_SET(bad_bracket, true);
}

static const struct mmu_notifier_ops rec_ops = {
	.clear_flush_young = rec_cfy,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
};

static int setup(void **state)
{
	mm_leak_check_begin(&leak);
	memset(&R, 0, sizeof(R));
	R.mm = mm_alloc();
	R.mn.ops = &rec_ops;
	assert_int_equal(mmu_notifier_register(&R.mn, R.mm), 0);
	return 0;
}

static int teardown(void **state)
{
	mmu_notifier_unregister(&R.mn, R.mm);
	mm_exit(R.mm);
	vm_set_frame_limit(0);
	swap_cache_drain();
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(lru_nr_pages(), 0);
	mm_leak_check_end(&leak);
	return 0;
}

static void touch(struct sim_cpu *cpu, long a, int n)
{
	for (int i = 0; i < n; i++)
		test_store(cpu, a + i * PAGE_SIZE, a + i * PAGE_SIZE);
}

static void check(struct sim_cpu *cpu, long a, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(test_load(cpu, a + i * PAGE_SIZE),
				 a + i * PAGE_SIZE);
}

static void test_lru_membership(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 8 * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long before = lru_nr_pages();

	test_load(cpu, a); /* the zero page: not on the LRU */
	assert_int_equal(lru_nr_pages(), before);
	touch(cpu, a, 8);
	assert_int_equal(lru_nr_pages(), before + 8);
	assert_int_equal(vm_madvise(R.mm, a, 4 * PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(lru_nr_pages(), before + 4);
	cpu_destroy(cpu);
}

static void test_aging(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long young;
	u64 e;

	touch(cpu, a, 4);
	assert_true(test_pfn_at(R.mm, a, &e) && (e & _PAGE_ACCESSED));
	assert_int_equal(lru_age_pages(~0UL, &young), 4);
	assert_int_equal(young, 4);
	assert_int_equal(R_GET(cfy_calls), 4);
	assert_int_equal(R_GET(cfy_end) - R_GET(cfy_start), PAGE_SIZE);
	for (int i = 0; i < 4; i++) {
		assert_true(test_pfn_at(R.mm, a + i * PAGE_SIZE, &e));
		assert_false(e & _PAGE_ACCESSED);
	}
	/* Nothing touched since: cold.  Unless the device says young. */
	assert_int_equal(lru_age_pages(~0UL, &young), 4);
	assert_int_equal(young, 0);
	R_SET(young_addr, a + 2 * PAGE_SIZE);
	assert_int_equal(lru_age_pages(~0UL, &young), 4);
	assert_int_equal(young, 1);
	cpu_destroy(cpu);
}

static void test_young_page_survives(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long pfn;

	touch(cpu, a, 4);
	pfn = test_pfn_at(R.mm, a + PAGE_SIZE, NULL);
	R_SET(young_addr, a + PAGE_SIZE); /* the device keeps using it */
	assert_int_equal(vm_reclaim(~0UL), 3);
	assert_int_equal(test_pfn_at(R.mm, a + PAGE_SIZE, NULL), pfn);
	R_SET(young_addr, 0);
	assert_int_equal(vm_reclaim(~0UL), 1);
	check(cpu, a, 4);
	cpu_destroy(cpu);
}

static void test_reclaim_brackets(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);

	touch(cpu, a, 4);
	R_SET(starts, 0);
	R_SET(ends, 0);
	R_SET(clear_events, 0);
	assert_int_equal(vm_reclaim(~0UL), 4);
	assert_int_equal(R_GET(clear_events), 4);
	assert_int_equal(R_GET(starts), R_GET(ends));
	assert_false(R_GET(bad_bracket));
	check(cpu, a, 4);
	cpu_destroy(cpu);
}

static unsigned long frames_used(void)
{
	return totalram_pages() - nr_free_pages();
}

static void test_frame_limit(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 256 * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long base = frames_used(), peak = 0;

	oracle_begin();
	vm_set_frame_limit(base + 64);
	assert_int_equal(vm_frame_limit(), base + 64);
	for (int i = 0; i < 256; i++) {
		touch(cpu, a + i * PAGE_SIZE, 1);
		peak = max(peak, frames_used());
	}
	/* Direct reclaim keeps it near the limit (tables and the batch
	 * of one reclaim pass are the slack). */
	assert_true(peak <= base + 64 + SWAP_CLUSTER_MAX);
	assert_true(swap_slots_used() >= 256 - 64 - SWAP_CLUSTER_MAX);
	vm_set_frame_limit(0);
	check(cpu, a, 256);
	oracle_end_clean();
	cpu_destroy(cpu);
}

static void test_kswapd(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 128 * PAGE_SIZE, RW, MAP_PRIVATE);

	oracle_begin();
	assert_int_equal(kswapd_start(), 0);
	assert_int_equal(kswapd_start(), -EBUSY);
	vm_set_frame_limit(frames_used() + 32);
	touch(cpu, a, 128);
	check(cpu, a, 128);
	kswapd_stop();
	kswapd_stop(); /* idempotent */
	vm_set_frame_limit(0);
	check(cpu, a, 128);
	oracle_end_clean();
	cpu_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lru_membership, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_young_page_survives, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_brackets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_frame_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kswapd, setup, teardown),
	};

	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
