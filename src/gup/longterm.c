// SPDX-License-Identifier: MIT
/*
 * longterm.c - FOLL_LONGTERM pins never hold a ZONE_MOVABLE frame.
 *
 * ZONE_MOVABLE (page.h) promises that every frame in it can be emptied
 * at any time by migrating its page away.  A long-term pin (an RDMA
 * registration, a vfio mapping) would break that promise for as long as
 * the device keeps it, so the kernel's __gup_longterm_locked() moves such
 * pages out before it lets the pin stand:
 *
 *   memalloc_pin_save()         faults of this GUP allocate outside
 *                               ZONE_MOVABLE (PF_MEMALLOC_PIN)
 *   do {
 *     pin the range             the ordinary slow path (gup.c)
 *     gup_check_longterm():     collect the folios that may not stay
 *                               pinned (page_is_movable; never the zero
 *                               page, which may always be "pinned"), each
 *                               once, with a reference of our own;
 *                               none: done, the pins stand;
 *                               else unpin EVERY page, migrate each
 *                               collected one to a ZONE_NORMAL frame
 *                               (migrate_page_gfp without __GFP_MOVABLE)
 *                               and drop our reference
 *   } while (that returned -EAGAIN: everything moved, pin again)
 *   memalloc_pin_restore()
 *
 * Why unpin everything and pin again rather than swap the pins over:
 * migration refuses a pinned page (a pin means a device may be writing
 * it), and the new frame must be found through the page tables like any
 * pinned page, under the same checks (write access, anon-exclusive).  The
 * second round normally pins in ZONE_NORMAL only; a page that moved back
 * meanwhile (another thread's COW fault outside our scope) just costs one
 * more round.
 *
 * A collected page that cannot be migrated (not order-0 anonymous memory,
 * in the swap cache, pinned by someone else, no frame) fails the whole
 * call with -ENOMEM and leaves nothing pinned, as the kernel does when
 * migrate_pages() fails.  A transient failure (a reference in flight, a
 * contended mmap_lock of another mm: -EAGAIN from migration after its own
 * few retries) only costs a round, like the kernel's ten passes inside
 * migrate_pages().  The kernel repeats rounds without bound; mmirror
 * gives up after GUP_LONGTERM_ROUNDS (gup.c) with -ENOMEM, so a reference
 * that never goes away, or a thread that keeps pushing pages back into
 * ZONE_MOVABLE, cannot hang the pinning thread.
 *
 * Locking: the caller holds @mm's mmap_lock for read from the pin to the
 * end of the migration (the kernel's locked case); migration takes the
 * page lock inside it (mmap_lock -> page lock) and only trylocks the
 * mmap_lock of other mms that map the page.
 */
#include <stdlib.h>
#include "../mm/migrate_internal.h"
#include "internal.h"

/* Does a long-term pin have to move this folio out first? */
static bool gup_longterm_unpinnable(struct page *head)
{
	/* The kernel's folio_is_longterm_pinnable(): the zero page may
	 * always be "pinned" (gup.h: it takes no reference). */
	return !PageZero(head) && page_is_movable(head);
}

static int page_ptr_cmp(const void *a, const void *b)
{
	const struct page *pa = *(struct page *const *)a;
	const struct page *pb = *(struct page *const *)b;

	return pa < pb ? -1 : pa > pb;
}

/*
 * The unpinnable folio heads of @pages[0..@nr), each once (a huge folio
 * pinned whole appears once per subpage), in *@listp.  Return how many
 * (*@listp is then ours to kfree; 0: nothing), or -ENOMEM.
 */
static long gup_collect_unpinnable(struct page **pages, unsigned long nr,
				   struct page ***listp)
{
	unsigned long i, n = 0, u = 0;
	struct page **list;

	for (i = 0; i < nr; i++)
		n += gup_longterm_unpinnable(compound_head(pages[i]));
	if (!n)
		return 0;
	list = kcalloc(n, sizeof(*list), GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	for (i = 0, n = 0; i < nr; i++) {
		struct page *head = compound_head(pages[i]);

		if (gup_longterm_unpinnable(head))
			list[n++] = head;
	}
	qsort(list, n, sizeof(*list), page_ptr_cmp);
	for (i = 0; i < n; i++)
		if (!u || list[u - 1] != list[i])
			list[u++] = list[i];
	*listp = list;
	return (long)u;
}

/*
 * Move @page (referenced by us, unpinned by us) to ZONE_NORMAL.  Return
 * -EAGAIN when it moved or may move next round (a transient reference or
 * a contended mmap_lock outlasted migration's own retries), -ENOMEM when
 * it cannot (pinned by someone else, not movable memory, no frame).
 */
static long gup_migrate_out(struct page *page, struct mm_struct *mm)
{
	int err = migrate_page_gfp(page, GFP_KERNEL, mm);

	if (!err || (err == -EAGAIN && !folio_maybe_dma_pinned(page)))
		return -EAGAIN;
	return -ENOMEM;
}

/**
 * gup_check_longterm() - the kernel's check_and_migrate_movable_pages()
 * for the @nr pages FOLL_LONGTERM just pinned in @pages.
 * @mm: the mm they were pinned from; its mmap_lock is held for read.
 * @nr: pages pinned, >= 1.
 * @pages: the pinned pages.
 *
 * Context: may sleep (migration); see the file comment for locks.
 * Return: 0 (every page may stay pinned: the pins stand); -EAGAIN (the
 * movable ones moved to ZONE_NORMAL, or some may on another try: nothing
 * is pinned, pin again); -ENOMEM (no memory, or a page cannot move:
 * nothing is pinned).
 */
long gup_check_longterm(struct mm_struct *mm, unsigned long nr,
			struct page **pages)
{
	struct page **list = NULL;
	long n = gup_collect_unpinnable(pages, nr, &list);
	long ret = -EAGAIN;

	if (!n)
		return 0;
	if (n < 0) {
		unpin_user_pages(pages, nr);
		return -ENOMEM;
	}
	/* Our own reference keeps each collected page while unpinned. */
	for (long i = 0; i < n; i++)
		get_page(list[i]);
	unpin_user_pages(pages, nr);
	for (long i = 0; i < n; i++) {
		/* After a hard failure the rest are only released: the call
		 * fails anyway (the kernel stops at migrate_pages' result). */
		if (ret == -EAGAIN)
			ret = gup_migrate_out(list[i], mm);
		put_page(list[i]);
	}
	kfree(list);
	return ret;
}
