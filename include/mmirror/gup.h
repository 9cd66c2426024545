/* SPDX-License-Identifier: MIT */
/*
 * gup.h - get_user_pages, pin_user_pages and the lockless GUP-fast.
 *
 * What GUP gives its caller: the struct page behind each user page of a
 * range of an mm, held so that the frame cannot be freed or reused while
 * the caller uses it (for DMA, or to read and write it through
 * page_address()).  The page tables may change meanwhile — munmap,
 * MADV_DONTNEED, COW — and then the caller's page is simply no longer the
 * one mapped there: GUP is a snapshot plus a reference, not a coherent
 * mirror (that is what mmu notifiers and hmm_range_fault are for).
 *
 * Every call takes an explicit struct mm_struct * first: mmirror has no
 * current->mm.  The _remote variants exist for the kernel's shape: they act
 * on another process's mm with the same semantics and mark their faults
 * FAULT_FLAG_REMOTE.
 *
 * Two kinds of hold (docs/gup.md, "Pin accounting"):
 *   FOLL_GET  (get_user_pages*): one page reference per page, dropped with
 *             put_page().
 *   FOLL_PIN  (pin_user_pages*): one page reference AND one _pincount per
 *             page, both on the folio head, dropped with unpin_user_page*().
 *             The kernel folds small-page pins into _refcount with a bias of
 *             1024; mmirror keeps an exact _pincount (page.h), so
 *             folio_maybe_dma_pinned() has no false positives.  Callers never
 *             pass FOLL_PIN themselves: the pin_* entry points set it.
 *
 * The shared zero page: FOLL_GET takes an ordinary reference on it; FOLL_PIN
 * of it (a read pin of untouched private memory) takes neither a reference
 * nor a pincount — it is never freed nor written — and unpin_user_page()
 * knows to skip it (the kernel's behaviour since 6.5).
 *
 * Return convention of every long/int-returning entry point: the number of
 * pages held, from @start on, >= 1 (it may be fewer than asked: the range
 * left a VMA, or a later page could not be faulted in), or a negative errno
 * if none was:
 *   -EINVAL  unknown flags, FOLL_PIN together with FOLL_GET, FOLL_LONGTERM
 *            without a pin, @start not page aligned, @nr_pages 0 or a range
 *            that wraps or leaves the address space, @pages NULL;
 *   -EFAULT  no VMA at @start; a VM_IO/VM_PFNMAP VMA; a write to a
 *            read-only VMA without FOLL_FORCE (or with FOLL_FORCE on shared
 *            memory); nothing present with FOLL_NOFAULT; a fault that failed;
 *   -ENOMEM  allocation failure while faulting; FOLL_LONGTERM: a page in
 *            ZONE_MOVABLE that could not be migrated out (nothing pinned);
 *   -EOPNOTSUPP  FOLL_LONGTERM on filesystem-dax or device-coherent
 *            memory (memremap.h).
 *
 * FOLL_LONGTERM and ZONE_MOVABLE (page.h; docs/gup.md): a long-term pin
 * never holds a movable frame.  The slow path pins, and if any page lies
 * in ZONE_MOVABLE unpins them all, migrates those to ZONE_NORMAL and pins
 * again (the kernel's check_and_migrate_movable_pages); its own faults
 * allocate outside ZONE_MOVABLE.  GUP-fast leaves such pages to the slow
 * path.  The zero page may be pinned long term (as in Linux).
 *
 * Device memory (devmap entries of a dev_pagemap, memremap.h): GUP holds
 * the page with a reference above its idle one, taken only after
 * get_dev_pagemap() confirmed the pgmap is live (-EFAULT if it is being
 * removed or gone).  Release a pin with unpin_user_page*() and a FOLL_GET
 * reference with put_devmap_page(): both wake a removal waiting for the
 * page to become idle.
 */
#ifndef MMIRROR_GUP_H
#define MMIRROR_GUP_H

#include <mmirror/mm.h>

/* Kernel values. */
#define FOLL_WRITE (1U << 0) /* the caller will write to the pages */
#define FOLL_GET (1U << 1) /* take a page reference (get_user_pages) */
#define FOLL_FORCE (1U << 3) /* ptrace-style: write read-only private memory */
#define FOLL_NOFAULT (1U << 5) /* do not fault anything in */
#define FOLL_LONGTERM (1U << 8) /* the pin may last indefinitely (DMA) */
/* Internal: set by the pin_* entry points only. */
#define FOLL_PIN (1U << 16)
#define FOLL_REMOTE (1U << 17) /* internal: a _remote call */

/*
 * get_user_pages() - take a reference on the pages of
 * [@start, @start + @nr_pages * PAGE_SIZE) of @mm, faulting them in.
 * @gup_flags: FOLL_WRITE, FOLL_FORCE, FOLL_NOFAULT (FOLL_GET is implied).
 * With FOLL_WRITE the page is the mm's own writable one (COW broken); with
 * FOLL_FORCE a read-only private VMA is written the way ptrace does (COW
 * into a private page that stays read-only to the mm's CPUs).
 * Context: mmap_lock of @mm held (read or write; asserted).  May sleep.
 * Return: see the header comment.  Release each page with put_page().
 */
long get_user_pages(struct mm_struct *mm, unsigned long start,
		    unsigned long nr_pages, unsigned int gup_flags,
		    struct page **pages);
/* pin_user_pages() - as get_user_pages() but FOLL_PIN; FOLL_LONGTERM ok.
 * Release with unpin_user_page(s). */
long pin_user_pages(struct mm_struct *mm, unsigned long start,
		    unsigned long nr_pages, unsigned int gup_flags,
		    struct page **pages);
/* _remote: @mm is another process's (the caller holds a user reference on
 * it and its mmap_lock); faults carry FAULT_FLAG_REMOTE. */
long get_user_pages_remote(struct mm_struct *mm, unsigned long start,
			   unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages);
long pin_user_pages_remote(struct mm_struct *mm, unsigned long start,
			   unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages);
/* _unlocked: take and drop mmap_lock for read around the call.
 * Context: mmap_lock NOT held.  May sleep. */
long get_user_pages_unlocked(struct mm_struct *mm, unsigned long start,
			     unsigned long nr_pages, struct page **pages,
			     unsigned int gup_flags);
long pin_user_pages_unlocked(struct mm_struct *mm, unsigned long start,
			     unsigned long nr_pages, struct page **pages,
			     unsigned int gup_flags);

/*
 * get_user_pages_fast() - the lockless path: walk @mm's page tables with
 * interrupts disabled and no lock, taking references on pages whose entries
 * allow the access; the rest of the range (from the first page it could not
 * take) goes through get_user_pages_unlocked().
 * Context: mmap_lock NOT held; @mm has a user (mm_users > 0) for the whole
 * call.  May sleep (only in the fallback).  Return: as get_user_pages().
 */
int get_user_pages_fast(struct mm_struct *mm, unsigned long start, int nr_pages,
			unsigned int gup_flags, struct page **pages);
/* pin_user_pages_fast() - get_user_pages_fast() with FOLL_PIN. */
int pin_user_pages_fast(struct mm_struct *mm, unsigned long start, int nr_pages,
			unsigned int gup_flags, struct page **pages);

/*
 * gup_fast_set_devmap_check() - whether GUP-fast asks the dev_pagemap
 * (get_dev_pagemap) before it grabs a page mapped by a devmap entry.  On
 * by default, as in the kernel.  Off, devmap pages are grabbed like any
 * other: seed 003's "GUP-fast is safe even without the extra pgmap check
 * when removal zaps and flushes first" (docs/gup.md).  A system-wide
 * switch for tests and explorer scenarios: set it while no GUP runs.
 * Return: the previous setting.
 */
bool gup_fast_set_devmap_check(bool on);

/*
 * unpin_user_page() - drop one FOLL_PIN pin (pincount, then the reference:
 * the last reference frees the folio).  WARNs and does nothing on a page
 * that is not pinned.  Context: any; does not sleep.
 */
void unpin_user_page(struct page *page);
/* unpin_user_pages() - unpin_user_page() on each of @pages[0..@npages). */
void unpin_user_pages(struct page **pages, unsigned long npages);
/*
 * unpin_user_pages_dirty_lock() - unpin @pages, first marking each folio
 * PG_dirty if @make_dirty (the device wrote to them: reclaim must not drop
 * the contents).  Context: any; does not sleep.
 */
void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages,
				 bool make_dirty);

/*
 * folio_maybe_dma_pinned() - is the folio of @page pinned (FOLL_PIN)?
 * Exact in mmirror: _pincount > 0 on the head (the kernel's answer may be a
 * false positive for small pages with 1024 ordinary references).
 *
 * Ordering, for fork's pinned-page rule: GUP-fast increments _pincount
 * (a seq_cst RMW), then smp_mb(), then re-reads the PTE and the page's
 * PG_anon_exclusive and backs off if either changed.  A writer that first
 * write-protects the PTE or clears PG_anon_exclusive (atomic RMW), then
 * smp_mb(), then calls this function, either sees the pin or makes GUP-fast
 * back off (a store-buffer pair).
 */
bool folio_maybe_dma_pinned(struct page *page);

#endif /* MMIRROR_GUP_H */
