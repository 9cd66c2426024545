/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what gup.c (slow path, unpin), gup_fast.c (the lockless
 * path) and longterm.c (FOLL_LONGTERM's migration out of ZONE_MOVABLE)
 * share.
 */
#ifndef MMIRROR_GUP_INTERNAL_H
#define MMIRROR_GUP_INTERNAL_H

#include <mmirror/gup.h>

/* Take/drop @refs holds on a folio head: references, plus pincounts for
 * FOLL_PIN. */
void gup_grab_refs(struct page *head, int refs, unsigned int flags);
void gup_put_refs(struct page *head, int refs, unsigned int flags);
/* Validate a request; 0 or -EINVAL (with a WARN for API misuse). */
int gup_check_args(struct mm_struct *mm, unsigned long start,
		   unsigned long nr_pages, unsigned int flags,
		   struct page **pages);
/* FOLL_LONGTERM: move pinned ZONE_MOVABLE pages out (longterm.c). */
long gup_check_longterm(struct mm_struct *mm, unsigned long nr,
			struct page **pages);
/* The slow path taking mmap_lock for read itself. */
long gup_unlocked(struct mm_struct *mm, unsigned long start,
		  unsigned long nr_pages, unsigned int flags,
		  struct page **pages);

#endif /* MMIRROR_GUP_INTERNAL_H */
