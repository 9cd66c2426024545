// SPDX-License-Identifier: MIT
/*
 * FOLL_LONGTERM pins and ZONE_MOVABLE (src/gup/longterm.c, page_alloc.c):
 * the allocator's two zones (movable requests land in the region and fall
 * back, others never touch it); user pages land in the region; a
 * FOLL_LONGTERM pin, slow or fast, migrates them out first (data intact
 * under the oracle, the mm maps the new frames, the pin is on the new
 * page, the old frames are free); plain pins and GUP do not; faults of a
 * long-term pin go straight to ZONE_NORMAL; the zero page may be pinned;
 * a page that cannot move fails the pin with nothing pinned; an
 * allocation failure too; without a region nothing moves.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/migrate.h>

#define RW (PROT_READ | PROT_WRITE)
#define NPAGES 16
#define MOVABLE_NR 1024UL

static struct mm_leak_check leak;
static struct mm_struct *mm;
static struct sim_cpu *cpu;

static int setup_region(unsigned long nr)
{
	__free_page(alloc_page(GFP_KERNEL)); /* memory exists */
	assert_int_equal(mem_set_movable(nr), 0);
	assert_int_equal(mem_movable_pages(), nr);
	mm_leak_check_begin(&leak);
	oracle_begin();
	mm = mm_alloc();
	assert_non_null(mm);
	cpu = cpu_create(mm);
	return 0;
}

static int setup(void **state)
{
	return setup_region(MOVABLE_NR);
}

static int setup_no_region(void **state)
{
	return setup_region(0);
}

static int teardown(void **state)
{
	cpu_destroy(cpu);
	mm_exit(mm);
	oracle_end_clean();
	mm_leak_check_end(&leak);
	/* Succeeds only with every frame back: a leak would show here too. */
	assert_int_equal(mem_set_movable(0), 0);
	return 0;
}

static u64 pattern(unsigned long va)
{
	return (va * 0x9E3779B97F4A7C15ULL) ^ 0x10a9;
}

/* Map and fill @n pages: they are faulted in by the CPU, as user memory. */
static long map_filled(int n)
{
	long a = test_map(mm, n * PAGE_SIZE, RW, MAP_PRIVATE);

	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		test_store(cpu, va, pattern(va));
	return a;
}

static void verify(long a, int n)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		assert_int_equal(test_load(cpu, va), pattern(va));
}

static struct page *page_at(unsigned long va)
{
	unsigned long pfn = test_pfn_at(mm, va, NULL);

	assert_true(pfn);
	return pfn_to_page(pfn);
}

static unsigned long migrated(void)
{
	struct vm_migrate_stat st;

	vm_migrate_stat(&st);
	return st.succeeded;
}

/* A pin that must return all @n pages. */
static void pin_all(long a, int n, unsigned int flags, bool fast,
		    struct page **pages)
{
	long ret;

	if (fast) {
		ret = pin_user_pages_fast(mm, a, n, flags, pages);
	} else {
		mmap_read_lock(mm);
		ret = pin_user_pages(mm, a, n, flags, pages);
		mmap_read_unlock(mm);
	}
	assert_int_equal(ret, n);
}

static void test_zones(void **state)
{
	unsigned long free_mov = nr_free_movable_pages();
	struct page *k, *m, *pages[MOVABLE_NR + 1];

	assert_int_equal(free_mov, MOVABLE_NR);
	/* Kernel allocations never get a movable frame. */
	k = alloc_page(GFP_KERNEL);
	assert_false(page_is_movable(k));
	assert_int_equal(nr_free_movable_pages(), free_mov);
	/* Movable ones take the region first... */
	m = alloc_page(GFP_KERNEL | __GFP_MOVABLE);
	assert_true(page_is_movable(m));
	assert_int_equal(nr_free_movable_pages(), free_mov - 1);
	/* ... and fall back to ZONE_NORMAL once it is full. */
	for (unsigned long i = 0; i < MOVABLE_NR; i++)
		pages[i] = alloc_page(GFP_KERNEL | __GFP_MOVABLE);
	assert_true(page_is_movable(pages[MOVABLE_NR - 2]));
	assert_false(page_is_movable(pages[MOVABLE_NR - 1]));
	assert_int_equal(nr_free_movable_pages(), 0);
	/* A pin scope drops __GFP_MOVABLE (PF_MEMALLOC_PIN). */
	__free_page(pages[0]);
	unsigned int f = memalloc_pin_save();

	pages[MOVABLE_NR] = alloc_page(GFP_KERNEL | __GFP_MOVABLE);
	memalloc_pin_restore(f);
	assert_false(page_is_movable(pages[MOVABLE_NR]));
	pages[0] = alloc_page(GFP_KERNEL | __GFP_MOVABLE);
	assert_true(page_is_movable(pages[0]));
	/* The region cannot change while any frame is allocated. */
	assert_int_equal(mem_set_movable(8), -EBUSY);
	assert_int_equal(mem_set_movable(totalram_pages()), -EINVAL);
	assert_int_equal(mem_movable_pages(), MOVABLE_NR);
	for (unsigned long i = 0; i <= MOVABLE_NR; i++)
		__free_page(pages[i]);
	__free_page(m);
	__free_page(k);
	/* Blocks merged back within the zone: all free again. */
	assert_int_equal(nr_free_movable_pages(), MOVABLE_NR);
	assert_false(page_is_movable(ZERO_PAGE(0)));
}

static void test_user_pages_movable(void **state)
{
	unsigned long free_mov = nr_free_movable_pages();
	long a = map_filled(NPAGES);

	for (int i = 0; i < NPAGES; i++)
		assert_true(page_is_movable(page_at(a + i * PAGE_SIZE)));
	assert_int_equal(nr_free_movable_pages(), free_mov - NPAGES);
	/* Page tables are kernel memory. */
	assert_false(page_is_movable(virt_to_page(mm->pgd)));
}

/* A FOLL_LONGTERM pin of @NPAGES movable pages, slow or fast. */
static void longterm_moves(bool fast)
{
	long a = map_filled(NPAGES);
	unsigned long old[NPAGES], gen[NPAGES], free_mov, moved = migrated();
	struct page *pages[NPAGES];

	for (int i = 0; i < NPAGES; i++) {
		old[i] = page_to_pfn(page_at(a + i * PAGE_SIZE));
		gen[i] = pfn_to_page(old[i])->gen;
	}
	free_mov = nr_free_movable_pages();
	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, fast, pages);
	assert_int_equal(migrated() - moved, NPAGES);
	/* Every old frame went back to ZONE_MOVABLE. */
	assert_int_equal(nr_free_movable_pages(), free_mov + NPAGES);
	for (int i = 0; i < NPAGES; i++) {
		unsigned long va = a + i * PAGE_SIZE;
		struct page *p = pages[i];

		assert_false(page_is_movable(p));
		assert_ptr_equal(page_at(va), p);
		assert_int_not_equal(page_to_pfn(p), old[i]);
		assert_int_equal(folio_pincount(p), 1);
		assert_int_equal(page_ref_count(p), 2); /* mapping + pin */
		assert_true(PageAnonExclusive(p));
		assert_int_not_equal(pfn_to_page(old[i])->gen, gen[i]);
		/* The bytes moved: the device sees what the CPU wrote. */
		assert_int_equal(*(u64 *)page_address(p), pattern(va));
	}
	verify(a, NPAGES);
	/* A CPU store goes to the pinned frame (no COW: still writable). */
	test_store(cpu, a, 0x77);
	assert_int_equal(*(u64 *)page_address(pages[0]), 0x77);
	/* Pinning again: already in ZONE_NORMAL, nothing moves. */
	moved = migrated();
	struct page *again[NPAGES];

	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, fast, again);
	assert_int_equal(migrated(), moved);
	assert_memory_equal(again, pages, sizeof(pages));
	unpin_user_pages(again, NPAGES);
	unpin_user_pages_dirty_lock(pages, NPAGES, true);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(folio_pincount(pages[i]), 0);
}

static void test_longterm_slow(void **state)
{
	longterm_moves(false);
}

static void test_longterm_fast(void **state)
{
	longterm_moves(true);
}

/* Short-term pins and FOLL_GET references stay in ZONE_MOVABLE. */
static void test_plain_pin_stays(void **state)
{
	long a = map_filled(NPAGES);
	unsigned long moved = migrated();
	struct page *pages[NPAGES], *got[NPAGES];

	pin_all(a, NPAGES, FOLL_WRITE, false, pages);
	assert_int_equal(get_user_pages_fast(mm, a, NPAGES, 0, got), NPAGES);
	for (int i = 0; i < NPAGES; i++) {
		assert_true(page_is_movable(pages[i]));
		assert_ptr_equal(page_at(a + i * PAGE_SIZE), pages[i]);
		assert_ptr_equal(got[i], pages[i]);
		put_page(got[i]);
	}
	unpin_user_pages(pages, NPAGES);
	pin_all(a, NPAGES, 0, true, pages);
	for (int i = 0; i < NPAGES; i++)
		assert_true(page_is_movable(pages[i]));
	unpin_user_pages(pages, NPAGES);
	assert_int_equal(migrated(), moved);
}

/*
 * Half the range already in ZONE_NORMAL (pinned long term before), half
 * in ZONE_MOVABLE: GUP-fast takes the first half, the slow path migrates
 * the rest.
 */
static void test_fast_mixed(void **state)
{
	long a = map_filled(NPAGES);
	unsigned long moved = migrated();
	struct page *first[NPAGES / 2], *pages[NPAGES];

	pin_all(a, NPAGES / 2, FOLL_LONGTERM, true, first);
	assert_int_equal(migrated() - moved, NPAGES / 2);
	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, true, pages);
	assert_int_equal(migrated() - moved, NPAGES);
	for (int i = 0; i < NPAGES; i++) {
		assert_false(page_is_movable(pages[i]));
		assert_ptr_equal(page_at(a + i * PAGE_SIZE), pages[i]);
	}
	assert_memory_equal(first, pages, sizeof(first));
	verify(a, NPAGES);
	unpin_user_pages(first, NPAGES / 2);
	unpin_user_pages(pages, NPAGES);
}

/* A long-term pin of untouched memory faults it into ZONE_NORMAL. */
static void test_longterm_faults_normal(void **state)
{
	long a = test_map(mm, 2 * NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long moved = migrated(), free_mov = nr_free_movable_pages();
	struct page *pages[NPAGES], *zero[NPAGES];

	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, true, pages);
	/* Reads of untouched memory pin the zero page, which may stay. */
	pin_all(a + NPAGES * PAGE_SIZE, NPAGES, FOLL_LONGTERM, false, zero);
	assert_int_equal(migrated(), moved);
	assert_int_equal(nr_free_movable_pages(), free_mov);
	for (int i = 0; i < NPAGES; i++) {
		assert_false(page_is_movable(pages[i]));
		assert_int_equal(folio_pincount(pages[i]), 1);
		assert_true(PageZero(zero[i]));
	}
	/* Outside the pin scope, faults are movable again. */
	test_store(cpu, a + NPAGES * PAGE_SIZE, 1);
	assert_true(page_is_movable(page_at(a + NPAGES * PAGE_SIZE)));
	unpin_user_pages(pages, NPAGES);
	unpin_user_pages(zero, NPAGES);
}

/*
 * Nothing pinned by a failed call; every page still mapped and intact,
 * page @busy_i still in its old frame with @pins pins.
 */
static void expect_unpinned(long a, int busy_i, unsigned long busy_pfn,
			    int pins)
{
	for (int i = 0; i < NPAGES; i++) {
		struct page *p = page_at(a + i * PAGE_SIZE);

		assert_int_equal(folio_pincount(p), i == busy_i ? pins : 0);
		if (i == busy_i)
			assert_int_equal(page_to_pfn(p), busy_pfn);
	}
	verify(a, NPAGES);
}

/*
 * A movable page that cannot move (pinned short term by someone else, or
 * a reference that never goes away) fails the whole long-term pin with
 * -ENOMEM and nothing pinned; pages that did move meanwhile stay moved.
 */
static void test_unmovable_fails(void **state)
{
	long a = map_filled(NPAGES);
	unsigned long busy_pfn;
	struct page *pages[NPAGES], *busy;
	long ret;

	pin_all(a + 3 * PAGE_SIZE, 1, FOLL_WRITE, false, &busy);
	busy_pfn = page_to_pfn(busy);
	mmap_read_lock(mm);
	assert_int_equal(pin_user_pages(mm, a, NPAGES,
					FOLL_WRITE | FOLL_LONGTERM, pages),
			 -ENOMEM);
	mmap_read_unlock(mm);
	expect_unpinned(a, 3, busy_pfn, 1);
	/*
	 * GUP-fast: what it pinned before page 3 (pages already moved to
	 * ZONE_NORMAL) stands, as any short count; the slow path's error
	 * for the rest only shortens it.  Page 3 alone: the error.
	 */
	ret = pin_user_pages_fast(mm, a, NPAGES, FOLL_LONGTERM, pages);
	assert_true(ret <= 3);
	for (long i = 0; i < ret; i++)
		assert_false(page_is_movable(pages[i]));
	if (ret > 0)
		unpin_user_pages(pages, ret);
	assert_int_equal(pin_user_pages_fast(mm, a + 3 * PAGE_SIZE, 1,
					     FOLL_LONGTERM, pages),
			 -ENOMEM);
	expect_unpinned(a, 3, busy_pfn, 1);
	unpin_user_page(busy);

	/* An extra reference: migration gives up after its retries. */
	get_page(busy);
	assert_int_equal(pin_user_pages_fast(mm, a + 3 * PAGE_SIZE, 1,
					     FOLL_WRITE | FOLL_LONGTERM, pages),
			 -ENOMEM);
	expect_unpinned(a, 3, busy_pfn, 0);
	put_page(busy);
	/* Now it moves. */
	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, false, pages);
	for (int i = 0; i < NPAGES; i++)
		assert_false(page_is_movable(pages[i]));
	verify(a, NPAGES);
	unpin_user_pages(pages, NPAGES);
}

/* No memory for the list of pages to move: -ENOMEM, nothing pinned. */
static void test_alloc_failure(void **state)
{
	long a = map_filled(NPAGES);
	unsigned long pfn0 = page_to_pfn(page_at(a));
	struct page *pages[NPAGES];

	/* Everything is present: the first allocation is longterm.c's. */
	fault_inject_nth(1);
	mmap_read_lock(mm);
	assert_int_equal(pin_user_pages(mm, a, NPAGES,
					FOLL_WRITE | FOLL_LONGTERM, pages),
			 -ENOMEM);
	mmap_read_unlock(mm);
	fault_inject_off();
	expect_unpinned(a, 0, pfn0, 0);
	/*
	 * Then a target frame or migration's own allocation fails.  Pages
	 * moved by an earlier attempt are pinned by GUP-fast, and a later
	 * failure only shortens the count: only ZONE_NORMAL pages pinned.
	 */
	for (int n = 2; n < 8; n++) {
		long ret;

		fault_inject_nth(n);
		ret = pin_user_pages_fast(mm, a, NPAGES,
					  FOLL_WRITE | FOLL_LONGTERM, pages);
		fault_inject_off();
		assert_true(ret == -ENOMEM || (ret > 0 && ret <= NPAGES));
		for (long i = 0; i < ret; i++)
			assert_false(page_is_movable(pages[i]));
		if (ret > 0)
			unpin_user_pages(pages, ret);
		for (int i = 0; i < NPAGES; i++)
			assert_int_equal(
				folio_pincount(page_at(a + i * PAGE_SIZE)), 0);
	}
	verify(a, NPAGES);
}

/* No movable region: a long-term pin moves nothing. */
static void test_no_region(void **state)
{
	long a = map_filled(NPAGES);
	unsigned long moved = migrated();
	struct page *pages[NPAGES];

	assert_int_equal(mem_movable_pages(), 0);
	for (int i = 0; i < NPAGES; i++)
		assert_false(page_is_movable(page_at(a + i * PAGE_SIZE)));
	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, false, pages);
	pin_all(a, NPAGES, FOLL_WRITE | FOLL_LONGTERM, true, pages);
	assert_int_equal(migrated(), moved);
	for (int i = 0; i < NPAGES; i++)
		assert_ptr_equal(page_at(a + i * PAGE_SIZE), pages[i]);
	unpin_user_pages(pages, NPAGES);
	unpin_user_pages(pages, NPAGES);
}

/* migrate_page_to_nonmovable() by frame; migrate_page_to_new() stays. */
static void test_migrate_api(void **state)
{
	long a = map_filled(2);
	struct page *p = page_at(a);

	assert_int_equal(migrate_page_to_new(p), 0);
	assert_true(page_is_movable(page_at(a)));
	assert_int_equal(migrate_page_to_nonmovable(page_at(a)), 0);
	assert_false(page_is_movable(page_at(a)));
	verify(a, 2);
	assert_int_equal(migrate_page_to_nonmovable(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_pages_movable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_longterm_slow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_longterm_fast, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plain_pin_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fast_mixed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_longterm_faults_normal,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmovable_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_region, setup_no_region,
						teardown),
		cmocka_unit_test_setup_teardown(test_migrate_api, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
