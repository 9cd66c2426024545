/* SPDX-License-Identifier: MIT */
/*
 * pagewalk.h - the generic page-table walker (walk_page_range and friends).
 *
 * Kernel semantics with seed 001's design at every level: the walker reads
 * each entry ONCE, passes that snapshot and the entry's address to the
 * callback, and descends through the snapshot, never re-reading the entry.
 * A callback that takes the page-table lock and finds the entry changed
 * (Xp_get(p) != snapshot) sets walk->action = ACTION_AGAIN and the walker
 * re-reads that entry and retries it.  So a huge leaf split or a table
 * freed by munmap of another range never makes the walk descend into a
 * wrong or freed table.
 *
 * Context: the caller holds mmap_lock (read suffices) for walk_page_range
 * and walk_page_vma; walk_page_range_novma walks any tables, even outside
 * VMAs, with the same locking rule.
 */
#ifndef MMIRROR_PAGEWALK_H
#define MMIRROR_PAGEWALK_H

#include <mmirror/mm_types.h>

struct mm_walk;

enum page_walk_action {
	ACTION_SUBTREE = 0, /* descend into the entry (the default) */
	ACTION_CONTINUE = 1, /* do not descend: go to the next entry */
	ACTION_AGAIN = 2, /* the entry changed: read it again */
};

/*
 * Callbacks; each returns 0 to go on, or a non-zero value that stops the
 * walk and is returned by walk_page_range().  @next is the end of the
 * range this entry covers, clipped to the walk's end.  The X_entry
 * callbacks get the entry's value as read once (@val) and its address.
 */
struct mm_walk_ops {
	int (*pgd_entry)(pgd_t val, pgd_t *pgdp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk);
	int (*p4d_entry)(p4d_t val, p4d_t *p4dp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk);
	int (*pud_entry)(pud_t val, pud_t *pudp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk);
	int (*pmd_entry)(pmd_t val, pmd_t *pmdp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk);
	int (*pte_entry)(pte_t val, pte_t *ptep, unsigned long addr,
			 unsigned long next, struct mm_walk *walk);
	/* [addr, next) has no table at @depth (0 = PGD, 1 = P4D, 2 = PUD,
	 * 3 = PMD; a none PGD/P4D entry with four levels is depth 0; -1: no
	 * VMA covers it, or the VMA was skipped by test_walk).  One call per
	 * none entry.  Never 4: as in the kernel, none PTEs go to pte_entry,
	 * which is called for every PTE in range. */
	int (*pte_hole)(unsigned long addr, unsigned long next, int depth,
			struct mm_walk *walk);
	/* Per VMA: 0 walk it, 1 skip it (reported as a hole), <0 stop. */
	int (*test_walk)(unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	int (*pre_vma)(unsigned long start, unsigned long end,
		       struct mm_walk *walk);
	void (*post_vma)(struct mm_walk *walk);
};

struct mm_walk {
	const struct mm_walk_ops *ops;
	struct mm_struct *mm;
	pgd_t *pgd; /* the root being walked */
	struct vm_area_struct *vma; /* NULL for walk_page_range_novma */
	enum page_walk_action action; /* set by callbacks */
	bool no_vma;
	void *private;
};

/*
 * walk_page_range() - walk [start, end) of @mm VMA by VMA, calling @ops.
 * Return 0, the first non-zero callback result, or -EINVAL (start >= end
 * as in the kernel, unaligned, beyond TASK_SIZE, NULL arguments).
 * docs/pagewalk.md has the details (huge-leaf splits, novma, locking).
 */
int walk_page_range(struct mm_struct *mm, unsigned long start,
		    unsigned long end, const struct mm_walk_ops *ops,
		    void *private);
/* The same without VMAs (every table in range); @pgd NULL: mm's root. */
int walk_page_range_novma(struct mm_struct *mm, unsigned long start,
			  unsigned long end, const struct mm_walk_ops *ops,
			  pgd_t *pgd, void *private);
/* Walk the whole of @vma. */
int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private);

#endif /* MMIRROR_PAGEWALK_H */
