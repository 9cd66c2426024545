/* SPDX-License-Identifier: MIT */
/*
 * seed004.h - a DELIBERATELY BROKEN driver (seed 004): the
 * pre-consolidation pattern of whole-mm invalidate_range_start/end, the
 * driver's own list of ranges under invalidation, and get_user_pages()
 * with no sequence count.  The device table, reads and test pause are
 * the shared base (fdev.h).  See drivers/flawed/README.md.  Its correct
 * counterpart is an interval notifier with read_begin/read_retry
 * (drivers/mirror).
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED004_H
#define MMIRROR_DRIVERS_FLAWED_SEED004_H

#include <mmirror/mm_types.h>
#include "flawed/fdev.h"

struct f004_dev;

struct f004_dev *f004_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name);
void f004_destroy(struct f004_dev *dev);
int f004_fault(struct f004_dev *dev, unsigned long va);
/* Reads, the pfn of a va, the test pause: fdev_*(f004_fdev(dev), ...). */
struct fdev *f004_fdev(struct f004_dev *dev);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED004_H */
