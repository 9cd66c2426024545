// SPDX-License-Identifier: MIT
/*
 * Simulated CPUs: loads and stores through the TLB and the hardware-style
 * walk, the permission checks, accessed/dirty bits, huge leaves, the
 * per-CPU counters, and CPUs racing with a thread that builds page tables
 * under them.
 *
 * Mappings here are built by hand (mm_map_page): there is no VMA, so an
 * access without a usable translation goes through the fault path
 * (mmap_read_lock + vma_lookup) and fails with -EFAULT, as a user access
 * outside any mapping would.  Tests that change entries behind a CPU's
 * back flush its TLB (flush_tlb_mm_range) first.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include "mm/internal.h"

static unsigned long free_before;

static int setup(void **state)
{
	free_before = nr_free_pages();
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	return 0;
}

/* PAGE_SHARED carries _PAGE_ACCESSED (as on x86); start "old" instead. */
#define PAGE_RW_OLD __pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)

static u64 entry_at(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn;
	u64 e = 0;

	assert_int_equal(follow_pte_pfn(mm, va, &pfn, &e), 0);
	return e;
}

static void test_store_load(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p0 = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct page *p1 = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x10000000;
	struct sim_cpu *cpu = cpu_create(mm);
	char msg[] = "hello, secondary MMU";
	char back[sizeof(msg)] = { 0 };
	u64 v;

	assert_false(IS_ERR(cpu));
	assert_int_equal(mm_map_page(mm, va, p0, PAGE_RW_OLD), 0);
	assert_int_equal(mm_map_page(mm, va + PAGE_SIZE, p1, PAGE_RW_OLD), 0);
	assert_false(entry_at(mm, va) & (_PAGE_ACCESSED | _PAGE_DIRTY));

	/* The bytes land in the real frame. */
	assert_int_equal(cpu_store(cpu, va + 8, msg, sizeof(msg)), 0);
	assert_memory_equal((char *)page_address(p0) + 8, msg, sizeof(msg));
	assert_int_equal(cpu_load(cpu, va + 8, back, sizeof(back)), 0);
	assert_string_equal(back, msg);
	assert_true(entry_at(mm, va) & _PAGE_DIRTY);

	/* Across the page boundary. */
	assert_int_equal(cpu_store(cpu, va + PAGE_SIZE - 5, msg, 10), 0);
	assert_memory_equal((char *)page_address(p0) + PAGE_SIZE - 5, msg, 5);
	assert_memory_equal(page_address(p1), msg + 5, 5);

	/* Loads set accessed only; stores set dirty. */
	assert_true(entry_at(mm, va + PAGE_SIZE) & _PAGE_ACCESSED);
	assert_int_equal(cpu_store_u64(cpu, va + 16, 0x1122334455667788ULL), 0);
	assert_int_equal(cpu_load_u64(cpu, va + 16, &v), 0);
	assert_int_equal(v, 0x1122334455667788ULL);
	assert_int_equal(cpu_store_u64(cpu, va + 3, 0xabcdefULL), 0);
	assert_int_equal(cpu_load_u64(cpu, va + 3, &v), 0);
	assert_int_equal(v, 0xabcdefULL);
	assert_int_equal(cpu->stores, 4);
	assert_int_equal(cpu->loads, 3);
	assert_int_equal(cpu->faults, 0);

	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p0);
	__free_page(p1);
}

static void test_accessed_dirty_bits(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long va = 0x20000000;
	char c;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_RW_OLD), 0);
	assert_false(entry_at(mm, va) & _PAGE_ACCESSED);
	assert_int_equal(cpu_load(cpu, va, &c, 1), 0);
	assert_true(entry_at(mm, va) & _PAGE_ACCESSED);
	assert_false(entry_at(mm, va) & _PAGE_DIRTY);
	assert_int_equal(cpu_store(cpu, va, &c, 1), 0);
	assert_true(entry_at(mm, va) & _PAGE_DIRTY);
	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p);
}

/* TLB hits, walks, loads, stores and faults are counted per CPU. */
static void test_tlb_counters(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long va = 0x28000000;
	char buf[2 * PAGE_SIZE];
	u64 v;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_RW_OLD), 0);
	/* Miss + walk, then hits. */
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(cpu->walks, 1);
	assert_int_equal(cpu->tlb_hits, 0);
	assert_int_equal(cpu_load_u64(cpu, va + 8, &v), 0);
	assert_int_equal(cpu->walks, 1);
	assert_int_equal(cpu->tlb_hits, 1);
	/* A store through a clean entry re-walks to set D, then hits. */
	assert_int_equal(cpu_store_u64(cpu, va, 5), 0);
	assert_int_equal(cpu->walks, 2);
	assert_true(entry_at(mm, va) & _PAGE_DIRTY);
	assert_int_equal(cpu_store_u64(cpu, va + 8, 6), 0);
	assert_int_equal(cpu->walks, 2);
	assert_int_equal(cpu->tlb_hits, 2);
	/* A two-page load that runs into an unmapped page: one fault, the
	 * first chunk counted as a hit, and the access is not counted. */
	assert_int_equal(cpu_load(cpu, va + 16, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(cpu->faults, 1);
	assert_int_equal(cpu->tlb_hits, 3);
	assert_int_equal(cpu->loads, 2);
	assert_int_equal(cpu->stores, 2);
	/* A shootdown makes the next access walk again. */
	flush_tlb_mm_range(mm, va, va + PAGE_SIZE);
	assert_int_equal(cpu->tlb_shootdowns, 1);
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cpu->tlb_hits, 3);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 1);
	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p);
}

static void test_faults_and_permissions(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *ro = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct page *none = alloc_page(GFP_KERNEL);
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long va = 0x30000000;
	char buf[16] = { 1 };
	u64 v;

	assert_int_equal(mm_map_page(mm, va, ro, PAGE_READONLY), 0);
	assert_int_equal(mm_map_page(mm, va + PAGE_SIZE, none, PAGE_NONE), 0);
	assert_int_equal(mm_map_page(mm, va + 2 * PAGE_SIZE, ZERO_PAGE(0),
				     PAGE_READONLY),
			 0);

	/* No VMA: a forbidding translation is a fault outside any mapping,
	 * -EFAULT (each one fault). */
	assert_int_equal(cpu_load(cpu, va, buf, 16), 0);
	assert_int_equal(cpu_store(cpu, va, buf, 1), -EFAULT);
	assert_int_equal(cpu->faults, 1);
	assert_false(entry_at(mm, va) & _PAGE_DIRTY);
	assert_int_equal(cpu_load(cpu, va + PAGE_SIZE, buf, 1), -EFAULT);
	assert_int_equal(cpu_store_u64(cpu, va + PAGE_SIZE, 1), -EFAULT);
	assert_int_equal(cpu->faults, 3);
	/* The zero page reads as zeros and refuses stores. */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(cpu_load(cpu, va + 2 * PAGE_SIZE + 100, buf, 16), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(cpu_store(cpu, va + 2 * PAGE_SIZE, buf, 1), -EFAULT);
	/* Nothing mapped: a page fault outside any VMA. */
	assert_int_equal(cpu_load(cpu, va + 3 * PAGE_SIZE, buf, 1), -EFAULT);
	assert_int_equal(cpu_load_u64(cpu, 0x7000000000UL, &v), -EFAULT);
	/* A load that runs off the mapped range fails at the first bad page. */
	assert_int_equal(cpu_load(cpu, va + 2 * PAGE_SIZE + 4090, buf, 16),
			 -EFAULT);

	/* Bad arguments. */
	assert_int_equal(cpu_load(cpu, -8UL, buf, 16), -EINVAL);
	assert_int_equal(cpu_load(cpu, TASK_SIZE, buf, 1), -EINVAL);
	assert_int_equal(cpu_load(cpu, va, NULL, 1), -EINVAL);
	assert_int_equal(cpu_load(NULL, va, buf, 1), -EINVAL);
	assert_int_equal(cpu_load_u64(cpu, va, NULL), -EINVAL);
	assert_int_equal(cpu_store_u64(cpu, TASK_SIZE, 1), -EINVAL);
	assert_int_equal(cpu_load(cpu, va, buf, 0), 0);
	assert_true(IS_ERR(cpu_create(NULL)));

	cpu_destroy(cpu);
	mmput(mm);
	__free_page(ro);
	__free_page(none);
}

/* A 2 MiB leaf at the PMD level and a 1 GiB leaf at the PUD level. */
static void test_huge_leaves(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *h = alloc_pages(GFP_KERNEL | __GFP_COMP | __GFP_ZERO,
				     HPAGE_PMD_ORDER);
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long va = 0x40000000UL;
	u64 v;

	pgd_t *pgd = pgd_offset(mm, va);
	pud_t *pud = pud_alloc(mm, p4d_alloc(mm, pgd, va), va);
	pmd_t *pmd = pmd_alloc(mm, pud, va);
	set_pmd(pmd, pfn_pmd(page_to_pfn(h), PAGE_RW_OLD));
	get_page(h);
	atomic_inc(&h->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, HPAGE_PMD_NR);

	assert_int_equal(cpu_store_u64(cpu, va + 300 * PAGE_SIZE + 8, 77), 0);
	assert_int_equal(((u64 *)page_address(h + 300))[1], 77);
	assert_int_equal(cpu_load_u64(cpu, va + 300 * PAGE_SIZE + 8, &v), 0);
	assert_int_equal(v, 77);
	assert_true(pmd_dirty(pmdp_get(pmd)) && pmd_young(pmdp_get(pmd)));

	/* Write-protect the leaf and shoot the TLB down: stores now fail,
	 * loads still work. */
	pmdp_clear_bits(pmd, _PAGE_RW);
	flush_tlb_mm_range(mm, va, va + PMD_SIZE);
	assert_int_equal(cpu_store_u64(cpu, va + 300 * PAGE_SIZE + 8, 1),
			 -EFAULT);
	assert_int_equal(cpu_store_u64(cpu, va, 1), -EFAULT);
	assert_int_equal(cpu_load_u64(cpu, va + 300 * PAGE_SIZE + 8, &v), 0);

	/* A PUD leaf (1 GiB) would need the whole default arena; the walk
	 * logic is the same: check it with the zero page as a stand-in pfn
	 * range that must not be written, mapped read-only. */
	unsigned long va2 = 0x80000000UL;
	pud_t *pud2 =
		pud_alloc(mm, p4d_alloc(mm, pgd_offset(mm, va2), va2), va2);
	set_pud(pud2, pud_mkspecial(pfn_pud(
			      0, __pgprot(_PAGE_PRESENT | _PAGE_USER))));
	assert_int_equal(cpu_load_u64(cpu, va2 + 5 * PAGE_SIZE, &v), 0);
	assert_int_equal(cpu_store_u64(cpu, va2, 1), -EFAULT);
	assert_true(pud_young(pudp_get(pud2)));
	set_pud(pud2, __pud(0));
	flush_tlb_mm_range(mm, va2, va2 + PUD_SIZE);
	assert_int_equal(cpu_load_u64(cpu, va2 + 5 * PAGE_SIZE, &v), -EFAULT);

	cpu_destroy(cpu);
	mmput(mm);
	put_page(h);
}

/*
 * Two CPUs store and load their own words across a 2 MiB region while a
 * third thread builds the page tables under them, page by page.  A CPU that
 * sees an entry must see the page's contents and the tables it points to
 * (release/acquire publication); stores are never lost.
 */
#define REGION 0x100000000UL
#define NPAGES 256
struct race {
	struct mm_struct *mm;
	struct page *pages[NPAGES];
	int mapped; /* pages mapped so far, published with release */
	int last_round[2]; /* each CPU's final round, all pages mapped */
};

static void *mapper(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < NPAGES; i++) {
		CHECK(mm_map_page(r->mm, REGION + i * PAGE_SIZE, r->pages[i],
				  PAGE_SHARED) == 0);
		smp_store_release(&r->mapped, i + 1);
	}
	return NULL;
}

static void *cpu_worker(void *arg)
{
	struct race *r = arg;
	struct sim_cpu *cpu = cpu_create(r->mm);
	static int ids;
	int id = __atomic_fetch_add(&ids, 1, __ATOMIC_RELAXED) % 2;

	CHECK(!IS_ERR(cpu));
	/* Run at least N rounds, and until one round started with every
	 * page mapped: that round's values must all be in the frames. */
	for (int round = 0;; round++) {
		bool all = smp_load_acquire(&r->mapped) == NPAGES;

		for (int i = 0; i < NPAGES; i++) {
			unsigned long va = REGION + i * PAGE_SIZE + id * 8;
			/* Pairs with the release store in mapper(). */
			bool must = i < smp_load_acquire(&r->mapped);
			u64 v;
			int ret = cpu_store_u64(cpu, va, round * 1000 + i);

			CHECK(ret == 0 || (!must && ret == -EFAULT));
			if (ret)
				continue;
			CHECK(cpu_load_u64(cpu, va, &v) == 0);
			CHECK(v == (u64)(round * 1000 + i));
		}
		if (all && round >= TEST_SCALE(40)) {
			r->last_round[id] = round;
			break;
		}
	}
	cpu_destroy(cpu);
	return NULL;
}

static void test_cpus_race_table_build(void **state)
{
	static struct race r;
	pthread_t t[3];

	r.mm = mm_alloc();
	r.mapped = 0;
	for (int i = 0; i < NPAGES; i++)
		r.pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
	pthread_create(&t[0], NULL, cpu_worker, &r);
	pthread_create(&t[1], NULL, cpu_worker, &r);
	pthread_create(&t[2], NULL, mapper, &r);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* Each CPU's last round is in the frames: no store was lost. */
	for (int i = 0; i < NPAGES; i++) {
		u64 *w = page_address(r.pages[i]);

		assert_int_equal(w[0], (u64)(r.last_round[0] * 1000 + i));
		assert_int_equal(w[1], (u64)(r.last_round[1] * 1000 + i));
	}
	mmput(r.mm);
	for (int i = 0; i < NPAGES; i++)
		__free_page(r.pages[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_accessed_dirty_bits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tlb_counters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_faults_and_permissions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_leaves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cpus_race_table_build,
						setup, teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
