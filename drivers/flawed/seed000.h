/* SPDX-License-Identifier: MIT */
/*
 * seed000.h - a DELIBERATELY BROKEN mirror (seed 000): it trusts a
 * range->valid-style flag that invalidate_range_start clears and
 * invalidate_range_end sets again, and installs what it read from the
 * page tables whenever the flag is set, with no sequence check.  See
 * drivers/flawed/README.md.  Its correct counterpart is drivers/mirror.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED000_H
#define MMIRROR_DRIVERS_FLAWED_SEED000_H

#include <mmirror/completion.h>
#include <mmirror/mm_types.h>

struct f000_dev;

/*
 * Test hook: when set, the fault path completes @read_done after reading
 * the page table and waits for @go before it takes the device lock (it
 * forces the seed's interleaving without touching the protocol).
 */
struct f000_pause {
	struct completion *read_done, *go;
};

struct f000_dev *f000_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name);
void f000_destroy(struct f000_dev *dev);
int f000_fault(struct f000_dev *dev, unsigned long va);
int f000_read(struct f000_dev *dev, unsigned long va, void *buf, size_t len);
unsigned long f000_pfn(struct f000_dev *dev, unsigned long va);
void f000_set_pause(struct f000_dev *dev, const struct f000_pause *pause);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED000_H */
