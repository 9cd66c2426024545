// SPDX-License-Identifier: MIT
/*
 * Page migration (src/mm/migrate.c): data intact under the oracle (its
 * lost-write shadow follows copy_user_page), mapcounts, refcounts and RSS
 * after; a THP split and every page of it moved; a page shared by fork
 * moving in both mms; one-page
 * MMU_NOTIFY_MIGRATE brackets with no owner; a CPU faulting on a
 * migration entry waits and then sees the new frame (real threads);
 * pinned pages refused; an extra reference failing the migration with the
 * old PTEs restored; MADV_DONTNEED of a migration entry; bad arguments.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/migrate.h>
#include "mm/internal.h"

#define RW (PROT_READ | PROT_WRITE)
#define NPAGES 16

static struct mm_leak_check leak;

static struct {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	int migrate_starts, migrate_ends;
	bool bad_bracket; /* not one page, an owner, or wrong state */
} R;

static bool mapped(unsigned long va)
{
	return test_pfn_at(R.mm, va, NULL) != 0;
}

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	if (range->event != MMU_NOTIFY_MIGRATE)
		return 0;
	R.migrate_starts++;
	if (range->end - range->start != PAGE_SIZE || range->owner ||
	    !mapped(range->start))
		R.bad_bracket = true;
	return 0;
}

static void rec_end(struct mmu_notifier *mn,
		    const struct mmu_notifier_range *range)
{
	if (range->event != MMU_NOTIFY_MIGRATE)
		return;
	R.migrate_ends++;
	/* A migration entry now, not a mapping of the old frame. */
	if (mapped(range->start))
		R.bad_bracket = true;
}

static const struct mmu_notifier_ops rec_ops = {
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
	WRITE_ONCE(migrate_test_pause, NULL);
	mmu_notifier_unregister(&R.mn, R.mm);
	mm_exit(R.mm);
	mm_leak_check_end(&leak);
	return 0;
}

static u64 pattern(unsigned long va, int gen)
{
	return (va * 0x9E3779B97F4A7C15ULL) ^ (u64)gen;
}

static void fill(struct sim_cpu *cpu, long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		test_store(cpu, va, pattern(va, gen));
}

static void verify(struct sim_cpu *cpu, long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		assert_int_equal(test_load(cpu, va), pattern(va, gen));
}

static struct page *page_at(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn = test_pfn_at(mm, va, NULL);

	assert_true(pfn);
	return pfn_to_page(pfn);
}

static void test_round_trip(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long old[NPAGES], free_before;
	struct vm_migrate_stat before, after;
	u64 e;

	oracle_begin();
	fill(cpu, a, NPAGES, 1);
	for (int i = 0; i < NPAGES; i++)
		old[i] = test_pfn_at(R.mm, a + i * PAGE_SIZE, NULL);
	free_before = nr_free_pages();
	vm_migrate_stat(&before);
	assert_int_equal(vm_migrate_range(R.mm, a, a + NPAGES * PAGE_SIZE), 0);
	vm_migrate_stat(&after);
	assert_int_equal(after.succeeded - before.succeeded, NPAGES);
	assert_int_equal(R.migrate_starts, NPAGES);
	assert_int_equal(R.migrate_ends, NPAGES);
	assert_false(R.bad_bracket);
	/* Every old frame went back: as many free frames as before. */
	assert_int_equal(nr_free_pages(), free_before);
	for (int i = 0; i < NPAGES; i++) {
		unsigned long va = a + i * PAGE_SIZE;
		struct page *p = page_at(R.mm, va);

		assert_int_not_equal(page_to_pfn(p), old[i]);
		assert_int_equal(page_mapcount(p), 1);
		assert_int_equal(page_ref_count(p), 1);
		assert_true(PageAnon(p) && PageAnonExclusive(p));
		assert_true(PageLRU(p));
		/* Writable again, as before: a store does not COW. */
		test_pfn_at(R.mm, va, &e);
		assert_true(e & _PAGE_RW);
	}
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), NPAGES);
	verify(cpu, a, NPAGES, 1);
	unsigned long pfn = test_pfn_at(R.mm, a, NULL);
	test_store(cpu, a, 5);
	assert_int_equal(test_pfn_at(R.mm, a, NULL), pfn);
	/* And once more, one page by its frame. */
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	assert_int_not_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(test_load(cpu, a), 5);
	oracle_end_clean();
	cpu_destroy(cpu);
}

/*
 * The oracle's lost-write shadow moves with the bytes: a word changed
 * behind the oracle's back in the NEW frame after migration (what a lost
 * write leaves) is reported on the next CPU read.  A migration that
 * copied with a plain memcpy would leave the new frame without a shadow,
 * and nothing would be reported.
 */
static void test_shadow_follows(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long old, pfn;
	u64 v = 0;

	oracle_begin();
	check_set_output(NULL);
	test_store(cpu, a, 0x5eed);
	old = test_pfn_at(R.mm, a, NULL);
	assert_int_equal(vm_migrate_range(R.mm, a, a + PAGE_SIZE), 0);
	pfn = test_pfn_at(R.mm, a, NULL);
	assert_int_not_equal(pfn, old);
	WRITE_ONCE(*(u64 *)pfn_to_virt(pfn), 0xbad);
	assert_int_equal(cpu_load_u64(cpu, a, &v), 0);
	assert_int_equal(v, 0xbad);
	assert_int_equal(check_nr_violations(CHECK_LOST_WRITE), 1);
	/* Put the word back so the shadow and the frame agree again. */
	WRITE_ONCE(*(u64 *)pfn_to_virt(pfn), 0x5eed);
	check_reset();
	oracle_end_clean();
	cpu_destroy(cpu);
}

/*
 * A THP is split first (no PMD migration entries: Linux's path without
 * ARCH_ENABLE_THP_MIGRATION), then every one of its pages moves.
 */
static void test_thp_split_moves(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	struct vm_migrate_stat before, after;
	unsigned long head_pfn;
	long a;
	u64 e = 0;

	thp_set_mode(THP_MADVISE, false);
	a = test_map(R.mm, PMD_SIZE, RW, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(R.mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	oracle_begin();
	fill(cpu, a, HPAGE_PMD_NR, 3);
	head_pfn = test_pfn_at(R.mm, a, &e);
	assert_true(e & _PAGE_PSE);
	vm_migrate_stat(&before);
	assert_int_equal(vm_migrate_range(R.mm, a, a + PMD_SIZE), 0);
	vm_migrate_stat(&after);
	assert_int_equal(after.succeeded - before.succeeded, HPAGE_PMD_NR);
	assert_int_not_equal(test_pfn_at(R.mm, a, &e), head_pfn);
	assert_false(e & _PAGE_PSE);
	assert_false(PageHead(page_at(R.mm, a + PAGE_SIZE)) ||
		     PageTail(page_at(R.mm, a + PAGE_SIZE)));
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), HPAGE_PMD_NR);
	verify(cpu, a, HPAGE_PMD_NR, 3);
	oracle_end_clean();
	cpu_destroy(cpu);
}

static void test_fork_shared(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm), *ccpu;
	long a = test_map(R.mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct mm_struct *child;
	struct page *p;
	unsigned long pfn;
	u64 e;

	oracle_begin();
	fill(cpu, a, 2, 2);
	child = mm_fork(R.mm);
	assert_non_null(child);
	ccpu = cpu_create(child);
	pfn = test_pfn_at(R.mm, a, NULL);
	assert_int_equal(test_pfn_at(child, a, NULL), pfn);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	/* Both mms map the same new frame, read-only (COW). */
	p = page_at(R.mm, a);
	assert_int_not_equal(page_to_pfn(p), pfn);
	assert_int_equal(test_pfn_at(child, a, &e), page_to_pfn(p));
	assert_false(e & _PAGE_RW);
	assert_int_equal(page_mapcount(p), 2);
	assert_int_equal(page_ref_count(p), 2);
	assert_false(PageAnonExclusive(p));
	assert_int_equal(get_mm_counter(child, MM_ANONPAGES), 2);
	verify(ccpu, a, 2, 2);
	/* COW still separates them. */
	test_store(ccpu, a, 99);
	assert_int_equal(test_load(cpu, a), pattern(a, 2));
	assert_int_equal(test_load(ccpu, a), 99);
	/* The whole child range too. */
	assert_int_equal(vm_migrate_range(child, a, a + 2 * PAGE_SIZE), 0);
	assert_int_equal(test_load(ccpu, a), 99);
	verify(cpu, a, 2, 2);
	oracle_end_clean();
	cpu_destroy(ccpu);
	mm_exit(child);
	cpu_destroy(cpu);
}

/* ---- a CPU faulting on a migration entry ---------------------------------- */

static struct {
	struct sim_cpu *cpu;
	unsigned long va;
	struct task_struct *task;
	unsigned long waits;
	u64 seen;
	struct page *gup; /* GUP mode: the page GUP returned */
} W;

static int waiter_fn(void *data)
{
	if (data) {
		/* GUP-fast bails on the entry; the slow path faults. */
		if (get_user_pages_fast(W.cpu->mm, W.va, 1, FOLL_WRITE,
					&W.gup) != 1)
			return -1;
		return 0;
	}
	/* A store: the entry is WRITE, so no COW after the wait. */
	test_store(W.cpu, W.va + 8, 77);
	W.seen = test_load(W.cpu, W.va);
	return 0;
}

static void pause_start_gup_waiter(struct page *page)
{
	struct vm_migrate_stat st;

	W.task = kthread_run(waiter_fn, &W, "gup-waiter");
	assert_false(IS_ERR(W.task));
	do {
		cond_resched();
		vm_migrate_stat(&st);
	} while (st.waits == W.waits);
}

static void pause_start_waiter(struct page *page)
{
	struct vm_migrate_stat st;

	W.task = kthread_run(waiter_fn, NULL, "waiter");
	assert_false(IS_ERR(W.task));
	/* Until it sleeps on our page lock: it cannot finish before. */
	do {
		cond_resched();
		vm_migrate_stat(&st);
	} while (st.waits == W.waits);
}

static void test_fault_waits(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct vm_migrate_stat st;
	unsigned long pfn;

	oracle_begin();
	test_store(cpu, a, 33);
	pfn = test_pfn_at(R.mm, a, NULL);
	W.cpu = cpu_create(R.mm);
	W.va = a;
	vm_migrate_stat(&st);
	W.waits = st.waits;
	WRITE_ONCE(migrate_test_pause, pause_start_waiter);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	WRITE_ONCE(migrate_test_pause, NULL);
	assert_int_equal(kthread_join(W.task), 0);
	assert_int_equal(W.seen, 33);
	/* The waiter's store went to the new frame, in place. */
	assert_int_not_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(test_load(cpu, a + 8), 77);
	assert_int_equal(page_ref_count(page_at(R.mm, a)), 1);
	oracle_end_clean();
	cpu_destroy(W.cpu);
	cpu_destroy(cpu);
}

static void test_gup_waits(void **state)
{
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct sim_cpu *cpu = cpu_create(R.mm);
	struct vm_migrate_stat st;
	unsigned long pfn;

	test_store(cpu, a, 21);
	pfn = test_pfn_at(R.mm, a, NULL);
	W.cpu = cpu;
	W.va = a;
	W.gup = NULL;
	vm_migrate_stat(&st);
	W.waits = st.waits;
	WRITE_ONCE(migrate_test_pause, pause_start_gup_waiter);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	WRITE_ONCE(migrate_test_pause, NULL);
	assert_int_equal(kthread_join(W.task), 0);
	/* GUP got the new page, not the old frame. */
	assert_non_null(W.gup);
	assert_int_equal(page_to_pfn(W.gup), test_pfn_at(R.mm, a, NULL));
	assert_int_not_equal(page_to_pfn(W.gup), pfn);
	put_page(W.gup);
	cpu_destroy(cpu);
}

/* ---- refusals -------------------------------------------------------------- */

static void test_pinned_refused(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *pinned;
	unsigned long pfn;

	test_store(cpu, a, 1);
	pfn = test_pfn_at(R.mm, a, NULL);
	assert_int_equal(pin_user_pages_fast(R.mm, a, 1,
					     FOLL_WRITE | FOLL_LONGTERM,
					     &pinned),
			 1);
	assert_int_equal(migrate_page_to_new(pinned), -EAGAIN);
	assert_int_equal(vm_migrate_range(R.mm, a, a + PAGE_SIZE), -EAGAIN);
	assert_int_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(R.migrate_starts, 0);
	unpin_user_page(pinned);
	assert_int_equal(vm_migrate_range(R.mm, a, a + PAGE_SIZE), 0);
	assert_int_not_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(test_load(cpu, a), 1);
	cpu_destroy(cpu);
}

static struct page *extra_ref;

static void pause_take_ref(struct page *page)
{
	/* As a GUP that found the page before the entry went in. */
	get_page(page);
	extra_ref = page;
}

static void test_extra_ref_restores(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long pfn;
	u64 e;

	oracle_begin();
	test_store(cpu, a, 3);
	pfn = test_pfn_at(R.mm, a, NULL);
	WRITE_ONCE(migrate_test_pause, pause_take_ref);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), -EAGAIN);
	WRITE_ONCE(migrate_test_pause, NULL);
	/* The old PTE is back, writable, and the page accounted. */
	assert_int_equal(test_pfn_at(R.mm, a, &e), pfn);
	assert_true(e & _PAGE_RW);
	assert_int_equal(page_mapcount(extra_ref), 1);
	assert_int_equal(page_ref_count(extra_ref), 2);
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), 1);
	put_page(extra_ref);
	test_store(cpu, a, 4);
	assert_int_equal(test_pfn_at(R.mm, a, NULL), pfn);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	assert_int_equal(test_load(cpu, a), 4);
	oracle_end_clean();
	cpu_destroy(cpu);
}

static long zap_addr;

static void pause_zap(struct page *page)
{
	/* MADV_DONTNEED takes mmap_lock for read: it meets the entry. */
	assert_int_equal(vm_madvise(R.mm, zap_addr, PAGE_SIZE, MADV_DONTNEED),
			 0);
}

static void test_zap_migration_entry(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long free_before;

	test_store(cpu, a, 8);
	test_store(cpu, a + PAGE_SIZE, 9);
	free_before = nr_free_pages();
	zap_addr = a;
	WRITE_ONCE(migrate_test_pause, pause_zap);
	assert_int_equal(migrate_page_to_new(page_at(R.mm, a)), 0);
	WRITE_ONCE(migrate_test_pause, NULL);
	/* The entry's RSS went with it; the old frame and the new one are
	 * both free again. */
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), 1);
	assert_int_equal(nr_free_pages(), free_before + 1);
	assert_int_equal(test_load(cpu, a), 0);
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 9);
	cpu_destroy(cpu);
}

static void test_bad_arguments(void **state)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = test_map(R.mm, PAGE_SIZE, RW, MAP_PRIVATE);
	struct page *p = alloc_page(GFP_KERNEL);
	unsigned long pfn = page_to_pfn(p);

	assert_int_equal(migrate_page_to_new(NULL), -EINVAL);
	/* Not anonymous memory: a page nobody mapped, then a free one. */
	assert_int_equal(migrate_page_to_new(p), -EINVAL);
	__free_page(p);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), -EINVAL);
	assert_int_equal(migrate_page_to_new(ZERO_PAGE(0)), -EINVAL);
	assert_int_equal(vm_migrate_range(NULL, a, a + PAGE_SIZE), -EINVAL);
	assert_int_equal(vm_migrate_range(R.mm, a + 1, a + PAGE_SIZE), -EINVAL);
	assert_int_equal(vm_migrate_range(R.mm, a, a), -EINVAL);
	assert_int_equal(vm_migrate_range(R.mm, a, R.mm->task_size + PAGE_SIZE),
			 -EINVAL);
	/* Holes and the zero page are skipped. */
	assert_int_equal(vm_migrate_range(R.mm, a, a + PAGE_SIZE), 0);
	assert_int_equal(test_load(cpu, a), 0);
	assert_int_equal(vm_migrate_range(R.mm, a, a + PAGE_SIZE), 0);
	/* No frame for the copy. */
	test_store(cpu, a, 6);
	p = page_at(R.mm, a);
	fault_inject_random(1, 1000);
	assert_int_equal(migrate_page_to_new(p), -ENOMEM);
	fault_inject_off();
	assert_ptr_equal(page_at(R.mm, a), p);
	assert_int_equal(test_load(cpu, a), 6);
	assert_int_equal(R.migrate_starts, 0);
	cpu_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shadow_follows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thp_split_moves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_shared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_waits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gup_waits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pinned_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_extra_ref_restores, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zap_migration_entry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
						teardown),
	};

	/* Physical memory exists before the first leak check reads it. */
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
