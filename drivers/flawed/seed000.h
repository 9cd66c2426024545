/* SPDX-License-Identifier: MIT */
/*
 * seed000.h - a DELIBERATELY BROKEN mirror (seed 000): it trusts a
 * range->valid-style flag that invalidate_range_start clears and
 * invalidate_range_end sets again, and installs what it read from the
 * page tables whenever the flag is set, with no sequence check.  The
 * device table, reads and test pause are the shared base (fdev.h).  See
 * drivers/flawed/README.md.  Its correct counterpart is drivers/mirror.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED000_H
#define MMIRROR_DRIVERS_FLAWED_SEED000_H

#include <mmirror/mm_types.h>
#include "flawed/fdev.h"

struct f000_dev;

struct f000_dev *f000_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name);
void f000_destroy(struct f000_dev *dev);
int f000_fault(struct f000_dev *dev, unsigned long va);
/* Reads, the pfn of a va, the test pause: fdev_*(f000_fdev(dev), ...). */
struct fdev *f000_fdev(struct f000_dev *dev);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED000_H */
