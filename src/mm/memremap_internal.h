/* SPDX-License-Identifier: MIT */
/*
 * memremap_internal.h - what memremap.c (the pgmap lifetime) and
 * memremap_map.c (mapping device memory, the global zap) share.
 */
#ifndef MMIRROR_MM_MEMREMAP_INTERNAL_H
#define MMIRROR_MM_MEMREMAP_INTERNAL_H

#include <mmirror/memremap.h>

/*
 * pgmap->ref: the holder count in the low bits, PGMAP_REF_DEAD once
 * killed.  A killed pgmap with no holder reads exactly PGMAP_REF_DEAD.
 */
#define PGMAP_REF_DEAD (1L << 62)

/* A reference unless the pgmap is killed (percpu_ref_tryget_live). */
bool pgmap_tryget_live(struct dev_pagemap *pgmap);

/*
 * pgmap_zap_mappings() - step 3 of memunmap_pages(): clear every devmap
 * entry into @pgmap in every mm recorded by vm_mmap_devmap(), under
 * notifiers, and flush those TLBs.  Context: may sleep; the pgmap is
 * killed and has no holder, so no mapper can be added meanwhile.
 */
void pgmap_zap_mappings(struct dev_pagemap *pgmap);

/* Forget the recorded mms (mmdrop each).  Context: removal, last step. */
void pgmap_drop_mappers(struct dev_pagemap *pgmap);

#endif /* MMIRROR_MM_MEMREMAP_INTERNAL_H */
