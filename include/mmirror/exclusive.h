/* SPDX-License-Identifier: MIT */
/*
 * exclusive.h - device-exclusive entries: a device gets exclusive access to
 * an anonymous page (for atomics the interconnect cannot do coherently)
 * while every CPU access faults.  docs/exclusive.md has the whole story.
 *
 * make_device_exclusive() replaces the present, writable PTE of each page
 * with a SWP_DEVICE_EXCLUSIVE software entry naming the page's pfn.  The
 * entry keeps the mapping: the page's mapcount, the mapping's reference
 * and the mm's RSS stay as they were, rmap still counts it.  It is
 * installed inside an MMU_NOTIFY_EXCLUSIVE invalidation whose owner is the
 * caller's: the calling device may keep (and then installs) its mapping,
 * every other secondary MMU drops its own.
 *
 * A CPU access (or GUP, or hmm_range_fault asked to fault) restores the
 * normal PTE under the page lock, inside an MMU_NOTIFY_EXCLUSIVE
 * invalidation with a NULL owner, which makes the owning device drop its
 * exclusive mapping too.
 *
 * The page lock is the handshake: make_device_exclusive() returns the
 * pages locked, and the restore path locks the page before it changes the
 * entry, so a device installs its exclusive mapping before any CPU access
 * can revoke it.  Lock order: mmap_lock -> page lock -> the driver's
 * notifier lock -> PTE lock.
 */
#ifndef MMIRROR_EXCLUSIVE_H
#define MMIRROR_EXCLUSIVE_H

#include <mmirror/mm_types.h>

/**
 * make_device_exclusive() - give a device exclusive access to some pages
 * @mm: the address space
 * @start: first page, page aligned
 * @end: end of the range, page aligned, > @start, within the address space
 * @owner: the device (its notifier sees MMU_NOTIFY_EXCLUSIVE with this
 *         owner and must not drop its mapping for it); not NULL
 * @pages: (end - start) / PAGE_SIZE slots out
 *
 * Each page is faulted in writable first (COW broken, as FOLL_WRITE GUP
 * does), then its PTE is cleared and flushed and the exclusive entry
 * installed.  Only order-0 anonymous pages can be made exclusive.
 *
 * Context: mmap_lock of @mm held for read (asserted); may sleep.
 * Return: 0 with every page in @pages locked and referenced: the caller
 * maps them in its device, then calls device_exclusive_release().  On an
 * error nothing is locked or referenced (pages already made exclusive stay
 * so: a CPU access restores them) and the error is -EINVAL (bad
 * arguments), -EFAULT (no VMA, or a fault failed: e.g. a read-only VMA),
 * -EOPNOTSUPP (not an order-0 anonymous page), -EBUSY (the entry kept
 * changing under us), -ENOMEM.
 */
int make_device_exclusive(struct mm_struct *mm, unsigned long start,
			  unsigned long end, void *owner, struct page **pages);

/**
 * device_exclusive_release() - unlock and put the pages of a successful
 * make_device_exclusive()
 * @pages: the array it filled
 * @npages: its length
 *
 * Context: any sleepable context; no spinlock held.
 */
void device_exclusive_release(struct page **pages, unsigned long npages);

#endif /* MMIRROR_EXCLUSIVE_H */
