// SPDX-License-Identifier: MIT
/*
 * Faults, COW, fork, shared memory, transparent huge pages and their
 * splitting, exit: the host MMU's anonymous-memory paths, driven through
 * vm_* calls and simulated CPUs.
 */
#include "mm_test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

static struct mm_leak_check leaks;

static int setup(void **state)
{
	thp_set_mode(THP_MADVISE, false);
	mm_leak_check_begin(&leaks);
	return 0;
}

/* Every test ends with every frame, table and object back. */
static int teardown(void **state)
{
	mm_leak_check_end(&leaks);
	return 0;
}

#define RW (PROT_READ | PROT_WRITE)

static void test_anonymous_faults(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);
	u64 e = 0;

	/* A read maps the shared zero page, read-only. */
	assert_int_equal(test_load(cpu, a), 0);
	assert_true(is_zero_pfn(test_pfn_at(mm, a, &e)));
	assert_false(e & _PAGE_RW);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 0);
	/* A write replaces it with a private zeroed page. */
	test_store(cpu, a + 8, 42);
	unsigned long pfn = test_pfn_at(mm, a, &e);
	assert_false(is_zero_pfn(pfn));
	assert_true((e & _PAGE_RW) && (e & _PAGE_DIRTY));
	assert_int_equal(test_load(cpu, a), 0);
	assert_int_equal(test_load(cpu, a + 8), 42);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 1);
	/* A first write without a read allocates directly. */
	test_store(cpu, a + PAGE_SIZE, 7);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 2);
	/* Writing again is no fault. */
	unsigned long faults = cpu->faults;
	test_store(cpu, a + 16, 1);
	assert_int_equal(cpu->faults, faults);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_access_errors(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long ro = test_map(mm, PAGE_SIZE, PROT_READ, MAP_PRIVATE);
	long none = test_map(mm, PAGE_SIZE, PROT_NONE, MAP_PRIVATE);
	u64 v;

	assert_int_equal(test_load(cpu, ro), 0);
	assert_int_equal(cpu_store_u64(cpu, ro, 1), -EACCES);
	assert_int_equal(cpu_load_u64(cpu, none, &v), -EACCES);
	assert_int_equal(cpu_load_u64(cpu, 0x1000, &v), -EFAULT);
	/* mprotect upgrade: the zero page mapping becomes a private page. */
	assert_int_equal(vm_mprotect(mm, ro, PAGE_SIZE, RW), 0);
	test_store(cpu, ro, 5);
	assert_false(is_zero_pfn(test_pfn_at(mm, ro, NULL)));
	/* mprotect downgrade: stores refused again, data kept. */
	assert_int_equal(vm_mprotect(mm, ro, PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(cpu_store_u64(cpu, ro, 6), -EACCES);
	assert_int_equal(test_load(cpu, ro), 5);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_fork_cow(void **state)
{
	struct mm_struct *parent = mm_alloc();
	struct sim_cpu *pc = cpu_create(parent);
	long a = test_map(parent, 2 * PAGE_SIZE, RW, MAP_PRIVATE);

	test_store(pc, a, 100);
	test_store(pc, a + PAGE_SIZE, 200);
	unsigned long pfn = test_pfn_at(parent, a, NULL);
	struct page *page = pfn_to_page(pfn);

	struct mm_struct *child = mm_fork(parent);
	assert_false(IS_ERR(child));
	struct sim_cpu *cc = cpu_create(child);
	u64 e = 0;

	/* Shared, write-protected on both sides. */
	assert_int_equal(test_pfn_at(child, a, &e), pfn);
	assert_false(e & _PAGE_RW);
	test_pfn_at(parent, a, &e);
	assert_false(e & _PAGE_RW);
	assert_int_equal(page_mapcount(page), 2);
	assert_int_equal(page_ref_count(page), 2);
	assert_int_equal(test_load(cc, a), 100);

	/* The child writes: it gets a copy; the parent keeps its value. */
	test_store(cc, a, 101);
	assert_int_not_equal(test_pfn_at(child, a, NULL), pfn);
	assert_int_equal(test_load(pc, a), 100);
	assert_int_equal(test_load(cc, a), 101);
	assert_int_equal(page_mapcount(page), 1);
	/* The parent writes: the page is its own again, reused in place. */
	test_store(pc, a, 102);
	assert_int_equal(test_pfn_at(parent, a, NULL), pfn);
	assert_int_equal(test_load(cc, a), 101);
	/* The other page is still shared until someone writes it. */
	assert_int_equal(test_pfn_at(child, a + PAGE_SIZE, NULL),
			 test_pfn_at(parent, a + PAGE_SIZE, NULL));
	assert_int_equal(test_load(cc, a + PAGE_SIZE), 200);

	cpu_destroy(cc);
	mm_exit(child);
	/* With the child gone the parent's second page is exclusive again. */
	unsigned long pfn2 = test_pfn_at(parent, a + PAGE_SIZE, NULL);
	test_store(pc, a + PAGE_SIZE, 201);
	assert_int_equal(test_pfn_at(parent, a + PAGE_SIZE, NULL), pfn2);
	cpu_destroy(pc);
	mm_exit(parent);
}

/*
 * Fork with a pinned page: the child gets a copy at fork time; the parent
 * keeps its page writable, so a "DMA" write through the pin stays visible
 * to the parent.  (The pin is taken by hand here, as pin_user_pages does:
 * a reference plus the exact pincount; tests/gup covers the real calls.)
 */
static void test_fork_pinned(void **state)
{
	struct mm_struct *parent = mm_alloc();
	struct sim_cpu *pc = cpu_create(parent);
	long a = test_map(parent, 2 * PAGE_SIZE, RW, MAP_PRIVATE);
	u64 e = 0;

	test_store(pc, a, 1);
	test_store(pc, a + PAGE_SIZE, 2);
	unsigned long pfn = test_pfn_at(parent, a, NULL);
	struct page *page = pfn_to_page(pfn);

	get_page(page);
	atomic_inc(&page->_pincount);
	struct mm_struct *child = mm_fork(parent);
	struct sim_cpu *cc = cpu_create(child);

	/* The pinned page: copied for the child, untouched in the parent. */
	assert_int_equal(test_pfn_at(parent, a, &e), pfn);
	assert_true(e & _PAGE_RW);
	assert_int_not_equal(test_pfn_at(child, a, &e), pfn);
	assert_true(e & _PAGE_RW);
	assert_int_equal(test_load(cc, a), 1);
	/* The unpinned one: shared COW as usual. */
	assert_int_equal(test_pfn_at(child, a + PAGE_SIZE, NULL),
			 test_pfn_at(parent, a + PAGE_SIZE, NULL));
	/* "DMA" into the pinned frame reaches the parent, not the child. */
	((volatile u64 *)page_address(page))[0] = 77;
	assert_int_equal(test_load(pc, a), 77);
	assert_int_equal(test_load(cc, a), 1);
	test_store(pc, a, 78); /* no COW: still the pinned frame */
	assert_int_equal(test_pfn_at(parent, a, NULL), pfn);

	atomic_dec(&page->_pincount);
	put_page(page);
	cpu_destroy(cc);
	mm_exit(child);
	cpu_destroy(pc);
	mm_exit(parent);
}

static void test_fork_shared(void **state)
{
	struct mm_struct *parent = mm_alloc();
	struct sim_cpu *pc = cpu_create(parent);
	long s = test_map(parent, 2 * PAGE_SIZE, RW, MAP_SHARED);

	test_store(pc, s, 1);
	struct mm_struct *child = mm_fork(parent);
	struct sim_cpu *cc = cpu_create(child);

	/* Both see each other's stores: one set of frames. */
	assert_int_equal(test_load(cc, s), 1);
	test_store(cc, s + PAGE_SIZE, 2);
	assert_int_equal(test_load(pc, s + PAGE_SIZE), 2);
	test_store(pc, s, 3);
	assert_int_equal(test_load(cc, s), 3);
	assert_int_equal(test_pfn_at(parent, s, NULL),
			 test_pfn_at(child, s, NULL));
	assert_int_equal(get_mm_counter(child, MM_SHMEMPAGES), 2);
	cpu_destroy(cc);
	mm_exit(child);
	/* The object outlives the child's mapping. */
	assert_int_equal(test_load(pc, s + PAGE_SIZE), 2);
	cpu_destroy(pc);
	mm_exit(parent);
}

/* A 2 MiB-aligned MADV_HUGEPAGE region faults in a PMD leaf. */
static long map_thp(struct mm_struct *mm, unsigned long len)
{
	long a = test_map(mm, len, RW, MAP_PRIVATE);

	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(mm, a, len, MADV_HUGEPAGE), 0);
	return a;
}

static void test_thp_fault_and_split(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = map_thp(mm, 2 * PMD_SIZE);
	u64 e = 0;

	test_store(cpu, a + 5 * PAGE_SIZE, 55);
	unsigned long pfn = test_pfn_at(mm, a, &e);
	assert_true(e & _PAGE_PSE);
	assert_int_equal(test_pfn_at(mm, a + 5 * PAGE_SIZE, NULL), pfn + 5);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), HPAGE_PMD_NR);
	for (int i = 0; i < 512; i += 97)
		test_store(cpu, a + i * PAGE_SIZE, i);

	/* Unmapping one page in the middle splits the leaf; the rest keeps
	 * its frames and contents. */
	assert_int_equal(vm_munmap(mm, a + 3 * PAGE_SIZE, PAGE_SIZE), 0);
	assert_int_equal(test_pfn_at(mm, a + 3 * PAGE_SIZE, NULL), 0);
	assert_int_equal(test_pfn_at(mm, a + 4 * PAGE_SIZE, &e), pfn + 4);
	assert_false(e & _PAGE_PSE);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), HPAGE_PMD_NR - 1);
	for (int i = 0; i < 512; i += 97)
		assert_int_equal(test_load(cpu, a + i * PAGE_SIZE), i);
	assert_int_equal(test_load(cpu, a + 5 * PAGE_SIZE), 55);

	/* mprotect of part of the second huge page splits it too. */
	test_store(cpu, a + PMD_SIZE, 9);
	assert_true(test_pfn_at(mm, a + PMD_SIZE, &e) && (e & _PAGE_PSE));
	assert_int_equal(vm_mprotect(mm, a + PMD_SIZE, PAGE_SIZE, PROT_READ),
			 0);
	assert_int_equal(cpu_store_u64(cpu, a + PMD_SIZE, 1), -EACCES);
	test_store(cpu, a + PMD_SIZE + PAGE_SIZE, 10);
	assert_int_equal(test_load(cpu, a + PMD_SIZE), 9);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_thp_fork_cow(void **state)
{
	struct mm_struct *parent = mm_alloc();
	struct sim_cpu *pc = cpu_create(parent);
	long a = map_thp(parent, PMD_SIZE);

	for (int i = 0; i < 512; i += 64)
		test_store(pc, a + i * PAGE_SIZE, 1000 + i);
	unsigned long pfn = test_pfn_at(parent, a, NULL);
	struct mm_struct *child = mm_fork(parent);
	struct sim_cpu *cc = cpu_create(child);
	u64 e = 0;

	assert_int_equal(test_pfn_at(child, a, &e), pfn);
	assert_true((e & _PAGE_PSE) && !(e & _PAGE_RW));
	/* A child write splits its leaf and copies just that 4 KiB page. */
	test_store(cc, a + 64 * PAGE_SIZE, 7);
	assert_int_not_equal(test_pfn_at(child, a + 64 * PAGE_SIZE, NULL),
			     pfn + 64);
	assert_int_equal(test_pfn_at(child, a + 128 * PAGE_SIZE, NULL),
			 pfn + 128);
	test_pfn_at(parent, a, &e);
	assert_true(e & _PAGE_PSE); /* the parent's leaf is untouched */
	for (int i = 0; i < 512; i += 64) {
		assert_int_equal(test_load(pc, a + i * PAGE_SIZE), 1000 + i);
		assert_int_equal(test_load(cc, a + i * PAGE_SIZE),
				 i == 64 ? 7 : 1000 + i);
	}
	test_store(pc, a, 1);
	assert_int_equal(test_load(cc, a), 1000);
	cpu_destroy(cc);
	mm_exit(child);
	cpu_destroy(pc);
	mm_exit(parent);
}

static void test_mremap_and_dontneed(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE);

	for (int i = 0; i < 4; i++)
		test_store(cpu, a + i * PAGE_SIZE, 10 + i);
	unsigned long pfn = test_pfn_at(mm, a + 2 * PAGE_SIZE, NULL);
	long b = vm_mremap(mm, a, 4 * PAGE_SIZE, 64 * PAGE_SIZE, MREMAP_MAYMOVE,
			   0);
	assert_false(IS_ERR_VALUE(b));
	if (b != a) {
		u64 v;

		assert_int_equal(cpu_load_u64(cpu, a, &v), -EFAULT);
	}
	assert_int_equal(test_pfn_at(mm, b + 2 * PAGE_SIZE, NULL), pfn);
	for (int i = 0; i < 4; i++)
		assert_int_equal(test_load(cpu, b + i * PAGE_SIZE), 10 + i);
	assert_int_equal(test_load(cpu, b + 10 * PAGE_SIZE), 0);

	assert_int_equal(vm_madvise(mm, b, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(test_load(cpu, b), 0);
	assert_int_equal(test_load(cpu, b + 2 * PAGE_SIZE), 12);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_populate_and_oom(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, 8 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_POPULATE);
	unsigned long faults = cpu->faults;

	for (int i = 0; i < 8; i++) {
		u64 e;

		assert_false(
			is_zero_pfn(test_pfn_at(mm, a + i * PAGE_SIZE, &e)));
		assert_true(e & _PAGE_RW);
		test_store(cpu, a + i * PAGE_SIZE, i);
	}
	assert_int_equal(cpu->faults, faults); /* nothing left to fault */

	/* An allocation failure in a fault reaches the CPU as -ENOMEM. */
	long b = test_map(mm, PAGE_SIZE, RW, MAP_PRIVATE);
	fault_inject_nth(1);
	assert_int_equal(cpu_store_u64(cpu, b, 1), -ENOMEM);
	fault_inject_off();
	test_store(cpu, b, 1);
	cpu_destroy(cpu);
	mm_exit(mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anonymous_faults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_access_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_cow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_pinned, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_shared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thp_fault_and_split, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thp_fork_cow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mremap_and_dontneed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_populate_and_oom, setup,
						teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
