// SPDX-License-Identifier: MIT
/*
 * Device-private memory in the host MMU (memremap.h, migrate.h,
 * src/mm/migrate_device.c), through a tiny device driver written here:
 * migrate_vma to device memory and back with data intact, refcounts,
 * mapcounts, RSS and frames accounted; the CPU faulting a device page back
 * through ops->migrate_to_ram; holes and the zero page; fork sharing a
 * device page read-only; a THP split so part of it can move; mprotect;
 * zap giving pages back to the driver;
 * eviction with migrate_device_range before memunmap_pages; what
 * hmm_range_fault reports for its owner and others; MIGRATE invalidations
 * carrying the owner; bad arguments; a CPU thread and a migrating thread
 * racing on the same pages (real threads).  Everything under the oracle.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/completion.h>
#include <mmirror/hmm.h>
#include <mmirror/kthread.h>
#include <mmirror/memremap.h>
#include <mmirror/migrate.h>
#include "mm/internal.h"

#define RW (PROT_READ | PROT_WRITE)
#define NPAGES 16
#define DEV_PAGES 32

static struct mm_leak_check leak;

/* --- the device: a pgmap, a free list, a migrate_to_ram ----------------- */

static struct tdev {
	struct dev_pagemap pgmap;
	spinlock_t lock; /* guards free[], nr_free (page_free: any context) */
	unsigned long free[DEV_PAGES];
	int nr_free;
	int to_ram, page_frees;
	int migrate_starts, owned_starts; /* MIGRATE events seen */
	struct mmu_notifier mn;
} D;

static void tdev_page_free(struct page *page)
{
	spin_lock(&D.lock);
	D.free[D.nr_free++] = page_to_pfn(page);
	D.page_frees++;
	spin_unlock(&D.lock);
}

static struct page *tdev_alloc(void)
{
	unsigned long pfn = 0;

	spin_lock(&D.lock);
	if (D.nr_free)
		pfn = D.free[--D.nr_free];
	spin_unlock(&D.lock);
	if (!pfn)
		return NULL;
	assert_int_equal(zone_device_page_init(pfn_to_page(pfn)), 0);
	return pfn_to_page(pfn);
}

/* Give every collected page a destination from @alloc and copy it. */
static void fill_dst(struct migrate_vma *a, struct page *(*alloc)(void))
{
	for (unsigned long i = 0; i < a->npages; i++) {
		struct page *src = migrate_pfn_to_page(a->src[i]);
		struct page *dst;

		if (!(a->src[i] & MIGRATE_PFN_MIGRATE) || !(dst = alloc()))
			continue;
		if (src)
			copy_highpage(dst, src);
		else
			memset(page_address(dst), 0, PAGE_SIZE);
		a->dst[i] = migrate_pfn(page_to_pfn(dst)) |
			    (a->src[i] & MIGRATE_PFN_WRITE);
	}
}

static struct page *sys_alloc(void)
{
	struct page *page = alloc_page_vma(GFP_KERNEL, NULL, 0);

	assert_non_null(page);
	lock_page(page);
	return page;
}

static int migrate(struct mm_struct *mm, unsigned long start, unsigned long end,
		   unsigned long flags, struct page *fault)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct migrate_vma a = { .src = src,
				 .dst = dst,
				 .start = start,
				 .end = end,
				 .pgmap_owner = &D,
				 .flags = flags,
				 .fault_page = fault };
	int ret;

	a.vma = vma_lookup(mm, start);
	ret = migrate_vma_setup(&a);
	if (ret)
		return ret;
	fill_dst(&a,
		 flags & MIGRATE_VMA_SELECT_SYSTEM ? tdev_alloc : sys_alloc);
	migrate_vma_pages(&a);
	migrate_vma_finalize(&a);
	return (int)a.cpages;
}

static vm_fault_t tdev_to_ram(struct vm_fault *vmf)
{
	D.to_ram++;
	assert_true(PageLocked(vmf->page));
	migrate(vmf->vma->vm_mm, vmf->address, vmf->address + PAGE_SIZE,
		MIGRATE_VMA_SELECT_DEVICE_PRIVATE, vmf->page);
	return 0;
}

static const struct dev_pagemap_ops tdev_ops = {
	.page_free = tdev_page_free,
	.migrate_to_ram = tdev_to_ram,
};

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	if (range->event == MMU_NOTIFY_MIGRATE) {
		D.migrate_starts++;
		D.owned_starts += range->owner == &D;
	}
	return 0;
}

static const struct mmu_notifier_ops rec_ops = {
	.invalidate_range_start = rec_start,
};

static struct mm_struct *MM;

static void to_device(unsigned long a, int n)
{
	mmap_read_lock(MM);
	assert_int_equal(migrate(MM, a, a + n * PAGE_SIZE,
				 MIGRATE_VMA_SELECT_SYSTEM, NULL),
			 n);
	mmap_read_unlock(MM);
}

static int setup(void **state)
{
	void *addr;

	mm_leak_check_begin(&leak);
	memset(&D, 0, sizeof(D));
	spin_lock_init(&D.lock);
	D.pgmap.type = MEMORY_DEVICE_PRIVATE;
	D.pgmap.nr_pages = DEV_PAGES;
	D.pgmap.ops = &tdev_ops;
	D.pgmap.owner = &D;
	addr = memremap_pages(&D.pgmap);
	assert_false(IS_ERR(addr));
	for (int i = 0; i < DEV_PAGES; i++)
		D.free[D.nr_free++] = pgmap_pfn_first(&D.pgmap) + i;
	MM = mm_alloc();
	D.mn.ops = &rec_ops;
	assert_int_equal(mmu_notifier_register(&D.mn, MM), 0);
	oracle_begin();
	return 0;
}

static int teardown(void **state)
{
	mmu_notifier_unregister(&D.mn, MM);
	mm_exit(MM);
	/* Every device page is back: the removal does not wait. */
	assert_int_equal(D.nr_free, DEV_PAGES);
	memunmap_pages(&D.pgmap);
	oracle_end_clean();
	mm_leak_check_end(&leak);
	return 0;
}

/* --- helpers ----------------------------------------------------------- */

static u64 pattern(unsigned long va, int gen)
{
	return (va * 0x9E3779B97F4A7C15ULL) ^ (u64)gen;
}

static void fill(struct sim_cpu *cpu, unsigned long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		test_store(cpu, va, pattern(va, gen));
}

static void verify(struct sim_cpu *cpu, unsigned long a, int n, int gen)
{
	for (unsigned long va = a; va < a + n * PAGE_SIZE; va += 512)
		assert_int_equal(test_load(cpu, va), pattern(va, gen));
}

/* The raw PTE value at @va (0 if no table). */
static u64 raw_pte(unsigned long va)
{
	struct pt_snapshot s;

	pt_walk_snapshot(MM, va, &s);
	return s.shift == PAGE_SHIFT ? s.entry : 0;
}

static bool is_devpriv(unsigned long va, bool *write)
{
	pte_t v = __pte(raw_pte(va));
	swp_entry_t e = pte_to_swp_entry(v);

	if (!is_swap_pte(v) || !is_device_private_entry(e))
		return false;
	if (write)
		*write = is_writable_device_private_entry(e);
	return pgmap_has_pfn(&D.pgmap, swp_offset(e));
}

/* --- tests ------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long free0, rss0;
	bool w;

	fill(cpu, a, NPAGES, 1);
	free0 = nr_free_pages();
	rss0 = get_mm_counter(MM, MM_ANONPAGES);
	to_device(a, NPAGES);
	/* Every system frame went back; the mapping stays counted. */
	assert_int_equal(nr_free_pages(), free0 + NPAGES);
	assert_int_equal(get_mm_counter(MM, MM_ANONPAGES), rss0);
	assert_int_equal(D.nr_free, DEV_PAGES - NPAGES);
	assert_int_equal(D.owned_starts, NPAGES);
	for (int i = 0; i < NPAGES; i++) {
		unsigned long va = a + i * PAGE_SIZE;
		struct page *p;

		assert_true(is_devpriv(va, &w));
		assert_true(w);
		p = pfn_to_page(test_pfn_at(MM, va, NULL));
		assert_int_equal(page_ref_count(p), 1);
		assert_int_equal(page_mapcount(p), 1);
		assert_true(PageAnon(p) && !PageLRU(p));
	}
	/* Back by the driver (SELECT_DEVICE_PRIVATE). */
	mmap_read_lock(MM);
	assert_int_equal(migrate(MM, a, a + NPAGES * PAGE_SIZE,
				 MIGRATE_VMA_SELECT_DEVICE_PRIVATE, NULL),
			 NPAGES);
	mmap_read_unlock(MM);
	assert_int_equal(D.nr_free, DEV_PAGES);
	assert_int_equal(D.to_ram, 0);
	assert_false(is_devpriv(a, NULL));
	verify(cpu, a, NPAGES, 1);
	/* Back by CPU faults this time. */
	to_device(a, NPAGES);
	verify(cpu, a, NPAGES, 1);
	assert_int_equal(D.to_ram, NPAGES);
	assert_int_equal(D.nr_free, DEV_PAGES);
	fill(cpu, a, NPAGES, 2);
	to_device(a, NPAGES);
	/* A store faults it back and lands in system memory. */
	test_store(cpu, a + 8, 77);
	assert_false(is_devpriv(a, NULL));
	assert_int_equal(test_load(cpu, a + 8), 77);
	cpu_destroy(cpu);
}

static void test_holes(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, 4 * PAGE_SIZE, RW, MAP_PRIVATE);

	/* Page 1 maps the zero page; the others have no entry at all. */
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 0);
	to_device(a, 4);
	for (int i = 0; i < 4; i++)
		assert_true(is_devpriv(a + i * PAGE_SIZE, NULL));
	assert_int_equal(get_mm_counter(MM, MM_ANONPAGES), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(test_load(cpu, a + i * PAGE_SIZE + 64), 0);
	assert_int_equal(D.to_ram, 4);
	cpu_destroy(cpu);
}

/* A THP is split so part of it can move (Linux's collect does the same). */
static void test_thp(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	unsigned long part;
	long a;
	u64 e = 0;

	thp_set_mode(THP_MADVISE, false);
	a = test_map(MM, PMD_SIZE, RW, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(MM, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	test_store(cpu, a, 1);
	assert_true(test_pfn_at(MM, a, &e) && (e & _PAGE_PSE));
	part = a + 8 * PAGE_SIZE;
	fill(cpu, part, 8, 9);
	to_device(part, 8);
	for (int i = 0; i < 8; i++)
		assert_true(is_devpriv(part + i * PAGE_SIZE, NULL));
	/* The rest stays in system memory, PTE-mapped now. */
	assert_true(test_pfn_at(MM, a, &e) && !(e & _PAGE_PSE));
	assert_int_equal(test_load(cpu, a), 1);
	verify(cpu, part, 8, 9);
	assert_int_equal(D.to_ram, 8);
	cpu_destroy(cpu);
}

static void test_fork(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM), *ccpu;
	long a = test_map(MM, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct mm_struct *child;
	struct page *p;
	bool w = true;

	fill(cpu, a, 4, 3);
	to_device(a, 4);
	child = mm_fork(MM);
	assert_non_null(child);
	ccpu = cpu_create(child);
	assert_true(is_devpriv(a, &w));
	assert_false(w); /* the parent's entry lost write */
	p = pfn_to_page(test_pfn_at(MM, a, NULL));
	assert_int_equal(page_mapcount(p), 2);
	assert_int_equal(page_ref_count(p), 2);
	/* The child's read moves the shared page back for both. */
	assert_int_equal(test_load(ccpu, a), pattern(a, 3));
	assert_false(is_devpriv(a, NULL));
	assert_int_equal(test_pfn_at(MM, a, NULL), test_pfn_at(child, a, NULL));
	/* The child's write breaks COW; the parent keeps its data. */
	test_store(ccpu, a + 8, 5);
	assert_int_not_equal(test_pfn_at(MM, a, NULL),
			     test_pfn_at(child, a, NULL));
	verify(cpu, a, 1, 3);
	assert_true(is_devpriv(a + PAGE_SIZE, NULL));
	/* The other pages: a parent write after the child exited. */
	cpu_destroy(ccpu);
	mm_exit(child);
	test_store(cpu, a + 2 * PAGE_SIZE, 9);
	assert_int_equal(test_load(cpu, a + 2 * PAGE_SIZE), 9);
	/* Pages 1 and 3 are still the parent's, on the device. */
	assert_int_equal(D.nr_free, DEV_PAGES - 2);
	assert_true(is_devpriv(a + PAGE_SIZE, NULL));
	assert_int_equal(test_load(cpu, a + 3 * PAGE_SIZE + 512),
			 pattern(a + 3 * PAGE_SIZE + 512, 3));
	cpu_destroy(cpu);
}

static void test_mprotect(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	bool w = true;
	u64 v;

	fill(cpu, a, 2, 4);
	to_device(a, 2);
	assert_int_equal(vm_mprotect(MM, a, 2 * PAGE_SIZE, PROT_READ), 0);
	assert_true(is_devpriv(a, &w));
	assert_false(w);
	assert_int_not_equal(cpu_store_u64(cpu, a, 1), 0);
	assert_true(is_devpriv(a, NULL)); /* a refused write moves nothing */
	assert_int_equal(cpu_load_u64(cpu, a, &v), 0);
	assert_int_equal(v, pattern(a, 4));
	/* Even a protection that keeps write makes the entry read-only. */
	assert_int_equal(vm_mprotect(MM, a, 2 * PAGE_SIZE, RW), 0);
	assert_true(is_devpriv(a + PAGE_SIZE, &w));
	assert_false(w);
	test_store(cpu, a + PAGE_SIZE, 6);
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 6);
	cpu_destroy(cpu);
}

static void test_zap(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, 8 * PAGE_SIZE, RW, MAP_PRIVATE);

	fill(cpu, a, 8, 5);
	to_device(a, 8);
	assert_int_equal(vm_madvise(MM, a, 4 * PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(D.nr_free, DEV_PAGES - 4);
	assert_int_equal(get_mm_counter(MM, MM_ANONPAGES), 4);
	assert_int_equal(test_load(cpu, a), 0);
	assert_int_equal(vm_munmap(MM, a, 8 * PAGE_SIZE), 0);
	assert_int_equal(D.nr_free, DEV_PAGES);
	assert_int_equal(get_mm_counter(MM, MM_ANONPAGES), 0);
	assert_int_equal(D.to_ram, 0);
	cpu_destroy(cpu);
}

/* The driver unloads: every page moves out by pfn, then the removal. */
static void test_evict(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	unsigned long src[DEV_PAGES], dst[DEV_PAGES];
	int moved = 0;

	fill(cpu, a, NPAGES, 6);
	to_device(a, NPAGES);
	assert_int_equal(
		migrate_device_range(src, pgmap_pfn_first(&D.pgmap), DEV_PAGES),
		0);
	for (int i = 0; i < DEV_PAGES; i++) {
		struct page *s = migrate_pfn_to_page(src[i]);
		struct page *d;

		dst[i] = 0;
		if (!s)
			continue;
		d = sys_alloc();
		copy_highpage(d, s);
		dst[i] = migrate_pfn(page_to_pfn(d));
		moved++;
	}
	assert_int_equal(moved, NPAGES);
	migrate_device_pages(src, dst, DEV_PAGES);
	migrate_device_finalize(src, dst, DEV_PAGES);
	assert_int_equal(D.nr_free, DEV_PAGES);
	assert_int_equal(D.migrate_starts - D.owned_starts, NPAGES);
	verify(cpu, a, NPAGES, 6);
	assert_int_equal(D.to_ram, 0);
	cpu_destroy(cpu);
}

static struct mmu_interval_notifier_ops hmm_ops;

static bool hmm_inv(struct mmu_interval_notifier *mni,
		    const struct mmu_notifier_range *range,
		    unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static int snapshot(struct mmu_interval_notifier *mni, unsigned long a,
		    unsigned long *pfns, int n, void *owner, unsigned long req)
{
	struct hmm_range r = { .notifier = mni,
			       .start = a,
			       .end = a + n * PAGE_SIZE,
			       .hmm_pfns = pfns,
			       .default_flags = req,
			       .dev_private_owner = owner };
	int ret;

	do {
		r.notifier_seq = mmu_interval_read_begin(mni);
		mmap_read_lock(MM);
		ret = hmm_range_fault(&r);
		mmap_read_unlock(MM);
	} while (ret == -EBUSY);
	return ret;
}

static void test_hmm_owner(void **state)
{
	struct sim_cpu *cpu = cpu_create(MM);
	long a = test_map(MM, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	struct mmu_interval_notifier mni;
	unsigned long pfns[4];
	int other;

	hmm_ops.invalidate = hmm_inv;
	assert_int_equal(mmu_interval_notifier_insert(&mni, MM, a,
						      4 * PAGE_SIZE, &hmm_ops),
			 0);
	fill(cpu, a, 4, 7);
	to_device(a, 4);
	/* The owner sees its pages, even asking for a fault. */
	assert_int_equal(snapshot(&mni, a, pfns, 4, &D,
				  HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE),
			 0);
	for (int i = 0; i < 4; i++) {
		unsigned long pfn = pfns[i] & ~HMM_PFN_FLAGS;

		assert_true(pfns[i] & HMM_PFN_VALID);
		assert_true(pfns[i] & HMM_PFN_WRITE);
		assert_true(pgmap_has_pfn(&D.pgmap, pfn));
	}
	assert_int_equal(D.to_ram, 0);
	/* Someone else without a fault request: not mapped. */
	assert_int_equal(snapshot(&mni, a, pfns, 4, &other, 0), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pfns[i], 0);
	/* ... and with one: faulted back to system memory. */
	assert_int_equal(snapshot(&mni, a, pfns, 2, &other, HMM_PFN_REQ_FAULT),
			 0);
	assert_int_equal(D.to_ram, 2);
	assert_false(pgmap_has_pfn(&D.pgmap, pfns[0] & ~HMM_PFN_FLAGS));
	assert_true(is_devpriv(a + 2 * PAGE_SIZE, NULL));
	mmu_interval_notifier_remove(&mni);
	verify(cpu, a, 4, 7);
	cpu_destroy(cpu);
}

/* --- real threads: CPU accesses against migrations, both ways ---------- */

#define RACE_ROUNDS 60

static long race_a;
static int race_done; /* WRITE_ONCE by the CPU thread when it is done */
/* The first round meets device pages: on_device, then round_one. */
static struct completion on_device, round_one;

/*
 * Each round: store the round in one word per page, read them back.
 * Returns the number of wrong reads or failed accesses (no cmocka
 * assertions off the main thread).
 */
static int race_cpu(void *arg)
{
	struct sim_cpu *cpu = cpu_create(MM);
	int bad = 0;

	wait_for_completion(&on_device);
	for (u64 r = 1; r <= RACE_ROUNDS; r++) {
		unsigned long off = 8 * (r % 8);
		u64 v;

		if (r == 2)
			complete(&round_one);
		for (int i = 0; i < NPAGES; i++)
			bad += !!cpu_store_u64(cpu,
					       race_a + i * PAGE_SIZE + off, r);
		for (int i = 0; i < NPAGES; i++)
			bad += cpu_load_u64(cpu, race_a + i * PAGE_SIZE + off,
					    &v) ||
			       v != r;
	}
	cpu_destroy(cpu);
	/* Pairs with the READ_ONCE in the migrating thread. */
	WRITE_ONCE(race_done, 1);
	return bad;
}

/* Moves the whole range to the device and back until the CPU is done. */
static int race_migrate(void *arg)
{
	unsigned long end = race_a + NPAGES * PAGE_SIZE;
	long moved = 0;

	mmap_read_lock(MM);
	moved += migrate(MM, race_a, end, MIGRATE_VMA_SELECT_SYSTEM, NULL);
	mmap_read_unlock(MM);
	complete(&on_device);
	wait_for_completion(&round_one);
	while (!READ_ONCE(race_done)) {
		mmap_read_lock(MM);
		moved += migrate(MM, race_a, end, MIGRATE_VMA_SELECT_SYSTEM,
				 NULL);
		mmap_read_unlock(MM);
		cond_resched();
		mmap_read_lock(MM);
		migrate(MM, race_a, end, MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
			NULL);
		mmap_read_unlock(MM);
	}
	return moved > 0 ? 0 : -1;
}

static void test_race(void **state)
{
	struct task_struct *c, *m;

	race_a = test_map(MM, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	race_done = 0;
	init_completion(&on_device);
	init_completion(&round_one);
	m = kthread_run(race_migrate, NULL, "migrate");
	c = kthread_run(race_cpu, NULL, "cpu");
	assert_int_equal(kthread_join(c), 0);
	assert_int_equal(kthread_join(m), 0);
	/* The CPU really met device pages (each round moves all of them). */
	assert_true(D.to_ram > 0);
	/* Whatever is still on the device is given back by the exit. */
}

static void test_bad_args(void **state)
{
	long a = test_map(MM, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	long sh = test_map(MM, PAGE_SIZE, RW, MAP_SHARED);
	unsigned long src[2], dst[2];
	struct migrate_vma m = { .src = src, .dst = dst };
	struct dev_pagemap bad = { .type = MEMORY_DEVICE_PRIVATE,
				   .nr_pages = 1 };

	mmap_read_lock(MM);
	m.vma = vma_lookup(MM, a);
	m.start = a + 1;
	m.end = a + PAGE_SIZE;
	assert_int_equal(migrate_vma_setup(&m), -EINVAL);
	m.start = a;
	m.end = a + 3 * PAGE_SIZE;
	assert_int_equal(migrate_vma_setup(&m), -EINVAL);
	m.end = a;
	assert_int_equal(migrate_vma_setup(&m), -EINVAL);
	m.vma = vma_lookup(MM, sh);
	m.start = sh;
	m.end = sh + PAGE_SIZE;
	assert_int_equal(migrate_vma_setup(&m), -EINVAL);
	m.vma = NULL;
	assert_int_equal(migrate_vma_setup(&m), -EINVAL);
	mmap_read_unlock(MM);
	/* Device-private memory without its ops or owner. */
	assert_ptr_equal(memremap_pages(&bad), ERR_PTR(-EINVAL));
	bad.ops = &tdev_ops;
	assert_ptr_equal(memremap_pages(&bad), ERR_PTR(-EINVAL));
	assert_int_equal(migrate_device_range(src, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mprotect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hmm_owner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};

	/* Physical memory exists before the first leak check samples it. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
