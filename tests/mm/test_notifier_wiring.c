// SPDX-License-Identifier: MIT
/*
 * Every host-MMU path that changes a present PTE is bracketed by the mmu
 * notifiers: which callbacks run, with which range, event and blockable
 * flag, and in which order relative to the PTE change and the TLB flush.
 *
 * A recording subscriber logs each callback together with what it sees of
 * the primary MMU at that moment: whether a probe address is still mapped
 * (and writable, and to which frame), and how many TLB shootdowns the mm
 * has had.  "start before the change" = the probe is still as it was at
 * start; "end after the flush" = the change is visible and a shootdown
 * happened between start and end.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/rmap.h>

enum kind { K_START, K_END, K_ARCH, K_RELEASE, K_CFY, K_CY, K_TY, K_INTERVAL };

struct rec {
	enum kind kind;
	enum mmu_notifier_event event;
	unsigned long start, end;
	bool blockable;
	bool probe_mapped, probe_writable;
	unsigned long probe_pfn;
	long flushes;
};

#define MAXREC 64
struct recorder {
	struct mmu_notifier mn;
	struct mmu_interval_notifier in;
	struct mm_struct *mm;
	unsigned long probe;
	bool refuse_nonblock;
	int nr;
	struct rec log[MAXREC];
};

static struct recorder R;

static void record(enum kind kind, const struct mmu_notifier_range *range,
		   unsigned long start, unsigned long end)
{
	struct rec *r;
	unsigned long pfn = 0;
	u64 e = 0;

	if (R.nr >= MAXREC)
		return;
	r = &R.log[R.nr++];
	r->kind = kind;
	r->event = range ? range->event : 0;
	r->blockable = range ? mmu_notifier_range_blockable(range) : true;
	r->start = start;
	r->end = end;
	r->probe_mapped = R.probe && !follow_pte_pfn(R.mm, R.probe, &pfn, &e);
	r->probe_writable = r->probe_mapped && (e & _PAGE_RW);
	r->probe_pfn = pfn;
	r->flushes = atomic_long_read(&R.mm->tlb_flushes);
}

static int rec_start(struct mmu_notifier *mn,
		     const struct mmu_notifier_range *range)
{
	if (R.refuse_nonblock && !mmu_notifier_range_blockable(range))
		return -EAGAIN;
	record(K_START, range, range->start, range->end);
	return 0;
}

static void rec_end(struct mmu_notifier *mn,
		    const struct mmu_notifier_range *range)
{
	record(K_END, range, range->start, range->end);
}

static void rec_arch(struct mmu_notifier *mn, struct mm_struct *mm,
		     unsigned long start, unsigned long end)
{
	record(K_ARCH, NULL, start, end);
}

static void rec_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	record(K_RELEASE, NULL, 0, 0);
}

static int rec_cfy(struct mmu_notifier *mn, struct mm_struct *mm,
		   unsigned long start, unsigned long end)
{
	record(K_CFY, NULL, start, end);
	return 1;
}

static int rec_cy(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long start, unsigned long end)
{
	record(K_CY, NULL, start, end);
	return 0;
}

static int rec_ty(struct mmu_notifier *mn, struct mm_struct *mm,
		  unsigned long address)
{
	record(K_TY, NULL, address, address + PAGE_SIZE);
	return 1;
}

static const struct mmu_notifier_ops rec_ops = {
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
	.arch_invalidate_secondary_tlbs = rec_arch,
	.release = rec_release,
	.clear_flush_young = rec_cfy,
	.clear_young = rec_cy,
	.test_young = rec_ty,
};

static bool rec_interval(struct mmu_interval_notifier *in,
			 const struct mmu_notifier_range *range,
			 unsigned long cur_seq)
{
	mmu_interval_set_seq(in, cur_seq);
	record(K_INTERVAL, range, range->start, range->end);
	return true;
}

static const struct mmu_interval_notifier_ops rec_iops = {
	.invalidate = rec_interval,
};

/* --- fixture ------------------------------------------------------------------ */

static unsigned long free_before;
static long objs_before;

static int setup(void **state)
{
	thp_set_mode(THP_MADVISE, false);
	free_before = nr_free_pages();
	objs_before = kmalloc_live_objects();
	memset(&R, 0, sizeof(R));
	R.mm = mm_alloc();
	R.mn.ops = &rec_ops;
	assert_int_equal(mmu_notifier_register(&R.mn, R.mm), 0);
	return 0;
}

static int teardown(void **state)
{
	mmu_notifier_unregister(&R.mn, R.mm);
	mm_exit(R.mm);
	mmu_notifier_synchronize();
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
	return 0;
}

static long map_touch(unsigned long len, bool thp)
{
	struct sim_cpu *cpu = cpu_create(R.mm);
	long a = vm_mmap(R.mm, 0, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS);

	assert_false(IS_ERR_VALUE(a));
	if (thp)
		assert_int_equal(vm_madvise(R.mm, a, len, MADV_HUGEPAGE), 0);
	for (unsigned long off = 0; off < len; off += PAGE_SIZE)
		assert_int_equal(cpu_store_u64(cpu, a + off, off + 1), 0);
	cpu_destroy(cpu);
	R.nr = 0; /* only what the operation under test does */
	return a;
}

/* The log's first START and its matching END, checked the common way. */
static void check_bracket(enum mmu_notifier_event event, unsigned long start,
			  unsigned long end, struct rec **s_out,
			  struct rec **e_out)
{
	struct rec *s = NULL, *e = NULL;

	for (int i = 0; i < R.nr; i++) {
		if (!s && R.log[i].kind == K_START && R.log[i].event == event &&
		    R.log[i].start == start && R.log[i].end == end)
			s = &R.log[i];
		else if (s && R.log[i].kind == K_END &&
			 R.log[i].event == event && R.log[i].start == start &&
			 R.log[i].end == end)
			e = &R.log[i];
	}
	if (!s || !e) {
		for (int i = 0; i < R.nr; i++)
			fprintf(stderr,
				"  log %d: kind %d event %d [%#lx, %#lx)\n", i,
				R.log[i].kind, R.log[i].event, R.log[i].start,
				R.log[i].end);
		fail_msg("no start/end pair for event %d [%#lx, %#lx)", event,
			 start, end);
	}
	assert_true(s->blockable && e->blockable);
	/* end comes after a TLB shootdown that followed start. */
	assert_true(e->flushes > s->flushes);
	*s_out = s;
	*e_out = e;
}

/* A secondary-TLB invalidation for @addr happened between @s and @e. */
static void check_arch_between(struct rec *s, struct rec *e, unsigned long addr)
{
	for (struct rec *r = s; r < e; r++)
		if (r->kind == K_ARCH && r->start <= addr && addr < r->end)
			return;
	fail_msg("no arch_invalidate_secondary_tlbs covering %#lx", addr);
}

/* --- the paths --------------------------------------------------------------- */

static void test_munmap(void **state)
{
	long a = map_touch(4 * PAGE_SIZE, false);
	struct rec *s, *e;

	R.probe = a + PAGE_SIZE;
	assert_int_equal(vm_munmap(R.mm, a + PAGE_SIZE, 2 * PAGE_SIZE), 0);
	check_bracket(MMU_NOTIFY_UNMAP, a + PAGE_SIZE, a + 3 * PAGE_SIZE, &s,
		      &e);
	assert_true(s->probe_mapped); /* start came before the zap */
	assert_false(e->probe_mapped); /* end after it */
	check_arch_between(s, e, R.probe);
}

static void test_dontneed(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	struct rec *s, *e;

	R.probe = a;
	assert_int_equal(vm_madvise(R.mm, a, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
	check_bracket(MMU_NOTIFY_CLEAR, a, a + 2 * PAGE_SIZE, &s, &e);
	assert_true(s->probe_mapped);
	assert_false(e->probe_mapped);
	check_arch_between(s, e, a);
}

static void test_mprotect_downgrade(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	struct rec *s, *e;

	R.probe = a;
	assert_int_equal(vm_mprotect(R.mm, a, 2 * PAGE_SIZE, PROT_READ), 0);
	check_bracket(MMU_NOTIFY_PROTECTION_VMA, a, a + 2 * PAGE_SIZE, &s, &e);
	assert_true(s->probe_writable);
	assert_true(e->probe_mapped && !e->probe_writable);
	check_arch_between(s, e, a);
}

static void test_fork_wrprotect_and_cow(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	struct mm_struct *child;
	struct sim_cpu *cpu;
	struct rec *s, *e;
	unsigned long old_pfn;

	R.probe = a;
	child = mm_fork(R.mm);
	assert_false(IS_ERR(child));
	check_bracket(MMU_NOTIFY_PROTECTION_PAGE, a, a + 2 * PAGE_SIZE, &s, &e);
	assert_true(s->probe_writable);
	assert_true(e->probe_mapped && !e->probe_writable);
	old_pfn = e->probe_pfn;

	/* The parent writes: COW replaces the page under a CLEAR bracket. */
	R.nr = 0;
	cpu = cpu_create(R.mm);
	assert_int_equal(cpu_store_u64(cpu, a, 7), 0);
	check_bracket(MMU_NOTIFY_CLEAR, a, a + PAGE_SIZE, &s, &e);
	assert_int_equal(s->probe_pfn, old_pfn);
	assert_true(e->probe_writable && e->probe_pfn != old_pfn);
	cpu_destroy(cpu);
	mm_exit(child);
}

static void test_mremap_move(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	long b;
	struct rec *s, *e;

	R.probe = a;
	b = vm_mremap(R.mm, a, 2 * PAGE_SIZE, 2 * PAGE_SIZE,
		      MREMAP_MAYMOVE | MREMAP_FIXED, a + 16 * PAGE_SIZE);
	assert_int_equal(b, a + 16 * PAGE_SIZE);
	check_bracket(MMU_NOTIFY_UNMAP, a, a + 2 * PAGE_SIZE, &s, &e);
	assert_true(s->probe_mapped);
	assert_false(e->probe_mapped);
}

static void test_huge_split(void **state)
{
	long a = map_touch(PMD_SIZE, true);
	unsigned long pfn;
	u64 entry;
	struct rec *s, *e;

	assert_int_equal(follow_pte_pfn(R.mm, a, &pfn, &entry), 0);
	assert_true(entry & _PAGE_PSE);
	R.probe = a + 8 * PAGE_SIZE;
	/* Unmapping one page splits the leaf under its own CLEAR bracket,
	 * nested inside the UNMAP one. */
	assert_int_equal(vm_munmap(R.mm, a + 4 * PAGE_SIZE, PAGE_SIZE), 0);
	check_bracket(MMU_NOTIFY_CLEAR, a, a + PMD_SIZE, &s, &e);
	assert_true(s->probe_mapped && e->probe_mapped);
	assert_int_equal(e->probe_pfn, pfn + 8); /* same frames after it */
	check_bracket(MMU_NOTIFY_UNMAP, a + 4 * PAGE_SIZE, a + 5 * PAGE_SIZE,
		      &s, &e);
}

static void test_aging(void **state)
{
	long a = map_touch(PAGE_SIZE, false);
	unsigned long pfn, scanned, referenced;
	u64 entry;

	assert_int_equal(follow_pte_pfn(R.mm, a, &pfn, &entry), 0);
	assert_true(entry & _PAGE_ACCESSED);
	assert_int_equal(folio_referenced(pfn_to_page(pfn)), 1);
	assert_int_equal(R.nr, 1);
	assert_int_equal(R.log[0].kind, K_CFY);
	assert_int_equal(R.log[0].start, a);
	assert_int_equal(R.log[0].end, a + PAGE_SIZE);
	assert_int_equal(follow_pte_pfn(R.mm, a, &pfn, &entry), 0);
	assert_false(entry & _PAGE_ACCESSED);

	R.nr = 0;
	page_idle_clear_young(pfn_to_page(pfn));
	assert_int_equal(R.log[0].kind, K_CY);
	assert_true(page_idle_test_young(pfn_to_page(pfn)));
	assert_int_equal(R.log[1].kind, K_TY);

	R.nr = 0;
	assert_int_equal(mm_age_pass(R.mm, &scanned, &referenced), 0);
	assert_int_equal(scanned, 1);
	assert_int_equal(referenced, 1); /* the secondary MMU says young */
	assert_int_equal(R.log[0].kind, K_CFY);
}

static void test_oom_reap_nonblock(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	unsigned long pfn;
	u64 entry;

	R.probe = a;
	R.refuse_nonblock = true;
	assert_int_equal(mm_oom_reap(R.mm), -EAGAIN);
	assert_int_equal(follow_pte_pfn(R.mm, a, &pfn, &entry), 0);
	for (int i = 0; i < R.nr; i++)
		assert_true(R.log[i].kind != K_END); /* refused: no end */
	R.refuse_nonblock = false;
	R.nr = 0;
	assert_int_equal(mm_oom_reap(R.mm), 0);
	assert_true(R.log[0].kind == K_START && !R.log[0].blockable);
	assert_int_equal(follow_pte_pfn(R.mm, a, &pfn, &entry), -ENOENT);
	assert_int_equal(get_mm_counter(R.mm, MM_ANONPAGES), 0);
}

/* Exit: whole-mm subscribers get ->release; interval subscribers then see
 * the RELEASE zap. */
static void test_exit_release(void **state)
{
	long a = map_touch(2 * PAGE_SIZE, false);
	struct mm_struct *mm = R.mm;
	int release_at = -1, interval_at = -1;

	assert_int_equal(mmu_interval_notifier_insert(&R.in, mm, a,
						      2 * PAGE_SIZE, &rec_iops),
			 0);
	R.nr = 0;
	R.probe = 0;
	mm_exit(mm);
	for (int i = 0; i < R.nr; i++) {
		if (R.log[i].kind == K_RELEASE && release_at < 0)
			release_at = i;
		if (R.log[i].kind == K_INTERVAL && interval_at < 0)
			interval_at = i;
		/* Nothing for the list subscription after its release. */
		if (release_at >= 0 && i > release_at)
			assert_int_equal(R.log[i].kind, K_INTERVAL);
	}
	assert_true(release_at == 0 && interval_at > release_at);
	assert_int_equal(R.log[interval_at].event, MMU_NOTIFY_RELEASE);
	mmu_interval_notifier_remove(&R.in);
	/* The teardown's unregister must not release again. */
	R.nr = 0;
	mmu_notifier_unregister(&R.mn, mm);
	assert_int_equal(R.nr, 0);
	/* Re-arm the fixture's teardown with a fresh mm. */
	R.mm = mm_alloc();
	memset(&R.mn, 0, sizeof(R.mn));
	R.mn.ops = &rec_ops;
	assert_int_equal(mmu_notifier_register(&R.mn, R.mm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_munmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dontneed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mprotect_downgrade, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_wrprotect_and_cow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mremap_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_huge_split, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_reap_nonblock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit_release, setup,
						teardown),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
