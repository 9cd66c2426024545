// SPDX-License-Identifier: MIT
/*
 * The swap area and swap entries in every host-MMU path: slot accounting,
 * swap-out/swap-in with data intact (under the oracle, whose lost-write
 * shadow follows the bytes into the slot and back), fork sharing a slot,
 * zap/MADV_DONTNEED/mremap/mprotect of swap entries, GUP faulting a swap
 * entry in, a full swap area, and pinned pages never reclaimed.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/swap.h>

#define RW (PROT_READ | PROT_WRITE)
#define NPAGES 16

static struct mm_leak_check leak;

static int setup(void **state)
{
	assert_int_equal(swap_area_init(64), 0);
	mm_leak_check_begin(&leak);
	return 0;
}

static int teardown(void **state)
{
	swap_cache_drain();
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(swap_cache_pages(), 0);
	mm_leak_check_end(&leak);
	return 0;
}

static u64 pattern(unsigned long va, int gen)
{
	return (va * 0x9E3779B97F4A7C15ULL) ^ (u64)gen;
}

/* Fill @n pages at @a: one word per 512 bytes. */
static void fill(struct sim_cpu *cpu, long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		test_store(cpu, va, pattern(va, gen));
}

/* The words fill(@from) wrote, read at @to (moved there by mremap). */
static void verify_moved(struct sim_cpu *cpu, long from, long to, int n,
			 int gen)
{
	for (unsigned long off = 0; off < n * PAGE_SIZE; off += 512)
		assert_int_equal(test_load(cpu, to + off),
				 pattern(from + off, gen));
}

static void verify(struct sim_cpu *cpu, long a, int n, int gen)
{
	verify_moved(cpu, a, a, n, gen);
}

/* Swap out everything reclaimable (two looks at each page: the first
 * clears the accessed bits). */
static unsigned long swap_out_all(void)
{
	return vm_reclaim(~0UL);
}

static bool is_swapped(struct mm_struct *mm, unsigned long va)
{
	return test_pfn_at(mm, va, NULL) == 0;
}

static void test_round_trip(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	struct vm_reclaim_stat before, after;

	oracle_begin();
	fill(cpu, a, NPAGES, 1);
	vm_reclaim_stat(&before);
	assert_int_equal(swap_out_all(), NPAGES);
	vm_reclaim_stat(&after);
	assert_int_equal(after.pswpout - before.pswpout, NPAGES);
	assert_int_equal(swap_slots_used(), NPAGES);
	assert_int_equal(swap_cache_pages(), 0);
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), NPAGES);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 0);
	for (int i = 0; i < NPAGES; i++)
		assert_true(is_swapped(mm, a + i * PAGE_SIZE));
	/* Every word comes back; each slot is freed by its page's fault. */
	verify(cpu, a, NPAGES, 1);
	vm_reclaim_stat(&after);
	assert_int_equal(after.pswpin - before.pswpin, NPAGES);
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), 0);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), NPAGES);
	/* Exclusive after swap-in: a write reuses the page (no COW). */
	unsigned long pfn = test_pfn_at(mm, a, NULL);
	test_store(cpu, a, 42);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	/* Twice more: clean pages still in swap need no second write. */
	fill(cpu, a, NPAGES, 2);
	assert_int_equal(swap_out_all(), NPAGES);
	verify(cpu, a, NPAGES, 2);
	oracle_end_clean();
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_read_fault_then_write(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, PAGE_SIZE, RW, MAP_PRIVATE);
	u64 e;

	oracle_begin();
	test_store(cpu, a, 7);
	assert_int_equal(swap_out_all(), 1);
	/* A read fault maps it read-only but exclusive, slot freed. */
	assert_int_equal(test_load(cpu, a), 7);
	assert_int_equal(swap_slots_used(), 0);
	assert_true(test_pfn_at(mm, a, &e));
	assert_false(e & _PAGE_RW);
	test_store(cpu, a + 8, 8);
	assert_int_equal(test_load(cpu, a), 7);
	assert_int_equal(test_load(cpu, a + 8), 8);
	oracle_end_clean();
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_fork_shares_slot(void **state)
{
	struct mm_struct *mm = mm_alloc(), *child;
	struct sim_cpu *cpu = cpu_create(mm), *ccpu;
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);

	oracle_begin();
	fill(cpu, a, 4, 3);
	assert_int_equal(swap_out_all(), 4);
	child = mm_fork(mm);
	assert_false(IS_ERR(child));
	ccpu = cpu_create(child);
	/* One slot per page, named by both mms. */
	assert_int_equal(swap_slots_used(), 4);
	assert_int_equal(get_mm_counter(child, MM_SWAPENTS), 4);
	/* The child reads first: the page stays cached for the parent. */
	verify(ccpu, a, 4, 3);
	assert_int_equal(swap_slots_used(), 4);
	assert_int_equal(swap_cache_pages(), 4);
	/* The parent finds the same frames in the swap cache. */
	verify(cpu, a, 4, 3);
	for (int i = 0; i < 4; i++)
		assert_int_equal(test_pfn_at(mm, a + i * PAGE_SIZE, NULL),
				 test_pfn_at(child, a + i * PAGE_SIZE, NULL));
	/* Writes COW: neither sees the other's. */
	fill(ccpu, a, 4, 4);
	verify(cpu, a, 4, 3);
	fill(cpu, a, 4, 5);
	verify(ccpu, a, 4, 4);
	/* Swap both out again and back, then drop the child.  The old
	 * cached pages no entry names any more go too, unwritten. */
	assert_int_equal(swap_out_all(), 12);
	assert_int_equal(swap_slots_used(), 8);
	verify(ccpu, a, 4, 4);
	verify(cpu, a, 4, 5);
	cpu_destroy(ccpu);
	mm_exit(child);
	oracle_end_clean();
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_fork_then_exit_drops_counts(void **state)
{
	struct mm_struct *mm = mm_alloc(), *child;
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);

	fill(cpu, a, 4, 6);
	assert_int_equal(swap_out_all(), 4);
	child = mm_fork(mm);
	assert_false(IS_ERR(child));
	mm_exit(child); /* zap: one count less per slot */
	assert_int_equal(swap_slots_used(), 4);
	verify(cpu, a, 4, 6); /* the last entry: exclusive again */
	assert_int_equal(swap_slots_used(), 0);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_zap_swap_entries(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 8 * PAGE_SIZE, RW, MAP_PRIVATE);

	fill(cpu, a, 8, 7);
	assert_int_equal(swap_out_all(), 8);
	assert_int_equal(vm_madvise(mm, a, 4 * PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(swap_slots_used(), 4);
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), 4);
	assert_int_equal(test_load(cpu, a), 0); /* zeroes, as DONTNEED */
	assert_int_equal(vm_munmap(mm, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), 0);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_mremap_mprotect(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	long dst = test_map(mm, 8 * PAGE_SIZE, RW, MAP_PRIVATE), b;

	fill(cpu, a, 4, 8);
	assert_int_equal(swap_out_all(), 4);
	/* The entries move as they are. */
	b = vm_mremap(mm, a, 4 * PAGE_SIZE, 4 * PAGE_SIZE,
		      MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	assert_int_equal(b, dst);
	assert_true(is_swapped(mm, b));
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), 4);
	/* mprotect leaves swap entries alone; the fault obeys the VMA. */
	assert_int_equal(vm_mprotect(mm, b, 4 * PAGE_SIZE, PROT_READ), 0);
	assert_true(is_swapped(mm, b));
	assert_int_equal(cpu_store_u64(cpu, b, 1), -EACCES);
	verify_moved(cpu, a, b, 4, 8);
	assert_int_equal(vm_mprotect(mm, b, 4 * PAGE_SIZE, RW), 0);
	test_store(cpu, b, 9);
	assert_int_equal(test_load(cpu, b), 9);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_gup_faults_swap_in(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *pages[2];

	fill(cpu, a, 2, 9);
	assert_int_equal(swap_out_all(), 2);
	assert_int_equal(pin_user_pages_fast(mm, a, 2, FOLL_WRITE, pages), 2);
	for (int i = 0; i < 2; i++) {
		u64 *w = page_address(pages[i]);

		assert_int_equal(w[0], pattern(a + i * PAGE_SIZE, 9));
		assert_int_equal(page_to_pfn(pages[i]),
				 test_pfn_at(mm, a + i * PAGE_SIZE, NULL));
	}
	unpin_user_pages(pages, 2);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_pinned_never_reclaimed(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct vm_reclaim_stat before, after;
	struct page *page;
	unsigned long pfn;

	oracle_begin();
	fill(cpu, a, 4, 10);
	assert_int_equal(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &page), 1);
	pfn = page_to_pfn(page);
	vm_reclaim_stat(&before);
	assert_int_equal(swap_out_all(), 3);
	vm_reclaim_stat(&after);
	assert_true(after.skipped_pinned > before.skipped_pinned);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	assert_int_equal(swap_slots_used(), 3);
	unpin_user_page(page);
	assert_int_equal(swap_out_all(), 1);
	verify(cpu, a, 4, 10);
	oracle_end_clean();
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_area_full(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 8 * PAGE_SIZE, RW, MAP_PRIVATE);

	assert_int_equal(swap_area_init(4), 0);
	assert_int_equal(swap_slots_total(), 4);
	fill(cpu, a, 8, 11);
	assert_int_equal(swap_out_all(), 4);
	assert_int_equal(swap_slots_used(), 4);
	assert_int_equal(swap_area_init(64), -EBUSY);
	verify(cpu, a, 8, 11);
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(swap_area_init(0), -EINVAL);
	assert_int_equal(swap_area_init(64), 0);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_write_failure_keeps_page(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, PAGE_SIZE, RW, MAP_PRIVATE);

	fill(cpu, a, 1, 12);
	assert_int_equal(vm_reclaim(0), 0);
	lru_age_pages(~0UL, NULL); /* cold now */
	/* Every slot-buffer allocation fails: the page stays, cached. */
	fault_inject_random(1, 1000);
	assert_int_equal(vm_reclaim(1), 0);
	fault_inject_off();
	assert_int_equal(swap_cache_pages(), 1);
	verify(cpu, a, 1, 12);
	assert_int_equal(swap_out_all(), 1);
	verify(cpu, a, 1, 12);
	cpu_destroy(cpu);
	mm_exit(mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_fault_then_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_shares_slot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_fork_then_exit_drops_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zap_swap_entries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mremap_mprotect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gup_faults_swap_in, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pinned_never_reclaimed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_area_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_keeps_page,
						setup, teardown),
	};

	/* Physical memory exists before the first leak check reads it. */
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
