/* SPDX-License-Identifier: MIT */
/*
 * seed001.h - a device with its own lockless page-table walker (seed
 * 001), the way an ATS/PRI-style translation walker or a hand-rolled
 * GUP-fast walks a process's page tables with IRQs off.  Two walkers:
 *
 *   F001_FLAWED   DELIBERATELY BROKEN: reads a PUD or PMD entry again for
 *                 every test and once more for the table pointer, through
 *                 pXdp_get_torn() (two 32-bit halves in torn-read mode).
 *   F001_CORRECT  reads each entry once (tear-free pXdp_get()) into a
 *                 snapshot and descends with the snapshot only.
 *
 * Everything else is the same and correct: an interval notifier with
 * read_begin / read_retry under the device lock, so a translation the
 * walk found is used only if no invalidation began since.  See
 * drivers/flawed/README.md.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED001_H
#define MMIRROR_DRIVERS_FLAWED_SEED001_H

#include <mmirror/mm_types.h>

struct f001_dev;

enum f001_walker {
	F001_FLAWED,
	F001_CORRECT,
};

/* What the walker did; wild walks are the KASAN stand-in (seed001.c). */
struct f001_stats {
	unsigned long walks; /* page-table walks started */
	unsigned long wild_walks; /* walks that fetched from a non-table */
	unsigned long wild_pfn; /* the first such frame (valid if any) */
};

struct f001_dev *f001_create(struct mm_struct *mm, unsigned long start,
			     unsigned long len, enum f001_walker walker,
			     const char *name);
void f001_destroy(struct f001_dev *dev);
int f001_dma_read(struct f001_dev *dev, unsigned long va, void *buf,
		  size_t len);
int f001_dma_write(struct f001_dev *dev, unsigned long va, const void *buf,
		   size_t len);
void f001_get_stats(struct f001_dev *dev, struct f001_stats *st);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED001_H */
