/* SPDX-License-Identifier: MIT */
/*
 * swap.h - the swap area, the LRU of anonymous pages, aging and reclaim,
 * and the memory-pressure knobs (docs/reclaim.md).
 *
 * The swap area is a bounded array of slots whose contents live in host
 * memory (never in arena frames).  A slot is referenced by the swap
 * entries installed in page tables (its swap count) and by the swap
 * cache: the page being written to, or read from, the slot.  A slot goes
 * back to the free pool when both are gone.
 *
 * Reclaim picks cold private anonymous pages from one global LRU list
 * (second chance: a page found young, or with PG_referenced, goes back to
 * the head once), unmaps them through the reverse map under MMU_NOTIFY_CLEAR
 * invalidations, writes the dirty ones to swap and frees the frames.
 * Pinned pages (_pincount > 0) and locked pages are never reclaimed; a
 * PMD-sized THP is split first and its pages reclaimed one by one.  A later access faults the page back in from its slot.
 */
#ifndef MMIRROR_SWAP_H
#define MMIRROR_SWAP_H

#include <mmirror/mm_types.h>

/* Slots of the swap area when nobody configured it. */
#define SWAP_DEFAULT_SLOTS 4096UL
/* Pages direct reclaim tries to free per allocation over the limit. */
#define SWAP_CLUSTER_MAX 32UL

/**
 * swap_area_init() - (re)size the swap area to @nr_slots slots.
 * @nr_slots: 1 .. 2^24.
 *
 * Context: takes the swap lock; does not sleep.
 * Return: 0; -EINVAL (bad count); -EBUSY (a slot is in use); -ENOMEM.
 */
int swap_area_init(unsigned long nr_slots);

/**
 * swap_slots_total() - slots in the swap area (configured or default).
 * Return: the count.
 */
unsigned long swap_slots_total(void);

/**
 * swap_slots_used() - slots referenced by a swap entry or the swap cache.
 *
 * Tests assert it returns to its starting value: every slot came back.
 * Context: any (a snapshot).  Return: the count.
 */
unsigned long swap_slots_used(void);

/**
 * swap_cache_pages() - pages held by the swap cache.
 * Return: a snapshot of the count.
 */
unsigned long swap_cache_pages(void);

/**
 * swap_cache_drain() - drop every swap-cache page that no page table maps
 * (writing it back first if some swap entry still needs its bytes).
 *
 * The kernel leaves such pages to the LRU; tests call this to see every
 * frame and slot come back once the address spaces are gone.
 * Context: may sleep (takes page locks by trylock only).
 * Return: the number of pages dropped.
 */
unsigned long swap_cache_drain(void);

/**
 * lru_nr_pages() - pages on the anonymous LRU list.
 * Return: a snapshot of the count.
 */
unsigned long lru_nr_pages(void);

/**
 * lru_age_pages() - one aging pass over up to @nr pages of the LRU, from
 * the cold end: each page's accessed bits are read and cleared in every
 * page table that maps it (TLB flushed where one was set) and every
 * secondary MMU is asked with clear_flush_young.  Young pages get
 * PG_referenced (a second chance against reclaim), the others lose it;
 * all move to the hot end.
 * @nr: pages to scan.
 * @referenced: if not NULL, the number of young pages found.
 *
 * Context: may sleep; takes the anon_vma and LRU locks.
 * Return: the number of pages scanned.
 */
unsigned long lru_age_pages(unsigned long nr, unsigned long *referenced);

/**
 * vm_reclaim() - direct reclaim: try to free @nr_pages frames by swapping
 * out cold anonymous pages.
 * @nr_pages: the target.
 *
 * Scans at most twice the LRU.  Pinned, locked and huge pages are skipped,
 * and so is a mapping whose mm's mmap_lock is contended (trylock).
 * Secondary MMUs see an MMU_NOTIFY_CLEAR invalidation of each page in
 * each mm that maps it before the entry changes.
 * Context: may sleep; takes no lock the caller may hold except an
 * mmap_lock for read (others' are only trylocked).
 * Return: frames freed.
 */
unsigned long vm_reclaim(unsigned long nr_pages);

/**
 * vm_set_frame_limit() - a soft limit on frames in use (0: none).
 * @frames: the limit.
 *
 * A fault that allocates while more than @frames frames are in use
 * reclaims first (direct reclaim) and wakes kswapd; the allocation then
 * proceeds even if reclaim fell short (pressure, not an OOM).
 * Context: any.
 */
void vm_set_frame_limit(unsigned long frames);
unsigned long vm_frame_limit(void);

/**
 * kswapd_start() - start the background reclaim thread: whenever frames
 * in use exceed the frame limit it reclaims down to 7/8 of it.
 *
 * Context: may sleep.  Return: 0; -EBUSY (running); -ENOMEM.
 */
int kswapd_start(void);

/**
 * kswapd_stop() - stop and join the thread started by kswapd_start().
 * Context: may sleep.
 */
void kswapd_stop(void);

/* Counters since start (statistics, tests). */
struct vm_reclaim_stat {
	unsigned long pswpout; /* pages written to swap */
	unsigned long pswpin; /* pages read from swap */
	unsigned long reclaimed; /* frames freed by reclaim */
	unsigned long skipped_pinned; /* candidates skipped: pinned */
	unsigned long aged; /* pages scanned by aging */
};

/**
 * vm_reclaim_stat() - read the counters.
 * @st: filled with a snapshot.
 */
void vm_reclaim_stat(struct vm_reclaim_stat *st);

#endif /* MMIRROR_SWAP_H */
