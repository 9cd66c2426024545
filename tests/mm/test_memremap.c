// SPDX-License-Identifier: MIT
/*
 * dev_pagemap (src/mm/memremap*.c): the pages memremap_pages() makes, the
 * reference's lifetime (get after kill fails, removal waits for holders
 * and for page references), the global zap (every mm, mremap'd entries,
 * the CPU's TLB), argument errors and allocation failure, and GUP on
 * device memory (FOLL_LONGTERM rules, both GUP-fast modes), and
 * hmm_range_fault() reporting devmap entries as their device pages.
 */
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/hmm.h>
#include <mmirror/kthread.h>
#include <mmirror/memremap.h>
#include "mm/memremap_internal.h"

static struct dev_pagemap pgmap;

static void pgmap_new(enum memory_type type, unsigned long nr)
{
	void *va;

	memset(&pgmap, 0, sizeof(pgmap));
	pgmap.type = type;
	pgmap.nr_pages = nr;
	va = memremap_pages(&pgmap);
	assert_false(IS_ERR(va));
	assert_ptr_equal(va, pfn_to_virt(pgmap_pfn_first(&pgmap)));
}

static struct page *pg(unsigned long i)
{
	return pfn_to_page(pgmap_pfn_first(&pgmap) + i);
}

/* The device's pages are mapped [va, va + nr pages) in a new mm. */
static struct mm_struct *mm_with_devmap(unsigned long nr, long *va)
{
	struct mm_struct *mm = mm_alloc();

	*va = vm_mmap_devmap(mm, &pgmap, 0, nr, PROT_READ | PROT_WRITE);
	assert_false(IS_ERR_VALUE(*va));
	return mm;
}

static void test_pages(void **state)
{
	unsigned long free0 = nr_free_pages(), gens[3];
	struct mm_leak_check lc;

	(void)state;
	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_GENERIC, 3);
	/* 3 frames, not the 4 of the block behind them. */
	assert_int_equal(free0 - nr_free_pages(), 3);
	assert_int_equal(range_len(&pgmap.range), 3 * PAGE_SIZE);
	assert_int_equal(memremap_nr_pgmaps(), 1);
	for (unsigned long i = 0; i < 3; i++) {
		assert_true(is_zone_device_page(pg(i)));
		assert_ptr_equal(pg(i)->pgmap, &pgmap);
		assert_int_equal(page_ref_count(pg(i)), 1);
		assert_int_equal(page_mapcount(pg(i)), 0);
		gens[i] = pg(i)->gen;
	}
	assert_ptr_equal(get_dev_pagemap(pgmap_pfn_first(&pgmap) + 2, NULL),
			 &pgmap);
	assert_null(get_dev_pagemap(pgmap_pfn_first(&pgmap) + 3, NULL));
	/* A cached reference is reused for a pfn it covers. */
	assert_ptr_equal(get_dev_pagemap(pgmap_pfn_first(&pgmap), &pgmap),
			 &pgmap);
	put_dev_pagemap(&pgmap);
	memunmap_pages(&pgmap);
	assert_int_equal(pgmap.state, PGMAP_REMOVED);
	assert_int_equal(memremap_nr_pgmaps(), 0);
	assert_null(get_dev_pagemap(pgmap_pfn_first(&pgmap), NULL));
	for (unsigned long i = 0; i < 3; i++) {
		assert_false(is_zone_device_page(pg(i)));
		assert_int_equal(pg(i)->gen, gens[i] + 1);
	}
	mm_leak_check_end(&lc);
}

static void test_bad_args(void **state)
{
	static const struct {
		int type;
		unsigned long nr;
		long err;
	} bad[] = {
		{ 0, 1, -EINVAL },
		{ MEMORY_DEVICE_GENERIC + 1, 1, -EINVAL },
		{ MEMORY_DEVICE_GENERIC, 0, -EINVAL },
		{ MEMORY_DEVICE_GENERIC, (1UL << MAX_PAGE_ORDER) + 1, -EINVAL },
		/* Without ops and owner (test_devpriv covers it with). */
		{ MEMORY_DEVICE_PRIVATE, 1, -EINVAL },
	};
	struct mm_leak_check lc;
	struct mm_struct *mm;
	long va;

	(void)state;
	mm_leak_check_begin(&lc);
	assert_int_equal(PTR_ERR(memremap_pages(NULL)), -EINVAL);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&pgmap, 0, sizeof(pgmap));
		pgmap.type = bad[i].type;
		pgmap.nr_pages = bad[i].nr;
		assert_int_equal(PTR_ERR(memremap_pages(&pgmap)), bad[i].err);
		assert_int_equal(pgmap.state, PGMAP_UNUSED);
	}
	pgmap_new(MEMORY_DEVICE_FS_DAX, 2);
	/* Used once only. */
	assert_int_equal(PTR_ERR(memremap_pages(&pgmap)), -EINVAL);
	mm = mm_alloc();
	assert_int_equal(vm_mmap_devmap(NULL, &pgmap, 0, 1, PROT_READ),
			 -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, NULL, 0, 1, PROT_READ), -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 0, 0, PROT_READ), -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 2, 1, PROT_READ), -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 1, 2, PROT_READ), -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 1, ~0UL, PROT_READ),
			 -EINVAL);
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 0, 1, PROT_WRITE), -EINVAL);
	assert_int_equal(
		vm_mmap_devmap(mm, &pgmap, 0, 1, PROT_READ | PROT_EXEC),
		-EINVAL);
	va = vm_mmap_devmap(mm, &pgmap, 1, 1, PROT_READ);
	assert_false(IS_ERR_VALUE(va));
	/* Read-only mapping: a devmap entry without RW. */
	assert_int_equal(test_pfn_at(mm, va, NULL),
			 pgmap_pfn_first(&pgmap) + 1);
	memunmap_pages(&pgmap);
	/* Removed: no new mapping; a second removal is API misuse. */
	assert_int_equal(vm_mmap_devmap(mm, &pgmap, 0, 1, PROT_READ), -ENODEV);
	memunmap_pages(&pgmap);
	assert_int_equal(mm_warn_count(), lc.warns + 1);
	lc.warns++;
	mm_exit(mm);
	mm_leak_check_end(&lc);
}

static void test_alloc_failure(void **state)
{
	struct mm_leak_check lc;
	struct mm_struct *mm;
	bool done = false;

	(void)state;
	mm_leak_check_begin(&lc);
	memset(&pgmap, 0, sizeof(pgmap));
	pgmap.type = MEMORY_DEVICE_GENERIC;
	pgmap.nr_pages = 4;
	fault_inject_nth(1);
	assert_int_equal(PTR_ERR(memremap_pages(&pgmap)), -ENOMEM);
	fault_inject_off();
	assert_int_equal(pgmap.state, PGMAP_UNUSED);
	assert_int_equal(nr_free_pages(), lc.free_pages);
	pgmap_new(MEMORY_DEVICE_GENERIC, 4);
	mm = mm_alloc();
	/* Fail each allocation of vm_mmap_devmap in turn: all or nothing. */
	for (long n = 1; !done; n++) {
		long va, injected = fault_inject_count();

		assert_true(n < 64);
		fault_inject_nth(n);
		va = vm_mmap_devmap(mm, &pgmap, 0, 4, PROT_READ | PROT_WRITE);
		fault_inject_off();
		/* No failure left to inject: the whole call succeeded. */
		done = fault_inject_count() == injected;
		if (done)
			assert_false(IS_ERR_VALUE(va));
		if (IS_ERR_VALUE(va)) {
			assert_int_equal(va, -ENOMEM);
			mmap_read_lock(mm);
			assert_null(find_vma(mm, 0));
			mmap_read_unlock(mm);
		} else {
			assert_int_equal(
				test_pfn_at(mm, va + 3 * PAGE_SIZE, NULL),
				pgmap_pfn_first(&pgmap) + 3);
			vm_munmap(mm, va, 4 * PAGE_SIZE);
		}
	}
	memunmap_pages(&pgmap);
	mm_exit(mm);
	mm_leak_check_end(&lc);
}

/* --- removal waiting ------------------------------------------------------ */

/* Set by remove_fn() once memunmap_pages() returned. */
static bool removed;

static int remove_fn(void *arg)
{
	memunmap_pages(arg);
	/* Pairs with READ_ONCE(removed) in the tests. */
	WRITE_ONCE(removed, true);
	return 0;
}

static struct task_struct *start_removal(void)
{
	struct task_struct *t;

	WRITE_ONCE(removed, false);
	t = kthread_run(remove_fn, &pgmap, "remove");
	assert_false(IS_ERR(t));
	return t;
}

/* However long we let it run, the removal does not return while we hold
 * what it waits for (a correct removal never can: not a timing test). */
static void removal_still_waiting(void)
{
	for (int i = 0; i < 1000; i++)
		cond_resched();
	assert_false(READ_ONCE(removed));
}

/* Until the remover has reached @state with the ref killed. */
static void wait_removal_started(void)
{
	/* Pairs with the RMW of the kill (memremap.c). */
	while (!(atomic_long_read_acquire(&pgmap.ref) & PGMAP_REF_DEAD))
		cond_resched();
}

static void test_get_after_kill(void **state)
{
	unsigned long pfn, gen;
	struct mm_leak_check lc;
	struct task_struct *t;
	struct dev_pagemap *held;

	(void)state;
	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_GENERIC, 1);
	pfn = pgmap_pfn_first(&pgmap);
	gen = pg(0)->gen;
	held = get_dev_pagemap(pfn, NULL);
	assert_ptr_equal(held, &pgmap);
	t = start_removal();
	wait_removal_started();
	removal_still_waiting();
	/* Killed: no new reference, but ours keeps the pages in place. */
	assert_null(get_dev_pagemap(pfn, NULL));
	assert_int_equal(READ_ONCE(pgmap.state), PGMAP_DYING);
	assert_true(is_zone_device_page(pg(0)));
	assert_int_equal(READ_ONCE(pg(0)->gen), gen);
	put_dev_pagemap(held);
	assert_int_equal(kthread_join(t), 0);
	assert_int_equal(pgmap.state, PGMAP_REMOVED);
	assert_int_equal(pg(0)->gen, gen + 1);
	mm_leak_check_end(&lc);
}

/* Removal zaps, then waits for the page we hold (pin or FOLL_GET). */
static void removal_waits_for(bool pin)
{
	struct mm_leak_check lc;
	struct task_struct *t;
	struct mm_struct *mm;
	struct page *page;
	unsigned long gen;
	long va;

	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_GENERIC, 2);
	mm = mm_with_devmap(2, &va);
	gen = pg(1)->gen;
	if (pin)
		assert_int_equal(pin_user_pages_fast(mm, va + PAGE_SIZE, 1,
						     FOLL_WRITE, &page),
				 1);
	else
		assert_int_equal(
			get_user_pages_fast(mm, va + PAGE_SIZE, 1, 0, &page),
			1);
	assert_ptr_equal(page, pg(1));
	assert_int_equal(page_ref_count(page), 2);
	t = start_removal();
	/* The zap comes before the wait for page references. */
	while (test_pfn_at(mm, va + PAGE_SIZE, NULL))
		cond_resched();
	removal_still_waiting();
	assert_int_equal(READ_ONCE(pgmap.state), PGMAP_DYING);
	assert_int_equal(READ_ONCE(page->gen), gen);
	assert_true(is_zone_device_page(page));
	if (pin)
		unpin_user_page(page);
	else
		put_devmap_page(page);
	assert_int_equal(kthread_join(t), 0);
	assert_int_equal(page->gen, gen + 1);
	mm_exit(mm);
	mm_leak_check_end(&lc);
}

static void test_removal_waits_for_pin(void **state)
{
	(void)state;
	removal_waits_for(true);
}

static void test_removal_waits_for_get(void **state)
{
	(void)state;
	removal_waits_for(false);
}

/* --- the global zap ------------------------------------------------------ */

static void test_removal_zaps_everywhere(void **state)
{
	struct mm_struct *a, *b, *c;
	struct mm_leak_check lc;
	struct sim_cpu *cpu;
	long va, vb, vc, moved;
	u64 v = 0;

	(void)state;
	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_FS_DAX, 4);
	a = mm_with_devmap(4, &va);
	b = mm_with_devmap(4, &vb);
	/* A second mapping in the same mm, then moved by mremap. */
	vc = vm_mmap_devmap(b, &pgmap, 2, 2, PROT_READ | PROT_WRITE);
	assert_false(IS_ERR_VALUE(vc));
	moved = vm_mremap(b, vc, 2 * PAGE_SIZE, 2 * PAGE_SIZE,
			  MREMAP_MAYMOVE | MREMAP_FIXED, vc + 64 * PAGE_SIZE);
	assert_int_equal(moved, vc + 64 * PAGE_SIZE);
	assert_int_equal(test_pfn_at(b, moved + PAGE_SIZE, NULL),
			 pgmap_pfn_first(&pgmap) + 3);
	/* Shared device memory: a CPU of a sees b's store. */
	cpu = cpu_create(a);
	test_store(cpu, va + 3 * PAGE_SIZE, 0xd5);
	assert_int_equal(*(u64 *)pfn_to_virt(pgmap_pfn_first(&pgmap) + 3),
			 0xd5);
	/* A third mm that dies before the removal. */
	c = mm_with_devmap(1, &vc);
	mm_exit(c);
	memunmap_pages(&pgmap);
	for (unsigned long i = 0; i < 4; i++) {
		assert_int_equal(test_pfn_at(a, va + i * PAGE_SIZE, NULL), 0);
		assert_int_equal(test_pfn_at(b, vb + i * PAGE_SIZE, NULL), 0);
	}
	assert_int_equal(test_pfn_at(b, moved, NULL), 0);
	/* The VMA stays; the cached translation went with the flush, and a
	 * new access finds no device page to fault in: SIGBUS. */
	mmap_read_lock(a);
	assert_non_null(vma_lookup(a, va));
	mmap_read_unlock(a);
	assert_int_equal(cpu_load_u64(cpu, va + 3 * PAGE_SIZE, &v), -EFAULT);
	assert_int_not_equal(v, 0xd5);
	cpu_destroy(cpu);
	mm_exit(a);
	mm_exit(b);
	mm_leak_check_end(&lc);
}

/* --- GUP on device memory ------------------------------------------------ */

static void longterm(enum memory_type type, long want)
{
	struct mm_struct *mm;
	struct page *page;
	long va;

	pgmap_new(type, 1);
	mm = mm_with_devmap(1, &va);
	assert_int_equal(pin_user_pages_fast(mm, va, 1, FOLL_LONGTERM, &page),
			 want);
	mmap_read_lock(mm);
	assert_int_equal(
		pin_user_pages(mm, va, 1, FOLL_LONGTERM | FOLL_WRITE, &page),
		want);
	mmap_read_unlock(mm);
	if (want == 1) {
		assert_int_equal(folio_pincount(page), 2);
		unpin_user_page(page);
		unpin_user_page(page);
	}
	memunmap_pages(&pgmap);
	mm_exit(mm);
}

static void test_gup_longterm(void **state)
{
	struct mm_leak_check lc;

	(void)state;
	mm_leak_check_begin(&lc);
	longterm(MEMORY_DEVICE_GENERIC, 1);
	longterm(MEMORY_DEVICE_FS_DAX, -EOPNOTSUPP);
	longterm(MEMORY_DEVICE_COHERENT, -EOPNOTSUPP);
	mm_leak_check_end(&lc);
}

/* GUP-fast and the slow path on devmap entries, with and without the
 * pgmap check; a device mid-removal is refused by both. */
static void test_gup_modes(void **state)
{
	struct mm_leak_check lc;
	struct dev_pagemap *held;
	struct task_struct *t;
	struct mm_struct *mm;
	struct page *pages[2];
	long va;

	(void)state;
	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_GENERIC, 2);
	mm = mm_with_devmap(2, &va);
	for (int check = 0; check < 2; check++) {
		gup_fast_set_devmap_check(check);
		assert_int_equal(
			pin_user_pages_fast(mm, va, 2, FOLL_WRITE, pages), 2);
		assert_ptr_equal(pages[0], pg(0));
		assert_ptr_equal(pages[1], pg(1));
		assert_int_equal(folio_pincount(pg(1)), 1);
		unpin_user_pages(pages, 2);
		assert_int_equal(page_ref_count(pg(0)), 1);
		assert_int_equal(get_user_pages_unlocked(mm, va, 2, pages, 0),
				 2);
		put_devmap_page(pages[0]);
		put_devmap_page(pages[1]);
	}
	gup_fast_set_devmap_check(true);
	/* Killed but not yet zapped (we hold a reference): GUP refuses. */
	held = get_dev_pagemap(pgmap_pfn_first(&pgmap), NULL);
	t = start_removal();
	wait_removal_started();
	assert_int_equal(pin_user_pages_fast(mm, va, 1, 0, pages), -EFAULT);
	assert_int_equal(get_user_pages_unlocked(mm, va, 1, pages, 0), -EFAULT);
	put_dev_pagemap(held);
	assert_int_equal(kthread_join(t), 0);
	assert_int_equal(page_ref_count(pg(0)), 0);
	mm_exit(mm);
	mm_leak_check_end(&lc);
}

static bool hmm_inv(struct mmu_interval_notifier *mni,
		    const struct mmu_notifier_range *range,
		    unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops hmm_ops = {
	.invalidate = hmm_inv,
};

/* A device mirroring device-dax memory sees the device's own pages. */
static void test_hmm_devmap(void **state)
{
	struct mmu_interval_notifier mni;
	struct mm_leak_check lc;
	unsigned long pfns[3];
	struct hmm_range r = { .notifier = &mni,
			       .hmm_pfns = pfns,
			       .default_flags =
				       HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE };
	struct mm_struct *mm;
	long va;
	int ret;

	(void)state;
	mm_leak_check_begin(&lc);
	pgmap_new(MEMORY_DEVICE_GENERIC, 3);
	mm = mm_with_devmap(3, &va);
	assert_int_equal(mmu_interval_notifier_insert(&mni, mm, va,
						      3 * PAGE_SIZE, &hmm_ops),
			 0);
	r.start = va;
	r.end = va + 3 * PAGE_SIZE;
	do {
		r.notifier_seq = mmu_interval_read_begin(&mni);
		mmap_read_lock(mm);
		ret = hmm_range_fault(&r);
		mmap_read_unlock(mm);
	} while (ret == -EBUSY);
	assert_int_equal(ret, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pfns[i] & ~HMM_PFN_FLAGS,
				 pgmap_pfn_first(&pgmap) + i);
		assert_true(pfns[i] & HMM_PFN_VALID);
		assert_true(pfns[i] & HMM_PFN_WRITE);
	}
	/* Reported, not referenced: the device pages stay idle. */
	assert_int_equal(page_ref_count(pg(0)), 1);
	mmu_interval_notifier_remove(&mni);
	mm_exit(mm);
	memunmap_pages(&pgmap);
	mm_leak_check_end(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_get_after_kill),
		cmocka_unit_test(test_removal_waits_for_pin),
		cmocka_unit_test(test_removal_waits_for_get),
		cmocka_unit_test(test_removal_zaps_everywhere),
		cmocka_unit_test(test_gup_longterm),
		cmocka_unit_test(test_gup_modes),
		cmocka_unit_test(test_hmm_devmap),
	};

	/* Set physical memory up before the first leak-check snapshot. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
