// SPDX-License-Identifier: MIT
/*
 * TLB shootdown and mmu_gather: pages and page-table pages are freed only
 * after the flush; a full batch flushes by itself; stale TLB entries keep
 * working until the shootdown reaches their CPU, and not after; per-CPU
 * counters.  Two real-thread stress tests (run them under TSan and ASan):
 * CPUs storing through their TLBs while a thread write-protects PTEs and
 * shoots them down, and IRQ-off lockless walkers (the GUP-fast pattern)
 * while a thread unhooks and frees page-table pages through the gather.
 *
 * Every mapping here is built by hand (mm_map_page): no VMA, so a CPU
 * access without a usable translation fails with -EFAULT through the fault
 * path (mmap_read_lock + vma_lookup, the VMA layer).
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/cpu.h>
#include <mmirror/irqflags.h>
#include <mmirror/mm.h>
#include "mm/internal.h"

static unsigned long free_before;
static unsigned long warns_before;

static int setup(void **state)
{
	free_before = nr_free_pages();
	warns_before = mm_warn_count();
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(mm_warn_count(), warns_before);
	return 0;
}

/* The PTE mapping @va (the test is the only writer of the tables). */
static pte_t *pte_of(struct mm_struct *mm, unsigned long va)
{
	struct pt_snapshot s;

	pt_walk_snapshot(mm, va, &s);
	CHECK(s.shift == PAGE_SHIFT);
	return (pte_t *)s.entryp;
}

/* The PMD entry above @va (tables exist). */
static pmd_t *pmd_of(struct mm_struct *mm, unsigned long va)
{
	pgd_t *pgd = pgd_offset(mm, va);
	p4d_t *p4d = p4d_offset(pgd, va);

	return pmd_offset(pud_offset(p4d, va), va);
}

/* Zap the PTE at @va into @tlb the way unmap_page_range does. */
static void zap_one(struct mmu_gather *tlb, struct mm_struct *mm,
		    unsigned long va)
{
	pte_t old = ptep_get_and_clear(pte_of(mm, va));
	struct page *page = pte_page(old);

	CHECK(pte_present(old));
	atomic_dec(&page->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, -1);
	tlb_flush_pte_range(tlb, va, PAGE_SIZE);
	tlb_remove_page(tlb, page);
}

/* Pages are released only by tlb_finish_mmu, after the shootdown; until
 * then a CPU's TLB still reaches them (and that is safe). */
static void test_gather_frees_after_flush(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long va = 0x10000000;
	struct page *p[4];
	struct mmu_gather tlb;
	long flushes;
	u64 v;

	for (int i = 0; i < 4; i++) {
		p[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		assert_int_equal(
			mm_map_page(mm, va + i * PAGE_SIZE, p[i], PAGE_SHARED),
			0);
		assert_int_equal(cpu_store_u64(cpu, va + i * PAGE_SIZE, i + 1),
				 0);
		assert_int_equal(page_count(p[i]), 2);
	}
	flushes = atomic_long_read(&mm->tlb_flushes);

	tlb_gather_mmu(&tlb, mm);
	for (int i = 0; i < 4; i++)
		zap_one(&tlb, mm, va + i * PAGE_SIZE);
	/* Entries gone, references still held, TLB still translating. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_count(p[i]), 2);
		assert_int_equal(cpu_load_u64(cpu, va + i * PAGE_SIZE, &v), 0);
		assert_int_equal(v, (u64)(i + 1));
	}
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), flushes);

	tlb_finish_mmu(&tlb);
	/* One shootdown for the whole range, then the puts. */
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), flushes + 1);
	assert_int_equal(cpu->tlb_shootdowns, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_count(p[i]), 1);
		assert_int_equal(cpu_load_u64(cpu, va + i * PAGE_SIZE, &v),
				 -EFAULT);
	}
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 0);
	cpu_destroy(cpu);
	mmput(mm);
	for (int i = 0; i < 4; i++)
		__free_page(p[i]);
}

/* More than MMU_GATHER_BATCH pages: the gather flushes and frees by itself
 * when the batch fills, and the rest at tlb_finish_mmu. */
static void test_gather_batch_overflow(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p = alloc_page(GFP_KERNEL);
	struct mmu_gather tlb;
	int extra = 10;

	for (int i = 0; i < MMU_GATHER_BATCH + extra; i++)
		get_page(p);
	tlb_gather_mmu(&tlb, mm);
	for (int i = 0; i < MMU_GATHER_BATCH + extra; i++) {
		tlb_flush_pte_range(&tlb, 0x1000 * (i + 1), PAGE_SIZE);
		tlb_remove_page(&tlb, p);
		/* Nothing dropped before the batch filled. */
		if (i < MMU_GATHER_BATCH - 1)
			assert_int_equal(page_count(p),
					 1 + MMU_GATHER_BATCH + extra);
	}
	assert_int_equal(page_count(p), 1 + extra);
	assert_int_equal(tlb.nr, extra);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 1);
	tlb_finish_mmu(&tlb);
	assert_int_equal(page_count(p), 1);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 2);
	/* An empty gather flushes nothing. */
	tlb_gather_mmu(&tlb, mm);
	tlb_finish_mmu(&tlb);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 2);
	mmput(mm);
	__free_page(p);
}

/* A page-table page is freed only at the flush, even with no range
 * pending (the CPUs still pass an instruction boundary). */
static void test_gather_frees_tables_after_flush(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x40000000, before;
	struct mmu_gather tlb;
	struct page *table;
	pmd_t old;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_SHARED), 0);
	tlb_gather_mmu(&tlb, mm);
	zap_one(&tlb, mm, va);
	tlb_flush_mmu(&tlb); /* the page alone */
	assert_int_equal(page_count(p), 1);
	assert_int_equal(cpu->tlb_shootdowns, 1);

	/* Unhook the (now empty) PTE table and queue it. */
	before = mm_pgtables_pages(mm);
	spin_lock(&mm->page_table_lock);
	old = pmdp_get_and_clear(pmd_of(mm, va));
	spin_unlock(&mm->page_table_lock);
	table = pmd_page(old);
	tlb_remove_table(&tlb, table);
	assert_true(tlb.freed_tables);
	assert_true(PageTable(table));
	assert_int_equal(page_ref_count(table), 1);
	assert_int_equal(mm_pgtables_pages(mm), before);
	tlb_finish_mmu(&tlb);
	assert_int_equal(mm_pgtables_pages(mm), before - 1);
	assert_false(PageTable(table));
	assert_int_equal(page_ref_count(table), 0);
	assert_int_equal(cpu->tlb_shootdowns, 2);

	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p);
}

/*
 * The frees wait for IRQ-off sections too: with a thread inside one, a
 * tlb_finish_mmu() holding a queued page and table is still waiting, and
 * has freed nothing, until the section ends (deterministic: checked while
 * irq_sync_waiting() says the sync is blocked).
 */
struct irq_holder {
	int in, leave;
};

static void *hold_irqs_off(void *arg)
{
	struct irq_holder *h = arg;
	unsigned long flags;

	local_irq_save(flags);
	smp_store_release(&h->in, 1);
	/* Pairs with the release store of leave in the test. */
	while (!smp_load_acquire(&h->leave))
		sched_yield();
	local_irq_restore(flags);
	return NULL;
}

struct finisher {
	struct mmu_gather *tlb;
	int done;
};

static void *finish_thread(void *arg)
{
	struct finisher *f = arg;

	tlb_finish_mmu(f->tlb);
	smp_store_release(&f->done, 1);
	return NULL;
}

static void test_gather_waits_for_irq_off(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x40000000, tables;
	struct irq_holder h = { 0 };
	struct mmu_gather tlb;
	struct finisher f = { &tlb, 0 };
	struct page *table;
	pthread_t th, tf;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_SHARED), 0);
	tables = mm_pgtables_pages(mm);
	tlb_gather_mmu(&tlb, mm);
	zap_one(&tlb, mm, va);
	spin_lock(&mm->page_table_lock);
	table = pmd_page(pmdp_get_and_clear(pmd_of(mm, va)));
	spin_unlock(&mm->page_table_lock);
	tlb_remove_table(&tlb, table);

	pthread_create(&th, NULL, hold_irqs_off, &h);
	while (!smp_load_acquire(&h.in))
		sched_yield();
	pthread_create(&tf, NULL, finish_thread, &f);
	while (irq_sync_waiting() < 1 && !smp_load_acquire(&f.done))
		sched_yield();
	for (int i = 0; i < TEST_SCALE(2000); i++) {
		sched_yield();
		assert_false(smp_load_acquire(&f.done));
		assert_int_equal(page_count(p), 2);
		assert_true(PageTable(table));
		assert_int_equal(mm_pgtables_pages(mm), tables);
	}
	smp_store_release(&h.leave, 1);
	pthread_join(th, NULL);
	pthread_join(tf, NULL);
	assert_true(f.done);
	assert_int_equal(page_count(p), 1);
	assert_int_equal(mm_pgtables_pages(mm), tables - 1);
	mmput(mm);
	__free_page(p);
}

/* fullmm: no CPU is bound; tables are still freed after the sync. */
static void test_gather_fullmm(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x40000000;
	struct mmu_gather tlb;
	struct sim_cpu *cpu;
	unsigned long w;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_SHARED), 0);
	tlb_gather_mmu_fullmm(&tlb, mm);
	assert_true(tlb.fullmm);
	zap_one(&tlb, mm, va);
	spin_lock(&mm->page_table_lock);
	tlb_remove_table(&tlb, pmd_page(pmdp_get_and_clear(pmd_of(mm, va))));
	spin_unlock(&mm->page_table_lock);
	tlb_finish_mmu(&tlb);
	assert_int_equal(page_count(p), 1);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 0);

	/* A CPU still bound at fullmm is a bug. */
	cpu = cpu_create(mm);
	mm_warn_set_quiet(true);
	w = mm_warn_count();
	tlb_gather_mmu_fullmm(&tlb, mm);
	assert_int_equal(mm_warn_count(), w + 1);
	tlb_finish_mmu(&tlb);
	mm_warn_set_quiet(false);
	warns_before += 1;
	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p);
}

/* A shootdown drops only the range; other entries keep hitting. */
static void test_flush_range_selective(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct sim_cpu *other = cpu_create(mm);
	struct page *a = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct page *b = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x50000000;
	unsigned long walks, hits;
	u64 v;

	assert_int_equal(mm_map_page(mm, va, a, PAGE_SHARED), 0);
	assert_int_equal(mm_map_page(mm, va + PAGE_SIZE, b, PAGE_SHARED), 0);
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(cpu_load_u64(cpu, va + PAGE_SIZE, &v), 0);
	assert_int_equal(cpu->walks, 2);
	assert_int_equal(cpu->tlb_hits, 0);
	assert_int_equal(cpu_load_u64(cpu, va + 8, &v), 0);
	assert_int_equal(cpu->tlb_hits, 1);

	flush_tlb_mm_range(mm, va, va + PAGE_SIZE);
	/* Both CPUs of the mm got the shootdown. */
	assert_int_equal(cpu->tlb_shootdowns, 1);
	assert_int_equal(other->tlb_shootdowns, 1);
	walks = cpu->walks;
	hits = cpu->tlb_hits;
	assert_int_equal(cpu_load_u64(cpu, va + PAGE_SIZE, &v), 0);
	assert_int_equal(cpu->tlb_hits, hits + 1);
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(cpu->walks, walks + 1);

	/* A range ending at the top of the address space, and the full mm. */
	flush_tlb_mm_range(mm, va + PAGE_SIZE, ~0UL);
	walks = cpu->walks;
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(cpu->walks, walks);
	assert_int_equal(cpu_load_u64(cpu, va + PAGE_SIZE, &v), 0);
	assert_int_equal(cpu->walks, walks + 1);
	flush_tlb_mm(mm);
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(cpu->walks, walks + 2);
	assert_int_equal(atomic_long_read(&mm->tlb_flushes), 3);

	cpu_destroy(cpu);
	cpu_destroy(other);
	mmput(mm);
	__free_page(a);
	__free_page(b);
}

/*
 * Stale-TLB semantics.  Write-protect a PTE behind the CPU's back: a store
 * through the cached writable+dirty entry still succeeds (as on hardware)
 * until the shootdown, and is refused after it.  A store through an entry
 * cached by a load (not known dirty) re-walks at once and is refused.
 */
static void test_stale_tlb_entry(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct page *q = alloc_page(GFP_KERNEL | __GFP_ZERO);
	unsigned long va = 0x60000000, vq = va + PAGE_SIZE;
	u64 *word = page_address(p), v;
	pte_t old;

	assert_int_equal(mm_map_page(mm, va, p, PAGE_SHARED), 0);
	assert_int_equal(mm_map_page(mm, vq, q, PAGE_SHARED), 0);
	assert_int_equal(cpu_store_u64(cpu, va, 1), 0);
	assert_int_equal(cpu_load_u64(cpu, vq, &v), 0);
	assert_false(pte_dirty(ptep_get(pte_of(mm, vq))));

	old = ptep_clear_bits(pte_of(mm, va), _PAGE_RW);
	assert_true(pte_dirty(old));
	ptep_clear_bits(pte_of(mm, vq), _PAGE_RW);

	/* Stale writable entry: the store lands. */
	assert_int_equal(cpu_store_u64(cpu, va, 2), 0);
	assert_int_equal(word[0], 2);
	/* Clean entry: the store must set D, so it re-walks: refused. */
	assert_int_equal(cpu_store_u64(cpu, vq, 2), -EFAULT);
	assert_int_equal(((u64 *)page_address(q))[0], 0);

	flush_tlb_mm_range(mm, va, va + PAGE_SIZE);
	assert_int_equal(cpu_store_u64(cpu, va, 3), -EFAULT);
	assert_int_equal(word[0], 2);
	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	assert_int_equal(v, 2);

	/* Upgrade again: the read-only cached entry re-walks and succeeds
	 * (a spurious-fault fix-up, no flush needed). */
	set_pte(pte_of(mm, va), pte_mkwrite(ptep_get(pte_of(mm, va))));
	assert_int_equal(cpu_store_u64(cpu, va, 4), 0);
	assert_int_equal(word[0], 4);

	/* Counters: no fault handler ran for the hits; the -EFAULTs were
	 * one fault each. */
	assert_int_equal(cpu->faults, 2);
	assert_int_equal(cpu->stores, 3);
	assert_int_equal(cpu->loads, 2);
	assert_true(cpu->tlb_hits >= 1);

	cpu_destroy(cpu);
	mmput(mm);
	__free_page(p);
	__free_page(q);
}

/* Misuse is reported. */
static void test_bad_arguments(void **state)
{
	struct mmu_gather tlb;
	unsigned long w = mm_warn_count();

	mm_warn_set_quiet(true);
	flush_tlb_mm_range(NULL, 0, PAGE_SIZE);
	tlb_gather_mmu(NULL, NULL);
	tlb_gather_mmu(&tlb, NULL);
	tlb_finish_mmu(NULL);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 4);
	warns_before += 4;
}

/* --- stress 1: CPUs vs. write-protect + shootdown ------------------------ */

#define WP_REGION 0x200000000UL
#define WP_PAGES 8
#define WP_CPUS 2

struct wp_race {
	struct mm_struct *mm;
	struct page *pages[WP_PAGES];
	int stop; /* release by the mutator */
	int started; /* CPUs bound and running (RMW) */
	unsigned long failed[WP_CPUS]; /* stores refused */
	unsigned long attempts[WP_CPUS];
	/* loads stores walks hits faults shootdowns */
	unsigned long stats[WP_CPUS][6];
	long flushes;
};

static int wp_ids;

static void *wp_cpu(void *arg)
{
	struct wp_race *r = arg;
	int id = __atomic_fetch_add(&wp_ids, 1, __ATOMIC_RELAXED) % WP_CPUS;
	struct sim_cpu *cpu = cpu_create(r->mm);
	u64 n = 0;

	CHECK(!IS_ERR(cpu));
	__atomic_add_fetch(&r->started, 1, __ATOMIC_SEQ_CST);
	/* At least a few passes, then until the mutator is done (pairs
	 * with the release store of stop in wp_mutator()). */
	for (int pass = 0; pass < 4 || !smp_load_acquire(&r->stop); pass++) {
		for (int i = 0; i < WP_PAGES; i++) {
			unsigned long va = WP_REGION + i * PAGE_SIZE + id * 8;
			u64 v;
			int ret = cpu_store_u64(cpu, va, ++n);

			r->attempts[id]++;
			CHECK(ret == 0 || ret == -EFAULT);
			if (ret) {
				r->failed[id]++;
				continue;
			}
			/* Only this CPU writes the word: never lost. */
			CHECK(cpu_load_u64(cpu, va, &v) == 0);
			CHECK(v == n);
		}
	}
	r->stats[id][0] = cpu->loads;
	r->stats[id][1] = cpu->stores;
	r->stats[id][2] = cpu->walks;
	r->stats[id][3] = cpu->tlb_hits;
	r->stats[id][4] = cpu->faults;
	r->stats[id][5] = cpu->tlb_shootdowns;
	cpu_destroy(cpu);
	return NULL;
}

static void *wp_mutator(void *arg)
{
	struct wp_race *r = arg;
	int rounds = TEST_SCALE(600);

	/* Start once every CPU is bound: each sees every shootdown. */
	while (__atomic_load_n(&r->started, __ATOMIC_SEQ_CST) < WP_CPUS)
		sched_yield();

	for (int k = 0; k < rounds; k++) {
		int i = k % WP_PAGES;
		unsigned long va = WP_REGION + i * PAGE_SIZE;
		pte_t *ptep = pte_of(r->mm, va);
		u64 *words = page_address(r->pages[i]);
		u64 before[WP_CPUS];
		pte_t old;

		ptep_clear_bits(ptep, _PAGE_RW);
		flush_tlb_mm_range(r->mm, va, va + PAGE_SIZE);
		r->flushes++;
		/* After the shootdown no CPU can store to the page. */
		for (int c = 0; c < WP_CPUS; c++)
			before[c] =
				__atomic_load_n(&words[c], __ATOMIC_RELAXED);
		for (int y = 0; y < 2; y++)
			sched_yield();
		for (int c = 0; c < WP_CPUS; c++)
			CHECK(__atomic_load_n(&words[c], __ATOMIC_RELAXED) ==
			      before[c]);
		/* Restore RW without losing a concurrent A-bit update. */
		old = ptep_get(ptep);
		while (!ptep_cmpxchg(ptep, &old, pte_mkwrite(old)))
			;
		sched_yield();
	}
	smp_store_release(&r->stop, 1);
	return NULL;
}

static void test_stress_cpus_vs_shootdown(void **state)
{
	static struct wp_race r;
	pthread_t t[WP_CPUS + 1];

	memset(&r, 0, sizeof(r));
	r.mm = mm_alloc();
	for (int i = 0; i < WP_PAGES; i++) {
		r.pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		assert_int_equal(mm_map_page(r.mm, WP_REGION + i * PAGE_SIZE,
					     r.pages[i], PAGE_SHARED),
				 0);
	}
	for (int c = 0; c < WP_CPUS; c++)
		pthread_create(&t[c], NULL, wp_cpu, &r);
	pthread_create(&t[WP_CPUS], NULL, wp_mutator, &r);
	for (int c = 0; c <= WP_CPUS; c++)
		pthread_join(t[c], NULL);

	assert_int_equal(atomic_long_read(&r.mm->tlb_flushes), r.flushes);
	for (int c = 0; c < WP_CPUS; c++) {
		/* loads == stores == successful attempts; a fault per
		 * refused store; hits and walks both happened. */
		assert_int_equal(r.stats[c][1], r.attempts[c] - r.failed[c]);
		assert_int_equal(r.stats[c][0], r.stats[c][1]);
		assert_int_equal(r.stats[c][4], r.failed[c]);
		assert_true(r.stats[c][2] > 0);
		assert_true(r.stats[c][3] > 0);
		assert_int_equal(r.stats[c][5], r.flushes);
	}
	mmput(r.mm);
	for (int i = 0; i < WP_PAGES; i++)
		__free_page(r.pages[i]);
}

/* --- stress 2: IRQ-off walkers vs. page-table freeing --------------------- */

#define GF_REGION 0x400000000UL /* PMD aligned */
#define GF_PAGES 16
#define GF_WALKERS 2

struct gf_race {
	struct mm_struct *mm;
	struct page *pages[GF_PAGES];
	unsigned long pfns[GF_PAGES];
	int stop;
	unsigned long seen[GF_WALKERS];
	unsigned long cpu_ok;
};

static int gf_ids;

/*
 * GUP-fast: IRQs off, lockless walks of the whole region, reading what the
 * entries point to.  It yields inside the section now and then (allowed: it
 * does not sleep) so the freer often runs while a section is open.
 */
static void *gf_walker(void *arg)
{
	struct gf_race *r = arg;
	int id = __atomic_fetch_add(&gf_ids, 1, __ATOMIC_RELAXED) % GF_WALKERS;
	unsigned long n = 0;

	/* Pairs with the release store of stop in gf_freer(). */
	while (!smp_load_acquire(&r->stop)) {
		unsigned long flags;

		local_irq_save(flags);
		CHECK(irqs_disabled());
		for (int i = 0; i < GF_PAGES; i++) {
			unsigned long va = GF_REGION + i * PAGE_SIZE;
			struct pt_snapshot s;

			pt_walk_snapshot(r->mm, va, &s);
			if ((++n & 7) == 0)
				sched_yield();
			if (!pt_snapshot_maps(&s))
				continue;
			/* A freed-and-reused table would give garbage. */
			CHECK(pt_snapshot_pfn(&s, va) == r->pfns[i]);
			/* Re-read the entry it ended at: still in a live
			 * table (zero or the same page, never junk). */
			u64 again = __atomic_load_n(s.entryp, __ATOMIC_ACQUIRE);
			CHECK(again == 0 || (again & PTE_PFN_MASK) ==
						    (s.entry & PTE_PFN_MASK));
			r->seen[id]++;
		}
		local_irq_restore(flags);
		CHECK(!irqs_disabled());
	}
	return NULL;
}

/* A CPU walking the same region: its walks run under tlb_lock. */
static void *gf_cpu(void *arg)
{
	struct gf_race *r = arg;
	struct sim_cpu *cpu = cpu_create(r->mm);
	unsigned long i = 0;

	CHECK(!IS_ERR(cpu));
	while (!smp_load_acquire(&r->stop)) {
		unsigned long va = GF_REGION + (i++ % GF_PAGES) * PAGE_SIZE;
		u64 v;
		int ret = cpu_load_u64(cpu, va, &v);

		CHECK(ret == 0 || ret == -EFAULT);
		if (!ret) {
			CHECK(v == va);
			r->cpu_ok++;
		}
	}
	cpu_destroy(cpu);
	return NULL;
}

static void *gf_freer(void *arg)
{
	struct gf_race *r = arg;
	int rounds = TEST_SCALE(400);

	for (int k = 0; k < rounds; k++) {
		struct mmu_gather tlb;
		struct page *table;
		pmd_t old;

		for (int i = 0; i < GF_PAGES; i++)
			CHECK(mm_map_page(r->mm, GF_REGION + i * PAGE_SIZE,
					  r->pages[i], PAGE_SHARED) == 0);
		sched_yield();
		tlb_gather_mmu(&tlb, r->mm);
		for (int i = 0; i < GF_PAGES; i++)
			zap_one(&tlb, r->mm, GF_REGION + i * PAGE_SIZE);
		spin_lock(&r->mm->page_table_lock);
		old = pmdp_get_and_clear(pmd_of(r->mm, GF_REGION));
		spin_unlock(&r->mm->page_table_lock);
		table = pmd_page(old);
		tlb_remove_table(&tlb, table);
		tlb_finish_mmu(&tlb);
		/*
		 * Poison the freed table frame with plain writes, as page
		 * poisoning would (safe: only this thread allocates, and it
		 * zeroes tables it allocates).  A walker still reading it
		 * is a TSan race and sees a junk entry.
		 */
		memset(page_address(table), 0xa5, PAGE_SIZE);
		sched_yield();
	}
	smp_store_release(&r->stop, 1);
	return NULL;
}

static void test_stress_gup_fast_vs_table_free(void **state)
{
	static struct gf_race r;
	pthread_t t[GF_WALKERS + 2];
	unsigned long tables;

	memset(&r, 0, sizeof(r));
	r.mm = mm_alloc();
	for (int i = 0; i < GF_PAGES; i++) {
		r.pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		r.pfns[i] = page_to_pfn(r.pages[i]);
		/* What a CPU load must read there. */
		*(u64 *)page_address(r.pages[i]) = GF_REGION + i * PAGE_SIZE;
	}
	tables = mm_pgtables_pages(r.mm);
	for (int w = 0; w < GF_WALKERS; w++)
		pthread_create(&t[w], NULL, gf_walker, &r);
	pthread_create(&t[GF_WALKERS], NULL, gf_cpu, &r);
	pthread_create(&t[GF_WALKERS + 1], NULL, gf_freer, &r);
	for (int w = 0; w < GF_WALKERS + 2; w++)
		pthread_join(t[w], NULL);
	/* Upper levels stay; every PTE table was freed. */
	assert_int_equal(mm_pgtables_pages(r.mm), tables + 2);
	for (int i = 0; i < GF_PAGES; i++)
		assert_int_equal(page_count(r.pages[i]), 1);
	mmput(r.mm);
	for (int i = 0; i < GF_PAGES; i++)
		__free_page(r.pages[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gather_frees_after_flush,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_gather_batch_overflow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_gather_frees_tables_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gather_waits_for_irq_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_gather_fullmm, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush_range_selective,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tlb_entry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stress_cpus_vs_shootdown,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stress_gup_fast_vs_table_free, setup, teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
