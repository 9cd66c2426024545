// SPDX-License-Identifier: MIT
/*
 * Page tables: entry encoding, per-level accessors, allocation of missing
 * levels (also racing), split locks, 4 and 5 levels, teardown accounting.
 */
#include "test_util.h"
#include <mmirror/mm.h>

static unsigned long free_before;
static long objs_before;

static int setup(void **state)
{
	free_before = nr_free_pages();
	objs_before = kmalloc_live_objects();
	return 0;
}

/* Every test ends with every frame and object back. */
static int teardown(void **state)
{
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
	return 0;
}

static void test_encoding(void **state)
{
	pte_t pte = pfn_pte(0x12345, PAGE_SHARED);

	assert_int_equal(pte_pfn(pte), 0x12345);
	assert_true(pte_present(pte) && pte_write(pte));
	assert_false(pte_dirty(pte) || pte_special(pte) || pte_protnone(pte));
	pte = pte_mkdirty(pte_wrprotect(pte));
	assert_false(pte_write(pte));
	assert_true(pte_dirty(pte));
	/* A protection change keeps pfn and dirty, replaces permissions. */
	pte = pte_modify(pte, PAGE_NONE);
	assert_true(pte_present(pte) && pte_protnone(pte) && pte_dirty(pte));
	assert_int_equal(pte_pfn(pte), 0x12345);
	pte = pte_modify(pte, PAGE_SHARED);
	assert_true(pte_write(pte) && !pte_protnone(pte));

	pmd_t pmd = pfn_pmd(512, PAGE_READONLY);
	assert_true(pmd_leaf(pmd) && pmd_trans_huge(pmd));
	assert_false(pmd_leaf(__pmd(_PAGE_TABLE | (7UL << PAGE_SHIFT))));
	assert_true(pud_leaf(pfn_pud(HPAGE_PUD_NR, PAGE_SHARED)));
	assert_false(pmd_leaf(__pmd(0)));
}

static void test_swap_entries(void **state)
{
	for (unsigned int type = SWP_SWAPFILE; type < SWP_TYPE_MAX; type++) {
		unsigned long offsets[] = { 0, 1, 0x12345, SWP_OFFSET_MAX };

		for (int i = 0; i < 4; i++) {
			swp_entry_t e = swp_entry(type, offsets[i]);
			pte_t pte = swp_entry_to_pte(e);

			/* Never none, never present, round-trips exactly. */
			assert_false(pte_none(pte));
			assert_false(pte_present(pte));
			assert_true(is_swap_pte(pte));
			assert_int_equal(swp_type(pte_to_swp_entry(pte)), type);
			assert_int_equal(swp_offset(pte_to_swp_entry(pte)),
					 offsets[i]);
			assert_true(is_swap_pmd(swp_entry_to_pmd(e)));
		}
	}
	swp_entry_t m = swp_entry(SWP_MIGRATION_WRITE, 42);
	assert_true(is_migration_entry(m) && is_writable_migration_entry(m));
	assert_true(is_pfn_swap_entry(m));
	assert_ptr_equal(pfn_swap_entry_to_page(m), pfn_to_page(42));
	swp_entry_t d = swp_entry(SWP_DEVICE_PRIVATE_READ, 9);
	assert_true(is_device_private_entry(d));
	assert_false(is_writable_device_private_entry(d));
	assert_false(is_migration_entry(d));
	assert_true(
		is_device_exclusive_entry(swp_entry(SWP_DEVICE_EXCLUSIVE, 1)));
	assert_false(is_pfn_swap_entry(swp_entry(SWP_SWAPFILE, 3)));
}

static void test_addr_end(void **state)
{
	assert_int_equal(pmd_addr_end(0x1000, 0x800000), 0x200000);
	assert_int_equal(pmd_addr_end(0x1000, 0x3000), 0x3000);
	/* end 0 means the top of the address space. */
	assert_int_equal(pud_addr_end(0xffffffffc0000000UL + 4096, 0), 0);
	assert_int_equal(pgd_index(1UL << 39), 1);
	assert_int_equal(pud_index(3UL << 30), 3);
	assert_int_equal(pmd_index(5UL << 21), 5);
	assert_int_equal(pte_index(7UL << 12), 7);
}

/* Mapping one page builds one table per level; teardown frees them all and
 * drops the references the mapping took. */
static void test_map_builds_levels(void **state)
{
	for (int levels = 4; levels <= 5; levels++) {
		assert_int_equal(pgtable_set_levels(levels), 0);
		struct mm_struct *mm = mm_alloc();
		struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		unsigned long addr = 0x7f0000201000UL, pfn;
		u64 entry;

		assert_false(IS_ERR(mm));
		assert_int_equal(mm_pgtables_pages(mm), 1);
		assert_int_equal(follow_pte_pfn(mm, addr, &pfn, &entry),
				 -ENOENT);
		assert_int_equal(mm_map_page(mm, addr, page, PAGE_SHARED), 0);
		assert_int_equal(mm_pgtables_pages(mm), levels);
		assert_int_equal(follow_pte_pfn(mm, addr, &pfn, &entry), 0);
		assert_int_equal(pfn, page_to_pfn(page));
		assert_true(entry & _PAGE_RW);
		assert_int_equal(page_ref_count(page), 2);
		assert_int_equal(page_mapcount(page), 1);
		assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 1);
		/* A neighbour in the same PTE table needs no new table. */
		assert_int_equal(mm_map_page(mm, addr + PAGE_SIZE, ZERO_PAGE(0),
					     PAGE_READONLY),
				 0);
		assert_int_equal(mm_pgtables_pages(mm), levels);
		assert_int_equal(
			follow_pte_pfn(mm, addr + PAGE_SIZE, &pfn, &entry), 0);
		assert_true(is_zero_pfn(pfn) && (entry & _PAGE_SPECIAL));
		assert_false(entry & _PAGE_RW);
		assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 1);
		mmput(mm);
		assert_int_equal(page_ref_count(page), 1);
		assert_int_equal(page_mapcount(page), 0);
		__free_page(page);
	}
	assert_int_equal(pgtable_set_levels(4), 0);
}

static void test_levels_switch(void **state)
{
	assert_int_equal(pgtable_set_levels(3), -EINVAL);
	assert_int_equal(pgtable_set_levels(6), -EINVAL);
	struct mm_struct *mm = mm_alloc();
	assert_int_equal(pgtable_set_levels(5), -EBUSY);
	assert_int_equal(pgtable_levels(), 4);
	assert_int_equal(mm->task_size, TASK_SIZE_4LEVEL);
	mmput(mm);

	/* 5 levels reach above 128 TiB; 4 levels refuse it. */
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned long high = 1UL << 52;
	mm = mm_alloc();
	assert_int_equal(mm_map_page(mm, high, page, PAGE_SHARED), -EINVAL);
	mmput(mm);
	assert_int_equal(pgtable_set_levels(5), 0);
	mm = mm_alloc();
	assert_int_equal(mm->task_size, TASK_SIZE_5LEVEL);
	assert_int_equal(mm_map_page(mm, high, page, PAGE_SHARED), 0);
	assert_int_equal(mm_pgtables_pages(mm), 5);
	mmput(mm);
	assert_int_equal(pgtable_set_levels(4), 0);
	__free_page(page);
}

static void test_map_errors(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *huge = alloc_pages(GFP_KERNEL | __GFP_COMP, 9);
	unsigned long a = 0x400000;

	assert_int_equal(mm_map_page(NULL, a, page, PAGE_SHARED), -EINVAL);
	assert_int_equal(mm_map_page(mm, a, NULL, PAGE_SHARED), -EINVAL);
	assert_int_equal(mm_map_page(mm, a + 1, page, PAGE_SHARED), -EINVAL);
	assert_int_equal(mm_map_page(mm, TASK_SIZE, page, PAGE_SHARED),
			 -EINVAL);
	assert_int_equal(mm_map_page(mm, -PAGE_SIZE, page, PAGE_SHARED),
			 -EINVAL);
	assert_int_equal(mm_map_page(mm, a, page, __pgprot(_PAGE_RW)), -EINVAL);
	assert_int_equal(mm_map_page(mm, a, page,
				     __pgprot(_PAGE_PRESENT | _PAGE_PROTNONE)),
			 -EINVAL);
	assert_int_equal(
		mm_map_page(mm, a, page, __pgprot(_PAGE_PRESENT | _PAGE_PSE)),
		-EINVAL);
	assert_int_equal(mm_map_page(mm, a, huge + 1, PAGE_SHARED), -EINVAL);
	assert_int_equal(mm_pgtables_pages(mm), 1); /* nothing was built */
	assert_int_equal(mm_map_page(mm, a, page, PAGE_SHARED), 0);
	assert_int_equal(mm_map_page(mm, a, page, PAGE_READONLY), -EBUSY);
	assert_int_equal(page_ref_count(page), 2);

	/* -ENOMEM at each level leaves a consistent tree; retry succeeds. */
	unsigned long far = 0x500000000000UL;
	int fail_at[] = { 1, 2, 2 }; /* the PUD, PMD, then PTE table */
	for (int n = 0; n < 3; n++) {
		fault_inject_nth(fail_at[n]);
		assert_int_equal(mm_map_page(mm, far, page, PAGE_SHARED),
				 -ENOMEM);
		assert_int_equal(mm_pgtables_pages(mm), 4 + n);
	}
	fault_inject_off();
	assert_int_equal(mm_map_page(mm, far, page, PAGE_SHARED), 0);
	assert_int_equal(mm_pgtables_pages(mm), 7);

	/* A huge leaf at the PMD level: a 4 KiB map inside it is -EBUSY. */
	unsigned long hva = 0x40000000UL;
	pmd_t *pmd = pmd_alloc(
		mm, pud_alloc(mm, p4d_alloc(mm, pgd_offset(mm, hva), hva), hva),
		hva);
	assert_non_null(pmd);
	set_pmd(pmd, pfn_pmd(page_to_pfn(huge), PAGE_SHARED));
	atomic_inc(&huge->_mapcount);
	get_page(huge);
	add_mm_counter(mm, MM_ANONPAGES, 512);
	assert_int_equal(mm_map_page(mm, hva + PAGE_SIZE, page, PAGE_SHARED),
			 -EBUSY);
	unsigned long pfn;
	u64 entry;
	assert_int_equal(
		follow_pte_pfn(mm, hva + 3 * PAGE_SIZE + 5, &pfn, &entry), 0);
	assert_int_equal(pfn, page_to_pfn(huge) + 3);
	assert_null(pte_offset_map(pmd, hva));
	spinlock_t *ptl;
	assert_null(pte_offset_map_lock(mm, pmd, hva, &ptl));

	mmput(mm);
	assert_int_equal(page_ref_count(page), 1);
	assert_int_equal(page_ref_count(huge), 1);
	__free_page(page);
	put_page(huge);
}

static void test_pte_lock(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned long a = 0x600000;
	spinlock_t *ptl, *pmdl;

	assert_int_equal(mm_map_page(mm, a, page, PAGE_SHARED), 0);
	pmd_t *pmd =
		pmd_offset(pud_offset(p4d_offset(pgd_offset(mm, a), a), a), a);
	pte_t *pte = pte_offset_map_lock(mm, pmd, a, &ptl);
	assert_non_null(pte);
	assert_true(spin_is_held_by_me(ptl));
	/* The split lock lives in the PTE table's own struct page. */
	assert_ptr_equal(ptl, &pmd_page(pmdp_get(pmd))->ptl);
	assert_true(PageTable(pmd_page(pmdp_get(pmd))));
	assert_int_equal(pte_pfn(ptep_get(pte)), page_to_pfn(page));
	/* PTEs of one table share the lock; the PMD level has its own. */
	assert_ptr_equal(pte_lockptr(mm, pmdp_get(pmd)), ptl);
	pte_unmap_unlock(pte, ptl);
	assert_false(spin_is_locked(ptl));
	pmdl = pmd_lock(mm, pmd);
	assert_ptr_equal(pmdl, &mm->page_table_lock);
	assert_true(spin_is_held_by_me(pmdl));
	spin_unlock(pmdl);
	assert_ptr_equal(pud_lockptr(mm, NULL), &mm->page_table_lock);
	mmput(mm);
	__free_page(page);
}

/* Threads race to map pages into the same, initially empty, 1 GiB region:
 * every table level is installed exactly once. */
#define NTHREADS 4
#define PER_THREAD 128
struct race_arg {
	struct mm_struct *mm;
	struct page **pages;
	int id;
};

static void *map_worker(void *p)
{
	struct race_arg *a = p;

	for (int i = 0; i < PER_THREAD; i++) {
		int slot = i * NTHREADS + a->id;
		unsigned long addr = 0x80000000UL + slot * PAGE_SIZE;

		CHECK(mm_map_page(a->mm, addr, a->pages[slot], PAGE_SHARED) ==
		      0);
	}
	return NULL;
}

static void test_concurrent_install(void **state)
{
	struct page *pages[NTHREADS * PER_THREAD];
	struct race_arg args[NTHREADS];
	pthread_t t[NTHREADS];

	for (int round = 0; round < TEST_SCALE(20); round++) {
		struct mm_struct *mm = mm_alloc();

		for (int i = 0; i < NTHREADS * PER_THREAD; i++)
			pages[i] = alloc_page(GFP_KERNEL);
		for (int i = 0; i < NTHREADS; i++) {
			args[i] = (struct race_arg){ mm, pages, i };
			pthread_create(&t[i], NULL, map_worker, &args[i]);
		}
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		/* 512 pages in one PMD: pgd + pud + pmd + pte = 4 tables. */
		assert_int_equal(mm_pgtables_pages(mm), 4);
		for (int i = 0; i < NTHREADS * PER_THREAD; i++) {
			unsigned long pfn;
			u64 e;

			assert_int_equal(
				follow_pte_pfn(mm, 0x80000000UL + i * PAGE_SIZE,
					       &pfn, &e),
				0);
			assert_int_equal(pfn, page_to_pfn(pages[i]));
		}
		mmput(mm);
		for (int i = 0; i < NTHREADS * PER_THREAD; i++)
			__free_page(pages[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_entries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_addr_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_builds_levels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_levels_switch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pte_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_install, setup,
						teardown),
	};

	/* Set up physical memory before the first setup() samples it. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
