// SPDX-License-Identifier: MIT
/*
 * Torn-read mode: entries written as two 32-bit halves.  Shows that the
 * mode is real (Xp_get_torn() sees half an update, deterministically, by
 * stopping a writer between its halves with a sched_point hook), that
 * Xp_get() never does (it waits for the stopped writer; and a real-thread
 * flip stress), and that the host MMU, the CPU's hardware walk and the page
 * walker work in this mode under a fault/zap/munmap workload.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/futex.h>
#include <mmirror/mm.h>
#include <mmirror/pagewalk.h>

/* Both halves differ between the two values. */
#define VAL_A 0x1111111122222222ULL
#define VAL_B 0x3333333344444444ULL
#define MIX_BA 0x1111111144444444ULL /* new low, old high */

static void torn_on(void)
{
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(pgtable_set_torn_mode(true), 0);
}

static void torn_off(void)
{
	assert_int_equal(pgtable_set_torn_mode(false), 0);
}

static void test_switch(void **state)
{
	struct mm_struct *mm;

	(void)state;
	torn_on();
	assert_true(pgtable_torn_mode);
	mm = mm_alloc();
	assert_int_equal(pgtable_set_torn_mode(false), -EBUSY);
	assert_true(pgtable_torn_mode);
	mmput(mm);
	torn_off();
	assert_false(pgtable_torn_mode);
	mm = mm_alloc();
	assert_int_equal(pgtable_set_torn_mode(true), -EBUSY);
	mmput(mm);

	/* Normal mode: one 64-bit access, the torn read is the same. */
	pte_t e = __pte(VAL_A);
	set_pte(&e, __pte(VAL_B));
	assert_int_equal(pte_val(ptep_get(&e)), VAL_B);
	assert_int_equal(pte_val(ptep_get_torn(&e)), VAL_B);
}

/* --- a writer stopped between its halves --------------------------------- */

static pte_t entry __attribute__((aligned(8)));
static u64 torn_seen; /* what Xp_get_torn saw mid-write */
static u32 progress; /* futex word: reader events */
static u32 reader_reads, reader_done;
static __thread bool is_reader;

static void bump(u32 *what)
{
	__atomic_add_fetch(what, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&progress, 1, __ATOMIC_SEQ_CST);
	base_futex_wake(&progress, 1);
}

static void hook(enum sched_point_kind kind, const void *obj)
{
	if (kind == SP_PTE_READ && obj == &entry && is_reader) {
		/* Xp_get's first sched point, then one per retry. */
		bump(&reader_reads);
		return;
	}
	if (kind != SP_PTE_WRITE || obj != (u32 *)&entry + 1)
		return;
	/* The writer, between its two halves. */
	torn_seen = pte_val(ptep_get_torn(&entry));
	__atomic_store_n(&progress, 1000, __ATOMIC_SEQ_CST); /* go, reader */
	base_futex_wake(&progress, 1);
	for (;;) {
		u32 p = __atomic_load_n(&progress, __ATOMIC_SEQ_CST);

		/* Let the reader try at least three times, or finish. */
		if (__atomic_load_n(&reader_reads, __ATOMIC_SEQ_CST) >= 4 ||
		    __atomic_load_n(&reader_done, __ATOMIC_SEQ_CST))
			break;
		base_futex_wait(&progress, p);
	}
}

static void *stopped_reader(void *arg)
{
	u64 *out = arg;
	u32 p;

	while ((p = __atomic_load_n(&progress, __ATOMIC_SEQ_CST)) < 1000)
		base_futex_wait(&progress, p);
	is_reader = true;
	*out = pte_val(ptep_get(&entry));
	bump(&reader_done);
	return NULL;
}

static void test_stopped_writer(void **state)
{
	u64 got = 0;
	pthread_t t;

	(void)state;
	torn_on();
	set_pte(&entry, __pte(VAL_A));
	assert_int_equal(pte_val(ptep_get(&entry)), VAL_A);
	assert_int_equal(pthread_create(&t, NULL, stopped_reader, &got), 0);

	sched_point_set_hook(hook);
	set_pte(&entry, __pte(VAL_B));
	sched_point_set_hook(NULL);
	pthread_join(t, NULL);

	/* The racy read saw half an update: the mode is real. */
	assert_int_equal(torn_seen, MIX_BA);
	/* The tear-free read waited (retried) and got a real value. */
	assert_true(reader_reads >= 2);
	assert_int_equal(got, VAL_B);
	assert_int_equal(pte_val(ptep_get(&entry)), VAL_B);
	torn_off();
}

/* --- real threads flipping one entry ------------------------------------ */

struct flip {
	pte_t e;
	int stop;
	long mixes; /* Xp_get_torn mixes seen: informational */
};

static void *flip_reader(void *arg)
{
	struct flip *f = arg;
	long n = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		u64 v = pte_val(ptep_get(&f->e));

		CHECK(v == VAL_A || v == VAL_B);
		v = pte_val(ptep_get_torn(&f->e));
		if (v != VAL_A && v != VAL_B)
			n++;
	}
	f->mixes = n;
	return NULL;
}

static void test_flip_stress(void **state)
{
	struct flip f = { .e = __pte(VAL_A) };
	pthread_t t;

	(void)state;
	torn_on();
	assert_int_equal(pthread_create(&t, NULL, flip_reader, &f), 0);
	for (long i = 0; i < TEST_SCALE(400000); i++) {
		set_pte(&f.e, __pte(i & 1 ? VAL_A : VAL_B));
		/* RMWs are bracketed too: a 64-bit exchange between values
		 * whose halves both differ. */
		pte_t old = ptep_xchg(&f.e, __pte(i & 1 ? VAL_B : VAL_A));
		assert_true(pte_val(old) == VAL_A || pte_val(old) == VAL_B);
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("torn reads seen by Xp_get_torn: %ld\n", f.mixes);
	torn_off();
}

/* --- the MMU, the CPU walk and the page walker in torn mode ------------- */

#define WL_LEN (4 * PMD_SIZE)

struct wl {
	struct mm_struct *mm;
	unsigned long a;
	int stop;
	long walks;
};

static int wl_pte(pte_t val, pte_t *ptep, unsigned long addr,
		  unsigned long next, struct mm_walk *walk)
{
	(void)ptep;
	(void)addr;
	(void)next;
	(void)walk;
	CHECK(pte_none(val) || (pte_present(val) && pfn_valid(pte_pfn(val))));
	return 0;
}

static int wl_pmd(pmd_t val, pmd_t *pmdp, unsigned long addr,
		  unsigned long next, struct mm_walk *walk)
{
	(void)pmdp;
	(void)addr;
	(void)next;
	(void)walk;
	CHECK(pmd_present(val) && pfn_valid(pmd_pfn(val)));
	return 0;
}

static void *wl_walker(void *arg)
{
	struct wl *w = arg;
	const struct mm_walk_ops ops = { .pmd_entry = wl_pmd,
					 .pte_entry = wl_pte };

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		mmap_read_lock(w->mm);
		CHECK(walk_page_range(w->mm, w->a, w->a + WL_LEN, &ops, w) ==
		      0);
		mmap_read_unlock(w->mm);
		__atomic_add_fetch(&w->walks, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_workload(void **state)
{
	struct wl w;
	struct sim_cpu *cpu;
	uint64_t seed = 7;
	pthread_t t;
	long a;

	(void)state;
	torn_on();
	w = (struct wl){ .mm = mm_alloc() };
	cpu = cpu_create(w.mm);
	thp_set_mode(THP_MADVISE, false);
	a = vm_mmap(w.mm, 0, WL_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(a));
	assert_int_equal(vm_madvise(w.mm, a, WL_LEN, MADV_HUGEPAGE), 0);
	w.a = a;
	assert_int_equal(pthread_create(&t, NULL, wl_walker, &w), 0);

	/* At least TEST_SCALE(300) rounds, and until the walker has run. */
	for (int i = 0; i < TEST_SCALE(300) ||
			__atomic_load_n(&w.walks, __ATOMIC_ACQUIRE) < 2;
	     i++) {
		unsigned long off = (test_rand(&seed) % WL_LEN) & ~7UL;
		u64 v = 0;

		assert_int_equal(cpu_store_u64(cpu, a + off, i + 1), 0);
		assert_int_equal(cpu_load_u64(cpu, a + off, &v), 0);
		assert_int_equal(v, i + 1);
		switch (i % 4) {
		case 0:
			assert_int_equal(vm_madvise(w.mm, a + (off & PAGE_MASK),
						    PAGE_SIZE, MADV_DONTNEED),
					 0);
			assert_int_equal(cpu_load_u64(cpu, a + off, &v), 0);
			assert_int_equal(v, 0);
			break;
		case 1: /* unmap a page and map it back (write lock) */
			assert_int_equal(vm_munmap(w.mm, a + (off & PAGE_MASK),
						   PAGE_SIZE),
					 0);
			assert_int_equal(vm_mmap(w.mm, a + (off & PAGE_MASK),
						 PAGE_SIZE,
						 PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS |
							 MAP_FIXED),
					 (long)(a + (off & PAGE_MASK)));
			break;
		default:
			break;
		}
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(w.walks > 0);
	cpu_destroy(cpu);
	mmput(w.mm);
	torn_off();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_stopped_writer),
		cmocka_unit_test(test_flip_stress),
		cmocka_unit_test(test_workload),
	};

	if (mem_init(1UL << 30)) {
		fprintf(stderr, "cannot set up a 1 GiB arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
