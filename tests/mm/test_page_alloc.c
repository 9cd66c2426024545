// SPDX-License-Identifier: MIT
/*
 * Physical memory: the arena, the buddy allocator, struct page reference
 * counting, compound pages, zeroing, failure injection, exact accounting.
 */
#include "test_util.h"
#include <mmirror/page.h>

#define SMALL_MEM (8UL << 20) /* 2048 frames: one order-11 block */

static unsigned long quiet_warns(void)
{
	mm_warn_set_quiet(true);
	return mm_warn_count();
}

static void loud_warns(void)
{
	mm_warn_set_quiet(false);
}

static void test_mem_init_args(void **state)
{
	assert_int_equal(mem_init(0), -EINVAL);
	assert_int_equal(mem_init(15 * PAGE_SIZE), -EINVAL);
	assert_int_equal(mem_init(SMALL_MEM + 1), -EINVAL);
	assert_int_equal(mem_init(1UL << 50), -EINVAL);
	assert_int_equal(mem_init(SMALL_MEM), 0);
	assert_int_equal(mem_init(SMALL_MEM), -EBUSY);
	assert_int_equal(totalram_pages(), SMALL_MEM / PAGE_SIZE);
	assert_int_equal(nr_free_pages(), totalram_pages());
	/* The zero page lies outside the managed range. */
	assert_int_equal(zero_pfn, totalram_pages());
	assert_true(PageReserved(ZERO_PAGE(0)) && PageZero(ZERO_PAGE(0)));
	assert_int_equal(nr_free_blocks(11), 1);
}

/* Exhaust memory with random orders, check blocks are aligned and disjoint,
 * free in random order, and find every frame back in one order-11 block. */
static void test_exhaust_and_coalesce(void **state)
{
	unsigned long total = totalram_pages();
	struct page **blocks = calloc(total, sizeof(*blocks));
	unsigned int *orders = calloc(total, sizeof(*orders));
	unsigned char *owned = calloc(total, 1);
	uint64_t rng = 7;
	unsigned long n = 0, got = 0;

	for (;;) {
		unsigned int order = test_rand(&rng) % 6;
		struct page *p = alloc_pages(GFP_KERNEL, order);

		if (!p) {
			p = alloc_page(GFP_KERNEL);
			if (!p)
				break;
			order = 0;
		}
		unsigned long pfn = page_to_pfn(p);

		assert_true(IS_ALIGNED(pfn, 1UL << order));
		assert_true(pfn + (1UL << order) <= total);
		for (unsigned long i = 0; i < (1UL << order); i++) {
			assert_int_equal(owned[pfn + i], 0);
			owned[pfn + i] = 1;
		}
		assert_int_equal(page_ref_count(p), 1);
		assert_int_equal(page_mapcount(p), 0);
		blocks[n] = p;
		orders[n++] = order;
		got += 1UL << order;
	}
	assert_int_equal(got, total);
	assert_int_equal(nr_free_pages(), 0);
	for (unsigned long i = n; i > 1; i--) {
		unsigned long j = test_rand(&rng) % i;
		struct page *tp = blocks[i - 1];
		unsigned int to = orders[i - 1];

		blocks[i - 1] = blocks[j];
		orders[i - 1] = orders[j];
		blocks[j] = tp;
		orders[j] = to;
	}
	for (unsigned long i = 0; i < n; i++)
		__free_pages(blocks[i], orders[i]);
	assert_int_equal(nr_free_pages(), total);
	for (unsigned int o = 0; o < 11; o++)
		assert_int_equal(nr_free_blocks(o), 0);
	assert_int_equal(nr_free_blocks(11), 1);
	free(blocks);
	free(orders);
	free(owned);
}

static void test_bad_input(void **state)
{
	unsigned long w = quiet_warns();
	struct page *p;

	assert_null(alloc_pages(GFP_KERNEL, MAX_PAGE_ORDER + 1));
	assert_null(alloc_pages(0x80000000u, 0));
	assert_int_equal(mm_warn_count() - w, 2);

	/* Double free: warned about, and the frame is not freed twice. */
	p = alloc_page(GFP_KERNEL);
	assert_non_null(p);
	__free_page(p);
	unsigned long before = nr_free_pages();
	w = mm_warn_count();
	put_page(p);
	assert_int_equal(mm_warn_count() - w, 1);
	assert_int_equal(nr_free_pages(), before);
	atomic_set(&p->_refcount, 0); /* undo the bogus decrement */

	/* Freeing a still-mapped frame is refused and the frame leaked. */
	p = alloc_page(GFP_KERNEL);
	atomic_inc(&p->_mapcount);
	w = mm_warn_count();
	__free_page(p);
	assert_int_equal(mm_warn_count() - w, 1);
	assert_int_equal(nr_free_pages(), before - 1);
	/* Repair and really free it, so accounting stays exact. */
	atomic_dec(&p->_mapcount);
	atomic_set(&p->_refcount, 1);
	__free_page(p);
	assert_int_equal(nr_free_pages(), before);

	/* The zero page can never be freed. */
	w = mm_warn_count();
	put_page(ZERO_PAGE(0));
	assert_int_equal(mm_warn_count() - w, 1);
	atomic_set(&ZERO_PAGE(0)->_refcount, 1);
	loud_warns();
}

static void test_failure_injection(void **state)
{
	unsigned long before = nr_free_pages();
	struct page *p;

	fault_inject_nth(1);
	assert_null(alloc_page(GFP_KERNEL));
	p = alloc_page(GFP_KERNEL);
	assert_non_null(p);
	__free_page(p);
	fault_inject_random(3, 1000);
	assert_null(alloc_pages(GFP_KERNEL, 3));
	p = alloc_page(__GFP_NOFAIL); /* never injected */
	assert_non_null(p);
	__free_page(p);
	fault_inject_off();
	assert_int_equal(nr_free_pages(), before);
}

static void test_mem_exit_busy(void **state)
{
	struct page *p = alloc_page(GFP_KERNEL);

	assert_int_equal(mem_exit(), -EBUSY);
	__free_page(p);
	assert_int_equal(mem_exit(), 0);
	assert_false(mem_initialized());
	/* The next allocation sets up the default 1 GiB arena by itself. */
	p = alloc_page(GFP_KERNEL);
	assert_non_null(p);
	assert_int_equal(totalram_pages(), MEM_DEFAULT_BYTES / PAGE_SIZE);
	__free_page(p);
}

/* Stamp every frame, free them all, then zeroed allocations of both paths
 * (memset for small orders, host madvise for 2 MiB+) must read zero. */
static void test_zeroing_and_generation(void **state)
{
	unsigned long total = totalram_pages();
	struct page *all = alloc_pages(GFP_KERNEL, 11);

	assert_non_null(all);
	assert_int_equal(total, 2048);
	memset(page_address(all), 0xa5, total * PAGE_SIZE);
	unsigned long gen = all[5].gen;
	__free_pages(all, 11);
	assert_int_equal(all[5].gen, gen + 1);
	/* Without __GFP_ZERO the old contents are still there. */
	struct page *old = alloc_page(GFP_KERNEL);
	assert_int_equal(((unsigned char *)page_address(old))[7], 0xa5);
	__free_page(old);
	for (unsigned int order = 0; order <= HPAGE_PMD_ORDER; order += 9) {
		struct page *p = alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
		size_t len = PAGE_SIZE << order;

		assert_non_null(p);
		for (size_t i = 0; i < len; i += 509)
			assert_int_equal(((char *)page_address(p))[i], 0);
		__free_pages(p, order);
	}
}

static void test_compound(void **state)
{
	unsigned long before = nr_free_pages();
	struct page *head =
		alloc_pages(GFP_KERNEL | __GFP_COMP, HPAGE_PMD_ORDER);
	struct page *tail = head + 100;

	assert_non_null(head);
	assert_true(PageHead(head));
	assert_false(PageTail(head));
	assert_true(PageTail(tail));
	assert_ptr_equal(compound_head(tail), head);
	assert_int_equal(compound_order(head), HPAGE_PMD_ORDER);
	assert_int_equal(compound_nr(head), 512);
	get_page(tail); /* a reference through a tail lands on the head */
	assert_int_equal(page_ref_count(head), 2);
	assert_int_equal(page_count(tail), 2);
	put_page(tail);
	assert_int_equal(nr_free_pages(), before - 512);
	assert_true(get_page_unless_zero(tail));
	put_page(head);
	put_page(head);
	assert_int_equal(nr_free_pages(), before);
	/* A freed compound page is no longer one. */
	assert_false(PageHead(head));
	assert_false(PageTail(tail));
	assert_false(get_page_unless_zero(head));
}

/* With the zero page outside the arena, 1 GiB holds one PUD-sized page. */
static void test_pud_order(void **state)
{
	struct page *p = alloc_pages(GFP_KERNEL | __GFP_COMP | __GFP_ZERO,
				     HPAGE_PUD_ORDER);

	assert_non_null(p);
	assert_int_equal(page_to_pfn(p), 0);
	assert_null(alloc_page(GFP_KERNEL));
	put_page(p);
	assert_int_equal(nr_free_blocks(HPAGE_PUD_ORDER), 1);
}

/* Threads allocate, stamp, verify and free; no block is ever handed out to
 * two owners at once, and every frame comes back. */
#define NTHREADS 4
static void *alloc_worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	struct page *held[16] = { 0 };
	unsigned int ord[16];

	for (int i = 0; i < TEST_SCALE(20000); i++) {
		int slot = test_rand(&rng) % 16;

		if (held[slot]) {
			unsigned long *w = page_address(held[slot]);
			unsigned long stamp =
				(uintptr_t)held[slot] ^ (uintptr_t)arg;

			for (unsigned long k = 0;
			     k < (PAGE_SIZE << ord[slot]) / sizeof(long);
			     k += 64)
				CHECK(w[k] == stamp);
			__free_pages(held[slot], ord[slot]);
			held[slot] = NULL;
			continue;
		}
		ord[slot] = test_rand(&rng) % 4;
		held[slot] = alloc_pages(GFP_KERNEL, ord[slot]);
		if (!held[slot])
			continue;
		unsigned long *w = page_address(held[slot]);
		unsigned long stamp = (uintptr_t)held[slot] ^ (uintptr_t)arg;

		for (unsigned long k = 0;
		     k < (PAGE_SIZE << ord[slot]) / sizeof(long); k += 64)
			w[k] = stamp;
	}
	for (int s = 0; s < 16; s++)
		if (held[s])
			__free_pages(held[s], ord[s]);
	return NULL;
}

static void test_concurrent_alloc_free(void **state)
{
	pthread_t t[NTHREADS];
	unsigned long before = nr_free_pages();

	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, alloc_worker, (void *)(i + 1));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(nr_free_pages(), before);
	assert_int_equal(nr_free_blocks(HPAGE_PUD_ORDER), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_init_args),
		cmocka_unit_test(test_exhaust_and_coalesce),
		cmocka_unit_test(test_zeroing_and_generation),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_failure_injection),
		cmocka_unit_test(test_compound),
		cmocka_unit_test(test_mem_exit_busy),
		cmocka_unit_test(test_pud_order),
		cmocka_unit_test(test_concurrent_alloc_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
