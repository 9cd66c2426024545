/* SPDX-License-Identifier: MIT */
/*
 * migrate.h - page migration: move an anonymous page to another frame
 * while it stays mapped (docs/migrate.md).
 *
 * Every page-table entry that maps the page is replaced by a migration
 * entry (SWP_MIGRATION_WRITE if it was writable, else READ; the offset is
 * the old pfn) inside a one-page MMU_NOTIFY_MIGRATE invalidation, so every
 * secondary MMU drops its translation of the old frame first.  The bytes
 * are copied, the page's identity moves to the new frame, and each
 * migration entry becomes a PTE of the new frame.  A CPU that faults on a
 * migration entry meanwhile waits for the migration to end and retries.
 *
 * Pinned pages (_pincount > 0) are never migrated, and a page somebody
 * else holds a reference on (a GUP in flight) is put back as it was.
 * Only order-0 private anonymous pages move; huge pages, swap-cache
 * pages, shared (shmem) and device pages are refused with -EBUSY.
 */
#ifndef MMIRROR_MIGRATE_H
#define MMIRROR_MIGRATE_H

#include <mmirror/mm_types.h>

/**
 * migrate_page_to_new() - move @page to a newly allocated frame (what
 * compaction does to the page in a frame it wants).
 * @page: an order-0 private anonymous page, named by its frame: the
 *        caller holds no reference on it (one would be a reference in
 *        flight: -EAGAIN); a free page is refused.
 *
 * Context: may sleep (page lock, notifier callbacks, allocation); the
 * caller holds no mmap_lock, page lock nor spinlock.
 * Return: 0 (every mapping now maps the new frame and the old one is
 * released); -EINVAL (NULL, not a page in use, not anonymous memory);
 * -EBUSY (huge, in the swap cache, or unsupported); -EAGAIN (pinned,
 * another reference appeared, or an mm's mmap_lock was contended: the
 * page is left as it was, try again); -ENOMEM (no frame).
 */
int migrate_page_to_new(struct page *page);

/**
 * vm_migrate_range() - move every page mapped in [@start, @end) of @mm to
 * a new frame (what move_pages()/NUMA balancing do).
 * @mm: the address space.
 * @start: page aligned.
 * @end: page aligned, > @start, inside the address space.
 *
 * Pages that are not present, the zero page and shared memory are
 * skipped; each page is tried a few times when it returns -EAGAIN.
 * Context: may sleep; the caller holds no lock of @mm.
 * Return: 0 if every candidate moved, else the first error of
 * migrate_page_to_new() (the others still moved); -EINVAL (bad
 * arguments).
 */
int vm_migrate_range(struct mm_struct *mm, unsigned long start,
		     unsigned long end);

/* Counters since start (statistics, tests). */
struct vm_migrate_stat {
	unsigned long succeeded; /* pages moved */
	unsigned long failed; /* attempts that left the page in place */
	unsigned long refused_pinned; /* attempts refused: pinned */
	unsigned long waits; /* faults that waited on a migration entry */
};

/**
 * vm_migrate_stat() - read the counters.
 * @st: filled with a snapshot.
 */
void vm_migrate_stat(struct vm_migrate_stat *st);

#endif /* MMIRROR_MIGRATE_H */
