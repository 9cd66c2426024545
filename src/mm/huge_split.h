/* SPDX-License-Identifier: MIT */
/*
 * huge_split.h - splitting a huge anonymous folio into order-0 pages
 * (huge_split.c): the kernel's split_folio()/split_folio_to_list(), used
 * by reclaim before swap-out (vmscan.c) and available to migration.
 */
#ifndef MMIRROR_MM_HUGE_SPLIT_H
#define MMIRROR_MM_HUGE_SPLIT_H

#include <mmirror/list.h>
#include <mmirror/page.h>

/**
 * split_huge_page_to_list() - dissolve a PMD-sized anonymous folio
 * @page: the head page of the folio
 * @list: where the new order-0 pages go (see below), or NULL
 *
 * Every PMD mapping of the folio is split to PTEs first (split_huge_pmd,
 * under each mapping mm's mmap_lock taken by trylock); then, with every
 * PTE table that maps a subpage locked, the folio's reference count is
 * frozen and the compound page becomes 512 order-0 pages, each with its
 * own reference count (one per PTE mapping it), mapcount, anon_vma
 * reference, ->index and flags.  The mappings, their bytes, the RSS and
 * every translation (CPU or device) stay as they were: no invalidation.
 *
 * The caller's reference stays on @page (now an order-0 page), and so
 * does its page lock.  Subpages nobody maps are freed.  Each other
 * subpage goes on the LRU when @list is NULL; otherwise it is isolated:
 * it gets one more reference (the caller's to drop, with lru_add() or
 * put_page()) and is linked on @list through ->lru, PG_lru clear.  @page
 * itself keeps its LRU state.
 *
 * Context: @page locked by the caller, who holds one reference on it; no
 * spinlock held; may sleep (notifier callbacks of the PMD splits).
 * Return: 0 on success; -EINVAL if @page is not a compound head;
 * -EBUSY for a folio this code does not split (PUD-sized, not anonymous);
 * -EAGAIN if the folio is pinned, has a reference other than its
 * mappings' and the caller's, or an mm mapping it is busy (mmap_lock
 * contended) - pinned or referenced folios are refused before anything
 * changes; -ENOMEM.  On failure the folio is still one compound page.
 */
int split_huge_page_to_list(struct page *page, struct list_head *list);

/**
 * split_huge_page() - split_huge_page_to_list() putting subpages on the LRU
 * @page: the locked head page of a PMD-sized anonymous folio
 *
 * Context and return: as split_huge_page_to_list() with a NULL list.
 */
static inline int split_huge_page(struct page *page)
{
	return split_huge_page_to_list(page, NULL);
}

/**
 * thp_split_count() - folios split since start (statistics, tests)
 *
 * Context: any.  Return: the count.
 */
unsigned long thp_split_count(void);

#endif /* MMIRROR_MM_HUGE_SPLIT_H */
