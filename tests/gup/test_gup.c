// SPDX-License-Identifier: MIT
/*
 * get_user_pages / pin_user_pages (the slow path): reference and pin
 * accounting, unpinning, COW breaking, FOLL_FORCE, FOLL_NOFAULT, the
 * remote and unlocked variants, huge leaves, every bad input, partial
 * results, and a pin that outlives its mapping.
 */
#include "mm_test_util.h"
#include <mmirror/gup.h>

static struct mm_leak_check leaks;

static int setup(void **state)
{
	thp_set_mode(THP_MADVISE, false);
	mm_leak_check_begin(&leaks);
	return 0;
}

static int teardown(void **state)
{
	mm_leak_check_end(&leaks);
	return 0;
}

#define RW (PROT_READ | PROT_WRITE)

static long gup(struct mm_struct *mm, unsigned long start, unsigned long nr,
		unsigned int flags, struct page **pages)
{
	long ret;

	mmap_read_lock(mm);
	ret = get_user_pages(mm, start, nr, flags, pages);
	mmap_read_unlock(mm);
	return ret;
}

static long pin(struct mm_struct *mm, unsigned long start, unsigned long nr,
		unsigned int flags, struct page **pages)
{
	long ret;

	mmap_read_lock(mm);
	ret = pin_user_pages(mm, start, nr, flags, pages);
	mmap_read_unlock(mm);
	return ret;
}

static void test_get_pin_accounting(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *pages[4];
	int ref[4];

	for (int i = 0; i < 4; i++) {
		test_store(cpu, a + i * PAGE_SIZE, 100 + i);
		ref[i] = page_count(
			pfn_to_page(test_pfn_at(mm, a + i * PAGE_SIZE, NULL)));
	}
	/* get: one reference each, no pin. */
	assert_int_equal(gup(mm, a, 4, 0, pages), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_to_pfn(pages[i]),
				 test_pfn_at(mm, a + i * PAGE_SIZE, NULL));
		assert_int_equal(page_count(pages[i]), ref[i] + 1);
		assert_int_equal(folio_pincount(pages[i]), 0);
		assert_false(folio_maybe_dma_pinned(pages[i]));
		assert_int_equal(*(u64 *)page_address(pages[i]), 100 + i);
		put_page(pages[i]);
		assert_int_equal(page_count(pages[i]), ref[i]);
	}
	/* pin: a reference and a pincount each; twice stacks. */
	assert_int_equal(pin(mm, a, 4, FOLL_WRITE | FOLL_LONGTERM, pages), 4);
	assert_int_equal(pin(mm, a, 1, 0, pages), 1);
	assert_int_equal(folio_pincount(pages[0]), 2);
	assert_int_equal(page_count(pages[0]), ref[0] + 2);
	unpin_user_page(pages[0]);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_count(pages[i]), ref[i] + 1);
		assert_int_equal(folio_pincount(pages[i]), 1);
		assert_true(folio_maybe_dma_pinned(pages[i]));
	}
	unpin_user_pages(pages, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_count(pages[i]), ref[i]);
		assert_false(folio_maybe_dma_pinned(pages[i]));
	}
	/* Unpinning an unpinned page WARNs and changes nothing. */
	mm_warn_set_quiet(true);
	unsigned long w = mm_warn_count();
	unpin_user_page(pages[0]);
	assert_int_equal(mm_warn_count(), w + 1);
	leaks.warns++;
	mm_warn_set_quiet(false);
	assert_int_equal(page_count(pages[0]), ref[0]);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_unpin_dirty_lock(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_POPULATE);
	struct page *pages[2];

	assert_int_equal(pin(mm, a, 2, FOLL_WRITE, pages), 2);
	ClearPageDirty(pages[0]);
	ClearPageDirty(pages[1]);
	unpin_user_pages_dirty_lock(pages, 1, false);
	assert_false(PageDirty(pages[0]));
	unpin_user_pages_dirty_lock(pages + 1, 1, true);
	assert_true(PageDirty(pages[1]));
	assert_int_equal(folio_pincount(pages[1]), 0);
	mm_exit(mm);
}

/* The zero page: a read pin holds it without counting; get counts. */
static void test_zero_page(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *zp = ZERO_PAGE(0), *page;
	int ref = page_ref_count(zp);

	assert_int_equal(pin(mm, a, 1, 0, &page), 1);
	assert_ptr_equal(page, zp);
	assert_int_equal(page_ref_count(zp), ref);
	assert_int_equal(folio_pincount(zp), 0);
	unpin_user_page(page);
	assert_int_equal(gup(mm, a, 1, 0, &page), 1);
	assert_ptr_equal(page, zp);
	assert_int_equal(page_ref_count(zp), ref + 1);
	put_page(page);
	/* A write pin replaces it with the mm's own page. */
	assert_int_equal(pin(mm, a, 1, FOLL_WRITE, &page), 1);
	assert_ptr_not_equal(page, zp);
	assert_int_equal(page_to_pfn(page), test_pfn_at(mm, a, NULL));
	unpin_user_page(page);
	mm_exit(mm);
}

/* FOLL_WRITE breaks COW after fork: the page held is the parent's own. */
static void test_write_breaks_cow(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *page;

	test_store(cpu, a, 5);
	test_store(cpu, a + PAGE_SIZE, 6);
	unsigned long shared = test_pfn_at(mm, a, NULL);
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *cc = cpu_create(child);

	assert_int_equal(test_pfn_at(child, a, NULL), shared);
	/* A plain get of a COW-shared page returns the shared page. */
	assert_int_equal(gup(mm, a, 1, 0, &page), 1);
	assert_int_equal(page_to_pfn(page), shared);
	put_page(page);
	/* FOLL_WRITE: a private copy, now mapped writable in the parent. */
	assert_int_equal(gup(mm, a, 1, FOLL_WRITE, &page), 1);
	assert_int_not_equal(page_to_pfn(page), shared);
	u64 e = 0;
	assert_int_equal(test_pfn_at(mm, a, &e), page_to_pfn(page));
	assert_true(e & _PAGE_RW);
	*(u64 *)page_address(page) = 55; /* "DMA" */
	assert_int_equal(test_load(cpu, a), 55);
	assert_int_equal(test_load(cc, a), 5);
	put_page(page);
	/* A read pin of a COW-shared page unshares it too. */
	shared = test_pfn_at(mm, a + PAGE_SIZE, NULL);
	assert_int_equal(pin(mm, a + PAGE_SIZE, 1, 0, &page), 1);
	assert_int_not_equal(page_to_pfn(page), shared);
	assert_true(PageAnonExclusive(page));
	assert_int_equal(test_pfn_at(child, a + PAGE_SIZE, NULL), shared);
	assert_int_equal(test_load(cc, a + PAGE_SIZE), 6);
	unpin_user_page(page);
	cpu_destroy(cc);
	mm_exit(child);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* FOLL_FORCE writes read-only private memory the way ptrace does. */
static void test_force_readonly(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 3 * PAGE_SIZE, RW, MAP_PRIVATE);
	long s = test_map(mm, PAGE_SIZE, PROT_READ, MAP_SHARED);
	struct page *page;
	u64 e = 0;

	test_store(cpu, a, 1);
	test_store(cpu, a + 2 * PAGE_SIZE, 3);
	unsigned long own = test_pfn_at(mm, a, NULL);
	assert_int_equal(vm_mprotect(mm, a, 3 * PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(gup(mm, a, 1, FOLL_WRITE, &page), -EFAULT);
	assert_int_equal(pin(mm, a, 1, FOLL_WRITE, &page), -EFAULT);
	/* Our own exclusive page: held as is, still read-only to CPUs. */
	assert_int_equal(gup(mm, a, 1, FOLL_WRITE | FOLL_FORCE, &page), 1);
	assert_int_equal(page_to_pfn(page), own);
	*(u64 *)page_address(page) = 11;
	put_page(page);
	assert_int_equal(test_load(cpu, a), 11);
	assert_int_equal(cpu_store_u64(cpu, a, 2), -EACCES);
	/* Untouched: the zero page is copied into a private read-only page. */
	assert_int_equal(
		gup(mm, a + PAGE_SIZE, 1, FOLL_WRITE | FOLL_FORCE, &page), 1);
	assert_int_equal(test_pfn_at(mm, a + PAGE_SIZE, &e), page_to_pfn(page));
	assert_false(is_zero_pfn(page_to_pfn(page)));
	assert_false(e & _PAGE_RW);
	*(u64 *)page_address(page) = 22;
	put_page(page);
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 22);
	/* Shared with a fork child: copied, the child keeps its value. */
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *cc = cpu_create(child);
	unsigned long shared = test_pfn_at(mm, a + 2 * PAGE_SIZE, NULL);

	assert_int_equal(test_pfn_at(child, a + 2 * PAGE_SIZE, NULL), shared);
	assert_int_equal(
		pin(mm, a + 2 * PAGE_SIZE, 1, FOLL_WRITE | FOLL_FORCE, &page),
		1);
	assert_int_not_equal(page_to_pfn(page), shared);
	*(u64 *)page_address(page) = 33;
	unpin_user_page(page);
	assert_int_equal(test_load(cpu, a + 2 * PAGE_SIZE), 33);
	assert_int_equal(test_load(cc, a + 2 * PAGE_SIZE), 3);
	/* Never shared memory. */
	assert_int_equal(gup(mm, s, 1, FOLL_WRITE | FOLL_FORCE, &page),
			 -EFAULT);
	cpu_destroy(cc);
	mm_exit(child);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_nofault_and_partial(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *pages[4];

	assert_int_equal(gup(mm, a, 1, FOLL_NOFAULT, pages), -EFAULT);
	assert_int_equal(test_pfn_at(mm, a, NULL), 0); /* nothing faulted */
	test_store(cpu, a, 1);
	/* Present then missing: the present one only. */
	assert_int_equal(gup(mm, a, 2, FOLL_NOFAULT, pages), 1);
	put_page(pages[0]);
	/* A VMA end cuts the result short; a hole at start is -EFAULT. */
	assert_int_equal(gup(mm, a, 4, 0, pages), 2);
	put_page(pages[0]);
	put_page(pages[1]);
	assert_int_equal(gup(mm, a + 2 * PAGE_SIZE, 1, 0, pages), -EFAULT);
	/* A VMA without access. */
	long n = test_map(mm, PAGE_SIZE, PROT_NONE, MAP_PRIVATE);
	assert_int_equal(gup(mm, n, 1, 0, pages), -EFAULT);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_remote_and_unlocked(void **state)
{
	struct mm_struct *other = mm_alloc();
	long a = test_map(other, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *pages[2];

	mmap_read_lock(other);
	assert_int_equal(get_user_pages_remote(other, a, 2, FOLL_WRITE, pages),
			 2);
	mmap_read_unlock(other);
	assert_int_equal(page_to_pfn(pages[1]),
			 test_pfn_at(other, a + PAGE_SIZE, NULL));
	put_page(pages[0]);
	put_page(pages[1]);
	mmap_read_lock(other);
	assert_int_equal(
		pin_user_pages_remote(other, a, 1, FOLL_LONGTERM, pages), 1);
	mmap_read_unlock(other);
	assert_int_equal(folio_pincount(pages[0]), 1);
	unpin_user_page(pages[0]);
	/* _unlocked take mmap_lock themselves. */
	assert_int_equal(get_user_pages_unlocked(other, a, 2, pages, 0), 2);
	put_page(pages[0]);
	put_page(pages[1]);
	assert_int_equal(
		pin_user_pages_unlocked(other, a, 2, pages, FOLL_WRITE), 2);
	assert_true(folio_maybe_dma_pinned(pages[1]));
	unpin_user_pages(pages, 2);
	mm_exit(other);
}

static void test_huge_leaves(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, 2 * PMD_SIZE, RW, MAP_PRIVATE);
	struct page *pages[8];

	assert_int_equal(vm_madvise(mm, a, 2 * PMD_SIZE, MADV_HUGEPAGE), 0);
	assert_int_equal(vm_madvise(mm, a, 2 * PMD_SIZE, MADV_WILLNEED), 0);
	u64 e = 0;
	unsigned long pfn0 = test_pfn_at(mm, a, &e);
	assert_true(e & _PAGE_PSE);
	struct page *head = pfn_to_page(pfn0);
	int ref = page_ref_count(head);

	/* Straddling the two leaves: subpages, holds on each head. */
	unsigned long start = a + PMD_SIZE - 4 * PAGE_SIZE;
	assert_int_equal(pin(mm, start, 8, FOLL_WRITE, pages), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(page_to_pfn(pages[i]),
				 test_pfn_at(mm, start + i * PAGE_SIZE, NULL));
	assert_int_equal(page_to_pfn(pages[0]), pfn0 + HPAGE_PMD_NR - 4);
	assert_ptr_equal(compound_head(pages[0]), head);
	assert_int_equal(folio_pincount(head), 4);
	assert_int_equal(page_ref_count(head), ref + 4);
	assert_int_equal(folio_pincount(pages[7]), 4);
	assert_true(folio_maybe_dma_pinned(pages[5]));
	unpin_user_pages(pages, 8);
	assert_int_equal(page_ref_count(head), ref);
	assert_false(folio_maybe_dma_pinned(head));
	assert_int_equal(gup(mm, a + 7 * PAGE_SIZE, 1, 0, pages), 1);
	assert_int_equal(page_to_pfn(pages[0]), pfn0 + 7);
	put_page(pages[0]);
	mm_exit(mm);
}

static void test_bad_input(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_POPULATE);
	struct page *pages[4];
	unsigned long w;

	mm_warn_set_quiet(true);
	w = mm_warn_count();
	assert_int_equal(gup(mm, a + 1, 1, 0, pages), -EINVAL);
	assert_int_equal(pin(mm, a + 8, 1, 0, pages), -EINVAL);
	assert_int_equal(gup(mm, a, 0, 0, pages), -EINVAL);
	assert_int_equal(gup(mm, a, 1, 0, NULL), -EINVAL);
	/* Wrapping ("reversed") and past the address space. */
	assert_int_equal(gup(mm, a, ~0UL >> PAGE_SHIFT, 0, pages), -EINVAL);
	assert_int_equal(gup(mm, a, ~0UL, 0, pages), -EINVAL);
	assert_int_equal(gup(mm, mm->task_size - PAGE_SIZE, 2, 0, pages),
			 -EINVAL);
	assert_int_equal(gup(mm, -PAGE_SIZE, 1, 0, pages), -EINVAL);
	assert_int_equal(get_user_pages_unlocked(mm, a, (1UL << 40), pages, 0),
			 -EINVAL);
	assert_int_equal(get_user_pages_fast(mm, a, -1, 0, pages), -EINVAL);
	assert_int_equal(pin_user_pages_fast(mm, a, 0, 0, pages), -EINVAL);
	assert_int_equal(mm_warn_count(), w); /* no misuse so far */
	/* Unknown flags, FOLL_PIN|FOLL_GET, a pin asked of the get API... */
	assert_int_equal(gup(mm, a, 1, 1U << 30, pages), -EINVAL);
	assert_int_equal(gup(mm, a, 1, FOLL_PIN, pages), -EINVAL);
	assert_int_equal(pin(mm, a, 1, FOLL_GET, pages), -EINVAL);
	assert_int_equal(pin(mm, a, 1, FOLL_PIN, pages), -EINVAL);
	assert_int_equal(gup(mm, a, 1, FOLL_LONGTERM, pages), -EINVAL);
	assert_int_equal(get_user_pages_fast(mm, a, 1, FOLL_PIN, pages),
			 -EINVAL);
	assert_int_equal(pin_user_pages_fast(mm, a, 1, FOLL_GET, pages),
			 -EINVAL);
	assert_int_equal(pin_user_pages_fast(mm, a, 1, 1U << 29, pages),
			 -EINVAL);
	assert_int_equal(pin_user_pages_unlocked(mm, a, 1, pages, FOLL_GET),
			 -EINVAL);
	assert_int_equal(mm_warn_count(), w + 9);
	leaks.warns += 9;
	mm_warn_set_quiet(false);
	/* Nothing was held by any of them. */
	for (int i = 0; i < 4; i++) {
		struct page *p =
			pfn_to_page(test_pfn_at(mm, a + i * PAGE_SIZE, NULL));
		assert_int_equal(folio_pincount(p), 0);
		assert_int_equal(page_ref_count(p), 1);
	}
	mm_exit(mm);
}

/* A pinned page outlives munmap and is freed at the last unpin. */
/*
 * Fork with a page pinned through pin_user_pages_fast: the child gets a
 * copy at fork time, the parent keeps the pinned frame mapped writable,
 * and a "DMA" write into the pinned frame is seen by the parent only.
 */
static void test_fork_with_pin(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct page *page;
	u64 e = 0;

	test_store(cpu, a, 5);
	assert_int_equal(pin_user_pages_fast(mm, a, 1,
					     FOLL_WRITE | FOLL_LONGTERM, &page),
			 1);
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *ccpu = cpu_create(child);

	assert_int_equal(test_pfn_at(mm, a, &e), page_to_pfn(page));
	assert_true(e & _PAGE_RW);
	assert_int_not_equal(test_pfn_at(child, a, NULL), page_to_pfn(page));
	assert_int_equal(test_load(ccpu, a), 5);
	((volatile u64 *)page_address(page))[0] = 6; /* the device writes */
	assert_int_equal(test_load(cpu, a), 6);
	assert_int_equal(test_load(ccpu, a), 5);
	unpin_user_page(page);
	cpu_destroy(ccpu);
	mm_exit(child);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_pin_survives_munmap(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *page;

	test_store(cpu, a, 42);
	assert_int_equal(pin(mm, a, 1, FOLL_WRITE | FOLL_LONGTERM, &page), 1);
	unsigned long gen = page->gen;

	assert_int_equal(vm_munmap(mm, a, PAGE_SIZE), 0);
	assert_int_equal(test_pfn_at(mm, a, NULL), 0);
	/* The frame is ours alone now, and still the same frame. */
	assert_int_equal(page_ref_count(page), 1);
	assert_int_equal(page->gen, gen);
	assert_false(PageBuddy(page));
	volatile u64 *p = page_address(page);
	assert_int_equal(p[0], 42);
	p[1] = 43; /* a DMA write still lands */
	assert_int_equal(p[1], 43);
	/* A new mapping at the same place gets another frame. */
	a = vm_mmap(mm, a, PAGE_SIZE, RW,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	test_store(cpu, a, 1);
	assert_int_not_equal(test_pfn_at(mm, a, NULL), page_to_pfn(page));
	assert_int_equal(p[0], 42);
	unsigned long free = nr_free_pages();

	unpin_user_page(page);
	assert_int_equal(nr_free_pages(), free + 1);
	assert_int_not_equal(page->gen, gen);
	cpu_destroy(cpu);
	mm_exit(mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_pin_accounting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unpin_dirty_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zero_page, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_breaks_cow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_force_readonly, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nofault_and_partial, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_remote_and_unlocked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_huge_leaves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_with_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pin_survives_munmap, setup,
						teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
