// SPDX-License-Identifier: MIT
/*
 * pagewalk.c - the generic page-table walker.
 *
 * The protocol (seed 001, applied at every level).
 *
 *   1. Each entry is read ONCE, with Xp_get() (an acquire load; tear-free
 *      in torn-read mode).  The value read is the "snapshot".
 *   2. The callback gets the snapshot and the entry's address.  Everything
 *      the walker decides afterwards (hole, leaf, swap-type, descend) is
 *      decided on the snapshot, never on a second read of the entry.
 *   3. The walker descends through the snapshot: the next table is
 *      X_pgtable(snapshot), never X_offset(entryp), which would read the
 *      entry again and could find another table, a huge leaf or none.
 *   4. A callback that needs the entry stable takes the entry's lock
 *      (pud_lock/pmd_lock/pte_lockptr), compares Xp_get(entryp) with the
 *      snapshot, and if they differ sets walk->action = ACTION_AGAIN: the
 *      walker reads the entry again and redoes it (hole test, callback).
 *
 * Why this is safe without page-table locks.  The caller holds mmap_lock
 * (read suffices).  Tables are freed only by munmap/exit (mmap_lock write)
 * and by nothing that runs under the read lock (MADV_DONTNEED zaps leaves
 * but keeps tables; a huge-leaf split installs a new table in place of a
 * leaf and frees nothing).  So a table reached through a snapshot that was
 * a table entry stays allocated for the whole walk, even if the entry has
 * since been changed.  What may change under the walk is the entries:
 *
 *   walker                              other thread (mmap_lock read)
 *   pmd = pmdp_get(pmdp)  [huge leaf]
 *                                       split_huge_pmd: *pmdp = table T
 *   pmd_entry(pmd, pmdp):
 *     ptl = pmd_lock(); pmdp_get(pmdp) != pmd  -> ACTION_AGAIN
 *   pmd = pmdp_get(pmdp)  [table T]     (descend into T, through the
 *                                        new snapshot)
 *
 * Without the snapshot rule a walker that tested pmd_none(*pmdp), then
 * pmd_leaf(*pmdp), then descended with pte_offset(pmdp) could see three
 * different values and walk a leaf's data frame as if it were a table.
 *
 * Huge leaves.  A PUD/PMD leaf is passed to pud_entry/pmd_entry.  If the
 * callback leaves ACTION_SUBTREE and a lower-level callback exists, the
 * walker splits the leaf (split_huge_pud/split_huge_pmd, under the locks
 * those take), reads the entry again and descends into the new table.  A
 * novma walk never splits: it has no VMA to split in; it goes on.
 * Non-present non-none entries (swap-type) at PUD/PMD level are passed to
 * the callback and never descended.
 *
 * The PTE level: pte_entry is called for every PTE in range, none or not
 * (as in the kernel); no depth-4 hole is reported.  It runs without the
 * PTE lock: a callback that needs the PTE stable takes
 * pte_lockptr(mm, pmd) and compares ptep_get(ptep) with its snapshot.
 */
#include <mmirror/mm.h>
#include <mmirror/pagewalk.h>
#include "../mm/internal.h"

/* Depths as reported to pte_hole.  With four levels the P4D is folded into
 * the PGD and a missing PGD/P4D entry is reported at depth 0 (the kernel's
 * real_depth()). */
#define DEPTH_PGD 0
#define DEPTH_P4D 1
#define DEPTH_PUD 2
#define DEPTH_PMD 3

static int walk_hole(unsigned long addr, unsigned long next, int depth,
		     struct mm_walk *walk)
{
	if (!walk->ops->pte_hole)
		return 0;
	return walk->ops->pte_hole(addr, next, depth, walk);
}

/* --- PTE --------------------------------------------------------------- */

static int walk_pte_range(pmd_t pmd, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	/* Through the PMD snapshot: the table stays allocated (mmap_lock). */
	pte_t *ptep = pmd_pgtable(pmd) + pte_index(addr);
	int err = 0;

	for (; addr != end; ptep++, addr += PAGE_SIZE) {
		pte_t pte;
again:
		pte = ptep_get(ptep);
		walk->action = ACTION_SUBTREE;
		err = walk->ops->pte_entry(pte, ptep, addr, addr + PAGE_SIZE,
					   walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
	}
	return err;
}

/* --- PMD --------------------------------------------------------------- */

static int walk_pmd_range(pud_t pud, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	pmd_t *pmdp = pud_pgtable(pud) + pmd_index(addr);
	unsigned long next;
	pmd_t pmd;
	int err = 0;

	do {
		next = pmd_addr_end(addr, end);
again:
		pmd = pmdp_get(pmdp);
		if (pmd_none(pmd)) {
			err = walk_hole(addr, next, DEPTH_PMD, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->pmd_entry)
			err = ops->pmd_entry(pmd, pmdp, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE || !ops->pte_entry)
			continue;
		if (!pmd_present(pmd))
			continue; /* swap-type: nothing below */
		if (pmd_leaf(pmd)) {
			if (!walk->vma)
				continue; /* novma: never split */
			split_huge_pmd(walk->vma, pmdp, addr);
			/* Read again: a table now, or none/leaf again if
			 * something raced the split; then redo the entry. */
			pmd = pmdp_get(pmdp);
			if (!pmd_present(pmd) || pmd_leaf(pmd))
				goto again;
		}
		err = walk_pte_range(pmd, addr, next, walk);
		if (err)
			break;
	} while (pmdp++, addr = next, addr != end);
	return err;
}

/* --- PUD --------------------------------------------------------------- */

static int walk_pud_range(p4d_t p4d, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	pud_t *pudp = p4d_pgtable(p4d) + pud_index(addr);
	unsigned long next;
	pud_t pud;
	int err = 0;

	do {
		next = pud_addr_end(addr, end);
again:
		pud = pudp_get(pudp);
		if (pud_none(pud)) {
			err = walk_hole(addr, next, DEPTH_PUD, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->pud_entry)
			err = ops->pud_entry(pud, pudp, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE ||
		    !(ops->pmd_entry || ops->pte_entry))
			continue;
		if (!pud_present(pud))
			continue;
		if (pud_leaf(pud)) {
			if (!walk->vma)
				continue;
			split_huge_pud(walk->vma, pudp, addr);
			pud = pudp_get(pudp);
			if (!pud_present(pud) || pud_leaf(pud))
				goto again;
		}
		err = walk_pmd_range(pud, addr, next, walk);
		if (err)
			break;
	} while (pudp++, addr = next, addr != end);
	return err;
}

/* --- P4D --------------------------------------------------------------- */

/*
 * With four levels the P4D is the PGD entry itself: its snapshot is the
 * PGD snapshot (reading *p4dp again would be a second read of the same
 * word), and the "table" has one entry, so the loop runs once.
 */
static int walk_p4d_range(pgd_t *pgdp, pgd_t pgd, unsigned long addr,
			  unsigned long end, struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	p4d_t *p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	bool folded = !pgtable_l5_enabled;
	unsigned long next;
	p4d_t p4d;
	int err = 0;

	do {
		next = p4d_addr_end(addr, end);
		p4d = folded ? __p4d(pgd_val(pgd)) : p4dp_get(p4dp);
again:
		if (p4d_none(p4d)) {
			err = walk_hole(addr, next, DEPTH_P4D, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->p4d_entry)
			err = ops->p4d_entry(p4d, p4dp, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN) {
			p4d = p4dp_get(p4dp);
			goto again;
		}
		if (walk->action == ACTION_CONTINUE ||
		    !(ops->pud_entry || ops->pmd_entry || ops->pte_entry))
			continue;
		if (!p4d_present(p4d))
			continue;
		err = walk_pud_range(p4d, addr, next, walk);
		if (err)
			break;
	} while (p4dp++, addr = next, addr != end);
	return err;
}

/* --- PGD --------------------------------------------------------------- */

static int walk_pgd_range(unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	pgd_t *pgdp = walk->pgd + pgd_index(addr);
	unsigned long next;
	pgd_t pgd;
	int err = 0;

	do {
		next = pgd_addr_end(addr, end);
again:
		pgd = pgdp_get(pgdp);
		if (pgd_none(pgd)) {
			err = walk_hole(addr, next, DEPTH_PGD, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->pgd_entry)
			err = ops->pgd_entry(pgd, pgdp, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE ||
		    !(ops->p4d_entry || ops->pud_entry || ops->pmd_entry ||
		      ops->pte_entry))
			continue;
		if (!pgd_present(pgd))
			continue;
		err = walk_p4d_range(pgdp, pgd, addr, next, walk);
		if (err)
			break;
	} while (pgdp++, addr = next, addr != end);
	return err;
}

/* --- per VMA and entry points ------------------------------------------- */

/* pre_vma, the tables, post_vma: one VMA's part of the walk. */
static int walk_one_vma(unsigned long start, unsigned long end,
			struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	int err;

	if (ops->pre_vma) {
		err = ops->pre_vma(start, end, walk);
		if (err)
			return err;
	}
	err = walk_pgd_range(start, end, walk);
	if (ops->post_vma)
		ops->post_vma(walk);
	return err;
}

/*
 * test_walk, then the VMA: returns 0 or the error that stops the walk.  A
 * VMA skipped by test_walk (1) is reported as a depth -1 hole.
 */
static int walk_vma_part(unsigned long start, unsigned long end,
			 struct mm_walk *walk)
{
	int err = 0;

	if (walk->ops->test_walk) {
		err = walk->ops->test_walk(start, end, walk);
		if (err > 0)
			return walk_hole(start, end, -1, walk);
		if (err < 0)
			return err;
	}
	return walk_one_vma(start, end, walk);
}

static bool walk_args_ok(struct mm_struct *mm, unsigned long start,
			 unsigned long end, const struct mm_walk_ops *ops,
			 unsigned long limit)
{
	if (!mm || !ops || start >= end || end > limit)
		return false;
	return IS_ALIGNED(start, PAGE_SIZE) && IS_ALIGNED(end, PAGE_SIZE);
}

/**
 * walk_page_range() - walk [start, end) of @mm VMA by VMA, calling @ops.
 * @mm: the address space; @start, @end: page aligned, start < end <=
 * TASK_SIZE; @ops: the callbacks; @private: for the callbacks
 * (walk->private).
 *
 * Gaps between VMAs are reported to pte_hole with depth -1 (walk->vma
 * NULL).  For each VMA part: test_walk (1: skip, reported as a depth -1
 * hole; <0: stop), pre_vma, the page tables, post_vma.
 *
 * Context: mmap_lock held (read suffices); may sleep if the callbacks do
 * and in huge-leaf splits (which take page-table locks).
 * Return: 0; the first non-zero callback result (which stops the walk);
 * -EINVAL for bad arguments.
 */
int walk_page_range(struct mm_struct *mm, unsigned long start,
		    unsigned long end, const struct mm_walk_ops *ops,
		    void *private)
{
	struct mm_walk walk = { .ops = ops, .mm = mm, .private = private };
	struct vm_area_struct *vma;
	unsigned long next;
	int err = 0;

	if (!walk_args_ok(mm, start, end, ops, TASK_SIZE))
		return -EINVAL;
	mmap_assert_locked(mm);
	walk.pgd = mm->pgd;

	vma = find_vma(mm, start);
	do {
		if (!vma || start < vma->vm_start) {
			/* No VMA here: one hole up to the next VMA. */
			walk.vma = NULL;
			next = vma ? min(end, vma->vm_start) : end;
			err = walk_hole(start, next, -1, &walk);
		} else {
			walk.vma = vma;
			next = min(end, vma->vm_end);
			vma = vma_next(vma);
			err = walk_vma_part(start, next, &walk);
		}
		if (err)
			break;
	} while (start = next, start < end);
	return err;
}

/**
 * walk_page_range_novma() - walk every page table in [start, end) of @mm,
 * VMAs or not.
 * @pgd: the root to walk; NULL for @mm's own.
 *
 * walk->vma is NULL and walk->no_vma true; huge leaves are never split;
 * test_walk/pre_vma/post_vma are not called.  @end may reach the top of
 * what the root maps (PTRS_PER_PGD * PGDIR_SIZE).
 *
 * Context and return: as walk_page_range().
 */
int walk_page_range_novma(struct mm_struct *mm, unsigned long start,
			  unsigned long end, const struct mm_walk_ops *ops,
			  pgd_t *pgd, void *private)
{
	struct mm_walk walk = {
		.ops = ops, .mm = mm, .private = private, .no_vma = true
	};

	if (!walk_args_ok(mm, start, end, ops, PTRS_PER_PGD * PGDIR_SIZE))
		return -EINVAL;
	mmap_assert_locked(mm);
	walk.pgd = pgd ? pgd : mm->pgd;
	return walk_pgd_range(start, end, &walk);
}

/**
 * walk_page_vma() - walk the whole of @vma (test_walk, pre_vma, tables,
 * post_vma), as walk_page_range() does for one VMA.
 *
 * Context and return: as walk_page_range(); -EINVAL for NULL arguments.
 */
int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private)
{
	struct mm_walk walk = { .ops = ops, .vma = vma, .private = private };

	if (!vma || !ops || !vma->vm_mm)
		return -EINVAL;
	walk.mm = vma->vm_mm;
	walk.pgd = walk.mm->pgd;
	mmap_assert_locked(walk.mm);
	return walk_vma_part(vma->vm_start, vma->vm_end, &walk);
}
