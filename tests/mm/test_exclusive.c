// SPDX-License-Identifier: MIT
/*
 * Device-exclusive entries (src/mm/exclusive.c) under the oracle and the
 * leak check: the entry installed (pfn, mapcount, references, RSS kept,
 * one EXCLUSIVE invalidation per page carrying the owner); a CPU read and
 * a CPU write restore it (data intact, an EXCLUSIVE invalidation with no
 * owner, no COW); munmap and MADV_DONTNEED of exclusive entries leak
 * nothing; fork restores the parent's entry read-only and shares the page
 * COW; mprotect keeps the entry and the restore follows the VMA;
 * hmm_range_fault reports it unmapped or restores it; bad arguments.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/exclusive.h>
#include <mmirror/gup.h>
#include <mmirror/hmm.h>
#include "mm/internal.h"

#define RW (PROT_READ | PROT_WRITE)
#define NPAGES 4
#define OWNER ((void *)&R)

static struct mm_leak_check leak;

static struct {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	int excl_owner, excl_null; /* EXCLUSIVE starts by owner */
	int ends;
	bool bad_range; /* an EXCLUSIVE range that is not one page */
} R;

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	if (range->event != MMU_NOTIFY_EXCLUSIVE)
		return 0;
	if (range->end - range->start != PAGE_SIZE)
		R.bad_range = true;
	if (range->owner == OWNER)
		R.excl_owner++;
	else if (!range->owner)
		R.excl_null++;
	return 0;
}

static void rec_end(struct mmu_notifier *mn,
		    const struct mmu_notifier_range *range)
{
	if (range->event == MMU_NOTIFY_EXCLUSIVE)
		R.ends++;
}

static const struct mmu_notifier_ops rec_ops = {
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
};

static bool mni_invalidate(struct mmu_interval_notifier *mni,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops test_mni_ops = {
	.invalidate = mni_invalidate,
};

static int setup(void **state)
{
	mm_leak_check_begin(&leak);
	memset(&R, 0, sizeof(R));
	R.mm = mm_alloc();
	R.mn.ops = &rec_ops;
	assert_int_equal(mmu_notifier_register(&R.mn, R.mm), 0);
	R.cpu = cpu_create(R.mm);
	oracle_begin();
	return 0;
}

static int teardown(void **state)
{
	oracle_end_clean();
	cpu_destroy(R.cpu);
	mmu_notifier_unregister(&R.mn, R.mm);
	mm_exit(R.mm);
	mm_leak_check_end(&leak);
	return 0;
}

/* The raw leaf word at @va (0 if no PTE table reaches it). */
static u64 raw_pte(struct mm_struct *mm, unsigned long va)
{
	struct pt_snapshot s;

	mmap_read_lock(mm);
	pt_walk_snapshot(mm, va, &s);
	mmap_read_unlock(mm);
	return s.shift == PAGE_SHIFT ? s.entry : 0;
}

static bool is_excl(struct mm_struct *mm, unsigned long va, unsigned long pfn)
{
	u64 e = raw_pte(mm, va);
	swp_entry_t se = pte_to_swp_entry(__pte(e));

	return is_swap_pte(__pte(e)) && is_device_exclusive_entry(se) &&
	       swp_offset(se) == pfn;
}

static u64 pattern(unsigned long va, int gen)
{
	return (va * 0x9E3779B97F4A7C15ULL) ^ (u64)gen;
}

static long map_filled(int n, int gen)
{
	long a = test_map(R.mm, n * PAGE_SIZE, RW, MAP_PRIVATE);

	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		test_store(R.cpu, va, pattern(va, gen));
	return a;
}

static void verify(struct sim_cpu *cpu, long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		assert_int_equal(test_load(cpu, va), pattern(va, gen));
}

/* make_device_exclusive() + release; returns the pfns made exclusive. */
static void make_excl(long a, int n, unsigned long *pfns)
{
	struct page *pages[NPAGES];

	mmap_read_lock(R.mm);
	assert_int_equal(
		make_device_exclusive(R.mm, a, a + n * PAGE_SIZE, OWNER, pages),
		0);
	for (int i = 0; i < n; i++) {
		assert_true(pages[i]->flags & BIT(PG_locked));
		pfns[i] = page_to_pfn(pages[i]);
	}
	device_exclusive_release(pages, n);
	mmap_read_unlock(R.mm);
}

static void test_install(void **state)
{
	long a = map_filled(NPAGES, 1);
	unsigned long pfns[NPAGES], old[NPAGES];
	struct page *pages[NPAGES];

	for (int i = 0; i < NPAGES; i++)
		old[i] = test_pfn_at(R.mm, a + i * PAGE_SIZE, NULL);
	mmap_read_lock(R.mm);
	assert_int_equal(make_device_exclusive(R.mm, a, a + NPAGES * PAGE_SIZE,
					       OWNER, pages),
			 0);
	for (int i = 0; i < NPAGES; i++) {
		struct page *p = pages[i];

		pfns[i] = page_to_pfn(p);
		assert_int_equal(pfns[i], old[i]); /* already ours: no COW */
		assert_true(is_excl(R.mm, a + i * PAGE_SIZE, pfns[i]));
		assert_true(p->flags & BIT(PG_locked));
		/* The entry keeps the mapping; the caller has one more. */
		assert_int_equal(page_mapcount(p), 1);
		assert_int_equal(page_ref_count(p), 2);
		assert_true(PageDirty(p)); /* moved from the PTE */
	}
	device_exclusive_release(pages, NPAGES);
	mmap_read_unlock(R.mm);
	for (int i = 0; i < NPAGES; i++) {
		struct page *p = pfn_to_page(pfns[i]);

		assert_false(p->flags & BIT(PG_locked));
		assert_int_equal(page_ref_count(p), 1);
	}
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), NPAGES);
	assert_int_equal(R.excl_owner, NPAGES);
	assert_int_equal(R.excl_null, 0);
	assert_int_equal(R.ends, NPAGES);
	assert_false(R.bad_range);
}

static void test_cpu_read_restores(void **state)
{
	long a = map_filled(NPAGES, 2);
	unsigned long pfns[NPAGES];
	u64 e;

	make_excl(a, NPAGES, pfns);
	verify(R.cpu, a, NPAGES, 2);
	for (int i = 0; i < NPAGES; i++) {
		unsigned long va = a + i * PAGE_SIZE;

		e = raw_pte(R.mm, va);
		assert_true(e & _PAGE_PRESENT);
		assert_true(e & _PAGE_RW); /* anon-exclusive: write kept */
		assert_int_equal(pte_pfn(__pte(e)), pfns[i]);
	}
	/* One owner-less EXCLUSIVE invalidation per restored page. */
	assert_int_equal(R.excl_null, NPAGES);
	assert_int_equal(R.ends, 2 * NPAGES);
	assert_int_equal(page_ref_count(pfn_to_page(pfns[0])), 1);
	assert_int_equal(page_mapcount(pfn_to_page(pfns[0])), 1);
}

static void test_cpu_write_restores(void **state)
{
	long a = map_filled(1, 3);
	unsigned long pfn;

	make_excl(a, 1, &pfn);
	test_store(R.cpu, a + 8, 77);
	assert_int_equal(test_pfn_at(R.mm, a, NULL), pfn); /* no COW */
	assert_int_equal(test_load(R.cpu, a + 8), 77);
	assert_int_equal(test_load(R.cpu, a), pattern(a, 3));
	assert_int_equal(R.excl_null, 1);
	/* Exclusive again, and GUP (a kernel access) restores it too. */
	make_excl(a, 1, &pfn);
	assert_true(is_excl(R.mm, a, pfn));
	{
		struct page *p;

		mmap_read_lock(R.mm);
		assert_int_equal(get_user_pages(R.mm, a, 1, 0, &p), 1);
		mmap_read_unlock(R.mm);
		assert_int_equal(page_to_pfn(p), pfn);
		put_page(p);
	}
	assert_false(is_excl(R.mm, a, pfn));
	assert_int_equal(R.excl_null, 2);
}

static void test_zap(void **state)
{
	long a = map_filled(NPAGES, 4);
	unsigned long pfns[NPAGES], free_before;

	make_excl(a, NPAGES, pfns);
	free_before = nr_free_pages();
	/* DONTNEED of two exclusive entries: the frames come back. */
	assert_int_equal(vm_madvise(R.mm, a, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(nr_free_pages(), free_before + 2);
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), NPAGES - 2);
	assert_int_equal(test_load(R.cpu, a), 0); /* fresh zero-filled */
	/* munmap of the other two. */
	assert_int_equal(vm_munmap(R.mm, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), 0);
	assert_int_equal(R.excl_null, 0); /* zap is no restore */
	/* And one left for exit to drop (teardown's leak check). */
	a = map_filled(1, 5);
	make_excl(a, 1, pfns);
}

static void test_fork(void **state)
{
	long a = map_filled(2, 6);
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	unsigned long pfns[2];
	struct page *p;
	u64 e;

	make_excl(a, 2, pfns);
	child = mm_fork(R.mm);
	assert_non_null(child);
	ccpu = cpu_create(child);
	p = pfn_to_page(pfns[0]);
	/* Restored read-only in the parent, shared COW with the child. */
	e = raw_pte(R.mm, a);
	assert_true(e & _PAGE_PRESENT);
	assert_false(e & _PAGE_RW);
	assert_int_equal(test_pfn_at(child, a, &e), pfns[0]);
	assert_false(e & _PAGE_RW);
	assert_int_equal(page_mapcount(p), 2);
	assert_int_equal(page_ref_count(p), 2);
	assert_false(PageAnonExclusive(p));
	assert_int_equal(get_mm_counter(child, MM_ANONPAGES), 2);
	verify(ccpu, a, 2, 6);
	/* COW separates them. */
	test_store(R.cpu, a, 11);
	test_store(ccpu, a, 22);
	assert_int_equal(test_load(R.cpu, a), 11);
	assert_int_equal(test_load(ccpu, a), 22);
	assert_int_equal(test_load(ccpu, a + PAGE_SIZE),
			 pattern(a + PAGE_SIZE, 6));
	cpu_destroy(ccpu);
	mm_exit(child);
}

static void test_mprotect(void **state)
{
	long a = map_filled(1, 7);
	struct page *pages[1];
	unsigned long pfn;
	u64 e;

	make_excl(a, 1, &pfn);
	assert_int_equal(vm_mprotect(R.mm, a, PAGE_SIZE, PROT_READ), 0);
	assert_true(is_excl(R.mm, a, pfn)); /* kept */
	/* A read restores it read-only: the VMA decides. */
	assert_int_equal(test_load(R.cpu, a), pattern(a, 7));
	e = raw_pte(R.mm, a);
	assert_true(e & _PAGE_PRESENT);
	assert_false(e & _PAGE_RW);
	/* No exclusive access to read-only memory. */
	mmap_read_lock(R.mm);
	assert_int_equal(
		make_device_exclusive(R.mm, a, a + PAGE_SIZE, OWNER, pages),
		-EFAULT);
	mmap_read_unlock(R.mm);
	/* Writable again: exclusive again, then a write restores it. */
	assert_int_equal(vm_mprotect(R.mm, a, PAGE_SIZE, RW), 0);
	make_excl(a, 1, &pfn);
	assert_int_equal(vm_mprotect(R.mm, a, PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(vm_mprotect(R.mm, a, PAGE_SIZE, RW), 0);
	test_store(R.cpu, a, 9);
	assert_int_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(test_load(R.cpu, a), 9);
}

static void test_hmm_range_fault(void **state)
{
	long a = map_filled(1, 8);
	struct mmu_interval_notifier mni;
	unsigned long pfn, hpfn = 0;
	struct hmm_range range = {
		.notifier = &mni,
		.start = a,
		.end = a + PAGE_SIZE,
		.hmm_pfns = &hpfn,
	};
	int ret;

	assert_int_equal(mmu_interval_notifier_insert(&mni, R.mm, a, PAGE_SIZE,
						      &test_mni_ops),
			 0);
	make_excl(a, 1, &pfn);
	/* No fault asked: not mapped to a device (Linux). */
	do {
		range.notifier_seq = mmu_interval_read_begin(&mni);
		mmap_read_lock(R.mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(R.mm);
	} while (ret == -EBUSY);
	assert_int_equal(ret, 0);
	assert_int_equal(hpfn, 0);
	assert_true(is_excl(R.mm, a, pfn));
	/* A fault asked: restored like a CPU access. */
	range.default_flags = HMM_PFN_REQ_FAULT;
	do {
		range.notifier_seq = mmu_interval_read_begin(&mni);
		mmap_read_lock(R.mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(R.mm);
	} while (ret == -EBUSY);
	assert_int_equal(ret, 0);
	assert_true(hpfn & HMM_PFN_VALID);
	assert_int_equal(hpfn & ~HMM_PFN_FLAGS, pfn);
	assert_false(is_excl(R.mm, a, pfn));
	assert_int_equal(R.excl_null, 1);
	mmu_interval_notifier_remove(&mni);
}

static void test_bad_arguments(void **state)
{
	long a = map_filled(1, 9);
	long s = test_map(R.mm, PAGE_SIZE, RW, MAP_SHARED);
	struct page *pages[2];

	mmap_read_lock(R.mm);
	assert_int_equal(
		make_device_exclusive(NULL, a, a + PAGE_SIZE, OWNER, pages),
		-EINVAL);
	assert_int_equal(
		make_device_exclusive(R.mm, a, a + PAGE_SIZE, NULL, pages),
		-EINVAL);
	assert_int_equal(
		make_device_exclusive(R.mm, a, a + PAGE_SIZE, OWNER, NULL),
		-EINVAL);
	assert_int_equal(
		make_device_exclusive(R.mm, a + 1, a + PAGE_SIZE, OWNER, pages),
		-EINVAL);
	assert_int_equal(make_device_exclusive(R.mm, a, a, OWNER, pages),
			 -EINVAL);
	assert_int_equal(
		make_device_exclusive(R.mm, a + PAGE_SIZE, a, OWNER, pages),
		-EINVAL);
	assert_int_equal(make_device_exclusive(R.mm, R.mm->task_size,
					       R.mm->task_size + PAGE_SIZE,
					       OWNER, pages),
			 -EINVAL);
	/* No VMA after the page: the first is made, then undone. */
	assert_int_equal(
		make_device_exclusive(R.mm, a, a + 2 * PAGE_SIZE, OWNER, pages),
		-EFAULT);
	assert_null(pages[0]);
	/* Shared memory is not anonymous. */
	assert_int_equal(
		make_device_exclusive(R.mm, s, s + PAGE_SIZE, OWNER, pages),
		-EOPNOTSUPP);
	mmap_read_unlock(R.mm);
	/* The page made before the error is unlocked and still readable. */
	assert_int_equal(test_load(R.cpu, a), pattern(a, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_read_restores, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cpu_write_restores, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mprotect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hmm_range_fault, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
						teardown),
	};

	/* Physical memory exists before the first leak check reads it. */
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
