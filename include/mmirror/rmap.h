/* SPDX-License-Identifier: MIT */
/*
 * rmap.h - the reverse map of anonymous memory and page aging through it.
 *
 * Aging asks both MMUs whether a page was used: the CPU's accessed bits in
 * every page-table entry that maps the page (found through the reverse
 * map) and every secondary MMU through the aging notifiers.  See
 * src/mm/rmap.c for the walk and its locking.
 */
#ifndef MMIRROR_RMAP_H
#define MMIRROR_RMAP_H

#include <mmirror/mm_types.h>

/*
 * folio_referenced() - clear the accessed bit of every mapping of @page
 * (its folio) and call clear_flush_young for each mapped range.
 * Return the number of mappings that were young on either MMU.
 * Context: takes the anon_vma lock; callbacks must not sleep.
 */
int folio_referenced(struct page *page);
/* The same with clear_young (no secondary TLB flush: idle tracking). */
void page_idle_clear_young(struct page *page);
/* Young anywhere (accessed bit or test_young), without clearing. */
bool page_idle_test_young(struct page *page);

/*
 * mm_age_pass() - one aging pass over @mm's private memory: every mapped
 * page (a huge leaf counts once) is scanned with folio_referenced().
 * Return 0 or -EINVAL; *@scanned and *@referenced count the pages.
 * Context: takes mmap_lock for read.
 */
int mm_age_pass(struct mm_struct *mm, unsigned long *scanned,
		unsigned long *referenced);

#endif /* MMIRROR_RMAP_H */
