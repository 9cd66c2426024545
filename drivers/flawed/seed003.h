/* SPDX-License-Identifier: MIT */
/*
 * seed003.h - seed 003: device-memory removal racing GUP-fast.  A device
 * whose memory (a dev_pagemap) one process maps, removed either the
 * DELIBERATELY BROKEN way - f003_remove_flawed(): the pages are removed
 * without first zapping the mappings (filesystem-dax at the time of the
 * seed) - or the correct way, f003_remove(): memunmap_pages(), which zaps
 * and flushes first.  Whether GUP-fast asks the pgmap is the system-wide
 * gup_fast_set_devmap_check() switch (gup.h).  See docs/memremap.md.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED003_H
#define MMIRROR_DRIVERS_FLAWED_SEED003_H

#include <mmirror/mm_types.h>

struct f003_dev;

/* A device with @nr_pages of memory, all mapped read-write into @mm; the
 * first word of each page holds @fill (written by the device, checked).
 * Return: the device, or NULL (-ENOMEM/-EINVAL: nothing left behind). */
struct f003_dev *f003_create(struct mm_struct *mm, unsigned long nr_pages,
			     u64 fill, const char *name);
/* Where the memory is mapped, and its first frame. */
unsigned long f003_va(const struct f003_dev *dev);
unsigned long f003_pfn(const struct f003_dev *dev);
/* Remove the memory without zapping (flawed) / with memunmap_pages(). */
void f003_remove_flawed(struct f003_dev *dev);
void f003_remove(struct f003_dev *dev);
/*
 * The process does O_DIRECT-style I/O into the mapping: pin the page at
 * f003_va() + @idx pages with pin_user_pages_fast(FOLL_WRITE), DMA @val
 * into its first word through the pin, unpin.  Return: 0, or the pin's
 * error (-EFAULT once the device is gone).
 */
int f003_gup_write(struct f003_dev *dev, unsigned long idx, u64 val);
/* Remove (correctly) if still there, and free.  NULL is ignored. */
void f003_destroy(struct f003_dev *dev);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED003_H */
