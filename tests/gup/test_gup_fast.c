// SPDX-License-Identifier: MIT
/*
 * GUP-fast: the lockless walk gives what the slow path gives, takes no
 * lock when it can serve the whole range, bails (and the slow path takes
 * over) on what it must not touch, and survives concurrent munmap,
 * MADV_DONTNEED and huge-page splits with real threads: every page it
 * returns is a live frame, held, that nobody frees or reuses until it is
 * released, and every frame is back at the end.
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
#define NR 1024 /* 4 MiB: two PMD leaves' worth */

/* Write-populate [a, a + NR pages) (MADV_WILLNEED would read-fault). */
static void populate_write(struct mm_struct *mm, unsigned long a)
{
	static struct page *pages[NR];
	long n = get_user_pages_unlocked(mm, a, NR, pages, FOLL_WRITE);

	CHECK(n == NR);
	for (int i = 0; i < NR; i++)
		put_page(pages[i]);
}

/* [a, a + 4 MiB): the first 2 MiB huge, the second 4 KiB pages. */
static long map_mixed(struct mm_struct *mm)
{
	long a =
		vm_mmap(mm, 0, NR * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS);

	assert_false(IS_ERR_VALUE(a));
	assert_int_equal(vm_madvise(mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	populate_write(mm, a);
	return a;
}

static void test_fast_matches_slow(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = map_mixed(mm);
	static struct page *fast[NR], *slow[NR];
	u64 e = 0;

	test_pfn_at(mm, a, &e);
	assert_true(e & _PAGE_PSE);
	test_pfn_at(mm, a + PMD_SIZE, &e);
	assert_false(e & _PAGE_PSE);
	/* Holding mmap_lock for write: the fast path must not need it. */
	mmap_write_lock(mm);
	assert_int_equal(pin_user_pages_fast(mm, a, NR, FOLL_WRITE, fast), NR);
	assert_int_equal(get_user_pages(mm, a, NR, FOLL_WRITE, slow), NR);
	mmap_write_unlock(mm);
	for (int i = 0; i < NR; i++) {
		assert_ptr_equal(fast[i], slow[i]);
		assert_int_equal(page_to_pfn(fast[i]),
				 test_pfn_at(mm, a + i * PAGE_SIZE, NULL));
	}
	assert_int_equal(folio_pincount(fast[0]), HPAGE_PMD_NR);
	assert_int_equal(folio_pincount(fast[NR - 1]), 1);
	unpin_user_pages(fast, NR);
	for (int i = 0; i < NR; i++)
		put_page(slow[i]);
	assert_false(folio_maybe_dma_pinned(fast[0]));
	/* get_user_pages_fast: references only. */
	int ref = page_count(slow[NR - 1]);
	assert_int_equal(
		get_user_pages_fast(mm, a + PMD_SIZE - PAGE_SIZE, 2, 0, fast),
		2);
	assert_int_equal(page_count(fast[1]), ref + 1);
	assert_int_equal(folio_pincount(fast[1]), 0);
	put_page(fast[0]);
	put_page(fast[1]);
	mm_exit(mm);
}

/* Entries the fast path must decline, and what the slow path makes of them. */
static void test_fast_bails(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = vm_mmap(mm, 0, 4 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
	struct page *pages[4], *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long hole = 1UL << 40;

	/* None: faulted in by the slow path. */
	assert_int_equal(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, pages), 1);
	assert_int_equal(page_to_pfn(pages[0]), test_pfn_at(mm, a, NULL));
	unpin_user_page(pages[0]);
	/* None with FOLL_NOFAULT: the slow path refuses too. */
	assert_int_equal(
		get_user_pages_fast(mm, a + PAGE_SIZE, 1, FOLL_NOFAULT, pages),
		-EFAULT);
	/* The zero page (special): bails; the slow path returns it. */
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 0);
	assert_int_equal(get_user_pages_fast(mm, a + PAGE_SIZE, 1, 0, pages),
			 1);
	assert_ptr_equal(pages[0], ZERO_PAGE(0));
	put_page(pages[0]);
	/* Write to a read-only (COW-shared) entry: the slow path copies. */
	test_store(cpu, a + 2 * PAGE_SIZE, 9);
	struct mm_struct *child = mm_fork(mm);
	unsigned long shared = test_pfn_at(mm, a + 2 * PAGE_SIZE, NULL);

	assert_int_equal(pin_user_pages_fast(mm, a + 2 * PAGE_SIZE, 1,
					     FOLL_WRITE, pages),
			 1);
	assert_int_not_equal(page_to_pfn(pages[0]), shared);
	assert_int_equal(*(u64 *)page_address(pages[0]), 9);
	unpin_user_page(pages[0]);
	/* A read pin of it after fork also unshares (not anon-exclusive). */
	shared = test_pfn_at(child, a, NULL);
	assert_int_equal(test_pfn_at(mm, a, NULL), shared);
	assert_int_equal(pin_user_pages_fast(mm, a, 1, 0, pages), 1);
	assert_int_not_equal(page_to_pfn(pages[0]), shared);
	unpin_user_page(pages[0]);
	mm_exit(child);
	/*
	 * Outside any VMA (built by hand): a present entry is served by the
	 * fast path alone (it never looks at VMAs, as in Linux); a PROT_NONE
	 * one bails, and the slow path finds no VMA.
	 */
	assert_int_equal(mm_map_page(mm, hole, pg, PAGE_SHARED), 0);
	assert_int_equal(mm_map_page(mm, hole + PAGE_SIZE, pg, PAGE_NONE), 0);
	assert_int_equal(pin_user_pages_fast(mm, hole, 1, FOLL_WRITE, pages),
			 1);
	assert_ptr_equal(pages[0], pg);
	unpin_user_page(pages[0]);
	assert_int_equal(pin_user_pages_fast(mm, hole, 2, 0, pages), 1);
	unpin_user_page(pages[0]);
	assert_int_equal(get_user_pages_fast(mm, hole + PAGE_SIZE, 1, 0, pages),
			 -EFAULT);
	__free_page(pg);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* --- the stress ---------------------------------------------------------- */

struct stress {
	struct mm_struct *mm;
	unsigned long base;
	int stop; /* atomic */
	long held; /* pages held, for the report */
};

static void check_held(struct page *p)
{
	struct page *head = compound_head(p);

	/* Held by us: allocated, referenced, not on a free list. */
	CHECK(page_ref_count(head) >= 1);
	CHECK(!PageBuddy(head));
	CHECK(!PageZero(head));
	CHECK(!PageTable(head));
	/* Anonymous memory of this VMA: the page was faulted for this
	 * range (index = va >> PAGE_SHIFT with vm_pgoff = vm_start). */
	CHECK(PageAnon(head));
}

static void *gup_thread(void *arg)
{
	struct stress *s = arg;
	uint64_t rnd = (uintptr_t)&rnd;
	struct page *pages[16];
	unsigned long gens[16];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		unsigned long off = test_rand(&rnd) % (NR - 16);
		int n = 1 + test_rand(&rnd) % 16;
		bool pin = test_rand(&rnd) & 1;
		unsigned int flags = (test_rand(&rnd) & 1) ? FOLL_WRITE : 0;
		unsigned long start = s->base + off * PAGE_SIZE;
		int ret = pin ? pin_user_pages_fast(s->mm, start, n, flags,
						    pages) :
				get_user_pages_fast(s->mm, start, n, flags,
						    pages);

		CHECK(ret == -EFAULT || (ret >= 1 && ret <= n));
		for (int i = 0; i < ret; i++) {
			u64 *w = page_address(pages[i]);

			if (PageZero(pages[i])) {
				CHECK(!(flags & FOLL_WRITE));
				continue; /* reads may hold the zero page */
			}
			check_held(pages[i]);
			CHECK(PageHead(pages[i]) || PageTail(pages[i]) ||
			      pages[i]->index == (start >> PAGE_SHIFT) + i);
			gens[i] = READ_ONCE(compound_head(pages[i])->gen);
			/* Read (and write, if asked) the held frame. */
			(void)__atomic_load_n(&w[1], __ATOMIC_RELAXED);
			if (flags & FOLL_WRITE)
				__atomic_store_n(&w[0], start,
						 __ATOMIC_RELAXED);
		}
		for (int i = 0; i < ret; i++) {
			if (PageZero(pages[i]) && pin) {
				unpin_user_page(pages[i]); /* a no-op */
				continue;
			}
			if (PageZero(pages[i])) {
				put_page(pages[i]);
				continue;
			}
			/* Nobody freed or reused it while we held it. */
			check_held(pages[i]);
			CHECK(READ_ONCE(compound_head(pages[i])->gen) ==
			      gens[i]);
			if (pin)
				unpin_user_page(pages[i]);
			else
				put_page(pages[i]);
		}
		if (ret > 0)
			__atomic_fetch_add(&s->held, ret, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void remap(struct stress *s)
{
	long a = vm_mmap(s->mm, s->base, NR * PAGE_SIZE, RW,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);

	CHECK(a == (long)s->base);
	CHECK(!vm_madvise(s->mm, s->base, NR * PAGE_SIZE, MADV_HUGEPAGE));
	populate_write(s->mm, s->base);
}

static void test_fast_stress(void **state)
{
	struct stress s = { .mm = mm_alloc() };
	pthread_t t[2];
	uint64_t rnd = 12345;
	int iters = TEST_SCALE(1500);

	s.base = vm_mmap(s.mm, 0, NR * PAGE_SIZE, RW,
			 MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE((long)s.base));
	assert_int_equal(s.base % PMD_SIZE, 0);
	remap(&s);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, gup_thread, &s),
				 0);
	for (int i = 0; i < iters; i++) {
		unsigned long off = test_rand(&rnd) % NR;
		unsigned long len = 1 + test_rand(&rnd) % (NR - off);

		switch (test_rand(&rnd) % 5) {
		case 0: /* munmap everything, map it again (fresh frames) */
			assert_int_equal(
				vm_munmap(s.mm, s.base, NR * PAGE_SIZE), 0);
			remap(&s);
			break;
		case 1: /* drop a random range */
			assert_int_equal(
				vm_madvise(s.mm, s.base + off * PAGE_SIZE,
					   len * PAGE_SIZE, MADV_DONTNEED),
				0);
			break;
		case 2: /* one 4 KiB page out of a (huge) leaf: splits it */
			assert_int_equal(vm_munmap(s.mm,
						   s.base + off * PAGE_SIZE,
						   PAGE_SIZE),
					 0);
			assert_int_equal(vm_mmap(s.mm, s.base + off * PAGE_SIZE,
						 PAGE_SIZE, RW,
						 MAP_PRIVATE | MAP_ANONYMOUS |
							 MAP_FIXED),
					 (long)(s.base + off * PAGE_SIZE));
			break;
		case 3: /* write-protect and back: write pins must bail */
			assert_int_equal(vm_mprotect(s.mm, s.base,
						     NR * PAGE_SIZE, PROT_READ),
					 0);
			assert_int_equal(
				vm_mprotect(s.mm, s.base, NR * PAGE_SIZE, RW),
				0);
			break;
		default: /* repopulate (read faults: zero pages) */
			assert_int_equal(vm_madvise(s.mm, s.base,
						    NR * PAGE_SIZE,
						    MADV_WILLNEED),
					 0);
			break;
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(s.held > 0);
	mm_exit(s.mm); /* and the leak check: every frame back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fast_matches_slow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fast_bails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fast_stress, setup,
						teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
