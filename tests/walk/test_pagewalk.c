// SPDX-License-Identifier: MIT
/*
 * The page walker: holes at each depth, huge leaves (PMD and PUD; split on
 * demand), pte_entry with and without pmd_entry, test_walk/pre_vma/
 * post_vma, novma walks, the actions (CONTINUE, AGAIN under a real
 * concurrent change), bad input, and a real-thread stress against
 * MADV_DONTNEED and huge-page splits.  Runs with a 3 GiB arena so a 1 GiB
 * huge page fits.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include <mmirror/pagewalk.h>

/* --- a recorder --------------------------------------------------------- */

#define MAX_EV 64
struct ev {
	char kind; /* 'h' hole, 'g','4','u','m' entries, 'v' pre_vma, 'V' post */
	int depth;
	unsigned long addr, next;
	u64 val;
};

struct rec {
	struct ev ev[MAX_EV];
	int n;
	long ptes, ptes_present, pmd_leaves, pud_leaves;
	unsigned long first_pfn, last_pfn;
	int pte_again_at; /* pte_entry index to answer ACTION_AGAIN once */
	int stop_at_pte; /* non-zero: return 7 at that pte */
	bool pmd_continue;
	int skip_vma; /* test_walk: skip the VMA with this vm_start... */
	unsigned long skip_start;
	int test_walk_err;
	int pre_vma_err;
	int post_vma_calls;
	int hole_calls;
};

static void add(struct rec *r, char kind, int depth, unsigned long addr,
		unsigned long next, u64 val)
{
	assert_true(r->n < MAX_EV);
	r->ev[r->n++] = (struct ev){ kind, depth, addr, next, val };
}

static int rec_hole(unsigned long addr, unsigned long next, int depth,
		    struct mm_walk *walk)
{
	struct rec *r = walk->private;
	struct ev *last = r->n ? &r->ev[r->n - 1] : NULL;

	/* The walker reports one hole per none entry; merge runs of equal
	 * depth so that the expectations read as ranges. */
	r->hole_calls++;
	if (last && last->kind == 'h' && last->depth == depth &&
	    last->next == addr)
		last->next = next;
	else
		add(r, 'h', depth, addr, next, 0);
	return 0;
}

static int rec_pud(pud_t val, pud_t *pudp, unsigned long addr,
		   unsigned long next, struct mm_walk *walk)
{
	struct rec *r = walk->private;

	(void)pudp;
	if (pud_leaf(val)) {
		r->pud_leaves++;
		add(r, 'u', 0, addr, next, pud_val(val));
	}
	return 0;
}

static int rec_pmd(pmd_t val, pmd_t *pmdp, unsigned long addr,
		   unsigned long next, struct mm_walk *walk)
{
	struct rec *r = walk->private;

	(void)pmdp;
	if (pmd_leaf(val)) {
		r->pmd_leaves++;
		if (r->pmd_leaves <= 4)
			add(r, 'm', 0, addr, next, pmd_val(val));
		if (r->pmd_continue)
			walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int rec_pte(pte_t val, pte_t *ptep, unsigned long addr,
		   unsigned long next, struct mm_walk *walk)
{
	struct rec *r = walk->private;

	(void)ptep;
	assert_int_equal(next, addr + PAGE_SIZE);
	if (r->pte_again_at && r->ptes == r->pte_again_at - 1) {
		r->pte_again_at = 0;
		walk->action = ACTION_AGAIN; /* not counted: read again */
		return 0;
	}
	r->ptes++;
	if (r->stop_at_pte && r->ptes == r->stop_at_pte)
		return 7;
	if (pte_present(val)) {
		if (!r->ptes_present++)
			r->first_pfn = pte_pfn(val);
		r->last_pfn = pte_pfn(val);
	}
	return 0;
}

static int rec_test_walk(unsigned long addr, unsigned long next,
			 struct mm_walk *walk)
{
	struct rec *r = walk->private;

	(void)next;
	if (r->test_walk_err)
		return r->test_walk_err;
	return walk->vma->vm_start == r->skip_start && addr >= r->skip_start;
}

static int rec_pre_vma(unsigned long start, unsigned long end,
		       struct mm_walk *walk)
{
	struct rec *r = walk->private;

	add(r, 'v', 0, start, end, 0);
	return r->pre_vma_err;
}

static void rec_post_vma(struct mm_walk *walk)
{
	struct rec *r = walk->private;

	r->post_vma_calls++;
	add(r, 'V', 0, walk->vma->vm_start, walk->vma->vm_end, 0);
}

static void expect(struct rec *r, int i, char kind, int depth,
		   unsigned long addr, unsigned long next)
{
	assert_true(i < r->n);
	assert_int_equal(r->ev[i].kind, kind);
	assert_int_equal(r->ev[i].depth, depth);
	assert_int_equal(r->ev[i].addr, addr);
	assert_int_equal(r->ev[i].next, next);
}

static void map_fixed(struct mm_struct *mm, unsigned long a, unsigned long len,
		      unsigned long prot)
{
	long r = vm_mmap(mm, a, len, prot,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);

	assert_int_equal(r, (long)a);
}

static void populate(struct mm_struct *mm, unsigned long a)
{
	assert_int_equal(vm_madvise(mm, a, PAGE_SIZE, MADV_WILLNEED), 0);
}

static int walk_locked(struct mm_struct *mm, unsigned long s, unsigned long e,
		       const struct mm_walk_ops *ops, struct rec *r)
{
	int ret;

	mmap_read_lock(mm);
	ret = walk_page_range(mm, s, e, ops, r);
	mmap_read_unlock(mm);
	return ret;
}

/* --- holes at every depth ----------------------------------------------- */

#define P (1UL << 39) /* one PGD entry (4 levels) */
#define G PUD_SIZE
#define M2 PMD_SIZE

static void test_holes(void **state)
{
	struct mm_struct *mm = mm_alloc();
	const struct mm_walk_ops ops = { .pte_hole = rec_hole,
					 .pte_entry = rec_pte };
	struct rec r = { 0 };

	(void)state;
	map_fixed(mm, P - 2 * M2, 2 * M2 + 2 * G, PROT_READ);
	map_fixed(mm, 2 * P, 2 * M2, PROT_READ);
	populate(mm, P - 2 * M2); /* PGD 0 .. one PTE table */
	populate(mm, P + G + 2 * PAGE_SIZE); /* PGD 1, PUD 1, one PTE */

	assert_int_equal(walk_locked(mm, P - 4 * M2, 2 * P + 2 * M2, &ops, &r),
			 0);
	assert_int_equal(r.n, 6);
	expect(&r, 0, 'h', -1, P - 4 * M2, P - 2 * M2);
	expect(&r, 1, 'h', 3, P - M2, P);
	expect(&r, 2, 'h', 2, P, P + G);
	expect(&r, 3, 'h', 3, P + G + M2, P + 2 * G);
	expect(&r, 4, 'h', -1, P + 2 * G, 2 * P);
	expect(&r, 5, 'h', 0, 2 * P, 2 * P + 2 * M2);
	/* One call per none entry: 1 + 1 + 1 + 511 + 1 (the gap) + 1. */
	assert_int_equal(r.hole_calls, 516);
	/* Two PTE tables, every PTE reported (none ones too), 2 present. */
	assert_int_equal(r.ptes, 2 * PTRS_PER_PTE);
	assert_int_equal(r.ptes_present, 2);

	/* A partial range: clipped holes and PTEs. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk_locked(mm, P - 2 * M2 + 3 * PAGE_SIZE, P - M2 / 2,
				     &ops, &r),
			 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, 'h', 3, P - M2, P - M2 / 2);
	assert_int_equal(r.ptes, PTRS_PER_PTE - 3);
	assert_int_equal(r.ptes_present, 0);
	mmput(mm);
}

/* Five levels: a missing P4D entry is a depth-1 hole. */
static int count_p4d(p4d_t val, p4d_t *p4dp, unsigned long addr,
		     unsigned long next, struct mm_walk *walk)
{
	struct rec *r = walk->private;

	(void)p4dp;
	assert_true(p4d_present(val));
	add(r, '4', 1, addr, next, p4d_val(val));
	return 0;
}

static void test_holes_5level(void **state)
{
	const unsigned long top = 1UL << 48, a = top + (1UL << 39);
	const struct mm_walk_ops ops = { .pte_hole = rec_hole,
					 .p4d_entry = count_p4d,
					 .pte_entry = rec_pte };
	struct page *pg = alloc_page(GFP_KERNEL);
	struct mm_struct *mm;
	struct rec r = { 0 };

	(void)state;
	assert_non_null(pg);
	assert_int_equal(pgtable_set_levels(5), 0);
	mm = mm_alloc();
	assert_int_equal(mm_map_page(mm, a, pg, PAGE_READONLY), 0);
	put_page(pg);
	mmap_read_lock(mm);
	assert_int_equal(walk_page_range_novma(mm, 0, a + M2, &ops, NULL, &r),
			 0);
	mmap_read_unlock(mm);
	assert_int_equal(r.n, 3);
	expect(&r, 0, 'h', 0, 0, top);
	expect(&r, 1, 'h', 1, top, a);
	expect(&r, 2, '4', 1, a, a + M2);
	assert_int_equal(r.ptes, PTRS_PER_PTE);
	assert_int_equal(r.ptes_present, 1);
	mmput(mm);
	assert_int_equal(pgtable_set_levels(4), 0);
}

/* --- huge leaves --------------------------------------------------------- */

static unsigned long map_thp(struct mm_struct *mm, struct sim_cpu *cpu,
			     unsigned long len)
{
	long a = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS);

	assert_false(IS_ERR_VALUE(a));
	assert_int_equal(vm_madvise(mm, a, len, MADV_HUGEPAGE), 0);
	assert_int_equal(cpu_store_u64(cpu, a + 8, 1), 0);
	return a;
}

static bool is_huge(struct mm_struct *mm, unsigned long a)
{
	unsigned long pfn;
	u64 e = 0;

	assert_int_equal(follow_pte_pfn(mm, a, &pfn, &e), 0);
	return e & _PAGE_PSE;
}

static void test_huge_pmd(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct mm_walk_ops ops = { .pte_hole = rec_hole, .pmd_entry = rec_pmd };
	struct rec r = { 0 };
	unsigned long a;

	(void)state;
	thp_set_mode(THP_MADVISE, false);
	a = map_thp(mm, cpu, 2 * M2);
	assert_true(is_huge(mm, a));

	/* pmd_entry only: the leaf, then a depth-3 hole; nothing split. */
	assert_int_equal(walk_locked(mm, a, a + 2 * M2, &ops, &r), 0);
	assert_int_equal(r.n, 2);
	expect(&r, 0, 'm', 0, a, a + M2);
	expect(&r, 1, 'h', 3, a + M2, a + 2 * M2);
	assert_true(is_huge(mm, a));

	/* pmd_entry + pte_entry, ACTION_CONTINUE on the leaf: not split. */
	memset(&r, 0, sizeof(r));
	r.pmd_continue = true;
	ops.pte_entry = rec_pte;
	assert_int_equal(walk_locked(mm, a, a + M2, &ops, &r), 0);
	assert_int_equal(r.pmd_leaves, 1);
	assert_int_equal(r.ptes, 0);
	assert_true(is_huge(mm, a));

	/* novma never splits, even with pte_entry. */
	memset(&r, 0, sizeof(r));
	mmap_read_lock(mm);
	assert_int_equal(walk_page_range_novma(mm, a, a + M2, &ops, NULL, &r),
			 0);
	mmap_read_unlock(mm);
	assert_int_equal(r.pmd_leaves, 1);
	assert_int_equal(r.ptes, 0);
	assert_true(is_huge(mm, a));

	/* pte_entry without pmd_entry: the walker splits, then walks the
	 * 512 PTEs mapping the same frames. */
	memset(&r, 0, sizeof(r));
	ops.pmd_entry = NULL;
	assert_int_equal(walk_locked(mm, a, a + M2, &ops, &r), 0);
	assert_int_equal(r.ptes, PTRS_PER_PTE);
	assert_int_equal(r.ptes_present, PTRS_PER_PTE);
	assert_int_equal(r.last_pfn - r.first_pfn, PTRS_PER_PTE - 1);
	assert_true(IS_ALIGNED(r.first_pfn, PTRS_PER_PTE));
	assert_false(is_huge(mm, a));
	u64 v = 0;
	assert_int_equal(cpu_load_u64(cpu, a + 8, &v), 0);
	assert_int_equal(v, 1);

	cpu_destroy(cpu);
	mmput(mm);
}

static void test_huge_pud(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct mm_walk_ops ops = { .pud_entry = rec_pud };
	struct rec r = { 0 };
	long a;

	(void)state;
	thp_set_mode(THP_ALWAYS, true);
	a = vm_mmap(mm, 0, 2 * G, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(a));
	a = ALIGN_UP(a, G);
	assert_int_equal(cpu_store_u64(cpu, a, 5), 0);
	assert_true(is_huge(mm, a));

	assert_int_equal(walk_locked(mm, a, a + G, &ops, &r), 0);
	assert_int_equal(r.pud_leaves, 1);
	expect(&r, 0, 'u', 0, a, a + G);

	/* A pmd_entry below: the PUD leaf is split into 512 PMD leaves. */
	memset(&r, 0, sizeof(r));
	ops.pmd_entry = rec_pmd;
	assert_int_equal(walk_locked(mm, a, a + G, &ops, &r), 0);
	assert_int_equal(r.pud_leaves, 1);
	assert_int_equal(r.pmd_leaves, PTRS_PER_PMD);
	expect(&r, 1, 'm', 0, a, a + M2);
	expect(&r, 2, 'm', 0, a + M2, a + 2 * M2);
	assert_true(is_huge(mm, a)); /* a PMD leaf now */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk_locked(mm, a, a + G, &ops, &r), 0);
	assert_int_equal(r.pud_leaves, 0);
	assert_int_equal(r.pmd_leaves, PTRS_PER_PMD);
	u64 v = 0;
	assert_int_equal(cpu_load_u64(cpu, a, &v), 0);
	assert_int_equal(v, 5);

	thp_set_mode(THP_MADVISE, false);
	cpu_destroy(cpu);
	mmput(mm);
}

/* --- per-VMA callbacks --------------------------------------------------- */

static void test_vma_callbacks(void **state)
{
	struct mm_struct *mm = mm_alloc();
	const struct mm_walk_ops ops = { .pte_hole = rec_hole,
					 .test_walk = rec_test_walk,
					 .pre_vma = rec_pre_vma,
					 .post_vma = rec_post_vma,
					 .pte_entry = rec_pte };
	const unsigned long a = 0x10000000, b = a + 4 * PAGE_SIZE;
	struct rec r = { 0 };

	(void)state;
	/* Two VMAs side by side (different protections: not merged). */
	map_fixed(mm, a, 4 * PAGE_SIZE, PROT_READ);
	map_fixed(mm, b, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	populate(mm, a);
	populate(mm, b);

	r.skip_start = b;
	assert_int_equal(
		walk_locked(mm, a + PAGE_SIZE, b + 8 * PAGE_SIZE, &ops, &r), 0);
	assert_int_equal(r.n, 3);
	expect(&r, 0, 'v', 0, a + PAGE_SIZE, b);
	expect(&r, 1, 'V', 0, a, b);
	/* The skipped VMA, then the gap after it: two calls, merged. */
	expect(&r, 2, 'h', -1, b, b + 8 * PAGE_SIZE);
	assert_int_equal(r.hole_calls, 2);
	assert_int_equal(r.ptes, 3); /* only the first VMA's part */

	/* Not skipped: both VMAs walked, each with pre/post. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk_locked(mm, a, b + 4 * PAGE_SIZE, &ops, &r), 0);
	assert_int_equal(r.n, 4);
	expect(&r, 2, 'v', 0, b, b + 4 * PAGE_SIZE);
	assert_int_equal(r.ptes, 8);
	assert_int_equal(r.ptes_present, 2);

	/* test_walk < 0 stops with that error; so does pre_vma (no post). */
	memset(&r, 0, sizeof(r));
	r.test_walk_err = -EIO;
	assert_int_equal(walk_locked(mm, a, b + 4 * PAGE_SIZE, &ops, &r), -EIO);
	assert_int_equal(r.n, 0);
	memset(&r, 0, sizeof(r));
	r.pre_vma_err = -ENOSPC;
	assert_int_equal(walk_locked(mm, a, b + 4 * PAGE_SIZE, &ops, &r),
			 -ENOSPC);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.post_vma_calls, 0);

	/* A callback's non-zero result stops the walk and is returned. */
	memset(&r, 0, sizeof(r));
	r.stop_at_pte = 2;
	assert_int_equal(walk_locked(mm, a, b + 4 * PAGE_SIZE, &ops, &r), 7);
	assert_int_equal(r.ptes, 2);
	assert_int_equal(r.post_vma_calls, 1); /* post_vma still runs */

	/* ACTION_AGAIN at PTE level: the same PTE is read again. */
	memset(&r, 0, sizeof(r));
	r.pte_again_at = 2;
	assert_int_equal(walk_locked(mm, a, b, &ops, &r), 0);
	assert_int_equal(r.ptes, 4);

	/* walk_page_vma: the whole VMA. */
	memset(&r, 0, sizeof(r));
	mmap_read_lock(mm);
	assert_int_equal(walk_page_vma(vma_lookup(mm, b), &ops, &r), 0);
	mmap_read_unlock(mm);
	assert_int_equal(r.n, 2);
	expect(&r, 0, 'v', 0, b, b + 4 * PAGE_SIZE);
	assert_int_equal(r.ptes, 4);
	mmput(mm);
}

/* --- novma --------------------------------------------------------------- */

static void test_novma(void **state)
{
	struct mm_struct *mm = mm_alloc();
	const struct mm_walk_ops ops = { .pte_hole = rec_hole,
					 .pte_entry = rec_pte };
	const unsigned long a = 0x40000000;
	struct page *pg = alloc_page(GFP_KERNEL);
	struct rec r = { 0 };

	(void)state;
	assert_non_null(pg);
	assert_int_equal(mm_map_page(mm, a + PAGE_SIZE, pg, PAGE_READONLY), 0);
	put_page(pg);

	/* No VMA: walk_page_range sees one hole. */
	assert_int_equal(walk_locked(mm, a, a + M2, &ops, &r), 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, 'h', -1, a, a + M2);
	assert_int_equal(r.ptes, 0);

	/* novma walks the tables. */
	memset(&r, 0, sizeof(r));
	mmap_read_lock(mm);
	assert_int_equal(
		walk_page_range_novma(mm, a - M2, a + M2, &ops, NULL, &r), 0);
	mmap_read_unlock(mm);
	assert_int_equal(r.n, 1);
	expect(&r, 0, 'h', 2, a - M2, a); /* the PUD before a */
	assert_int_equal(r.ptes, PTRS_PER_PTE);
	assert_int_equal(r.ptes_present, 1);
	assert_int_equal(r.first_pfn, page_to_pfn(pg));
	mmput(mm);
}

/* --- ACTION_AGAIN under a real change ------------------------------------ */

struct again_ctx {
	struct rec r;
	int pmd_calls;
	bool saw_leaf_then_table;
	pmd_t first;
};

/*
 * The first time: the leaf is split behind the walker's back (a one-page
 * MADV_DONTNEED inside it).  Then, as a real callback does, take the lock,
 * see that the entry is no longer the snapshot, and ask for ACTION_AGAIN.
 */
static int again_pmd(pmd_t val, pmd_t *pmdp, unsigned long addr,
		     unsigned long next, struct mm_walk *walk)
{
	struct again_ctx *c = walk->private;
	spinlock_t *ptl;

	(void)next;
	if (++c->pmd_calls == 1) {
		c->first = val;
		assert_true(pmd_leaf(val));
		assert_int_equal(vm_madvise(walk->mm, addr + 5 * PAGE_SIZE,
					    PAGE_SIZE, MADV_DONTNEED),
				 0);
	} else if (pmd_leaf(c->first) && !pmd_leaf(val) && pmd_present(val)) {
		c->saw_leaf_then_table = true;
	}
	ptl = pmd_lock(walk->mm, pmdp);
	if (!pmd_same(pmdp_get(pmdp), val))
		walk->action = ACTION_AGAIN;
	spin_unlock(ptl);
	return 0;
}

static int again_pte(pte_t val, pte_t *ptep, unsigned long addr,
		     unsigned long next, struct mm_walk *walk)
{
	struct again_ctx *c = walk->private;

	(void)ptep;
	(void)addr;
	(void)next;
	c->r.ptes++;
	c->r.ptes_present += pte_present(val);
	return 0;
}

static void test_action_again(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	const struct mm_walk_ops ops = { .pmd_entry = again_pmd,
					 .pte_entry = again_pte };
	struct again_ctx c = { 0 };
	unsigned long a;

	(void)state;
	thp_set_mode(THP_MADVISE, false);
	a = map_thp(mm, cpu, M2);
	assert_true(is_huge(mm, a));
	mmap_read_lock(mm);
	assert_int_equal(walk_page_range(mm, a, a + M2, &ops, &c), 0);
	mmap_read_unlock(mm);
	/* Called twice: the stale leaf, then the new table (not split by the
	 * walker: it was already a table), whose PTEs show the hole. */
	assert_int_equal(c.pmd_calls, 2);
	assert_true(c.saw_leaf_then_table);
	assert_int_equal(c.r.ptes, PTRS_PER_PTE);
	assert_int_equal(c.r.ptes_present, PTRS_PER_PTE - 1);
	cpu_destroy(cpu);
	mmput(mm);
}

/* --- bad input ------------------------------------------------------------ */

static void test_bad_input(void **state)
{
	struct mm_struct *mm = mm_alloc();
	const struct mm_walk_ops ops = { .pte_entry = rec_pte };
	struct rec r = { 0 };

	(void)state;
	mmap_read_lock(mm);
	assert_int_equal(walk_page_range(NULL, 0, PAGE_SIZE, &ops, &r),
			 -EINVAL);
	assert_int_equal(walk_page_range(mm, 0, PAGE_SIZE, NULL, &r), -EINVAL);
	assert_int_equal(walk_page_range(mm, PAGE_SIZE, PAGE_SIZE, &ops, &r),
			 -EINVAL);
	assert_int_equal(
		walk_page_range(mm, 2 * PAGE_SIZE, PAGE_SIZE, &ops, &r),
		-EINVAL);
	assert_int_equal(walk_page_range(mm, 1, PAGE_SIZE, &ops, &r), -EINVAL);
	assert_int_equal(walk_page_range(mm, 0, PAGE_SIZE + 1, &ops, &r),
			 -EINVAL);
	assert_int_equal(
		walk_page_range(mm, 0, TASK_SIZE + PAGE_SIZE, &ops, &r),
		-EINVAL);
	assert_int_equal(walk_page_range(mm, 0, -PAGE_SIZE, &ops, &r), -EINVAL);
	assert_int_equal(
		walk_page_range_novma(mm, 0, -PAGE_SIZE, &ops, NULL, &r),
		-EINVAL);
	assert_int_equal(
		walk_page_range_novma(NULL, 0, PAGE_SIZE, &ops, NULL, &r),
		-EINVAL);
	assert_int_equal(walk_page_vma(NULL, &ops, &r), -EINVAL);
	/* The whole address space, empty: fine. */
	assert_int_equal(walk_page_range(mm, 0, TASK_SIZE, &ops, &r), 0);
	mmap_read_unlock(mm);
	assert_int_equal(r.ptes, 0);
	mmput(mm);
}

/* --- stress: walkers against DONTNEED, splits and refaults --------------- */

#define STRESS_LEN (4 * PMD_SIZE)

struct stress {
	struct mm_struct *mm;
	unsigned long a;
	int stop;
	long walks, agains;
};

static int stress_pmd(pmd_t val, pmd_t *pmdp, unsigned long addr,
		      unsigned long next, struct mm_walk *walk)
{
	struct stress *s = walk->private;
	spinlock_t *ptl;

	(void)addr;
	(void)next;
	CHECK(!pmd_present(val) || pmd_leaf(val) || pfn_valid(pmd_pfn(val)));
	if (pmd_leaf(val)) {
		CHECK(IS_ALIGNED(pmd_pfn(val), PTRS_PER_PTE));
		/* Every other leaf: check under the lock, as hmm does. */
		if (__atomic_load_n(&s->walks, __ATOMIC_RELAXED) & 1) {
			ptl = pmd_lock(walk->mm, pmdp);
			if (!pmd_same(pmdp_get(pmdp), val)) {
				walk->action = ACTION_AGAIN;
				s->agains++;
			} else {
				walk->action = ACTION_CONTINUE;
			}
			spin_unlock(ptl);
		}
	}
	return 0;
}

static int stress_pte(pte_t val, pte_t *ptep, unsigned long addr,
		      unsigned long next, struct mm_walk *walk)
{
	(void)ptep;
	(void)addr;
	(void)next;
	(void)walk;
	/* A table walked through a stale or freed snapshot would show
	 * garbage (or ASan would report it). */
	CHECK(pte_none(val) || (pte_present(val) && pfn_valid(pte_pfn(val))));
	return 0;
}

static void *stress_walker(void *arg)
{
	struct stress *s = arg;
	const struct mm_walk_ops ops = { .pmd_entry = stress_pmd,
					 .pte_entry = stress_pte };

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		mmap_read_lock(s->mm);
		CHECK(walk_page_range(s->mm, s->a, s->a + STRESS_LEN, &ops,
				      s) == 0);
		mmap_read_unlock(s->mm);
		__atomic_add_fetch(&s->walks, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_stress(void **state)
{
	struct stress s = { .mm = mm_alloc() };
	struct sim_cpu *cpu = cpu_create(s.mm);
	uint64_t seed = 42;
	pthread_t t;

	(void)state;
	thp_set_mode(THP_MADVISE, false);
	s.a = map_thp(s.mm, cpu, STRESS_LEN);
	assert_int_equal(pthread_create(&t, NULL, stress_walker, &s), 0);
	for (int i = 0; i < TEST_SCALE(400) ||
			__atomic_load_n(&s.walks, __ATOMIC_ACQUIRE) < 2;
	     i++) {
		unsigned long off = test_rand(&seed) % STRESS_LEN;

		off &= ~(PAGE_SIZE - 1);
		switch (i % 3) {
		case 0: /* a one-page zap: splits a leaf */
			assert_int_equal(vm_madvise(s.mm, s.a + off, PAGE_SIZE,
						    MADV_DONTNEED),
					 0);
			break;
		case 1: /* zap a whole 2 MiB: a new leaf on refault */
			assert_int_equal(vm_madvise(s.mm,
						    s.a + (off & PMD_MASK),
						    PMD_SIZE, MADV_DONTNEED),
					 0);
			break;
		default:
			break;
		}
		assert_int_equal(cpu_store_u64(cpu, s.a + off, i), 0);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(s.walks > 0);
	cpu_destroy(cpu);
	mmput(s.mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_holes_5level),
		cmocka_unit_test(test_huge_pmd),
		cmocka_unit_test(test_huge_pud),
		cmocka_unit_test(test_vma_callbacks),
		cmocka_unit_test(test_novma),
		cmocka_unit_test(test_action_again),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_stress),
	};

	if (mem_init(3UL << 30)) {
		fprintf(stderr, "cannot set up a 3 GiB arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
