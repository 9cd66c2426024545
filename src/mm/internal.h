/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what src/mm files share and nobody else sees.
 */
#ifndef MMIRROR_MM_INTERNAL_H
#define MMIRROR_MM_INTERNAL_H

#include <mmirror/mm_types.h>

/*
 * A lockless snapshot walk: where the translation of one address ends.
 * The walk reads each level's entry once and descends through that value
 * (seed 001), stopping at the first entry that is not a present table:
 * a present leaf (PTE, or a huge PMD/PUD), none, a software entry or a
 * PROT_NONE entry.  Hardware sees words, not levels, so the result is the
 * raw word and its address.
 */
struct pt_snapshot {
	u64 *entryp; /* the entry that ended the walk */
	u64 entry; /* its value as read (once) */
	unsigned int shift; /* log2 of the range that entry covers */
	u64 path; /* AND of _PAGE_RW|_PAGE_USER of the tables above */
};

/*
 * pt_walk_snapshot() - walk @mm's tables for @addr without locks.
 * Context: the caller keeps the tables from being freed (holds mmap_lock or
 * is the only user, later: IRQs off against the TLB-shootdown free path).
 */
void pt_walk_snapshot(struct mm_struct *mm, unsigned long addr,
		      struct pt_snapshot *s);

/* The snapshot's entry maps @addr: present to the hardware and a leaf. */
static inline bool pt_snapshot_maps(const struct pt_snapshot *s)
{
	return (s->entry & _PAGE_PRESENT) &&
	       (s->shift == PAGE_SHIFT || (s->entry & _PAGE_PSE));
}

/* The pfn of the 4 KiB frame at @addr inside the snapshot's leaf. */
static inline unsigned long pt_snapshot_pfn(const struct pt_snapshot *s,
					    unsigned long addr)
{
	return ((s->entry & PTE_PFN_MASK) >> PAGE_SHIFT) +
	       ((addr & ((1UL << s->shift) - 1)) >> PAGE_SHIFT);
}

#endif /* MMIRROR_MM_INTERNAL_H */
