// SPDX-License-Identifier: MIT
/*
 * Splitting a PMD-sized anonymous THP into order-0 pages (huge_split.c):
 * every byte, mapping, RSS count and reference survives; a folio shared
 * by fork splits in both mms; pinned or extra-referenced folios are
 * refused untouched; folios split across VMAs (mprotect, mremap, partial
 * munmap) or mapped nowhere; reclaim splits a cold THP and swaps it out
 * and back; and real threads grabbing pages with GUP-fast, or storing
 * through a CPU and zapping, while another splits THPs over and over
 * (TSan) lose no reference and no byte.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/swap.h>
#include "mm/huge_split.h"
#include "mm/internal.h"

#define RW (PROT_READ | PROT_WRITE)
#define P PAGE_SIZE
#define NR HPAGE_PMD_NR

static struct mm_leak_check leaks;

static int setup(void **state)
{
	thp_set_mode(THP_MADVISE, false);
	mm_leak_check_begin(&leaks);
	oracle_begin();
	return 0;
}

/* Every frame, object, slot and LRU entry back; no WARN, no violation. */
static int teardown(void **state)
{
	oracle_end_clean();
	swap_cache_drain();
	assert_int_equal(swap_slots_used(), 0);
	assert_int_equal(lru_nr_pages(), 0);
	mm_leak_check_end(&leaks);
	return 0;
}

/* A 2 MiB-aligned MADV_HUGEPAGE region. */
static long map_thp(struct mm_struct *mm)
{
	long a = test_map(mm, PMD_SIZE, RW, MAP_PRIVATE);

	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	return a;
}

/* The word each page of the region holds at offset 0 and at its end. */
static u64 tag(long a, int i, int end)
{
	return (a + (u64)i * P) ^ (end ? 0xa5a5a5a5UL : 0);
}

/* Fault the region in as one PMD leaf and tag every page; its head. */
static struct page *fill_thp(struct sim_cpu *cpu, struct mm_struct *mm, long a)
{
	unsigned long pfn;
	u64 e = 0;

	for (int i = 0; i < NR; i++) {
		test_store(cpu, a + i * P, tag(a, i, 0));
		test_store(cpu, a + i * P + P - 8, tag(a, i, 1));
	}
	pfn = test_pfn_at(mm, a, &e);
	assert_true(pfn && (e & _PAGE_PSE));
	assert_true(PageHead(pfn_to_page(pfn)));
	return pfn_to_page(pfn);
}

static bool expect_page(struct sim_cpu *cpu, long a, int i)
{
	u64 v0 = 0, v1 = 0;

	return !cpu_load_u64(cpu, a + i * P, &v0) &&
	       !cpu_load_u64(cpu, a + i * P + P - 8, &v1) &&
	       v0 == tag(a, i, 0) && v1 == tag(a, i, 1);
}

static void expect_thp(struct sim_cpu *cpu, long a)
{
	for (int i = 0; i < NR; i++)
		assert_true(expect_page(cpu, a, i));
}

/* What a caller of split_huge_page() does: reference, lock, split. */
static int split(struct page *head)
{
	int ret;

	get_page(head);
	lock_page(head);
	ret = split_huge_page(head);
	unlock_page(head);
	put_page(head);
	return ret;
}

/* The region is PTE-mapped by its old frames; each page order-0 with
 * @maps mappings (and references), its own anon identity. */
static void expect_split(struct mm_struct *mm, long a, struct page *head,
			 void *av, unsigned long index, int maps)
{
	unsigned long pfn = page_to_pfn(head);
	u64 e = 0;

	for (int i = 0; i < NR; i++) {
		struct page *p = head + i;

		assert_int_equal(test_pfn_at(mm, a + i * P, &e), pfn + i);
		assert_false(e & _PAGE_PSE);
		assert_false(PageHead(p) || PageTail(p));
		assert_ptr_equal(compound_head(p), p);
		assert_int_equal(page_ref_count(p), maps);
		assert_int_equal(page_mapcount(p), maps);
		assert_int_equal(folio_pincount(p), 0);
		assert_true(PageAnon(p) && PageSwapBacked(p) && PageLRU(p));
		assert_ptr_equal(p->mapping, av);
		assert_int_equal(p->index, index + i);
	}
}

static void test_split_pmd_mapped(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm);
	struct page *head = fill_thp(cpu, mm, a);
	unsigned long splits = thp_split_count(), lru = lru_nr_pages();
	unsigned long index = head->index, pfn = page_to_pfn(head);
	void *av = head->mapping;

	/* A PMD THP is on the LRU as one entry, referenced by its leaf. */
	assert_true(PageLRU(head));
	assert_int_equal(page_ref_count(head), 1);
	assert_int_equal(split(head), 0);
	assert_int_equal(thp_split_count(), splits + 1);
	assert_int_equal(lru_nr_pages(), lru + NR - 1);
	expect_split(mm, a, head, av, index, 1);
	for (int i = 0; i < NR; i++)
		assert_true(PageAnonExclusive(head + i));
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), NR);
	expect_thp(cpu, a);
	/* Exclusive order-0 pages: a write reuses the frame. */
	test_store(cpu, a + 77 * P, 1);
	assert_int_equal(test_pfn_at(mm, a + 77 * P, NULL), pfn + 77);
	/* Not compound any more: a second split has nothing to do. */
	assert_int_equal(split(head), -EINVAL);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_split_fork(void **state)
{
	struct mm_struct *parent = mm_alloc(), *child;
	struct sim_cpu *pc = cpu_create(parent), *cc;
	long a = map_thp(parent);
	struct page *head = fill_thp(pc, parent, a);
	unsigned long pfn = page_to_pfn(head), index = head->index;
	void *av = head->mapping;
	u64 e = 0;

	child = mm_fork(parent);
	assert_false(IS_ERR(child));
	cc = cpu_create(child);
	assert_int_equal(test_pfn_at(child, a, &e), pfn);
	assert_true(e & _PAGE_PSE);
	assert_int_equal(page_ref_count(head), 2);
	assert_int_equal(split(head), 0);
	expect_split(parent, a, head, av, index, 2);
	expect_split(child, a, head, av, index, 2);
	for (int i = 0; i < NR; i++)
		assert_false(PageAnonExclusive(head + i));
	assert_int_equal(get_mm_counter(parent, MM_ANONPAGES), NR);
	assert_int_equal(get_mm_counter(child, MM_ANONPAGES), NR);
	expect_thp(pc, a);
	expect_thp(cc, a);
	/* COW of one order-0 page, the rest stays shared. */
	test_store(cc, a + 7 * P, 99);
	assert_int_not_equal(test_pfn_at(child, a + 7 * P, NULL), pfn + 7);
	assert_int_equal(page_ref_count(head + 7), 1);
	assert_true(expect_page(pc, a, 7));
	cpu_destroy(cc);
	mm_exit(child);
	for (int i = 0; i < NR; i++)
		assert_int_equal(page_ref_count(head + i), 1);
	expect_thp(pc, a);
	cpu_destroy(pc);
	mm_exit(parent);
}

/* A refused split changed nothing: still one PMD-mapped compound page. */
static void expect_untouched(struct mm_struct *mm, long a, struct page *head,
			     int ref)
{
	u64 e = 0;

	assert_int_equal(test_pfn_at(mm, a, &e), page_to_pfn(head));
	assert_true(e & _PAGE_PSE);
	assert_true(PageHead(head) && PageTail(head + 1));
	assert_int_equal(page_ref_count(head), ref);
	assert_int_equal(page_mapcount(head), 1);
	assert_int_equal(page_mapcount(head + 1), 0);
}

static void test_split_pinned_refused(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm);
	struct page *head = fill_thp(cpu, mm, a), *pages[1];

	assert_int_equal(
		pin_user_pages_fast(mm, a + 5 * P, 1, FOLL_WRITE, pages), 1);
	assert_ptr_equal(pages[0], head + 5);
	assert_int_equal(split(head), -EAGAIN);
	expect_untouched(mm, a, head, 2);
	assert_int_equal(folio_pincount(head), 1);
	expect_thp(cpu, a);
	unpin_user_page(pages[0]);
	assert_int_equal(split(head), 0);
	expect_thp(cpu, a);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_split_extra_ref_refused(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm);
	struct page *head = fill_thp(cpu, mm, a);

	get_page(head + 100); /* e.g. a get_user_pages() in flight */
	assert_int_equal(split(head), -EAGAIN);
	expect_untouched(mm, a, head, 2);
	put_page(head + 100);
	assert_int_equal(split(head), 0);
	assert_int_equal(page_ref_count(head + 100), 1);
	expect_thp(cpu, a);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/*
 * Parts of the folio in three VMAs (mprotect), one part moved elsewhere
 * (mremap) and one unmapped: the split finds every mapping and frees the
 * subpages nobody maps.
 */
static void test_split_scattered(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm), b = test_map(mm, 16 * P, RW, MAP_PRIVATE);
	struct page *head = fill_thp(cpu, mm, a);
	unsigned long pfn = page_to_pfn(head), free0;

	assert_int_equal(vm_mprotect(mm, a + 100 * P, 50 * P, PROT_READ), 0);
	assert_int_equal(vm_munmap(mm, a + 300 * P, 12 * P), 0);
	assert_int_equal(vm_mremap(mm, a + 400 * P, 16 * P, 16 * P,
				   MREMAP_MAYMOVE | MREMAP_FIXED, b),
			 b);
	assert_int_equal(test_pfn_at(mm, b, NULL), pfn + 400);
	free0 = nr_free_pages();
	assert_int_equal(split(head), 0);
	/* The 12 unmapped subpages went back to the allocator. */
	assert_int_equal(nr_free_pages(), free0 + 12);
	for (int i = 0; i < NR; i++) {
		struct page *p = head + i;
		bool gone = i >= 300 && i < 312, moved = i >= 400 && i < 416;
		long va = moved ? b + (i - 400) * P : a + i * P;
		u64 v = 0;

		if (gone)
			continue;
		assert_int_equal(test_pfn_at(mm, va, NULL), pfn + i);
		assert_int_equal(page_ref_count(p), 1);
		assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
		assert_int_equal(v, tag(a, i, 0));
	}
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), NR - 12);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* Mapped nowhere, held by us only: all but the head go at once. */
static void test_split_unmapped(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm);
	struct page *head = fill_thp(cpu, mm, a);
	unsigned long free0;

	get_page(head);
	assert_int_equal(vm_munmap(mm, a, PMD_SIZE), 0);
	assert_int_equal(page_ref_count(head), 1);
	free0 = nr_free_pages();
	lock_page(head);
	assert_int_equal(split_huge_page(head), 0);
	unlock_page(head);
	assert_int_equal(nr_free_pages(), free0 + NR - 1);
	assert_int_equal(*(u64 *)page_address(head), tag(a, 0, 0));
	put_page(head);
	assert_int_equal(nr_free_pages(), free0 + NR);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_split_bad_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, P, RW, MAP_PRIVATE);
	struct page *page;

	test_store(cpu, a, 1);
	page = pfn_to_page(test_pfn_at(mm, a, NULL));
	assert_int_equal(split(page), -EINVAL); /* order 0 */
	assert_int_equal(split_huge_page_to_list(NULL, NULL), -EINVAL);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* A cold THP reaching reclaim is split and swapped out page by page. */
static void test_reclaim_splits(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm), b = map_thp(mm);
	struct page *pinned, *pages[1];
	unsigned long splits = thp_split_count();

	fill_thp(cpu, mm, a);
	pinned = fill_thp(cpu, mm, b);

	/* A pinned THP stays whole and mapped. */
	assert_int_equal(pin_user_pages_fast(mm, b, 1, FOLL_WRITE, pages), 1);
	assert_int_equal(vm_reclaim(~0UL), NR);
	assert_int_equal(thp_split_count(), splits + 1);
	assert_int_equal(swap_slots_used(), NR);
	for (int i = 0; i < NR; i++)
		assert_int_equal(test_pfn_at(mm, a + i * P, NULL), 0);
	assert_int_equal(get_mm_counter(mm, MM_SWAPENTS), NR);
	expect_untouched(mm, b, pinned, 2);
	/* Swapped in page by page, every byte back. */
	expect_thp(cpu, a);
	assert_int_equal(swap_slots_used(), 0);
	unpin_user_page(pages[0]);
	expect_thp(cpu, b);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* ---- real threads: GUP-fast against repeated splits ---------------------- */

struct race {
	struct mm_struct *mm;
	long a;
	int seq; /* odd: the region is changing; even: filled (release) */
	int stop; /* release/acquire */
	long grabs, checked; /* relaxed: read after the join */
};

/* Grab pages of the region; when the region was stable around the grab,
 * each page must hold its tag. */
static int gup_thread(void *arg)
{
	struct race *r = arg;
	uint64_t rnd = 12345;
	struct page *pages[4];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int i = test_rand(&rnd) % (NR - 4), n = 1 + test_rand(&rnd) % 4;
		bool pin = !(test_rand(&rnd) % 8);
		int s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE), s2, got;
		unsigned long va = r->a + i * P;

		got = pin ? pin_user_pages_fast(r->mm, va, n, FOLL_NOFAULT,
						pages) :
			    get_user_pages_fast(r->mm, va, n, FOLL_NOFAULT,
						pages);
		s2 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
		CHECK(got == -EFAULT || (got >= 1 && got <= n));
		for (int k = 0; k < got; k++) {
			u64 *w = page_address(pages[k]);

			CHECK(page_count(pages[k]) >= 1);
			if (s1 == s2 && !(s1 & 1) && !PageZero(pages[k])) {
				CHECK(__atomic_load_n(w, __ATOMIC_RELAXED) ==
				      tag(r->a, i + k, 0));
				__atomic_add_fetch(&r->checked, 1,
						   __ATOMIC_RELAXED);
			}
			if (pin)
				unpin_user_page(pages[k]);
			else
				put_page(pages[k]);
		}
		if (got > 0)
			__atomic_add_fetch(&r->grabs, got, __ATOMIC_RELAXED);
	}
	return 0;
}

/* One round: a fresh THP at the same address, split while grabbed. */
static int race_round(struct race *r, struct sim_cpu *cpu, bool must)
{
	struct page *head;
	int ret = -EAGAIN;
	u64 e = 0;

	__atomic_add_fetch(&r->seq, 1, __ATOMIC_ACQ_REL); /* odd */
	assert_int_equal(vm_munmap(r->mm, r->a, PMD_SIZE), 0);
	assert_int_equal(vm_mmap(r->mm, r->a, PMD_SIZE, RW,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 r->a);
	assert_int_equal(vm_madvise(r->mm, r->a, PMD_SIZE, MADV_HUGEPAGE), 0);
	head = fill_thp(cpu, r->mm, r->a);
	__atomic_add_fetch(&r->seq, 1, __ATOMIC_ACQ_REL); /* even */
	for (int tries = 0; tries < 1000 && ret == -EAGAIN; tries++) {
		ret = split(head);
		if (ret == -EAGAIN)
			cond_resched();
	}
	assert_true(ret == 0 || (!must && ret == -EAGAIN));
	expect_thp(cpu, r->a);
	for (int i = 0; i < NR; i++) {
		assert_int_equal(test_pfn_at(r->mm, r->a + i * P, &e),
				 page_to_pfn(head) + i);
		assert_true(page_count(head + i) >= 1);
	}
	return ret;
}

static void test_gup_fast_race(void **state)
{
	struct race r = { .mm = mm_alloc() };
	struct sim_cpu *cpu = cpu_create(r.mm);
	int rounds = TEST_SCALE(200), done = 0;
	struct task_struct *t;

	r.a = map_thp(r.mm);
	t = kthread_run(gup_thread, &r, "gupfast");
	assert_false(IS_ERR(t));
	for (int i = 0; i < rounds; i++)
		done += race_round(&r, cpu, false) == 0;
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	kthread_join(t);
	/* Alone now: the split must succeed, and leave exact counts. */
	done += race_round(&r, cpu, true) == 0;
	for (int i = 0; i < NR; i++)
		assert_int_equal(page_ref_count(pfn_to_page(
					 test_pfn_at(r.mm, r.a + i * P, NULL))),
				 1);
	print_message("gup-fast race: %d/%d splits, %ld grabs, %ld checked\n",
		      done, rounds + 1, r.grabs, r.checked);
	cpu_destroy(cpu);
	mm_exit(r.mm);
}

/* ---- real threads: a CPU writing and a zapper while the folio splits ---- */

#define BUSY_PAGES 480 /* the CPU's pages; [ZAP_FIRST, NR) the zapper's */
#define ZAP_FIRST 496
/*
 * Bounded rounds, not "until told to stop": a CPU in a tight loop can
 * starve a TLB shootdown waiting for its tlb_lock (an unfair spinlock),
 * so the zapper's progress is only guaranteed once the CPU is done.
 */
#define BUSY_ROUNDS 40

struct busy {
	struct mm_struct *mm;
	long a;
	int started; /* threads past their first round (acq_rel) */
};

/* Store a round number into its pages and read it back, and the tags. */
static int busy_cpu(void *arg)
{
	struct busy *b = arg;
	struct sim_cpu *cpu = cpu_create(b->mm);
	int bad = 0;

	for (u64 r = 1; r <= BUSY_ROUNDS; r++) {
		for (int i = r % 7; i < BUSY_PAGES; i += 7) {
			long va = b->a + i * P;
			u64 v = 0, t = 0;

			bad += !!cpu_store_u64(cpu, va + 8, r);
			bad += cpu_load_u64(cpu, va + 8, &v) || v != r;
			bad += cpu_load_u64(cpu, va, &t) ||
			       t != tag(b->a, i, 0);
		}
		if (r == 1)
			__atomic_add_fetch(&b->started, 1, __ATOMIC_ACQ_REL);
	}
	cpu_destroy(cpu);
	return bad;
}

/* Zap the last pages and fault one back: mapcounts and references of the
 * folio move while it splits. */
static int busy_zap(void *arg)
{
	struct busy *b = arg;
	struct sim_cpu *cpu = cpu_create(b->mm);
	int bad = 0;

	for (int r = 0; r < BUSY_ROUNDS; r++) {
		bad += !!vm_madvise(b->mm, b->a + ZAP_FIRST * P,
				    (NR - ZAP_FIRST) * P, MADV_DONTNEED);
		bad += !!cpu_store_u64(cpu, b->a + (NR - 1) * P, r);
		if (!r)
			__atomic_add_fetch(&b->started, 1, __ATOMIC_ACQ_REL);
	}
	cpu_destroy(cpu);
	return bad;
}

static void test_split_vs_cpu_and_zap(void **state)
{
	struct busy b = { .mm = mm_alloc() };
	struct sim_cpu *cpu = cpu_create(b.mm);
	int rounds = TEST_SCALE(100), done = 0;

	b.a = map_thp(b.mm);
	for (int round = 0; round < rounds; round++) {
		struct task_struct *tc, *tz;
		struct page *head;
		int ret = -EAGAIN;

		if (round) {
			assert_int_equal(vm_munmap(b.mm, b.a, PMD_SIZE), 0);
			assert_int_equal(vm_mmap(b.mm, b.a, PMD_SIZE, RW,
						 MAP_PRIVATE | MAP_ANONYMOUS |
							 MAP_FIXED),
					 b.a);
			assert_int_equal(
				vm_madvise(b.mm, b.a, PMD_SIZE, MADV_HUGEPAGE),
				0);
		}
		head = fill_thp(cpu, b.mm, b.a);
		__atomic_store_n(&b.started, 0, __ATOMIC_RELEASE);
		tc = kthread_run(busy_cpu, &b, "cpu");
		tz = kthread_run(busy_zap, &b, "zap");
		assert_false(IS_ERR(tc) || IS_ERR(tz));
		/* Split while both are at work. */
		while (__atomic_load_n(&b.started, __ATOMIC_ACQUIRE) < 2)
			cond_resched();
		for (int tries = 0; tries < 1000 && ret == -EAGAIN; tries++) {
			ret = split(head);
			if (ret == -EAGAIN)
				cond_resched();
		}
		assert_true(ret == 0 || ret == -EAGAIN);
		done += !ret;
		assert_int_equal(kthread_join(tc), 0);
		assert_int_equal(kthread_join(tz), 0);
		for (int i = 0; i < ZAP_FIRST; i++) {
			assert_int_equal(test_pfn_at(b.mm, b.a + i * P, NULL),
					 page_to_pfn(head) + i);
			assert_true(expect_page(cpu, b.a, i));
			if (!ret)
				assert_int_equal(page_ref_count(head + i), 1);
		}
	}
	print_message("cpu+zap race: %d/%d splits\n", done, rounds);
	cpu_destroy(cpu);
	mm_exit(b.mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_pmd_mapped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_fork, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_pinned_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_extra_ref_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_scattered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_unmapped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_bad_args, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_splits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gup_fast_race, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_vs_cpu_and_zap,
						setup, teardown),
	};

	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
