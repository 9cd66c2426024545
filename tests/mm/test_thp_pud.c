// SPDX-License-Identifier: MIT
/*
 * 1 GiB (PUD-level) transparent huge pages: fault, split into PMD leaves,
 * split again into PTEs, COW after fork, teardown.  Runs with a 3 GiB arena
 * so a free 1 GiB block exists next to the page tables.
 */
#include "mm_test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

/* Offsets spread over the 1 GiB: every 2 MiB chunk gets a probe. */
#define NPROBES 512
static unsigned long probe(int i)
{
	return (unsigned long)i * PMD_SIZE + (i % 512) * PAGE_SIZE + 8;
}

static void test_pud_thp(void **state)
{
	unsigned long free_before = nr_free_pages();
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a;
	u64 e = 0;

	thp_set_mode(THP_ALWAYS, true);
	a = vm_mmap(mm, 0, 2 * PUD_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(a));
	a = ALIGN_UP(a, PUD_SIZE); /* the 1 GiB-aligned gigabyte inside */

	assert_int_equal(cpu_store_u64(cpu, a + probe(0), 1), 0);
	unsigned long pfn = test_pfn_at(mm, a, &e);
	assert_true(e & _PAGE_PSE);
	assert_true(IS_ALIGNED(pfn, HPAGE_PUD_NR));
	assert_int_equal(test_pfn_at(mm, a + PMD_SIZE + PAGE_SIZE, NULL),
			 pfn + 513);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), HPAGE_PUD_NR);
	for (int i = 0; i < NPROBES; i++)
		assert_int_equal(cpu_store_u64(cpu, a + probe(i), i + 1), 0);

	/* Fork: the child shares the 1 GiB leaf; a child write splits its
	 * PUD into PMD leaves, one PMD leaf into PTEs, and copies one page. */
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *cc = cpu_create(child);
	assert_int_equal(test_pfn_at(child, a, &e), pfn);
	assert_true((e & _PAGE_PSE) && !(e & _PAGE_RW));
	assert_int_equal(cpu_store_u64(cc, a + probe(7), 777), 0);
	assert_int_not_equal(test_pfn_at(child, a + probe(7), NULL),
			     pfn + (probe(7) >> PAGE_SHIFT));
	assert_int_equal(test_pfn_at(child, a + probe(8), &e),
			 pfn + (probe(8) >> PAGE_SHIFT));
	assert_true(e & _PAGE_PSE); /* a neighbouring PMD leaf */
	for (int i = 0; i < NPROBES; i++) {
		assert_int_equal(test_load(cc, a + probe(i)),
				 i == 7 ? 777 : i + 1);
		assert_int_equal(test_load(cpu, a + probe(i)), i + 1);
	}
	cpu_destroy(cc);
	mm_exit(child);

	/* Partial munmap splits the parent's leaf down to PTEs. */
	assert_int_equal(vm_munmap(mm, a + probe(3) - 8, PAGE_SIZE), 0);
	assert_int_equal(test_pfn_at(mm, a + probe(3), NULL), 0);
	assert_int_equal(test_pfn_at(mm, a + probe(3) + PAGE_SIZE, NULL),
			 pfn + (probe(3) >> PAGE_SHIFT) + 1);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), HPAGE_PUD_NR - 1);
	for (int i = 0; i < NPROBES; i++)
		if (i != 3)
			assert_int_equal(test_load(cpu, a + probe(i)), i + 1);

	cpu_destroy(cpu);
	mm_exit(mm);
	thp_set_mode(THP_MADVISE, false);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(mm_live_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pud_thp),
	};

	if (mem_init(3UL << 30)) {
		fprintf(stderr, "cannot set up a 3 GiB arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
